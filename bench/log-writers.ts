/**
 * What a request-log record costs its writer when one process writes the SQLite log file and when several do (cluster
 * mode: every gateway process's log thread writes the same file). Writers insert batches of `--batch` records (as the
 * log worker does) at a fixed total rate of `--rate` records per second, shared evenly between them; each measures
 * its own CPU (process.cpuUsage) over its inserts. The counts alternate within each round, on a fresh file each time;
 * medians and ranges over the rounds.
 *
 *   npx tsc -b && node dist/bench/log-writers.js [--writers 1,2] [--rate 12000] [--seconds 6] [--batch 500] [--rounds 3]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestLogRecord } from '../src/stores/log-record.js';
import { openLogStore, sqliteLogStore } from '../src/stores/log-store.js';
import { openSqlite } from '../src/stores/sqlite.js';
import { num, parseFlags, str } from './args.js';

// A writer child gets its part through the environment, the run's flags through argv.
const role = process.env.HEIMDALL_BENCH_WRITER;
const flags = parseFlags(process.argv.slice(2));
const rate = num(flags, 'rate', 12_000);
const seconds = num(flags, 'seconds', 6);
const batch = num(flags, 'batch', 500);
/** Pragmas each writer sets on its connection, `;`-separated (e.g. `mmap_size=268435456`): what changes the cost. */
const pragmas = str(flags, 'pragmas', '').split(';');

/** One record of the cluster scenario's request: ~100 bytes in, ~330 out. */
function record(id: string, i: number): RequestLogRecord {
  return {
    id, timestamp: Date.now(), route: '/v1/chat/completions', method: 'POST', dialect: 'openai', provider: 'openai',
    modelRequested: 'openai/gpt-4o-mini', model: 'gpt-4o-mini', keyName: 'k', virtualKeyId: null, status: 200, errorCode: null,
    attempts: 1, fallbacks: 0, latencyMs: 1.5, ttftMs: null, upstreamMs: 1, overheadMs: 0.4, tokensIn: 9, tokensOut: 12,
    tokensCached: 0, tokensReasoning: 0, costUsd: 0.000_01, stream: false, cancelled: false, cache: null,
    request: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `hello there, how are you today? ${i}` }] }),
    response: JSON.stringify({ id: `chatcmpl-${i}`, object: 'chat.completion', created: 1, model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! I am a mock. How can I help you today?' },
        finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 } }),
  };
}

/** A writer process: `perSecond` records in batches, for `seconds`; prints its CPU µs per record. */
async function writer(path: string, name: string, perSecond: number): Promise<void> {
  const db = openSqlite(path);
  for (const pragma of pragmas) if (pragma) db.pragma(pragma);
  const store = sqliteLogStore(db, false);
  const gapMs = (batch / perSecond) * 1000;
  const batches = Math.round((perSecond * seconds) / batch);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    const records = Array.from({ length: batch }, (_, i) => record(`${name}-${b}-${i}-${Math.random().toString(36).slice(2)}`, i));
    await store.insert(records);
    const due = started + (b + 1) * gapMs;
    const now = performance.now();
    if (due > now) await sleep(due - now);
  }
  const used = process.cpuUsage(cpu0);
  process.send!({ usPerRecord: (used.user + used.system) / (batches * batch), late: performance.now() - started - seconds * 1000 });
  await store.close();
}

if (role) {
  const [path, name, perSecond] = role.split('|');
  await writer(path, name, Number(perSecond));
  process.exit(0);
}

const counts = str(flags, 'writers', '1,2').split(',').map(Number);
const rounds = num(flags, 'rounds', 3);
const self = new URL(import.meta.url).pathname;
const results = new Map<number, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const n of round % 2 === 0 ? counts : [...counts].reverse()) {
    const dir = mkdtempSync(join(tmpdir(), 'heimdall-bench-writers-'));
    const path = join(dir, 'logs.db');
    // The schema first, so the writers do not race to create it.
    await (await openLogStore({ type: 'sqlite', path }, { searchIndex: false })).close();
    const answers = await Promise.all(Array.from({ length: n }, (_, w) => new Promise<{ usPerRecord: number; late: number }>((resolve, reject) => {
      const child = fork(self, process.argv.slice(2),
        { execArgv: [], env: { ...process.env, HEIMDALL_BENCH_WRITER: `${path}|w${w}|${rate / n}` } });
      child.once('message', (m) => resolve(m as { usPerRecord: number; late: number }));
      child.once('exit', (code) => code !== 0 && reject(new Error(`writer exited ${code}`)));
    })));
    rmSync(dir, { recursive: true, force: true });
    const us = answers.reduce((s, a) => s + a.usPerRecord, 0) / n;
    if (!results.has(n)) results.set(n, []);
    results.get(n)!.push(us);
    console.error(`[${round + 1}/${rounds}] ${n} writer(s): ${us.toFixed(2)} µs CPU per record (late by ${answers.map((a) => a.late.toFixed(0)).join(', ')} ms)`);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const [n, v] of results) console.log(`${n} writer(s): ${median(v).toFixed(2)} µs per record (${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)})`);
console.log(`load average: ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
