/**
 * Scenarios beyond saturation throughput (which stays in run.ts): overhead at fixed rates, streaming, isolation
 * between providers, and Bifrost's CI recipe. Each one measures the mock directly, the baseline proxy and Heimdall
 * (and peers when asked) in the same run, with fresh processes per measurement and the Node generator (bench/loadgen.ts)
 * in open loop (latency from the intended send time) or closed loop (streams).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HOP_FLAGS, isHopTarget } from './bare-hop-worker.js';
import { type Child, freePort, lastLines, runToEnd, spawnChild, stop, waitForHealth, waitForListening } from './children.js';
import { percentilesOf, type HistogramJson } from './histogram.js';
import { alignedColumns, loggedCause, median, range } from './report.js';
import { cpuDelta, cpuSnapshot, classifyThreads, ephemeralPorts, openFilesLimit, otherProcessCpuSeconds, otherProcessTicks, type ThreadRole } from './procfs.js';

export const SCENARIOS = ['throughput', 'overhead', 'streaming', 'isolation', 'bifrost', 'cluster'] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** The scenarios made of latency points (this file); throughput lives in run.ts, cluster in cluster.ts. */
export type PointScenario = Exclude<Scenario, 'throughput' | 'cluster'>;
export type Peer = 'direct' | 'baseline' | 'bare-hop' | 'minimum-hop' | 'bytes-hop' | 'heimdall' | 'portkey';

export interface Ctx {
  root: string;
  workDir: string;
  js: { mock: string; baseline: string; bareHop: string; loadgen: string; loopback: string };
  heimdallJs: string;
  /** Whether Heimdall's request log is on (its default: on, content kept, in the working folder's data/). */
  requestLog: boolean;
  portkeyJs: string | null;
  threads: number;
  readyTimeoutMs: number;
  quick: boolean;
  warmupS: number;
  durationS: number;
  /** CPU for the process under test and for everything else, or undefined when not pinned. */
  sutCpu: string | undefined;
  auxCpu: string | undefined;
  log: (line: string) => void;
  /** Called with each finished point's result line (the progress bar). */
  step: (line: string) => void;
  noisyPercent: number;
  opts: Record<string, number | string>;
}

export interface GenResult {
  mode: 'open' | 'closed';
  rate: number | null;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  errorKinds: Record<string, number>;
  statuses: Record<string, number>;
  durationS: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  sent: number | null;
  maxSendLagMs: number | null;
  maxInFlight: number;
  chunks: number;
  hist: HistogramJson;
  ttfbHist?: HistogramJson;
  gapHist?: HistogramJson;
}

export interface Point {
  scenario: Scenario;
  /** The x of the measurement: a rate, a concurrency or a phase name. */
  variant: string;
  target: Peer;
  load?: GenResult;
  /** µs percentiles of the end-to-end latency (and TTFB/gaps when streaming). */
  latencyUs?: Record<string, number | null>;
  ttfbUs?: Record<string, number | null>;
  gapUs?: Record<string, number | null>;
  successRate?: number | null;
  /** What ran differs from what was asked, or a known defect of the target explains the figures. */
  note?: string;
  cpuUsPerRequest?: number | null;
  otherCpuPercent?: number;
  error?: string;
  /** The target's last lines of log when some answers failed: the cause a status alone does not tell. */
  targetLog?: string[];
  /** Samples behind a point made of repeated ones (medianOfSamples), and the range of their p99s. */
  samples?: number;
  p99RangeUs?: [number, number];
  /**
   * Isolation: each repetition's p99 over the solo p99 measured in the same repetition, a minute apart at most;
   * the median and range of those ratios. Pairing cancels the machine's drift, which moves every row together.
   */
  pairedP99Ratio?: { median: number; range: [number, number]; pairs: number };
  /**
   * Isolation with --isolation-control, the slow phase only: each repetition's p99 over the control phase's p99 of
   * the same repetition, i.e. the slow load through this gateway against the same load through a second process that
   * shares nothing with it. What is left over 1.0 is what the providers share inside the gateway.
   */
  pairedP99VsControl?: { median: number; range: [number, number]; pairs: number };
}

const PATH = '/v1/chat/completions';
/** The isolation phase every other phase is compared with: the healthy provider alone. */
export const ISOLATION_SOLO = 'fast alone';
/**
 * The control phase of `--isolation-control`: the slow neighbour's load goes through a second process of the same
 * gateway, so what it costs lands on the machine but not inside the measured one. Not a goal: it tells the two apart.
 */
export const ISOLATION_SLOW_ELSEWHERE = '+ slow, other gateway';
const messages = [{ role: 'user', content: 'Hello, how are you today?' }];
const body = (model: string, stream = false): string =>
  JSON.stringify(stream ? { model, messages, stream: true } : { model, messages });

export interface MockSpec {
  latencyMs?: number;
  chunks?: number;
  gapMs?: number;
  status?: number;
}

export async function startMock(ctx: Ctx, spec: MockSpec, cpu: string | undefined, children: Child[], name = 'mock', background = false): Promise<number> {
  const args = [ctx.js.mock, '--port', '0', '--latency-ms', String(spec.latencyMs ?? 0), '--chunks', String(spec.chunks ?? 20),
    '--chunk-gap-ms', String(spec.gapMs ?? 0), '--status', String(spec.status ?? 200)];
  const mock = spawnChild(name, process.execPath, args, cpu, background);
  children.push(mock);
  return waitForListening(mock);
}

export interface Endpoint {
  url: string;
  headers: Record<string, string>;
  /** Headers that route to provider `provider`, for targets that route on headers (Portkey). */
  headersFor?: (provider: string) => Record<string, string>;
  /** Request body for a model on provider `provider` (Heimdall routes on the model prefix). */
  body: (stream: boolean, provider?: string) => string;
}

interface Started {
  sut: Child | null;
  endpoint: Endpoint;
}

/** The most upstream connections per worker thread Heimdall's config accepts. */
const MAX_CONNS_PER_HOST = 10_000;

/** Heimdall config: one provider per mock; the first is `openai` unless `custom` (two keyless OpenAI-compatible ones). */
function heimdallConfig(ctx: Ctx, providers: Record<string, number>, custom: boolean): string {
  const path = join(ctx.workDir, `heimdall-${Date.now()}.json`);
  const conc = { concurrency: 20000, buffer_size: 20000, threads: ctx.threads };
  // Bifrost's recipe keeps 30,000 calls open (3,000 req/s × 10 s): allow each worker the most connections the config
  // takes, or the default 5,000 per origin would queue the rest inside undici.
  const network = (port: number) => ({ base_url: `http://127.0.0.1:${port}`, max_conns_per_host: MAX_CONNS_PER_HOST });
  const entries = Object.entries(providers).map(([name, port]) => [
    name,
    custom
      ? {
          custom_provider_config: { base_provider_type: 'openai', is_key_less: true },
          network_config: network(port),
          concurrency_and_buffer_size: conc,
        }
      : {
          keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
          network_config: network(port),
          concurrency_and_buffer_size: conc,
        },
  ]);
  writeFileSync(path, JSON.stringify({ ...(ctx.requestLog ? {} : { client: { enable_logging: false } }),
    providers: Object.fromEntries(entries) }));
  return path;
}

/**
 * Starts the target in front of the mock(s). `mocks` maps a provider name to a mock port; 'direct' and the
 * single-upstream proxies use the first one.
 */
export async function startTarget(ctx: Ctx, target: Peer, mocks: Record<string, number>, children: Child[], upstreamConnections = 128,
  heimdallArgs: readonly string[] = []): Promise<Started> {
  const first = Object.values(mocks)[0];
  const node = process.execPath;
  const plain: Endpoint['body'] = (stream) => body('gpt-4o-mini', stream);
  if (target === 'direct') return { sut: null, endpoint: { url: `http://127.0.0.1:${first}${PATH}`, headers: {}, body: plain } };
  if (target === 'baseline' || isHopTarget(target)) {
    const js = target === 'baseline' ? ctx.js.baseline : ctx.js.bareHop;
    const proxy = spawnChild(target, node, [js, '--port', '0', '--upstream', `http://127.0.0.1:${first}`, '--connections', String(upstreamConnections),
      ...(target === 'baseline' ? [] : HOP_FLAGS[target])], ctx.sutCpu);
    children.push(proxy);
    const port = await waitForListening(proxy);
    return { sut: proxy, endpoint: { url: `http://127.0.0.1:${port}${PATH}`, headers: {}, body: plain } };
  }
  if (target === 'portkey') {
    if (!ctx.portkeyJs) throw new Error('portkey not installed (npm install --prefix bench)');
    const port = await freePort();
    const args = ['--import', ctx.js.loopback, ctx.portkeyJs, `--port=${port}`, '--headless'];
    const pk = spawnChild('portkey', node, args, ctx.sutCpu);
    children.push(pk);
    await waitForHealth(pk, `http://127.0.0.1:${port}/`, ctx.readyTimeoutMs);
    // Portkey routes on headers: each mock is a custom host of its OpenAI provider.
    const headersFor = (provider: string): Record<string, string> => ({
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `http://127.0.0.1:${mocks[provider] ?? first}/v1`,
      authorization: 'Bearer sk-bench',
    });
    return { sut: pk, endpoint: { url: `http://127.0.0.1:${port}${PATH}`, headers: headersFor(Object.keys(mocks)[0]), headersFor, body: plain } };
  }
  if (!existsSync(ctx.heimdallJs)) throw new Error(`${relative(ctx.root, ctx.heimdallJs)} not found: build Heimdall first (tsc -b)`);
  const custom = Object.keys(mocks)[0] !== 'openai';
  const port = await freePort();
  const args = [ctx.heimdallJs, '--config', heimdallConfig(ctx, mocks, custom), '--port', String(port), '--log-level', 'warn', ...heimdallArgs];
  const h = spawnChild('heimdall', node, args, ctx.sutCpu);
  children.push(h);
  await waitForHealth(h, `http://127.0.0.1:${port}/health`, ctx.readyTimeoutMs);
  const first0 = Object.keys(mocks)[0];
  return {
    sut: h,
    endpoint: { url: `http://127.0.0.1:${port}${PATH}`, headers: {}, body: (stream, provider) => body(`${provider ?? first0}/gpt-4o-mini`, stream) },
  };
}

export interface GenSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  seconds: number;
  /** Warm-up inside the generator process, not counted; CPU accounting starts after it. */
  warmupS?: number;
  /** Requests answered back to back before the timed warm-up, to compile the target's hot paths (see loadgen.ts). */
  burstWarmup?: number;
  rate?: number;
  connections: number;
  stream?: boolean;
  timeoutS?: number;
  drainS?: number;
  cpu: string | undefined;
  /** Runs the generator in the background scheduling class (see spawnChild). */
  background?: boolean;
}

export function startGen(ctx: Ctx, spec: GenSpec): { child: Child; result: Promise<GenResult> } {
  const args = [ctx.js.loadgen, '--url', spec.url, '--body', spec.body, '--connections', String(spec.connections),
    '--duration', String(spec.seconds), '--warmup', String(spec.warmupS ?? 0), '--timeout', String(spec.timeoutS ?? 30), '--drain', String(spec.drainS ?? 15)];
  if (spec.rate) args.push('--rate', String(spec.rate));
  if (spec.stream) args.push('--stream');
  if (spec.burstWarmup) args.push('--burst-warmup', String(spec.burstWarmup));
  if (Object.keys(spec.headers).length) args.push('--headers', JSON.stringify(spec.headers));
  const child = spawnChild('loadgen', process.execPath, args, spec.cpu, spec.background);
  const result = (async () => {
    // The burst warm-up's budget: 200 requests a second, a tenth of what a loaded gateway here still answers.
    const burstS = (spec.burstWarmup ?? 0) / 200;
    const code = await runToEnd(child, (spec.seconds + (spec.warmupS ?? 0) + burstS + (spec.drainS ?? 15) + 20) * 1000);
    const line = child.stdout().trim().split('\n').pop() ?? '';
    if (code !== 0 || !line.startsWith('{')) throw new Error(`node loadgen failed (exit ${code}): ${child.stderr().slice(-500)}`);
    return JSON.parse(line) as GenResult;
  })();
  return { child, result };
}

/** Runs one measured load against `sut` with CPU accounting (when there is a process under test). */
async function measured(ctx: Ctx, sut: Child | null, children: Child[], spec: GenSpec): Promise<Pick<Point, 'load' | 'cpuUsPerRequest' | 'otherCpuPercent' | 'targetLog'>> {
  const roles = new Map<number, ThreadRole>();
  const gen = startGen(ctx, spec);
  // A progress line every 10 s for long phases (Bifrost's recipe, drains), so a long run is visibly alive.
  const t0 = Date.now();
  const ticker = setInterval(() => ctx.log(`  … ${gen.child.name} running ${Math.round((Date.now() - t0) / 1000)} s (${spec.rate ? `${spec.rate}/s` : `${spec.connections} conns`} → ${spec.url})`), 10_000);
  void gen.result.finally(() => clearInterval(ticker)).catch(() => {});
  let ended = false;
  void gen.result.finally(() => (ended = true)).catch(() => {});
  while (!ended && !gen.child.stdout().includes('MEASURING')) await sleep(5);
  if (sut) classifyThreads(sut.pid, roles);
  const ours = new Set([process.pid, gen.child.pid, ...children.map((c) => c.pid)]);
  const others0 = otherProcessTicks(ours);
  const cpu0 = sut ? cpuSnapshot(sut.pid) : null;
  const load = await gen.result;
  const cpu1 = sut ? cpuSnapshot(sut.pid) : null;
  const othersSeconds = otherProcessCpuSeconds(others0, otherProcessTicks(ours));
  let cpuUsPerRequest: number | null = null;
  if (sut && cpu0 && cpu1 && load.requests > 0) {
    classifyThreads(sut.pid, roles);
    const split = cpuDelta(cpu0, cpu1, roles);
    cpuUsPerRequest = (split.ns.main + split.ns.workers + split.ns.other) / 1000 / load.requests;
  }
  const targetLog = sut && load.non2xx + load.errors > 0 ? lastLines(sut, 5) : [];
  return { load, cpuUsPerRequest, otherCpuPercent: (100 * othersSeconds) / Math.max(1, load.durationS),
    ...(targetLog.length > 0 ? { targetLog } : {}) };
}

function finish(p: Point): Point {
  const l = p.load;
  if (l) {
    p.latencyUs = percentilesOf(l.hist);
    if (l.ttfbHist) p.ttfbUs = percentilesOf(l.ttfbHist);
    if (l.gapHist) p.gapUs = { ...percentilesOf(l.gapHist), mean: l.gapHist.meanUs };
    const attempted = l.requests + l.errors;
    p.successRate = attempted > 0 ? l.ok / attempted : null;
    if (l.requests > 0 && l.ok === 0) {
      const statuses = Object.keys(l.statuses).map((code) => `HTTP ${code}`).join(', ');
      const why = p.target === 'portkey' && p.scenario === 'streaming'
        ? ": Portkey's streaming fails inside Portkey (Portkey-AI/gateway#1389: it appends headers to the upstream fetch Response, whose headers are immutable). These rows are failures, not measurements"
        : '';
      p.note = `${p.note ? `${p.note} ` : ''}every response was ${statuses}${why}.`;
    }
  }
  return p;
}

function brief(ctx: Ctx, p: Point): string {
  if (p.error) return `ERROR ${p.error.split('\n')[0]}`;
  const l = p.load!;
  const us = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(0)}ms` : `${v.toFixed(0)}µs`);
  const lat = p.ttfbUs ? `ttfb p50 ${us(p.ttfbUs.p50)} p99 ${us(p.ttfbUs.p99)} gap mean ${us(p.gapUs?.mean)}` : `p50 ${us(p.latencyUs?.p50)} p90 ${us(p.latencyUs?.p90)} p99 ${us(p.latencyUs?.p99)}`;
  const ok = `ok ${((p.successRate ?? 0) * 100).toFixed(2)}%`;
  const cpu = p.cpuUsPerRequest ? ` cpu ${p.cpuUsPerRequest.toFixed(1)} µs/req` : '';
  const bad = l.non2xx + l.errors > 0 ? ` non-2xx ${l.non2xx} errors ${l.errors} ${JSON.stringify(l.errorKinds)}${loggedCause(p.target, p.targetLog)}` : '';
  const noisy = (p.otherCpuPercent ?? 0) > ctx.noisyPercent ? ` NOISY ${p.otherCpuPercent!.toFixed(0)}%` : '';
  return `${(l.ok / l.durationS).toFixed(0)}/s ${lat} ${ok}${cpu}${bad}${noisy}`;
}

async function withProcs<T>(fn: (children: Child[]) => Promise<T>): Promise<T> {
  const children: Child[] = [];
  try {
    return await fn(children);
  } finally {
    for (const c of children.reverse()) await stop(c);
  }
}

const connectionsFor = (rate: number, latencyS: number): number => Math.max(64, Math.min(8000, Math.ceil(rate * (latencyS + 0.05) * 2)));

/** Measures one point in fresh processes; a failure is recorded on the point rather than ending the scenario. */
async function measurePoint(p: Point, out: Point[], progress: (p: Point) => void,
  run: (children: Child[]) => Promise<void>): Promise<void> {
  try {
    await withProcs(run);
  } catch (err) {
    p.error = (err as Error).message;
  }
  out.push(finish(p));
  progress(p);
}

// ---------------------------------------------------------------- scenarios

async function overhead(ctx: Ctx, targets: Peer[], progress: (p: Point) => void): Promise<Point[]> {
  const rates = String(ctx.opts.rates).split(',').map(Number).filter((n) => n > 0);
  const out: Point[] = [];
  for (const rate of rates) {
    for (const target of targets) {
      const p: Point = { scenario: 'overhead', variant: `${rate}/s`, target };
      await measurePoint(p, out, progress, async (children) => {
        const mockPort = await startMock(ctx, {}, target === 'direct' ? ctx.sutCpu : ctx.auxCpu, children);
        const { sut, endpoint } = await startTarget(ctx, target, { openai: mockPort }, children);
        Object.assign(p, await measured(ctx, sut ?? children[0], children, {
          url: endpoint.url, body: endpoint.body(false), headers: endpoint.headers, seconds: ctx.durationS, rate,
          warmupS: ctx.warmupS, connections: Number(ctx.opts['open-connections']), cpu: ctx.auxCpu,
        }));
      });
    }
  }
  return out;
}

async function streaming(ctx: Ctx, targets: Peer[], progress: (p: Point) => void): Promise<Point[]> {
  const concs = String(ctx.opts['stream-concurrency']).split(',').map(Number).filter((n) => n > 0);
  const gapMs = Number(ctx.opts['chunk-gap-ms']);
  const chunks = Number(ctx.opts.chunks);
  const out: Point[] = [];
  for (const c of concs) {
    for (const target of targets) {
      const p: Point = { scenario: 'streaming', variant: `${c} streams`, target };
      await measurePoint(p, out, progress, async (children) => {
        const mockPort = await startMock(ctx, { chunks, gapMs }, target === 'direct' ? ctx.sutCpu : ctx.auxCpu, children);
        const { sut, endpoint } = await startTarget(ctx, target, { openai: mockPort }, children);
        Object.assign(p, await measured(ctx, sut ?? children[0], children, {
          url: endpoint.url, body: endpoint.body(true), headers: endpoint.headers, seconds: ctx.durationS, warmupS: ctx.warmupS,
          burstWarmup: Number(ctx.opts['stream-burst-warmup']), connections: c, stream: true, cpu: ctx.auxCpu,
        }));
      });
    }
  }
  return out;
}

/**
 * Whether a target runs isolation's control phase (the slow load through a second process of it). Without a gateway
 * there is no elsewhere: direct's would be its slow phase again. The baseline proxy has one upstream, so its sick load
 * always goes through a second proxy: every phase of it is the control.
 */
function hasControlPhase(target: Peer): boolean {
  return target !== 'direct' && target !== 'baseline';
}

/** How many times each isolation phase runs (--isolation-reps, at least once). */
function isolationReps(ctx: Ctx): number {
  return Math.max(1, Math.floor(Number(ctx.opts['isolation-reps'])));
}

/** A paired ratio as the tables print it: the median, then the range. */
export function pairedRatioText(r: NonNullable<Point['pairedP99Ratio']>): string {
  return `${r.median.toFixed(2)}× (${r.range[0].toFixed(2)}–${r.range[1].toFixed(2)})`;
}

/**
 * Each repetition's sick p99 over the solo p99 of the same repetition (`sick[i]` and `solo[i]` measured side by
 * side); repetitions where either failed are left out.
 */
export function pairedP99Ratios(solo: readonly Point[], sick: readonly Point[]): Point['pairedP99Ratio'] {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(solo.length, sick.length); i++) {
    const a = sick[i].latencyUs?.p99;
    const b = solo[i].latencyUs?.p99;
    if (typeof a === 'number' && typeof b === 'number' && b > 0) ratios.push(a / b);
  }
  const middle = median(ratios);
  const spread = range(ratios);
  return middle === null || spread === null ? undefined : { median: middle, range: spread, pairs: ratios.length };
}

/**
 * One point from repeated samples of it: each latency percentile and the CPU figure are medians over the samples,
 * the success rate the worst of them; the load shown is the sample whose p99 is the median's.
 */
export function medianOfSamples(samples: Point[]): Point {
  const good = samples.filter((s) => s.load && s.latencyUs);
  if (!good.length) return samples[samples.length - 1];
  const p99s = good.map((g) => g.latencyUs!.p99);
  const p99 = median(p99s) ?? Infinity;
  const distance = (g: Point): number => Math.abs((g.latencyUs!.p99 ?? Infinity) - p99);
  const middle = good.reduce((best, g) => (distance(g) < distance(best) ? g : best));
  const failed = samples.length - good.length;
  return {
    ...middle,
    latencyUs: Object.fromEntries(Object.keys(middle.latencyUs!).map((k) => [k, median(good.map((g) => g.latencyUs![k]))])),
    cpuUsPerRequest: median(good.map((g) => g.cpuUsPerRequest)),
    successRate: Math.min(...good.map((g) => g.successRate ?? 0)),
    otherCpuPercent: Math.max(...good.map((g) => g.otherCpuPercent ?? 0)),
    samples: good.length,
    p99RangeUs: range(p99s) ?? undefined,
    // Failures in any sample count (the success rate is the worst sample's), so their log lines are kept too.
    targetLog: good.some((g) => g.targetLog) ? good.flatMap((g) => g.targetLog ?? []).slice(-5) : undefined,
    ...(failed ? { note: `${middle.note ? `${middle.note} ` : ''}${failed} of ${samples.length} samples failed: ${samples.find((s) => s.error)?.error?.split('\n')[0]}` } : {}),
  };
}

/**
 * A fast provider beside a slow one (10 s latency) or a failing one (100 % 5xx), in one Heimdall with two custom
 * providers. The fast provider gets the same open-loop rate in every phase; the sick one gets its own generator.
 * 'direct' runs the same two loads against the two mocks without a gateway: the machine's own share of the effect.
 * 'baseline' runs them through two baseline proxies, one per provider: the sick load costs the least CPU a proxy can
 * spend on it, and shares no process with the healthy one.
 *
 * What is measured is the gateway's isolation, so the rest of the machine is kept out of it: the sick provider's
 * generator and mock run in the background scheduling class (their CPU never delays the healthy generator), the slow
 * neighbour is measured in its steady state (started one latency early, so its answers flow and its connections are
 * reused, as with a provider that has been slow for a while), and the phases are interleaved over --isolation-reps
 * repetitions whose medians are compared, each sample --isolation-duration seconds long (30 by default): at 1,000
 * req/s one stall of the machine sets a 10 s window's p99 (1 % of it is 100 requests), and those moved by ±30 % and
 * more from run to run on a small VM. The gateway runs unpinned, as deployed (one core per provider thread is the
 * point of per-provider pools); --isolation-layout pinned puts it on one core and everything else on the other.
 */
async function isolation(ctx: Ctx, targets: Peer[], progress: (p: Point) => void): Promise<Point[]> {
  const fastRate = Number(ctx.opts['fast-rate']);
  const slowRate = Number(ctx.opts['slow-rate']);
  const slowLatencyMs = Number(ctx.opts['slow-latency-ms']);
  const seconds = Number(ctx.opts['isolation-duration']);
  const reps = isolationReps(ctx);
  const pinned = ctx.opts['isolation-layout'] === 'pinned';
  const layout: Ctx = { ...ctx, sutCpu: pinned ? ctx.sutCpu : undefined, auxCpu: pinned ? ctx.auxCpu : undefined };
  const phases: { name: string; slow: MockSpec | null; elsewhere?: boolean }[] = [
    { name: ISOLATION_SOLO, slow: null },
    { name: `+ slow (${slowLatencyMs / 1000} s)`, slow: { latencyMs: slowLatencyMs } },
    { name: '+ 100% 5xx', slow: { status: 503 } },
  ];
  if (ctx.opts['isolation-control'] === 'on') phases.push({ name: ISOLATION_SLOW_ELSEWHERE, slow: { latencyMs: slowLatencyMs }, elsewhere: true });
  const samples = new Map<string, Point[]>();
  for (let rep = 1; rep <= reps; rep++) {
    for (const phase of phases) {
      for (const target of targets.filter((t) => !phase.elsewhere || hasControlPhase(t))) {
        const p: Point = { scenario: 'isolation', variant: phase.name, target };
        const key = `${phase.name}\n${target}`;
        if (!samples.has(key)) samples.set(key, []);
        await measurePoint(p, samples.get(key)!, (q) => progress({ ...q, variant: reps > 1 ? `${q.variant} ${rep}/${reps}` : q.variant }), async (children) => {
          const fastPort = await startMock(layout, {}, layout.auxCpu, children, 'mock-fast');
          const slowPort = await startMock(layout, phase.slow ?? {}, layout.auxCpu, children, 'mock-slow', Boolean(phase.slow));
          let sut: Child | null = null;
          let fast: Endpoint;
          let slow: Endpoint;
          if (target === 'direct') {
            fast = { url: `http://127.0.0.1:${fastPort}${PATH}`, headers: {}, body: (s) => body('gpt-4o-mini', s) };
            slow = { url: `http://127.0.0.1:${slowPort}${PATH}`, headers: {}, body: (s) => body('gpt-4o-mini', s) };
          } else {
            const { sut: gateway, endpoint } = await startTarget(layout, target, { fast: fastPort, slow: slowPort }, children);
            sut = gateway;
            const route = (via: Endpoint, provider: string): Endpoint => ({ ...via, headers: via.headersFor?.(provider) ?? via.headers, body: (s) => via.body(s, provider) });
            fast = route(endpoint, 'fast');
            // The second gateway is a child like the mocks: stopped with them, its CPU not counted.
            if (target === 'baseline') {
              // As many upstream connections as Heimdall may hold, so the slow answers do not queue inside the proxy.
              slow = phase.slow ? (await startTarget(layout, target, { slow: slowPort }, children, MAX_CONNS_PER_HOST)).endpoint : endpoint;
            } else {
              slow = route(phase.elsewhere ? (await startTarget(layout, target, { fast: fastPort, slow: slowPort }, children)).endpoint : endpoint, 'slow');
            }
          }
          let background: ReturnType<typeof startGen> | null = null;
          if (phase.slow) {
            const slowS = (phase.slow as { latencyMs?: number }).latencyMs ? slowLatencyMs / 1000 : 0;
            const headStartS = slowS > 0 ? slowS + 2 : 0;
            background = startGen(layout, {
              url: slow.url, body: slow.body(false), headers: slow.headers, seconds: headStartS + ctx.warmupS + seconds + 1, rate: slowRate,
              connections: connectionsFor(slowRate, slowS || 0.05), timeoutS: slowLatencyMs / 1000 + 20, drainS: 1, cpu: layout.auxCpu, background: true,
            });
            children.push(background.child);
            if (headStartS > 0) await sleep(headStartS * 1000);
          }
          Object.assign(p, await measured(layout, sut, children, {
            url: fast.url, body: fast.body(false), headers: fast.headers, seconds, warmupS: ctx.warmupS, rate: fastRate,
            connections: Number(ctx.opts['open-connections']), cpu: layout.auxCpu,
          }));
          if (background) {
            await stop(background.child);
            await background.result.catch(() => null);
          }
        });
      }
    }
  }
  return phases.flatMap((phase) => targets.filter((target) => samples.has(`${phase.name}\n${target}`)).map((target) => {
    const own = samples.get(`${phase.name}\n${target}`)!;
    const point = medianOfSamples(own);
    if (phase.slow && reps > 1) point.pairedP99Ratio = pairedP99Ratios(samples.get(`${ISOLATION_SOLO}\n${target}`)!, own);
    const control = samples.get(`${ISOLATION_SLOW_ELSEWHERE}\n${target}`);
    if (control && phase.slow?.latencyMs && !phase.elsewhere) point.pairedP99VsControl = pairedP99Ratios(control, own);
    return point;
  }));
}

/** File descriptors a process keeps for itself (listen sockets, pipes, libraries, worker threads) beside its sockets. */
const FD_RESERVE = 1024;

/**
 * The rate Bifrost's recipe can run at on this machine. Every in-flight request holds a socket in the generator and
 * in the mock, and two in a proxy (client side and upstream side), for the whole upstream latency. Node raises each
 * process's soft open-files limit to the hard limit at start-up, so the hard limit is the budget; the ephemeral port
 * range bounds the sockets open to one upstream port. Above the budget the rate is scaled down, never silently.
 */
export function bifrostPlan(rate: number, latencyMs: number, limits: { hard: number }, ports: number): { rate: number; inFlight: number; note: string | null } {
  const holdS = latencyMs / 1000 + 0.5;
  const fit = Math.min(Math.floor((limits.hard - FD_RESERVE) / 2), ports - FD_RESERVE);
  const wanted = Math.ceil(rate * holdS);
  if (wanted <= fit) return { rate, inFlight: wanted, note: null };
  const scaled = Math.max(1, Math.floor(fit / holdS / 100) * 100 || Math.floor(fit / holdS));
  const note =
    `Bifrost's recipe at ${rate} req/s × ${latencyMs / 1000} s keeps ~${wanted.toLocaleString('en-US')} requests in flight: a proxy needs ` +
    `${(2 * wanted).toLocaleString('en-US')} sockets, but the open-files hard limit here is ${limits.hard.toLocaleString('en-US')} ` +
    `(and ${ports.toLocaleString('en-US')} ephemeral ports per upstream). RAN ${scaled} req/s INSTEAD ` +
    `(~${Math.ceil(scaled * holdS).toLocaleString('en-US')} in flight). To run the recipe as written, raise the open-files hard limit and the ephemeral port range (bench/README.md, "The final figures").`;
  return { rate: scaled, inFlight: Math.ceil(scaled * holdS), note };
}

/** Bifrost's CI recipe: upstream latency 10 s, 3,000 req/s open loop for 60 s (all three configurable). */
async function bifrost(ctx: Ctx, targets: Peer[], progress: (p: Point) => void): Promise<Point[]> {
  const latencyMs = Number(ctx.opts['bifrost-latency-ms']);
  const seconds = Number(ctx.opts['bifrost-duration']);
  const limits = openFilesLimit('self') ?? { soft: 1024, hard: 1024 };
  const plan = bifrostPlan(Number(ctx.opts['bifrost-rate']), latencyMs, limits, ephemeralPorts());
  if (plan.note) ctx.log(`bifrost: NOTE ${plan.note}`);
  const out: Point[] = [];
  // Heimdall's config takes at most 10,000 upstream connections per worker thread; more in flight queue inside undici.
  const heimdallHolds = MAX_CONNS_PER_HOST * ctx.threads;
  for (const target of targets) {
    const p: Point = { scenario: 'bifrost', variant: `${plan.rate}/s ${seconds}s @${latencyMs}ms`, target, ...(plan.note ? { note: plan.note } : {}) };
    if (target === 'heimdall' && plan.inFlight > heimdallHolds) {
      p.note = `${p.note ? `${p.note} ` : ''}Heimdall holds ${heimdallHolds.toLocaleString('en-US')} upstream connections (max_conns_per_host ${MAX_CONNS_PER_HOST} × ${ctx.threads} thread(s)); the rest of the ${plan.inFlight.toLocaleString('en-US')} in flight queue inside it (--threads raises it).`;
      ctx.log(`bifrost: NOTE ${p.note}`);
    }
    await measurePoint(p, out, progress, async (children) => {
      const mockPort = await startMock(ctx, { latencyMs }, target === 'direct' ? ctx.sutCpu : ctx.auxCpu, children);
      // With 10 s upstream latency every in-flight request holds an upstream socket: the baseline's pool must allow them.
      const { sut, endpoint } = await startTarget(ctx, target, { openai: mockPort }, children, plan.inFlight);
      for (const child of children) {
        const lim = openFilesLimit(child.pid);
        if (lim && lim.soft < plan.inFlight * (child === sut ? 2 : 1) + FD_RESERVE) {
          p.note = `${p.note ?? ''} ${child.name}'s soft open-files limit is ${lim.soft}: it cannot hold ${plan.inFlight} requests in flight.`.trim();
          ctx.log(`bifrost: NOTE ${child.name} soft open-files limit ${lim.soft} (hard ${lim.hard})`);
        }
      }
      Object.assign(p, await measured(ctx, sut ?? children[0], children, {
        url: endpoint.url, body: endpoint.body(false), headers: endpoint.headers, seconds, rate: plan.rate, connections: plan.inFlight,
        timeoutS: latencyMs / 1000 + 60, drainS: latencyMs / 1000 + 30, cpu: ctx.auxCpu,
      }));
    });
  }
  return out;
}

/** How many points a scenario will measure, for the progress bar. */
export function plannedPoints(ctx: Ctx, scenario: PointScenario, targets: Peer[]): number {
  const count = (list: string | number): number => String(list).split(',').filter((v) => Number(v) > 0).length;
  switch (scenario) {
    case 'overhead':
      return count(ctx.opts.rates) * targets.length;
    case 'streaming':
      return count(ctx.opts['stream-concurrency']) * targets.length;
    case 'isolation': {
      const control = ctx.opts['isolation-control'] === 'on' ? targets.filter(hasControlPhase).length : 0;
      return (3 * targets.length + control) * isolationReps(ctx);
    }
    case 'bifrost':
      return targets.length;
  }
}

export async function runScenario(ctx: Ctx, scenario: PointScenario, targets: Peer[]): Promise<Point[]> {
  const progress = (p: Point): void => ctx.step(`[${scenario}] ${p.variant.padEnd(14)} ${p.target.padEnd(8)} ${brief(ctx, p)}`);
  switch (scenario) {
    case 'overhead':
      return overhead(ctx, targets, progress);
    case 'streaming':
      return streaming(ctx, targets, progress);
    case 'isolation':
      return isolation(ctx, targets, progress);
    case 'bifrost':
      return bifrost(ctx, targets, progress);
  }
}

// ---------------------------------------------------------------- tables

function fmtUs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return Math.round(v).toLocaleString('en-US');
}

/** A scenario's table: variant and target on the left, figures aligned on the right. */
function grid(title: string, header: string[], rows: string[][]): string {
  return [title, ...alignedColumns(header, rows, 2)].join('\n');
}

/** Difference of a percentile against the 'direct' point of the same variant: the gateway's added latency. */
export function overheadOf(points: Point[], p: Point, key: string, field: 'latencyUs' | 'ttfbUs' | 'gapUs' = 'latencyUs'): number | null {
  const direct = points.find((d) => d.variant === p.variant && d.target === 'direct');
  const a = p[field]?.[key];
  const b = direct?.[field]?.[key];
  return typeof a === 'number' && typeof b === 'number' ? a - b : null;
}

/** Isolation compares a target with itself alone (the other scenarios compare with the mock direct): p99 ÷ solo p99. */
export function p99VsSolo(points: Point[], p: Point): number | null {
  const solo = points.find((s) => s.scenario === 'isolation' && s.target === p.target && s.variant === ISOLATION_SOLO);
  const a = p.latencyUs?.p99;
  const b = solo?.latencyUs?.p99;
  return p.scenario === 'isolation' && typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null;
}

export function scenarioTable(ctx: Ctx, scenario: PointScenario, points: Point[]): string {
  const noisy = (p: Point): string => ((p.otherCpuPercent ?? 0) > ctx.noisyPercent ? ` NOISY(${p.otherCpuPercent!.toFixed(0)}%)` : '');
  const okPct = (p: Point): string => (p.successRate === null || p.successRate === undefined ? '–' : `${(p.successRate * 100).toFixed(2)}%`);
  const bad = (p: Point): string => (p.load ? `${p.load.non2xx}/${p.load.errors}` : 'FAILED');
  const failures = points.filter((p) => p.error).map((p) => `  ${p.variant} ${p.target} FAILED: ${p.error!.split('\n')[0]}`);
  // A note every point shares (a scaled-down Bifrost rate) is printed once; the others name their point.
  const shared = (note: string): boolean => points.every((p) => p.note === note);
  const notes = [...new Set(points.filter((p) => p.note).map((p) => `  NOTE ${shared(p.note!) ? '' : `${p.variant} ${p.target}: `}${p.note}`))];
  let text: string;
  if (scenario === 'streaming') {
    text = grid(
      'streaming (closed loop; TTFB and chunk gaps in µs; overhead = target − direct)',
      ['variant', 'target', 'streams/s', 'ttfb p50', 'ttfb p99', 'ttfb ovh p50', 'ttfb ovh p99', 'gap mean', 'gap ovh mean', 'gap p99', 'chunks/stream', 'CPU µs/stream', 'ok', 'non2xx/err'],
      points.map((p) => [
        p.variant, p.target + noisy(p), p.load ? (p.load.ok / p.load.durationS).toFixed(0) : '–',
        fmtUs(p.ttfbUs?.p50), fmtUs(p.ttfbUs?.p99), fmtUs(overheadOf(points, p, 'p50', 'ttfbUs')), fmtUs(overheadOf(points, p, 'p99', 'ttfbUs')),
        fmtUs(p.gapUs?.mean), fmtUs(overheadOf(points, p, 'mean', 'gapUs')), fmtUs(p.gapUs?.p99),
        p.load && p.load.requests ? (p.load.chunks / p.load.requests).toFixed(1) : '–', p.cpuUsPerRequest ? p.cpuUsPerRequest.toFixed(0) : '–', okPct(p), bad(p),
      ]),
    );
  } else {
    const title = {
      overhead: 'overhead at fixed rates (open loop, latency from intended send time, µs; overhead = target − direct)',
      isolation: 'isolation: the healthy provider\'s latency (open loop, µs) alone and beside a sick one, medians of the samples; '
        + 'p99 ÷ solo ≤ 1.10 is the goal, paired (each repetition against the solo run beside it) when repeated',
      bifrost: 'Bifrost CI recipe (open loop, mock latency added; µs)',
    }[scenario];
    const iso = scenario === 'isolation';
    const soloRatio = (p: Point): string => {
      const r = p99VsSolo(points, p);
      return r === null ? '–' : `${r.toFixed(2)}×`;
    };
    text = grid(
      title,
      ['variant', 'target', 'ok/s', 'p50', 'p90', 'p99', 'max', 'ovh p50', 'ovh p90', 'ovh p99', 'ok', 'CPU µs/req', 'non2xx/err', ...(iso ? ['p99 ÷ solo', 'paired p99 ÷ solo (range)', 'p99 range (samples)'] : [])],
      points.map((p) => [
        p.variant, p.target + noisy(p), p.load ? (p.load.ok / p.load.durationS).toFixed(0) : '–',
        fmtUs(p.latencyUs?.p50), fmtUs(p.latencyUs?.p90), fmtUs(p.latencyUs?.p99), fmtUs(p.load?.maxMs == null ? null : p.load.maxMs * 1000),
        fmtUs(overheadOf(points, p, 'p50')), fmtUs(overheadOf(points, p, 'p90')), fmtUs(overheadOf(points, p, 'p99')),
        okPct(p), p.cpuUsPerRequest ? p.cpuUsPerRequest.toFixed(1) : '–', bad(p),
        ...(iso ? [soloRatio(p), p.pairedP99Ratio ? pairedRatioText(p.pairedP99Ratio) : '–', p.p99RangeUs ? `${fmtUs(p.p99RangeUs[0])}–${fmtUs(p.p99RangeUs[1])} (${p.samples})` : '–'] : []),
      ]),
    );
  }
  return [text, ...failures, ...notes].join('\n');
}
