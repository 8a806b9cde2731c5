/**
 * Closed-loop load generator, used when wrk is not installed: N connections, each sending the next request as soon
 * as the previous answer is read. Runs in its own process so it can be pinned away from the process under test.
 *
 *   node dist/bench/loadgen.js --url http://127.0.0.1:PORT/v1/chat/completions --body '{...}' \
 *     [--connections 64] [--duration 10]
 *
 * Prints one JSON line: the same LoadResult fields bench/generators.ts reads from wrk.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { num, parseFlags, str } from './args.js';

const flags = parseFlags(process.argv.slice(2));
const url = new URL(str(flags, 'url', ''));
if (url.hostname !== '127.0.0.1') throw new Error('--url must target 127.0.0.1');
const body = Buffer.from(str(flags, 'body', '{}'));
const connections = Math.max(1, Math.floor(num(flags, 'connections', 64)));
const durationMs = num(flags, 'duration', 10) * 1000;

const pool = new Pool(url.origin, { connections, pipelining: 1, headersTimeout: 5000, bodyTimeout: 5000 });
const headers = { 'content-type': 'application/json' };
const path = url.pathname + url.search;

/** Latencies in ms; grown by doubling, sorted once at the end (exact percentiles, no histogram dependency). */
let latencies = new Float64Array(1 << 16);
let count = 0;
let ok = 0;
let non2xx = 0;
let errors = 0;
const errorKinds: Record<string, number> = {};

function record(ms: number): void {
  if (count === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[count++] = ms;
}

async function connectionLoop(deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    const started = performance.now();
    try {
      const res = await pool.request({ path, method: 'POST', headers, body });
      await res.body.dump();
      record(performance.now() - started);
      if (res.statusCode >= 200 && res.statusCode < 300) ok++;
      else non2xx++;
    } catch (err) {
      errors++;
      const code = (err as { code?: string }).code ?? (err as Error).name;
      errorKinds[code] = (errorKinds[code] ?? 0) + 1;
      // Without a pause a refused connection turns this loop into a busy spin on the shared core.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const started = performance.now();
await Promise.all(Array.from({ length: connections }, () => connectionLoop(started + durationMs)));
const durationS = (performance.now() - started) / 1000;
const sorted = latencies.subarray(0, count).sort();
process.stdout.write(
  `${JSON.stringify({
    requests: count,
    ok,
    non2xx,
    errors,
    errorKinds,
    durationS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
  })}\n`,
);
await pool.destroy();
