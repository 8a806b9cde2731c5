// The request log as the gateway runs it: records pushed on this thread are written by the log worker, the push
// never blocks or throws, the bound holds while the store is away, writing resumes when it is back, two processes
// share one SQLite file, and retention removes what is too old. `npx tsc -b` first: the worker loads dist/.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { openRequestLog, type RequestLog } from '../../../dist/src/stores/request-log.js';
import { openLogStore } from '../../../dist/src/stores/log-store.js';
import type { StoreTarget } from '../../../src/stores/store-config.js';
import { POSTGRES, postgresAvailable, uniqueSchema } from '../../services.js';
import { logRecord } from './records.js';

const pgUp = await postgresAvailable();
const dir = mkdtempSync(join(tmpdir(), 'heimdall-request-log-'));
const schemas: string[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pgUp && schemas.length > 0) {
    const sql = postgres({ ...POSTGRES, username: POSTGRES.user, onnotice: () => {} });
    for (const s of schemas) await sql`DROP SCHEMA IF EXISTS ${sql(s)} CASCADE`;
    await sql.end();
  }
});

const logger = pino({ level: 'silent' });
const sqliteTarget = (name: string): StoreTarget => ({ type: 'sqlite', path: join(dir, name) });
const pgTarget = (port: number): StoreTarget => {
  const schema = uniqueSchema('reqlog');
  schemas.push(schema);
  return { type: 'postgres', connection: { host: '127.0.0.1', port, user: POSTGRES.user, password: null,
    database: POSTGRES.database, sslMode: 'disable', maxConnections: 2, maxLifetimeSeconds: null, schema } };
};
const until = async (what: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};
const count = async (log: RequestLog, from = 0) =>
  (await log.reader.stats({ from })).groups[0].count;

/** A TCP proxy to PostgreSQL that a test can take down (every connection cut) and bring back on the same port. */
class StoppableProxy {
  server: Server | null = null;
  sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(POSTGRES.port, POSTGRES.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => server?.close(resolve));
  }
}

describe('the request log', () => {
  it('writes what the front pushes, off the front thread, and reads it back through the worker', async () => {
    const log = await openRequestLog({ target: sqliteTarget('basic.db'), logger, retentionDays: 0, flushIntervalMs: 10 });
    const records = Array.from({ length: 1200 }, () => logRecord());
    for (const r of records) log.sink.push(r);
    await until(() => log.counters().written === 1200);
    expect(await log.reader.get(records[7].id)).toEqual(records[7]);
    const page = await log.reader.query({ sort: { field: 'timestamp', direction: 'asc' }, limit: 5, from: records[0].timestamp });
    expect(page.records.map((r) => r.id)).toEqual(records.slice(0, 5).map((r) => r.id));
    await expect(log.reader.query({ sort: { field: 'timestamp', direction: 'asc' }, limit: 0 })).rejects.toMatchObject({
      name: 'LogQueryError', param: 'limit' });
    await log.close();
    expect(log.counters()).toMatchObject({ written: 1200, dropped: 0, waiting: 0 });
  });

  it('sends a batch once its encoded records reach 4 MiB, however few they are, and stores them whole', async () => {
    const log = await openRequestLog({ target: sqliteTarget('bytes.db'), logger, retentionDays: 0, flushIntervalMs: 60_000, batchSize: 500 });
    // 600 kB of content a record: the seventh passes 4 MiB, long before 500 records or the minute's timer.
    const records = Array.from({ length: 10 }, (_, i) => logRecord({ request: `${i}`.repeat(400_000), response: 'é'.repeat(100_000) }));
    for (const r of records) log.sink.push(r);
    await until(() => log.counters().written === 7);
    expect(log.counters().waiting).toBe(3);
    expect(await log.reader.get(records[6].id)).toEqual(records[6]);
    await log.close();
    expect(log.counters()).toMatchObject({ written: 10, dropped: 0, waiting: 0 });
  });

  it('flushes what waits on close', async () => {
    const target = sqliteTarget('close.db');
    const log = await openRequestLog({ target, logger, retentionDays: 0, flushIntervalMs: 60_000, batchSize: 1000 });
    for (let i = 0; i < 10; i++) log.sink.push(logRecord({ id: `close-${i}` }));
    await log.close();
    const store = await openLogStore(target);
    expect((await store.stats({})).groups[0].count).toBe(10);
    await store.close();
    log.sink.push(logRecord());
    expect(log.counters().dropped).toBe(1);
  });

  it.skipIf(!pgUp)('keeps memory bounded and counts drops while PostgreSQL is away, and resumes when it is back', async () => {
    const proxy = new StoppableProxy();
    await proxy.start();
    const log = await openRequestLog({ target: pgTarget(proxy.port), logger, retentionDays: 0, queueCapacity: 500,
      batchSize: 50, flushIntervalMs: 5, retryInitialMs: 20, retryMaxMs: 100, connectTimeoutSeconds: 1 });
    const push = (n: number) => {
      for (let i = 0; i < n; i++) expect(log.sink.push(logRecord())).toBeUndefined();
    };
    push(200);
    await until(() => log.counters().written === 200);

    await proxy.stop();
    // Under load while the store is gone: every push returns without throwing; past the bound, records are counted
    // as dropped and the waiting ones never exceed it.
    for (let round = 0; round < 20; round++) {
      push(100);
      expect(log.counters().waiting).toBeLessThanOrEqual(500);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(log.counters().dropped).toBeGreaterThanOrEqual(1500);
    expect(log.counters().storeUp).toBe(false);

    await proxy.start();
    await until(() => log.counters().storeUp && log.counters().waiting === 0);
    const before = log.counters().written;
    expect(before).toBeGreaterThan(200);
    push(300);
    await until(() => log.counters().written === before + 300);
    const { written, dropped } = log.counters();
    expect(written + dropped).toBe(200 + 2000 + 300);
    expect(await count(log)).toBe(written);
    await log.close();
    await proxy.stop();
  });

  it.skipIf(!pgUp)('starts while PostgreSQL is unreachable and writes once it answers', async () => {
    const proxy = new StoppableProxy();
    await proxy.start();
    await proxy.stop();
    const log = await openRequestLog({ target: pgTarget(proxy.port), logger, retentionDays: 0, flushIntervalMs: 5,
      retryInitialMs: 20, retryMaxMs: 100, connectTimeoutSeconds: 1 });
    for (let i = 0; i < 20; i++) log.sink.push(logRecord());
    await expect(log.reader.stats({})).rejects.toMatchObject({ name: 'LogStoreUnavailableError' });
    await proxy.start();
    await until(() => log.counters().written === 20);
    await log.close();
    await proxy.stop();
  });

  it('shares one SQLite file between two gateway processes writing at once', async () => {
    const path = join(dir, 'shared.db');
    const moduleUrl = new URL('../../../dist/src/stores/request-log.js', import.meta.url).href;
    const child = (label: string) => promisify(execFile)(process.execPath, ['--input-type=module', '-e', `
      import pino from 'pino';
      const { openRequestLog } = await import(${JSON.stringify(moduleUrl)});
      const log = await openRequestLog({ target: { type: 'sqlite', path: ${JSON.stringify(path)} }, logger: pino({ level: 'warn' }, pino.destination(2)),
        retentionDays: 0, batchSize: 50, flushIntervalMs: 1, queueCapacity: 100000, busyTimeoutMs: 10000 });
      for (let i = 0; i < 5000; i++) {
        log.sink.push({ id: '${label}-' + i, timestamp: Date.now(), route: '/v1/chat/completions', method: 'POST', dialect: 'openai',
          provider: '${label}', modelRequested: 'm', model: 'm', keyName: null, virtualKeyId: null, status: 200, errorCode: null,
          attempts: 1, fallbacks: 0, latencyMs: 1, ttftMs: null, upstreamMs: null, overheadMs: null, tokensIn: 1, tokensOut: 1,
          tokensCached: null, tokensReasoning: null, costUsd: null, stream: false, cancelled: false, request: null, response: null });
        if (i % 250 === 0) await new Promise((r) => setImmediate(r));
      }
      await log.close(30000);
      console.log(JSON.stringify(log.counters()));
    `], { cwd: new URL('../../../', import.meta.url).pathname });
    const results = await Promise.all([child('a'), child('b')]);
    for (const { stdout, stderr } of results) expect(JSON.parse(stdout), stderr).toMatchObject({ written: 5000, dropped: 0 });
    const store = await openLogStore({ type: 'sqlite', path });
    const byProvider = await store.stats({ groupBy: 'provider' });
    expect(byProvider.groups.map((g) => [g.key, g.count]).sort()).toEqual([['a', 5000], ['b', 5000]]);
    await store.close();
  }, 60_000);

  it('deletes records older than the retention, on demand and on its timer, and keeps the rest', async () => {
    const day = 86_400_000;
    const log = await openRequestLog({ target: sqliteTarget('retention.db'), logger, retentionDays: 7, flushIntervalMs: 5,
      retentionBatch: 10, retentionIntervalMs: 100 });
    const now = Date.now();
    for (let i = 0; i < 35; i++) log.sink.push(logRecord({ id: `old-${i}`, timestamp: now - 8 * day - i }));
    for (let i = 0; i < 5; i++) log.sink.push(logRecord({ id: `new-${i}`, timestamp: now - 6 * day }));
    await until(() => log.counters().written === 40);
    // The timer may already have run; together they delete every old record and nothing else.
    const deleted = await log.runRetention();
    expect(deleted).toBeLessThanOrEqual(35);
    await until(async () => (await count(log)) === 5);
    expect((await log.reader.query({ sort: { field: 'timestamp', direction: 'asc' }, limit: 100 })).records
      .map((r) => r.id).sort()).toEqual(['new-0', 'new-1', 'new-2', 'new-3', 'new-4']);
    for (let i = 0; i < 12; i++) log.sink.push(logRecord({ id: `older-${i}`, timestamp: now - 30 * day }));
    await until(() => log.counters().written === 52);
    await until(async () => (await count(log)) === 5);
    await log.close();
  });
});
