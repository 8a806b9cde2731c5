/**
 * What the request log's writer can store per second, by content size: records written in 1,000-row transactions
 * (as the log worker batches them) into a fresh SQLite file, per content size, median and range over the rounds.
 * The content search index (SQLite FTS5, trigrams) is built as rows go in, so its cost shows here, not in queries.
 * PostgreSQL runs when it answers at 127.0.0.1:5432 (db `test`), in a schema of its own, dropped after.
 *
 *   node dist/bench/log-write.js [--records 10000] [--rounds 3] [--sizes 200,2000,16000] [--engines sqlite,postgres]
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
const records = num(flags, 'records', 10_000);
const rounds = num(flags, 'rounds', 3);
const sizes = str(flags, 'sizes', '200,2000,16000').split(',').map(Number);
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
    tokensReasoning: 0, costUsd: 0.0001, stream: false, cancelled: false,
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
const summary: Record<string, Record<number, number>> = {};
try {
  for (const engine of engines) {
    const rows: string[][] = [];
    summary[engine] = {};
    for (const chars of sizes) {
      const perRound: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const name = `heimdall_bench_write_${process.pid}_${chars}_${r}`;
        const t = await target(engine, dir, name);
        if (!t) break;
        if (t.type === 'postgres') schemas.push(name);
        const store = await openLogStore(t);
        const data = dataset(chars, name);
        const started = performance.now();
        for (let i = 0; i < data.length; i += 1000) await store.insert(data.slice(i, i + 1000));
        perRound.push(records / ((performance.now() - started) / 1000));
        await store.close();
      }
      if (perRound.length === 0) break;
      const m = median(perRound) as number;
      const [lo, hi] = range(perRound) as [number, number];
      summary[engine][chars] = Math.round(m);
      rows.push([`${chars}`, Math.round(m).toLocaleString('en'), `${Math.round(lo).toLocaleString('en')}–${Math.round(hi).toLocaleString('en')}`]);
    }
    if (rows.length === 0) {
      console.log(`${engine}: not reachable, skipped`);
      continue;
    }
    console.log(`\n${engine}: ${records.toLocaleString('en')} records per round, ${rounds} rounds; rows/s by request content size`);
    for (const line of alignedColumns(['request chars', 'rows/s (median)', 'range'], rows)) console.log(line);
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
