// Cluster mode without Redis: the supervisor holds every budget and rate-limit counter (one MemoryCounters), and the
// gateway processes reserve, settle and read over their IPC channel, tagged `heimdall: 'governance'` like the MCP
// messages are tagged 'mcp'. A reservation is one message each way; the supervisor checks and takes it in one turn
// of its event loop, so requests of all processes together can never pass a limit: the bound is the same as one
// process's ($0 for budgets, exactly N for a rate limit of N). A settlement is one message, not answered.
//
// Messages a process sends in one turn of its event loop go as one (`batch`), and so do the supervisor's answers to
// them: under load, many requests share each IPC write and wake-up. A counter's spec crosses once, and again only
// when it changes (a reload, an admin change); after that a reservation names the counter by its key.
//
// The supervisor remembers each process's reservations until they settle: a process that dies with requests in
// flight has them charged their worst case (the provider may have served them), never released for free.

import { MemoryCounters, type CounterSpec, type CounterStore, type CounterUsage, type Hold, type Verdict } from './counters.js';

export const GOVERNANCE_TAG = 'governance';

/** A hold as it crosses the channel: the counter's key, with its spec the first time (or when it changed). */
type WireHold = { key: string; counter?: CounterSpec; amount: number };

type Tagged<T> = T & { heimdall: typeof GOVERNANCE_TAG };

type HostRequest =
  | { type: 'reserve'; id: number; holds: WireHold[]; now: number }
  | { type: 'settle'; id: number; actual: number[]; now: number }
  | { type: 'usage'; id: number; counter: CounterSpec; now: number };

type HostAnswer =
  | { type: 'verdict'; id: number; refused: number; usage: CounterUsage[] }
  | { type: 'usage'; id: number; usage: CounterUsage };

export type ToCounterHost = Tagged<HostRequest> | Tagged<{ type: 'batch'; messages: HostRequest[] }>;
export type FromCounterHost = Tagged<HostAnswer> | Tagged<{ type: 'batch'; messages: HostAnswer[] }>;

/** Sends what is queued in one turn as one message. */
class Outbox<T> {
  #queue: T[] = [];

  constructor(private readonly transport: CounterTransport) {}

  push(message: T): void {
    if (this.#queue.push(message) === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    const messages = this.#queue;
    if (messages.length === 0) return;
    this.#queue = [];
    this.transport.send(messages.length === 1 ? { heimdall: GOVERNANCE_TAG, ...messages[0] }
      : { heimdall: GOVERNANCE_TAG, type: 'batch', messages });
  }
}

export interface CounterTransport {
  send(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

export const isGovernanceMessage = (message: unknown): boolean =>
  typeof message === 'object' && message !== null && (message as { heimdall?: unknown }).heimdall === GOVERNANCE_TAG;

const plain = ({ used, reserved, resetAt }: CounterUsage): CounterUsage => ({ used, reserved, resetAt });

/** The supervisor's side: the one set of counters every process counts on. */
export class CounterHost {
  readonly #counters = new MemoryCounters();
  /** By counter key: the last spec seen and its text, so an unchanged spec stays the same object (its window kept). */
  readonly #specs = new Map<string, { text: string; spec: CounterSpec }>();
  /** By process: its reservations not yet settled, by the id it gave them. */
  readonly #open = new Map<string, Map<number, Hold[]>>();

  #spec(wire: CounterSpec): CounterSpec {
    const text = JSON.stringify(wire);
    const known = this.#specs.get(wire.key);
    if (known?.text === text) return known.spec;
    this.#specs.set(wire.key, { text, spec: wire });
    return wire;
  }

  attach(childId: string, transport: CounterTransport): void {
    const open = new Map<number, Hold[]>();
    this.#open.set(childId, open);
    const outbox = new Outbox<HostAnswer>(transport);
    const handle = (message: HostRequest, now: number) => {
      if (message.type === 'reserve' && Array.isArray(message.holds)) {
        const holds: Hold[] = [];
        for (const h of message.holds) {
          const spec = h.counter ? this.#spec(h.counter) : this.#specs.get(h.key)?.spec;
          // A key whose spec never came: refused as if full, rather than counted against nothing.
          if (!spec) {
            outbox.push({ type: 'verdict', id: message.id, refused: holds.length, usage: [] });
            return;
          }
          holds.push({ counter: spec, amount: h.amount });
        }
        const verdict = this.#counters.reserve(holds, now);
        if (verdict.refused === -1) open.set(message.id, holds);
        outbox.push({ type: 'verdict', id: message.id, refused: verdict.refused, usage: verdict.usage.map(plain) });
      } else if (message.type === 'settle' && Array.isArray(message.actual)) {
        const holds = open.get(message.id);
        if (!holds || message.actual.length !== holds.length) return;
        open.delete(message.id);
        this.#counters.settle(holds, message.actual.map((n) => (Number.isFinite(n) && n >= 0 ? n : 0)), now);
      } else if (message.type === 'usage' && message.counter) {
        outbox.push({ type: 'usage', id: message.id, usage: plain(this.#counters.usage(this.#spec(message.counter), now)) });
      }
    };
    transport.onMessage((raw) => {
      if (!isGovernanceMessage(raw)) return;
      const message = raw as ToCounterHost;
      const now = Date.now();
      if (message.type === 'batch') {
        if (Array.isArray(message.messages)) for (const m of message.messages) handle(m, now);
      } else handle(message, now);
      // The answers to one batch leave together, at once.
      outbox.flush();
    });
  }

  /** The process is gone: what it still held is charged at its worst case. */
  detach(childId: string): void {
    const open = this.#open.get(childId);
    this.#open.delete(childId);
    const now = Date.now();
    for (const holds of open?.values() ?? []) this.#counters.settle(holds, holds.map((h) => h.amount), now);
  }

  /** For tests and the bench: a counter as the supervisor sees it. */
  usage(counter: CounterSpec): CounterUsage {
    return this.#counters.usage(this.#spec(counter), Date.now());
  }
}

/** How long a process waits for the supervisor's answer before treating the counters as unreachable. */
const ANSWER_TIMEOUT_MS = 5_000;

/** The gateway process's side: the supervisor's counters as a CounterStore. */
export class RemoteCounters implements CounterStore {
  readonly #pending = new Map<number, { resolve: (value: HostAnswer) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  /** The id each admitted reservation was sent under, found again by its holds when it settles. */
  readonly #ids = new WeakMap<readonly Hold[], number>();
  /** The specs the supervisor has from this process: each crosses once. */
  readonly #sent = new WeakSet<CounterSpec>();
  readonly #outbox: Outbox<HostRequest>;
  #nextId = 1;

  constructor(transport: CounterTransport) {
    this.#outbox = new Outbox(transport);
    const answer = (message: HostAnswer) => {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      pending.resolve(message);
    };
    transport.onMessage((raw) => {
      if (!isGovernanceMessage(raw)) return;
      const message = raw as FromCounterHost;
      if (message.type === 'batch') message.messages.forEach(answer);
      else answer(message);
    });
  }

  #ask(message: (id: number) => HostRequest): Promise<HostAnswer> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the supervisor did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      this.#outbox.push(message(id));
    });
  }

  reserve(holds: readonly Hold[], now: number): Promise<Verdict> {
    let sentAs = 0;
    return this.#ask((id) => {
      sentAs = id;
      return { type: 'reserve', id, now, holds: holds.map(({ counter, amount }): WireHold => {
        if (this.#sent.has(counter)) return { key: counter.key, amount };
        this.#sent.add(counter);
        return { key: counter.key, counter, amount };
      }) };
    }).then((answer) => {
      const verdict = answer as Extract<HostAnswer, { type: 'verdict' }>;
      if (verdict.refused === -1) this.#ids.set(holds, sentAs);
      return { refused: verdict.refused, usage: verdict.usage };
    });
  }

  settle(holds: readonly Hold[], actual: readonly number[], now: number): void {
    const id = this.#ids.get(holds);
    if (id === undefined) return;
    this.#ids.delete(holds);
    this.#outbox.push({ type: 'settle', id, actual: [...actual], now });
  }

  async usage(counter: CounterSpec, now: number): Promise<CounterUsage> {
    const answer = await this.#ask((id) => ({ type: 'usage', id, counter, now }));
    return (answer as Extract<HostAnswer, { type: 'usage' }>).usage;
  }

  async close(): Promise<void> {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error('the gateway process is closing'));
      this.#pending.delete(id);
    }
  }
}
