// The owners of file and batch ids, kept in the request log's store: a gateway started again on the same store (or
// another process of a cluster on it) sends a call about an id it never saw to the provider and key that made it.
// On SQLite always; on PostgreSQL when it is reachable (tests/services.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import { openRequestLog } from '../../dist/src/stores/request-log.js';
import type { StoreTarget } from '../../dist/src/stores/store-config.js';
import { POSTGRES, postgresAvailable, uniqueSchema } from '../services.js';
import { startFakeFiles, type FakeFiles } from '../fakes/files-server.js';
import { apiError } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'heimdall-owners-'));
const schema = uniqueSchema('owners');
const pgUp = await postgresAvailable();
const KEYS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
let fake: FakeFiles;

beforeAll(async () => {
  fake = await startFakeFiles('openai');
});

afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
  if (pgUp) {
    const sql = postgres({ ...POSTGRES, username: POSTGRES.user, onnotice: () => {} });
    await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
    await sql.end();
  }
});

async function gatewayOn(target: StoreTarget): Promise<Gateway> {
  const logger = pino({ level: 'silent' });
  const config = await loadConfig({
    raw: { providers: { openai: { keys: KEYS.map((value, i) => ({ name: `k${i}`, value, models: ['*'], weight: 1 })),
      network_config: { base_url: fake.url } } } },
    env: {}, overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  return startGateway(config, { logger, requestLog: await openRequestLog({ target, logger, retentionDays: 0, connectTimeoutSeconds: 1 }) });
}

const engines = [
  { name: 'sqlite', up: true, target: (): StoreTarget => ({ type: 'sqlite', path: join(dir, 'logs.db') }) },
  { name: 'postgres', up: pgUp, target: (): StoreTarget => ({ type: 'postgres', connection: { host: POSTGRES.host, port: POSTGRES.port,
    user: POSTGRES.user, password: null, database: POSTGRES.database, sslMode: 'disable', maxConnections: 2, maxLifetimeSeconds: null,
    schema } }) },
];

describe.each(engines)('file owners in the request log\'s store on $name', ({ up, target }) => {
  it.skipIf(!up)('survive a restart, and are forgotten when the file is deleted', { timeout: 60_000 }, async () => {
    const client = (gateway: Gateway) => new OpenAI({ baseURL: `http://127.0.0.1:${gateway.port}/openai/v1`, apiKey: 'x', maxRetries: 0 });
    const first = await gatewayOn(target());
    const ids: string[] = [];
    try {
      for (let i = 0; i < 8; i++) ids.push((await client(first).files.create({ file: await toFile(Buffer.from(`${i}`), 'f.jsonl'), purpose: 'batch' })).id);
    } finally {
      await first.close(1000);
    }
    // Four keys: a call with a key chosen afresh would mostly reach an account that does not have the file.
    expect(new Set(ids.map((id) => fake.ownerOf(id))).size).toBeGreaterThan(1);
    const second = await gatewayOn(target());
    try {
      for (const [i, id] of ids.entries()) {
        expect(await (await client(second).files.content(id)).text()).toBe(`${i}`);
        const about = fake.requests.filter((request) => request.url.includes(id));
        for (const request of about) expect(request.account).toBe(fake.ownerOf(id));
      }
      await client(second).files.delete(ids[0]);
    } finally {
      await second.close(1000);
    }
    const third = await gatewayOn(target());
    try {
      expect((await apiError(client(third).files.retrieve(ids[0]))).status).toBe(404);
      expect((await client(third).files.retrieve(ids[1])).id).toBe(ids[1]);
    } finally {
      await third.close(1000);
    }
  });
});
