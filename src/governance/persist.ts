// Spend and rate-limit windows that outlive a restart: what each settlement adds to a counter is summed here per
// counter and window, and written to the config store (the request log's store, src/stores/governance-store.ts)
// every `flushMs` and at shutdown, from the log thread, never from this one. A restart starts each counter from
// what was written for the window it is in (src/governance/model.ts). What a crash (not a shutdown) loses is what
// was settled in its last `flushMs`; reservations are never written: a request in flight at a crash was not settled.

import type { UsageDelta } from '../stores/governance-store.js';
import type { CounterSpec, CounterStore, CounterUsage, Hold, Verdict } from './counters.js';
import { windowEnd, windowStart } from './period.js';

export const USAGE_FLUSH_MS = 1000;

export interface UsageSink {
  addUsage(deltas: UsageDelta[]): void;
}

export class PersistedCounters implements CounterStore {
  readonly #inner: CounterStore;
  readonly #sink: UsageSink;
  /** `<counter key>\0<window end>` → amount not written yet. */
  #pending = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(inner: CounterStore, sink: UsageSink, flushMs = USAGE_FLUSH_MS) {
    this.#inner = inner;
    this.#sink = sink;
    this.#timer = setInterval(() => this.flush(), flushMs);
    this.#timer.unref();
  }

  get inner(): CounterStore {
    return this.#inner;
  }

  reserve(holds: readonly Hold[], now: number): Verdict | Promise<Verdict> {
    return this.#inner.reserve(holds, now);
  }

  settle(holds: readonly Hold[], actual: readonly number[], now: number): void {
    this.#inner.settle(holds, actual, now);
    holds.forEach(({ counter }, i) => {
      if (actual[i] <= 0) return;
      const series = `${counter.key}\u0000${windowEnd(counter.period, windowStart(counter.period, now))}`;
      this.#pending.set(series, (this.#pending.get(series) ?? 0) + actual[i]);
    });
  }

  usage(counter: CounterSpec, now: number): CounterUsage | Promise<CounterUsage> {
    return this.#inner.usage(counter, now);
  }

  flush(): void {
    if (this.#pending.size === 0) return;
    const deltas = [...this.#pending].map(([series, amount]): UsageDelta => {
      const cut = series.indexOf('\u0000');
      return [series.slice(0, cut), amount, Number(series.slice(cut + 1))];
    });
    this.#pending = new Map();
    this.#sink.addUsage(deltas);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.flush();
    await this.#inner.close();
  }
}
