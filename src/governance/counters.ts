// The counters budgets and rate limits are made of, and the in-memory store of them. A request reserves before it
// is dispatched — its worst-case cost on every budget above it, one request on every request limit — and settles
// after: the reservation goes, the real amount is added. A reservation is taken only if every counter has room for
// it, so concurrent requests can never together pass a limit: `used + reserved <= limit` holds at every moment.
// Money is counted in micro-dollars (integers), so that Redis (src/governance/redis.ts) counts exactly the same.
//
// One process: JavaScript runs one request's reservation to the end before the next begins, so a plain Map is
// already atomic; no lock is taken on the hot path.

import { windowEnd, windowStart, type Period } from './period.js';

export type CounterKind = 'budget' | 'requests' | 'tokens';

export interface CounterSpec {
  /** Unique among counters: `budget:<id>`, `requests:<id>`, `tokens:<id>`. */
  readonly key: string;
  readonly kind: CounterKind;
  /** Budgets in micro-dollars, rate limits in requests or tokens. */
  readonly limit: number;
  readonly period: Period;
  /** The config's `current_usage` (or persisted spend): what the first window starts from. */
  readonly initialUsage: number;
}

export interface Hold {
  readonly counter: CounterSpec;
  /**
   * What is reserved. 0 asks only that the counter is not spent already (a token limit: the tokens of a request are
   * known after it, as in Bifrost).
   */
  readonly amount: number;
}

export interface CounterUsage {
  used: number;
  reserved: number;
  /** Epoch ms of the next reset. */
  resetAt: number;
}

/** The outcome of a reservation: `refused` is the index of the first hold without room, -1 when all were taken. */
export interface Verdict {
  readonly refused: number;
  /** Each hold's counter after the reservation (or as it stood, when refused), in the holds' order. */
  readonly usage: readonly CounterUsage[];
}

export interface CounterStore {
  reserve(holds: readonly Hold[], now: number): Verdict | Promise<Verdict>;
  /** Releases the holds and adds `actual[i]` to each one's counter. Never fails the request. */
  settle(holds: readonly Hold[], actual: readonly number[], now: number): void;
  usage(counter: CounterSpec, now: number): CounterUsage | Promise<CounterUsage>;
  close(): Promise<void>;
}

/** Whether a counter standing at `used + reserved` takes `amount` more. */
export function fits(limit: number, used: number, reserved: number, amount: number): boolean {
  return amount > 0 ? used + reserved + amount <= limit : used + reserved < limit;
}

class Window implements CounterUsage {
  used: number;
  reserved = 0;
  start: number;
  resetAt: number;

  constructor(readonly spec: CounterSpec, now: number) {
    this.start = windowStart(spec.period, now);
    this.resetAt = windowEnd(spec.period, this.start);
    this.used = spec.initialUsage;
  }

  /** A window past its end starts over; what is still reserved stays, as those requests are still running. */
  roll(now: number): void {
    if (now < this.resetAt) return;
    this.start = windowStart(this.spec.period, now);
    this.resetAt = windowEnd(this.spec.period, this.start);
    this.used = 0;
  }
}

export class MemoryCounters implements CounterStore {
  readonly #windows = new Map<string, Window>();

  #window(spec: CounterSpec, now: number): Window {
    let window = this.#windows.get(spec.key);
    if (!window || window.spec !== spec) {
      // A reloaded config's counter keeps the spend of the one it replaces.
      const fresh = new Window(spec, now);
      if (window) {
        fresh.used = window.used;
        fresh.reserved = window.reserved;
      }
      window = fresh;
      this.#windows.set(spec.key, window);
    }
    window.roll(now);
    return window;
  }

  reserve(holds: readonly Hold[], now: number): Verdict {
    const windows: Window[] = [];
    let refused = -1;
    for (let i = 0; i < holds.length; i++) {
      const window = this.#window(holds[i].counter, now);
      windows.push(window);
      if (refused === -1 && !fits(holds[i].counter.limit, window.used, window.reserved, holds[i].amount)) refused = i;
    }
    if (refused === -1) for (let i = 0; i < holds.length; i++) windows[i].reserved += holds[i].amount;
    // The windows themselves: read at once by the caller, before any other reservation runs.
    return { refused, usage: windows };
  }

  settle(holds: readonly Hold[], actual: readonly number[], now: number): void {
    for (let i = 0; i < holds.length; i++) {
      const window = this.#window(holds[i].counter, now);
      window.reserved = Math.max(0, window.reserved - holds[i].amount);
      window.used += actual[i];
    }
  }

  usage(counter: CounterSpec, now: number): CounterUsage {
    const { used, reserved, resetAt } = this.#window(counter, now);
    return { used, reserved, resetAt };
  }

  async close(): Promise<void> {}
}
