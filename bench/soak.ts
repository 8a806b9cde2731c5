/**
 * The long soak: the gateway in-process in front of the faulty upstream (test/fakes/faulty-upstream.ts) drawing
 * the mix in bench/soak-load.ts, under concurrent streamed and non-streamed requests with client aborts, for
 * minutes. Prints a line of figures a minute (requests, outcomes, latency, pool occupancy, heap, RSS) and a
 * summary; exits 1 when a request hung or broke the API's contract, or the pools did not return to idle.
 *
 *   npx tsc -b && node dist/bench/soak.js [--minutes 5] [--concurrency 32] [--stream-share 0.5] [--abort-share 0.1]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { startFaultyUpstream } from '../test/fakes/faulty-upstream.js';
import { num, parseFlags } from './args.js';
import { Histogram } from './histogram.js';
import { runSoak, SOAK_MIX, soakProviders, type SoakReport } from './soak-load.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const flags = parseFlags(process.argv.slice(2));
const minutes = num(flags, 'minutes', 5);
const concurrency = Math.max(1, Math.floor(num(flags, 'concurrency', 32)));
const streamShare = num(flags, 'stream-share', 0.5);
const abortShare = num(flags, 'abort-share', 0.1);
const ROUND_MS = 60_000;

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const upstream = await startFaultyUpstream({ mix: SOAK_MIX, seed: 42 });
const config = await loadConfig({ raw: { providers: soakProviders(upstream.url) }, env: {},
  overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' } });
const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
const url = `http://127.0.0.1:${gateway.port}`;
const load = { url, concurrency, streamShare, abortShare, deadlineMs: 30_000 };
const poolStats = () => [...gateway.pools.values()].map((pool) => pool.stats());

console.log(`soak: ${minutes} min, ${concurrency} in flight, ${streamShare * 100}% streamed, ${abortShare * 100}% aborted; `
  + `mix ${SOAK_MIX.map((fault) => `${fault.faults}×${fault.weight}`).join(' ')}`);
// The fake records every request it served; forgotten before each measure so that the heap is the gateway's.
await runSoak({ ...load, durationMs: 5_000, seed: 1 });
upstream.reset();
const heapStart = heapAfterGc();
console.log(`after warm-up: heap ${mb(heapStart)} MB, rss ${mb(process.memoryUsage().rss)} MB`);

const total: SoakReport = { requests: 0, outcomes: {}, violations: [], violationCount: 0, latenciesMs: [] };
const latency = new Histogram();
const endAt = performance.now() + minutes * 60_000;
for (let round = 1; performance.now() < endAt - 1_000; round++) {
  const durationMs = Math.min(ROUND_MS, endAt - performance.now());
  const report = await runSoak({ ...load, durationMs, seed: 100 + round });
  const roundLatency = new Histogram();
  for (const ms of report.latenciesMs) {
    roundLatency.record(ms * 1000);
    latency.record(ms * 1000);
  }
  total.requests += report.requests;
  total.violationCount += report.violationCount;
  total.violations.push(...report.violations.slice(0, 10 - total.violations.length));
  for (const [outcome, count] of Object.entries(report.outcomes)) total.outcomes[outcome] = (total.outcomes[outcome] ?? 0) + count;
  const stats = poolStats();
  upstream.reset();
  console.log([
    `round ${round}: ${report.requests} requests (${(report.requests / (durationMs / 1000)).toFixed(0)}/s)`,
    `p50 ${((roundLatency.percentile(50) ?? 0) / 1000).toFixed(0)} ms p99 ${((roundLatency.percentile(99) ?? 0) / 1000).toFixed(0)} ms`,
    `violations ${report.violationCount} hung ${report.outcomes.hung ?? 0}`,
    `in flight ${stats.reduce((n, s) => n + s.inFlight, 0)} queued ${stats.reduce((n, s) => n + s.queued, 0)}`,
    `heap ${mb(heapAfterGc())} MB rss ${mb(process.memoryUsage().rss)} MB`,
    JSON.stringify(report.outcomes),
  ].join(' | '));
}

// Idle: nothing in flight, queued or holding a ring slot, within 10 s of the last request.
const idleBy = performance.now() + 10_000;
const busy = () => poolStats().some((s) => s.inFlight > 0 || s.queued > 0 || s.slotsInUse > 0);
while (busy() && performance.now() < idleBy) await sleep(50);
const idle = !busy();
upstream.reset();
const heapEnd = heapAfterGc();
console.log(`total: ${total.requests} requests, p50 ${((latency.percentile(50) ?? 0) / 1000).toFixed(0)} ms, `
  + `p99 ${((latency.percentile(99) ?? 0) / 1000).toFixed(0)} ms; ${JSON.stringify(total.outcomes)}`);
console.log(`pools idle: ${idle} ${JSON.stringify(poolStats())}; heap ${mb(heapStart)} → ${mb(heapEnd)} MB `
  + `(${heapEnd >= heapStart ? '+' : ''}${mb(heapEnd - heapStart)} MB); upstream draws ${JSON.stringify(Object.fromEntries(upstream.drawn))}`);
if (total.violations.length > 0) console.log(`contract violations (${total.violationCount}, first ones):\n  ${total.violations.join('\n  ')}`);

await gateway.close(1_000);
await upstream.close();
process.exitCode = total.violationCount === 0 && (total.outcomes.hung ?? 0) === 0 && idle ? 0 : 1;
