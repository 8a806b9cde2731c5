/**
 * Where a request's CPU goes in cluster mode, per thread and per kind of work, for the cluster goal's diagnosis:
 * Heimdall as 1 process and as 2 (and 1 process at the connections each of the 2 gets, the load-dependence control),
 * with the request log on or off, under the cluster scenario's closed loop. Per configuration it counts, per request
 * and per gateway process: CPU of the front, provider/log worker threads and other threads (schedstat), their
 * voluntary and involuntary context switches (/proc/<pid>/task/<tid>/status), read()/write() syscalls of the process
 * and of the supervisor (/proc/<pid>/io syscr + syscw: the supervisor's are its IPC), and the request log file's growth.
 *
 *   npx tsc -b && node dist/bench/cluster-probe.js [--configs p1,p2,p1h] [--request-log on,off] [--reps 3]
 *     [--duration 8] [--threads 1]
 *
 * `p1h` is one process at half the connections (the share of one process of two).
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { num, parseFlags, str } from './args.js';
import { freePort, spawnChild, waitForHealth, waitForListening, type Child } from './children.js';
import { pickGenerator, runLoad } from './generators.js';
import { classifyThreads, descendants, ioBytes, processTicks, type ThreadRole } from './procfs.js';

const flags = parseFlags(process.argv.slice(2));
const configs = str(flags, 'configs', 'p1,p2,p1h').split(',');
const logs = str(flags, 'request-log', 'on,off').split(',');
const reps = num(flags, 'reps', 3);
const seconds = num(flags, 'duration', 8);
const threads = num(flags, 'threads', 1);
const connections = num(flags, 'connections', 64);
const here = new URL('.', import.meta.url).pathname;
const heimdallJs = join(here, '..', 'src', 'main.js');
const loadgen = join(here, 'loadgen.js');
const generator = pickGenerator('auto');
const BODY = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello there, how are you today?' }] });
const TICK_US = 1e4;

interface Thread { ns: number; vol: number; invol: number }

function threadsOf(pid: number): Map<number, Thread> {
  const out = new Map<number, Thread>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.set(Number(tid), { ns, vol: field('voluntary_ctxt_switches'), invol: field('nonvoluntary_ctxt_switches') });
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** syscr, syscw, rchar, wchar of /proc/<pid>/io. */
function io(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    return ['syscr', 'syscw', 'rchar', 'wchar'].map((name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0));
  } catch {
    return [0, 0, 0, 0];
  }
}
const syscalls = (pid: number): number => io(pid)[0] + io(pid)[1];

function dirBytes(dir: string): number {
  try {
    readdirSync(dir);
  } catch {
    return 0;
  }
  return readdirSync(dir).filter((f) => f.startsWith('logs.db')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

type Row = Record<string, number>;

/**
 * The Node generator in open loop: `rate` requests per second whatever the answers do, so each configuration gets the
 * same offered load; `around` snapshots the counters when its measured phase starts and once it ended.
 */
async function openLoop(url: string, rate: number, dir: string, around: { start: () => void }): Promise<{ requests: number; rps: number; errors: number; non2xx: number }> {
  const gen = spawnChild('loadgen', process.execPath, [loadgen, '--url', url, '--body', BODY, '--connections', String(connections),
    '--duration', String(seconds), '--warmup', '3', '--rate', String(rate), '--timeout', '10', '--drain', '5']);
  while (!gen.stdout().includes('MEASURING')) {
    if (await Promise.race([gen.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5))])) break;
  }
  around.start();
  await gen.exited;
  const line = gen.stdout().trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`loadgen failed in ${dir}: ${gen.stderr().slice(-300)}`);
  const r = JSON.parse(line) as { requests: number; ok: number; errors: number; non2xx: number; durationS: number };
  return { requests: r.requests, rps: r.ok / r.durationS, errors: r.errors, non2xx: r.non2xx };
}

async function measure(upstream: number, config: string, log: string): Promise<Row> {
  // p1, p2: closed loop (wrk, --connections); p1h: one process at half the connections; pN@R: open loop at R req/s.
  const [shape, rateText] = config.split('@');
  const rate = rateText ? Number(rateText) : 0;
  const processes = Number(shape.slice(1, 2));
  const conns = shape === 'p1h' ? connections / 2 : connections;
  const dir = mkdtempSync(join(tmpdir(), 'cluster-probe-'));
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({
    ...(log === 'off' ? { client: { enable_logging: false } } : {}),
    providers: { openai: {
      keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
      network_config: { base_url: `http://127.0.0.1:${upstream}`, max_conns_per_host: 1024 },
      concurrency_and_buffer_size: { concurrency: 20000, buffer_size: 20000, threads },
    } },
  }));
  const port = await freePort();
  const args = [heimdallJs, '--config', cfg, '--port', String(port), '--log-level', 'warn', '--processes', String(processes)];
  const proc = spawnChildIn(dir, args);
  try {
    await waitForHealth(proc, `http://127.0.0.1:${port}/health`, 20_000);
    const gateways = processes === 1 ? [proc.pid] : await gatewayPids(proc.pid, processes);
    await firstAnswers(`http://127.0.0.1:${port}/v1/chat/completions`, processes);
    const spec = { url: `http://127.0.0.1:${port}/v1/chat/completions`, body: BODY, headers: {}, connections: conns, cpus: undefined };
    const roles = gateways.map(() => new Map<number, ThreadRole>());
    let before: { t: Map<number, Thread>; io: number; sys: number[]; ticks: number }[] = [];
    let supBefore: { sys: number; ticks: number } | null = null;
    let bytesBefore = 0;
    const start = () => {
      gateways.forEach((pid, i) => classifyThreads(pid, roles[i]));
      before = gateways.map((pid) => ({ t: threadsOf(pid), io: ioBytes(pid) ?? 0, sys: io(pid), ticks: processTicks(pid) ?? 0 }));
      supBefore = processes > 1 ? { sys: syscalls(proc.pid), ticks: processTicks(proc.pid) ?? 0 } : null;
      bytesBefore = dirBytes(join(dir, 'data'));
    };
    let result: { requests: number; rps: number; errors: number; non2xx: number };
    if (rate > 0) {
      result = await openLoop(spec.url, rate, dir, { start });
    } else {
      await runLoad(generator, { ...spec, seconds: 3 }, dir, loadgen);
      start();
      result = await runLoad(generator, { ...spec, seconds }, dir, loadgen);
    }
    const after = gateways.map((pid) => ({ t: threadsOf(pid), io: ioBytes(pid) ?? 0, sys: io(pid), ticks: processTicks(pid) ?? 0 }));
    gateways.forEach((pid, i) => classifyThreads(pid, roles[i]));
    const ioTotal = after.reduce((n, a, i) => n + a.io - before[i].io, 0);
    const perProcess: Row[] = gateways.map((_, i) => {
      const served = result.requests * ((after[i].io - before[i].io) / ioTotal);
      const row: Row = { cpu: ((after[i].ticks - before[i].ticks) * TICK_US) / served };
      ['syscr', 'syscw', 'rchar', 'wchar'].forEach((name, k) => (row[name] = (after[i].sys[k] - before[i].sys[k]) / served));
      // Each worker-class thread's CPU, busiest first: the provider worker and the log writer apart.
      const busy = [...after[i].t].filter(([tid]) => roles[i].get(tid) === 'workers')
        .map(([tid, t]) => (t.ns - (before[i].t.get(tid)?.ns ?? 0)) / 1e3 / served).sort((a, b) => b - a);
      busy.slice(0, 3).forEach((us, k) => (row[`worker${k + 1}_us`] = us));
      for (const [tid, t] of after[i].t) {
        const b = before[i].t.get(tid) ?? { ns: 0, vol: 0, invol: 0 };
        const role = roles[i].get(tid) ?? 'other';
        row[`${role}_us`] = (row[`${role}_us`] ?? 0) + (t.ns - b.ns) / 1e3 / served;
        row[`${role}_vcs`] = (row[`${role}_vcs`] ?? 0) + (t.vol - b.vol) / served;
        row[`${role}_ics`] = (row[`${role}_ics`] ?? 0) + (t.invol - b.invol) / served;
        // The busiest worker thread apart: with the request log on, the log writer is a worker thread too.
        if (role === 'workers') row.worker_threads = (row.worker_threads ?? 0) + 1;
      }
      return row;
    });
    const keys = [...new Set(perProcess.flatMap((r) => Object.keys(r)))];
    const row: Row = { rps: result.rps, requests: result.requests, errors: result.errors + result.non2xx };
    for (const key of keys) row[key] = perProcess.reduce((n, r) => n + (r[key] ?? 0), 0) / perProcess.length;
    const sup = supBefore as { sys: number; ticks: number } | null;
    if (sup) {
      row.supervisor_syscalls = (syscalls(proc.pid) - sup.sys) / result.requests;
      row.supervisor_us = (((processTicks(proc.pid) ?? 0) - sup.ticks) * TICK_US) / result.requests;
    }
    row.log_bytes = (dirBytes(join(dir, 'data')) - bytesBefore) / result.requests;
    row.wal_mib_at_end = (() => { try { return statSync(join(dir, 'data', 'logs.db-wal')).size / 2 ** 20; } catch { return 0; } })();
    return row;
  } finally {
    proc.proc.kill('SIGTERM');
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 5000))]);
    proc.proc.kill('SIGKILL');
  }
}

function spawnChildIn(dir: string, args: string[]): Child {
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    return spawnChild('heimdall', process.execPath, args);
  } finally {
    process.chdir(cwd);
  }
}

/** Provider pools start on their first request: a few answered (on every process, as far as connections spread) first. */
async function firstAnswers(url: string, processes: number): Promise<void> {
  const { request } = await import('undici');
  for (let ok = 0, tries = 0; ok < 8 * processes && tries < 400; tries++) {
    try {
      const res = await request(url, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json', connection: 'close' } });
      await res.body.dump();
      if (res.statusCode === 200) ok++;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function gatewayPids(supervisor: number, count: number): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const found = descendants(supervisor);
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway processes not found');
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const mock = spawnChild('mock', process.execPath, [join(here, 'mock-upstream.js'), '--port', '0']);
try {
  const upstream = await waitForListening(mock);
  const runs = new Map<string, Row[]>();
  const order = configs.flatMap((c) => logs.map((l) => `${c}/log-${l}`));
  for (let rep = 0; rep < reps; rep++) {
    for (const name of rep % 2 === 0 ? order : [...order].reverse()) {
      const [config, log] = name.split('/log-');
      const row = await measure(upstream, config, log);
      if (!runs.has(name)) runs.set(name, []);
      runs.get(name)!.push(row);
      console.error(`[${rep + 1}/${reps}] ${name}: ${row.rps.toFixed(0)} req/s, ${row.cpu.toFixed(1)} µs/req per process`);
    }
  }
  const keys = [...new Set([...runs.values()].flat().flatMap((r) => Object.keys(r)))];
  console.log(['metric', ...order].join('\t'));
  for (const key of keys) {
    console.log([key, ...order.map((name) => {
      const values = runs.get(name)!.map((r) => r[key]).filter((v) => v !== undefined);
      if (values.length === 0) return '-';
      const digits = Math.abs(median(values)) < 10 ? 2 : 1;
      return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
    })].join('\t'));
  }
  console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  mock.proc.kill('SIGKILL');
}
