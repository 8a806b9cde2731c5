import { describe, expect, it } from 'vitest';
import { clusterComparisons, clusterOrder, clusterRows, warmUpRounds, windowFigures, type ClusterMeasurement, type ClusterWindow, type TreeSnapshot } from '../../../bench/cluster.js';
import type { LoadResult } from '../../../bench/generators.js';
import type { ThreadRole } from '../../../bench/procfs.js';

function load(requests: number, rps = requests): LoadResult {
  return { requests, ok: requests, non2xx: 0, errors: 0, errorKinds: {}, durationS: 1, rps, p50Ms: 1, p99Ms: 2, maxMs: 3 };
}

function window(rps: number, tree: number, perProcess: number): ClusterWindow {
  return {
    load: load(rps),
    cpu: { tree, supervisor: 0, front: tree / 2, workers: tree / 2, other: 0, mock: 10, machine: tree + 20 },
    processes: [],
    perProcess,
    otherCpuPercent: 0,
    treeChanged: false,
  };
}

function measurement(rep: number, processes: number, windows: ClusterWindow[], threads = 1): ClusterMeasurement {
  return { rep, processes, threads, windows };
}

describe('cluster windows', () => {
  it("give each gateway process its share of the requests from its upstream bytes, and the supervisor's CPU to the tree", () => {
    // 1,000 requests; ticks are 10 ms. Process 11 moved 3× the bytes of process 12, so it served 750 requests.
    const before: TreeSnapshot = {
      supervisor: 10,
      gateways: [11, 12],
      ticks: new Map([[10, 0], [11, 100], [12, 100]]),
      io: new Map([[11, 0], [12, 0]]),
      threads: new Map([[11, new Map([[11, 0], [21, 0]])], [12, new Map([[12, 0], [22, 0]])]]),
    };
    const after: TreeSnapshot = {
      ...before,
      ticks: new Map([[10, 1], [11, 175], [12, 125]]),
      io: new Map([[11, 3000], [12, 1000]]),
      threads: new Map([[11, new Map([[11, 300e6], [21, 450e6]])], [12, new Map([[12, 100e6], [22, 150e6]])]]),
    };
    const roles = new Map<number, Map<number, ThreadRole>>([
      [11, new Map<number, ThreadRole>([[11, 'main'], [21, 'workers']])],
      [12, new Map<number, ThreadRole>([[12, 'main'], [22, 'workers']])],
    ]);
    const w = windowFigures(load(1000), before, after, roles, 20, 150);
    expect(w.processes.map((p) => p.requestShare)).toEqual([0.75, 0.25]);
    // 75 ticks = 750 ms over 750 requests; 25 ticks = 250 ms over 250 requests: 1,000 µs each.
    expect(w.processes.map((p) => p.cpuUsPerRequest)).toEqual([1000, 1000]);
    expect(w.perProcess).toBe(1000);
    expect(w.processes[0].threadUsPerRequest).toEqual({ main: 400, workers: 600, other: 0 });
    expect(w.cpu.tree).toBe(1010);
    expect(w.cpu.supervisor).toBe(10);
    expect(w.cpu.front).toBe(400);
    expect(w.cpu.workers).toBe(600);
    expect(w.cpu.mock).toBe(200);
    expect(w.cpu.machine).toBe(1500);
  });

  it('leave the per-process figure out when a process\'s bytes cannot be read, rather than guess an even split', () => {
    const snap = (io: number | null, ticks: number): TreeSnapshot => ({
      supervisor: 10, gateways: [11, 12], ticks: new Map([[10, 0], [11, ticks], [12, ticks]]), io: new Map([[11, io], [12, io]]), threads: new Map(),
    });
    const w = windowFigures(load(100), snap(null, 0), snap(null, 10), new Map(), 0, 30);
    expect(w.perProcess).toBeNull();
    expect(w.cpu.tree).toBe(2000);
  });
});

describe('cluster rows', () => {
  it('count each repetition once (the median of its windows), then take the median and range over repetitions', () => {
    const rows = clusterRows([
      measurement(1, 1, [window(100, 50, 50), window(300, 70, 70), window(200, 60, 60)]),
      measurement(2, 1, [window(400, 90, 90)]),
      measurement(3, 1, [window(500, 40, 40), window(700, 40, 40)]),
      measurement(1, 2, [window(150, 63, 62)]),
      measurement(2, 2, [window(150, 63, 62)]),
      { rep: 3, processes: 2, threads: 1, windows: [], error: 'heimdall exited (1) before ready' },
    ]);
    const [one, two] = rows;
    expect(one.reps).toBe(3);
    expect(one.rps).toEqual({ median: 400, range: [200, 600] });
    expect(one.perProcess).toEqual({ median: 60, range: [40, 90] });
    expect(two.reps).toBe(2);
    expect(two.failed).toBe('heimdall exited (1) before ready');
    const [c] = clusterComparisons(rows);
    expect(c).toMatchObject({ threads: 1, processes: [1, 2] });
    expect(c.perProcessRatio).toBeCloseTo(62 / 60);
    expect(c.cpuTreeRatio).toBeCloseTo(63 / 60);
    expect(c.rpsRatio).toBeCloseTo(150 / 400);
  });

  it('alternate the configurations, reversing their order every other repetition', () => {
    const opts = { processes: [1, 2], threads: [1, 2] };
    const order = (rep: number) => clusterOrder(opts, rep).map((c) => `${c.threads}:${c.processes}`);
    expect(order(1)).toEqual(['1:1', '1:2', '2:1', '2:2']);
    expect(order(2)).toEqual(['1:2', '1:1', '2:2', '2:1']);
  });
});

describe('cluster warm-up', () => {
  it('runs rounds until each process served its requests, so two processes warm up twice as long as one', async () => {
    const rounds = (processes: number) => {
      let calls = 0;
      let now = 0;
      return warmUpRounds(async () => {
        calls++;
        now += 3000;
        return 30_000;
      }, processes, 50_000, 60, () => now).then((warm) => ({ calls, ...warm }));
    };
    expect(await rounds(1)).toEqual({ calls: 2, requestsPerProcess: 60_000, seconds: 6 });
    expect(await rounds(2)).toEqual({ calls: 4, requestsPerProcess: 60_000, seconds: 12 });
  });

  it('stops at the time limit however few requests were served, after at least one round', async () => {
    let now = 0;
    const warm = await warmUpRounds(async () => {
      now += 3000;
      return 10;
    }, 2, 100_000, 7, () => now);
    expect(warm).toEqual({ requestsPerProcess: 15, seconds: 9 });
    const once = await warmUpRounds(async () => 8, 2, 0, 0, () => 0);
    expect(once).toEqual({ requestsPerProcess: 4, seconds: 0 });
  });
});
