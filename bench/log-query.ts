/**
 * The request log's reads over 100,000 records: the admin API's usual questions (a filtered first page, a later
 * page through its cursor, a sort on latency, a content search in a time window, stats by provider and by hour),
 * in milliseconds per query, median and range over the rounds, per engine. The goal: a filtered, paged query under
 * 50 ms. PostgreSQL runs when it answers at 127.0.0.1:5432 (db `test`), in a schema of its own, dropped after.
 *
 *   node dist/bench/log-query.js [--records 100000] [--rounds 3] [--iterations 20] [--engines sqlite,postgres]
 *     [--search-index on|off]   (logs_store.search_index; default on here, to time the indexed search)
 * `--engines` also takes `libsql` and `node:sqlite`: SQLite through that engine rather than the one this Node picks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { decodeCursor, type LogQuery, type LogStatsQuery } from '../src/stores/log-query.js';
import type { RequestLogRecord } from '../src/stores/log-record.js';
import { openLogStore, type LogStore } from '../src/stores/log-store.js';
import type { StoreTarget } from '../src/stores/store-config.js';
import { num, parseFlags, str } from './args.js';
import { alignedColumns, median, range } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const records = num(flags, 'records', 100_000);
const rounds = num(flags, 'rounds', 3);
const iterations = num(flags, 'iterations', 20);
const engines = str(flags, 'engines', 'sqlite,postgres').split(',');
const searchIndex = str(flags, 'search-index', 'on') !== 'off';
const GOAL_MS = 50;

const PROVIDERS = ['openai', 'anthropic', 'groq', 'mistral', 'bedrock', 'gemini', 'azure', 'cohere'];
const MODELS = Array.from({ length: 24 }, (_, i) => `model-${i}`);
const now = Date.now();
const span = 7 * 86_400_000;

/** A week of traffic: varied providers, models, statuses, latencies and content. */
function dataset(): RequestLogRecord[] {
  let seed = 42;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  return Array.from({ length: records }, (_, i) => {
    const status = rand() < 0.05 ? (rand() < 0.5 ? 429 : 502) : 200;
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    return {
      id: `bench-${i.toString(36)}-${Math.floor(rand() * 1e9).toString(36)}`, timestamp: now - Math.floor(rand() * span),
      route: '/v1/chat/completions', method: 'POST', dialect: 'openai', provider: PROVIDERS[i % PROVIDERS.length],
      modelRequested: MODELS[i % MODELS.length], model: MODELS[i % MODELS.length], keyName: 'k', virtualKeyId: i % 50 === 0 ? 'vk-a' : null,
      status, errorCode: status === 200 ? null : status === 429 ? 'UPSTREAM_RATE_LIMITED' : 'UPSTREAM_ERROR', attempts: 1, fallbacks: 0,
      latencyMs: Math.round(rand() * 5000) / 10, ttftMs: null, upstreamMs: null, overheadMs: 0.4, tokensIn: Math.floor(rand() * 2000),
      tokensOut: Math.floor(rand() * 800), tokensCached: 0, tokensReasoning: 0, costUsd: i % 13 === 0 ? null : rand() / 100, cache: null,
      stream: rand() < 1 / 3, cancelled: false,
      request: JSON.stringify({ messages: [{ role: 'user', content: `${words[i % 6]} ${words[(i >> 3) % 6]} question ${i}` }] }),
      response: JSON.stringify({ choices: [{ message: { content: `an answer of some length about ${words[(i >> 5) % 6]}` } }] }),
    };
  });
}

const day = { from: now - 86_400_000, to: now + 1 };
const desc = { field: 'timestamp', direction: 'desc' } as const;
// The 5th page's cursor is found once, before timing: the case times that one page.
const fifthPage: { query: LogQuery; cursor?: LogQuery['cursor'] } = { query: { models: ['model-7'], stream: true, sort: desc, limit: 50 } };
async function findFifthPage(store: LogStore): Promise<void> {
  fifthPage.cursor = undefined;
  for (let page = 0; page < 4; page++) {
    const { nextCursor } = await store.query({ ...fifthPage.query, cursor: fifthPage.cursor });
    fifthPage.cursor = nextCursor ? decodeCursor(nextCursor, fifthPage.query.sort) ?? undefined : undefined;
  }
}
type Case = { name: string; run(store: LogStore): Promise<unknown>; paged?: boolean };
const cases: Case[] = [
  { name: 'first page, newest first', paged: true, run: (s) => s.query({ sort: desc, limit: 50 }) },
  { name: 'provider + last 24 h + errors', paged: true, run: (s) => s.query({ ...day, providers: ['groq'], outcome: 'error', sort: desc, limit: 50 }) },
  { name: 'model + streamed, 5th page by cursor', paged: true, run: (s) => s.query({ ...fifthPage.query, cursor: fifthPage.cursor }) },
  { name: 'slowest first, min latency 400 ms', paged: true,
    run: (s) => s.query({ minLatencyMs: 400, sort: { field: 'latencyMs', direction: 'desc' }, limit: 50 }) },
  { name: 'virtual key + status 429', paged: true, run: (s) => s.query({ virtualKeyIds: ['vk-a'], statuses: [429], sort: desc, limit: 50 }) },
  { name: 'content search, last 24 h', paged: true, run: (s) => s.query({ ...day, search: 'FOXTROT question 99', sort: desc, limit: 50 }) },
  { name: 'stats by provider, whole week', run: (s) => s.stats({ groupBy: 'provider' } satisfies LogStatsQuery) },
  { name: 'stats by hour, last 24 h', run: (s) => s.stats({ ...day, groupBy: 'time', bucketSeconds: 3600 }) },
];

async function target(engine: string, dir: string, schema: string): Promise<StoreTarget | null> {
  if (engine !== 'postgres') return { type: 'sqlite', path: join(dir, `${engine.replace(':', '-')}.db`) };
  const sql = postgres({ host: '127.0.0.1', port: 5432, database: 'test', username: 'postgres', connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
  } catch {
    console.log('postgres: not reachable at 127.0.0.1:5432, skipped');
    return null;
  } finally {
    await sql.end();
  }
  return { type: 'postgres', connection: { host: '127.0.0.1', port: 5432, user: 'postgres', password: null, database: 'test',
    sslMode: 'disable', maxConnections: 4, maxLifetimeSeconds: null, schema } };
}

const dir = mkdtempSync(join(tmpdir(), 'heimdall-bench-logs-'));
const schema = `heimdall_bench_${process.pid}`;
const summary: Record<string, Record<string, number | null>> = {};
const data = dataset();
try {
  for (const engine of engines) {
    const t = await target(engine, dir, schema);
    if (!t) continue;
    const store = await openLogStore(t, { searchIndex, ...(engine === 'libsql' || engine === 'node:sqlite' ? { sqliteEngine: engine } : {}) });
    const loadStart = performance.now();
    for (let i = 0; i < data.length; i += 1000) await store.insert(data.slice(i, i + 1000));
    const loadMs = performance.now() - loadStart;
    if (t.type === 'postgres') {
      const sql = postgres({ host: '127.0.0.1', port: 5432, database: 'test', username: 'postgres', onnotice: () => {} });
      await sql.unsafe(`ANALYZE ${schema}.heimdall_request_logs`);
      await sql.end();
    }
    await findFifthPage(store);
    const rows: string[][] = [];
    summary[engine] = {};
    for (const c of cases) {
      await c.run(store);
      const perRound: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const times: number[] = [];
        for (let i = 0; i < iterations; i++) {
          const started = performance.now();
          await c.run(store);
          times.push(performance.now() - started);
        }
        perRound.push(median(times) as number);
      }
      const m = median(perRound) as number;
      const [lo, hi] = range(perRound) as [number, number];
      summary[engine][c.name] = Number(m.toFixed(2));
      rows.push([c.name, m.toFixed(2), `${lo.toFixed(2)}–${hi.toFixed(2)}`, c.paged ? (m < GOAL_MS ? 'ok' : 'OVER') : '']);
    }
    console.log(`\n${engine}, search index ${searchIndex ? 'on' : 'off'}: ${records.toLocaleString('en')} records (loaded in ${(loadMs / 1000).toFixed(1)} s, `
      + `${Math.round(records / (loadMs / 1000)).toLocaleString('en')} rows/s in 1,000-row transactions); ms per query, `
      + `median of ${rounds} rounds × ${iterations}`);
    for (const line of alignedColumns(['query', 'median ms', 'range', `< ${GOAL_MS} ms`], rows)) console.log(line);
    await store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (engines.includes('postgres')) {
    const sql = postgres({ host: '127.0.0.1', port: 5432, database: 'test', username: 'postgres', connect_timeout: 2, onnotice: () => {} });
    await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`.catch(() => {});
    await sql.end();
  }
}
console.log(JSON.stringify({ records, goalMs: GOAL_MS, summary }));
