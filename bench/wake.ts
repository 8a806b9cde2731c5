/**
 * What a thread hop costs this machine in CPU time: a syscall, waking a thread that sleeps, and a round trip through
 * the gateway's own rings (src/contract/ring.ts) to a worker thread and back, with both threads asleep in between (a
 * lone request, as from a slow provider at a few hundred requests per second), back to back, and 64 in flight (a
 * saturated gateway). Run as is (the threads on any CPU) and again under `taskset -c 0` (both on one CPU, as the
 * throughput scenario's pinned mode), in separate processes, so the cost of crossing CPUs can be told from the cost
 * of waking at all. On a bare-metal core a wake-up costs a few microseconds; on a nested VM it can cost
 * more than the rest of a request.
 *
 *   node dist/bench/wake.js [--rounds 5] [--trips 1000] [--gap-ms 1]
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { DEFAULT_RING_SHAPE } from '../src/contract/ring-layout.js';
import { createRingBuffer, RingReader, RingWriter } from '../src/contract/ring.js';
import { bool, num, parseFlags } from './args.js';
import { alignedColumns, median } from './report.js';

interface Rings {
  toWorker: SharedArrayBuffer;
  toMain: SharedArrayBuffer;
}

/** CPU microseconds of both threads per unit (backToBackWallUs: wall-clock), each the median of the rounds. */
interface Figures {
  syscall: number;
  timerWake: number;
  idleRoundTrip: number;
  backToBack: number;
  backToBackWallUs: number;
  inFlight64: number;
}

const IN_FLIGHT = 64;
/** About a chat job's size on the wire (`npm run bench:codec`: 151 bytes). */
const PAYLOAD = new Uint8Array(200);

function echo(rings: Rings): void {
  const back = new RingWriter(rings.toMain, DEFAULT_RING_SHAPE);
  new RingReader(rings.toWorker, DEFAULT_RING_SHAPE, (message) => back.send(message)).start();
  // A parked ring reader does not keep the event loop alive on its own (as in workers/provider-worker.ts).
  setInterval(() => {}, 1 << 30);
}

const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

async function measure(trips: number, rounds: number, gapMs: number): Promise<Figures> {
  const rings: Rings = { toWorker: createRingBuffer(DEFAULT_RING_SHAPE), toMain: createRingBuffer(DEFAULT_RING_SHAPE) };
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: rings });
  const out = new RingWriter(rings.toWorker, DEFAULT_RING_SHAPE);
  let waiting = 0;
  let answered: (() => void) | null = null;
  new RingReader(rings.toMain, DEFAULT_RING_SHAPE, () => {
    if (--waiting === 0) answered?.();
  }).start();
  const keepAlive = setInterval(() => {}, 1 << 30);
  const send = (count: number): Promise<void> => new Promise((resolve) => {
    waiting = count;
    answered = resolve;
    for (let i = 0; i < count; i++) out.send(PAYLOAD);
  });

  /** CPU microseconds per unit of `body`, which does `units` of them. */
  const cpuPer = async (units: number, body: () => Promise<void> | void): Promise<number> => {
    const before = cpuMicros();
    await body();
    return (cpuMicros() - before) / units;
  };
  const runs = {
    syscall: () => cpuPer(trips * 10, () => {
      // process.cpuUsage() is one getrusage(2) call and little else.
      for (let i = 0; i < trips * 10; i++) process.cpuUsage();
    }),
    timerWake: () => cpuPer(trips, async () => {
      for (let i = 0; i < trips; i++) await sleep(gapMs);
    }),
    idleTrip: () => cpuPer(trips, async () => {
      for (let i = 0; i < trips; i++) {
        await sleep(gapMs);
        await send(1);
      }
    }),
    backToBack: async () => {
      const started = performance.now();
      const cpu = await cpuPer(trips, async () => {
        for (let i = 0; i < trips; i++) await send(1);
      });
      return { cpu, wallUs: ((performance.now() - started) * 1000) / trips };
    },
    inFlight64: () => {
      const batches = Math.floor(trips / IN_FLIGHT);
      return cpuPer(batches * IN_FLIGHT, async () => {
        for (let i = 0; i < batches; i++) await send(IN_FLIGHT);
      });
    },
  };

  await runs.backToBack(); // warm-up: the worker started, everything optimised
  const samples = { syscall: [] as number[], timerWake: [] as number[], idleTrip: [] as number[], backToBack: [] as number[],
    backToBackWallUs: [] as number[], inFlight64: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    samples.syscall.push(await runs.syscall());
    samples.timerWake.push(await runs.timerWake());
    samples.idleTrip.push(await runs.idleTrip());
    const backToBack = await runs.backToBack();
    samples.backToBack.push(backToBack.cpu);
    samples.backToBackWallUs.push(backToBack.wallUs);
    samples.inFlight64.push(await runs.inFlight64());
  }
  clearInterval(keepAlive);
  await worker.terminate();
  const m = (values: number[]) => median(values)!;
  return {
    syscall: m(samples.syscall),
    timerWake: m(samples.timerWake),
    // The timer's own wake-up is part of every idle round trip: what is left is the hop's two.
    idleRoundTrip: m(samples.idleTrip) - m(samples.timerWake),
    backToBack: m(samples.backToBack),
    backToBackWallUs: m(samples.backToBackWallUs),
    inFlight64: m(samples.inFlight64),
  };
}

function confinedToOneCpu(argv: readonly string[]): Figures | string {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync('taskset', ['-c', '0', process.execPath, script, ...argv, '--figures-only'], { encoding: 'utf8' });
  if (child.error) return 'taskset not found (util-linux)';
  if (child.status !== 0) return `exit ${child.status}: ${child.stderr.trim().split('\n').pop()}`;
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as Figures;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flags = parseFlags(argv);
  const rounds = Math.max(1, num(flags, 'rounds', 5));
  const trips = Math.max(IN_FLIGHT, num(flags, 'trips', 1000));
  const gapMs = num(flags, 'gap-ms', 1);
  const figures = await measure(trips, rounds, gapMs);
  if (bool(flags, 'figures-only')) {
    console.log(JSON.stringify(figures));
    return;
  }
  const oneCpu = confinedToOneCpu(argv);
  const one = typeof oneCpu === 'string' ? null : oneCpu;
  const f = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(1));
  const rows: [string, keyof Figures][] = [
    ['a syscall (getrusage), CPU µs', 'syscall'],
    [`waking an idle thread (${gapMs} ms timer), CPU µs`, 'timerWake'],
    ['ring round trip, both threads idle before it (net of the timer), CPU µs', 'idleRoundTrip'],
    ['ring round trip, back to back, CPU µs', 'backToBack'],
    ['ring round trip, back to back, wall µs', 'backToBackWallUs'],
    [`ring round trip, ${IN_FLIGHT} in flight, CPU µs per round trip`, 'inFlight64'],
  ];
  console.log(alignedColumns(['', 'threads on any CPU', 'on one CPU'], rows.map(([label, key]) => [label, f(figures[key]), f(one?.[key])])).join('\n'));
  console.log(`medians of ${rounds} rounds × ${trips.toLocaleString('en-US')} round trips; CPU is both threads' (process.cpuUsage)${typeof oneCpu === 'string' ? `; one CPU not measured: ${oneCpu}` : ''}`);
  console.log(JSON.stringify({ any_cpu: figures, one_cpu: one }));
}

if (isMainThread) await main();
else echo(workerData as Rings);
