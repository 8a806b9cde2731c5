/**
 * What the request log's writer can store per second, by content size, with the content search index
 * (`logs_store.search_index`: SQLite FTS5 trigrams, PostgreSQL pg_trgm GIN) and without, side by side: records written
 * in 1,000-row transactions (as the log worker batches them) into a fresh store, the two modes alternating within each
 * round; median and range over the rounds, and the ratio. PostgreSQL runs when it answers at 127.0.0.1:5432 (db
 * `test`), in schemas of its own, dropped after.
 *
 *   node dist/bench/log-write.js [--records 5000] [--rounds 3] [--sizes 200,2000,8000] [--engines sqlite,postgres]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { RequestLogRecord } from '../src/stores/log-record.js';
import { openLogStore } from '../src/stores/log-store.js';
import type { StoreTarget } from '../src/stores/store-config.js';
import { num, parseFlags, str } from './args.js';
import { alignedColumns, median, range } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const records = num(flags, 'records', 5_000);
const rounds = num(flags, 'rounds', 3);
const sizes = str(flags, 'sizes', '200,2000,8000').split(',').map(Number);
const engines = str(flags, 'engines', 'sqlite,postgres').split(',');
const PG = { host: '127.0.0.1', port: 5432, database: 'test', username: 'postgres', connect_timeout: 2, onnotice: () => {} };

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];

/** Prose of about `chars` characters, different per record (as prompts are). */
function text(seed: number, chars: number): string {
  let out = '';
  let s = seed;
  while (out.length < chars) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    out += `${WORDS[s % WORDS.length]}${s % 97} `;
  }
  return out.slice(0, chars);
}

function dataset(chars: number, prefix: string): RequestLogRecord[] {
  const now = Date.now();
  return Array.from({ length: records }, (_, i) => ({
    id: `${prefix}-${i}`, timestamp: now - i, route: '/v1/chat/completions', method: 'POST', dialect: 'openai', provider: 'openai',
    modelRequested: 'gpt-4o-mini', model: 'gpt-4o-mini', keyName: 'k', virtualKeyId: null, status: 200, errorCode: null, attempts: 1,
    fallbacks: 0, latencyMs: 12.5, ttftMs: null, upstreamMs: 11, overheadMs: 0.4, tokensIn: 100, tokensOut: 50, tokensCached: 0,
    tokensReasoning: 0, costUsd: 0.0001, stream: false, cancelled: false, cache: null,
    request: JSON.stringify({ messages: [{ role: 'user', content: text(i, chars) }] }),
    response: JSON.stringify({ choices: [{ message: { content: text(i + 7, chars / 2) } }] }),
  }));
}

async function target(engine: string, dir: string, name: string): Promise<StoreTarget | null> {
  if (engine === 'sqlite') return { type: 'sqlite', path: join(dir, `${name}.db`) };
  const sql = postgres(PG);
  try {
    await sql`SELECT 1`;
  } catch {
    return null;
  } finally {
    await sql.end();
  }
  return { type: 'postgres', connection: { host: PG.host, port: PG.port, user: PG.username, password: null, database: PG.database,
    sslMode: 'disable', maxConnections: 4, maxLifetimeSeconds: null, schema: name } };
}

const dir = mkdtempSync(join(tmpdir(), 'heimdall-bench-logwrite-'));
const schemas: string[] = [];
const summary: Record<string, Record<number, { indexed: number; bare: number; ratio: number }>> = {};

/** Rows per second writing the dataset into a fresh store; null when the engine is not reachable. */
async function writeRate(engine: string, chars: number, searchIndex: boolean, round: number): Promise<number | null> {
  const name = `heimdall_bench_write_${process.pid}_${chars}_${round}_${searchIndex ? 'on' : 'off'}`;
  const t = await target(engine, dir, name);
  if (!t) return null;
  if (t.type === 'postgres') schemas.push(name);
  const store = await openLogStore(t, { searchIndex });
  const data = dataset(chars, name);
  const started = performance.now();
  for (let i = 0; i < data.length; i += 1000) await store.insert(data.slice(i, i + 1000));
  const rate = records / ((performance.now() - started) / 1000);
  await store.close();
  return rate;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
try {
  for (const engine of engines) {
    const rows: string[][] = [];
    summary[engine] = {};
    for (const chars of sizes) {
      const on: number[] = [];
      const off: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // Alternating, so a change in the machine's load falls on both.
        const first = r % 2 === 0;
        const a = await writeRate(engine, chars, first, r);
        const b = await writeRate(engine, chars, !first, r);
        if (a === null || b === null) break;
        (first ? on : off).push(a);
        (first ? off : on).push(b);
      }
      if (on.length === 0) break;
      const [mOn, mOff] = [median(on) as number, median(off) as number];
      const [loOn, hiOn] = range(on) as [number, number];
      const [loOff, hiOff] = range(off) as [number, number];
      summary[engine][chars] = { indexed: Math.round(mOn), bare: Math.round(mOff), ratio: Number((mOff / mOn).toFixed(2)) };
      rows.push([`${chars}`, fmt(mOff), `${fmt(loOff)}–${fmt(hiOff)}`, fmt(mOn), `${fmt(loOn)}–${fmt(hiOn)}`, `${(mOff / mOn).toFixed(2)}×`]);
    }
    if (rows.length === 0) {
      console.log(`${engine}: not reachable, skipped`);
      continue;
    }
    console.log(`\n${engine}: ${records.toLocaleString('en')} records per store, ${rounds} rounds; rows/s by request content size`);
    for (const line of alignedColumns(['request chars', 'no index', 'range', 'search index', 'range', 'slower'], rows)) console.log(line);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (schemas.length > 0) {
    const sql = postgres(PG);
    for (const schema of schemas) await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`.catch(() => {});
    await sql.end();
  }
}
console.log(JSON.stringify({ records, summary }));
