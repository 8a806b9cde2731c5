import { describe, expect, it } from 'vitest';
import { clusterComparisons, clusterRows, type ClusterWindow } from '../../../bench/cluster.js';
import { goalsTable, judgeGoals } from '../../../bench/goals.js';
import { summarize, type Measurement, type Row } from '../../../bench/report.js';
import { bifrostPlan, ISOLATION_SLOW_ELSEWHERE, ISOLATION_SOLO, medianOfSamples, pairedP99Ratios, type Point } from '../../../bench/scenarios.js';

function measurement(target: Measurement['target'], mode: Measurement['mode'], windows: [rps: number, cpu: number][]): Measurement {
  return {
    rep: 1, mode, target,
    samples: windows.map(([rps, cpu]) => ({
      load: { requests: rps, ok: rps, non2xx: 0, errors: 0, errorKinds: {}, durationS: 1, rps, p50Ms: 1, p99Ms: 2, maxMs: 3 },
      cpuUsPerRequest: { total: cpu, main: cpu, workers: 0, other: 0 },
      threads: { main: 1, workers: 0, other: 0 },
      stealPercent: 0,
      otherCpuPercent: 0,
    })),
  };
}

function clusterWindow(perProcess: number): ClusterWindow {
  return {
    load: { requests: 1000, ok: 1000, non2xx: 0, errors: 0, errorKinds: {}, durationS: 1, rps: 1000, p50Ms: 1, p99Ms: 2, maxMs: 3 },
    cpu: { tree: perProcess, supervisor: 0, front: perProcess, workers: 0, other: 0, mock: 0, machine: perProcess },
    processes: [],
    perProcess,
    otherCpuPercent: 0,
    treeChanged: false,
  };
}

function point(scenario: Point['scenario'], variant: string, target: Point['target'], latencyUs: Record<string, number>, extra: Partial<Point> = {}): Point {
  return { scenario, variant, target, latencyUs, successRate: 1, otherCpuPercent: 0, load: { requests: 1 } as Point['load'], ...extra };
}

describe('throughput rows', () => {
  it('take the median of every window and keep the min–max beside it', () => {
    const m = [measurement('heimdall', 'pinned', [[100, 50], [300, 70]]), measurement('heimdall', 'pinned', [[200, 60]])];
    const row = summarize(m, 'pinned', 'heimdall');
    expect(row.runs).toBe(3);
    expect(row.rps).toBe(200);
    expect(row.rpsRange).toEqual([100, 300]);
    expect(row.cpu?.total).toBe(60);
    expect(row.cpuRange).toEqual([50, 70]);
  });
});

describe('goals', () => {
  const rows = (heimdallCpu: number, heimdallRps: number): Record<'pinned' | 'unpinned', Row[]> => {
    const all = [
      measurement('baseline', 'pinned', [[1000, 50]]), measurement('heimdall', 'pinned', [[900, heimdallCpu]]),
      measurement('baseline', 'unpinned', [[1000, 50]]), measurement('heimdall', 'unpinned', [[heimdallRps, 60]]),
    ];
    return {
      pinned: [summarize(all, 'pinned', 'baseline'), summarize(all, 'pinned', 'heimdall')],
      unpinned: [summarize(all, 'unpinned', 'baseline'), summarize(all, 'unpinned', 'heimdall')],
    };
  };
  const verdict = (goals: ReturnType<typeof judgeGoals>, prefix: string) => goals.filter((g) => g.goal.startsWith(prefix)).map((g) => g.met);

  it('judges the baseline ratios at their bounds', () => {
    const met = judgeGoals(rows(70, 1200), {}, 5);
    expect(verdict(met, 'CPU per request ≤ 1.4×')).toEqual([true]);
    expect(verdict(met, 'throughput, both cores')).toEqual([true]);
    const missed = judgeGoals(rows(71, 1199), {}, 5);
    expect(verdict(missed, 'CPU per request ≤ 1.4×')).toEqual([false]);
    expect(verdict(missed, 'throughput, both cores')).toEqual([false]);
  });

  it('says "not measured" for what the run left out, and never guesses', () => {
    const goals = judgeGoals({}, {}, 5);
    expect(goals.every((g) => g.met === null && g.value === null)).toBe(true);
    expect(goals.find((g) => g.goal.includes('Portkey'))?.figure).toContain('--peers portkey');
  });

  it('compares the overhead at 3,000 req/s with the mock alone at the same rate', () => {
    const overhead = [point('overhead', '3000/s', 'direct', { p50: 500, p99: 2000 }), point('overhead', '3000/s', 'heimdall', { p50: 800, p99: 3100 })];
    const [goal] = judgeGoals({}, { overhead }, 5).filter((g) => g.goal.startsWith('overhead'));
    expect(goal.value).toBe(1100);
    expect(goal.met).toBe(false);
  });

  it('judges isolation per sick neighbour against the same gateway alone, and flags noise', () => {
    const isolation = [
      point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 1000 }),
      point('isolation', '+ slow (10 s)', 'heimdall', { p99: 1100 }),
      point('isolation', '+ 100% 5xx', 'heimdall', { p99: 1500 }, { otherCpuPercent: 40 }),
      // The control phase is shown beside the goals, never judged as one.
      point('isolation', ISOLATION_SLOW_ELSEWHERE, 'heimdall', { p99: 3000 }),
    ];
    const goals = judgeGoals({}, { isolation }, 5).filter((g) => g.goal.startsWith('isolation'));
    expect(goals.map((g) => [g.value, g.met, g.noisy])).toEqual([[1.1, true, false], [1.5, false, true]]);
  });

  it('judges repeated isolation by the median of the paired ratios, and shows the medians of the rows beside it', () => {
    const isolation = [
      point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 1000 }),
      point('isolation', '+ slow (10 s)', 'heimdall', { p99: 1400 }, { pairedP99Ratio: { median: 1.05, range: [0.9, 3], pairs: 5 } }),
    ];
    const [goal] = judgeGoals({}, { isolation }, 5).filter((g) => g.goal.startsWith('isolation'));
    expect(goal.value).toBe(1.05);
    expect(goal.met).toBe(true);
    expect(goal.figure).toMatch(/^1\.05× paired \(median of 5, range 0\.90–3\.00\); medians of the rows 1\.40×/);
  });
});

describe('isolation against the machine alone', () => {
  it('shows the no-gateway ratio beside each verdict and marks the goal host-bound when that one misses too', () => {
    const isolation = [
      point('isolation', ISOLATION_SOLO, 'direct', { p99: 400 }),
      point('isolation', '+ slow (10 s)', 'direct', { p99: 600 }, { pairedP99Ratio: { median: 1.6, range: [1.2, 2], pairs: 3 } }),
      point('isolation', '+ 100% 5xx', 'direct', { p99: 420 }),
      point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 1000 }),
      point('isolation', '+ slow (10 s)', 'heimdall', { p99: 1400 }, { pairedP99VsControl: { median: 1.05, range: [0.8, 1.3], pairs: 3 } }),
      point('isolation', '+ 100% 5xx', 'heimdall', { p99: 1050 }),
    ];
    const goals = judgeGoals({}, { isolation }, 5).filter((g) => g.goal.startsWith('isolation'));
    expect(goals.map((g) => [g.value, g.met, g.hostBound ?? false])).toEqual([[1.4, false, true], [1.05, true, false]]);
    expect(goals[0].figure).toMatch(/; no gateway \(direct\) 1\.60×; ÷ the same load through a second gateway 1\.05× paired$/);
    expect(goals[1].figure).toMatch(/; no gateway \(direct\) 1\.05×$/);
    expect(goalsTable(goals)).toContain('HOST-BOUND');
  });
});

describe("Bifrost's recipe on a limited machine", () => {
  it('runs as written when the limits hold every in-flight request', () => {
    expect(bifrostPlan(3000, 10_000, { hard: 70_000 }, 64_512)).toEqual({ rate: 3000, inFlight: 31_500, note: null });
  });

  it('scales the rate down to what the open-files limit holds, and says so', () => {
    const plan = bifrostPlan(3000, 10_000, { hard: 20_000 }, 28_232);
    expect(plan.rate).toBe(900);
    expect(2 * plan.inFlight).toBeLessThanOrEqual(20_000);
    expect(plan.note).toContain('RAN 900 req/s INSTEAD');
  });

  it('is bounded by the ephemeral ports to one upstream too', () => {
    const plan = bifrostPlan(3000, 10_000, { hard: 1_000_000 }, 28_232);
    expect(plan.inFlight).toBeLessThanOrEqual(28_232);
    expect(plan.note).not.toBeNull();
  });
});

describe('isolation points from repeated samples', () => {
  it('take the median of each percentile and of the CPU, the worst success rate, and keep the p99 range', () => {
    const samples = [
      point('isolation', ISOLATION_SOLO, 'heimdall', { p50: 10, p99: 300 }, { cpuUsPerRequest: 5, successRate: 1 }),
      point('isolation', ISOLATION_SOLO, 'heimdall', { p50: 30, p99: 100 }, { cpuUsPerRequest: 9, successRate: 0.5 }),
      point('isolation', ISOLATION_SOLO, 'heimdall', { p50: 20, p99: 200 }, { cpuUsPerRequest: 7, successRate: 1, note: 'middle' }),
    ];
    const merged = medianOfSamples(samples);
    expect(merged.latencyUs).toEqual({ p50: 20, p99: 200 });
    expect(merged.cpuUsPerRequest).toBe(7);
    expect(merged.successRate).toBe(0.5);
    expect(merged.p99RangeUs).toEqual([100, 300]);
    expect(merged.samples).toBe(3);
    expect(merged.note).toBe('middle');
  });

  it("keep the target's log lines from every sample with failures, not only the middle one's", () => {
    const failing = point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 900 }, { successRate: 0.9999, targetLog: ['{"level":40,"code":"UPSTREAM_ERROR"}'] });
    const clean = [point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 100 }), point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 200 })];
    expect(medianOfSamples([failing, ...clean]).targetLog).toEqual(['{"level":40,"code":"UPSTREAM_ERROR"}']);
    expect(medianOfSamples(clean).targetLog).toBeUndefined();
  });

  it('pair each repetition with the solo run of the same repetition, leaving out pairs with a failed side', () => {
    const solo = [{ p99: 100 }, { p99: 400 }, { p99: 200 }, { p99: 100 }].map((l) => point('isolation', ISOLATION_SOLO, 'heimdall', l));
    const failed: Point = { scenario: 'isolation', variant: '+ slow (10 s)', target: 'heimdall', error: 'mock did not start' };
    const sick = [point('isolation', '+ slow (10 s)', 'heimdall', { p99: 300 }), point('isolation', '+ slow (10 s)', 'heimdall', { p99: 400 }),
      failed, point('isolation', '+ slow (10 s)', 'heimdall', { p99: 110 })];
    // Row medians would say 300 ÷ 150 = 2×; side by side, two of three repetitions stayed within 10 %.
    expect(pairedP99Ratios(solo, sick)).toEqual({ median: 1.1, range: [1, 3], pairs: 3 });
    expect(pairedP99Ratios(solo, [failed])).toBeUndefined();
  });

  it('leave failed samples out, and say how many failed', () => {
    const failed: Point = { scenario: 'isolation', variant: ISOLATION_SOLO, target: 'heimdall', error: 'mock did not start' };
    const merged = medianOfSamples([failed, point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 100 }), point('isolation', ISOLATION_SOLO, 'heimdall', { p99: 300 })]);
    expect(merged.latencyUs?.p99).toBe(200);
    expect(merged.samples).toBe(2);
    expect(merged.note).toMatch(/1 of 3 samples failed: mock did not start/);
    expect(medianOfSamples([failed]).error).toBe('mock did not start');
  });
});

describe('the cluster goal', () => {
  const rows = (perProcessTwo: number) => clusterRows([
    { rep: 1, processes: 1, threads: 1, windows: [clusterWindow(100)] },
    { rep: 1, processes: 2, threads: 1, windows: [clusterWindow(perProcessTwo)] },
  ]);
  const judge = (perProcessTwo: number) => {
    const r = rows(perProcessTwo);
    return judgeGoals({}, {}, 5, clusterComparisons(r), r).filter((g) => g.goal.startsWith('cluster'));
  };

  it('is met within 5 % of the single process per process, and missed beyond', () => {
    expect(judge(105).map((g) => [g.goal, g.met])).toEqual([['cluster: CPU per request per process within 5 % of one process (threads 1)', true]]);
    const [missed] = judge(105.1);
    expect(missed.met).toBe(false);
    expect(missed.figure).toMatch(/^1\.051× \(105 µs, min–max 105 µs–105 µs at 2 processes against 100 µs/);
  });

  it('says how to measure it when the run left it out', () => {
    const [goal] = judgeGoals({}, {}, 5).filter((g) => g.goal.startsWith('cluster'));
    expect(goal.met).toBeNull();
    expect(goal.figure).toContain('--scenario cluster');
  });
});
