// The ledger in this process, children forked with real node IPC: a gateway-wide limit holds across processes,
// and a child killed while holding leases gives them back to the others at once.
import { fork, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createLedger, ipcTransport, type Ledger } from '../../dist/src/supervisor/ledger.js';

const HAMMER = new URL('../fakes/lease-hammer.ts', import.meta.url).pathname;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Watch {
  ready: number;
  inFlight: number;
  maxInFlight: number;
  entered: number;
  done: number;
}

function forkHammer(ledger: Ledger, id: string, watch: Watch, args: (string | number)[]): ChildProcess {
  const child = fork(HAMMER, args.map(String), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  ledger.attach(id, ipcTransport(child));
  child.on('message', (message: { heimdall?: string; type?: string }) => {
    if (message.heimdall !== 'test') return;
    if (message.type === 'ready') {
      watch.ready++;
    } else if (message.type === 'enter') {
      watch.inFlight++;
      watch.entered++;
      watch.maxInFlight = Math.max(watch.maxInFlight, watch.inFlight);
    } else if (message.type === 'leave') {
      watch.inFlight--;
    } else if (message.type === 'done') {
      watch.done++;
    }
  });
  child.on('exit', () => ledger.detach(id));
  return child;
}

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('leases over process IPC', () => {
  it('keeps three processes of 8 loops each within concurrency 10 gateway-wide', async () => {
    const errors: string[] = [];
    const ledger = createLedger({ onProtocolError: (child, reason) => errors.push(`${child}: ${reason}`) });
    const watch: Watch = { ready: 0, inFlight: 0, maxInFlight: 0, entered: 0, done: 0 };
    let maxLeased = 0;
    const sampler = setInterval(() => {
      maxLeased = Math.max(maxLeased, ...ledger.snapshot().map((counter) => counter.leased));
    }, 1);
    const hammers = ['a', 'b', 'c'].map((id) => forkHammer(ledger, id, watch, ['p.concurrency', 10, 8, 40]));
    try {
      await until(() => watch.ready === 3);
      for (const hammer of hammers) hammer.send({ heimdall: 'test', type: 'go' });
      await until(() => watch.done === 3, 60_000);
    } finally {
      clearInterval(sampler);
    }
    expect(watch.entered).toBe(3 * 8 * 40);
    expect(watch.maxInFlight).toBeLessThanOrEqual(10);
    // 24 loops for 10 slots, 8 per process: more than one process held slots at once, so the bound was tested.
    expect(watch.maxInFlight).toBeGreaterThan(8);
    expect(maxLeased).toBeLessThanOrEqual(10);
    expect(errors).toEqual([]);
  });

  it('gives a killed child\'s leases to the children still running', async () => {
    const ledger = createLedger();
    const watch: Watch = { ready: 0, inFlight: 0, maxInFlight: 0, entered: 0, done: 0 };
    // The first child's loops run far longer than the test: it holds all 4 slots when it is killed.
    const holder = forkHammer(ledger, 'holder', watch, ['p.concurrency', 4, 4, 1_000_000]);
    await until(() => watch.ready === 1);
    holder.send({ heimdall: 'test', type: 'go' });
    await until(() => ledger.snapshot()[0]?.leased === 4 && watch.inFlight >= 1);
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    expect(ledger.snapshot()[0]).toMatchObject({ leased: 0, byChild: {} });
    const after: Watch = { ready: 0, inFlight: 0, maxInFlight: 0, entered: 0, done: 0 };
    const next = forkHammer(ledger, 'next', after, ['p.concurrency', 4, 4, 10]);
    await until(() => after.ready === 1);
    next.send({ heimdall: 'test', type: 'go' });
    await until(() => after.done === 1);
    expect(after.entered).toBe(40);
    expect(after.maxInFlight).toBeLessThanOrEqual(4);
  });
});
