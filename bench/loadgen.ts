/**
 * The Node load generator, in its own process so it can be pinned away from the process under test.
 *
 *   closed loop (default): N connections, each sends the next request as soon as the previous answer is read.
 *   open loop (--rate R):  R requests per second on a fixed schedule, whatever the answers do. Latency is measured
 *                          from the *intended* send time, so a stall counts against every request it delayed
 *                          (corrected for coordinated omission). Up to --connections sockets; requests beyond
 *                          that wait in the pool, and that wait counts too.
 *   --stream:              also records time to first body byte and the gaps between body chunks (SSE).
 *
 *   node dist/bench/loadgen.js --url http://127.0.0.1:PORT/v1/chat/completions --body '{...}' \
 *     [--connections 64] [--duration 10] [--warmup 0] [--rate R] [--stream] [--timeout 30] [--drain 15] [--headers '{"k":"v"}']
 *     [--burst-warmup N]
 *
 *   --burst-warmup N: before the timed warm-up, N requests at 64 connections whose body carries the mock's burst
 *                     marker (bench/mock-upstream.ts answers them back to back whatever its chunk gap), so the target's
 *                     JIT has compiled its hot paths before anything is counted: at a few streams per second a timed
 *                     warm-up alone leaves V8's compiler threads busy through the measurement.
 *
 * Prints one JSON line: the LoadResult fields bench/generators.ts reads, plus the histograms (µs).
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { bool, num, parseFlags, str } from './args.js';
import { Histogram } from './histogram.js';

const flags = parseFlags(process.argv.slice(2));
const url = new URL(str(flags, 'url', ''));
if (url.hostname !== '127.0.0.1') throw new Error('--url must target 127.0.0.1');
const body = Buffer.from(str(flags, 'body', '{}'));
const connections = Math.max(1, Math.floor(num(flags, 'connections', 64)));
const durationMs = num(flags, 'duration', 10) * 1000;
const rate = num(flags, 'rate', 0);
const stream = bool(flags, 'stream');
const timeoutMs = num(flags, 'timeout', 30) * 1000;
const drainMs = num(flags, 'drain', 15) * 1000;
/** Warm-up in this same process (connections open, JIT warm); nothing from it is counted. */
const warmupMs = num(flags, 'warmup', 0) * 1000;
const burstWarmup = Math.max(0, Math.floor(num(flags, 'burst-warmup', 0)));
/** The mock-upstream's marker (MOCK_BURST_USER there): `user` is a chat field every proxy passes on. */
const BURST_BODY = Buffer.from(body.toString().replace(/^\s*\{/, '{"user":"heimdall-bench-burst",'));
const BURST_CONNECTIONS = 64;
let recording = false;

const pool = new Pool(url.origin, {
  connections,
  pipelining: 1,
  headersTimeout: timeoutMs,
  bodyTimeout: timeoutMs,
  connectTimeout: Math.min(timeoutMs, 10_000),
});
const headers: Record<string, string> = { 'content-type': 'application/json', ...(JSON.parse(str(flags, 'headers', '{}')) as Record<string, string>) };
const path = url.pathname + url.search;

const latency = new Histogram();
const ttfb = new Histogram();
const gaps = new Histogram();
let ok = 0;
let non2xx = 0;
let errors = 0;
let chunks = 0;
let inFlight = 0;
let maxInFlight = 0;
const errorKinds: Record<string, number> = {};
const statuses: Record<string, number> = {};

function fail(err: unknown): void {
  errors++;
  const code = (err as { code?: string }).code ?? (err as Error).name;
  errorKinds[code] = (errorKinds[code] ?? 0) + 1;
}

/** One request; `t0` is when it should have been sent (open loop) or was sent (closed loop). */
async function one(t0: number): Promise<boolean> {
  const rec = recording;
  if (!rec) {
    try {
      const res = await pool.request({ path, method: 'POST', headers, body });
      await res.body.dump();
      return true;
    } catch {
      return false;
    }
  }
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  try {
    const res = await pool.request({ path, method: 'POST', headers, body });
    if (stream) {
      let last = 0;
      for await (const _chunk of res.body) {
        const now = performance.now();
        if (last === 0) ttfb.record((now - t0) * 1000);
        else gaps.record((now - last) * 1000);
        last = now;
        chunks++;
      }
    } else {
      await res.body.dump();
    }
    latency.record((performance.now() - t0) * 1000);
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    if (res.statusCode >= 200 && res.statusCode < 300) ok++;
    else non2xx++;
    return true;
  } catch (err) {
    fail(err);
    return false;
  } finally {
    inFlight--;
  }
}

async function closedLoop(deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    // Without a pause a refused connection turns this loop into a busy spin on the shared core.
    if (!(await one(performance.now()))) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Fires request i at start + i/rate; a 1 ms timer catches up on everything due, so a late tick never drops a send. */
async function openLoop(start: number, forMs: number): Promise<{ sent: number; maxLagMs: number }> {
  const intervalMs = 1000 / rate;
  const total = Math.floor((forMs / 1000) * rate);
  const pending = new Set<Promise<boolean>>();
  let sent = 0;
  let maxLagMs = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      for (; sent < due; sent++) {
        const intended = start + sent * intervalMs;
        maxLagMs = Math.max(maxLagMs, now - intended);
        const p = one(intended);
        pending.add(p);
        void p.then(() => pending.delete(p));
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, Math.min(1, start + sent * intervalMs - performance.now())));
    };
    tick();
  });
  if (!recording) return { sent, maxLagMs };
  // Let the last answers arrive, but bounded: whatever is still open after the drain counts as an error.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(pending), new Promise((resolve) => (timer = setTimeout(resolve, drainMs)))]);
  clearTimeout(timer);
  if (pending.size > 0) {
    errors += pending.size;
    errorKinds.unfinished = (errorKinds.unfinished ?? 0) + pending.size;
  }
  return { sent, maxLagMs };
}

if (burstWarmup > 0) {
  let left = burstWarmup;
  await Promise.all(Array.from({ length: BURST_CONNECTIONS }, async () => {
    while (left-- > 0) {
      try {
        const res = await pool.request({ path, method: 'POST', headers, body: BURST_BODY });
        await res.body.dump();
      } catch {
        // A failed warm-up request is not a measurement; the timed phases count failures.
      }
    }
  }));
}
if (warmupMs > 0) {
  const t = performance.now();
  if (rate > 0) await openLoop(t, warmupMs);
  else await Promise.all(Array.from({ length: connections }, () => closedLoop(t + warmupMs)));
}
recording = true;
// The orchestrator starts its CPU accounting of the process under test on this line.
process.stdout.write('MEASURING\n');
const started = performance.now();
let open: { sent: number; maxLagMs: number } | null = null;
if (rate > 0) open = await openLoop(started, durationMs);
else await Promise.all(Array.from({ length: connections }, () => closedLoop(started + durationMs)));
// Open loop: the rate is over the schedule, not the drain, so a fixed-rate run reports its rate.
const durationS = rate > 0 ? durationMs / 1000 : (performance.now() - started) / 1000;
const ms = (us: number | null): number | null => (us === null ? null : us / 1000);
process.stdout.write(
  `${JSON.stringify({
    mode: rate > 0 ? 'open' : 'closed',
    rate: rate > 0 ? rate : null,
    requests: latency.count,
    ok,
    non2xx,
    errors,
    errorKinds,
    statuses,
    durationS,
    p50Ms: ms(latency.percentile(50)),
    p90Ms: ms(latency.percentile(90)),
    p99Ms: ms(latency.percentile(99)),
    maxMs: ms(latency.percentile(100)),
    sent: open?.sent ?? null,
    maxSendLagMs: open?.maxLagMs ?? null,
    maxInFlight,
    chunks,
    hist: latency.toJSON(),
    ...(stream ? { ttfbHist: ttfb.toJSON(), gapHist: gaps.toJSON() } : {}),
  })}\n`,
);
await pool.destroy();
