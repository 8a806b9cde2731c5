// OpenAI's audio and image endpoints in Gemini's API, for gemini.ts and vertex.ts (the same wire format):
//   speech         generateContent with `responseModalities: ["AUDIO"]` and the voice in `speechConfig`; the answer is
//                  16-bit mono PCM (`audio/L16;codec=pcm;rate=24000`) in an inlineData part, which the client gets as
//                  `wav` (the default here), `mp3` (encoded on the worker, media-shared.ts) or raw `pcm`, OpenAI's
//                  own PCM format; `opus`, `aac` and `flac` have no encoder here and are a 400 naming the formats
//                  there are (a file in another format than asked would break a client that plays or stores it);
//   transcription  generateContent with the audio as an inlineData part and the instruction to transcribe; `json`
//                  and `text` answers (the others need timestamps, which Gemini does not give, and are refused);
//   images         Imagen models (`imagen-*`) through `:predict`, the others (`gemini-2.5-flash-image`) through
//                  generateContent with an IMAGE response modality; base64 answers.

import type { JobData, JobFile } from '../../src/contract/messages.js';
import { usageFromGemini, type GeminiUsageMetadata } from './gemini-shared.js';
import { isObject, objectsIn, parseObject, type Json } from './json.js';
import { imageListAnswer, imageRequest, mp3OfPcm, nearestAspectRatio, wavOfPcm } from './media-shared.js';
import type { MediaAnswer } from './types.js';

const present = (value: unknown): boolean => value !== undefined && value !== null;

/** The call an adapter makes for a media job: the model's action, and its body. */
export interface GeminiMediaCall {
  action: string;
  body: Json;
  droppedParams: string[];
}

const dropUnread = (body: Json, read: ReadonlySet<string>): string[] =>
  Object.keys(body).filter((name) => !read.has(name) && present(body[name]));

const SPEECH_READ = new Set(['model', 'input', 'voice', 'instructions', 'response_format']);
/** The speech formats made from Gemini's PCM; the first is the default. */
const SPEECH_FORMATS = ['wav', 'mp3', 'pcm'];

export function geminiSpeechCall(job: JobData): GeminiMediaCall {
  const body = job.body as Json;
  const droppedParams = dropUnread(body, SPEECH_READ);
  if (present(body.response_format) && !SPEECH_FORMATS.includes(body.response_format as string)) {
    throw new Error(`response_format '${String(body.response_format)}' cannot be made from this provider's speech (16-bit PCM): `
      + `use ${SPEECH_FORMATS.join(', ')}`);
  }
  const voice = typeof body.voice === 'string' ? body.voice : (body.voice as { id?: unknown }).id;
  if (typeof voice !== 'string' || voice === '') throw new Error("'voice' must name one of the model's voices (e.g. Kore)");
  // Gemini's speech models take a direction in plain words before the text ("Say cheerfully: …").
  const text = typeof body.instructions === 'string' && body.instructions !== '' ? `${body.instructions}: ${String(body.input)}` : String(body.input);
  return { action: 'generateContent', droppedParams, body: {
    contents: [{ role: 'user', parts: [{ text }] }],
    generationConfig: { responseModalities: ['AUDIO'], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: voice } } } },
  } };
}

const TRANSCRIPTION_READ = new Set(['model', 'file', 'language', 'prompt', 'response_format', 'temperature']);
const AUDIO_TYPES: Readonly<Record<string, string>> = { wav: 'audio/wav', mp3: 'audio/mp3', mpeg: 'audio/mpeg', aiff: 'audio/aiff',
  aac: 'audio/aac', ogg: 'audio/ogg', flac: 'audio/flac', m4a: 'audio/mp4', mp4: 'audio/mp4', webm: 'audio/webm', opus: 'audio/ogg' };

/** The audio's type as the form said it, else from the file name's extension. */
function audioType(file: JobFile): string {
  if (file.type && file.type !== 'application/octet-stream') return file.type;
  const extension = /\.([A-Za-z0-9]+)$/.exec(file.name)?.[1]?.toLowerCase() ?? '';
  const type = AUDIO_TYPES[extension];
  if (!type) throw new Error(`the audio's type is unknown: send the file part with a content type, or a name ending in .${Object.keys(AUDIO_TYPES).join(', .')}`);
  return type;
}

export function geminiTranscriptionCall(job: JobData): GeminiMediaCall {
  const body = job.body as Json;
  const format = body.response_format ?? 'json';
  if (format !== 'json' && format !== 'text') {
    throw new Error(`response_format '${String(format)}' needs timestamps, which this provider's transcription does not give: use json or text`);
  }
  const file = body.file as JobFile;
  let instruction = 'Transcribe this audio verbatim. Answer with the transcript only.';
  if (typeof body.language === 'string' && body.language !== '') instruction += ` The speech is in the language with ISO-639-1 code ${body.language}.`;
  if (typeof body.prompt === 'string' && body.prompt !== '') instruction += ` Context, and the spelling to follow: ${body.prompt}`;
  const temperature = present(body.temperature) ? Number(body.temperature) : null;
  return { action: 'generateContent', droppedParams: dropUnread(body, TRANSCRIPTION_READ), body: {
    contents: [{ role: 'user', parts: [{ text: instruction },
      { inlineData: { mimeType: audioType(file), data: Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength).toString('base64') } }] }],
    ...(temperature !== null && Number.isFinite(temperature) ? { generationConfig: { temperature } } : {}),
  } };
}

const isImagen = (model: string) => /(^|\/)imagen-/.test(model);
/** The aspect ratios Imagen and Gemini's image models take. */
const ASPECT_RATIOS = ['1:1', '3:4', '4:3', '9:16', '16:9'] as const;

export function geminiImageCall(job: JobData): GeminiMediaCall {
  const { prompt, count, size, droppedParams } = imageRequest(job);
  const aspectRatio = size ? nearestAspectRatio(size, ASPECT_RATIOS) : null;
  if (isImagen(job.model)) {
    return { action: 'predict', droppedParams, body: { instances: [{ prompt }],
      parameters: { sampleCount: count, ...(aspectRatio ? { aspectRatio } : {}) } } };
  }
  // An image model answers one image per request.
  if (count > 1) droppedParams.push('n');
  return { action: 'generateContent', droppedParams, body: {
    contents: [{ role: 'user', parts: [{ text: prompt }] }],
    generationConfig: { responseModalities: ['TEXT', 'IMAGE'], ...(aspectRatio ? { imageConfig: { aspectRatio } } : {}) },
  } };
}

interface InlineData {
  mimeType?: string;
  data?: string;
}

/** The parts of a generateContent answer's first candidate, and its usage; a blocked prompt is the upstream's refusal. */
function answerParts(response: Json): Json[] {
  const feedback = response.promptFeedback as { blockReason?: string } | undefined;
  if (feedback?.blockReason) throw new SyntaxError(`the prompt was blocked (${feedback.blockReason})`);
  const candidate = objectsIn(response.candidates)[0];
  return objectsIn((candidate?.content as Json | undefined)?.parts);
}

const inlineOf = (parts: Json[], kind: string): InlineData[] =>
  parts.map((part) => part.inlineData).filter((data): data is InlineData => isObject(data) && typeof data.data === 'string'
    && typeof data.mimeType === 'string' && data.mimeType.startsWith(kind));

function speechAnswer(response: Json, job: JobData): MediaAnswer | Promise<MediaAnswer> {
  const audio = inlineOf(answerParts(response), 'audio/')[0];
  if (!audio) throw new SyntaxError('the answer holds no audio');
  const usage = usageFromGemini(response.usageMetadata as GeminiUsageMetadata | undefined);
  const bytes = Buffer.from(audio.data!, 'base64');
  const mimeType = audio.mimeType!;
  // Anything but raw PCM (L16) is already a file format: passed on as it came.
  if (!/^audio\/(L16|pcm)\b/i.test(mimeType)) return { body: bytes, usage, contentType: mimeType };
  const rate = Number(/rate=(\d+)/.exec(mimeType)?.[1] ?? 24000);
  const format = (job.body as Json).response_format;
  if (format === 'pcm') return { body: bytes, usage, contentType: 'audio/pcm' };
  if (format === 'mp3') return mp3OfPcm(bytes, rate).then((mp3) => ({ body: mp3, usage, contentType: 'audio/mpeg' }));
  return { body: wavOfPcm(bytes, rate), usage, contentType: 'audio/wav' };
}

function transcriptionAnswer(response: Json, job: JobData): MediaAnswer {
  const text = answerParts(response).filter((part) => part.thought !== true && typeof part.text === 'string').map((part) => part.text).join('').trim();
  const usage = usageFromGemini(response.usageMetadata as GeminiUsageMetadata | undefined);
  if ((job.body as Json).response_format === 'text') return { body: text, usage, contentType: 'text/plain; charset=utf-8' };
  const tokens = usage ? { type: 'tokens', input_tokens: usage.promptTokens, output_tokens: usage.completionTokens, total_tokens: usage.totalTokens } : undefined;
  return { body: JSON.stringify({ text, ...(tokens ? { usage: tokens } : {}) }), usage, contentType: 'application/json' };
}

function imageAnswer(response: Json): MediaAnswer {
  if (Array.isArray(response.predictions)) {
    // Imagen leaves out the images its safety filter removed; an answer with none is the filter's refusal.
    const images = objectsIn(response.predictions).map((p) => p.bytesBase64Encoded).filter((b): b is string => typeof b === 'string');
    if (images.length === 0) throw new SyntaxError('every image was filtered out by the provider\'s safety filter');
    return imageListAnswer(images);
  }
  const images = inlineOf(answerParts(response), 'image/').map((data) => data.data!);
  return imageListAnswer(images, usageFromGemini(response.usageMetadata as GeminiUsageMetadata | undefined));
}

/** A media job's answer in OpenAI's shape, from Gemini's. */
export function geminiMediaAnswer(text: string, job: JobData): MediaAnswer | Promise<MediaAnswer> {
  const response = parseObject(text, 'the answer');
  if (job.kind === 'speech') return speechAnswer(response, job);
  if (job.kind === 'transcription') return transcriptionAnswer(response, job);
  return imageAnswer(response);
}
