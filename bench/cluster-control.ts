/**
 * The cluster goal's control: what running a proxy as 1 and as 2 processes on one port (SO_REUSEPORT) costs per
 * request on this host when there is no Heimdall at all. `baseline` is the one-thread proxy; `bare-hop` the same
 * split over two threads by Heimdall's rings (the floor of Heimdall's design). Same mock, same wrk load as the
 * cluster scenario; the counts alternate within the run.
 *
 *   npx tsc -b && node dist/bench/cluster-control.js [--target baseline|bare-hop] [--reps 3] [--duration 8]
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { num, parseFlags, str } from './args.js';
import { spawnChild, waitForListening, type Child } from './children.js';
import { pickGenerator, runLoad } from './generators.js';
import { processTicks } from './procfs.js';

const flags = parseFlags(process.argv.slice(2));
const target = str(flags, 'target', 'bare-hop');
if (!['baseline', 'bare-hop'].includes(target)) throw new Error('--target is baseline or bare-hop');
const reps = num(flags, 'reps', 3);
const seconds = num(flags, 'duration', 8);
const here = new URL('.', import.meta.url).pathname;
const script = join(here, target === 'baseline' ? 'baseline-proxy.js' : 'bare-hop.js');
const workDir = mkdtempSync(join(tmpdir(), 'cluster-control-'));
const generator = pickGenerator('auto');
const loadgen = join(here, 'loadgen.js');
const BODY = JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [{ role: 'user', content: 'hello there, how are you today?' }] });
const TICKS_PER_SECOND = 100;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** A port free now: a port the kernel picks for one SO_REUSEPORT socket cannot be joined by a second one. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function measure(upstream: number, processes: number): Promise<{ rps: number; usPerRequest: number }> {
  const proxies: Child[] = [];
  const port = await freePort();
  try {
    for (let i = 0; i < processes; i++) {
      const proxy = spawnChild(`${target}-${i}`, process.execPath, [script, '--port', String(port), '--upstream', `http://127.0.0.1:${upstream}`]);
      proxies.push(proxy);
      await waitForListening(proxy);
    }
    const spec = { url: `http://127.0.0.1:${port}/v1/chat/completions`, body: BODY, headers: {}, connections: 64, cpus: undefined };
    await runLoad(generator, { ...spec, seconds: 3 }, workDir, loadgen);
    const before = proxies.map((proxy) => processTicks(proxy.pid) ?? 0);
    const result = await runLoad(generator, { ...spec, seconds }, workDir, loadgen);
    const used = proxies.reduce((sum, proxy, i) => sum + (processTicks(proxy.pid) ?? 0) - before[i], 0) / TICKS_PER_SECOND;
    return { rps: result.rps, usPerRequest: (used / result.requests) * 1e6 };
  } finally {
    for (const proxy of proxies) proxy.proc.kill('SIGKILL');
  }
}

const mock = spawnChild('mock', process.execPath, [join(here, 'mock-upstream.js'), '--port', '0']);
try {
  const upstream = await waitForListening(mock);
  const runs: Record<1 | 2, { rps: number; usPerRequest: number }[]> = { 1: [], 2: [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const processes of (rep % 2 === 0 ? [1, 2] : [2, 1]) as (1 | 2)[]) {
      const run = await measure(upstream, processes);
      runs[processes].push(run);
      console.error(`[${rep + 1}/${reps}] ${target} × ${processes}: ${run.rps.toFixed(0)} req/s, ${run.usPerRequest.toFixed(1)} µs/req`);
    }
  }
  const line = (processes: 1 | 2) => {
    const us = runs[processes].map((run) => run.usPerRequest);
    return `${target} × ${processes}: ${median(runs[processes].map((run) => run.rps)).toFixed(0)} req/s, `
      + `${median(us).toFixed(1)} µs/req (${Math.min(...us).toFixed(1)}–${Math.max(...us).toFixed(1)})`;
  };
  console.log(line(1));
  console.log(line(2));
  const perProcess = median(runs[2].map((run) => run.usPerRequest)) / median(runs[1].map((run) => run.usPerRequest));
  console.log(`2 ÷ 1 processes, CPU per request: ${perProcess.toFixed(3)}× (Heimdall's cluster goal asks ≤ 1.05×)`);
} finally {
  mock.proc.kill('SIGKILL');
}
