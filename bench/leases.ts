/**
 * What cluster mode's gateway-wide limits cost a request (docs/limits.md). Two figures:
 *   - CPU per acquire + release of a provider slot: the single process's own count, against a LeasedCounter that
 *     holds leases already (the common case: no IPC at all);
 *   - the wall time and CPU (both processes) of a refill round trip over real node IPC (child_process.fork): the
 *     child misses, asks the ledger in this process, gets one unit, and gives it back; and the same for the
 *     no-wait ask a queue place costs with drop_excess_requests.
 *
 *   node dist/bench/leases.js [--ops 5000000] [--trips 2000] [--rounds 3]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ipcTransport, LeaseClient } from '../src/dispatch/leases.js';
import { createLedger } from '../src/supervisor/ledger.js';
import { num, parseFlags } from './args.js';
import { alignedColumns, median } from './report.js';

interface TripFigures {
  /** Wall microseconds per trip: median, and 99th percentile. */
  p50: number;
  p99: number;
  /** CPU microseconds per trip in the child, and in the primary (the ledger). */
  childCpu: number;
  primaryCpu: number;
}

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** CPU nanoseconds per acquire + release, `ops` times, through `take`/`give`. */
function cpuPerOp(ops: number, take: () => boolean, give: () => void): number {
  let taken = 0;
  const start = cpuMicros();
  for (let i = 0; i < ops; i++) {
    if (take()) {
      taken++;
      give();
    }
  }
  const ns = ((cpuMicros() - start) * 1000) / ops;
  if (taken !== ops) throw new Error(`only ${taken} of ${ops} acquisitions succeeded`);
  return ns;
}

async function localFigures(ops: number): Promise<{ local: number; leased: number }> {
  const limit = 10;
  let inFlight = 0;
  const local = cpuPerOp(ops, () => (inFlight < limit ? (inFlight++, true) : false), () => {
    inFlight--;
  });
  // A client whose ledger granted a batch: every later take and give is local arithmetic.
  const ledger = createLedger();
  const { child, parent } = loopbackPair();
  ledger.attach('bench', parent);
  const counter = new LeaseClient(child).counter('bench.concurrency', { limit });
  const granted = new Promise<void>((resolve) => counter.onAvailable(resolve));
  counter.tryAcquire();
  await granted;
  const leased = cpuPerOp(ops, () => counter.tryAcquire(), () => counter.release());
  return { local, leased };
}

/** Both ends in this process, delivered synchronously: only for priming the local-path measurement. */
function loopbackPair() {
  const handlers: { child: ((m: unknown) => void)[]; parent: ((m: unknown) => void)[] } = { child: [], parent: [] };
  const end = (self: 'child' | 'parent', peer: 'child' | 'parent') => ({
    send: (message: unknown) => queueMicrotask(() => handlers[peer].forEach((handler) => handler(message))),
    onMessage: (handler: (message: unknown) => void) => void handlers[self].push(handler),
  });
  return { child: end('child', 'parent'), parent: end('parent', 'child') };
}

/** Forks this file as the child, which runs `trips` round trips of `mode` against a ledger here. */
function ipcFigures(mode: 'refill' | 'ask', trips: number): Promise<TripFigures> {
  const ledger = createLedger();
  const child = fork(fileURLToPath(import.meta.url), ['--child', mode, String(trips)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  ledger.attach('child', ipcTransport(child));
  let primaryStart = 0;
  return new Promise((resolve, reject) => {
    child.on('message', (message: { heimdall?: string; started?: boolean; figures?: Omit<TripFigures, 'primaryCpu'> }) => {
      if (message.heimdall !== 'bench') return;
      if (message.started) primaryStart = cpuMicros();
      if (message.figures) {
        resolve({ ...message.figures, primaryCpu: (cpuMicros() - primaryStart) / trips });
        child.disconnect();
      }
    });
    child.on('exit', (code) => reject(new Error(`the bench child exited with ${code}`)));
  });
}

async function runChild(mode: string, trips: number): Promise<void> {
  // limit 1, nothing kept idle: every take is a round trip to the ledger and every give a message back.
  const counter = new LeaseClient(ipcTransport(process)).counter('bench.concurrency', { limit: 1, batch: 1, keepIdle: 0 });
  let wake: (() => void) | null = null;
  counter.onAvailable(() => wake?.());
  const once = mode === 'refill'
    ? () => new Promise<void>((resolve) => {
      wake = () => {
        if (!counter.tryAcquire()) throw new Error('a refill brought nothing');
        resolve();
      };
      if (counter.tryAcquire()) throw new Error('took a unit without asking');
    })
    : () => new Promise<void>((resolve, reject) => counter.acquireOrRefuse(1, (granted) => granted ? resolve() : reject(new Error('refused'))));
  const walls: number[] = [];
  // Warm-up, so that the JIT and the IPC channel's first allocations are not measured.
  for (let i = 0; i < 200; i++) {
    await once();
    counter.release();
    await new Promise((resolve) => setImmediate(resolve));
  }
  process.send!({ heimdall: 'bench', started: true });
  const cpuStart = cpuMicros();
  for (let i = 0; i < trips; i++) {
    const start = performance.now();
    await once();
    walls.push((performance.now() - start) * 1000);
    counter.release();
    // The unit goes back on the next microtask; let it leave before the next take.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const childCpu = (cpuMicros() - cpuStart) / trips;
  walls.sort((a, b) => a - b);
  process.send!({ heimdall: 'bench', figures: { p50: walls[walls.length >> 1], p99: walls[Math.floor(walls.length * 0.99)], childCpu } });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    await runChild(argv[1], Number(argv[2]));
    return;
  }
  const flags = parseFlags(argv);
  const ops = num(flags, 'ops', 5_000_000);
  const trips = num(flags, 'trips', 2_000);
  const rounds = Math.max(1, num(flags, 'rounds', 3));
  const local: number[] = [];
  const leased: number[] = [];
  const refills: TripFigures[] = [];
  const asks: TripFigures[] = [];
  for (let round = 0; round < rounds; round++) {
    const figures = await localFigures(ops);
    local.push(figures.local);
    leased.push(figures.leased);
    refills.push(await ipcFigures('refill', trips));
    asks.push(await ipcFigures('ask', trips));
  }
  const ns = (values: number[]) => `${median(values)!.toFixed(1)} ns`;
  const us = (values: number[]) => `${median(values)!.toFixed(1)} µs`;
  console.log(`medians of ${rounds} rounds; ${ops} acquire+release per local figure, ${trips} round trips per IPC figure\n`);
  console.log(alignedColumns(['acquire + release (CPU)', 'per op'], [
    ['single process: local count', ns(local)],
    ['cluster: LeasedCounter, leases held', ns(leased)],
  ]).join('\n'));
  console.log('');
  const row = (label: string, figures: TripFigures[]) => [label, us(figures.map((f) => f.p50)), us(figures.map((f) => f.p99)),
    us(figures.map((f) => f.childCpu)), us(figures.map((f) => f.primaryCpu))];
  console.log(alignedColumns(['round trip over fork IPC', 'wall p50', 'wall p99', 'child CPU', 'primary CPU'], [
    row('refill (waiting acquire) + give-back', refills),
    row('queue place (no-wait ask) + give-back', asks),
  ]).join('\n'));
}

await main();
