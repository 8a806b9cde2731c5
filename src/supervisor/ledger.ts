// The primary's ledger of gateway-wide counters (a provider's concurrency, its queue places; next, rate limits and
// budgets). It owns each counter's limit and hands units to children as leases: a child holds a few locally, so its
// common case costs no IPC round trip, asks for more when it runs out and gives back what it does not use.
//
// Invariants:
//   - the units leased out of a counter never exceed its limit (a lowered limit stops new grants until the leases
//     come back under it; it revokes none);
//   - a child that waits is answered in FIFO order with the other waiting children, and while anyone waits every
//     holder is told (`contended`) to give back its idle units and to take none without asking: a child that keeps
//     its slots busy cannot starve another for longer than its requests in flight last;
//   - a child detached (dead, or replaced) has all its leases back at once, and its waiting asks forgotten.
// The ledger trusts no message: an unknown counter or a release of more than the child holds is ignored, logged
// once by the caller's `onProtocolError`.

import { type ChildToLedger, type CounterSpec, isLeaseMessage, LEASE_TAG, type LeaseTransport, type LedgerToChild } from '../contract/lease-messages.js';

export { ipcTransport, type CounterSpec, type LeaseTransport } from '../contract/lease-messages.js';

export interface LedgerOptions {
  /** Counters known before any child defines them (children may define more, or change a limit, with `define`). */
  counters?: readonly CounterSpec[];
  /** A child sent something the protocol does not allow; the ledger ignored it. */
  onProtocolError?(childId: string, reason: string): void;
  /** Milliseconds since the epoch, for windowed counters; tests pass their own. */
  clock?: () => number;
}

export interface CounterSnapshot {
  name: string;
  limit: number;
  /** Units leased out, all children together. */
  leased: number;
  /** Units each child holds. */
  byChild: Record<string, number>;
  /** Children waiting for units, in the order they will be served. */
  waiting: string[];
  /** A windowed counter's current window (`Date.now() / windowMs`, floored); 0 without windows. */
  window: number;
}

export interface Ledger {
  /** Starts serving a child's lease messages on its transport (messages without `heimdall: 'lease'` are ignored). */
  attach(childId: string, transport: LeaseTransport): void;
  /** The child is gone: its leases return to their counters at once, and waiting children are served from them. */
  detach(childId: string): void;
  define(spec: CounterSpec): void;
  snapshot(): CounterSnapshot[];
}

interface Waiter {
  child: Child;
  id: number;
  amount: number;
}

interface Counter {
  readonly name: string;
  limit: number;
  windowMs: number | null;
  window: number;
  /** Set while children wait on a windowed counter that is full: the next window will have room. */
  rollTimer: NodeJS.Timeout | null;
  leased: number;
  readonly held: Map<Child, number>;
  readonly waiters: Waiter[];
  contended: boolean;
}

interface Child {
  readonly id: string;
  readonly transport: LeaseTransport;
  attached: boolean;
}

export function createLedger(options: LedgerOptions = {}): Ledger {
  const counters = new Map<string, Counter>();
  const children = new Map<string, Child>();
  const protocolError = (child: Child, reason: string) => options.onProtocolError?.(child.id, reason);
  const clock = options.clock ?? Date.now;
  const windowOf = (counter: Counter) => counter.windowMs === null ? 0 : Math.floor(clock() / counter.windowMs);

  const define = (spec: CounterSpec): void => {
    if (!Number.isSafeInteger(spec.limit) || spec.limit < 0) throw new RangeError(`counter ${spec.name}: limit must be an integer ≥ 0`);
    const windowMs = spec.windowMs ?? null;
    if (windowMs !== null && !(Number.isSafeInteger(windowMs) && windowMs > 0)) {
      throw new RangeError(`counter ${spec.name}: windowMs must be an integer > 0`);
    }
    const existing = counters.get(spec.name);
    if (existing) {
      existing.limit = spec.limit;
      if (existing.windowMs !== windowMs) {
        existing.windowMs = windowMs;
        existing.window = -1;
        if (existing.rollTimer) clearTimeout(existing.rollTimer);
        existing.rollTimer = null;
        rollOver(existing);
      }
      serveWaiters(existing);
      return;
    }
    const counter: Counter = { name: spec.name, limit: spec.limit, windowMs, window: 0, rollTimer: null, leased: 0,
      held: new Map(), waiters: [], contended: false };
    counter.window = windowOf(counter);
    counters.set(spec.name, counter);
  };
  for (const spec of options.counters ?? []) define(spec);

  const send = (child: Child, message: LedgerToChild): void => {
    if (!child.attached) return;
    try {
      child.transport.send(message);
    } catch {
      // The channel closed under us: the supervisor's detach for this child is on its way.
    }
  };

  const grant = (counter: Counter, child: Child, id: number, amount: number): void => {
    if (amount > 0) {
      counter.leased += amount;
      counter.held.set(child, (counter.held.get(child) ?? 0) + amount);
    }
    send(child, { heimdall: LEASE_TAG, type: 'grant', id, counter: counter.name, amount, window: counter.window });
  };

  /** A windowed counter whose window ended starts from zero; every child hears it before any grant of the new one. */
  function rollOver(counter: Counter): boolean {
    const window = windowOf(counter);
    if (window === counter.window) return false;
    counter.window = window;
    counter.leased = 0;
    counter.held.clear();
    for (const child of children.values()) send(child, { heimdall: LEASE_TAG, type: 'window', counter: counter.name, window });
    return true;
  }

  const scheduleRollOver = (counter: Counter): void => {
    if (counter.windowMs === null || counter.rollTimer) return;
    const delay = (counter.window + 1) * counter.windowMs - clock();
    counter.rollTimer = setTimeout(() => {
      counter.rollTimer = null;
      rollOver(counter);
      serveWaiters(counter);
    }, Math.max(1, delay));
    counter.rollTimer.unref();
  };

  const setContended = (counter: Counter, on: boolean): void => {
    if (counter.contended === on) return;
    counter.contended = on;
    for (const child of children.values()) send(child, { heimdall: LEASE_TAG, type: 'contended', counter: counter.name, on });
  };

  function serveWaiters(counter: Counter): void {
    while (counter.waiters.length > 0 && counter.leased < counter.limit) {
      const waiter = counter.waiters.shift()!;
      grant(counter, waiter.child, waiter.id, Math.min(waiter.amount, counter.limit - counter.leased));
    }
    setContended(counter, counter.waiters.length > 0);
    if (counter.waiters.length > 0) scheduleRollOver(counter);
  }

  const onAcquire = (child: Child, counter: Counter, id: number, amount: number, wait: boolean): void => {
    const free = counter.limit - counter.leased;
    // Someone queued first: a new ask waits its turn, or (not waiting) is refused, rather than jump the line.
    if (free > 0 && counter.waiters.length === 0) {
      grant(counter, child, id, Math.min(amount, free));
    } else if (wait) {
      counter.waiters.push({ child, id, amount });
      setContended(counter, true);
      scheduleRollOver(counter);
    } else {
      grant(counter, child, id, 0);
    }
  };

  const onRelease = (child: Child, counter: Counter, amount: number, window: number): void => {
    // Units of a window that ended were void already.
    if (window !== counter.window) return;
    const held = counter.held.get(child) ?? 0;
    if (amount > held) {
      protocolError(child, `released ${amount} of ${counter.name} while holding ${held}`);
      amount = held;
    }
    if (amount === 0) return;
    counter.leased -= amount;
    if (held === amount) counter.held.delete(child);
    else counter.held.set(child, held - amount);
    serveWaiters(counter);
  };

  const receive = (childId: string, message: unknown): void => {
    const child = children.get(childId);
    if (!child || !isLeaseMessage(message)) return;
    const m = message as ChildToLedger;
    if (m.type === 'define') {
      if (typeof m.counter !== 'string' || !Number.isSafeInteger(m.limit) || m.limit < 0) {
        protocolError(child, `bad define ${JSON.stringify(m)}`);
        return;
      }
      try {
        define({ name: m.counter, limit: m.limit, ...(m.windowMs === undefined ? {} : { windowMs: m.windowMs }) });
      } catch (error) {
        protocolError(child, (error as Error).message);
        return;
      }
      // A child attached after contention began learns of it too.
      const counter = counters.get(m.counter)!;
      if (counter.contended) send(child, { heimdall: LEASE_TAG, type: 'contended', counter: counter.name, on: true });
      return;
    }
    const counter = typeof m.counter === 'string' ? counters.get(m.counter) : undefined;
    if (!counter) {
      protocolError(child, `unknown counter in ${JSON.stringify(m)}`);
      return;
    }
    // A window that ended since the last message: those already waiting are served first from the new one.
    if (rollOver(counter)) serveWaiters(counter);
    if (m.type === 'acquire' && Number.isSafeInteger(m.amount) && m.amount > 0 && Number.isSafeInteger(m.id)) {
      onAcquire(child, counter, m.id, m.amount, m.wait === true);
    } else if (m.type === 'release' && Number.isSafeInteger(m.amount) && m.amount > 0 && Number.isSafeInteger(m.window)) {
      onRelease(child, counter, m.amount, m.window);
    } else {
      protocolError(child, `bad message ${JSON.stringify(m)}`);
    }
  };

  return {
    attach(childId, transport) {
      if (children.get(childId)?.attached) throw new Error(`child ${childId} is attached already`);
      const child: Child = { id: childId, transport, attached: true };
      children.set(childId, child);
      // The transport has no way to unsubscribe: a detached child's late messages are dropped by identity.
      transport.onMessage((message) => {
        if (children.get(childId) === child) receive(childId, message);
      });
    },
    detach(childId) {
      const child = children.get(childId);
      if (!child) return;
      child.attached = false;
      children.delete(childId);
      for (const counter of counters.values()) {
        const held = counter.held.get(child) ?? 0;
        counter.held.delete(child);
        counter.leased -= held;
        for (let i = counter.waiters.length - 1; i >= 0; i--) {
          if (counter.waiters[i].child === child) counter.waiters.splice(i, 1);
        }
        serveWaiters(counter);
      }
    },
    define,
    snapshot() {
      return [...counters.values()].map((counter) => ({
        name: counter.name,
        limit: counter.limit,
        leased: counter.leased,
        byChild: Object.fromEntries([...counter.held].map(([child, held]) => [child.id, held])),
        waiting: counter.waiters.map((waiter) => waiter.child.id),
        window: counter.window,
      }));
    },
  };
}
