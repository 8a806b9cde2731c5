// OpenAI's media answers built from what providers with their own media APIs return (Gemini, Imagen, Titan,
// Stability): a list of generated images, a WAV file around raw PCM, and the fields of an images request that only
// OpenAI's models take. Pure transforms shared by those adapters; nothing here names a provider.

import { usageData, type JobData, type UsageData } from '../../src/contract/messages.js';
import type { MediaAnswer } from './types.js';
import type { Json } from './json.js';

const present = (value: unknown): boolean => value !== undefined && value !== null;

/** The fields of an images request a translating adapter reads itself; any other one present is dropped and reported. */
const IMAGE_FIELDS_READ = new Set(['model', 'prompt', 'n', 'size', 'response_format', 'output_format']);

export interface ImageRequest {
  prompt: string;
  count: number;
  /** `1024x768` as numbers, or null when the client left the size to the model (`auto` or absent). */
  size: { width: number; height: number } | null;
  droppedParams: string[];
}

/** What an images request asks for, with the fields this adapter cannot carry reported (a `url` answer among them). */
export function imageRequest(job: JobData): ImageRequest {
  const body = job.body as Json;
  const droppedParams = Object.keys(body).filter((name) => !IMAGE_FIELDS_READ.has(name) && present(body[name]));
  // Answers are always base64: no provider here hosts the images at a URL.
  if (present(body.response_format) && body.response_format !== 'b64_json') droppedParams.push('response_format');
  if (present(body.output_format) && body.output_format !== 'png') droppedParams.push('output_format');
  const n = body.n;
  if (present(n) && (!Number.isInteger(n) || (n as number) < 1)) throw new Error("'n' must be a positive integer");
  let size: ImageRequest['size'] = null;
  if (present(body.size) && body.size !== 'auto') {
    const match = typeof body.size === 'string' ? /^(\d+)x(\d+)$/.exec(body.size) : null;
    if (!match) throw new Error(`'size' must be WIDTHxHEIGHT (e.g. 1024x1024) or auto, not ${JSON.stringify(body.size)}`);
    size = { width: Number(match[1]), height: Number(match[2]) };
  }
  return { prompt: String(body.prompt), count: (n as number | undefined) ?? 1, size, droppedParams };
}

/** The ratio among `ratios` ("16:9") nearest to the requested size's. */
export function nearestAspectRatio(size: { width: number; height: number }, ratios: readonly string[]): string {
  const wanted = Math.log(size.width / size.height);
  let best = ratios[0];
  let distance = Infinity;
  for (const ratio of ratios) {
    const [w, h] = ratio.split(':').map(Number);
    const d = Math.abs(Math.log(w / h) - wanted);
    if (d < distance) {
      best = ratio;
      distance = d;
    }
  }
  return best;
}

/** OpenAI's images answer for base64 images; the usage counts the images, which is how these models are priced. */
export function imageListAnswer(images: string[], usage: UsageData | null = null): MediaAnswer {
  if (images.length === 0) throw new SyntaxError('the answer holds no image');
  const body = { created: Math.floor(Date.now() / 1000), data: images.map((b64) => ({ b64_json: b64 })),
    ...(usage ? { usage: { input_tokens: usage.promptTokens, output_tokens: usage.completionTokens, total_tokens: usage.totalTokens } } : {}) };
  return { body: JSON.stringify(body), contentType: 'application/json',
    usage: usage ? { ...usage, images: images.length } : usageData(0, 0, 0, { images: images.length }) };
}

/** 16-bit little-endian mono PCM at `rate` Hz in a RIFF/WAVE container, as OpenAI's `wav` speech answers are. */
export function wavOfPcm(pcm: Buffer, rate: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

/** MP3 bitrate for speech: mono voice at 24 kHz is transparent well below it, and OpenAI's own files are near it. */
const MP3_KBPS = 64;
/** Samples encoded between yields to the thread's other jobs: 0.5 s of 24 kHz audio, 20-50 ms of CPU. */
const MP3_SLICE = 1152 * 10;

/**
 * 16-bit little-endian mono PCM at `rate` Hz as an MP3 file, encoded with lamejs (LAME's encoder in plain
 * JavaScript, loaded on first use). About 25x faster than real time once warm, so it is done in slices with a yield
 * between them: a long answer does not stall the other streams on this worker thread.
 */
export async function mp3OfPcm(pcm: Buffer, rate: number): Promise<Buffer> {
  const { Mp3Encoder } = await import('@breezystack/lamejs');
  // A view needs 2-byte alignment; a base64-decoded buffer may sit at an odd offset of its pool.
  const samples = pcm.byteOffset % 2 === 0
    ? new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length >> 1)
    : new Int16Array(Uint8Array.prototype.slice.call(pcm, 0, pcm.length & ~1).buffer);
  const encoder = new Mp3Encoder(1, rate, MP3_KBPS);
  const parts: Uint8Array[] = [];
  // lamejs answers Int8Arrays, whatever its typings say: viewed as bytes, not copied.
  const bytesOf = (part: ArrayBufferView) => new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  for (let start = 0; start < samples.length; start += MP3_SLICE) {
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    parts.push(bytesOf(encoder.encodeBuffer(samples.subarray(start, start + MP3_SLICE))));
  }
  parts.push(bytesOf(encoder.flush()));
  return Buffer.concat(parts);
}
