/**
 * Peak memory of one gateway process (RSS sampled every 50 ms from /proc) under three loads, against the built-in
 * mock provider (answers inside its worker: no upstream process competes for the CPU):
 *
 *   load          as many requests per second as `--connections` closed-loop clients get through in `--seconds`
 *   slow readers  `--readers` clients each start a stream of `--stream-chunks` chunks (about 200 bytes each) from an
 *                 HTTP mock upstream (bench/mock-upstream.ts, a chunk every millisecond) and read nothing for
 *                 `--hold-s` seconds, then read it all: backpressure must hold the provider, not buffer the answers;
 *                 the figure to compare is readers × stream size, what buffering them would take
 *   large bodies  requests of 10, 25 and 50 MB (`--body-mb`), `--body-parallel` at a time, each echoed back whole by
 *                 the in-process mock, and sent on to the HTTP mock upstream (`--body-targets`)
 *
 *   node dist/bench/memory-load.js [--seconds 10] [--connections 64] [--readers 1000] [--stream-chunks 500] [--hold-s 10] [--read-timeout-s 60]
 *     [--body-mb 10,25,50] [--body-parallel 2] [--only load,slow,bodies] [--heimdall-js dist/src/main.js[,other/main.js]]
 *     [--body-targets echo,upstream] [--reps 1] [--bound-k K]
 *
 * Several `--heimdall-js` builds (before and after a change) are measured in one run, alternating, `--reps` times
 * each; the summary gives each figure's median and range per build. For large bodies it prints the bound each build
 * keeps, each body in a fresh process: peak ≤ k × (MiB of bodies in flight) + RSS before it, and with `--bound-k` fails (exit code 1) when the last build's
 * median k is above it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { num, parseFlags, str } from './args.js';
import { freePort, killAll, spawnChild, stop, waitForHealth, waitForListening, type Child } from './children.js';
import { alignedColumns } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2));
const seconds = num(flags, 'seconds', 10);
const connections = num(flags, 'connections', 64);
const readers = num(flags, 'readers', 1000);
const streamChunks = num(flags, 'stream-chunks', 500);
const readTimeoutS = num(flags, 'read-timeout-s', 60);
const holdS = num(flags, 'hold-s', 10);
const bodyMbs = str(flags, 'body-mb', '10,25,50').split(',').map(Number);
const bodyParallel = num(flags, 'body-parallel', 2);
const bodyTargets = str(flags, 'body-targets', 'echo,upstream').split(',');
const only = new Set(str(flags, 'only', 'load,slow,bodies').split(','));
const builds = str(flags, 'heimdall-js', join(HERE, '../src/main.js')).split(',').map((path) => resolve(path));
const reps = Math.max(1, num(flags, 'reps', 1));
const boundK = flags.has('bound-k') ? num(flags, 'bound-k', 0) : null;

function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Samples the RSS until stopped; returns the peak. */
function sampler(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => { peak = Math.max(peak, rssMiB(pid)); }, 50);
  return { stop: () => { clearInterval(timer); return Math.max(peak, rssMiB(pid)); } };
}

async function startGateway(dir: string, upstreamPort: number, heimdallJs: string): Promise<{ child: Child; port: number }> {
  const config = join(dir, 'heimdall.json');
  writeFileSync(config, JSON.stringify({
    client: { max_request_body_size_mb: Math.max(...bodyMbs) + 8 },
    providers: { upstream: {
      custom_provider_config: { base_provider_type: 'openai', is_key_less: true },
      network_config: { base_url: `http://127.0.0.1:${upstreamPort}`, max_conns_per_host: 10_000, default_request_timeout_in_seconds: 300 },
      concurrency_and_buffer_size: { concurrency: 5000, buffer_size: 5000 },
    }, mock: {
      // A chunk a millisecond: the mock waits between chunks, where backpressure can hold it.
      mock_config: { latency_ms: 0, chunk_count: 500, chunk_interval_ms: 1 },
      concurrency_and_buffer_size: { concurrency: 5000, buffer_size: 5000 },
    } },
  }));
  const port = await freePort();
  const child = spawnChild('heimdall', process.execPath, [heimdallJs, '--config', config, '--port', String(port), '--log-level', 'error']);
  await waitForHealth(child, `http://127.0.0.1:${port}/health`, 60_000);
  return { child, port };
}

const chat = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content }], ...extra });

async function load(port: number, pid: number): Promise<string[]> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
  const body = chat('hello from the memory bench');
  let done = 0;
  let failed = 0;
  const rss = sampler(pid);
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      const response = await pool.request({ path: '/v1/chat/completions', method: 'POST', body,
        headers: { 'content-type': 'application/json' } });
      await response.body.arrayBuffer();
      if (response.statusCode === 200) done++;
      else failed++;
    }
  }));
  const peak = rss.stop();
  await pool.close();
  return ['load', `${connections} closed-loop clients, ${seconds} s`, `${(done / seconds).toFixed(0)} req/s, ${failed} failed`, peak.toFixed(1)];
}

/** One raw HTTP client that sends its request and does not read until `read` is called. */
function pausedStream(port: number, body: string): Promise<{ socket: Socket; read(): Promise<{ bytes: number; whole: boolean }> }> {
  return new Promise((resolveClient, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      socket.pause();
      resolveClient({ socket, read: () => new Promise((done) => {
        let bytes = 0;
        let tail = '';
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 32))).slice(-64);
          // The stream's last event: the answer is whole.
          if (tail.includes('data: [DONE]')) {
            socket.destroy();
            done({ bytes, whole: true });
          }
        });
        socket.on('close', () => done({ bytes, whole: false }));
        socket.resume();
      }) });
    });
    socket.once('error', reject);
  });
}

async function slowReaders(port: number, pid: number): Promise<string[]> {
  const before = rssMiB(pid);
  const body = JSON.stringify({ model: 'upstream/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'a long answer, please' }] });
  const rss = sampler(pid);
  const clients = [];
  for (let i = 0; i < readers; i++) clients.push(await pausedStream(port, body));
  await sleep(holdS * 1000);
  const heldPeak = rss.stop();
  const afterHold = sampler(pid);
  // On a loaded machine the held streams take a while to drain: those not whole by the timeout count as not whole.
  const timeout = sleep(readTimeoutS * 1000).then(() => ({ bytes: 0, whole: false }));
  const answers = await Promise.all(clients.map((client) => Promise.race([client.read(), timeout])));
  for (const client of clients) client.socket.destroy();
  const peak = Math.max(heldPeak, afterHold.stop());
  const complete = answers.filter((answer) => answer.whole).length;
  const whole = answers.filter((answer) => answer.whole);
  const streamKiB = whole.length > 0 ? whole.reduce((sum, answer) => sum + answer.bytes, 0) / whole.length / 1024 : streamChunks * 0.2;
  return ['slow readers', `${readers} streams of ${streamKiB.toFixed(0)} KiB unread for ${holdS} s (${(readers * streamKiB / 1024).toFixed(0)} MiB if buffered)`,
    `${complete}/${readers} read whole afterwards; peak while held ${heldPeak.toFixed(1)} MiB, `
      + `${((heldPeak - before) * 1024 / readers).toFixed(0)} KiB a held stream`, peak.toFixed(1)];
}

/**
 * One body size to one target: `echo`, the in-process mock echoing it back whole (both directions cross the ring
 * and the front; the mock's own word splitting adds copies of its own), or `upstream`, the HTTP mock upstream, which
 * answers a short completion (the request goes on through undici).
 */
async function largeBody(port: number, pid: number, mb: number, target: string): Promise<string[]> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: bodyParallel });
  const body = chat('x'.repeat(mb * 1024 * 1024 - 100), { model: target === 'echo' ? 'mock/echo' : 'upstream/gpt-4o-mini' });
  const rss = sampler(pid);
  const started = performance.now();
  const sizes = await Promise.all(Array.from({ length: bodyParallel }, async () => {
    const response = await pool.request({ path: '/v1/chat/completions', method: 'POST', body,
      headers: { 'content-type': 'application/json' } });
    const answer = await response.body.arrayBuffer();
    return response.statusCode === 200 ? answer.byteLength : -response.statusCode;
  }));
  const peak = rss.stop();
  await pool.close();
  return [`body ${mb} MB ${target}`, `${bodyParallel} at a time, ${target === 'echo' ? 'echoed back' : 'to an HTTP upstream'}`,
    `${sizes.map((s) => (s < 0 ? `status ${-s}` : `${(s / 1048576).toFixed(1)} MiB`)).join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    peak.toFixed(1)];
}

/** One build's figures in one run: its table rows, and for the summary each load's peak and each body's k. */
interface Run {
  build: string;
  rows: string[][];
  idle: number;
  bodies: { label: string; peak: number; k: number }[];
}

async function measure(dir: string, upstreamPort: number, heimdallJs: string): Promise<Run> {
  let gateway = await startGateway(dir, upstreamPort, heimdallJs);
  try {
    await sleep(2000);
    const idle = rssMiB(gateway.child.pid);
    const rows: string[][] = [['idle', 'providers cold', '', idle.toFixed(1)]];
    if (only.has('load')) rows.push(await load(gateway.port, gateway.child.pid));
    if (only.has('slow')) rows.push(await slowReaders(gateway.port, gateway.child.pid));
    rows.push(['after', 'the loads above, 2 s later', '', (await sleep(2000), rssMiB(gateway.child.pid)).toFixed(1)]);
    const bodies: Run['bodies'] = [];
    if (only.has('bodies')) {
      // Each body in a fresh process: what one left behind (a grown heap, malloc's free lists) is not the next's.
      for (const mb of bodyMbs) {
        for (const target of bodyTargets) {
          await stop(gateway.child, 10_000);
          gateway = await startGateway(dir, upstreamPort, heimdallJs);
          await sleep(1000);
          const before = rssMiB(gateway.child.pid);
          const row = await largeBody(gateway.port, gateway.child.pid, mb, target);
          rows.push(row);
          bodies.push({ label: row[0], peak: Number(row[3]), k: (Number(row[3]) - before) / (mb * bodyParallel) });
        }
      }
    }
    return { build: heimdallJs, rows, idle, bodies };
  } finally {
    await stop(gateway.child, 10_000);
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const spread = (values: readonly number[], digits: number): string =>
  `${median(values).toFixed(digits)} [${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}]`;

function summary(runs: readonly Run[]): boolean {
  let withinBound = true;
  console.log(`\nsummary: median [range] over ${reps} run(s) per build, alternating`);
  const labels = runs[0].rows.map((row) => row[0]);
  const header = ['load', ...builds.map((build, i) => `build ${i + 1} peak RSS MiB`)];
  const rows = labels.map((label, r) => [label, ...builds.map((build) =>
    spread(runs.filter((run) => run.build === build).map((run) => Number(run.rows[r][3])), 1))]);
  for (const line of alignedColumns(header, rows)) console.log(line);
  builds.forEach((build, i) => console.log(`build ${i + 1}: ${build}`));
  if (!only.has('bodies')) return true;
  console.log(`\nlarge bodies, each in a fresh process: k in peak ≤ k × (MiB of bodies in flight: ${bodyParallel} × body) + RSS before`);
  const kRows = runs[0].bodies.map(({ label }, b) => [label, ...builds.map((build) =>
    spread(runs.filter((run) => run.build === build).map((run) => run.bodies[b].k), 2))]);
  for (const line of alignedColumns(['load', ...builds.map((_, i) => `build ${i + 1} k`)], kRows)) console.log(line);
  if (boundK !== null) {
    const last = builds.at(-1)!;
    const worst = Math.max(...runs[0].bodies.map((_, b) => median(runs.filter((run) => run.build === last).map((run) => run.bodies[b].k))));
    withinBound = worst <= boundK;
    console.log(`bound k ≤ ${boundK} for build ${builds.length}: ${withinBound ? 'holds' : 'BROKEN'} (worst median k ${worst.toFixed(2)})`);
  }
  return withinBound;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-memory-load-'));
  const upstream = spawnChild('mock-upstream', process.execPath, [join(HERE, 'mock-upstream.js'), '--port', '0',
    '--chunks', String(streamChunks), '--chunk-gap-ms', '1']);
  const upstreamPort = await waitForListening(upstream);
  try {
    const runs: Run[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      for (const [i, build] of builds.entries()) {
        const run = await measure(dir, upstreamPort, build);
        runs.push(run);
        console.log(`peak RSS of one gateway process, build ${i + 1} (${build}), run ${rep}; taken on a shared, loaded machine`);
        for (const line of alignedColumns(['load', 'shape', 'outcome', 'peak RSS MiB'], run.rows)) console.log(line);
      }
    }
    console.log('Bifrost (published, t3.medium): 120 MB idle; 1.3 GB peak at 5k RPS.');
    if (!summary(runs)) process.exitCode = 1;
  } finally {
    await stop(upstream);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  killAll();
  process.exitCode = 1;
});
