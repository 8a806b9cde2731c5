// `/v1/responses/input_tokens` through the real, built gateway with the `openai` SDK's `responses.inputTokens.count`:
// the anthropic provider (the Anthropic fake) counts with its own counter; the mock, which has none, gets a labelled
// estimate.

import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { apiError, startGatewayWith, type Harness } from '../harness.js';

const KEY = 'sk-ant-upstream';
let h: Harness<FakeAnthropic>;

beforeAll(async () => {
  h = await startGatewayWith(await startFakeAnthropic({ apiKey: KEY }), (fakeUrl) => ({ providers: {
    anthropic: { keys: [{ value: KEY, models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl } },
    mock: { mock_config: { latency_ms: 0, chunk_count: 1, chunk_interval_ms: 0 } },
  } }));
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => h.fake.reset());

describe('/v1/responses/input_tokens', () => {
  it('is counted by the anthropic provider\'s own counter, the Responses input translated', async () => {
    const answer = await h.client.responses.inputTokens.count({ model: 'anthropic/claude-sonnet-4-5', instructions: 'be brief',
      input: [{ role: 'user', content: 'count these words please' }] });
    const sent = h.fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages/count_tokens');
    expect(sent.body).toMatchObject({ model: 'claude-sonnet-4-5', system: 'be brief' });
    expect(answer.object).toBe('response.input_tokens');
    expect(answer.input_tokens).toBeGreaterThan(0);
  });

  it('answers a labelled estimate for a provider without a counter, on /v1 and the drop-in', async () => {
    const { data, response } = await h.client.responses.inputTokens.count({ model: 'mock/echo', input: 'x'.repeat(400) }).withResponse();
    expect(response.headers.get('x-heimdall-token-count')).toBe('estimate');
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(data).toEqual({ object: 'response.input_tokens', input_tokens: 103 });
    const dropIn = new OpenAI({ baseURL: `${h.url}/openai/v1`, apiKey: 'unused', maxRetries: 0 });
    expect((await dropIn.responses.inputTokens.count({ model: 'mock/echo', input: 'x'.repeat(40) })).input_tokens).toBe(13);
  });

  it('refuses what a Responses request may not hold, and an unknown provider', async () => {
    const stateful = await apiError(h.client.responses.inputTokens.count({ model: 'mock/echo', input: 'x', previous_response_id: 'resp_1' }));
    expect(stateful.status).toBe(400);
    const unknown = await apiError(h.client.responses.inputTokens.count({ model: 'nowhere/x', input: 'x' }));
    expect(unknown.status).toBe(404);
  });
});
