// A gateway child's end of the primary's ledger (src/supervisor/ledger.ts): gateway-wide counters whose units this
// process holds a few of at a time. `tryAcquire` and `release` are local arithmetic while the process holds enough
// (no IPC on the common path); a miss asks the ledger for a batch in the background and tells the counter's
// listeners when it came, and units left idle beyond `keepIdle` go back on the next microtask.

import { type ChildToLedger, isLeaseMessage, LEASE_TAG, type LeaseTransport, type LedgerToChild } from '../contract/lease-messages.js';

export { ipcTransport, type LeaseTransport } from '../contract/lease-messages.js';

export interface LeasedCounterOptions {
  /** The gateway-wide limit: sent to the ledger, which enforces it. */
  limit: number;
  /** Units asked for at a time when the process runs out (never more than the limit). */
  batch?: number;
  /** Idle units the process keeps for its next requests instead of giving them back. */
  keepIdle?: number;
  /**
   * `limit` units per window of this many milliseconds (rate limits, budgets): what `tryAcquire` takes is consumed,
   * `release` is a refund within the window, and a new window voids every unit held.
   */
  windowMs?: number;
}

/** Batches of about a quarter of the limit: few refills as load rises, little held idle by a quiet process. */
export function defaultBatch(limit: number): number {
  return Math.max(1, Math.min(64, Math.ceil(limit / 4)));
}

export class LeasedCounter {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number | null;
  readonly #client: LeaseClient;
  /** The ledger's window these units belong to (always 0 without windows). */
  #window = 0;
  readonly #batch: number;
  readonly #keepIdle: number;
  /** Units the ledger leased to this process, and how many of them are taken. */
  #held = 0;
  #used = 0;
  #contended = false;
  #refilling = false;
  /** Under contention, units of the grant being handed out that this process's waiters may still take. */
  #earmarked = 0;
  #settleScheduled = false;
  readonly #listeners: (() => void)[] = [];

  constructor(client: LeaseClient, name: string, options: LeasedCounterOptions) {
    this.#client = client;
    this.name = name;
    this.limit = options.limit;
    this.windowMs = options.windowMs ?? null;
    this.#batch = Math.max(1, Math.min(options.batch ?? defaultBatch(options.limit), Math.max(1, options.limit)));
    this.#keepIdle = Math.max(0, options.keepIdle ?? this.#batch);
  }

  get held(): number {
    return this.#held;
  }

  get used(): number {
    return this.#used;
  }

  /** The window the units held now belong to (always 0 without windows). */
  get window(): number {
    return this.#window;
  }

  /**
   * Takes `amount` units from what this process holds; on a miss, asks the ledger for more (listeners hear when they
   * come). While another process waits for the counter, every take goes through the ledger's queue.
   */
  tryAcquire(amount = 1): boolean {
    if (this.#takeHeld(amount)) return true;
    this.#refill(amount);
    return false;
  }

  /**
   * Gives back units taken: a slot done with, or a windowed counter's refund. Such a refund names the window the
   * units were taken in (`window` read at the time): units of a window that ended are void, nothing comes back.
   */
  release(amount = 1, window = this.#window): void {
    if (window !== this.#window) return;
    this.#used -= amount;
    if (this.#contended || this.#held - this.#used > this.#keepIdle) this.#scheduleSettle();
  }

  /**
   * Asks the ledger for `amount` units without queueing there: `done(true)` once they are this process's (taken, as
   * by `tryAcquire`), `done(false)` if the counter had no room. One round trip unless they are held already.
   */
  acquireOrRefuse(amount: number, done: (granted: boolean) => void): void {
    if (this.#takeHeld(amount)) {
      done(true);
      return;
    }
    this.#client.ask(this, amount, false, (answer, window) => {
      const granted = this.#unitsOf(answer, window);
      this.#held += granted;
      if (granted >= amount) {
        this.#used += amount;
        done(true);
      } else {
        done(false);
      }
      this.#scheduleSettle();
    });
  }

  /** Called when units came from a refill: whoever waits in this process should try again. */
  onAvailable(listener: () => void): void {
    this.#listeners.push(listener);
  }

  #takeHeld(amount: number): boolean {
    if (this.#used + amount > this.#held) return false;
    if (this.#contended) {
      // Only what the ledger's queue just handed this process; idle units go back for the others.
      if (this.#earmarked < amount) return false;
      this.#earmarked -= amount;
    }
    this.#used += amount;
    return true;
  }

  #refill(amount: number): void {
    if (this.#refilling) return;
    this.#refilling = true;
    // Under contention one unit at a time, so that the ledger's FIFO shares the units out evenly.
    const ask = this.#contended ? amount : Math.max(amount, this.#batch);
    this.#client.ask(this, ask, true, (answer, window) => {
      this.#refilling = false;
      const granted = this.#unitsOf(answer, window);
      this.#held += granted;
      // The ledger's FIFO chose this process: its own waiters take the units now, even if contention goes on.
      this.#earmarked = granted;
      for (const listener of this.#listeners) listener();
      this.#earmarked = 0;
      this.#scheduleSettle();
    });
  }

  /** Idle units beyond `keepIdle`, or every idle unit under contention, go back to the ledger. */
  #scheduleSettle(): void {
    if (this.#settleScheduled) return;
    this.#settleScheduled = true;
    queueMicrotask(this.#settle);
  }

  #settle = (): void => {
    this.#settleScheduled = false;
    const idle = this.#held - this.#used;
    const surplus = this.#contended ? idle : idle - this.#keepIdle;
    if (surplus <= 0) return;
    this.#held -= surplus;
    this.#client.giveBack(this, surplus, this.#window);
  };

  /** Units of a grant that still count: none from a window that ended; a grant from a newer one starts it. */
  #unitsOf(granted: number, window: number): number {
    if (window < this.#window) return 0;
    if (window > this.#window) this.#startWindow(window);
    return granted;
  }

  #startWindow(window: number): void {
    this.#window = window;
    this.#held = 0;
    this.#used = 0;
    this.#earmarked = 0;
  }

  /** @internal the ledger began a new window: what was held is void, and waiters may find room now. */
  windowStarted(window: number): void {
    if (window <= this.#window) return;
    this.#startWindow(window);
    for (const listener of this.#listeners) listener();
  }

  /** @internal the ledger's contention flag for this counter. */
  setContended(on: boolean): void {
    this.#contended = on;
    if (on) this.#scheduleSettle();
  }
}

export class LeaseClient {
  readonly #transport: LeaseTransport;
  readonly #counters = new Map<string, LeasedCounter>();
  readonly #pending = new Map<number, (granted: number, window: number) => void>();
  #nextId = 1;

  constructor(transport: LeaseTransport) {
    this.#transport = transport;
    transport.onMessage((message) => {
      if (isLeaseMessage(message)) this.#receive(message as LedgerToChild);
    });
  }

  /** The counter `name`, defined at the ledger with this process's limit (a reload's new limit replaces the old). */
  counter(name: string, options: LeasedCounterOptions): LeasedCounter {
    if (this.#counters.has(name)) throw new Error(`lease counter ${name} exists already`);
    const counter = new LeasedCounter(this, name, options);
    this.#counters.set(name, counter);
    this.#send({ heimdall: LEASE_TAG, type: 'define', counter: name, limit: options.limit,
      ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }) });
    return counter;
  }

  /** @internal */
  ask(counter: LeasedCounter, amount: number, wait: boolean, answer: (granted: number, window: number) => void): void {
    const id = this.#nextId++;
    this.#pending.set(id, answer);
    this.#send({ heimdall: LEASE_TAG, type: 'acquire', id, counter: counter.name, amount, wait });
  }

  /** @internal */
  giveBack(counter: LeasedCounter, amount: number, window: number): void {
    this.#send({ heimdall: LEASE_TAG, type: 'release', counter: counter.name, amount, window });
  }

  #send(message: ChildToLedger): void {
    this.#transport.send(message);
  }

  #receive(message: LedgerToChild): void {
    if (message.type === 'grant') {
      const answer = this.#pending.get(message.id);
      if (!answer) return;
      this.#pending.delete(message.id);
      answer(message.amount, message.window);
    } else if (message.type === 'contended') {
      this.#counters.get(message.counter)?.setContended(message.on);
    } else if (message.type === 'window') {
      this.#counters.get(message.counter)?.windowStarted(message.window);
    }
  }
}
