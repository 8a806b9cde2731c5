// Contract tests for provider `gemini` through the real, built gateway (`npx tsc -b` first): the `openai` SDK as
// the client, the fake Gemini API as the upstream. The shared scenarios are in gemini-contract.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGemini, type FakeGemini } from '../../fakes/gemini-server.js';
import { apiError, startGatewayWith, user, type Harness } from '../harness.js';
import { describeGeminiContract } from './gemini-contract.js';

const KEY = 'AIza-test-upstream';
let fake: FakeGemini;
let h: Harness<FakeGemini>;

beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: KEY });
  const provider = (key: string) => ({
    keys: [{ value: key, models: ['*'], weight: 1 }],
    network_config: { base_url: fake.url, default_request_timeout_in_seconds: 30 },
    concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 },
    // This suite fails its one key on purpose, case after case: an open breaker would answer circuit_open instead.
    circuit_breaker: { enabled: false },
  });
  h = await startGatewayWith(fake, () => ({ providers: {
    gemini: provider(KEY),
    // A custom provider on the gemini adapter with a key the upstream does not know.
    badkey: { ...provider('AIza-wrong'), custom_provider_config: { base_provider_type: 'gemini' } },
  } }));
});

afterAll(async () => {
  await h?.close();
});

describeGeminiContract({
  provider: 'gemini',
  path: (model, action) => `/v1beta/models/${model}:${action}`,
  fake: () => fake,
  harness: () => h,
  expectAuthenticated(request) {
    expect(request.headers['x-goog-api-key']).toBe(KEY);
    expect(request.headers.authorization).toBeUndefined();
  },
});

describe('gemini keys', () => {
  it('a key Google does not know → its 400 API_KEY_INVALID, passed on as the client\'s 400', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'badkey/gemini-2.0-flash', messages: user('hi') }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('API key not valid');
    expect(fake.requests.at(-1)!.headers['x-goog-api-key']).toBe('AIza-wrong');
  });
});
