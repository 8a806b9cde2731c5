// Spend and rate-limit windows outlive a restart without Redis: a gateway counts, stops, and the next one on the same
// store (the request log's: SQLite by default, PostgreSQL when configured) starts from what the first counted, with
// the keys the admin API made.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { POSTGRES, postgresAvailable, uniqueSchema } from '../../services.js';
import { admin, chatWith, MOCK_PROVIDER, startOnStore } from './gateway.js';

const KEY = 'sk-bf-restart-keeps-spend-01';
const CONFIG = {
  providers: MOCK_PROVIDER,
  governance: {
    budgets: [{ id: 'daily', max_limit: 1, reset_duration: '1d' }],
    rate_limits: [{ id: 'ten', request_max_limit: 10, request_reset_duration: '1h' }],
    virtual_keys: [{ id: 'vk-restart', name: 'restart', value: KEY, budget_id: 'daily', rate_limit_id: 'ten',
      provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] }],
  },
};

async function spendThenRestart(logsStore: Record<string, unknown>): Promise<void> {
  const first = await startOnStore(logsStore, CONFIG);
  let made = '';
  try {
    for (let i = 0; i < 3; i++) expect((await chatWith(first.url, KEY)).status).toBe(200);
    // A key made through the admin API outlives the restart too.
    const created = await admin(first.url, 'POST', 'virtual-keys', { id: 'vk-made', name: 'made',
      provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] });
    made = created.body.virtual_key.value as string;
    const budgets = await admin(first.url, 'GET', 'budgets');
    expect(budgets.body.budgets[0].current_usage).toBeCloseTo(0.00015, 9);
  } finally {
    await first.close();
  }
  const second = await startOnStore(logsStore, CONFIG);
  try {
    const budgets = await admin(second.url, 'GET', 'budgets');
    expect(budgets.body.budgets[0]).toMatchObject({ id: 'daily', max_limit: 1, reset_duration: '1d' });
    expect(budgets.body.budgets[0].current_usage).toBeCloseTo(0.00015, 9);
    const limits = await admin(second.url, 'GET', 'rate-limits');
    expect(limits.body.rate_limits[0]).toMatchObject({ id: 'ten', request_max_limit: 10, request_current_usage: 3 });
    // The fourth request of the hour: six left, not nine.
    expect(await chatWith(second.url, KEY)).toMatchObject({ status: 200, remaining: '6' });
    expect((await chatWith(second.url, made)).status).toBe(200);
    expect((await admin(second.url, 'GET', 'virtual-keys/vk-made')).body.virtual_key.name).toBe('made');
  } finally {
    await second.close();
  }
}

describe('a restart keeps spend and rate-limit windows', () => {
  const folder = mkdtempSync(join(tmpdir(), 'heimdall-gov-restart-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('in the default SQLite store', async () => {
    await spendThenRestart({ enabled: true, type: 'sqlite', config: { path: join(folder, 'logs.db') } });
  });

  it('in PostgreSQL', async (context) => {
    if (!await postgresAvailable()) context.skip();
    const schema = uniqueSchema('gov_restart');
    try {
      await spendThenRestart({ enabled: true, type: 'postgres', config: { host: POSTGRES.host, port: POSTGRES.port,
        user: POSTGRES.user, db_name: POSTGRES.database, ssl_mode: 'disable', schema } });
    } finally {
      const sql = postgres({ host: POSTGRES.host, port: POSTGRES.port, database: POSTGRES.database, username: POSTGRES.user, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.end();
    }
  });
});
