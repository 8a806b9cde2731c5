// Governance state in a real Redis (127.0.0.1:6379), shared by two gateway instances: one limit holds over both,
// budgets too, and Redis going away fails closed (the default) or open, as configured. Each run uses its own key
// prefix, so parallel runs and other helpers do not collide.

import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness.js';
import { providers, startGoverned, type GovernedGateway } from './gateway.js';
import { serviceAvailable } from '../../services.js';

const REDIS = 'redis://127.0.0.1:6379';
const available = await serviceAvailable('Redis', '127.0.0.1', 6379);
const PREFIX = `heimdall:test:${randomUUID()}:`;
const KEY = 'sk-bf-shared-by-two-instances-01';

const config = (state: Record<string, unknown>, extra: Record<string, unknown> = {}) => (fakeUrl: string) => ({
  providers: providers(fakeUrl),
  governance: {
    rate_limits: [{ id: 'hundred', request_max_limit: 100, request_reset_duration: '1m' }],
    budgets: [{ id: 'small', max_limit: 0.001, reset_duration: '1d' }],
    virtual_keys: [
      { id: 'vk-shared', name: 'shared', value: KEY, rate_limit_id: 'hundred', provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] },
      { id: 'vk-budget', name: 'budget', value: `${KEY}-budget`, budget_id: 'small', provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] },
    ],
    state,
    ...extra,
  },
});

const post = (url: string, key: string, body: Record<string, unknown> = {}) => fetch(`${url}/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify({ model: 'mock/echo', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], ...body }),
});

describe.runIf(available)('governance state in Redis', () => {
  let a: GovernedGateway;
  let b: GovernedGateway;

  beforeAll(async () => {
    // A generous timeout: the test machine may be busy, and a refusal for a slow Redis is not what is tested here.
    a = await startGoverned(config({ redis_url: REDIS, key_prefix: PREFIX, timeout_ms: 5000 }));
    b = await startGoverned(config({ redis_url: REDIS, key_prefix: PREFIX, timeout_ms: 5000 }));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    const client = createClient({ url: REDIS });
    await client.connect();
    const keys = await client.keys(`${PREFIX}*`);
    if (keys.length > 0) await client.del(keys);
    await client.close();
  });

  it('lets exactly 100 of 160 concurrent requests through two instances at 100 a minute', async () => {
    const statuses = await Promise.all(Array.from({ length: 160 }, (_, i) => post(i % 2 ? a.url : b.url, KEY)
      .then(async (response) => {
        await response.arrayBuffer();
        return response.status;
      })));
    expect(statuses.filter((status) => status === 200)).toHaveLength(100);
    expect(statuses.filter((status) => status === 429)).toHaveLength(60);
    const refusal = await post(a.url, KEY);
    expect(refusal.status).toBe(429);
    expect(refusal.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refusal.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('keeps one budget over both instances, and what was spent is in Redis under the prefix', async () => {
    let ok = 0;
    let refused = false;
    for (let i = 0; i < 200 && !refused; i++) {
      const response = await post(i % 2 ? a.url : b.url, `${KEY}-budget`);
      await response.arrayBuffer();
      if (response.status === 200) ok++;
      else {
        expect(response.status).toBe(402);
        refused = true;
      }
    }
    // $0.001 at 13 µ$ a request, each holding its worst case (about 200 µ$) while in flight: some 60 fit.
    expect(refused).toBe(true);
    expect(ok).toBeGreaterThan(40);
    const client = createClient({ url: REDIS });
    await client.connect();
    const spent = await client.hGetAll(`${PREFIX}budget:small`);
    await client.close();
    // 3 prompt and 5 completion tokens at $1 and $2 per million: 13 µ$ a request.
    expect(Number(spent.used)).toBe(ok * 13);
    expect(Number(spent.used) + Number(spent.reserved)).toBeLessThanOrEqual(1000);
  });

  it('keeps the spend when an instance restarts: the new one starts from what Redis holds', async () => {
    await a.close();
    a = await startGoverned(config({ redis_url: REDIS, key_prefix: PREFIX, timeout_ms: 5000 }));
    const response = await post(a.url, `${KEY}-budget`);
    expect(response.status).toBe(402);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('budget_exceeded');
  });
});

describe.runIf(available)('Redis away', () => {
  // Nothing listens on port 1: every reservation fails at once.
  const away = { redis_url: 'redis://127.0.0.1:1', key_prefix: PREFIX, timeout_ms: 200 };

  it('fails closed by default: 503 governance_unavailable, nothing dispatched', async () => {
    const g = await startGoverned(config(away));
    try {
      const response = await post(g.url, KEY);
      expect(response.status).toBe(503);
      const body = await response.json() as { error: { code: string; message: string } };
      expect(body.error.code).toBe('governance_unavailable');
      expect(body.error.message).toContain('on_unavailable: closed');
      expect(g.logText()).not.toContain(KEY);
    } finally {
      await g.close();
    }
  });

  it('fails open when on_unavailable is open: the request goes through uncounted', async () => {
    const g = await startGoverned(config({ ...away, on_unavailable: 'open' }));
    try {
      const response = await post(g.url, KEY);
      expect(response.status).toBe(200);
      // Access control still holds without Redis.
      expect((await post(g.url, KEY, { model: 'openai/gpt-4o-mini' })).status).toBe(403);
    } finally {
      await g.close();
    }
  });
});

describe.runIf(available)('admin changes through Redis', () => {
  const prefix = `heimdall:test:${randomUUID()}:`;
  let a: GovernedGateway;
  let b: GovernedGateway;

  beforeAll(async () => {
    // Each instance has a request-log store of its own: only Redis is shared.
    a = await startGoverned(config({ redis_url: REDIS, key_prefix: prefix, timeout_ms: 5000 }));
    b = await startGoverned(config({ redis_url: REDIS, key_prefix: prefix, timeout_ms: 5000 }));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    const client = createClient({ url: REDIS });
    await client.connect();
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(keys);
    await client.close();
  });

  const admin = (url: string, method: string, path: string, body?: unknown) => fetch(`${url}/api/governance/${path}`,
    { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    .then(async (r) => ({ status: r.status, body: await r.json() as { virtual_key: { id: string; value: string } } }));

  it('reach the other instance within a second: a key made on one works on the other, and a deletion holds on both', async () => {
    const created = await admin(a.url, 'POST', 'virtual-keys', { name: 'via redis',
      provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] });
    expect(created.status).toBe(200);
    const { id, value } = created.body.virtual_key;
    const started = performance.now();
    await eventually(() => post(b.url, value).then((r) => r.status), (status) => status === 200, 3000);
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await admin(b.url, 'DELETE', `virtual-keys/${id}`)).status).toBe(200);
    expect((await post(b.url, value)).status).toBe(401);
    await eventually(() => post(a.url, value).then((r) => r.status), (status) => status === 401, 3000);
    // Stored in Redis under the prefix, as its digest only.
    const client = createClient({ url: REDIS });
    await client.connect();
    const stored = JSON.stringify(await client.hGetAll(`${prefix}entities`));
    await client.close();
    expect(stored).toContain(`"virtual_key\\u0000${id}"`);
    expect(stored).not.toContain(value);
  });
});
