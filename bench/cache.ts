/**
 * The response cache's cost, through real gateway processes (`dist/src/main.js`) in front of the bench mock upstream
 * (bench/mock-upstream.ts, a separate process):
 *
 *   cpu:      CPU µs per request of the gateway process (every thread): a cache hit (the cache on, every request the
 *             same, answered from the embedded store on the front thread) against a proxied request (the same gateway
 *             config without the cache: the request goes to a provider worker and upstream), side by side, alternating,
 *             `--reps` times; and beside them the bare proxy baseline's request (bench/baseline-proxy.ts, one uWS
 *             thread and undici: the least a proxy hop costs). Medians, ranges and the ratios; the issue's goal is a
 *             hit that costs less than the baseline's request (hit ÷ baseline < 1).
 *   latency:  hits at a fixed rate (`--rate`, 3,000 req/s) in open loop for `--duration` seconds with the Node load
 *             generator in its own process: p50 and p99 (from the intended send time), once per repetition.
 *
 *   npx tsc -b && node dist/bench/cache.js [--reps 3] [--requests 20000] [--connections 32] [--rate 3000] [--duration 3]
 *
 * Prints the figures, then one JSON line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { num, parseFlags } from './args.js';
import { freePort, killAll, runToEnd, spawnChild, stop, waitForHealth, waitForListening, type Child } from './children.js';
import { processTicks } from './procfs.js';

const flags = parseFlags(process.argv.slice(2));
const reps = num(flags, 'reps', 3);
const requests = num(flags, 'requests', 20_000);
const connections = num(flags, 'connections', 32);
const rate = num(flags, 'rate', 3000);
const duration = num(flags, 'duration', 3);
const MAIN = new URL('../src/main.js', import.meta.url).pathname;
const MOCK = new URL('./mock-upstream.js', import.meta.url).pathname;
const BASELINE = new URL('./baseline-proxy.js', import.meta.url).pathname;
const LOADGEN = new URL('./loadgen.js', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'heimdall-cache-bench-'));
const BODY = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
const HIT_HEADERS = { 'x-bf-cache-key': 'bench' };

function config(upstreamPort: number, cache: boolean): Record<string, unknown> {
  return {
    // Access log and request log off in both modes: the figure is the cache's own.
    client: { access_log: false, enable_logging: false },
    providers: { openai: { keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
      network_config: { base_url: `http://127.0.0.1:${upstreamPort}` },
      concurrency_and_buffer_size: { concurrency: 1000, buffer_size: 5000, threads: 1 } } },
    plugins: cache ? ['metrics', { name: 'semantic_cache', config: {} }] : ['metrics'],
  };
}

let files = 0;
async function startGateway(cfg: Record<string, unknown>): Promise<{ child: Child; url: string }> {
  const file = join(work, `config-${files++}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  const port = await freePort();
  const child = spawnChild('heimdall', process.execPath, [MAIN, '--config', file, '--port', String(port), '--host', '127.0.0.1',
    '--log-level', 'warn']);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(child, `${url}/health`, 15_000);
  return { child, url };
}

/** Closed loop: `connections` requests in flight until `count` are answered; the statuses and cache results seen. */
async function load(url: string, count: number, headers: Record<string, string>): Promise<{ failed: number; hits: number }> {
  const pool = new Pool(url, { connections, pipelining: 1 });
  let sent = 0;
  let failed = 0;
  let hits = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', body: BODY,
        headers: { 'content-type': 'application/json', ...headers } });
      await res.body.dump();
      if (res.statusCode !== 200) failed++;
      if (res.headers['x-heimdall-cache'] === 'hit') hits++;
    }
  };
  await Promise.all(Array.from({ length: connections }, lane));
  await pool.close();
  return { failed, hits };
}

type Mode = 'baseline' | 'proxy' | 'hit';

async function startBaseline(upstreamPort: number): Promise<{ child: Child; url: string }> {
  const child = spawnChild('baseline', process.execPath, [BASELINE, '--port', '0', '--upstream', `http://127.0.0.1:${upstreamPort}`]);
  return { child, url: `http://127.0.0.1:${await waitForListening(child)}` };
}

/** CPU µs per request of one gateway (or baseline proxy) process over `requests` requests, after a warm-up. */
async function cpuPerRequest(upstreamPort: number, mode: Mode) {
  const { child, url } = mode === 'baseline' ? await startBaseline(upstreamPort) : await startGateway(config(upstreamPort, mode === 'hit'));
  const headers = mode === 'hit' ? HIT_HEADERS : {};
  try {
    await load(url, Math.min(2000, requests / 5), headers);
    const before = processTicks(child.pid)!;
    const started = performance.now();
    const { failed, hits } = await load(url, requests, headers);
    const seconds = (performance.now() - started) / 1000;
    const ticks = processTicks(child.pid)! - before;
    if (failed > 0) console.log(`  (${failed} of ${requests} ${mode} requests did not succeed)`);
    if (mode === 'hit' && hits !== requests) console.log(`  (only ${hits} of ${requests} requests were hits)`);
    return { cpuUs: (ticks * 10_000) / requests, rps: requests / seconds };
  } finally {
    await stop(child);
  }
}

/** `rate` req/s in open loop at `url`, from the load generator's own process: its p50 and p99 in ms. */
async function openLoop(url: string, headers: Record<string, string>) {
  const generator = spawnChild('loadgen', process.execPath, [LOADGEN, '--url', `${url}/v1/chat/completions`, '--body', BODY,
    '--rate', String(rate), '--duration', String(duration), '--warmup', '1', '--connections', '64',
    '--headers', JSON.stringify({ 'content-type': 'application/json', ...headers })]);
  await runToEnd(generator, (duration + 30) * 1000);
  const line = generator.stdout().trim().split('\n').at(-1)!;
  const result = JSON.parse(line) as { requests: number; ok: number; p50Ms: number; p99Ms: number };
  return { requests: result.requests, ok: result.ok, p50Ms: result.p50Ms, p99Ms: result.p99Ms };
}

/**
 * Hits at `rate` req/s, and beside them the mock upstream answered directly at the same rate: on a busy machine the
 * generator itself falls behind, and the direct figure shows by how much.
 */
async function hitLatency(upstreamPort: number) {
  const { child, url } = await startGateway(config(upstreamPort, true));
  try {
    await load(url, 500, HIT_HEADERS);
    return { hit: await openLoop(url, HIT_HEADERS), direct: await openLoop(`http://127.0.0.1:${upstreamPort}`, {}) };
  } finally {
    await stop(child);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values: number[], digits = 1) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

const mock = spawnChild('mock', process.execPath, [MOCK, '--port', '0']);
try {
  const upstreamPort = await waitForListening(mock);
  const runs: Record<Mode, { cpuUs: number; rps: number }[]> = { baseline: [], proxy: [], hit: [] };
  const latencies: Awaited<ReturnType<typeof hitLatency>>[] = [];
  for (let rep = 0; rep < reps; rep++) {
    // The order alternates between repetitions, so that a machine getting busier does not always weigh on one mode.
    const modes: Mode[] = ['baseline', 'proxy', 'hit'];
    const order = rep % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) runs[mode].push(await cpuPerRequest(upstreamPort, mode));
    latencies.push(await hitLatency(upstreamPort));
  }
  const cpu = Object.fromEntries((['baseline', 'proxy', 'hit'] as const).map((mode) => [mode, {
    cpuUsMedian: median(runs[mode].map((r) => r.cpuUs)), cpuUsRange: range(runs[mode].map((r) => r.cpuUs)),
    rpsMedian: median(runs[mode].map((r) => r.rps)) }]));
  const ratios = runs.hit.map((r, i) => r.cpuUs / runs.proxy[i].cpuUs);
  console.log(`CPU µs per request (gateway process, ${requests} requests, ${connections} connections, ${reps} reps):`);
  for (const [mode, s] of Object.entries(cpu)) {
    console.log(`  ${mode.padEnd(6)} ${s.cpuUsMedian.toFixed(1)} µs (range ${s.cpuUsRange}), ${Math.round(s.rpsMedian)} req/s`);
  }
  const overBaseline = runs.hit.map((r, i) => r.cpuUs / runs.baseline[i].cpuUs);
  console.log(`  hit ÷ proxied: ${median(ratios).toFixed(3)} (range ${range(ratios, 3)})`);
  console.log(`  hit ÷ baseline proxy: ${median(overBaseline).toFixed(3)} (range ${range(overBaseline, 3)}; goal < 1)`);
  const line = (label: string, runs: { requests: number; ok: number; p50Ms: number; p99Ms: number }[]) => {
    const p50 = runs.map((l) => l.p50Ms);
    const p99 = runs.map((l) => l.p99Ms);
    console.log(`  ${label.padEnd(12)} p50 ${median(p50).toFixed(3)} ms (range ${range(p50, 3)}), p99 ${median(p99).toFixed(3)} ms `
      + `(range ${range(p99, 3)}), ${runs.map((l) => `${l.ok}/${l.requests}`).join(', ')} ok`);
    return { p50MsMedian: median(p50), p99MsMedian: median(p99), runs };
  };
  console.log(`latency at ${rate} req/s for ${duration} s (open loop, from the intended send time):`);
  const hit = line('cache hit', latencies.map((l) => l.hit));
  const direct = line('mock direct', latencies.map((l) => l.direct));
  console.log(JSON.stringify({ scenario: 'cache', cpu, hitOverProxied: { median: median(ratios), all: ratios },
    hitOverBaseline: { median: median(overBaseline), all: overBaseline },
    latency: { rate, durationSeconds: duration, hit, direct } }));
} finally {
  await stop(mock);
  killAll();
  rmSync(work, { recursive: true, force: true });
}
