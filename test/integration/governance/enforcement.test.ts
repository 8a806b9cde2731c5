// Virtual keys through the real gateway and the official `openai` SDK: who may call, which providers, models and
// provider keys, rate limits with their headers, budgets, and that a key's value never reaches a provider, a log
// line or an error.

import OpenAI, { APIError, AuthenticationError, PermissionDeniedError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, eventually, metricValue, user } from '../harness.js';
import { providers, startGoverned, type GovernedGateway } from './gateway.js';

const KEYS = {
  full: 'sk-bf-full-access-0000000001',
  limited: 'sk-bf-three-per-minute-0002',
  poor: 'sk-bf-little-budget-00000003',
  off: 'sk-bf-switched-off-000000004',
  weighted: 'sk-bf-weighted-routing-0005',
  spareOnly: 'sk-bf-spare-key-only-000006',
};

let g: GovernedGateway;

beforeAll(async () => {
  g = await startGoverned((fakeUrl) => ({
    providers: providers(fakeUrl),
    governance: {
      budgets: [{ id: 'tiny', max_limit: 0.000_2, reset_duration: '1d' }],
      rate_limits: [{ id: 'three', request_max_limit: 3, request_reset_duration: '1m' }],
      virtual_keys: [
        { id: 'vk-full', name: 'full', value: KEYS.full, provider_configs: [
          { provider: 'openai', allowed_models: ['*'] }, { provider: 'mock', allowed_models: ['*'] }] },
        { id: 'vk-limited', name: 'limited', value: KEYS.limited, rate_limit_id: 'three',
          provider_configs: [{ provider: 'mock', allowed_models: ['echo'] }] },
        { id: 'vk-poor', name: 'poor', value: KEYS.poor, budget_id: 'tiny',
          provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] },
        { id: 'vk-off', name: 'off', value: KEYS.off, is_active: false,
          provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] },
        { id: 'vk-weighted', name: 'weighted', value: KEYS.weighted, provider_configs: [
          { provider: 'openai', allowed_models: ['gpt-4o-mini', 'x-error-500'], weight: 1 },
          { provider: 'mock', allowed_models: ['gpt-4o-mini', 'x-error-500'], weight: 0 }] },
        { id: 'vk-spare', name: 'spare', value: KEYS.spareOnly, provider_configs: [
          { provider: 'openai', allowed_models: ['*'], keys: ['spare'] }] },
      ],
    },
  }));
});

afterAll(async () => {
  await g?.close();
});

const sdk = (apiKey: string, path = '/v1') => new OpenAI({ baseURL: `${g.url}${path}`, apiKey, maxRetries: 0 });
const chat = (apiKey: string, model = 'mock/echo', extra: Record<string, unknown> = {}) =>
  sdk(apiKey).chat.completions.create({ model, messages: user('hi'), ...extra });

describe('who may call', () => {
  it('lets a known key through, sent as the SDK sends it (Authorization: Bearer)', async () => {
    const { data, response } = await chat(KEYS.full).withResponse();
    expect(data.choices[0].message.role).toBe('assistant');
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
  });

  it('takes the key from x-bf-vk, x-api-key and x-goog-api-key too', async () => {
    for (const header of ['x-bf-vk', 'x-api-key', 'x-goog-api-key']) {
      const response = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST',
        headers: { 'content-type': 'application/json', [header]: KEYS.limited },
        body: JSON.stringify({ model: 'mock/not-echo', messages: user('hi') }) });
      // The limited key may not use this model: the refusal proves the key was read from the header.
      expect(response.status, header).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('model_forbidden');
    }
  });

  it('refuses an unknown sk-bf- key with AuthenticationError, without echoing it', async () => {
    const error = await rejectionOfClass(chat('sk-bf-not-a-key-of-this-gateway'), AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.code).toBe('virtual_key_invalid');
    expect(error.message).not.toContain('sk-bf-not-a-key');
  });

  it('refuses an inactive key, an oversized one and a malformed one with 401', async () => {
    expect((await rejectionOfClass(chat(KEYS.off), AuthenticationError)).code).toBe('virtual_key_inactive');
    const huge = `sk-bf-${'x'.repeat(300)}`;
    const oversized = await rejectionOfClass(chat(huge), AuthenticationError);
    expect(oversized.code).toBe('virtual_key_invalid');
    expect(oversized.message).not.toContain('xxxxxxxx');
    const response = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-vk': 'has a space in it 12345' },
      body: JSON.stringify({ model: 'mock/echo', messages: user('hi') }) });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('virtual_key_invalid');
  });

  it('lets a request without a virtual key through when auth is not enforced (a dummy SDK key included)', async () => {
    const { data } = await chat('not-a-virtual-key').withResponse();
    expect(data.choices[0].message.role).toBe('assistant');
  });

  it('never forwards the virtual key to the provider: the provider gets the configured key', async () => {
    const { response } = await chat(KEYS.full, 'openai/gpt-4o-mini').withResponse();
    const sent = g.fake.requestsWithId(response.headers.get('x-request-id')!)[0];
    expect(sent.headers.authorization).toMatch(/^Bearer sk-upstream-(main|spare)$/);
    expect(JSON.stringify(sent.headers)).not.toContain(KEYS.full);
  });
});

describe('what a key may use', () => {
  it('refuses a provider the key has no config for with PermissionDeniedError', async () => {
    const error = await rejectionOfClass(chat(KEYS.limited, 'openai/gpt-4o-mini'), PermissionDeniedError);
    expect(error.code).toBe('provider_not_allowed');
    expect(error.message).toContain("may not use provider 'openai'");
  });

  it('refuses a model outside allowed_models', async () => {
    const error = await rejectionOfClass(chat(KEYS.full, 'mock/echo').then(() => chat(KEYS.limited, 'mock/other')), PermissionDeniedError);
    expect(error.code).toBe('model_forbidden');
  });

  it('uses only the provider keys the virtual key may use', async () => {
    for (let i = 0; i < 6; i++) {
      const { response } = await chat(KEYS.spareOnly, 'openai/gpt-4o-mini').withResponse();
      expect(g.fake.requestsWithId(response.headers.get('x-request-id')!)[0].headers.authorization).toBe('Bearer sk-upstream-spare');
    }
    // `spare` serves only gpt-4o-mini; `main` would serve gpt-4o but is not granted.
    const error = await rejectionOfClass(chat(KEYS.spareOnly, 'openai/gpt-4o'), PermissionDeniedError);
    expect(error.code).toBe('provider_key_forbidden');
  });

  it('routes a bare model name by the key\'s provider weights', async () => {
    const { response } = await sdk(KEYS.weighted).chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') }).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
  });

  it('falls back to the next provider by weight (0 included) when the first fails', async () => {
    const { response } = await sdk(KEYS.weighted).chat.completions
      .create({ model: 'x-error-500', messages: user('hi') }).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
  });
});

describe('rate limits', () => {
  it('answers the rate-limit headers on success, then 429 RateLimitError with Retry-After once spent', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await chat(KEYS.limited).withResponse();
      expect(response.headers.get('x-ratelimit-limit')).toBe('3');
      seen.push(response.headers.get('x-ratelimit-remaining')!);
      expect(Number(response.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    }
    // The refusals above (model and provider not allowed) reserved nothing.
    expect(seen).toEqual(['2', '1', '0']);
    const error = await rejectionOfClass(chat(KEYS.limited), RateLimitError);
    expect(error.code).toBe('rate_limited');
    expect(Number(error.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(error.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(error.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(error.message).toContain("virtual key 'vk-limited' rate limit of 3 requests per 1m");
  });
});

describe('budgets', () => {
  it('refuses with 402 budget_exceeded once the worst case no longer fits', async () => {
    // $0.0002 budget; the worst case of max_tokens 4 is the body's bytes at $1/M plus 8 µ$, the real cost 13 µ$.
    let ok = 0;
    let refusal: APIError | null = null;
    for (let i = 0; i < 40 && !refusal; i++) {
      try {
        await chat(KEYS.poor, 'mock/echo', { max_tokens: 4 });
        ok++;
      } catch (error) {
        refusal = error as APIError;
      }
    }
    expect(ok).toBeGreaterThan(0);
    expect(refusal).toBeInstanceOf(APIError);
    expect(refusal!.status).toBe(402);
    expect(refusal!.code).toBe('budget_exceeded');
    expect(refusal!.type).toBe('insufficient_quota');
    expect(refusal!.message).toMatch(/virtual key 'vk-poor' budget: \$[\d.]+ of \$0\.0002 spent/);
  });

  it('refuses a request whose cost cannot be bounded (no max_tokens and no output limit) clearly', async () => {
    // FLAT_PRICING knows 1000 output tokens, so the worst case exists and is simply too big for this budget.
    const error = await apiError(chat(KEYS.poor, 'mock/echo'));
    expect(error.status).toBe(402);
    expect(error.message).toContain('a lower max_tokens lowers that');
  });
});

describe('metrics', () => {
  it('count decisions by key and outcome, spend per key, and what each budget has left', async () => {
    const text = await (await fetch(`${g.url}/metrics`)).text();
    expect(metricValue(text, 'heimdall_governance_requests_total', { virtual_key: 'vk-limited', outcome: 'admitted' })).toBe(3);
    expect(metricValue(text, 'heimdall_governance_requests_total', { virtual_key: 'vk-limited', outcome: 'rate_limited' })).toBe(1);
    expect(metricValue(text, 'heimdall_governance_requests_total', { virtual_key: '', outcome: 'virtual_key_invalid' }))
      .toBeGreaterThanOrEqual(2);
    const spent = metricValue(text, 'heimdall_governance_spend_usd_total', { virtual_key: 'vk-poor' })!;
    expect(spent).toBeGreaterThan(0);
    const left = metricValue(text, 'heimdall_governance_budget_remaining_usd', { budget: 'tiny' })!;
    expect(left).toBeCloseTo(0.0002 - spent, 9);
  });
});

describe("a key's id in the request log", () => {
  it('is in the record of every request that presented the key, refused ones included', async () => {
    const records = await eventually(async () => {
      const response = await fetch(`${g.url}/api/logs?virtual_key_ids=vk-limited&limit=100`);
      return ((await response.json()) as { logs: { virtualKeyId: string; status: number }[] }).logs;
    }, (logs) => logs.some((log) => log.status === 429));
    expect(records.every((log) => log.virtualKeyId === 'vk-limited')).toBe(true);
    expect(records.filter((log) => log.status === 200)).toHaveLength(3);
  });
});

describe("a key's value", () => {
  it('appears in no log line, and the virtual key id does', () => {
    const text = g.logText();
    for (const value of Object.values(KEYS)) expect(text).not.toContain(value);
    expect(text).toContain('"virtualKey":"vk-full"');
  });
});

async function rejectionOfClass<T>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof type)) throw new Error(`expected a ${type.name}, got ${error === null ? 'a success' : String(error)}`);
  return error;
}
