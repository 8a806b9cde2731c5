// The governance admin API through the real gateway: Bifrost's paths, a key's value shown once and stored hashed, a
// new key usable at once, a changed or deleted one refused at once here and within a second on a gateway sharing the
// store, bad input answered 400 with its field, an unknown id 404, the admin guard in front, and all of it kept
// across a restart.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness.js';
import { admin, chatWith, MOCK_PROVIDER, startOnStore, type StoredGateway } from './gateway.js';

const folder = mkdtempSync(join(tmpdir(), 'heimdall-gov-admin-'));
const STORE = { enabled: true, type: 'sqlite', config: { path: join(folder, 'logs.db') } };
const FILE_KEY = 'sk-bf-from-the-config-file-01';
const CONFIG = {
  providers: MOCK_PROVIDER,
  governance: {
    virtual_keys: [{ id: 'vk-file', name: 'from the file', value: FILE_KEY,
      provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] }],
  },
};

let a: StoredGateway;
let b: StoredGateway;

beforeAll(async () => {
  // Two gateways on one store: as the processes of a cluster, or instances sharing a PostgreSQL server.
  a = await startOnStore(STORE, CONFIG);
  b = await startOnStore(STORE, CONFIG);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  rmSync(folder, { recursive: true, force: true });
});

const NEW_KEY = { name: 'team B app', provider_configs: [{ provider: 'mock', allowed_models: ['echo'] }],
  budget: { max_limit: 1, reset_duration: '1d' }, rate_limit: { request_max_limit: 5, request_reset_duration: '1h' } };

describe('virtual keys', () => {
  it('creates a key whose value is shown once, works at once here and within a second on the other gateway', async () => {
    const created = await admin(a.url, 'POST', 'virtual-keys', NEW_KEY);
    expect(created.status).toBe(200);
    const key = created.body.virtual_key;
    expect(key.value).toMatch(/^sk-bf-[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: 'team B app', is_active: true });
    expect(key.budget_id).toMatch(/^budget-/);
    expect(key.value_digest).toBeUndefined();
    expect(await chatWith(a.url, key.value)).toMatchObject({ status: 200, remaining: '4' });
    // Its rate limit is the same counter on both: only the store's copy of the key is new to b.
    const started = performance.now();
    const seen = await eventually(() => chatWith(b.url, key.value), (r) => r.status === 200, 3000);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(seen.status).toBe(200);
    expect(await chatWith(a.url, key.value, 'mock/other')).toMatchObject({ status: 403, code: 'model_forbidden' });

    const listed = await admin(a.url, 'GET', 'virtual-keys');
    expect(listed.body.count).toBe(2);
    expect(JSON.stringify(listed.body)).not.toContain(key.value);
    expect(JSON.stringify(listed.body)).not.toContain(FILE_KEY);
    const one = await admin(b.url, 'GET', `virtual-keys/${key.id}`);
    expect(one.status).toBe(200);
    expect(one.body.virtual_key).toMatchObject({ id: key.id, name: 'team B app' });
    expect(one.body.virtual_key.value).toBeUndefined();
    // Stored as its digest: the value is nowhere in the store's file, nor in any log line.
    expect(readFileSync(join(folder, 'logs.db')).includes(key.value)).toBe(false);
    expect(a.logText() + b.logText()).not.toContain(key.value);
  });

  it('applies a change and a deletion here at once and on the other gateway within a second', async () => {
    // Every poll below is a request through the key: a loaded machine polls more, so its limit is far off.
    const { body } = await admin(a.url, 'POST', 'virtual-keys', { ...NEW_KEY, id: 'vk-short-lived', name: 'short-lived',
      rate_limit: { request_max_limit: 10_000, request_reset_duration: '1h' } });
    const value = body.virtual_key.value as string;
    await eventually(() => chatWith(b.url, value), (r) => r.status === 200, 3000);

    const off = await admin(a.url, 'PUT', 'virtual-keys/vk-short-lived', { is_active: false });
    expect(off.status).toBe(200);
    expect(off.body.virtual_key).toMatchObject({ id: 'vk-short-lived', is_active: false, name: 'short-lived' });
    expect(await chatWith(a.url, value)).toMatchObject({ status: 401, code: 'virtual_key_inactive' });
    await eventually(() => chatWith(b.url, value), (r) => r.code === 'virtual_key_inactive', 3000);

    const on = await admin(b.url, 'PUT', 'virtual-keys/vk-short-lived', { is_active: true });
    expect(on.body.virtual_key.is_active).toBe(true);
    await eventually(() => chatWith(a.url, value), (r) => r.status === 200, 3000);

    expect((await admin(a.url, 'DELETE', 'virtual-keys/vk-short-lived')).status).toBe(200);
    expect(await chatWith(a.url, value)).toMatchObject({ status: 401, code: 'virtual_key_invalid' });
    const started = performance.now();
    await eventually(() => chatWith(b.url, value), (r) => r.code === 'virtual_key_invalid', 3000);
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await admin(a.url, 'GET', 'virtual-keys/vk-short-lived')).status).toBe(404);
    // Its own budget and rate limit went with it.
    const budgets = (await admin(a.url, 'GET', 'budgets')).body.budgets as { id: string }[];
    expect(budgets.map((x) => x.id)).not.toContain(body.virtual_key.budget_id);
    expect(budgets.length).toBeGreaterThan(0);
    const limits = (await admin(a.url, 'GET', 'rate-limits')).body.rate_limits as { id: string }[];
    expect(limits.map((x) => x.id)).not.toContain(body.virtual_key.rate_limit_id);
  });

  it("changes and deletes a key of the config file, which stays hidden (its value's digest stored, never the value)", async () => {
    expect((await chatWith(a.url, FILE_KEY)).status).toBe(200);
    const renamed = await admin(a.url, 'PUT', 'virtual-keys/vk-file', { name: 'renamed' });
    expect(renamed.body.virtual_key).toMatchObject({ id: 'vk-file', name: 'renamed' });
    expect((await chatWith(a.url, FILE_KEY)).status).toBe(200);
    expect(readFileSync(join(folder, 'logs.db')).includes(FILE_KEY)).toBe(false);
  });

  it('answers bad input with 400 naming the field, and an unknown id with 404', async () => {
    const bad = async (body: unknown, param: string, path = 'virtual-keys', method = 'POST') => {
      const answer = await admin(a.url, method, path, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'invalid_request', param, type: 'invalid_request_error' });
    };
    await bad('{not json', 'body');
    await bad([1], 'body');
    await bad({ provider_configs: [] }, 'name');
    await bad({ name: 'x', provider_configs: [{ provider: 'nope', allowed_models: ['*'] }] }, 'provider_configs.0.provider');
    await bad({ name: 'x', budget: { max_limit: -1, reset_duration: '1d' } }, 'budget.max_limit');
    await bad({ name: 'x', budget: { max_limit: 1, reset_duration: 'daily' } }, 'budget.reset_duration');
    await bad({ name: 'x', rate_limit: { request_max_limit: 5 } }, 'rate_limit.request_reset_duration');
    await bad({ name: 'x', team_id: 'no-such-team' }, 'team_id');
    await bad({ name: 'x', value: 'sk-bf-chosen-by-the-caller' }, 'value');
    await bad({ name: 'x', colour: 'red' }, 'colour');
    await bad({ name: 'x', id: 'vk-file' }, 'id');
    await bad({ value: 'sk-bf-another-value-000' }, 'value', 'virtual-keys/vk-file', 'PUT');
    await bad({ is_active: 'yes' }, 'is_active', 'virtual-keys/vk-file', 'PUT');
    for (const [method, path] of [['GET', 'virtual-keys/nope'], ['PUT', 'virtual-keys/nope'], ['DELETE', 'virtual-keys/nope'],
      ['GET', 'teams/nope'], ['DELETE', 'customers/nope']]) {
      const answer = await admin(a.url, method, path, method === 'PUT' ? { name: 'x' } : undefined);
      expect(answer.status).toBe(404);
      expect(answer.body.error).toMatchObject({ code: 'governance_not_found' });
    }
  });
});

describe('teams, customers, budgets and rate limits', () => {
  it('puts a key under a team under a customer, and shows every budget and rate limit with its usage', async () => {
    const customer = await admin(a.url, 'POST', 'customers', { id: 'acme', name: 'Acme',
      budget: { max_limit: 10, reset_duration: '1M', calendar_aligned: true } });
    expect(customer.status).toBe(200);
    const team = await admin(a.url, 'POST', 'teams', { id: 'acme-ml', name: 'ML', customer_id: 'acme',
      rate_limit: { request_max_limit: 100, request_reset_duration: '1m' } });
    expect(team.body.team).toMatchObject({ id: 'acme-ml', customer_id: 'acme' });
    const key = await admin(a.url, 'POST', 'virtual-keys', { name: 'ml app', team_id: 'acme-ml',
      provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] });
    expect(key.status).toBe(200);
    expect(await chatWith(a.url, key.body.virtual_key.value)).toMatchObject({ status: 200, remaining: '99' });

    const budgets = await admin(a.url, 'GET', 'budgets');
    const acme = budgets.body.budgets.find((x: { id: string }) => x.id === customer.body.customer.budget_id);
    expect(acme).toMatchObject({ max_limit: 10, reset_duration: '1M', calendar_aligned: true, reserved_usage: 0 });
    expect(acme.current_usage).toBeCloseTo(0.00005, 9);
    expect(new Date(acme.next_reset).getUTCDate()).toBe(1);
    const limits = await admin(a.url, 'GET', 'rate-limits');
    const ml = limits.body.rate_limits.find((x: { id: string }) => x.id === team.body.team.rate_limit_id);
    expect(ml).toMatchObject({ request_max_limit: 100, request_current_usage: 1 });

    // A team its keys still name cannot go: the answer names the field that would dangle.
    const refused = await admin(a.url, 'DELETE', 'teams/acme-ml');
    expect(refused.status).toBe(400);
    expect(refused.body.error.param).toBe('team_id');
    expect((await admin(a.url, 'GET', 'teams')).body.count).toBe(1);
    await eventually(() => admin(b.url, 'GET', 'customers/acme'), (r) => r.status === 200, 3000);
    expect((await admin(b.url, 'PUT', 'customers/acme', { name: 'Acme Corp' })).body.customer.name).toBe('Acme Corp');
    await eventually(() => admin(a.url, 'GET', 'customers/acme'), (r) => r.body.customer.name === 'Acme Corp', 3000);
  });
});

describe('the admin guard and a restart', () => {
  it('refuses a caller without the admin credentials, and keeps every change across a restart', async () => {
    const token = 'admin-token-for-the-governance-test';
    const guarded = await startOnStore(STORE, CONFIG, { HEIMDALL_ADMIN_TOKEN: token });
    try {
      const refused = await admin(guarded.url, 'GET', 'virtual-keys');
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('admin_unauthorized');
      expect((await admin(guarded.url, 'POST', 'virtual-keys', NEW_KEY, { authorization: 'Bearer wrong' })).status).toBe(401);
      // A fresh gateway on the same store: what the others created, changed and deleted.
      const keys = await admin(guarded.url, 'GET', 'virtual-keys', undefined, { authorization: `Bearer ${token}` });
      const names = keys.body.virtual_keys.map((k: { name: string }) => k.name).sort();
      expect(names).toEqual(['ml app', 'renamed', 'team B app']);
      expect((await chatWith(guarded.url, FILE_KEY)).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('with nowhere to keep a change', () => {
  it('lists what the config file has, and refuses a change with 409 governance_store_disabled', async () => {
    const off = await startOnStore({ enabled: false }, CONFIG);
    try {
      const listed = await admin(off.url, 'GET', 'virtual-keys');
      expect(listed.body.virtual_keys.map((k: { id: string }) => k.id)).toEqual(['vk-file']);
      const refused = await admin(off.url, 'POST', 'virtual-keys', NEW_KEY);
      expect(refused.status, JSON.stringify(refused.body)).toBe(409);
      expect(refused.body.error.code).toBe('governance_store_disabled');
      expect((await admin(off.url, 'DELETE', 'virtual-keys/vk-file')).status).toBe(409);
      expect((await chatWith(off.url, FILE_KEY)).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});
