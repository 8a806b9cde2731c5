// Azure OpenAI's routes on the gateway, driven by the `openai` SDK's AzureOpenAI client (endpoint = the gateway,
// an `api-key` of its own, an `api-version`): every deployment operation, and Responses on `/openai/responses`.
// Behind the gateway: the faithful Azure fake (the azure provider, whose key maps models to deployments) and the
// OpenAI fake (an alias named like a deployment points at it).

import OpenAI, { AzureOpenAI, NotFoundError, toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAzure, type FakeAzure } from '../../fakes/azure-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { rejectionOf } from '../../rejection.js';
import { azureProvider, openaiProvider, startGatewayWith, type Harness } from '../harness.js';

const UPSTREAM_KEY = 'azure-upstream-key';
const API_VERSION = '2024-10-21';
let openaiFake: FakeOpenAI;
let h: Harness<FakeAzure>;

beforeAll(async () => {
  openaiFake = await startFakeOpenAI();
  const fake = await startFakeAzure({ apiKey: UPSTREAM_KEY,
    deployments: { 'prod-gpt4o': 'gpt-4o-2024-08-06', 'emb-small': 'text-embedding-3-small' } });
  h = await startGatewayWith(fake, (fakeUrl) => ({
    providers: {
      azure: azureProvider(fakeUrl, UPSTREAM_KEY),
      openai: openaiProvider(openaiFake.url),
    },
    model_aliases: { cheap: 'openai/gpt-4o-mini' },
  }));
});

afterAll(async () => {
  await h?.close();
  await openaiFake?.close();
});

beforeEach(() => {
  h.fake.reset();
  openaiFake.reset();
});

/** AzureOpenAI pointed at the gateway as it would be at `https://NAME.openai.azure.com`. */
const azureClient = (deployment?: string) => new AzureOpenAI({ endpoint: h.url, apiKey: 'client-azure-key',
  apiVersion: API_VERSION, maxRetries: 0, timeout: 10_000, ...(deployment ? { deployment } : {}) });

describe('AzureOpenAI on /openai/deployments/{deployment}/…', () => {
  it('chat: the mapped deployment reaches azure on it, and the answer keeps Azure\'s content-filter results', async () => {
    const { data, response } = await azureClient('prod-gpt4o').chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello azure' }] }).withResponse();
    expect(data.choices[0].message.content).toContain('hello azure');
    expect(data.model).toBe('gpt-4o-2024-08-06');
    const raw = data as unknown as { prompt_filter_results?: unknown; choices: { content_filter_results?: unknown }[] };
    expect(raw.prompt_filter_results).toBeDefined();
    expect(raw.choices[0].content_filter_results).toBeDefined();
    expect(response.headers.get('x-heimdall-provider')).toBe('azure');
    const upstream = h.fake.requests[0];
    expect(upstream.path).toBe(`/openai/deployments/prod-gpt4o/chat/completions?api-version=${API_VERSION}`);
    expect(upstream.headers['api-key']).toBe(UPSTREAM_KEY);
  });

  it('chat, streamed, on a deployment the map does not list (its own name upstream)', async () => {
    const stream = await azureClient().chat.completions.create({ model: 'gpt-4o-mini', stream: true,
      messages: [{ role: 'user', content: 'stream me' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toContain('stream me');
    expect(h.fake.requests[0].deployment).toBe('gpt-4o-mini');
  });

  it('a deployment named like a model alias goes where the alias points', async () => {
    const completion = await azureClient('cheap').chat.completions.create({ model: 'cheap', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.object).toBe('chat.completion');
    expect(h.fake.requests).toHaveLength(0);
    expect(openaiFake.requests[0].body).toMatchObject({ model: 'gpt-4o-mini' });
  });

  it('embeddings and legacy completions', async () => {
    const embedded = await azureClient('emb-small').embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'],
      encoding_format: 'float' });
    expect(embedded.data).toHaveLength(2);
    expect(h.fake.requests[0].path).toBe(`/openai/deployments/emb-small/embeddings?api-version=${API_VERSION}`);
    const completion = await azureClient('prod-gpt4o').completions.create({ model: 'gpt-4o', prompt: 'complete this' });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0].text).toContain('complete this');
    expect(h.fake.requests[1].deployment).toBe('prod-gpt4o');
  });

  it('audio speech, transcription and image generation', async () => {
    const speech = await azureClient('tts').audio.speech.create({ model: 'tts', voice: 'alloy', input: 'say this' });
    expect(Buffer.from(await speech.arrayBuffer()).subarray(4).toString()).toBe('say this');
    expect(h.fake.requests[0].path).toBe(`/openai/deployments/tts/audio/speech?api-version=${API_VERSION}`);
    const transcript = await azureClient('whisper').audio.transcriptions.create({ model: 'whisper',
      file: await toFile(Buffer.from('RIFF0000WAVE'), 'clip.wav') });
    expect(transcript.text).toBe('Transcribed 12 bytes of clip.wav');
    expect(h.fake.requests[1].deployment).toBe('whisper');
    const images = await azureClient('dalle3').images.generate({ model: 'dall-e-3', prompt: 'a lighthouse', n: 1 });
    expect(images.data?.[0]).toMatchObject({ revised_prompt: 'a lighthouse', content_filter_results: expect.any(Object) });
    expect(h.fake.requests[2].deployment).toBe('dalle3');
  });

  it("answers the deployment's upstream 404 as the SDK's NotFoundError", async () => {
    const error = await rejectionOf(azureClient('gpt-error-404').chat.completions.create({ model: 'x',
      messages: [{ role: 'user', content: 'hi' }] }), NotFoundError);
    expect(error.status).toBe(404);
  });
});

describe("AzureOpenAI's /openai/responses?api-version=…", () => {
  it('reaches the azure provider (the body names the deployment), not openai', async () => {
    const response = await azureClient().responses.create({ model: 'prod-gpt4o', input: 'respond from azure' });
    expect(response.output_text).toContain('respond from azure');
    expect(openaiFake.requests).toHaveLength(0);
    expect(h.fake.requests[0].deployment).toBe('prod-gpt4o');
  });

  it('while the plain OpenAI SDK on /openai/responses still reaches openai', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/openai`, apiKey: 'client', maxRetries: 0 });
    await client.responses.create({ model: 'gpt-4o-mini', input: 'to openai' });
    expect(h.fake.requests).toHaveLength(0);
    expect(openaiFake.requests).toHaveLength(1);
  });
});
