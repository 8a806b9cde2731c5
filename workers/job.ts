// One job in a worker: its abort controller, its timer, and the guarantee that exactly one final message
// (result, stream end or error) goes back for it, whatever happens — the front releases the request's slot on
// that message.

import { MSG_CHUNKS, MSG_ERROR, MSG_RESULT, MSG_STREAM_END, type JobData, type UsageData, type WorkerToFront }
  from '../src/contract/messages.js';
import type { ErrorData } from '../src/errors/error-data.js';

export type AbortReason = 'cancelled' | 'timeout' | 'closing';

export interface JobHooks {
  send(message: WorkerToFront): void;
  /** Called once with the job's outcome, for metrics and logs. */
  settled(job: Job, error: ErrorData | null, usage: UsageData | null): void;
}

export class Job {
  readonly id: number;
  readonly data: JobData;
  readonly controller = new AbortController();
  readonly startedAt = performance.now();
  abortReason: AbortReason | null = null;
  /** Set while the first byte is awaited; the idle timeout takes over once the stream flows. */
  #timer: NodeJS.Timeout | null = null;
  #finished = false;
  #firstChunkAt: number | null = null;
  #upstreamStartedAt: number | null = null;
  #onPause: (() => void) | null = null;
  #onResume: (() => void) | null = null;
  readonly #hooks: JobHooks;
  readonly #idleTimeoutMs: number;

  constructor(id: number, data: JobData, hooks: JobHooks, timeoutMs: number, idleTimeoutMs: number) {
    this.id = id;
    this.data = data;
    this.#hooks = hooks;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#timer = setTimeout(() => this.abort('timeout'), timeoutMs);
  }

  get finished(): boolean {
    return this.#finished;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: AbortReason): void {
    if (this.#finished || this.abortReason) return;
    this.abortReason = reason;
    this.controller.abort(reason);
  }

  markUpstreamStart(): void {
    this.#upstreamStartedAt = performance.now();
  }

  /** Milliseconds spent waiting on the upstream so far. */
  upstreamMs(): number {
    return this.#upstreamStartedAt === null ? 0 : performance.now() - this.#upstreamStartedAt;
  }

  /** Lets a stream reader take part in backpressure: the front asks to pause when the client's socket is full. */
  onFlowControl(pause: () => void, resume: () => void): void {
    this.#onPause = pause;
    this.#onResume = resume;
  }

  pause(): void {
    // A client that reads slowly is not an idle upstream: the idle timer waits while paused.
    if (this.#timer && this.#firstChunkAt !== null) clearTimeout(this.#timer);
    this.#onPause?.();
  }

  resume(): void {
    if (this.#timer && this.#firstChunkAt !== null) this.#timer.refresh();
    this.#onResume?.();
  }

  chunks(chunks: string[]): void {
    if (this.#finished || chunks.length === 0) return;
    if (this.#firstChunkAt === null) {
      this.#firstChunkAt = performance.now();
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.abort('timeout'), this.#idleTimeoutMs);
    } else {
      this.#timer?.refresh();
    }
    this.#hooks.send([MSG_CHUNKS, this.id, chunks]);
  }

  /** Any sign of life from the upstream (bytes that completed no chunk yet) keeps the idle timer off. */
  touch(): void {
    if (this.#firstChunkAt !== null) this.#timer?.refresh();
  }

  get streamStarted(): boolean {
    return this.#firstChunkAt !== null;
  }

  result(body: string, usage: UsageData | null, droppedParams: string[] | null): void {
    if (!this.#finish()) return;
    this.#hooks.send([MSG_RESULT, this.id, 200, body, { upstreamMs: this.upstreamMs(), usage, droppedParams }]);
    this.#hooks.settled(this, null, usage);
  }

  end(usage: UsageData | null, droppedParams: string[] | null): void {
    if (!this.#finish()) return;
    const firstTokenMs = this.#firstChunkAt === null ? null : this.#firstChunkAt - this.startedAt;
    this.#hooks.send([MSG_STREAM_END, this.id, { upstreamMs: this.upstreamMs(), usage, droppedParams, firstTokenMs }]);
    this.#hooks.settled(this, null, usage);
  }

  fail(error: ErrorData): void {
    if (!this.#finish()) return;
    this.#hooks.send([MSG_ERROR, this.id, error]);
    this.#hooks.settled(this, error, null);
  }

  #finish(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    return true;
  }
}
