/**
 * Scenario "cluster": Heimdall with `--processes 1` against `--processes 2` on the same machine, unpinned, under the
 * throughput scenario's closed-loop load (64 connections), the two configurations alternating within the run. Each
 * window counts the CPU of the whole process tree from the processes' own counters (/proc/<pid>/stat: the supervisor
 * and every gateway process below it, found by parent pid), splits each gateway process by thread (front, provider
 * workers, other), and gives each gateway process its share of the requests from its upstream bytes (/proc/<pid>/io),
 * so its CPU per request is its own CPU over the requests it served.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { type Child, lastLines, stop } from './children.js';
import { runLoad, type GeneratorKind, type LoadResult } from './generators.js';
import {
  classifyThreads,
  cpuDelta,
  cpuSnapshot,
  descendants,
  ioBytes,
  machineBusyTicks,
  otherProcessCpuSeconds,
  otherProcessTicks,
  processTicks,
  type CpuSnapshot,
  type ThreadRole,
} from './procfs.js';
import { alignedColumns, median, range, ratio } from './report.js';
import { startMock, startTarget, type Ctx } from './scenarios.js';

const TICKS_PER_SECOND = 100;
const TICK_US = 1e6 / TICKS_PER_SECOND;

export interface ClusterOptions {
  /** Gateway processes of the two configurations, in the order of the first repetition. */
  processes: readonly number[];
  /** Provider worker threads; each value runs both configurations. */
  threads: readonly number[];
  reps: number;
  samples: number;
  durationS: number;
  connections: number;
  generator: GeneratorKind;
  /**
   * Requests each gateway process serves before the first window, however long that takes (up to
   * `warmupMaxS`): V8 compiles a process's hot code after so many calls, not after so many seconds, and each of N
   * processes sees 1/N of the load, so a warm-up in seconds leaves the cluster's windows in its JIT warm-up.
   */
  warmupRequests: number;
  warmupMaxS: number;
}

/** One gateway process over one window. */
export interface ProcessWindow {
  pid: number;
  /** Its share of the window's requests, from its upstream bytes; null when /proc/<pid>/io was unreadable. */
  requestShare: number | null;
  /** Its CPU (utime + stime) over the requests it served. */
  cpuUsPerRequest: number | null;
  /** Its threads' CPU (schedstat) by role, over the requests it served. */
  threadUsPerRequest: Record<ThreadRole, number> | null;
}

/** CPU µs per request of one window, every figure over all the window's requests. */
export interface ClusterCpu {
  /** The supervisor and every gateway process (utime + stime): what the gateway costs the machine per request. */
  tree: number;
  supervisor: number;
  /** The gateway processes' threads (schedstat) by role, summed over processes: the sizing model's inputs. */
  front: number;
  workers: number;
  other: number;
  /** The mock upstream alone. */
  mock: number;
  /** The whole machine's busy time (/proc/stat): gateway, mock, generator, the kernel and anyone else. */
  machine: number;
}

export interface ClusterWindow {
  load: LoadResult;
  cpu: ClusterCpu;
  processes: ProcessWindow[];
  /** The median over the gateway processes of their own CPU per request. */
  perProcess: number | null;
  /** Unrelated processes' CPU during the window, % of one core. */
  otherCpuPercent: number;
  /** A gateway process started or ended during the window (a restart): its figures are not comparable. */
  treeChanged: boolean;
}

export interface ClusterMeasurement {
  rep: number;
  processes: number;
  threads: number;
  windows: ClusterWindow[];
  /** The warm-up: requests served per gateway process, and its length. */
  warmup?: { requestsPerProcess: number; seconds: number };
  error?: string;
  targetLog?: string[];
}

/** A configuration over the repetitions: each repetition's figure is the median of its windows. */
export interface ClusterRow {
  processes: number;
  threads: number;
  reps: number;
  rps: Stat;
  cpuTree: Stat;
  perProcess: Stat;
  front: Stat;
  workers: Stat;
  other: Stat;
  supervisor: Stat;
  mock: Stat;
  machine: Stat;
  /** Summed over every window, never averaged away. */
  non2xx: number;
  errors: number;
  maxOtherCpuPercent: number | null;
  failed: string | null;
}

export interface Stat {
  median: number | null;
  range: [number, number] | null;
}

/** Two-process figures over one-process ones, medians over medians, for one thread count. */
export interface ClusterComparison {
  threads: number;
  processes: [number, number];
  rpsRatio: number | null;
  cpuTreeRatio: number | null;
  perProcessRatio: number | null;
}

export interface ClusterResult {
  rows: ClusterRow[];
  comparisons: ClusterComparison[];
  measurements: ClusterMeasurement[];
}

function stat(values: readonly (number | null | undefined)[]): Stat {
  return { median: median(values), range: range(values) };
}

/** The configurations of one repetition, the order reversed every other repetition so drift hits both alike. */
export function clusterOrder(opts: Pick<ClusterOptions, 'processes' | 'threads'>, rep: number): { processes: number; threads: number }[] {
  const processes = rep % 2 === 1 ? [...opts.processes] : [...opts.processes].reverse();
  return opts.threads.flatMap((threads) => processes.map((p) => ({ processes: p, threads })));
}

export interface TreeSnapshot {
  supervisor: number | null;
  gateways: number[];
  ticks: Map<number, number | null>;
  io: Map<number, number | null>;
  threads: Map<number, CpuSnapshot>;
}

/** With one process there is no supervisor: the process started is the gateway. With more, its children are. */
function gatewaysOf(root: number, processes: number): { supervisor: number | null; gateways: number[] } {
  return processes > 1 ? { supervisor: root, gateways: descendants(root) } : { supervisor: null, gateways: [root, ...descendants(root)] };
}

function snapshotTree(root: number, processes: number, known?: TreeSnapshot): TreeSnapshot {
  const { supervisor, gateways } = known ?? gatewaysOf(root, processes);
  const all = supervisor === null ? gateways : [supervisor, ...gateways];
  return {
    supervisor,
    gateways,
    ticks: new Map(all.map((pid) => [pid, processTicks(pid)])),
    io: new Map(gateways.map((pid) => [pid, ioBytes(pid)])),
    threads: new Map(gateways.map((pid) => [pid, cpuSnapshot(pid)])),
  };
}

/** Classifies the threads of every gateway process (retrying threads that were running at that instant). */
async function classifyAll(pids: readonly number[], roles: Map<number, Map<number, ThreadRole>>): Promise<void> {
  for (const pid of pids) {
    if (!roles.has(pid)) roles.set(pid, new Map());
    const known = roles.get(pid)!;
    for (let attempt = 0; attempt < 10; attempt++) {
      classifyThreads(pid, known);
      if ([...cpuSnapshot(pid).keys()].every((tid) => known.has(tid))) break;
      await sleep(20);
    }
  }
}

const delta = (a: number | null | undefined, b: number | null | undefined): number | null =>
  typeof a === 'number' && typeof b === 'number' ? b - a : null;

/** One window's figures from the snapshots around it. */
export function windowFigures(
  load: LoadResult,
  before: TreeSnapshot,
  after: TreeSnapshot,
  roles: ReadonlyMap<number, Map<number, ThreadRole>>,
  mockTicks: number | null,
  machineTicks: number,
): Omit<ClusterWindow, 'otherCpuPercent' | 'treeChanged'> {
  const n = load.requests;
  const perRequest = (us: number | null): number => (us !== null && n > 0 ? us / n : NaN);
  const ticksOf = (pid: number): number | null => delta(before.ticks.get(pid), after.ticks.get(pid));
  const supervisorTicks = before.supervisor === null ? 0 : ticksOf(before.supervisor) ?? 0;
  let treeTicks = supervisorTicks;
  const ioDeltas = before.gateways.map((pid) => delta(before.io.get(pid), after.io.get(pid)));
  const ioTotal = ioDeltas.every((d) => d !== null) ? ioDeltas.reduce<number>((a, d) => a + d!, 0) : null;
  const byRole: Record<ThreadRole, number> = { main: 0, workers: 0, other: 0 };
  const processes = before.gateways.map((pid, i): ProcessWindow => {
    const ticks = ticksOf(pid);
    treeTicks += ticks ?? 0;
    const split = cpuDelta(before.threads.get(pid) ?? new Map(), after.threads.get(pid) ?? new Map(), roles.get(pid) ?? new Map());
    for (const role of ['main', 'workers', 'other'] as const) byRole[role] += split.ns[role];
    const share = ioTotal !== null && ioTotal > 0 ? ioDeltas[i]! / ioTotal : before.gateways.length === 1 ? 1 : null;
    const served = share === null ? null : share * n;
    return {
      pid,
      requestShare: share,
      cpuUsPerRequest: ticks !== null && served ? (ticks * TICK_US) / served : null,
      threadUsPerRequest: served
        ? { main: split.ns.main / 1000 / served, workers: split.ns.workers / 1000 / served, other: split.ns.other / 1000 / served }
        : null,
    };
  });
  return {
    load,
    cpu: {
      tree: perRequest(treeTicks * TICK_US),
      supervisor: perRequest(supervisorTicks * TICK_US),
      front: perRequest(byRole.main / 1000),
      workers: perRequest(byRole.workers / 1000),
      other: perRequest(byRole.other / 1000),
      mock: perRequest(mockTicks === null ? null : mockTicks * TICK_US),
      machine: perRequest(machineTicks * TICK_US),
    },
    processes,
    perProcess: median(processes.map((p) => p.cpuUsPerRequest)),
  };
}

/** Waits until the gateway says every process is up (a supervisor reports ready first, its /health then counts them). */
async function waitForProcesses(url: string, processes: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      const body = (await res.body.json()) as { processes?: { up: number } };
      const up = body.processes?.up ?? 1;
      if (res.statusCode === 200 && up >= processes) return;
      last = `HTTP ${res.statusCode}, ${up} up`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`not all ${processes} processes up within ${timeoutMs} ms (last: ${last})`);
}

/**
 * Calls `round` (one round of load, resolving with the requests it served) until every one of `processes` has served
 * `perProcess` on average, or `maxS` seconds went by (at least one round either way).
 */
export async function warmUpRounds(round: () => Promise<number>, processes: number, perProcess: number, maxS: number,
  clock: () => number = Date.now): Promise<NonNullable<ClusterMeasurement['warmup']>> {
  const started = clock();
  let served = 0;
  do {
    served += await round();
  } while (served / processes < perProcess && (clock() - started) / 1000 < maxS);
  return { requestsPerProcess: Math.round(served / processes), seconds: (clock() - started) / 1000 };
}

async function measureOne(ctx: Ctx, opts: ClusterOptions, rep: number, processes: number, threads: number): Promise<ClusterMeasurement> {
  const m: ClusterMeasurement = { rep, processes, threads, windows: [] };
  const children: Child[] = [];
  const unpinned: Ctx = { ...ctx, threads, sutCpu: undefined, auxCpu: undefined };
  try {
    const mockPort = await startMock(unpinned, {}, undefined, children);
    const mock = children[0];
    const { sut, endpoint } = await startTarget(unpinned, 'heimdall', { openai: mockPort }, children, 128, ['--processes', String(processes)]);
    const root = sut!.pid;
    await waitForProcesses(endpoint.url.replace(/\/v1\/.*$/, '/health'), processes, ctx.readyTimeoutMs);
    const spec = (seconds: number) => ({ url: endpoint.url, body: endpoint.body(false), headers: endpoint.headers, connections: opts.connections, seconds, cpus: undefined });
    m.warmup = await warmUpRounds(async () => (await runLoad(opts.generator, spec(Math.max(1, ctx.warmupS)), ctx.workDir,
      ctx.js.loadgen)).requests, processes, opts.warmupRequests, opts.warmupMaxS);
    const roles = new Map<number, Map<number, ThreadRole>>();
    for (let i = 0; i < opts.samples; i++) {
      const before = snapshotTree(root, processes);
      if (before.gateways.length !== processes) throw new Error(`expected ${processes} gateway process(es) under pid ${root}, found ${before.gateways.length}`);
      await classifyAll(before.gateways, roles);
      const ours = new Set([process.pid, ...children.map((c) => c.pid), ...before.gateways]);
      const others0 = otherProcessTicks(ours);
      const mock0 = processTicks(mock.pid);
      const machine0 = machineBusyTicks();
      const t0 = snapshotTree(root, processes, before);
      const load = await runLoad(opts.generator, spec(opts.durationS), ctx.workDir, ctx.js.loadgen);
      const t1 = snapshotTree(root, processes, before);
      const machine1 = machineBusyTicks();
      const mock1 = processTicks(mock.pid);
      // The generator has exited by now, so it is not among the others (a process that came and went is missed).
      const othersSeconds = otherProcessCpuSeconds(others0, otherProcessTicks(ours));
      await classifyAll(before.gateways, roles);
      const now = gatewaysOf(root, processes).gateways;
      m.windows.push({
        ...windowFigures(load, t0, t1, roles, delta(mock0, mock1), machine1 - machine0),
        otherCpuPercent: (100 * othersSeconds) / Math.max(1e-9, load.durationS),
        treeChanged: now.join(',') !== before.gateways.join(','),
      });
    }
    if (m.windows.some((w) => w.load.non2xx + w.load.errors > 0)) m.targetLog = lastLines(sut!, 5);
  } catch (err) {
    m.error = (err as Error).message;
  } finally {
    for (const child of children.reverse()) await stop(child);
  }
  return m;
}

export function brief(m: ClusterMeasurement, noisyPercent: number): string {
  if (m.error) return `ERROR ${m.error.split('\n')[0]}`;
  const warm = m.warmup ? `warm-up ${m.warmup.requestsPerProcess} req/process in ${m.warmup.seconds.toFixed(0)} s: ` : '';
  return warm + m.windows.map((w) => {
    const bad = w.load.non2xx + w.load.errors > 0 ? ` non-2xx ${w.load.non2xx} errors ${w.load.errors}` : '';
    const noisy = w.otherCpuPercent > noisyPercent ? ` NOISY(${w.otherCpuPercent.toFixed(0)}%)` : '';
    const changed = w.treeChanged ? ' PROCESS-RESTARTED' : '';
    return `${Math.round(w.load.rps)} rps, ${w.cpu.tree.toFixed(1)} µs/req (per process ${w.perProcess?.toFixed(1) ?? '–'})${bad}${noisy}${changed}`;
  }).join(' | ');
}

/** Every configuration's row: each repetition counts once (the median of its windows), then median and range. */
export function clusterRows(measurements: readonly ClusterMeasurement[]): ClusterRow[] {
  const keys = [...new Set(measurements.map((m) => `${m.threads}:${m.processes}`))];
  return keys.map((key) => {
    const runs = measurements.filter((m) => `${m.threads}:${m.processes}` === key);
    const ok = runs.filter((m) => m.windows.length > 0);
    const perRep = (pick: (w: ClusterWindow) => number | null): Stat => stat(ok.map((m) => median(m.windows.map(pick))));
    const windows = ok.flatMap((m) => m.windows);
    return {
      processes: runs[0].processes,
      threads: runs[0].threads,
      reps: ok.length,
      rps: perRep((w) => w.load.rps),
      cpuTree: perRep((w) => w.cpu.tree),
      perProcess: perRep((w) => w.perProcess),
      front: perRep((w) => w.cpu.front),
      workers: perRep((w) => w.cpu.workers),
      other: perRep((w) => w.cpu.other),
      supervisor: perRep((w) => w.cpu.supervisor),
      mock: perRep((w) => w.cpu.mock),
      machine: perRep((w) => w.cpu.machine),
      non2xx: windows.reduce((n, w) => n + w.load.non2xx, 0),
      errors: windows.reduce((n, w) => n + w.load.errors, 0),
      maxOtherCpuPercent: range(windows.map((w) => w.otherCpuPercent))?.[1] ?? null,
      failed: runs.find((m) => m.error)?.error?.split('\n')[0] ?? null,
    };
  });
}

/** For each thread count, the larger process count against the smaller one. */
export function clusterComparisons(rows: readonly ClusterRow[]): ClusterComparison[] {
  const threads = [...new Set(rows.map((r) => r.threads))];
  return threads.flatMap((t) => {
    const mine = rows.filter((r) => r.threads === t).sort((a, b) => a.processes - b.processes);
    if (mine.length < 2) return [];
    const [one, many] = [mine[0], mine[mine.length - 1]];
    return [{
      threads: t,
      processes: [one.processes, many.processes] as [number, number],
      rpsRatio: ratio(many.rps.median, one.rps.median),
      cpuTreeRatio: ratio(many.cpuTree.median, one.cpuTree.median),
      perProcessRatio: ratio(many.perProcess.median, one.perProcess.median),
    }];
  });
}

export async function runCluster(ctx: Ctx, opts: ClusterOptions, onDone: (m: ClusterMeasurement) => void): Promise<ClusterResult> {
  const measurements: ClusterMeasurement[] = [];
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const { processes, threads } of clusterOrder(opts, rep)) {
      const m = await measureOne(ctx, opts, rep, processes, threads);
      measurements.push(m);
      onDone(m);
    }
  }
  const rows = clusterRows(measurements);
  return { rows, comparisons: clusterComparisons(rows), measurements };
}

export function clusterPlanned(opts: Pick<ClusterOptions, 'processes' | 'threads' | 'reps'>): number {
  return opts.processes.length * opts.threads.length * opts.reps;
}

function fmt(v: number | null, digits = 1): string {
  return v === null || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cell = (s: Stat, digits = 1): string => `${fmt(s.median, digits)} (${s.range ? `${fmt(s.range[0], digits)}–${fmt(s.range[1], digits)}` : '–'})`;

export function clusterTable(result: ClusterResult, opts: ClusterOptions, noisyPercent: number): string {
  const title = `cluster: --processes ${opts.processes.join(' vs ')}, unpinned, ${opts.generator} closed loop with ${opts.connections} connections; ` +
    `medians (min–max) over ${opts.reps} repetition(s), each the median of ${opts.samples} window(s) of ${opts.durationS} s; CPU in µs per request`;
  const header = ['processes', 'threads', 'reps', 'req/s', 'CPU/req, tree', 'per process', 'front', 'workers', 'other', 'supervisor', 'mock', 'machine', 'non-2xx/err'];
  const body = result.rows.map((r) => [
    String(r.processes), String(r.threads), String(r.reps), cell(r.rps, 0), cell(r.cpuTree), cell(r.perProcess),
    fmt(r.front.median), fmt(r.workers.median), fmt(r.other.median), fmt(r.supervisor.median), fmt(r.mock.median), fmt(r.machine.median),
    `${r.non2xx}/${r.errors}`,
  ]);
  const ratios = result.comparisons.map((c) =>
    `  threads ${c.threads}: ${c.processes[1]} ÷ ${c.processes[0]} processes: req/s ${fmt(c.rpsRatio, 2)}×, CPU/req (tree) ${fmt(c.cpuTreeRatio, 3)}×, ` +
    `CPU/req per process ${fmt(c.perProcessRatio, 3)}× (goal ≤ 1.05)`);
  const failures = result.rows.filter((r) => r.failed).map((r) => `  ${r.processes} process(es), threads ${r.threads} FAILED: ${r.failed}`);
  const noise = Math.max(0, ...result.rows.map((r) => r.maxOtherCpuPercent ?? 0));
  const warning = noise > noisyPercent ? [`  NOISY: other processes used up to ${noise.toFixed(0)}% of a core during a window`] : [];
  const restarted = result.measurements.some((m) => m.windows.some((w) => w.treeChanged)) ? ['  NOTE a gateway process restarted during a window (PROCESS-RESTARTED in the log)'] : [];
  const shared = '  The generator and the mock share the 2 cores with the gateway: req/s is what the machine has left for it, '
    + 'the CPU per request is the gateway\'s own (machine = everything busy, kernel included).';
  return [title, ...alignedColumns(header, body, 0), ...ratios, ...failures, ...warning, ...restarted, shared].join('\n');
}
