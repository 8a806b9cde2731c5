/**
 * The benchmark kit's entry point. Scenario "throughput" (the default, chat non-streaming at saturation): the mock
 * upstream alone, the baseline proxy and Heimdall, pinned and unpinned. The other scenarios live in scenarios.ts.
 * See bench/README.md for the method. stdout: tables, then a one-line JSON summary as the last line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { bool, num, parseFlags, str } from './args.js';
import { type Child, killAll, lastLines, stop } from './children.js';
import { pickGenerator, runLoad, type GeneratorKind, type LoadSpec } from './generators.js';
import {
  classifyThreads,
  cpuDelta,
  cpuSnapshot,
  cpuTicks,
  ephemeralPorts,
  openFilesLimit,
  otherProcessCpuSeconds,
  otherProcessTicks,
  peakRssMiB,
  stealPercent,
  type ThreadRole,
} from './procfs.js';
import { judgeGoals, goalsTable } from './goals.js';
import { Progress } from './progress.js';
import { loggedCause, MODES, TARGETS, ratio, summarize, table, type Measurement, type Mode, type Sample, type Target } from './report.js';
import { writeHtmlReport } from './report-html.js';
import { brief as clusterBrief, clusterPlanned, clusterTable, runCluster, type ClusterOptions, type ClusterResult } from './cluster.js';
import {
  ISOLATION_SOLO,
  SCENARIOS,
  overheadOf,
  p99VsSolo,
  plannedPoints,
  runScenario,
  scenarioTable,
  startMock,
  startTarget,
  type Ctx,
  type Endpoint,
  type Peer,
  type Point,
  type Scenario,
} from './scenarios.js';

const HELP = `usage: node dist/bench/run.js [--quick] [options]
  --quick               smoke run, under a minute: scenarios throughput + overhead at 1k and 3k req/s,
                        0.5 s warm-up, 1 s windows, 3 samples, 1 repetition (full: 3 s, 10 s, 3 samples, 3 repetitions)
  --warmup S --duration S --samples N --reps N
                        every throughput figure is the median of reps × samples windows, min–max shown beside it
  --threads N           Heimdall worker threads for the openai provider (default 1)
  --connections N       load generator connections (default 64)
  --generator G         auto | wrk | node (default auto: wrk if installed)
  --targets LIST        subset of mock,baseline,bare-hop,heimdall (default mock,baseline,heimdall; portkey joins with
                        --peers portkey; bare-hop is the baseline split over two threads by Heimdall's rings, the floor
                        of its design)
  --modes LIST          subset of pinned,unpinned (default both)
  --mock-latency-ms MS  upstream latency added by the mock (default 0)
  --ready-timeout S     how long Heimdall may take to answer GET /health 200 (default 15)
  --heimdall-js PATH    Heimdall entry point (default dist/src/main.js), e.g. another worktree's build
  --request-log on|off  Heimdall's request log as by default (on, content kept) or off (default on)
  --scenario LIST       throughput,overhead,streaming,isolation,bifrost,cluster or all (default throughput,overhead)
  --peers LIST          extra targets in every scenario: portkey (needs npm install --prefix bench); bare-hop (in the
                        overhead and streaming scenarios: the floor of the design, see --targets); minimum-hop (the
                        bare hop plus the least any gateway must do: parse to route, msgpack, the stream's events and
                        usage; see bench/bare-hop.ts); bytes-hop (the minimum hop forwarding the stream's bytes
                        untouched, only the usage's event parsed)
 overhead:   --rates 1000,3000,5000 (quick: 1000,3000) --open-connections 64 (sockets of the open-loop generator; more requests queue, and count)
 streaming:  --stream-concurrency 1,64 --chunks 20 --chunk-gap-ms 5
             --stream-burst-warmup 20000 (quick: 2000): streams answered back to back before the timed warm-up, so
             each target's JIT is done before CPU is counted (a lone stream 5 ms apart is 10 a second: a timed
             warm-up alone left V8's compiler threads at a fifth of Heimdall's CPU per stream)
 isolation:  --fast-rate 1000 --slow-rate 300 --slow-latency-ms 10000 --isolation-reps 3 (quick: 1; phases interleaved, medians)
             --isolation-duration 30 (quick: 1): seconds measured per sample, instead of --duration: at 1,000 req/s a
             10 s window's p99 is set by a single 100 ms stall of the machine
             --isolation-layout shared|pinned (default shared: the gateway on both cores, the sick load in the background class)
             --isolation-control (adds a control phase: the slow load through a second gateway process, whose CPU
             lands on the machine but not in the measured gateway; shown, not a goal). The baseline proxy has one
             upstream, so its sick load always goes through a second baseline process: the least CPU a gateway can
             spend on it, isolated by process
 cluster:    --cluster-processes 1,2 --cluster-threads 1,2 (each thread count runs every process count) --reps 3
             --cluster-duration 8 --cluster-samples 2 (quick: 1, 1) after a warm-up of --cluster-warmup-requests 100000 per
             gateway process (in rounds of --warmup s, at most --cluster-warmup-max 60 s); unpinned, closed loop, --connections;
             the configurations alternate, the order reversed every other repetition; CPU from /proc of the supervisor
             and every gateway process, per process from each one's share of the upstream bytes
 bifrost:    --bifrost-rate 3000 --bifrost-duration 60 (quick: 2) --bifrost-latency-ms 10000
             (scaled down, with a printed note, when the open-files limit cannot hold rate × latency sockets)`;

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const JS = {
  mock: join(HERE, 'mock-upstream.js'),
  baseline: join(HERE, 'baseline-proxy.js'),
  bareHop: join(HERE, 'bare-hop.js'),
  loadgen: join(HERE, 'loadgen.js'),
  loopback: join(HERE, 'loopback.js'),
};
const PORTKEY_JS = join(HERE, '../../bench/node_modules/@portkey-ai/gateway/build/start-server.js');
const SUT_CPU = '0';
const AUX_CPU = '1';
/** Above this share of one core used by unrelated processes during a measurement, the run is flagged as noisy. */
const NOISY_PERCENT = 5;
const flags = parseFlags(process.argv.slice(2));
if (flags.has('help')) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const quick = bool(flags, 'quick');
const opts = {
  quick,
  warmupS: num(flags, 'warmup', quick ? 0.5 : 3),
  durationS: num(flags, 'duration', quick ? 1 : 10),
  samples: Math.max(1, Math.floor(num(flags, 'samples', 3))),
  reps: Math.max(1, Math.floor(num(flags, 'reps', quick ? 1 : 3))),
  threads: Math.max(1, Math.floor(num(flags, 'threads', 1))),
  connections: Math.max(1, Math.floor(num(flags, 'connections', 64))),
  mockLatencyMs: num(flags, 'mock-latency-ms', 0),
  readyTimeoutMs: num(flags, 'ready-timeout', 15) * 1000,
  targets: listFlag('targets', TARGETS, 'mock,baseline,heimdall'),
  modes: listFlag('modes', MODES),
  heimdallStub: bool(flags, 'heimdall-stub'),
  requestLog: ((): boolean => {
    const value = str(flags, 'request-log', 'on');
    if (value !== 'on' && value !== 'off') throw new Error(`--request-log takes on or off, not '${value}'`);
    return value === 'on';
  })(),
  heimdallJs: flags.has('heimdall-js') ? resolve(str(flags, 'heimdall-js', '')) : join(ROOT, 'dist/src/main.js'),
  scenarios: ((): Scenario[] => {
    const picked = str(flags, 'scenario', 'throughput,overhead').split(',');
    if (picked.includes('all')) return [...SCENARIOS];
    const bad = picked.filter((p) => !SCENARIOS.includes(p as Scenario));
    if (bad.length) throw new Error(`--scenario: unknown ${bad.join(', ')} (allowed: ${SCENARIOS.join(', ')}, all)`);
    return SCENARIOS.filter((x) => picked.includes(x));
  })(),
  peers: str(flags, 'peers', '').split(',').filter(Boolean) as Peer[],
  scenarioOpts: {
    rates: str(flags, 'rates', quick ? '1000,3000' : '1000,3000,5000'),
    'open-connections': num(flags, 'open-connections', 64),
    'stream-concurrency': str(flags, 'stream-concurrency', '1,64'),
    chunks: num(flags, 'chunks', 20),
    'chunk-gap-ms': num(flags, 'chunk-gap-ms', 5),
    'stream-burst-warmup': num(flags, 'stream-burst-warmup', quick ? 2000 : 20_000),
    'fast-rate': num(flags, 'fast-rate', 1000),
    'slow-rate': num(flags, 'slow-rate', 300),
    'slow-latency-ms': num(flags, 'slow-latency-ms', 10_000),
    'isolation-reps': num(flags, 'isolation-reps', quick ? 1 : 3),
    'isolation-duration': num(flags, 'isolation-duration', quick ? 1 : 30),
    'isolation-layout': ((layout: string): string => {
      if (layout !== 'shared' && layout !== 'pinned') throw new Error(`--isolation-layout: ${layout} (allowed: shared, pinned)`);
      return layout;
    })(str(flags, 'isolation-layout', 'shared')),
    'isolation-control': bool(flags, 'isolation-control') ? 'on' : 'off',
    'bifrost-rate': num(flags, 'bifrost-rate', 3000),
    'bifrost-duration': num(flags, 'bifrost-duration', quick ? 2 : 60),
    'bifrost-latency-ms': num(flags, 'bifrost-latency-ms', 10_000),
  } as Record<string, number | string>,
};
const clusterList = (name: string, fallback: string): number[] => {
  const values = str(flags, name, fallback).split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`--${name}: whole numbers from 1, comma-separated`);
  return values;
};
const clusterOpts: Omit<ClusterOptions, 'generator'> = {
  processes: clusterList('cluster-processes', '1,2'),
  threads: clusterList('cluster-threads', '1,2'),
  reps: opts.reps,
  samples: Math.max(1, Math.floor(num(flags, 'cluster-samples', quick ? 1 : 2))),
  durationS: num(flags, 'cluster-duration', quick ? 1 : 8),
  connections: opts.connections,
  warmupRequests: Math.max(0, num(flags, 'cluster-warmup-requests', quick ? 0 : 100_000)),
  warmupMaxS: num(flags, 'cluster-warmup-max', quick ? 1 : 60),
};
const PEERS: readonly Peer[] = ['portkey', 'bare-hop', 'minimum-hop', 'bytes-hop'];
for (const peer of opts.peers) if (!PEERS.includes(peer)) throw new Error(`--peers: unknown ${peer} (allowed: ${PEERS.join(', ')})`);
// Peers run in every scenario, saturation throughput included.
if (opts.peers.includes('portkey') && !opts.targets.includes('portkey')) opts.targets.push('portkey');
const generator: GeneratorKind = pickGenerator(str(flags, 'generator', 'auto'));

function listFlag<T extends string>(name: string, allowed: readonly T[], fallback = allowed.join(',')): T[] {
  const picked = str(flags, name, fallback).split(',');
  const bad = picked.filter((p) => !allowed.includes(p as T));
  if (bad.length) throw new Error(`--${name}: unknown ${bad.join(', ')} (allowed: ${allowed.join(', ')})`);
  return allowed.filter((a) => picked.includes(a));
}

const workDir = mkdtempSync(join(tmpdir(), 'heimdall-bench-'));
function cleanup(): void {
  killAll();
  rmSync(workDir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping children\n`);
    process.exit(code);
  });
}

let progress: Progress | null = null;
let clusterLoad: { start: string; end: string } | null = null;
const log = (line: string): void => (progress ? progress.log(line) : void process.stderr.write(`${line}\n`));

function canPin(): string | null {
  if (availableParallelism() < 2) return 'fewer than 2 CPUs';
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).error) return 'taskset not found (util-linux)';
  return null;
}

interface Started {
  sut: Child;
  endpoint: Endpoint;
}

/**
 * Starts fresh processes for one measurement, with the scenarios' own helpers so every scenario runs the same
 * configurations; every child goes into `children` at once, so it is always stopped.
 */
async function start(ctx: Ctx, target: Target, pinned: boolean, children: Child[]): Promise<Started> {
  const sutCpu = pinned ? SUT_CPU : undefined;
  const auxCpu = pinned ? AUX_CPU : undefined;
  const pinCtx: Ctx = { ...ctx, sutCpu, auxCpu };
  const mockPort = await startMock(pinCtx, { latencyMs: opts.mockLatencyMs }, target === 'mock' ? sutCpu : auxCpu, children);
  if (target === 'mock') {
    const { endpoint } = await startTarget(pinCtx, 'direct', { openai: mockPort }, children);
    return { sut: children[0], endpoint };
  }
  // Harness self-test only: a second baseline proxy stands in for Heimdall and is labelled as such.
  const peer = target === 'heimdall' && opts.heimdallStub ? 'baseline' : target;
  const { sut, endpoint } = await startTarget(pinCtx, peer, { openai: mockPort }, children);
  return { sut: sut!, endpoint };
}

async function probe(endpoint: Endpoint): Promise<NonNullable<Measurement['probe']>> {
  try {
    const res = await request(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...endpoint.headers },
      body: endpoint.body(false),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, bytes: Buffer.byteLength(text), sample: text.slice(0, 300) };
  } catch (err) {
    return { status: null, bytes: 0, sample: (err as Error).message };
  }
}

/** Classifies the threads that exist now; threads running at that instant are retried a few times. */
async function classify(pid: number, roles: Map<number, ThreadRole>): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    classifyThreads(pid, roles);
    if ([...cpuSnapshot(pid).keys()].every((tid) => roles.has(tid))) return;
    await sleep(20);
  }
}

/** One window of load on running processes, with the CPU the process under test spent on it. */
async function sample(sut: Child, children: Child[], spec: LoadSpec): Promise<Sample> {
  const roles = new Map<number, ThreadRole>();
  await classify(sut.pid, roles);
  const ours = new Set([process.pid, ...children.map((c) => c.pid)]);
  const others0 = otherProcessTicks(ours);
  const ticks0 = cpuTicks();
  const cpu0 = cpuSnapshot(sut.pid);
  const load = await runLoad(generator, spec, workDir, JS.loadgen);
  const cpu1 = cpuSnapshot(sut.pid);
  const ticks1 = cpuTicks();
  const othersSeconds = otherProcessCpuSeconds(others0, otherProcessTicks(ours));
  await classify(sut.pid, roles);
  const split = cpuDelta(cpu0, cpu1, roles);
  const perRequest = (ns: number): number => (load.requests > 0 ? ns / 1000 / load.requests : NaN);
  return {
    load,
    cpuUsPerRequest: {
      total: perRequest(split.ns.main + split.ns.workers + split.ns.other),
      main: perRequest(split.ns.main),
      workers: perRequest(split.ns.workers),
      other: perRequest(split.ns.other),
    },
    threads: split.threads,
    stealPercent: stealPercent(ticks0, ticks1),
    otherCpuPercent: (100 * othersSeconds) / load.durationS,
    ...(load.non2xx + load.errors > 0 ? { targetLog: lastLines(sut, 5) } : {}),
  };
}

/** Fresh processes, one warm-up, then `opts.samples` measured windows back to back: each one is a sample of the medians. */
async function measure(ctx: Ctx, target: Target, mode: Mode, rep: number): Promise<Measurement> {
  const pinned = mode === 'pinned';
  const children: Child[] = [];
  const m: Measurement = { rep, mode, target, samples: [] };
  try {
    const { sut, endpoint } = await start(ctx, target, pinned, children);
    m.probe = await probe(endpoint);
    const spec = (seconds: number): LoadSpec => ({
      url: endpoint.url,
      body: endpoint.body(false),
      headers: endpoint.headers,
      connections: opts.connections,
      seconds,
      cpus: pinned ? AUX_CPU : undefined,
    });
    if (opts.warmupS > 0) m.warmup = await runLoad(generator, spec(opts.warmupS), workDir, JS.loadgen);
    for (let i = 0; i < opts.samples; i++) m.samples.push(await sample(sut, children, spec(opts.durationS)));
    m.peakRssMiB = peakRssMiB(sut.pid);
  } catch (err) {
    m.error = (err as Error).message;
  } finally {
    for (const child of children.reverse()) await stop(child);
  }
  return m;
}

/** Which code was measured: HEAD plus the number of uncommitted changes (others may be mid-edit). */
function gitState(): { commit: string; uncommittedFiles: number } | null {
  const git = (...args: string[]) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return null;
  return { commit: head.stdout.trim(), uncommittedFiles: git('status', '--porcelain').stdout.split('\n').filter(Boolean).length };
}

function brief(m: Measurement): string {
  if (m.error) return `ERROR ${m.error.split('\n')[0]}`;
  return m.samples.map((x) => {
    const l = x.load;
    const bad = l.non2xx + l.errors > 0 ? ` non-2xx ${l.non2xx} errors ${l.errors} ${JSON.stringify(l.errorKinds)}${loggedCause(m.target, x.targetLog)}` : '';
    const noisy = x.otherCpuPercent > NOISY_PERCENT ? ` NOISY(${x.otherCpuPercent.toFixed(0)}%)` : '';
    return `${Math.round(l.rps)} rps p99 ${l.p99Ms?.toFixed(2)} ms cpu ${x.cpuUsPerRequest.total.toFixed(1)} µs/req${bad}${noisy}`;
  }).join(' | ');
}

/** Headline figures of the other scenarios for the summary line (Heimdall's, µs). */
function scenarioSummary(points: Partial<Record<Scenario, Point[]>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const h = (ps: Point[] | undefined) => (ps ?? []).filter((p) => p.target === 'heimdall' && p.load);
  if (points.overhead) {
    // Flat keys for the headline rates (overhead_1k_p50_us …), then every rate in full.
    for (const p of h(points.overhead)) {
      const k = `overhead_${Number.parseFloat(p.variant) / 1000}k`;
      out[`${k}_p50_us`] = overheadOf(points.overhead, p, 'p50');
      out[`${k}_p99_us`] = overheadOf(points.overhead, p, 'p99');
      out[`${k}_success_rate`] = p.successRate ?? null;
    }
    out.overhead_us = Object.fromEntries(h(points.overhead).map((p) => [p.variant, {
      p50: overheadOf(points.overhead!, p, 'p50'), p90: overheadOf(points.overhead!, p, 'p90'), p99: overheadOf(points.overhead!, p, 'p99'), success: p.successRate,
    }]));
  }
  if (points.streaming) {
    out.streaming_us = Object.fromEntries(h(points.streaming).map((p) => [p.variant, {
      ttfb_p50: overheadOf(points.streaming!, p, 'p50', 'ttfbUs'), ttfb_p99: overheadOf(points.streaming!, p, 'p99', 'ttfbUs'), gap_mean: overheadOf(points.streaming!, p, 'mean', 'gapUs'),
    }]));
  }
  if (points.isolation) {
    out.isolation_fast_p99_us = Object.fromEntries(h(points.isolation).map((p) => [p.variant, p.latencyUs?.p99 ?? null]));
    out.isolation_p99_ratio = Object.fromEntries(h(points.isolation).filter((p) => p.variant !== ISOLATION_SOLO).map((p) => [p.variant, p99VsSolo(points.isolation!, p)]));
    out.isolation_paired_p99_ratio = Object.fromEntries(h(points.isolation).filter((p) => p.variant !== ISOLATION_SOLO).map((p) => [p.variant, p.pairedP99Ratio ?? null]));
    out.isolation_paired_p99_vs_control = Object.fromEntries(h(points.isolation).filter((p) => p.pairedP99VsControl).map((p) => [p.variant, p.pairedP99VsControl]));
  }
  if (points.bifrost) {
    out.bifrost = Object.fromEntries((points.bifrost ?? []).filter((p) => p.load).map((p) => [p.target, { variant: p.variant, success: p.successRate, p50_us: p.latencyUs?.p50, p99_us: p.latencyUs?.p99 }]));
  }
  return out;
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  const pinBlocker = canPin();
  const modes = opts.modes.filter((mode) => mode !== 'pinned' || !pinBlocker);
  if (pinBlocker && opts.modes.includes('pinned')) log(`pinned mode skipped: ${pinBlocker}`);
  log(`scenarios: ${opts.scenarios.join(', ')}; warm-up ${opts.warmupS} s, measure ${opts.durationS} s${opts.scenarios.includes('throughput') ? ` × ${opts.samples} samples × ${opts.reps} repetition(s)` : ''}` +
    (opts.scenarios.includes('isolation') ? ` (isolation ${opts.scenarioOpts['isolation-duration']} s × ${opts.scenarioOpts['isolation-reps']} repetition(s))` : ''));

  // Open-loop / streaming scenarios first (Node generator), then saturation throughput (wrk when installed).
  const scenarioPoints: Partial<Record<Scenario, Point[]>> = {};
  const ctx: Ctx = {
    root: ROOT,
    workDir,
    js: JS,
    heimdallJs: opts.heimdallJs,
    requestLog: opts.requestLog,
    portkeyJs: existsSync(PORTKEY_JS) ? PORTKEY_JS : null,
    threads: opts.threads,
    readyTimeoutMs: opts.readyTimeoutMs,
    quick: opts.quick,
    warmupS: opts.warmupS,
    durationS: opts.durationS,
    sutCpu: pinBlocker ? undefined : SUT_CPU,
    auxCpu: pinBlocker ? undefined : AUX_CPU,
    log,
    step: (line) => (progress ? progress.step(line) : log(line)),
    noisyPercent: NOISY_PERCENT,
    opts: opts.scenarioOpts,
  };
  const peers: Peer[] = ['direct', 'baseline', 'heimdall', ...opts.peers];
  if (opts.peers.includes('portkey') && !ctx.portkeyJs) log('portkey: not installed (npm install --prefix bench); its rows will say so');
  const throughputRuns = opts.scenarios.includes('throughput') ? opts.reps * modes.length * opts.targets.length : 0;
  const clusterRuns = opts.scenarios.includes('cluster') ? clusterPlanned(clusterOpts) : 0;
  progress = new Progress(throughputRuns + clusterRuns +
    opts.scenarios.reduce((n, x) => n + (x === 'throughput' || x === 'cluster' ? 0 : plannedPoints(ctx, x, peers)), 0));
  for (const scenario of opts.scenarios) {
    if (scenario === 'throughput' || scenario === 'cluster') continue;
    const points = await runScenario(ctx, scenario, peers);
    scenarioPoints[scenario] = points;
    process.stdout.write(`\n${scenarioTable(ctx, scenario, points)}\n`);
  }

  let cluster: ClusterResult | null = null;
  if (opts.scenarios.includes('cluster')) {
    const full: ClusterOptions = { ...clusterOpts, generator };
    log(`cluster: generator ${generator}; --processes ${full.processes.join(' vs ')}, threads ${full.threads.join(', ')}; ${full.reps} repetition(s) × ${full.samples} window(s) of ${full.durationS} s`);
    const loadAverage = (): string => loadavg().map((v) => v.toFixed(2)).join(' ');
    const startLoad = loadAverage();
    cluster = await runCluster(ctx, full, (m) => {
      progress?.step(`[cluster ${m.rep}/${full.reps}] processes ${m.processes} threads ${m.threads} ${clusterBrief(m, NOISY_PERCENT)}`);
    });
    clusterLoad = { start: startLoad, end: loadAverage() };
    process.stdout.write(`\n${clusterTable(cluster, full, NOISY_PERCENT)}\n  load average (1, 5, 15 min): ${clusterLoad.start} at the start, ${clusterLoad.end} at the end\n`);
  }

  const measurements: Measurement[] = [];
  let heimdallBroken: string | null = null;
  const throughput = opts.scenarios.includes('throughput');
  if (throughput) log(`throughput: generator ${generator}; ${opts.reps} repetition(s)`);
  for (let rep = 1; throughput && rep <= opts.reps; rep++) {
    for (const mode of modes) {
      for (const target of opts.targets) {
        if (target === 'heimdall' && heimdallBroken) {
          // It failed to start once: do not wait for it again, but keep the failure visible in every table.
          measurements.push({ rep, mode, target, samples: [], error: `not started (failed earlier): ${heimdallBroken.split('\n')[0]}` });
          continue;
        }
        progress.begin(`throughput ${mode} ${target}`);
        const m = await measure(ctx, target, mode, rep);
        progress.step(`[throughput ${rep}/${opts.reps}] ${mode.padEnd(8)} ${target.padEnd(8)} ${brief(m)}`);
        if (m.error?.includes('\n')) log(m.error.split('\n').slice(1).join('\n'));
        if (m.probe?.status !== undefined && m.probe.status !== 200) {
          log(`  probe answered ${m.probe.status ?? 'nothing'}: ${m.probe.sample.slice(0, 200)}`);
        }
        if (target === 'heimdall' && m.error && !m.samples.length) heimdallBroken = m.error;
        measurements.push(m);
      }
    }
  }

  const rows = throughput ? Object.fromEntries(modes.map((mode) => [mode, opts.targets.map((t) => summarize(measurements, mode, t))])) : {};
  const label = opts.heimdallStub ? ' (heimdall = STUB: a second baseline proxy)' : '';
  for (const mode of throughput ? modes : []) {
    const what = mode === 'pinned' ? 'process under test on CPU 0, mock + generator on CPU 1' : 'all processes share both CPUs';
    process.stdout.write(`\n${table(`${mode} (${what}), generator ${generator}, medians of ${opts.reps} repetition(s) × ${opts.samples} samples of ${opts.durationS} s${label}`, rows[mode])}\n`);
  }

  const row = (mode: Mode, target: Target) => rows[mode]?.find((r) => r.target === target);
  const goals = judgeGoals(rows, scenarioPoints, NOISY_PERCENT, cluster?.comparisons, cluster?.rows);
  const summary = {
    rps_ratio: ratio(row('unpinned', 'heimdall')?.rps, row('unpinned', 'baseline')?.rps),
    cpu_per_request_ratio: ratio(row('pinned', 'heimdall')?.cpu?.total, row('pinned', 'baseline')?.cpu?.total),
    heimdall_rps: row('unpinned', 'heimdall')?.rps ?? null,
    baseline_rps: row('unpinned', 'baseline')?.rps ?? null,
    mock_rps: row('unpinned', 'mock')?.rps ?? null,
    heimdall_pinned_rps: row('pinned', 'heimdall')?.rps ?? null,
    baseline_pinned_rps: row('pinned', 'baseline')?.rps ?? null,
    heimdall_cpu_us_per_req: row('pinned', 'heimdall')?.cpu?.total ?? null,
    baseline_cpu_us_per_req: row('pinned', 'baseline')?.cpu?.total ?? null,
    heimdall_non2xx: (row('pinned', 'heimdall')?.non2xx ?? 0) + (row('unpinned', 'heimdall')?.non2xx ?? 0),
    heimdall_errors: (row('pinned', 'heimdall')?.errors ?? 0) + (row('unpinned', 'heimdall')?.errors ?? 0),
    heimdall_failed: row('pinned', 'heimdall')?.failed ?? row('unpinned', 'heimdall')?.failed ?? null,
    heimdall_rps_range: row('unpinned', 'heimdall')?.rpsRange ?? null,
    baseline_rps_range: row('unpinned', 'baseline')?.rpsRange ?? null,
    heimdall_cpu_us_per_req_range: row('pinned', 'heimdall')?.cpuRange ?? null,
    baseline_cpu_us_per_req_range: row('pinned', 'baseline')?.cpuRange ?? null,
    portkey_rps: row('unpinned', 'portkey')?.rps ?? null,
    portkey_cpu_us_per_req: row('pinned', 'portkey')?.cpu?.total ?? null,
    rps_ratio_vs_portkey: ratio(row('unpinned', 'heimdall')?.rps, row('unpinned', 'portkey')?.rps),
    cpu_per_request_ratio_vs_portkey: ratio(row('pinned', 'heimdall')?.cpu?.total, row('pinned', 'portkey')?.cpu?.total),
    samples_per_figure: throughput ? opts.reps * opts.samples : null,
    max_other_cpu_percent: Math.round(Math.max(0, ...measurements.flatMap((m) => m.samples.map((x) => x.otherCpuPercent)),
      ...Object.values(scenarioPoints).flatMap((ps) => ps.map((p) => p.otherCpuPercent ?? 0)),
      ...(cluster?.measurements ?? []).flatMap((m) => m.windows.map((w) => w.otherCpuPercent)))),
    generator: throughput ? generator : null,
    open_loop_generator: opts.scenarios.some((x) => x !== 'throughput') ? 'node' : null,
    scenarios: opts.scenarios,
    ...scenarioSummary(scenarioPoints),
    ...(cluster ? { cluster: Object.fromEntries(cluster.comparisons.map((c) => {
      const row = (p: number) => cluster!.rows.find((r) => r.threads === c.threads && r.processes === p);
      const figures = (p: number) => ({ rps: row(p)?.rps, cpu_us_per_req: row(p)?.cpuTree, per_process_cpu_us_per_req: row(p)?.perProcess,
        front_us: row(p)?.front.median ?? null, workers_us: row(p)?.workers.median ?? null, other_us: row(p)?.other.median ?? null, supervisor_us: row(p)?.supervisor.median ?? null });
      return [`threads_${c.threads}`, { [`processes_${c.processes[0]}`]: figures(c.processes[0]), [`processes_${c.processes[1]}`]: figures(c.processes[1]),
        rps_ratio: c.rpsRatio, cpu_per_request_ratio: c.cpuTreeRatio, per_process_cpu_per_request_ratio: c.perProcessRatio }];
    })), cluster_load_average: clusterLoad } : {}),
    goals: Object.fromEntries(goals.map((g) => [g.goal, { value: g.value, met: g.met, noisy: g.noisy, host_bound: g.hostBound ?? false }])),
    quick: opts.quick,
    ...(opts.heimdallStub ? { heimdall_stub: true } : {}),
    results: '',
    report: '',
  };

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp}.json`);
  summary.results = relative(ROOT, file);
  const machine = {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? null,
    kernel: release(),
    node: process.version,
    wrk: generator === 'wrk' ? spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] : null,
    git: gitState(),
    pinned: pinBlocker ? `skipped: ${pinBlocker}` : `process under test on CPU ${SUT_CPU}, rest on CPU ${AUX_CPU}`,
    openFiles: openFilesLimit('self'),
    ephemeralPorts: ephemeralPorts(),
  };
  const html = file.replace(/\.json$/, '.html');
  summary.report = relative(ROOT, html);
  const result = { scenario: 'chat-completions', options: opts, ...(cluster ? { clusterOptions: clusterOpts } : {}), generator, machine, summary, goals, rows, measurements,
    scenarios: scenarioPoints, ...(cluster ? { cluster } : {}) };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  writeHtmlReport(html, result);
  progress.end();
  progress = null;
  const tookS = (Date.now() - startedAt) / 1000;
  log(`bench took ${tookS.toFixed(1)} s`);
  if (opts.quick && tookS > 60) log(`NOTE --quick is sized for under a minute on an idle 2-core machine; this one took ${tookS.toFixed(0)} s (busy machine?)`);
  process.stdout.write(`\n${goalsTable(goals)}\n\nresults: ${summary.results}\nreport: ${summary.report}\n${JSON.stringify(summary)}\n`);
  // A run that failed somewhere, or saw error answers, is not a clean result: say so in the exit code too.
  // Isolation's failing provider is not measured (only the fast one is); any error on a measured load fails the run.
  const scenarioFailed = Object.values(scenarioPoints).some((ps) => ps.some((p) => p.error || (p.load && p.load.non2xx + p.load.errors > 0)));
  const clusterFailed = cluster?.measurements.some((m) => m.error || m.windows.some((w) => w.load.non2xx + w.load.errors > 0)) ?? false;
  return scenarioFailed || clusterFailed || measurements.some((m) => m.error || m.samples.some((x) => x.load.non2xx + x.load.errors > 0)) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
