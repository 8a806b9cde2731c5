/** Per-run records, their medians across repetitions, and the stdout table. */
import type { LoadResult } from './generators.js';
import type { ThreadRole } from './procfs.js';

export const TARGETS = ['mock', 'baseline', 'heimdall'] as const;
export type Target = (typeof TARGETS)[number];
export const MODES = ['pinned', 'unpinned'] as const;
export type Mode = (typeof MODES)[number];

export type CpuPerRequest = Record<ThreadRole | 'total', number>;

export interface Measurement {
  rep: number;
  mode: Mode;
  target: Target;
  /** First request's status and size, taken before warm-up, to explain errors in the load phase. */
  probe?: { status: number | null; bytes: number; sample: string };
  warmup?: LoadResult;
  load?: LoadResult;
  /** CPU µs per completed request of the process under test, by thread role. */
  cpuUsPerRequest?: CpuPerRequest;
  threads?: Record<ThreadRole, number>;
  stealPercent?: number;
  /** CPU used by unrelated processes during the measured run, in % of one core: the shared-machine noise. */
  otherCpuPercent?: number;
  peakRssMiB?: number | null;
  error?: string;
}

export interface Row {
  target: Target;
  runs: number;
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  cpu: CpuPerRequest | null;
  /** Summed over repetitions, never averaged away. */
  non2xx: number;
  errors: number;
  peakRssMiB: number | null;
  /** Spread across repetitions, to judge the medians: [min, max]. */
  rpsRange: [number, number] | null;
  cpuRange: [number, number] | null;
  maxStealPercent: number | null;
  maxOtherCpuPercent: number | null;
  failed: string | null;
}

function range(values: readonly (number | null | undefined)[]): [number, number] | null {
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
  const done = runs.filter((m) => m.load);
  const cpu = (key: keyof CpuPerRequest): number | null => median(done.map((m) => m.cpuUsPerRequest?.[key]));
  const total = cpu('total');
  return {
    target,
    runs: done.length,
    rps: median(done.map((m) => m.load?.rps)),
    p50Ms: median(done.map((m) => m.load?.p50Ms)),
    p99Ms: median(done.map((m) => m.load?.p99Ms)),
    cpu: total === null ? null : { total, main: cpu('main') ?? 0, workers: cpu('workers') ?? 0, other: cpu('other') ?? 0 },
    non2xx: done.reduce((n, m) => n + (m.load?.non2xx ?? 0), 0),
    errors: done.reduce((n, m) => n + (m.load?.errors ?? 0), 0),
    peakRssMiB: median(done.map((m) => m.peakRssMiB)),
    rpsRange: range(done.map((m) => m.load?.rps)),
    cpuRange: range(done.map((m) => m.cpuUsPerRequest?.total)),
    maxStealPercent: range(done.map((m) => m.stealPercent))?.[1] ?? null,
    maxOtherCpuPercent: range(done.map((m) => m.otherCpuPercent))?.[1] ?? null,
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

export function table(title: string, rows: readonly Row[]): string {
  const base = rows.find((r) => r.target === 'baseline');
  const header = ['target', 'RPS', '÷ base', 'p50 ms', 'p99 ms', 'CPU µs/req', 'main', 'workers', 'other', 'CPU ÷ base', 'non-2xx', 'errors', 'peak RSS MiB'];
  const body = rows.map((r) => [
    r.target,
    fmt(r.rps, 0),
    fmt(ratio(r.rps, base?.rps), 2),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.cpu?.total ?? null),
    fmt(r.cpu?.main ?? null),
    fmt(r.cpu?.workers ?? null),
    fmt(r.cpu?.other ?? null),
    fmt(ratio(r.cpu?.total, base?.cpu?.total), 2),
    String(r.non2xx),
    String(r.errors),
    fmt(r.peakRssMiB, 0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const failures = rows.filter((r) => r.failed).map((r) => `  ${r.target} FAILED: ${r.failed}`);
  const noise = Math.max(0, ...rows.map((r) => r.maxOtherCpuPercent ?? 0));
  const warning = noise > 5 ? [`  NOISY: other processes used up to ${noise.toFixed(0)}% of a core during a measurement`] : [];
  return [title, line(header), ...body.map(line), ...failures, ...warning].join('\n');
}
