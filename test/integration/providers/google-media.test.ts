// OpenAI's speech, transcription and image endpoints on providers `gemini` and `vertex`, and Claude models on
// Vertex, through the real, built gateway (`npx tsc -b` first) with the `openai` SDK as the client. One fake serves
// both of Google's APIs (gemini-server.ts), with a fake Anthropic API behind Vertex's `publishers/anthropic` routes.

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeImageBytes, fakeSpeechPcm } from '../../fakes/gemini-server.js';
import { startFakeVertex, VERTEX_PROJECT, VERTEX_REGION, type FakeVertex } from '../../fakes/vertex-server.js';
import { apiError, collect, startGatewayWith, user, type Harness } from '../harness.js';

let vertex: FakeVertex;
let h: Harness<FakeVertex['fake']>;

beforeAll(async () => {
  vertex = await startFakeVertex();
  const shared = {
    network_config: { base_url: vertex.fake.url, default_request_timeout_in_seconds: 30 },
    concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 },
    circuit_breaker: { enabled: false },
  };
  h = await startGatewayWith(vertex.fake, () => ({ providers: {
    gemini: { keys: [{ value: 'AIza-test', models: ['*'], weight: 1 }], ...shared },
    vertex: { keys: [{ value: 'service-account', models: ['*'], weight: 1, vertex_key_config: vertex.keyConfig() }], ...shared },
  } }));
});

afterAll(async () => {
  await h?.close();
});

const lastRequest = () => vertex.fake.requests.at(-1)!;
const dropped = (response: Response) => response.headers.get('x-heimdall-dropped-params');

/** A WAV file's sample rate and its PCM data. */
function readWav(bytes: Buffer): { rate: number; pcm: Buffer } {
  expect(bytes.subarray(0, 4).toString('latin1')).toBe('RIFF');
  expect(bytes.subarray(8, 16).toString('latin1')).toBe('WAVEfmt ');
  expect(bytes.readUInt16LE(22)).toBe(1);
  expect(bytes.readUInt16LE(34)).toBe(16);
  expect(bytes.subarray(36, 40).toString('latin1')).toBe('data');
  expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44);
  return { rate: bytes.readUInt32LE(24), pcm: bytes.subarray(44) };
}

describe.each([
  ['gemini', (model: string, action: string) => `/v1beta/models/${model}:${action}`],
  ['vertex', (model: string, action: string) => `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/publishers/google/models/${model}:${action}`],
])('%s media through the gateway', (provider, path) => {
  it('audio.speech.create: generateContent with an AUDIO answer in the voice asked for, as a WAV file', async () => {
    const { data, response } = await h.client.audio.speech.create({ model: `${provider}/gemini-2.5-flash-preview-tts`, voice: 'Kore',
      input: 'Have a wonderful day!', instructions: 'Say cheerfully' }).withResponse();
    expect(response.headers.get('content-type')).toBe('audio/wav');
    const { rate, pcm } = readWav(Buffer.from(await data.arrayBuffer()));
    expect(rate).toBe(24000);
    expect(pcm).toEqual(fakeSpeechPcm('Say cheerfully: Have a wonderful day!'));
    const sent = lastRequest();
    expect(sent.path).toBe(path('gemini-2.5-flash-preview-tts', 'generateContent'));
    expect(sent.body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Say cheerfully: Have a wonderful day!' }] }],
      generationConfig: { responseModalities: ['AUDIO'], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } } } });
    expect(dropped(response)).toBeNull();
  });

  it('speech as raw pcm, as mp3 encoded on the worker; a format it cannot make is the SDK\'s BadRequestError', async () => {
    const pcm = await h.client.audio.speech.create({ model: `${provider}/gemini-2.5-flash-preview-tts`, voice: 'Puck', input: 'hi',
      response_format: 'pcm' }).withResponse();
    expect(pcm.response.headers.get('content-type')).toBe('audio/pcm');
    expect(Buffer.from(await pcm.data.arrayBuffer())).toEqual(fakeSpeechPcm('hi'));
    const mp3 = await h.client.audio.speech.create({ model: `${provider}/gemini-2.5-flash-preview-tts`, voice: 'Puck', input: 'hi',
      response_format: 'mp3', speed: 1.5 }).withResponse();
    expect(mp3.response.headers.get('content-type')).toBe('audio/mpeg');
    const frame = Buffer.from(await mp3.data.arrayBuffer());
    // An MPEG-2 Layer III frame at 24 kHz: the sync word, the version and layer, then the sample rate's index.
    expect([frame[0], frame[1] & 0xfe, (frame[2] >> 2) & 3]).toEqual([0xff, 0xf2, 1]);
    expect(dropped(mp3.response)).toBe('speed');
    const requests = vertex.fake.requests.length;
    const opus = await apiError(h.client.audio.speech.create({ model: `${provider}/gemini-2.5-flash-preview-tts`, voice: 'Puck', input: 'hi',
      response_format: 'opus' }));
    expect(opus).toBeInstanceOf(OpenAI.BadRequestError);
    expect(opus.message).toMatch(/response_format 'opus' cannot be made .*use wav, mp3, pcm/);
    expect(vertex.fake.requests.length).toBe(requests);
  });

  it('a voice Gemini does not have → its 400, as the SDK\'s BadRequestError', async () => {
    const error = await apiError(h.client.audio.speech.create({ model: `${provider}/gemini-2.5-flash-preview-tts`, voice: 'alloy', input: 'x' }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.message).toContain('Voice name alloy is not supported');
  });

  it('audio.transcriptions.create: the audio as inlineData, the transcript as JSON with token usage, or as text', async () => {
    const audio = new Uint8Array(Array.from({ length: 300 }, (_, i) => i % 256));
    const json = await h.client.audio.transcriptions.create({ model: `${provider}/gemini-2.5-flash`, language: 'fr', prompt: 'Heimdall',
      file: new File([audio], 'clip.mp3', { type: 'audio/mpeg' }) });
    expect(json.text).toBe('Transcribed 300 bytes of audio/mpeg');
    expect(json.usage).toMatchObject({ type: 'tokens', input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    const parts = (lastRequest().body!.contents as { parts: Record<string, unknown>[] }[])[0].parts;
    expect(parts[0].text).toContain('ISO-639-1 code fr');
    expect(parts[0].text).toContain('Heimdall');
    expect(parts[1]).toEqual({ inlineData: { mimeType: 'audio/mpeg', data: Buffer.from(audio).toString('base64') } });
    // No content type on the part: the file name's extension says it.
    const text = await h.client.audio.transcriptions.create({ model: `${provider}/gemini-2.5-flash`, response_format: 'text',
      file: new File([audio.subarray(0, 10)], 'clip.wav') });
    expect(text).toBe('Transcribed 10 bytes of audio/wav');
  });

  it('transcription formats that need timestamps → 400 naming the ones it has; Gemini is not called', async () => {
    const before = vertex.fake.requests.length;
    const error = await apiError(h.client.audio.transcriptions.create({ model: `${provider}/gemini-2.5-flash`, response_format: 'srt',
      file: new File([new Uint8Array(4)], 'a.wav') }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('use json or text');
    expect(vertex.fake.requests.length).toBe(before);
  });

  it('images.generate with an Imagen model: :predict, n images, the size as the nearest aspect ratio', async () => {
    const { data: images, response } = await h.client.images.generate({ model: `${provider}/imagen-3.0-generate-002`, prompt: 'a lighthouse',
      n: 2, size: '1792x1024', response_format: 'url' }).withResponse();
    expect(images.data!.map((image) => Buffer.from(image.b64_json!, 'base64'))).toEqual([fakeImageBytes('a lighthouse', 0), fakeImageBytes('a lighthouse', 1)]);
    expect(lastRequest().path).toBe(path('imagen-3.0-generate-002', 'predict'));
    expect(lastRequest().body).toEqual({ instances: [{ prompt: 'a lighthouse' }], parameters: { sampleCount: 2, aspectRatio: '16:9' } });
    // Always base64: nothing hosts the image at a URL.
    expect(dropped(response)).toBe('response_format');
  });

  it('images.generate with a Gemini image model: generateContent with an IMAGE answer', async () => {
    const images = await h.client.images.generate({ model: `${provider}/gemini-2.5-flash-image`, prompt: 'a fjord', size: '1024x1024' });
    expect(images.data).toHaveLength(1);
    expect(Buffer.from(images.data![0].b64_json!, 'base64')).toEqual(fakeImageBytes('a fjord'));
    expect(lastRequest().body!.generationConfig).toEqual({ responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '1:1' } });
    expect(images.usage?.total_tokens).toBeGreaterThan(0);
  });
});

describe('Claude models on vertex', () => {
  const path = (model: string, action: string) => `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/publishers/anthropic/models/${model}:${action}`;

  it('chat: rawPredict with the Messages body, vertex-2023-10-16 and no model; the answer as a chat completion', async () => {
    const completion = await h.client.chat.completions.create({ model: 'vertex/claude-sonnet-4-5@20250929', max_tokens: 100,
      messages: [{ role: 'system', content: 'Be brief.' }, ...user('Hello Claude')] });
    expect(completion.choices[0].message.content).toContain('Hello Claude');
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    const sent = lastRequest();
    expect(sent.path).toBe(path('claude-sonnet-4-5@20250929', 'rawPredict'));
    expect(sent.headers.authorization).toMatch(/^Bearer ya29\./);
    expect(sent.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16', max_tokens: 100, system: 'Be brief.' });
    expect(sent.body).not.toHaveProperty('model');
    expect(vertex.anthropic.requests.at(-1)!.body!.model).toBe('claude-sonnet-4-5@20250929');
  });

  it('stream: streamRawPredict, Anthropic\'s events as chat chunks with the usage', async () => {
    const stream = await h.client.chat.completions.create({ model: 'vertex/claude-sonnet-4-5@20250929', messages: user('Stream please'),
      stream: true, stream_options: { include_usage: true } });
    const chunks = await collect(stream);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toContain('Stream please');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
    expect(lastRequest().path).toBe(path('claude-sonnet-4-5@20250929', 'streamRawPredict'));
    expect(lastRequest().body).toMatchObject({ stream: true, anthropic_version: 'vertex-2023-10-16' });
  });

  it('tools: the Messages tools and the tool call back as OpenAI\'s', async () => {
    const completion = await h.client.chat.completions.create({ model: 'vertex/claude-haiku-4-5-tools', messages: user('Weather in Oslo?'),
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }] });
    expect(completion.choices[0].finish_reason).toBe('tool_calls');
    expect(completion.choices[0].message.tool_calls![0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect((lastRequest().body!.tools as { name: string }[])[0].name).toBe('get_weather');
  });

  it('an Anthropic error passes on with its status and message', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'vertex/claude-haiku-4-5-error-529', messages: user('x') }));
    expect(error.status).toBe(503);
  });

  it('counts tokens at count-tokens:rawPredict, the model in the body, for the Anthropic SDK and /v1/responses/input_tokens', async () => {
    const anthropic = new Anthropic({ baseURL: `${h.url}/anthropic`, apiKey: 'client-key', maxRetries: 0 });
    const counted = await anthropic.messages.countTokens({ model: 'vertex/claude-sonnet-4-5@20250929', system: 'Be brief.',
      messages: [{ role: 'user', content: 'How many tokens is this?' }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }] });
    const sent = lastRequest();
    expect(sent.path).toBe(path('count-tokens', 'rawPredict'));
    expect(sent.headers.authorization).toMatch(/^Bearer ya29\./);
    expect(sent.body).toMatchObject({ model: 'claude-sonnet-4-5@20250929', system: 'Be brief.',
      messages: [{ role: 'user', content: 'How many tokens is this?' }] });
    expect(sent.body).not.toHaveProperty('max_tokens');
    // The fake Anthropic API counted it: what it answered is what the client got.
    expect(counted.input_tokens).toBe((JSON.parse(sent.responseBody!) as { input_tokens: number }).input_tokens);
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(vertex.anthropic.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');

    const openai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
    const input = await openai.responses.inputTokens.count({ model: 'vertex/claude-haiku-4-5@20251001', input: 'Count me' });
    expect(input.input_tokens).toBeGreaterThan(0);
    expect(lastRequest().body).toMatchObject({ model: 'claude-haiku-4-5@20251001' });
  });
});
