// The request log's two engines answer the same calls the same way: a record goes in and comes back whole, every
// filter, sort and page, the stats, retention — and no filter value is ever read as SQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, LogQueryError, type LogQuery } from '../../../src/stores/log-query.js';
import type { RequestLogRecord } from '../../../src/stores/log-record.js';
import { openLogStore, type LogStore } from '../../../src/stores/log-store.js';
import { LOG_COMPONENT, SQLITE_LOG_SCHEMA } from '../../../src/stores/log-sql.js';
import { migrateSqlite, openSqlite } from '../../../src/stores/sqlite.js';
import type { StoreTarget } from '../../../src/stores/store-config.js';
import { POSTGRES, postgresAvailable, uniqueSchema } from '../../services.js';
import { logRecord } from './records.js';

const pgUp = await postgresAvailable();
const dir = mkdtempSync(join(tmpdir(), 'heimdall-logstore-'));
const schema = uniqueSchema('logstore');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pgUp) {
    const sql = postgres({ ...POSTGRES, username: POSTGRES.user, onnotice: () => {} });
    await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
    await sql.end();
  }
});

export const pgTarget = (s: string): StoreTarget => ({ type: 'postgres', connection: { host: POSTGRES.host, port: POSTGRES.port,
  user: POSTGRES.user, password: null, database: POSTGRES.database, sslMode: 'disable', maxConnections: 4,
  maxLifetimeSeconds: null, schema: s } });

const engines: { name: string; up: boolean; target: () => StoreTarget }[] = [
  { name: 'sqlite', up: true, target: () => ({ type: 'sqlite', path: join(dir, 'logs.db') }) },
  { name: 'postgres', up: pgUp, target: () => pgTarget(schema) },
];

const base: Omit<LogQuery, 'limit'> & { limit: number } = { sort: { field: 'timestamp', direction: 'desc' }, limit: 100 };
const ids = (records: readonly RequestLogRecord[]) => records.map((r) => r.id);

describe.each(engines)('the request log on $name', ({ up, target }) => {
  let store: LogStore;
  const t0 = 1_800_000_000_000;
  const seeded: RequestLogRecord[] = [];

  beforeAll(async () => {
    if (!up) return;
    store = await openLogStore(target(), { searchIndex: true });
    const providers = ['openai', 'anthropic', 'groq'];
    for (let i = 0; i < 30; i++) {
      seeded.push(logRecord({
        id: `seed-${i}`,
        timestamp: t0 + i * 1000,
        provider: providers[i % 3],
        // The last one failed before any model answered: it counts under the model asked.
        model: i === 29 ? null : `model-${i % 2}`,
        modelRequested: i === 29 ? 'alias-x' : `model-${i % 2}`,
        status: i % 10 === 9 ? 502 : 200,
        errorCode: i % 10 === 9 ? 'UPSTREAM_ERROR' : null,
        virtualKeyId: i < 5 ? 'vk-team-a' : null,
        latencyMs: i + 1,
        stream: i % 2 === 0,
        costUsd: i % 7 === 0 ? null : i / 1000,
        tokensIn: i,
        tokensOut: 2 * i,
        request: i === 3 ? '{"content":"the 100% _literal_ \\\\ needle"}' : '{"content":"hay"}',
        response: i === 4 ? '{"content":"Needle in the answer"}' : '{"content":"hay"}',
      }));
    }
    await store.insert(seeded);
  });
  afterAll(async () => {
    await store?.close();
  });

  it.skipIf(!up)('gives a record back whole, and skips an id already stored', async () => {
    const record = logRecord({ id: 'whole', ttftMs: 12.25, stream: true, cancelled: true, costUsd: null, tokensCached: 3,
      request: 'with a NUL \u0000 inside', virtualKeyId: 'vk-1' });
    await store.insert([record]);
    await store.insert([{ ...record, status: 500 }]);
    expect(await store.get('whole')).toEqual({ ...record, request: 'with a NUL \uFFFD inside' });
    expect(await store.get('absent')).toBeNull();
    // Content logging off: no content at all, and the record still comes back whole.
    const bare = logRecord({ id: 'bare', request: null, response: null });
    await store.insert([bare]);
    expect(await store.get('bare')).toEqual(bare);
  });

  it.skipIf(!up)('filters on each field', async () => {
    const q = (f: Partial<LogQuery>) => store.query({ ...base, from: t0, to: t0 + 30_000, ...f }).then((p) => p.records);
    expect(await q({})).toHaveLength(30);
    expect((await q({ providers: ['groq'] })).every((r) => r.provider === 'groq')).toBe(true);
    expect(await q({ providers: ['groq', 'openai'] })).toHaveLength(20);
    expect(await q({ models: ['model-1'] })).toHaveLength(14);
    expect(await q({ models: ['model-1', 'model-0'] })).toHaveLength(29);
    expect(ids(await q({ models: ['alias-x'] }))).toEqual(['seed-29']);
    expect(await q({ statuses: [502] })).toHaveLength(3);
    expect(await q({ outcome: 'error' })).toHaveLength(3);
    expect(await q({ outcome: 'success' })).toHaveLength(27);
    expect(await q({ errorCodes: ['UPSTREAM_ERROR'] })).toHaveLength(3);
    expect(await q({ virtualKeyIds: ['vk-team-a'] })).toHaveLength(5);
    expect(await q({ stream: true })).toHaveLength(15);
    expect(await q({ stream: false })).toHaveLength(15);
    expect(await q({ minLatencyMs: 25 })).toHaveLength(6);
    expect(await q({ from: t0 + 10_000, to: t0 + 12_000 })).toHaveLength(2);
    expect(ids(await q({ search: 'NEEDLE' })).sort()).toEqual(['seed-3', 'seed-4']);
    expect(await q({ providers: ['openai'], stream: true, outcome: 'success' })).toHaveLength(5);
  });

  it.skipIf(!up)('pages through every sort with a cursor, each record once, in order', async () => {
    for (const field of ['timestamp', 'latencyMs', 'costUsd', 'tokensTotal'] as const) {
      for (const direction of ['asc', 'desc'] as const) {
        const seen: RequestLogRecord[] = [];
        let cursor: string | null = null;
        do {
          const sort: LogQuery['sort'] = { field, direction };
          const page = await store.query({ ...base, from: t0, to: t0 + 30_000, sort, limit: 7,
            ...(cursor ? { cursor: decodeCursor(cursor, sort) ?? undefined } : {}) });
          seen.push(...page.records);
          cursor = page.nextCursor;
        } while (cursor);
        expect(new Set(ids(seen)).size, `${field} ${direction}`).toBe(30);
        const key = (r: RequestLogRecord) => ({ timestamp: r.timestamp, latencyMs: r.latencyMs, costUsd: r.costUsd ?? -1,
          tokensTotal: (r.tokensIn ?? 0) + (r.tokensOut ?? 0) })[field];
        const values = seen.map(key);
        const sorted = [...values].sort((a, b) => (direction === 'asc' ? a - b : b - a));
        expect(values, `${field} ${direction}`).toEqual(sorted);
      }
    }
  });

  it.skipIf(!up)('counts, error rates, percentiles, tokens and cost per provider, model and time bucket', async () => {
    const all = await store.stats({ from: t0, to: t0 + 30_000 });
    expect(all.groups).toHaveLength(1);
    const [g] = all.groups;
    expect(g).toMatchObject({ key: null, count: 30, errors: 3, errorRate: 0.1, latencyP50: 15, latencyP95: 29, latencyP99: 30,
      tokensIn: 435, tokensOut: 870, unpriced: 5 });
    const priced = seeded.filter((r) => r.costUsd !== null).reduce((s, r) => s + (r.costUsd as number), 0);
    expect(g.costUsd).toBeCloseTo(priced, 9);

    const byProvider = await store.stats({ from: t0, to: t0 + 30_000, groupBy: 'provider' });
    expect(byProvider.groups.map((x) => [x.key, x.count]).sort()).toEqual([['anthropic', 10], ['groq', 10], ['openai', 10]]);
    const groq = byProvider.groups.find((x) => x.key === 'groq');
    // groq holds latencies 3, 6, …, 30: the nearest-rank median is the 5th.
    expect(groq?.latencyP50).toBe(15);

    const byModel = await store.stats({ from: t0, to: t0 + 30_000, groupBy: 'model' });
    expect(byModel.groups.map((x) => [x.key, x.count])).toEqual([['model-0', 15], ['model-1', 14], ['alias-x', 1]]);

    const byTime = await store.stats({ from: t0, to: t0 + 30_000, groupBy: 'time', bucketSeconds: 10 });
    expect(byTime.groups.map((x) => [x.key, x.count])).toEqual([[t0, 10], [t0 + 10_000, 10], [t0 + 20_000, 10]]);

    const none = await store.stats({ providers: ['nobody'] });
    expect(none.groups).toEqual([expect.objectContaining({ count: 0, latencyP50: null })]);
  });

  it.skipIf(!up)('never reads a filter value as SQL', async () => {
    const attacks = ["' OR '1'='1", "x'); DROP TABLE heimdall_request_logs; --", '" OR ""="', '1 OR 1=1', '%', '_',
      "\\' OR 1=1 --", 'groq\u0000', "') UNION SELECT * FROM heimdall_request_logs --"];
    const window = { from: t0, to: t0 + 30_000 };
    for (const a of attacks) {
      for (const f of [{ providers: [a] }, { models: [a] }, { errorCodes: [a] }, { virtualKeyIds: [a] }] as Partial<LogQuery>[]) {
        expect((await store.query({ ...base, ...window, ...f })).records, JSON.stringify(f)).toEqual([]);
        expect((await store.stats({ ...window, ...f })).groups[0].count).toBe(0);
      }
      const cursor = { field: 'timestamp' as const, direction: 'desc' as const, value: t0 + 5000, id: a };
      const paged = await store.query({ ...base, ...window, cursor });
      expect(paged.records.every((r) => r.timestamp <= t0 + 5000)).toBe(true);
      expect((await store.get(a))).toBeNull();
    }
    // Wildcards are literal: only the record that holds `100% _literal_ \` matches each.
    for (const needle of ['%', '_literal_', '\\', '100% _']) {
      expect(ids((await store.query({ ...base, ...window, search: needle })).records), needle).toEqual(['seed-3']);
    }
    expect((await store.query({ ...base, ...window, search: "' OR 1=1 --" })).records).toEqual([]);
    // Numbers and booleans are type-checked before any SQL is built.
    await expect(store.query({ ...base, limit: '1; DROP TABLE x' as unknown as number })).rejects.toThrow(LogQueryError);
    await expect(store.query({ ...base, sort: { field: 'id; DROP TABLE x' as never, direction: 'asc' } })).rejects.toThrow(LogQueryError);
    await expect(store.query({ ...base, minLatencyMs: '0 OR 1=1' as unknown as number })).rejects.toThrow(LogQueryError);
    await expect(store.query({ ...base, statuses: ['200 OR 1=1' as unknown as number] })).rejects.toThrow(LogQueryError);
    await expect(store.stats({ groupBy: 'time', bucketSeconds: '1; DROP' as unknown as number })).rejects.toThrow(LogQueryError);
    expect((await store.query({ ...base, ...window })).records).toHaveLength(30);
  });

  it.skipIf(!up)('deletes what is older than the cut-off in batches, and nothing newer', async () => {
    const old = Array.from({ length: 25 }, (_, i) => logRecord({ id: `old-${i}`, timestamp: 1000 + i }));
    await store.insert(old);
    expect(await store.deleteOlderThan(2000, 10)).toBe(10);
    expect(await store.deleteOlderThan(2000, 10)).toBe(10);
    expect(await store.deleteOlderThan(2000, 10)).toBe(5);
    expect(await store.deleteOlderThan(2000, 10)).toBe(0);
    // Their content went with them.
    const t = target();
    if (t.type === 'sqlite') {
      const db = openSqlite(t.path);
      // SQLite keys the content by the log row's seq: none is left without its row.
      expect(db.prepare('SELECT COUNT(*) AS n FROM heimdall_request_log_contents c '
        + 'WHERE NOT EXISTS (SELECT 1 FROM heimdall_request_logs l WHERE l.seq = c.seq)').get()).toMatchObject({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM heimdall_request_log_contents c JOIN heimdall_request_logs l ON l.seq = c.seq '
        + "WHERE l.id LIKE 'seed-%'").get()).toMatchObject({ n: 30 });
      db.close();
    }
    expect((await store.query({ ...base, from: t0, to: t0 + 30_000 })).records).toHaveLength(30);
  });

  it.skipIf(!up)('searches content through its index: any case, quotes literal, short texts scanned, deletes followed', async () => {
    const window = { from: t0, to: t0 + 30_000 };
    const found = async (search: string, w: Partial<LogQuery> = window) => ids((await store.query({ ...base, ...w, search })).records).sort();
    expect(await found('needle')).toEqual(['seed-3', 'seed-4']);
    expect(await found('NEEDLE IN')).toEqual(['seed-4']);
    expect(await found('"content":"Needle')).toEqual(['seed-4']);
    expect(await found('% _lit')).toEqual(['seed-3']);
    // Under three characters no trigram index can answer: the content is scanned, with the same result.
    expect(await found('_l')).toEqual(['seed-3']);
    expect(await found('ne')).toEqual(['seed-3', 'seed-4']);
    const gone = [logRecord({ id: 'gone-1', timestamp: 500, request: 'a vanishing needle' })];
    await store.insert(gone);
    expect(await found('vanishing', {})).toEqual(['gone-1']);
    await store.deleteOlderThan(1000, 10);
    expect(await found('vanishing', {})).toEqual([]);
    const t = target();
    if (t.type === 'sqlite') {
      const db = openSqlite(t.path);
      // The FTS index matches the content table row for row.
      expect(() => db.prepare("INSERT INTO heimdall_request_log_search (heimdall_request_log_search) VALUES ('integrity-check')").run()).not.toThrow();
      db.close();
    } else {
      const sql = postgres({ ...POSTGRES, username: POSTGRES.user, onnotice: () => {} });
      const indexes = await sql<{ indexname: string }[]>`SELECT indexname FROM pg_indexes WHERE schemaname = ${schema} AND indexname LIKE '%trgm'`;
      await sql.end();
      expect(indexes.map((row) => row.indexname).sort()).toEqual(['heimdall_request_log_contents_request_trgm', 'heimdall_request_log_contents_response_trgm']);
    }
  });
});

describe('logs_store.search_index', () => {
  const found = async (store: LogStore, search: string) => ids((await store.query({ ...base, search })).records);

  it('is off for SQLite unless asked (its writer runs in the gateway)', async () => {
    const path = join(dir, 'default.db');
    await (await openLogStore({ type: 'sqlite', path })).close();
    const db = openSqlite(path);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'heimdall_request_log_search'").get()).toMatchObject({ n: 0 });
    db.close();
  });

  it.each(engines)('off drops the index and searches by reading the content; on again rebuilds it ($name)', async ({ up, target }) => {
    if (!up) return;
    const t = target();
    const own: StoreTarget = t.type === 'sqlite' ? { type: 'sqlite', path: join(dir, 'switch.db') } : pgTarget(`${schema}_switch`);
    const indexed = async () => {
      if (own.type === 'sqlite') {
        const db = openSqlite(own.path);
        const row = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name LIKE 'heimdall_request_log_search%'").get() as { n: number };
        db.close();
        return row.n;
      }
      const sql = postgres({ ...POSTGRES, username: POSTGRES.user, onnotice: () => {} });
      const [row] = await sql<{ n: number }[]>`SELECT COUNT(*)::int AS n FROM pg_indexes WHERE schemaname = ${own.connection.schema} AND indexname LIKE '%trgm'`;
      await sql.end();
      return row.n;
    };
    try {
      let store = await openLogStore(own, { searchIndex: true });
      await store.insert([logRecord({ id: 'sw-1', request: 'a switched needle' })]);
      await store.close();
      expect(await indexed()).toBeGreaterThan(0);
      store = await openLogStore(own, { searchIndex: false });
      expect(await indexed()).toBe(0);
      await store.insert([logRecord({ id: 'sw-2', request: 'another switched needle' })]);
      expect((await found(store, 'switched needle')).sort()).toEqual(['sw-1', 'sw-2']);
      await store.close();
      store = await openLogStore(own, { searchIndex: true });
      expect(await indexed()).toBeGreaterThan(0);
      // Rebuilt over everything, the records written while it was off included.
      expect((await found(store, 'switched needle')).sort()).toEqual(['sw-1', 'sw-2']);
      await store.close();
    } finally {
      if (own.type === 'postgres') {
        const sql = postgres({ ...POSTGRES, username: POSTGRES.user, onnotice: () => {} });
        await sql`DROP SCHEMA IF EXISTS ${sql(own.connection.schema!)} CASCADE`;
        await sql.end();
      }
    }
  });
});

describe('a SQLite request log made before the search index', () => {
  it('gets the index over the content it holds, and keeps every record', async () => {
    const path = join(dir, 'before-search.db');
    const db = openSqlite(path);
    migrateSqlite(db, LOG_COMPONENT, SQLITE_LOG_SCHEMA.slice(0, 1));
    db.prepare('INSERT INTO heimdall_request_logs (id, timestamp_ms, route, method, dialect, status, attempts, fallbacks, latency_ms, '
      + "stream, cancelled) VALUES ('old-1', 5, '/v1/chat/completions', 'POST', 'openai', 200, 1, 0, 1.5, 0, 0)").run();
    db.prepare(`INSERT INTO heimdall_request_log_contents (id, request, response) VALUES ('old-1', 'an old needle', NULL)`).run();
    db.close();
    const store = await openLogStore({ type: 'sqlite', path }, { searchIndex: true });
    try {
      await store.insert([logRecord({ id: 'new-1', timestamp: 10, request: 'a new needle' })]);
      expect((await store.get('new-1'))?.request).toBe('a new needle');
      const reopened = openSqlite(path);
      const hits = reopened.prepare("SELECT l.id FROM heimdall_request_log_search s JOIN heimdall_request_logs l ON l.seq = s.rowid "
        + "WHERE heimdall_request_log_search MATCH '\"needle\"' ORDER BY l.id").all() as { id: string }[];
      reopened.close();
      expect(hits.map((row) => row.id)).toEqual(['new-1', 'old-1']);
      expect((await store.get('old-1'))?.request).toBe('an old needle');
    } finally {
      await store.close();
    }
  });
});
