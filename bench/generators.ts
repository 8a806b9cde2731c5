/** Runs one load phase with wrk (preferred: about 5 µs/req of its own) or the Node fallback in bench/loadgen.ts. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onPath, runToEnd, spawnChild } from './children.js';
import { classifyThreads, cpuDelta, cpuSnapshot, type ThreadRole } from './procfs.js';

export type GeneratorKind = 'wrk' | 'node';

export interface LoadSpec {
  url: string;
  body: string;
  /** Extra request headers (a peer's routing headers); content-type is always JSON. */
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** taskset CPU list for the generator, or undefined to leave it unpinned. */
  cpus: string | undefined;
  /** Open loop at this many requests a second (the Node generator only); absent: closed loop. */
  rate?: number;
}

export interface LoadResult {
  /** Completed responses, whatever their status. */
  requests: number;
  ok: number;
  /** wrk counts statuses >= 400 here (it has no 1xx/3xx bucket); the Node generator counts every non-2xx. */
  non2xx: number;
  /** Socket errors and timeouts: requests that got no response. */
  errors: number;
  errorKinds: Record<string, number>;
  durationS: number;
  /** 2xx responses per second: a target that fails fast must not look fast. */
  rps: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export function pickGenerator(requested: string): GeneratorKind {
  if (requested === 'node') return 'node';
  if (requested === 'wrk' || requested === 'auto') {
    if (onPath('wrk')) return 'wrk';
    if (requested === 'wrk') throw new Error('--generator wrk: wrk is not installed (apt-get install -y wrk)');
    return 'node';
  }
  throw new Error(`--generator must be auto, wrk or node, got ${requested}`);
}

/** The Lua script makes wrk POST the body and print its summary as one JSON line after a marker. */
function wrkScript(workDir: string, body: string, headers: Record<string, string>): string {
  if (body.includes(']==]')) throw new Error('request body cannot contain ]==]');
  const extra = Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join('');
  const path = join(workDir, 'post.lua');
  writeFileSync(
    path,
    `wrk.method = "POST"
wrk.body = [==[${body}]==]
wrk.headers["Content-Type"] = "application/json"
${extra}function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`,
  );
  return path;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

async function runWrk(spec: LoadSpec, workDir: string): Promise<LoadResult> {
  const script = wrkScript(workDir, spec.body, spec.headers);
  // wrk takes whole seconds only ("-d0.5s" is a usage error), so a sub-second phase runs for 1 s.
  const seconds = Math.max(1, Math.round(spec.seconds));
  const args = ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, spec.url];
  const child = spawnChild('wrk', 'wrk', args, spec.cpus);
  const code = await runToEnd(child, (seconds + 15) * 1000);
  const line = /^BENCHJSON (.*)$/m.exec(child.stdout());
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${child.stderr() || child.stdout()}`);
  const s = JSON.parse(line[1]) as WrkSummary;
  const durationS = s.durationUs / 1e6;
  const ok = s.requests - s.status;
  const errorKinds = { connect: s.connect, read: s.read, write: s.write, timeout: s.timeout };
  return {
    requests: s.requests,
    ok,
    non2xx: s.status,
    errors: s.connect + s.read + s.write + s.timeout,
    errorKinds: Object.fromEntries(Object.entries(errorKinds).filter(([, n]) => n > 0)),
    durationS,
    rps: ok / durationS,
    // wrk reports 0 when nothing completed; keep "no data" distinct from "fast".
    p50Ms: s.requests > 0 ? s.p50Us / 1000 : null,
    p99Ms: s.requests > 0 ? s.p99Us / 1000 : null,
    maxMs: s.requests > 0 ? s.maxUs / 1000 : null,
  };
}

async function runNode(spec: LoadSpec, loadgenJs: string): Promise<LoadResult> {
  const args = [
    loadgenJs,
    '--url', spec.url,
    '--body', spec.body,
    '--connections', String(spec.connections),
    '--duration', String(spec.seconds),
    '--headers', JSON.stringify(spec.headers),
    ...(spec.rate ? ['--rate', String(spec.rate)] : []),
  ];
  const child = spawnChild('loadgen', process.execPath, args, spec.cpus);
  const code = await runToEnd(child, (spec.seconds + 15) * 1000);
  const line = child.stdout().trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`node loadgen failed (exit ${code}): ${child.stderr()}`);
  const r = JSON.parse(line) as Omit<LoadResult, 'rps'>;
  return { ...r, rps: r.ok / r.durationS };
}

export function runLoad(kind: GeneratorKind, spec: LoadSpec, workDir: string, loadgenJs: string): Promise<LoadResult> {
  if (spec.rate && kind === 'wrk') throw new Error('an open-loop rate needs the Node generator (wrk has no rate)');
  return kind === 'wrk' ? runWrk(spec, workDir) : runNode(spec, loadgenJs);
}

/**
 * A warm-up, then a measured window of load on one gateway process: the window's result, whether either failed, and
 * the CPU the process's threads used per answered request (µs), whole and by role (front, workers, the rest).
 */
export async function cpuWindow(kind: GeneratorKind, pid: number, spec: Omit<LoadSpec, 'seconds'>,
  seconds: { warmup: number; measured: number }, workDir: string, loadgenJs: string) {
  const warm = await runLoad(kind, { ...spec, seconds: seconds.warmup }, workDir, loadgenJs);
  const roles = new Map<number, ThreadRole>();
  classifyThreads(pid, roles);
  const before = cpuSnapshot(pid);
  const load = await runLoad(kind, { ...spec, seconds: seconds.measured }, workDir, loadgenJs);
  const after = cpuSnapshot(pid);
  classifyThreads(pid, roles);
  const { ns } = cpuDelta(before, after, roles);
  const perRequest = (value: number) => value / 1000 / Math.max(1, load.ok);
  return { warm, load, failed: load.non2xx + load.errors + warm.non2xx + warm.errors,
    cpuUsPerRequest: perRequest(ns.main + ns.workers + ns.other),
    byThread: { main: perRequest(ns.main), workers: perRequest(ns.workers), other: perRequest(ns.other) } };
}
