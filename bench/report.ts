/** Per-run records, their medians across repetitions, and the stdout table. */
import type { LoadResult } from './generators.js';
import type { ThreadRole } from './procfs.js';

export const TARGETS = ['mock', 'baseline', 'bare-hop', 'heimdall', 'portkey'] as const;
export type Target = (typeof TARGETS)[number];
export const MODES = ['pinned', 'unpinned'] as const;
export type Mode = (typeof MODES)[number];

export type CpuPerRequest = Record<ThreadRole | 'total', number>;

/** One measured load window; a measurement takes several back to back on the same processes. */
export interface Sample {
  load: LoadResult;
  /** CPU µs per completed request of the process under test, by thread role. */
  cpuUsPerRequest: CpuPerRequest;
  threads: Record<ThreadRole, number>;
  stealPercent: number;
  /** CPU used by unrelated processes during the window, in % of one core: the shared-machine noise. */
  otherCpuPercent: number;
  /** The target's last lines of log when some answers failed: the cause a status alone does not tell. */
  targetLog?: string[];
}

export interface Measurement {
  rep: number;
  mode: Mode;
  target: Target;
  /** First request's status and size, taken before warm-up, to explain errors in the load phase. */
  probe?: { status: number | null; bytes: number; sample: string };
  warmup?: LoadResult;
  samples: Sample[];
  peakRssMiB?: number | null;
  error?: string;
}

export interface Row {
  target: Target;
  /** Measured windows behind the medians (repetitions × samples). */
  runs: number;
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  cpu: CpuPerRequest | null;
  /** Summed over repetitions, never averaged away. */
  non2xx: number;
  errors: number;
  peakRssMiB: number | null;
  /** Spread across every sample, to judge the medians: [min, max]. */
  rpsRange: [number, number] | null;
  cpuRange: [number, number] | null;
  maxStealPercent: number | null;
  maxOtherCpuPercent: number | null;
  failed: string | null;
}

export function range(values: readonly (number | null | undefined)[]): [number, number] | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return xs.length ? [Math.min(...xs), Math.max(...xs)] : null;
}

export function median(values: readonly (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

export function summarize(all: readonly Measurement[], mode: Mode, target: Target): Row {
  const runs = all.filter((m) => m.mode === mode && m.target === target);
  const samples = runs.flatMap((m) => m.samples);
  const cpu = (key: keyof CpuPerRequest): number | null => median(samples.map((s) => s.cpuUsPerRequest[key]));
  const total = cpu('total');
  return {
    target,
    runs: samples.length,
    rps: median(samples.map((s) => s.load.rps)),
    p50Ms: median(samples.map((s) => s.load.p50Ms)),
    p99Ms: median(samples.map((s) => s.load.p99Ms)),
    cpu: total === null ? null : { total, main: cpu('main') ?? 0, workers: cpu('workers') ?? 0, other: cpu('other') ?? 0 },
    non2xx: samples.reduce((n, s) => n + s.load.non2xx, 0),
    errors: samples.reduce((n, s) => n + s.load.errors, 0),
    peakRssMiB: median(runs.map((m) => m.peakRssMiB)),
    rpsRange: range(samples.map((s) => s.load.rps)),
    cpuRange: range(samples.map((s) => s.cpuUsPerRequest.total)),
    maxStealPercent: range(samples.map((s) => s.stealPercent))?.[1] ?? null,
    maxOtherCpuPercent: range(samples.map((s) => s.otherCpuPercent))?.[1] ?? null,
    failed: runs.find((m) => m.error)?.error?.split('\n')[0] ?? null,
  };
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null;
}

function fmt(value: number | null, digits = 1): string {
  if (value === null) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "min–max" of a spread, the way the tables and the report show it next to a median. */
export function spread(r: [number, number] | null, digits = 0): string {
  return r ? `${fmt(r[0], digits)}–${fmt(r[1], digits)}` : '–';
}

/** For a progress line: the last line the target logged about its failures, or nothing. */
export function loggedCause(target: string, lines: readonly string[] | undefined): string {
  return lines?.length ? ` (${target} logged: ${lines[lines.length - 1].slice(0, 300)})` : '';
}

/** Rows as aligned text columns under their header: the first `leftAligned` columns padded right, the rest left. */
export function alignedColumns(header: readonly string[], rows: readonly (readonly string[])[], leftAligned = 1): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((cells) => cells[i].length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i < leftAligned ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)];
}

/** `results` (name → values) as rows of median and range under a title line, then the figures as one JSON line. */
export function printMedians(title: string, results: Readonly<Record<string, readonly number[]>>, facts: Record<string, unknown>): void {
  const rows = Object.entries(results).map(([name, values]) => {
    const [lo, hi] = range(values) as [number, number];
    return [name, (median(values) as number).toFixed(1), `${lo.toFixed(1)}–${hi.toFixed(1)}`];
  });
  console.log(title);
  for (const line of alignedColumns(['records', 'median', 'range'], rows)) console.log(line);
  console.log(JSON.stringify({ ...facts, results }));
}

export function table(title: string, rows: readonly Row[]): string {
  const base = rows.find((r) => r.target === 'baseline');
  const header = ['target', 'n', 'RPS', 'RPS min–max', '÷ base', 'p50 ms', 'p99 ms', 'CPU µs/req', 'CPU min–max', 'main', 'workers', 'other', 'CPU ÷ base', 'non-2xx', 'errors', 'peak RSS MiB'];
  const body = rows.map((r) => [
    r.target,
    String(r.runs),
    fmt(r.rps, 0),
    spread(r.rpsRange),
    fmt(ratio(r.rps, base?.rps), 2),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.cpu?.total ?? null),
    spread(r.cpuRange, 1),
    fmt(r.cpu?.main ?? null),
    fmt(r.cpu?.workers ?? null),
    fmt(r.cpu?.other ?? null),
    fmt(ratio(r.cpu?.total, base?.cpu?.total), 2),
    String(r.non2xx),
    String(r.errors),
    fmt(r.peakRssMiB, 0),
  ]);
  const failures = rows.filter((r) => r.failed).map((r) => `  ${r.target} FAILED: ${r.failed}`);
  // wrk does not count a request still in flight when its window ends: a target slower than the window shows 0.
  const empty = rows.filter((r) => r.runs > 0 && r.rps === 0 && r.non2xx + r.errors === 0)
    .map((r) => `  NOTE ${r.target}: no request completed inside a window (requests in flight at its end are not counted); give it longer windows (--duration)`);
  const noise = Math.max(0, ...rows.map((r) => r.maxOtherCpuPercent ?? 0));
  const warning = noise > 5 ? [`  NOISY: other processes used up to ${noise.toFixed(0)}% of a core during a measurement`] : [];
  return [title, ...alignedColumns(header, body), ...failures, ...empty, ...warning].join('\n');
}

/** One measured window of a side-by-side CPU bench (request-log.ts, tracing.ts): a mode, its rate and CPU by thread. */
export interface ModeWindow<M extends string> {
  mode: M;
  rps: number;
  cpuUsPerRequest: number;
  byThread: { main: number; workers: number; other: number };
}

/**
 * Per mode, the medians and ranges over its windows, printed as a table with each mode's CPU ÷ the first mode's;
 * returns the rows (the first mode is the reference).
 */
export function printModeRows<M extends string>(windows: readonly ModeWindow<M>[], modes: readonly M[],
  run: { generator: string; connections: number; reps: number; durationS: number; warmupS: number }) {
  const rows = modes.map((mode) => {
    const of = windows.filter((w) => w.mode === mode);
    const cpu = of.map((w) => w.cpuUsPerRequest);
    const rps = of.map((w) => w.rps);
    return { mode, cpuUsPerRequest: median(cpu), cpuRange: range(cpu), rps: median(rps), rpsRange: range(rps),
      front: median(of.map((w) => w.byThread.main)), workers: median(of.map((w) => w.byThread.workers)),
      other: median(of.map((w) => w.byThread.other)) };
  });
  const first = rows[0].cpuUsPerRequest!;
  console.log(`\n${run.generator} generator, ${run.connections} connections, ${run.reps} repetitions × ${run.durationS} s `
    + `(after ${run.warmupS} s warm-up)`);
  const width = Math.max(8, ...modes.map((m) => m.length + 1));
  console.log(`${'mode'.padEnd(width)} CPU µs/request (median, range)   front  workers  other   req/s (median)   ÷ ${modes[0]}`);
  for (const r of rows) {
    console.log(`${r.mode.padEnd(width)} ${r.cpuUsPerRequest!.toFixed(1).padStart(7)} (${r.cpuRange![0].toFixed(1)}–${r.cpuRange![1].toFixed(1)})`
      .padEnd(width + 33) + `${r.front!.toFixed(1).padStart(5)}  ${r.workers!.toFixed(1).padStart(7)}  ${r.other!.toFixed(1).padStart(5)}`
      + `${r.rps!.toFixed(0).padStart(10)}         ${(r.cpuUsPerRequest! / first).toFixed(3)}`);
  }
  return rows;
}
