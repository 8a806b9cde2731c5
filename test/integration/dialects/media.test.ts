// OpenAI's audio and images endpoints, with the `openai` SDK as the client: first straight against the openai fake
// (so the fake is proved to speak the SDK's wire format), then through the real gateway in front of it, where the
// same calls must give the same answers.

import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPEECH_FRAME } from '../../fakes/openai-server.js';
import { apiError, startOpenAIAndMock, type Harness } from '../harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startOpenAIAndMock();
});

afterAll(async () => {
  await h?.close();
});

/** Audio bytes no UTF-8 round trip would keep: every byte value. */
const AUDIO = new Uint8Array(Array.from({ length: 512 }, (_, i) => i % 256));

const clients: [string, () => OpenAI][] = [
  ['the openai fake directly', () => new OpenAI({ baseURL: `${h.fake.url}/v1`, apiKey: 'sk-fake', maxRetries: 0 })],
  ['the gateway (drop-in /openai/v1)', () => new OpenAI({ baseURL: `${h.url}/openai/v1`, apiKey: 'unused', maxRetries: 0 })],
];

describe.each(clients)('media endpoints through %s', (_name, client) => {
  it('audio.speech.create answers the audio bytes with the upstream content type', async () => {
    const response = await client().audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'Hello there', response_format: 'wav' });
    expect(response.headers.get('content-type')).toBe('audio/wav');
    const audio = Buffer.from(await response.arrayBuffer());
    expect(audio.subarray(0, 4)).toEqual(SPEECH_FRAME);
    expect(audio.subarray(4).toString()).toBe('Hello there');
  });

  it('audio.transcriptions.create takes a File and answers JSON, text, or verbose JSON with lists', async () => {
    const file = new File([AUDIO], 'clip.wav', { type: 'audio/wav' });
    const json = await client().audio.transcriptions.create({ file, model: 'whisper-1' });
    expect(json.text).toBe(`Transcribed ${AUDIO.length} bytes of clip.wav`);
    const text = await client().audio.transcriptions.create({ file: await toFile(AUDIO, 'again.mp3'), model: 'whisper-1', response_format: 'text' });
    expect(text).toBe(`Transcribed ${AUDIO.length} bytes of again.mp3\n`);
    const verbose = await client().audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'], language: 'fr' });
    expect(verbose).toMatchObject({ language: 'fr', words: [] });
  });

  it('images.generate answers n images', async () => {
    const images = await client().images.generate({ model: 'gpt-image-1', prompt: 'a cat', n: 2 });
    expect(images.data).toHaveLength(2);
    expect(Buffer.from(images.data![0].b64_json!, 'base64').subarray(8).toString()).toBe('a cat');
    expect(images.usage!.total_tokens).toBeGreaterThan(0);
  });
});

describe('media endpoints on /v1', () => {
  it('rewrite provider/model to the bare model upstream, in JSON and in the form', async () => {
    const speech = await h.client.audio.speech.create({ model: 'openai/tts-1', voice: 'nova', input: 'x' }).withResponse();
    expect(h.fake.requestsWithId(speech.response.headers.get('x-request-id')!)[0].body!.model).toBe('tts-1');
    const { response } = await h.client.audio.transcriptions.create({ file: new File([AUDIO], 'a.wav'), model: 'openai/whisper-1' }).withResponse();
    const upstream = h.fake.requestsWithId(response.headers.get('x-request-id')!)[0];
    const form = await new Response(upstream.rawBytes, { headers: { 'content-type': String(upstream.headers['content-type']) } }).formData();
    expect(form.get('model')).toBe('whisper-1');
    expect(new Uint8Array(await (form.get('file') as File).arrayBuffer())).toEqual(AUDIO);
  });

  it('carry a file bigger than many ring slots', async () => {
    const big = new Uint8Array(3 * 1024 * 1024).fill(7);
    const result = await h.client.audio.transcriptions.create({ file: new File([big], 'long.wav'), model: 'openai/whisper-1' });
    expect(result.text).toBe(`Transcribed ${big.length} bytes of long.wav`);
  });

  it('are refused for providers that do not speak OpenAI\'s format, with the 400 unsupported_capability', async () => {
    const error = await apiError(h.client.images.generate({ model: 'mock/echo', prompt: 'a cat' }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('unsupported_capability');
  });

  it('pass upstream failures on as the SDK\'s typed errors', async () => {
    const error = await apiError(h.client.audio.speech.create({ model: 'openai/tts-error-429', voice: 'alloy', input: 'x' }));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const transcription = await apiError(h.client.audio.transcriptions.create({ file: new File([AUDIO], 'a.wav'), model: 'openai/whisper-error-503' }));
    expect(transcription.status).toBe(503);
  });

  it('refuse bad input in OpenAI\'s error shape', async () => {
    const notMultipart = await fetch(`${h.url}/v1/audio/transcriptions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/whisper-1' }) });
    expect(notMultipart.status).toBe(400);
    expect(((await notMultipart.json()) as { error: { message: string } }).error.message).toContain('multipart/form-data');
    const noFile = await apiError(h.client.audio.transcriptions.create({ model: 'openai/whisper-1' } as never));
    expect(noFile.status).toBe(400);
    const noVoice = await apiError(h.client.audio.speech.create({ model: 'openai/tts-1', input: 'x' } as never));
    expect(noVoice.param).toBe('voice');
    const streamed = await apiError(h.client.images.generate({ model: 'openai/gpt-image-1', prompt: 'x', stream: true } as never));
    expect(streamed.param).toBe('stream');
  });
});
