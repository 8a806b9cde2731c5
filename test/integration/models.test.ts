// GET /v1/models through the real gateway with the `openai` SDK's models.list(): the configured names and aliases
// merged with what the providers that list their models say (the fake OpenAI, Anthropic and Gemini servers), a
// provider that fails left out and named in a header, the lists cached, and a key's `models` restricting the list.
// The providers that list are `warm` (started at boot); a listing leaves cold pools cold (pool-lifecycle.test.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_ANTHROPIC_MODELS, startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic-server.js';
import { FAKE_GEMINI_MODELS, startFakeGemini, type FakeGemini } from '../fakes/gemini-server.js';
import { FAKE_OPENAI_MODELS, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { API_KEY, openaiProvider, startGatewayWith, type Harness } from './harness.js';

let h: Harness<FakeOpenAI>;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
/** Answers nothing for longer than the gateway waits for a model list. */
let slow: FakeOpenAI;

beforeAll(async () => {
  anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-upstream' });
  gemini = await startFakeGemini({ apiKey: 'AIza-upstream' });
  slow = await startFakeOpenAI({ latencyMs: 30_000 });
  h = await startGatewayWith(await startFakeOpenAI({ apiKey: API_KEY }), (fakeUrl) => ({
    providers: {
      openai: openaiProvider(fakeUrl, WARM),
      // The fake refuses this key: its list fails.
      together: openaiProvider(fakeUrl, { keys: [{ value: 'not-the-key', models: ['*'], weight: 1 }], ...WARM }),
      // Its one key names its models: the provider is not asked, and lists just those.
      mistral: openaiProvider(fakeUrl, { keys: [{ value: 'not-the-key', models: ['mistral-small-latest'], weight: 1 }] }),
      anthropic: { keys: [{ value: 'sk-ant-upstream', models: ['*'], blacklisted_models: ['claude-haiku-4-5'], weight: 1 }],
        network_config: { base_url: anthropic.url }, ...WARM },
      gemini: { keys: [{ value: 'AIza-upstream', models: ['*'], weight: 1 }], network_config: { base_url: gemini.url }, ...WARM },
      mock: { mock_config: { latency_ms: 0 } },
      // Keyless: asked without a key.
      ollama: { network_config: { base_url: slow.url }, ...WARM },
    },
    model_aliases: { fast: 'openai/gpt-4o-mini' },
  }));
});

afterAll(async () => {
  await h?.close();
  await anthropic?.close();
  await gemini?.close();
  await slow?.close();
});

const WARM = { concurrency_and_buffer_size: { warm: true } };

const listRequests = () => h.fake.requests.filter((request) => request.method === 'GET' && request.path === '/v1/models');

describe('GET /v1/models', () => {
  // The slow provider is waited for here, 5 s; its failure is then kept a while, so later listings do not wait.
  it('merges the providers\' own lists with the configured names and aliases, naming the providers that failed', { timeout: 15_000 }, async () => {
    const { data: page, response } = await h.client.models.list().withResponse();
    const ids = page.data.map((model) => model.id);
    expect(ids).toEqual(expect.arrayContaining([
      ...FAKE_OPENAI_MODELS.map((id) => `openai/${id}`),
      'anthropic/claude-sonnet-4-5',
      ...FAKE_GEMINI_MODELS.map((id) => `gemini/${id}`),
      'mistral/mistral-small-latest',
      'mock/echo',
      'fast',
    ]));
    // A blacklisted model of the listing key is left out; the failed provider lists nothing.
    expect(ids).not.toContain('anthropic/claude-haiku-4-5');
    expect(FAKE_ANTHROPIC_MODELS).toContain('claude-haiku-4-5');
    expect(ids.filter((id) => id.startsWith('together/'))).toEqual([]);
    expect(ids.filter((id) => id.startsWith('mistral/'))).toEqual(['mistral/mistral-small-latest']);
    expect(page.data.find((model) => model.id === 'openai/gpt-4o')).toMatchObject({ object: 'model', owned_by: 'openai' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-models-unavailable')).toBe('together,ollama');
  });

  it('asks each provider once in a while: a second listing is answered from the cache', async () => {
    await h.client.models.list();
    const asked = listRequests().filter((request) => request.headers.authorization === `Bearer ${API_KEY}`).length;
    expect(asked).toBe(1);
    const anthropicAsked = anthropic.requests.filter((request) => request.method === 'GET').length;
    expect(anthropicAsked).toBe(1);
    expect(anthropic.requests[0].headers['anthropic-version']).toBe('2023-06-01');
    // A failure is kept too, for less long: the failed providers are not asked again at once.
    expect(listRequests().filter((request) => request.headers.authorization === 'Bearer not-the-key').length).toBe(1);
    expect(slow.requests).toHaveLength(1);
    expect(slow.requests[0].headers.authorization).toBeUndefined();
  });

  it('?provider= keeps one provider\'s models, asking only it', async () => {
    const body = await (await fetch(`${h.url}/v1/models?provider=gemini`)).json() as { data: { id: string }[] };
    expect(body.data.map((model) => model.id)).toEqual(FAKE_GEMINI_MODELS.map((id) => `gemini/${id}`));
    const response = await fetch(`${h.url}/v1/models?provider=anthropic`);
    expect(response.headers.get('x-heimdall-models-unavailable')).toBeNull();
    expect(((await response.json()) as { data: { id: string }[] }).data.map((model) => model.id)).toEqual(['anthropic/claude-sonnet-4-5']);
  });

  it('the native routes\' model lists show the same models: GenAI\'s with the gemini provider\'s list bare', async () => {
    const response = await fetch(`${h.url}/genai/v1beta/models?pageSize=1000`);
    const names = ((await response.json()) as { models: { name: string }[] }).models.map((model) => model.name);
    expect(names).toEqual(expect.arrayContaining([...FAKE_GEMINI_MODELS.map((id) => `models/${id}`), 'models/openai/gpt-4o',
      'models/anthropic/claude-sonnet-4-5', 'models/fast']));
    expect(response.headers.get('x-heimdall-models-unavailable')).toBe('together,ollama');
  });
});
