// The OpenAI SDK's drop-in routes (`/openai/v1`, `/openai`), model aliases and the /v1/models listing, through the
// real gateway with the `openai` SDK as the client.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, collect, openaiProvider, startHarness, user, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      providers: {
        openai: openaiProvider(fakeUrl, { keys: [{ value: 'sk-a', models: ['gpt-4o-mini', 'text-embedding-3-small'], weight: 1 }] }),
        mock: { mock_config: { latency_ms: 0, chunk_count: 2, chunk_interval_ms: 0 } },
      },
      model_aliases: { fast: 'mock/echo', smart: 'openai/gpt-4o-mini' },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

const dropIn = (path: string) => new OpenAI({ baseURL: `${h.url}${path}`, apiKey: 'anything', maxRetries: 0 });

describe.each(['/openai/v1', '/openai'])('the OpenAI SDK with its base URL at %s', (path) => {
  it('sends a bare model to the openai provider', async () => {
    const { data, response } = await dropIn(path).chat.completions
      .create({ model: 'gpt-4o-mini', messages: user('hello') }).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
    expect(data.choices[0].message.role).toBe('assistant');
    expect(h.fake.requestsWithId(response.headers.get('x-request-id')!)[0].body!.model).toBe('gpt-4o-mini');
  });

  it('sends provider/model anywhere, streamed too', async () => {
    const chunks = await collect(await dropIn(path).chat.completions.create({ model: 'mock/echo', messages: user('hi'), stream: true }));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).not.toBe('');
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('embeds, and lists models', async () => {
    const embedded = await dropIn(path).embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    expect(embedded.data[0].embedding.length).toBeGreaterThan(0);
    const ids = (await dropIn(path).models.list()).data.map((model) => model.id);
    expect(ids).toContain('openai/gpt-4o-mini');
  });
});

describe('model aliases', () => {
  it('route a bare alias on /v1 to its provider/model', async () => {
    const { response } = await h.client.chat.completions.create({ model: 'fast', messages: user('hi') }).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(response.headers.get('x-heimdall-model')).toBe('echo');
  });

  it('work as fallbacks too', async () => {
    const { response } = await h.client.chat.completions
      .create({ model: 'openai/not-allowed', messages: user('hi'), fallbacks: ['fast'] } as never).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
  });

  it('a bare unknown name on /v1 is a 404 that names the configured providers', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') }));
    expect(error.status).toBe(404);
    expect(error.message).toContain('openai, mock');
  });
});

describe('GET /v1/models', () => {
  it('lists every configured model and each alias with what it stands for', async () => {
    const body = await (await fetch(`${h.url}/v1/models`)).json() as { data: { id: string; owned_by: string; alias_for?: string }[] };
    expect(body.data.map((model) => model.id)).toEqual(['openai/gpt-4o-mini', 'openai/text-embedding-3-small', 'mock/echo', 'fast', 'smart']);
    expect(body.data.find((model) => model.id === 'smart')).toMatchObject({ owned_by: 'openai', alias_for: 'openai/gpt-4o-mini' });
  });

  it('keeps one provider with ?provider=', async () => {
    const body = await (await fetch(`${h.url}/v1/models?provider=mock`)).json() as { data: { id: string }[] };
    expect(body.data.map((model) => model.id)).toEqual(['mock/echo', 'fast']);
  });
});
