/**
 * The request log writer's CPU per stored row, this build against another (or SQLite's two engines against each
 * other, `--engines`) side by side in one process: records as
 * the request-log bench's gateway makes them (a 2 KB prompt and a short answer, or no content), written through
 * `openLogStore` into a fresh SQLite file per round in 500-record batches (the front's batch), the builds alternating
 * within each round; the figure is the process's CPU (user + system: the SQLite writes are syscalls) over the rows.
 * Each build writes the request ids it makes: random UUIDs (version 4) before the change to UUIDv7, time-ordered
 * after.
 *
 *   npm run build && node dist/bench/log-write-cpu.js --before OTHER/dist/src/stores/log-store.js
 *     [--records 30000] [--rounds 3] [--v7-before]
 *   node dist/bench/log-write-cpu.js --engines libsql,node:sqlite [--records 30000] [--rounds 3] [--memory]
 *
 * `--memory` writes to SQLite in memory: the inserts without any file I/O, the floor of a row's cost in this store.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { timeOrderedUuid } from '../src/http/server.js';
import type { RequestLogRecord } from '../src/stores/log-record.js';
import { openLogStore } from '../src/stores/log-store.js';
import type { StoreTarget } from '../src/stores/store-config.js';
import { bool, num, parseFlags, str } from './args.js';
import { engineBuilds } from './log-engines.js';
import { printMedians } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const records = num(flags, 'records', 30_000);
const rounds = num(flags, 'rounds', 3);
const beforePath = str(flags, 'before', '');
const inMemory = bool(flags, 'memory');
type Build = { open: (target: StoreTarget) => ReturnType<typeof openLogStore>; id: (nowMs: number) => string };
const builds: Record<string, Build> = {};
const engines = engineBuilds(flags);
if (engines) {
  for (const engine of engines) builds[engine] = { open: (target) => openLogStore(target, { sqliteEngine: engine }), id: timeOrderedUuid };
} else {
  if (!beforePath) throw new Error('--before OTHER/dist/src/stores/log-store.js or --engines libsql,node:sqlite is required');
  // The old build's gateway made random ids; --v7-before gives it time-ordered ones too (the id's share of the cut).
  const v4Before = !bool(flags, 'v7-before');
  const before = (await import(pathToFileURL(resolve(beforePath)).href)) as { openLogStore: typeof openLogStore };
  builds.before = { open: (target) => before.openLogStore(target), id: v4Before ? () => randomUUID() : timeOrderedUuid };
  builds.after = { open: (target) => openLogStore(target), id: timeOrderedUuid };
}
const names = Object.keys(builds);

const prompt = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Summarise the following notes for the weekly report. '.repeat(40) }] });
const answer = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0,
  message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }],
usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 } });

function dataset(id: (nowMs: number) => string, content: boolean): RequestLogRecord[] {
  const now = Date.now();
  return Array.from({ length: records }, (_, i) => ({
    id: id(now + i), timestamp: now + i, route: '/v1/chat/completions', method: 'POST', dialect: 'openai', provider: 'openai',
    modelRequested: 'openai/gpt-4o-mini', model: 'gpt-4o-mini', keyName: 'key-1', virtualKeyId: null, status: 200, errorCode: null,
    attempts: 1, fallbacks: 0, latencyMs: 1 + (i % 97) / 20, ttftMs: null, upstreamMs: 0.8 + (i % 13) / 10, overheadMs: 0.2 + (i % 7) / 30,
    tokensIn: 9, tokensOut: 9, tokensCached: null, tokensReasoning: null, costUsd: 0.0000081, cache: null, stream: false, cancelled: false,
    // A string of its own per record, as each request's body decodes to one.
    request: content ? Buffer.from(prompt).toString('utf8') : null, response: content ? Buffer.from(answer).toString('utf8') : null,
  }));
}

const dir = mkdtempSync(join(tmpdir(), 'heimdall-bench-logcpu-'));
const results: Record<string, number[]> = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const content of [true, false]) {
      // Alternating which goes first, so a change in the machine's load falls on both.
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        const data = dataset(builds[name].id, content);
        const store = await builds[name].open({ type: 'sqlite', path: inMemory ? ':memory:' : join(dir, `${name}-${round}-${content}.db`) });
        const cpu = process.cpuUsage();
        for (let i = 0; i < data.length; i += 500) await store.insert(data.slice(i, i + 500));
        const used = process.cpuUsage(cpu);
        await store.close();
        (results[`${content ? 'content' : 'no content'}, ${name}`] ??= []).push((used.user + used.system) / records);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
printMedians(`${records.toLocaleString('en')} records per store, ${rounds} rounds; CPU µs per row (user + system)`, results, { records, rounds });
