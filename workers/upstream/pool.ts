// A keep-alive connection pool per upstream origin whose cost per request does not grow with the requests in flight.
// undici's Pool looks for a free connection by walking all of them on every dispatch (twice), which is fine for a
// few dozen; an LLM provider answering in 10 s at 300 req/s keeps 3,000 open, and that walk then cost the worker
// more than the rest of the request. Here idle connections sit on a stack (the most recently used on top, so warm
// sockets are reused first and idle ones age out by keep-alive), and requests beyond the connection limit wait in
// a FIFO that a connection drains as it frees up.

import type { Client, Dispatcher } from 'undici';
import { UndiciClient, UndiciDispatcher } from './undici-core.js';
import { Deque } from '../../src/contract/deque.js';

export interface UpstreamPoolOptions {
  connections: number;
  keepAliveTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
  /** TLS options for each connection, or the function that opens it (a proxy's tunnel). */
  connect?: Client.Options['connect'];
}

interface Waiting {
  options: Dispatcher.DispatchOptions;
  handler: Dispatcher.DispatchHandler;
}

/** What a request still waiting for a connection gets when the pool is destroyed: it never had a controller. */
const NEVER_STARTED: Dispatcher.DispatchController = Object.freeze({
  aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {},
});

/** Fails a request that never reached a connection, in the callback style its handler is written in (undici takes both). */
function failUnstarted(handler: Dispatcher.DispatchHandler, error: Error): void {
  if (handler.onResponseError) handler.onResponseError(NEVER_STARTED, error);
  else handler.onError?.(error);
}

export class UpstreamPool extends UndiciDispatcher {
  readonly #origin: string;
  readonly #options: UpstreamPoolOptions;
  readonly #clients = new Set<Client>();
  readonly #idle: Client[] = [];
  readonly #isIdle = new Set<Client>();
  readonly #waiting = new Deque<Waiting>();
  #closed = false;

  constructor(origin: string, options: UpstreamPoolOptions) {
    super();
    this.#origin = origin;
    this.#options = options;
  }

  /** Open connections (idle or busy) and requests waiting for one, for tests and diagnostics. */
  get counts(): { connections: number; idle: number; waiting: number } {
    return { connections: this.#clients.size, idle: this.#idle.length, waiting: this.#waiting.length };
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) {
      failUnstarted(handler, new Error(`the connection pool to ${this.#origin} is closed`));
      return false;
    }
    const client = this.#takeIdle() ?? this.#open();
    if (!client) {
      this.#waiting.push({ options, handler });
      return false;
    }
    this.#send(client, options, handler);
    return true;
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.#shutDown((client) => client.close());
    if (!callback) return done;
    void done.then(callback);
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(errorOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const error = typeof errorOrCallback === 'function' ? null : errorOrCallback ?? null;
    const then = typeof errorOrCallback === 'function' ? errorOrCallback : callback;
    const reason = error ?? new Error(`the connection pool to ${this.#origin} was destroyed`);
    for (let waiting = this.#waiting.shift(); waiting; waiting = this.#waiting.shift()) failUnstarted(waiting.handler, reason);
    const done = this.#shutDown((client) => client.destroy(reason));
    if (!then) return done;
    void done.then(then);
  }

  #shutDown(end: (client: Client) => Promise<void>): Promise<void> {
    this.#closed = true;
    const clients = [...this.#clients];
    this.#clients.clear();
    this.#idle.length = 0;
    this.#isIdle.clear();
    return Promise.allSettled(clients.map(end)).then(() => undefined);
  }

  #takeIdle(): Client | undefined {
    const client = this.#idle.pop();
    if (client) this.#isIdle.delete(client);
    return client;
  }

  #open(): Client | null {
    if (this.#clients.size >= this.#options.connections) return null;
    const client = new UndiciClient(this.#origin, {
      keepAliveTimeout: this.#options.keepAliveTimeout,
      headersTimeout: this.#options.headersTimeout,
      bodyTimeout: this.#options.bodyTimeout,
      ...(this.#options.connect ? { connect: this.#options.connect } : {}),
    });
    client.on('drain', () => this.#freed(client));
    client.on('connectionError', () => this.#dropped(client));
    this.#clients.add(client);
    return client;
  }

  /**
   * A connection that could not connect is dropped, as undici's Pool does. Requests waiting for a connection must
   * not wait for one that will never free up: they get new connections while the limit allows.
   */
  #dropped(client: Client): void {
    if (!this.#clients.delete(client)) return;
    let fresh: Client | null;
    while (this.#waiting.length > 0 && (fresh = this.#open())) {
      const next = this.#waiting.shift()!;
      this.#send(fresh, next.options, next.handler);
    }
  }

  #send(client: Client, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    // false: the connection is busy until it emits 'drain'; true: it can take another request at once.
    if (client.dispatch(options, handler)) this.#parkIdle(client);
  }

  #freed(client: Client): void {
    if (!this.#clients.has(client)) return;
    const next = this.#waiting.shift();
    if (next) this.#send(client, next.options, next.handler);
    else this.#parkIdle(client);
  }

  #parkIdle(client: Client): void {
    if (this.#isIdle.has(client)) return;
    this.#isIdle.add(client);
    this.#idle.push(client);
  }
}
