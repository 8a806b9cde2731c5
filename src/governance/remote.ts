// Cluster mode without Redis: the supervisor holds every budget and rate-limit counter (one MemoryCounters), and the
// gateway processes reserve, settle and read over their IPC channel, tagged `heimdall: 'governance'` like the MCP
// messages are tagged 'mcp'. A reservation is one message each way; the supervisor checks and takes it in one turn
// of its event loop, so requests of all processes together can never pass a limit: the bound is the same as one
// process's ($0 for budgets, exactly N for a rate limit of N). A settlement is one message, not answered.
//
// The supervisor remembers each process's reservations until they settle: a process that dies with requests in
// flight has them charged their worst case (the provider may have served them), never released for free.

import { MemoryCounters, type CounterSpec, type CounterStore, type CounterUsage, type Hold, type Verdict } from './counters.js';

export const GOVERNANCE_TAG = 'governance';

/** A counter's spec as it crosses the channel: plain data. */
type WireHold = { counter: CounterSpec; amount: number };

export type ToCounterHost =
  | { heimdall: typeof GOVERNANCE_TAG; type: 'reserve'; id: number; holds: WireHold[]; now: number }
  | { heimdall: typeof GOVERNANCE_TAG; type: 'settle'; id: number; actual: number[]; now: number }
  | { heimdall: typeof GOVERNANCE_TAG; type: 'usage'; id: number; counter: CounterSpec; now: number };

export type FromCounterHost =
  | { heimdall: typeof GOVERNANCE_TAG; type: 'verdict'; id: number; refused: number; usage: CounterUsage[] }
  | { heimdall: typeof GOVERNANCE_TAG; type: 'usage'; id: number; usage: CounterUsage };

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
    transport.onMessage((raw) => {
      if (!isGovernanceMessage(raw)) return;
      const message = raw as ToCounterHost;
      const now = Date.now();
      if (message.type === 'reserve' && Array.isArray(message.holds)) {
        const holds = message.holds.map((h) => ({ counter: this.#spec(h.counter), amount: h.amount }));
        const verdict = this.#counters.reserve(holds, now);
        if (verdict.refused === -1) open.set(message.id, holds);
        transport.send({ heimdall: GOVERNANCE_TAG, type: 'verdict', id: message.id, refused: verdict.refused,
          usage: verdict.usage.map(plain) } satisfies FromCounterHost);
      } else if (message.type === 'settle' && Array.isArray(message.actual)) {
        const holds = open.get(message.id);
        if (!holds || message.actual.length !== holds.length) return;
        open.delete(message.id);
        this.#counters.settle(holds, message.actual.map((n) => (Number.isFinite(n) && n >= 0 ? n : 0)), now);
      } else if (message.type === 'usage' && message.counter) {
        transport.send({ heimdall: GOVERNANCE_TAG, type: 'usage', id: message.id,
          usage: plain(this.#counters.usage(this.#spec(message.counter), now)) } satisfies FromCounterHost);
      }
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
  readonly #transport: CounterTransport;
  readonly #pending = new Map<number, { resolve: (value: FromCounterHost) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  /** The id each admitted reservation was sent under, found again by its holds when it settles. */
  readonly #ids = new WeakMap<readonly Hold[], number>();
  #nextId = 1;

  constructor(transport: CounterTransport) {
    this.#transport = transport;
    transport.onMessage((raw) => {
      if (!isGovernanceMessage(raw)) return;
      const message = raw as FromCounterHost;
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      pending.resolve(message);
    });
  }

  #ask(message: (id: number) => ToCounterHost): Promise<FromCounterHost> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the supervisor did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      this.#transport.send(message(id));
    });
  }

  reserve(holds: readonly Hold[], now: number): Promise<Verdict> {
    let sentAs = 0;
    return this.#ask((id) => {
      sentAs = id;
      return { heimdall: GOVERNANCE_TAG, type: 'reserve', id, now,
        holds: holds.map(({ counter, amount }) => ({ counter, amount })) };
    }).then((answer) => {
      const verdict = answer as Extract<FromCounterHost, { type: 'verdict' }>;
      if (verdict.refused === -1) this.#ids.set(holds, sentAs);
      return { refused: verdict.refused, usage: verdict.usage };
    });
  }

  settle(holds: readonly Hold[], actual: readonly number[], now: number): void {
    const id = this.#ids.get(holds);
    if (id === undefined) return;
    this.#ids.delete(holds);
    this.#transport.send({ heimdall: GOVERNANCE_TAG, type: 'settle', id, actual: [...actual], now } satisfies ToCounterHost);
  }

  async usage(counter: CounterSpec, now: number): Promise<CounterUsage> {
    const answer = await this.#ask((id) => ({ heimdall: GOVERNANCE_TAG, type: 'usage', id, counter, now }));
    return (answer as Extract<FromCounterHost, { type: 'usage' }>).usage;
  }

  async close(): Promise<void> {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error('the gateway process is closing'));
      this.#pending.delete(id);
    }
  }
}
