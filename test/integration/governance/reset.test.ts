// Budgets and rate limits start over at their window's end: a key refused for its spent budget is served again
// once the window it was spent in is over, and the Retry-After it was given says when that is.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providers, startGoverned, type GovernedGateway } from './gateway.js';

const KEY = 'sk-bf-resets-every-two-seconds-1';
let g: GovernedGateway;

beforeAll(async () => {
  g = await startGoverned((fakeUrl) => ({
    providers: providers(fakeUrl),
    governance: {
      // Room for two requests' worst case (about 120 µ$ each) every 2 seconds.
      budgets: [{ id: 'short', max_limit: 0.00025, reset_duration: '2s' }],
      virtual_keys: [{ id: 'vk-reset', name: 'reset', value: KEY, budget_id: 'short',
        provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] }],
    },
  }));
});

afterAll(async () => {
  await g?.close();
});

const post = () => fetch(`${g.url}/v1/chat/completions`, { method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
  body: JSON.stringify({ model: 'mock/echo', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }) });

describe('a budget at its reset boundary', () => {
  it('refuses once spent, then serves again in the next window, when Retry-After said', async () => {
    // Concurrent: each holds its worst case, so only what fits is let through. A burst that happens to straddle a
    // reset may all pass; the next one, within one window, cannot.
    let refused: Response | undefined;
    for (let burst = 0; burst < 3 && !refused; burst++) {
      const answers = await Promise.all(Array.from({ length: 6 }, () => post().then(async (r) => (await r.arrayBuffer(), r))));
      expect(answers.filter((r) => r.status === 200).length).toBeGreaterThan(0);
      refused = answers.find((r) => r.status === 402);
    }
    expect(refused).toBeDefined();
    const retryAfter = Number(refused!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 50));
    const again = await post();
    expect(again.status).toBe(200);
  });
});
