// GenAI's `generateContent` asking for audio or images (`generationConfig.responseModalities: ["AUDIO"]` with a
// `speechConfig`, or `["TEXT", "IMAGE"]`): carried as the gateway's speech and image jobs, so that they reach any
// provider with those endpoints (gemini and vertex, which turn them back into generateContent; OpenAI's format), and
// answered as a GenerateContentResponse with the audio or images as `inlineData` parts, as Google answers.
// Speech is asked for as raw PCM, which is what Gemini's speech models give and what OpenAI's `pcm` is (24 kHz,
// 16-bit, mono, little-endian).

import { GatewayError } from '../errors/gateway-error.js';
import type { ParsedRequest } from '../pipeline/parse.js';
import type { ChatRequestBody } from '../plugins/contract.js';

type Json = Record<string, unknown>;

const bad = (message: string, param: string): GatewayError => new GatewayError('INVALID_REQUEST', message, { param });
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const present = (value: unknown): boolean => value !== undefined && value !== null;

/** The fields of a media request this translation reads; any other one present is reported as dropped. */
const READ = new Set(['contents', 'generationConfig']);
const CONFIG_READ = new Set(['responseModalities', 'speechConfig', 'imageConfig', 'candidateCount']);

/** The text of the contents' user parts: what to say, or what to draw. */
function promptOf(contents: unknown): string {
  if (!Array.isArray(contents) || contents.length === 0) throw bad("'contents' must be a non-empty list", 'contents');
  const texts: string[] = [];
  contents.forEach((content: unknown, i) => {
    const parts = isObject(content) ? content.parts : undefined;
    if (!Array.isArray(parts)) throw bad(`'contents[${i}].parts' must be a list`, `contents[${i}].parts`);
    parts.forEach((part: unknown, j) => {
      if (!isObject(part) || typeof part.text !== 'string') {
        throw bad(`'contents[${i}].parts[${j}]': audio and image answers are made from text parts only`, `contents[${i}].parts[${j}]`);
      }
      texts.push(part.text);
    });
  });
  const prompt = texts.join('\n');
  if (prompt.trim() === '') throw bad("'contents' hold no text to speak or draw", 'contents');
  return prompt;
}

function droppedOf(body: Json, config: Json): string[] {
  const dropped = Object.keys(body).filter((key) => !READ.has(key) && present(body[key]));
  for (const key of Object.keys(config)) if (!CONFIG_READ.has(key) && present(config[key])) dropped.push(`generationConfig.${key}`);
  return dropped;
}

/** `16:9` as an OpenAI size with that ratio, its short side 1024 (the image adapters take the nearest ratio they make). */
function sizeOf(ratio: unknown): string | undefined {
  if (ratio === undefined) return undefined;
  const match = typeof ratio === 'string' ? /^(\d+):(\d+)$/.exec(ratio) : null;
  if (!match || Number(match[1]) === 0 || Number(match[2]) === 0) {
    throw bad("'generationConfig.imageConfig.aspectRatio' must be W:H, like 16:9", 'generationConfig.imageConfig.aspectRatio');
  }
  const [w, h] = [Number(match[1]), Number(match[2])];
  const scale = 1024 / Math.min(w, h);
  return `${Math.round(w * scale)}x${Math.round(h * scale)}`;
}

/** A media job for a request whose response modalities ask for audio or images; null for a text answer. */
export function genaiMediaRequest(body: Json, model: string, stream: boolean): ParsedRequest | null {
  const config = body.generationConfig;
  if (!isObject(config)) return null;
  const modalities = config.responseModalities;
  if (!Array.isArray(modalities) || !(modalities.includes('AUDIO') || modalities.includes('IMAGE'))) return null;
  if (stream) throw bad('audio and image answers are not streamed by this gateway: call generateContent', 'generationConfig.responseModalities');
  const input = promptOf(body.contents);
  const dropped = droppedOf(body, config);
  if (modalities.includes('AUDIO')) {
    if (modalities.length !== 1) throw bad("'generationConfig.responseModalities': AUDIO comes alone", 'generationConfig.responseModalities');
    const speech = isObject(config.speechConfig) ? config.speechConfig : {};
    if (speech.multiSpeakerVoiceConfig !== undefined) {
      throw bad('multi-speaker speech is not supported by this gateway: use one voiceConfig', 'generationConfig.speechConfig.multiSpeakerVoiceConfig');
    }
    const voice = isObject(speech.voiceConfig) && isObject(speech.voiceConfig.prebuiltVoiceConfig) ? speech.voiceConfig.prebuiltVoiceConfig.voiceName : undefined;
    if (typeof voice !== 'string' || voice === '') {
      throw bad("'generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName' is required (e.g. Kore)", 'generationConfig.speechConfig');
    }
    if (present(speech.languageCode)) dropped.push('generationConfig.speechConfig.languageCode');
    return { kind: 'speech', body: { model, input, voice, response_format: 'pcm' } as unknown as ChatRequestBody, stream: false,
      includeUsage: false, dropped };
  }
  if (present(config.speechConfig)) dropped.push('generationConfig.speechConfig');
  const count = config.candidateCount;
  const size = sizeOf(isObject(config.imageConfig) ? config.imageConfig.aspectRatio : undefined);
  return { kind: 'image_generation', body: { model, prompt: input, ...(present(count) ? { n: count } : {}), ...(size ? { size } : {}),
    response_format: 'b64_json' } as unknown as ChatRequestBody, stream: false, includeUsage: false, dropped };
}

const candidateOf = (parts: Json[]) => ({ candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }] });

/** A speech or image job's answer (the provider's audio bytes, or OpenAI's images JSON) as a GenerateContentResponse. */
export function genaiMediaAnswer(body: string | Uint8Array, contentType: string): { contentType: string; body: string } {
  const json = 'application/json; charset=UTF-8';
  if (typeof body !== 'string' || !/^application\/json/i.test(contentType)) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    // Raw PCM is Google's L16 at 24 kHz; a file format (wav, mp3) keeps its own type.
    const mimeType = /^audio\/(pcm|L16)\b/i.test(contentType) || contentType === 'application/octet-stream'
      ? 'audio/L16;codec=pcm;rate=24000' : contentType;
    return { contentType: json, body: JSON.stringify(candidateOf([{ inlineData: { mimeType, data: bytes.toString('base64') } }])) };
  }
  const images = JSON.parse(body) as { data?: { b64_json?: unknown }[]; usage?: { input_tokens?: number; output_tokens?: number; total_tokens?: number } };
  const parts = (images.data ?? []).filter((image) => typeof image.b64_json === 'string')
    .map((image) => ({ inlineData: { mimeType: 'image/png', data: image.b64_json as string } }));
  const usage = images.usage;
  return { contentType: json, body: JSON.stringify({ ...candidateOf(parts), ...(usage ? { usageMetadata: {
    promptTokenCount: usage.input_tokens ?? 0, candidatesTokenCount: usage.output_tokens ?? 0, totalTokenCount: usage.total_tokens ?? 0 } } : {}) }) };
}
