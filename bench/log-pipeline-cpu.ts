/**
 * The request log's CPU per record from the front thread's `push` to the row stored: the process's CPU (every thread:
 * the front packing or posting, the log worker reading and inserting, V8's helpers) over the records, this build
 * against another (or SQLite's two engines against each other, `--engines`) side by side in one process, the builds
 * alternating within each round. Records as the
 * request-log bench's gateway makes them (a 2 KB prompt and a short answer, or no content), pushed in steps of a
 * batch, each step after the event loop turned, so the front posts full batches as under load; the queue never fills.
 * Without the HTTP path around it, this is the request log's own share of `bench/request-log.ts`'s figure, measured
 * with less noise on a busy machine.
 *
 *   npm run build && node dist/bench/log-pipeline-cpu.js --before OTHER/dist/src/stores/request-log.js
 *     [--records 30000] [--rounds 3]
 *   node dist/bench/log-pipeline-cpu.js --engines libsql,node:sqlite [--records 30000] [--rounds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { timeOrderedUuid } from '../src/http/server.js';
import type { RequestLogRecord } from '../src/stores/log-record.js';
import { openRequestLog, type RequestLogOptions } from '../src/stores/request-log.js';
import { num, parseFlags, str } from './args.js';
import { engineBuilds } from './log-engines.js';
import { printMedians } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const records = num(flags, 'records', 30_000);
const rounds = num(flags, 'rounds', 3);
const beforePath = str(flags, 'before', '');
const builds: Record<string, typeof openRequestLog> = {};
const engines = engineBuilds(flags);
if (engines) {
  for (const engine of engines) builds[engine] = (options: RequestLogOptions) => openRequestLog({ ...options, sqliteEngine: engine });
} else {
  if (!beforePath) throw new Error('--before OTHER/dist/src/stores/request-log.js or --engines libsql,node:sqlite is required');
  const before = (await import(pathToFileURL(resolve(beforePath)).href)) as { openRequestLog: typeof openRequestLog };
  builds.before = before.openRequestLog;
  builds.after = openRequestLog;
}
const names = Object.keys(builds);
const BATCH = 500;

const prompt = Buffer.from(JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user',
  content: 'Summarise the following notes for the weekly report. '.repeat(40) }] }));
const answer = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0,
  message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }],
usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 } });

/** A record as `requestLogRecord` makes one: the body decoded from its bytes, the answer the string sent. */
function record(i: number, content: boolean): RequestLogRecord {
  const now = Date.now();
  return {
    id: timeOrderedUuid(now), timestamp: now, route: '/v1/chat/completions', method: 'POST', dialect: 'openai', provider: 'openai',
    modelRequested: 'openai/gpt-4o-mini', model: 'gpt-4o-mini', keyName: 'key-1', virtualKeyId: null, status: 200, errorCode: null,
    attempts: 1, fallbacks: 0, latencyMs: 1 + (i % 97) / 20, ttftMs: null, upstreamMs: 0.8 + (i % 13) / 10, overheadMs: 0.2 + (i % 7) / 30,
    tokensIn: 9, tokensOut: 9, tokensCached: null, tokensReasoning: null, costUsd: 0.0000081, cache: null, stream: false, cancelled: false,
    request: content ? prompt.toString('utf8') : null, response: content ? answer : null,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'heimdall-bench-logpipe-'));
const logger = pino({ level: 'warn' });
const results: Record<string, number[]> = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const content of [true, false]) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        const log = await builds[name]({ target: { type: 'sqlite', path: join(dir, `${name}-${round}-${content}.db`) }, logger,
          retentionDays: 0, queueCapacity: 20 * BATCH, batchSize: BATCH });
        // The thread started and the store opened before the clock starts.
        while (!log.counters().storeUp) await sleep(20);
        const cpu = process.cpuUsage();
        for (let i = 0; i < records; i++) {
          log.sink.push(record(i, content));
          if ((i + 1) % BATCH !== 0) continue;
          await turn();
          while (log.counters().waiting > 10 * BATCH) await sleep(5);
        }
        while (log.counters().written + log.counters().dropped < records) await sleep(5);
        const used = process.cpuUsage(cpu);
        if (log.counters().dropped > 0) throw new Error(`${name}: ${log.counters().dropped} records dropped`);
        await log.close();
        (results[`${content ? 'content' : 'no content'}, ${name}`] ??= []).push((used.user + used.system) / records);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
printMedians(`${records.toLocaleString('en')} records per store, ${rounds} rounds; CPU µs per record, all threads (user + system)`, results, { records, rounds });
