/**
 * The project's performance goals, each judged from one run's figures and printed as met / not met with the figure
 * behind it. They are reported, never asserted: on a shared or noisy machine a miss says as much about the box.
 */
import { ratio, type Mode, type Row, type Target } from './report.js';
import type { ClusterComparison, ClusterRow } from './cluster.js';
import { ISOLATION_SLOW_ELSEWHERE, ISOLATION_SOLO, overheadOf, p99VsSolo, type Point, type Scenario } from './scenarios.js';

export interface Goal {
  goal: string;
  /** The figure compared with the goal (a ratio, or µs), or null when the run did not measure it. */
  value: number | null;
  /** How the value was obtained, or what to run to obtain it. */
  figure: string;
  met: boolean | null;
  /** Some measurement behind the figure had unrelated processes using more than `noisyPercent` of a core. */
  noisy: boolean;
  /**
   * The machine alone missed the goal in the same run: the same loads with no gateway at all (isolation's direct
   * row) moved the healthy p99 past the bound, so no gateway's figure can meet it on this host.
   */
  hostBound?: boolean;
}

const us = (v: number): string => `${Math.round(v).toLocaleString('en-US')} µs`;
const rps = (v: number): string => `${Math.round(v).toLocaleString('en-US')} req/s`;
const range = (r: [number, number] | null, f: (v: number) => string): string => (r ? `, min–max ${f(r[0])}–${f(r[1])}` : '');

export function judgeGoals(
  rows: Partial<Record<Mode, Row[]>>,
  points: Partial<Record<Scenario, Point[]>>,
  noisyPercent: number,
  clusterComparisons?: readonly ClusterComparison[],
  clusterRows?: readonly ClusterRow[],
): Goal[] {
  const row = (mode: Mode, target: Target): Row | undefined => rows[mode]?.find((r) => r.target === target && r.runs > 0);
  const rowNoisy = (...rs: (Row | undefined)[]): boolean => rs.some((r) => (r?.maxOtherCpuPercent ?? 0) > noisyPercent);
  const pointNoisy = (...ps: (Point | undefined)[]): boolean => ps.some((p) => (p?.otherCpuPercent ?? 0) > noisyPercent);
  const goals: Goal[] = [];
  const missing = (goal: string, how: string): Goal => ({ goal, value: null, figure: `not measured (${how})`, met: null, noisy: false });

  // Saturation ratios: CPU on one pinned core, throughput with both cores shared.
  const cpuGoal = 'CPU per request ≤ 1.4× baseline (pinned)';
  const [hp, bp] = [row('pinned', 'heimdall'), row('pinned', 'baseline')];
  const cpuRatio = ratio(hp?.cpu?.total, bp?.cpu?.total);
  goals.push(cpuRatio === null ? missing(cpuGoal, '--scenario throughput --modes pinned')
    : { goal: cpuGoal, value: cpuRatio, figure: `${cpuRatio.toFixed(2)}× (${us(hp!.cpu!.total)} against ${us(bp!.cpu!.total)}${range(hp!.cpuRange, us)})`, met: cpuRatio <= 1.4, noisy: rowNoisy(hp, bp) });

  const rpsGoal = 'throughput, both cores, ≥ 1.2× baseline (unpinned)';
  const [hu, bu] = [row('unpinned', 'heimdall'), row('unpinned', 'baseline')];
  const rpsRatio = ratio(hu?.rps, bu?.rps);
  goals.push(rpsRatio === null ? missing(rpsGoal, '--scenario throughput --modes unpinned')
    : { goal: rpsGoal, value: rpsRatio, figure: `${rpsRatio.toFixed(2)}× (${rps(hu!.rps!)} against ${rps(bu!.rps!)}${range(hu!.rpsRange, rps)})`, met: rpsRatio >= 1.2, noisy: rowNoisy(hu, bu) });

  const pkRpsGoal = "throughput ≥ 3× Portkey's (unpinned)";
  const pu = row('unpinned', 'portkey');
  const pkRps = ratio(hu?.rps, pu?.rps);
  goals.push(pkRps === null ? missing(pkRpsGoal, '--scenario throughput --peers portkey')
    : { goal: pkRpsGoal, value: pkRps, figure: `${pkRps.toFixed(2)}× (${rps(hu!.rps!)} against ${rps(pu!.rps!)})`, met: pkRps >= 3, noisy: rowNoisy(hu, pu) });

  const pkCpuGoal = "CPU per request ≤ ⅓ of Portkey's (pinned)";
  const pp = row('pinned', 'portkey');
  const pkCpu = ratio(hp?.cpu?.total, pp?.cpu?.total);
  goals.push(pkCpu === null ? missing(pkCpuGoal, '--scenario throughput --peers portkey')
    : { goal: pkCpuGoal, value: pkCpu, figure: `${pkCpu.toFixed(2)}× (${us(hp!.cpu!.total)} against ${us(pp!.cpu!.total)})`, met: pkCpu <= 1 / 3, noisy: rowNoisy(hp, pp) });

  const ovhGoal = 'overhead p99 ≤ 1 ms at 3,000 req/s';
  const ovh = points.overhead ?? [];
  const at3k = ovh.find((p) => p.variant === '3000/s' && p.target === 'heimdall' && p.load);
  const ovh99 = at3k ? overheadOf(ovh, at3k, 'p99') : null;
  goals.push(ovh99 === null ? missing(ovhGoal, '--scenario overhead --rates 3000')
    : {
        goal: ovhGoal, value: ovh99, figure: `${us(ovh99)} (p50 ${us(overheadOf(ovh, at3k!, 'p50') ?? NaN)}, success ${((at3k!.successRate ?? 0) * 100).toFixed(2)} %)`,
        met: ovh99 <= 1000, noisy: pointNoisy(at3k, ovh.find((p) => p.variant === '3000/s' && p.target === 'direct')),
      });

  const streams = (points.streaming ?? []).filter((p) => p.target === 'heimdall' && p.load);
  if (!streams.length) goals.push(missing('streaming TTFB overhead p50 ≤ 0.5 ms', '--scenario streaming'));
  for (const p of streams) {
    const ttfb = overheadOf(points.streaming!, p, 'p50', 'ttfbUs');
    const base = points.streaming!.find((b) => b.variant === p.variant && b.target === 'baseline');
    const baseTtfb = base ? overheadOf(points.streaming!, base, 'p50', 'ttfbUs') : null;
    const goal = `streaming TTFB overhead p50 ≤ 0.5 ms (${p.variant})`;
    goals.push(ttfb === null ? missing(goal, 'no direct measurement')
      : { goal, value: ttfb, figure: `${us(ttfb)} (baseline proxy ${baseTtfb === null ? '–' : us(baseTtfb)})`, met: ttfb <= 500, noisy: pointNoisy(p, base) });
  }

  // Isolation: the healthy provider's p99 beside a sick neighbour, against its p99 alone, through the same gateway.
  const iso = (points.isolation ?? []).filter((p) => p.target === 'heimdall');
  const solo = iso.find((p) => p.variant === ISOLATION_SOLO && p.load);
  // The control phase (`--isolation-control`) is shown in the table, not judged: it is not the gateway's figure.
  const sick = iso.filter((p) => p.variant !== ISOLATION_SOLO && p.variant !== ISOLATION_SLOW_ELSEWHERE);
  if (!solo || !sick.length) goals.push(missing("isolation: healthy provider's p99 within 10 % of solo", '--scenario isolation'));
  // Repeated, a ratio is the median of the paired ratios; the medians of the rows are shown beside it.
  const isolationRatio = (p: Point): number | null => p.pairedP99Ratio?.median ?? p99VsSolo(points.isolation!, p);
  for (const p of solo ? sick : []) {
    const goal = `isolation: healthy p99 within 10 % of solo (${p.variant})`;
    const r = p99VsSolo(points.isolation!, p);
    const paired = p.pairedP99Ratio;
    const value = isolationRatio(p);
    const rows = r === null ? '' : `${r.toFixed(2)}× (${us(p.latencyUs!.p99!)} against ${us(solo!.latencyUs!.p99!)} solo)`;
    // The same neighbour with no gateway in the way: what the machine itself does to the healthy load.
    const direct = points.isolation!.find((d) => d.target === 'direct' && d.variant === p.variant);
    const machine = direct ? isolationRatio(direct) : null;
    const figure = (paired
      ? `${paired.median.toFixed(2)}× paired (median of ${paired.pairs}, range ${paired.range[0].toFixed(2)}–${paired.range[1].toFixed(2)}); medians of the rows ${rows}`
      : rows) + (machine === null ? '' : `; no gateway (direct) ${machine.toFixed(2)}×`) +
      (p.pairedP99VsControl ? `; ÷ the same load through a second gateway ${p.pairedP99VsControl.median.toFixed(2)}× paired` : '');
    goals.push(value === null ? missing(goal, p.error ?? 'no latency')
      : { goal, value, figure, met: value <= 1.1, noisy: pointNoisy(p, solo), ...(machine !== null && machine > 1.1 ? { hostBound: true } : {}) });
  }
  // Cluster: a request costs each process what it cost the single process, so N processes do N times the work.
  if (!clusterComparisons?.length) goals.push(missing('cluster: CPU per request per process within 5 % of one process', '--scenario cluster'));
  for (const c of clusterComparisons ?? []) {
    const goal = `cluster: CPU per request per process within 5 % of one process (threads ${c.threads})`;
    const row = (p: number): ClusterRow | undefined => clusterRows?.find((r) => r.threads === c.threads && r.processes === p);
    const [one, many] = [row(c.processes[0]), row(c.processes[1])];
    const perProcess = (r: ClusterRow | undefined): string =>
      `${us(r?.perProcess.median ?? NaN)}${range(r?.perProcess.range ?? null, us)}`;
    const figure = c.perProcessRatio === null ? '' : `${c.perProcessRatio.toFixed(3)}× (${perProcess(many)} at ${c.processes[1]} processes against ` +
      `${perProcess(one)} at ${c.processes[0]}); whole tree with the supervisor ${c.cpuTreeRatio?.toFixed(3) ?? '–'}×, req/s ${c.rpsRatio?.toFixed(2) ?? '–'}×`;
    goals.push(c.perProcessRatio === null ? missing(goal, one?.failed ?? many?.failed ?? 'no CPU figure')
      : { goal, value: c.perProcessRatio, figure, met: c.perProcessRatio <= 1.05,
          noisy: [one, many].some((r) => (r?.maxOtherCpuPercent ?? 0) > noisyPercent) });
  }
  return goals;
}

export function goalsTable(goals: readonly Goal[]): string {
  const verdict = (g: Goal): string => (g.met === null ? 'not measured' : g.met ? 'met' : 'NOT MET');
  const rows = goals.map((g) => [g.goal, verdict(g), g.figure + (g.noisy ? '  NOISY' : '') + (g.hostBound ? '  HOST-BOUND' : '')]);
  const header = ['goal', 'verdict', 'figure'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const legend = 'goals (reported, not asserted; NOISY = unrelated processes took > 5 % of a core during a measurement behind it; ' +
    'HOST-BOUND = the same loads without any gateway missed the goal too, so this machine cannot show it)';
  return [legend, line(header), ...rows.map(line)].join('\n');
}
