// The primary's ledger with real LeaseClients over in-memory pipes that copy and delay like process IPC.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseClient, type LeasedCounter } from '../../../src/dispatch/leases.js';
import { createLedger, type Ledger } from '../../../src/supervisor/ledger.js';
import { pipePair, settle } from '../../fakes/lease-pipe.js';

function connect(ledger: Ledger, childId: string): LeaseClient {
  const { child, parent } = pipePair();
  ledger.attach(childId, parent);
  return new LeaseClient(child);
}

function leasedOf(ledger: Ledger, name: string): number {
  return ledger.snapshot().find((counter) => counter.name === name)!.leased;
}

/** Takes a unit now or as soon as the ledger's leases allow it. */
function acquire(counter: LeasedCounter, waiters: (() => void)[]): Promise<void> {
  if (counter.tryAcquire()) return Promise.resolve();
  return new Promise((resolve) => waiters.push(resolve));
}

/** A process's queue in front of a counter, as ProviderPool keeps one. */
function queueFor(counter: LeasedCounter): (() => void)[] {
  const waiters: (() => void)[] = [];
  counter.onAvailable(() => {
    while (waiters.length > 0 && counter.tryAcquire()) waiters.shift()!();
  });
  return waiters;
}

describe('ledger', () => {
  it('never leases more than the limit while three children hammer one counter, and serves all of them', async () => {
    const protocolErrors: string[] = [];
    const ledger = createLedger({ onProtocolError: (child, reason) => protocolErrors.push(`${child}: ${reason}`) });
    const limit = 10;
    let inUse = 0;
    let maxInUse = 0;
    let maxLeased = 0;
    const done: number[] = [];
    const children = ['a', 'b', 'c'].map((id) => {
      const counter = connect(ledger, id).counter('p.concurrency', { limit });
      return { id, counter, waiters: queueFor(counter) };
    });
    // Each child runs 8 concurrent loops of acquire → hold for a few turns → release: 24 contenders for 10 units.
    await Promise.all(children.flatMap((child, c) => Array.from({ length: 8 }, async (_, loop) => {
      for (let i = 0; i < 25; i++) {
        await acquire(child.counter, child.waiters);
        inUse++;
        maxInUse = Math.max(maxInUse, inUse);
        maxLeased = Math.max(maxLeased, leasedOf(ledger, 'p.concurrency'));
        for (let turn = 0; turn < (c + loop + i) % 4; turn++) await new Promise((resolve) => setImmediate(resolve));
        inUse--;
        child.counter.release();
      }
      done.push(c);
    })));
    expect(done).toHaveLength(24);
    expect(maxInUse).toBeLessThanOrEqual(limit);
    expect(maxLeased).toBeLessThanOrEqual(limit);
    // The contention was real: the units were all in use at some point.
    expect(maxInUse).toBe(limit);
    await settle();
    // Quiet again: each child keeps at most its idle batch, the rest went back.
    const [snapshot] = ledger.snapshot();
    expect(snapshot.leased).toBeLessThanOrEqual(limit);
    expect(snapshot.waiting).toEqual([]);
    expect(protocolErrors).toEqual([]);
  });

  it('takes a dead child\'s leases back at once and hands them to the children waiting', async () => {
    const ledger = createLedger();
    const a = connect(ledger, 'a').counter('p.concurrency', { limit: 4, batch: 4 });
    const b = connect(ledger, 'b').counter('p.concurrency', { limit: 4, batch: 4 });
    expect(a.tryAcquire()).toBe(false);
    await settle();
    for (let i = 0; i < 4; i++) expect(a.tryAcquire()).toBe(true);
    let bGot = 0;
    const bWaiters = queueFor(b);
    for (let i = 0; i < 3; i++) void acquire(b, bWaiters).then(() => bGot++);
    await settle();
    expect(bGot).toBe(0);
    expect(ledger.snapshot()[0]).toMatchObject({ leased: 4, byChild: { a: 4 }, waiting: ['b'] });

    ledger.detach('a');
    await settle();
    expect(bGot).toBe(3);
    expect(ledger.snapshot()[0].byChild).not.toHaveProperty('a');
    expect(ledger.snapshot()[0].leased).toBeLessThanOrEqual(4);
    // The dead child's late messages change nothing.
    a.release(4);
    await settle();
    expect(ledger.snapshot()[0].byChild).not.toHaveProperty('a');
  });

  it('does not let a child that re-takes its units in a tight loop starve another', async () => {
    const ledger = createLedger();
    const greedy = connect(ledger, 'greedy').counter('p.concurrency', { limit: 2, batch: 2 });
    const patient = connect(ledger, 'patient').counter('p.concurrency', { limit: 2 });
    const greedyWaiters = queueFor(greedy);
    const patientWaiters = queueFor(patient);
    let stop = false;
    let greedyRounds = 0;
    // The greedy child always has more requests than slots, and releases and re-takes every turn.
    const loops = [0, 1, 2, 3].map(async () => {
      while (!stop) {
        await acquire(greedy, greedyWaiters);
        await new Promise((resolve) => setImmediate(resolve));
        greedyRounds++;
        greedy.release();
      }
    });
    await settle();
    let patientServed = 0;
    for (let i = 0; i < 5; i++) {
      await acquire(patient, patientWaiters);
      patientServed++;
      await new Promise((resolve) => setImmediate(resolve));
      patient.release();
    }
    stop = true;
    await Promise.all(loops);
    expect(patientServed).toBe(5);
    expect(greedyRounds).toBeGreaterThan(0);
  });

  it('answers an ask that does not wait at once, with nothing when the counter is full', async () => {
    const ledger = createLedger();
    const a = connect(ledger, 'a').counter('p.buffer', { limit: 1, batch: 1, keepIdle: 0 });
    const b = connect(ledger, 'b').counter('p.buffer', { limit: 1, batch: 1, keepIdle: 0 });
    const answers: string[] = [];
    a.acquireOrRefuse(1, (granted) => answers.push(`a:${granted}`));
    await settle();
    b.acquireOrRefuse(1, (granted) => answers.push(`b:${granted}`));
    await settle();
    expect(answers).toEqual(['a:true', 'b:false']);
    a.release();
    await settle();
    b.acquireOrRefuse(1, (granted) => answers.push(`b:${granted}`));
    await settle();
    expect(answers).toEqual(['a:true', 'b:false', 'b:true']);
    expect(ledger.snapshot()[0]).toMatchObject({ leased: 1, byChild: { b: 1 } });
  });

  it('applies a new limit from a later define without revoking leases, and ignores what breaks the protocol', async () => {
    const errors: string[] = [];
    const ledger = createLedger({ counters: [{ name: 'x', limit: 3 }], onProtocolError: (child, reason) => errors.push(`${child}: ${reason}`) });
    const { child, parent } = pipePair();
    ledger.attach('a', parent);
    const answers: unknown[] = [];
    child.onMessage((message) => answers.push(message));
    child.send({ heimdall: 'lease', type: 'acquire', id: 1, counter: 'x', amount: 3, wait: true });
    child.send({ heimdall: 'lease', type: 'release', counter: 'x', amount: 5, window: 0 });
    child.send({ heimdall: 'lease', type: 'acquire', id: 2, counter: 'nope', amount: 1, wait: true });
    child.send({ heimdall: 'lease', type: 'acquire', id: 3, counter: 'x', amount: -1, wait: true });
    child.send({ heimdall: 'supervisor', type: 'ready' });
    await settle();
    expect(answers).toEqual([{ heimdall: 'lease', type: 'grant', id: 1, counter: 'x', amount: 3, window: 0 }]);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toContain('released 5 of x while holding 3');
    // The over-release gave back what it held, no more.
    expect(ledger.snapshot()[0].leased).toBe(0);

    child.send({ heimdall: 'lease', type: 'acquire', id: 4, counter: 'x', amount: 3, wait: true });
    await settle();
    ledger.define({ name: 'x', limit: 1 });
    child.send({ heimdall: 'lease', type: 'release', counter: 'x', amount: 1, window: 0 });
    child.send({ heimdall: 'lease', type: 'acquire', id: 5, counter: 'x', amount: 1, wait: true });
    await settle();
    // 2 still leased against a limit of 1: the ask waits.
    expect(ledger.snapshot()[0]).toMatchObject({ limit: 1, leased: 2, waiting: ['a'] });
    child.send({ heimdall: 'lease', type: 'release', counter: 'x', amount: 2, window: 0 });
    await settle();
    expect(ledger.snapshot()[0]).toMatchObject({ leased: 1, waiting: [] });
    expect(() => ledger.define({ name: 'y', limit: -1 })).toThrow(RangeError);
  });

  describe('a windowed counter', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('grants `limit` units per window gateway-wide, takes refunds within it, and starts each window from zero', async () => {
      // Only the wall clock and the ledger's roll-over timer are fake; the pipes still deliver on setImmediate.
      vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      vi.setSystemTime(1_000 * 60_000);
      const ledger = createLedger();
      const a = connect(ledger, 'a').counter('rpm', { limit: 3, windowMs: 60_000 });
      const b = connect(ledger, 'b').counter('rpm', { limit: 3, windowMs: 60_000 });
      const aWaiters = queueFor(a);
      let aGot = 0;
      const take = () => void acquire(a, aWaiters).then(() => aGot++);
      for (let i = 0; i < 3; i++) take();
      await settle();
      expect(aGot).toBe(3);
      const firstWindow = a.window;
      expect(ledger.snapshot()[0]).toMatchObject({ leased: 3, window: 1_000 });
      // Consumed, not in flight: nothing comes back by itself, and another process finds the window full.
      const answers: boolean[] = [];
      b.acquireOrRefuse(1, (granted) => answers.push(granted));
      take();
      await settle();
      expect(answers).toEqual([false]);
      expect(ledger.snapshot()[0].waiting).toEqual(['a']);
      // A refund (a request that was never sent upstream) frees its unit within the window.
      a.release();
      await settle();
      expect(aGot).toBe(4);
      take();
      take();
      await settle();
      expect(aGot).toBe(4);

      vi.advanceTimersByTime(60_000);
      await settle();
      // The new window: the waiting process is served first, from zero.
      expect(aGot).toBe(6);
      expect(ledger.snapshot()[0]).toMatchObject({ window: 1_001, waiting: [] });
      expect(ledger.snapshot()[0].leased).toBeLessThanOrEqual(3);
      b.acquireOrRefuse(1, (granted) => answers.push(granted));
      await settle();
      expect(answers).toEqual([false, true]);
      expect(ledger.snapshot()[0].leased).toBe(3);
      // A refund of a unit from the window that ended gives nothing back in this one.
      expect(a.used).toBe(2);
      a.release(1, firstWindow);
      await settle();
      expect(a.used).toBe(2);
      expect(ledger.snapshot()[0]).toMatchObject({ leased: 3 });
    });
  });
});
