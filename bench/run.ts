/**
 * The benchmark kit's entry point. Scenario "throughput" (the default, chat non-streaming at saturation): the mock
 * upstream alone, the baseline proxy and Heimdall, pinned and unpinned. The other scenarios live in scenarios.ts.
 * See bench/README.md for the method. stdout: tables, then a one-line JSON summary as the last line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { bool, num, parseFlags, str } from './args.js';
import { type Child, freePort, killAll, spawnChild, stop, waitForHealth, waitForListening } from './children.js';
import { pickGenerator, runLoad, type GeneratorKind, type LoadSpec } from './generators.js';
import {
  classifyThreads,
  cpuDelta,
  cpuSnapshot,
  cpuTicks,
  otherProcessCpuSeconds,
  otherProcessTicks,
  peakRssMiB,
  stealPercent,
  type ThreadRole,
} from './procfs.js';
import { MODES, TARGETS, ratio, summarize, table, type Measurement, type Mode, type Target } from './report.js';
import { writeHtmlReport } from './report-html.js';
import { SCENARIOS, overheadOf, runScenario, scenarioTable, type Ctx, type Peer, type Point, type Scenario } from './scenarios.js';

const HELP = `usage: node dist/bench/run.js [--quick] [options]
  --quick               1 s warm-up, 3 s measure, 1 repetition (default 3 s, 10 s, 3)
  --warmup S --duration S --reps N
  --threads N           Heimdall worker threads for the openai provider (default 1)
  --connections N       load generator connections (default 64)
  --generator G         auto | wrk | node (default auto: wrk if installed)
  --targets LIST        subset of mock,baseline,heimdall (default all)
  --modes LIST          subset of pinned,unpinned (default both)
  --mock-latency-ms MS  upstream latency added by the mock (default 0)
  --ready-timeout S     how long Heimdall may take to answer GET /health 200 (default 15)
  --heimdall-js PATH    Heimdall entry point (default dist/src/main.js), e.g. another worktree's build
  --scenario LIST       throughput,overhead,streaming,isolation,bifrost or all (default throughput)
  --peers LIST          extra targets for the open-loop scenarios: portkey (needs npm install --prefix bench)
 overhead:   --rates 1000,3000,5000 --open-connections 64 (sockets of the open-loop generator; more requests queue, and count)
 streaming:  --stream-concurrency 1,64 --chunks 20 --chunk-gap-ms 5
 isolation:  --fast-rate 1000 --slow-rate 300 --slow-latency-ms 10000
 bifrost:    --bifrost-rate 3000 --bifrost-duration 60 (quick: 2) --bifrost-latency-ms 10000 --bifrost-connections 8000`;

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const JS = {
  mock: join(HERE, 'mock-upstream.js'),
  baseline: join(HERE, 'baseline-proxy.js'),
  loadgen: join(HERE, 'loadgen.js'),
  loopback: join(HERE, 'loopback.js'),
};
const PORTKEY_JS = join(HERE, '../../bench/node_modules/@portkey-ai/gateway/build/start-server.js');
const SUT_CPU = '0';
const AUX_CPU = '1';
const PATH = '/v1/chat/completions';
/** Above this share of one core used by unrelated processes during a measurement, the run is flagged as noisy. */
const NOISY_PERCENT = 5;
const messages = [{ role: 'user', content: 'Hello, how are you today?' }];
const BODY = {
  direct: JSON.stringify({ model: 'gpt-4o-mini', messages }),
  heimdall: JSON.stringify({ model: 'openai/gpt-4o-mini', messages }),
};

const flags = parseFlags(process.argv.slice(2));
if (flags.has('help')) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const quick = bool(flags, 'quick');
const opts = {
  quick,
  warmupS: num(flags, 'warmup', quick ? 1 : 3),
  durationS: num(flags, 'duration', quick ? 3 : 10),
  reps: Math.max(1, Math.floor(num(flags, 'reps', quick ? 1 : 3))),
  threads: Math.max(1, Math.floor(num(flags, 'threads', 1))),
  connections: Math.max(1, Math.floor(num(flags, 'connections', 64))),
  mockLatencyMs: num(flags, 'mock-latency-ms', 0),
  readyTimeoutMs: num(flags, 'ready-timeout', 15) * 1000,
  targets: listFlag('targets', TARGETS),
  modes: listFlag('modes', MODES),
  // Harness self-test only: a second baseline proxy stands in for Heimdall and is labelled as such.
  heimdallStub: bool(flags, 'heimdall-stub'),
  heimdallJs: flags.has('heimdall-js') ? resolve(str(flags, 'heimdall-js', '')) : join(ROOT, 'dist/src/main.js'),
  scenarios: ((): Scenario[] => {
    const picked = str(flags, 'scenario', 'throughput').split(',');
    if (picked.includes('all')) return [...SCENARIOS];
    const bad = picked.filter((p) => !SCENARIOS.includes(p as Scenario));
    if (bad.length) throw new Error(`--scenario: unknown ${bad.join(', ')} (allowed: ${SCENARIOS.join(', ')}, all)`);
    return SCENARIOS.filter((x) => picked.includes(x));
  })(),
  peers: str(flags, 'peers', '').split(',').filter(Boolean) as Peer[],
  scenarioOpts: {
    rates: str(flags, 'rates', '1000,3000,5000'),
    'open-connections': num(flags, 'open-connections', 64),
    'stream-concurrency': str(flags, 'stream-concurrency', '1,64'),
    chunks: num(flags, 'chunks', 20),
    'chunk-gap-ms': num(flags, 'chunk-gap-ms', 5),
    'fast-rate': num(flags, 'fast-rate', 1000),
    'slow-rate': num(flags, 'slow-rate', 300),
    'slow-latency-ms': num(flags, 'slow-latency-ms', 10_000),
    'bifrost-rate': num(flags, 'bifrost-rate', 3000),
    'bifrost-duration': num(flags, 'bifrost-duration', quick ? 2 : 60),
    'bifrost-latency-ms': num(flags, 'bifrost-latency-ms', 10_000),
    'bifrost-connections': num(flags, 'bifrost-connections', 8000),
  } as Record<string, number | string>,
};
for (const peer of opts.peers) if (peer !== 'portkey') throw new Error(`--peers: unknown ${peer} (allowed: portkey)`);
const generator: GeneratorKind = pickGenerator(str(flags, 'generator', 'auto'));

function listFlag<T extends string>(name: string, allowed: readonly T[]): T[] {
  const picked = str(flags, name, allowed.join(',')).split(',');
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

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function canPin(): string | null {
  if (availableParallelism() < 2) return 'fewer than 2 CPUs';
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).error) return 'taskset not found (util-linux)';
  return null;
}

function heimdallConfig(mockPort: number): string {
  const path = join(workDir, 'heimdall.json');
  const openai = {
    keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
    network_config: { base_url: `http://127.0.0.1:${mockPort}` },
    concurrency_and_buffer_size: { concurrency: 2000, buffer_size: 10000, threads: opts.threads },
  };
  writeFileSync(path, JSON.stringify({ providers: { openai } }));
  return path;
}

interface Started {
  sut: Child;
  url: string;
  body: string;
}

/** Starts fresh processes for one measurement; every child goes into `children` at once, so it is always stopped. */
async function start(target: Target, pinned: boolean, children: Child[]): Promise<Started> {
  const sutCpu = pinned ? SUT_CPU : undefined;
  const auxCpu = pinned ? AUX_CPU : undefined;
  const node = process.execPath;
  const mockArgs = [JS.mock, '--port', '0', '--latency-ms', String(opts.mockLatencyMs)];
  const mock = spawnChild('mock', node, mockArgs, target === 'mock' ? sutCpu : auxCpu);
  children.push(mock);
  const mockPort = await waitForListening(mock);
  if (target === 'mock') return { sut: mock, url: `http://127.0.0.1:${mockPort}${PATH}`, body: BODY.direct };

  if (target === 'baseline' || opts.heimdallStub) {
    const args = [JS.baseline, '--port', '0', '--upstream', `http://127.0.0.1:${mockPort}`];
    const proxy = spawnChild(target === 'baseline' ? 'baseline' : 'heimdall-stub', node, args, sutCpu);
    children.push(proxy);
    const port = await waitForListening(proxy);
    return { sut: proxy, url: `http://127.0.0.1:${port}${PATH}`, body: BODY.direct };
  }

  if (!existsSync(opts.heimdallJs)) throw new Error(`${relative(ROOT, opts.heimdallJs)} not found: build Heimdall first (tsc -b)`);
  const port = await freePort();
  const args = [opts.heimdallJs, '--config', heimdallConfig(mockPort), '--port', String(port), '--log-level', 'warn'];
  const heimdall = spawnChild('heimdall', node, args, sutCpu);
  children.push(heimdall);
  await waitForHealth(heimdall, `http://127.0.0.1:${port}/health`, opts.readyTimeoutMs);
  return { sut: heimdall, url: `http://127.0.0.1:${port}${PATH}`, body: BODY.heimdall };
}

async function probe(url: string, body: string): Promise<NonNullable<Measurement['probe']>> {
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
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

async function measure(target: Target, mode: Mode, rep: number): Promise<Measurement> {
  const pinned = mode === 'pinned';
  const children: Child[] = [];
  const m: Measurement = { rep, mode, target };
  try {
    const { sut, url, body } = await start(target, pinned, children);
    m.probe = await probe(url, body);
    const spec = (seconds: number): LoadSpec => ({
      url,
      body,
      connections: opts.connections,
      seconds,
      cpus: pinned ? AUX_CPU : undefined,
    });
    if (opts.warmupS > 0) m.warmup = await runLoad(generator, spec(opts.warmupS), workDir, JS.loadgen);

    const roles = new Map<number, ThreadRole>();
    await classify(sut.pid, roles);
    const ours = new Set([process.pid, ...children.map((c) => c.pid)]);
    const others0 = otherProcessTicks(ours);
    const ticks0 = cpuTicks();
    const cpu0 = cpuSnapshot(sut.pid);
    const load = await runLoad(generator, spec(opts.durationS), workDir, JS.loadgen);
    const cpu1 = cpuSnapshot(sut.pid);
    const ticks1 = cpuTicks();
    const othersSeconds = otherProcessCpuSeconds(others0, otherProcessTicks(ours));
    await classify(sut.pid, roles);

    const split = cpuDelta(cpu0, cpu1, roles);
    const perRequest = (ns: number): number => (load.requests > 0 ? ns / 1000 / load.requests : NaN);
    m.load = load;
    m.cpuUsPerRequest = {
      total: perRequest(split.ns.main + split.ns.workers + split.ns.other),
      main: perRequest(split.ns.main),
      workers: perRequest(split.ns.workers),
      other: perRequest(split.ns.other),
    };
    m.threads = split.threads;
    m.stealPercent = stealPercent(ticks0, ticks1);
    m.otherCpuPercent = (100 * othersSeconds) / load.durationS;
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
  const l = m.load!;
  const cpu = m.cpuUsPerRequest!;
  const bad = l.non2xx + l.errors > 0 ? `  non-2xx ${l.non2xx} errors ${l.errors} ${JSON.stringify(l.errorKinds)}` : '';
  const noisy = (m.otherCpuPercent ?? 0) > NOISY_PERCENT ? `  NOISY: other processes used ${m.otherCpuPercent!.toFixed(0)}% of a core` : '';
  return `${Math.round(l.rps)} rps  p50 ${l.p50Ms?.toFixed(2)} ms  p99 ${l.p99Ms?.toFixed(2)} ms  cpu ${cpu.total.toFixed(1)} µs/req${bad}${noisy}`;
}

/** Headline figures of the other scenarios for the summary line (Heimdall's, µs). */
function scenarioSummary(points: Partial<Record<Scenario, Point[]>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const h = (ps: Point[] | undefined) => (ps ?? []).filter((p) => p.target === 'heimdall' && p.load);
  if (points.overhead) {
    out.overhead_us = Object.fromEntries(h(points.overhead).map((p) => [p.variant, {
      p50: overheadOf(points.overhead!, p, 'p50'), p90: overheadOf(points.overhead!, p, 'p90'), p99: overheadOf(points.overhead!, p, 'p99'), success: p.successRate,
    }]));
  }
  if (points.streaming) {
    out.streaming_us = Object.fromEntries(h(points.streaming).map((p) => [p.variant, {
      ttfb_p50: overheadOf(points.streaming!, p, 'p50', 'ttfbUs'), ttfb_p99: overheadOf(points.streaming!, p, 'p99', 'ttfbUs'), gap_mean: overheadOf(points.streaming!, p, 'mean', 'gapUs'),
    }]));
  }
  if (points.isolation) out.isolation_fast_p99_us = Object.fromEntries(h(points.isolation).map((p) => [p.variant, p.latencyUs?.p99 ?? null]));
  if (points.bifrost) {
    out.bifrost = Object.fromEntries((points.bifrost ?? []).filter((p) => p.load).map((p) => [p.target, { success: p.successRate, p50_us: p.latencyUs?.p50, p99_us: p.latencyUs?.p99 }]));
  }
  return out;
}

async function main(): Promise<number> {
  const pinBlocker = canPin();
  const modes = opts.modes.filter((mode) => mode !== 'pinned' || !pinBlocker);
  if (pinBlocker && opts.modes.includes('pinned')) log(`pinned mode skipped: ${pinBlocker}`);
  log(`scenarios: ${opts.scenarios.join(', ')}; warm-up ${opts.warmupS} s, measure ${opts.durationS} s`);

  // Open-loop / streaming scenarios first (Node generator), then saturation throughput (wrk when installed).
  const scenarioPoints: Partial<Record<Scenario, Point[]>> = {};
  const ctx: Ctx = {
    root: ROOT,
    workDir,
    js: JS,
    heimdallJs: opts.heimdallJs,
    portkeyJs: existsSync(PORTKEY_JS) ? PORTKEY_JS : null,
    threads: opts.threads,
    readyTimeoutMs: opts.readyTimeoutMs,
    quick: opts.quick,
    warmupS: opts.warmupS,
    durationS: opts.durationS,
    sutCpu: pinBlocker ? undefined : SUT_CPU,
    auxCpu: pinBlocker ? undefined : AUX_CPU,
    log,
    noisyPercent: NOISY_PERCENT,
    opts: opts.scenarioOpts,
  };
  const peers: Peer[] = ['direct', 'baseline', 'heimdall', ...opts.peers];
  for (const scenario of opts.scenarios) {
    if (scenario === 'throughput') continue;
    const points = await runScenario(ctx, scenario, peers);
    scenarioPoints[scenario] = points;
    process.stdout.write(`\n${scenarioTable(ctx, scenario, points)}\n`);
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
          measurements.push({ rep, mode, target, error: `not started (failed earlier): ${heimdallBroken.split('\n')[0]}` });
          continue;
        }
        const m = await measure(target, mode, rep);
        log(`[${rep}/${opts.reps}] ${mode.padEnd(8)} ${target.padEnd(8)} ${brief(m)}`);
        if (m.error?.includes('\n')) log(m.error.split('\n').slice(1).join('\n'));
        if (m.probe?.status !== undefined && m.probe.status !== 200) {
          log(`  probe answered ${m.probe.status ?? 'nothing'}: ${m.probe.sample.slice(0, 200)}`);
        }
        if (target === 'heimdall' && m.error && !m.load) heimdallBroken = m.error;
        measurements.push(m);
      }
    }
  }

  const rows = throughput ? Object.fromEntries(modes.map((mode) => [mode, opts.targets.map((t) => summarize(measurements, mode, t))])) : {};
  const label = opts.heimdallStub ? ' (heimdall = STUB: a second baseline proxy)' : '';
  for (const mode of throughput ? modes : []) {
    const what = mode === 'pinned' ? 'process under test on CPU 0, mock + generator on CPU 1' : 'all processes share both CPUs';
    process.stdout.write(`\n${table(`${mode} (${what}), generator ${generator}, medians of ${opts.reps}${label}`, rows[mode])}\n`);
  }

  const row = (mode: Mode, target: Target) => rows[mode]?.find((r) => r.target === target);
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
    max_other_cpu_percent: Math.round(Math.max(0, ...measurements.map((m) => m.otherCpuPercent ?? 0),
      ...Object.values(scenarioPoints).flatMap((ps) => ps.map((p) => p.otherCpuPercent ?? 0)))),
    generator: throughput ? generator : null,
    open_loop_generator: opts.scenarios.some((x) => x !== 'throughput') ? 'node' : null,
    scenarios: opts.scenarios,
    ...scenarioSummary(scenarioPoints),
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
  };
  const bodies = { direct: BODY.direct, heimdall: BODY.heimdall };
  const html = file.replace(/\.json$/, '.html');
  summary.report = relative(ROOT, html);
  const result = { scenario: 'chat-completions', options: opts, generator, machine, bodies, summary, rows, measurements, scenarios: scenarioPoints };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  writeHtmlReport(html, result);
  process.stdout.write(`\nresults: ${summary.results}\nreport: ${summary.report}\n${JSON.stringify(summary)}\n`);
  // A run that failed somewhere, or saw error answers, is not a clean result: say so in the exit code too.
  // Isolation's failing provider is not measured (only the fast one is); any error on a measured load fails the run.
  const scenarioFailed = Object.values(scenarioPoints).some((ps) => ps.some((p) => p.error || (p.load && p.load.non2xx + p.load.errors > 0)));
  return scenarioFailed || measurements.some((m) => m.error || (m.load && m.load.non2xx + m.load.errors > 0)) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
