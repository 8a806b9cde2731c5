// One job in a worker: its deadlines, how to abort it, and the guarantee that exactly one final message
// (result, stream end or error) goes back for it, whatever happens — the front releases the request's slot on
// that message. Deadlines are checked by the worker's sweep (no timer per job), which finds the jobs due through
// `dueAt()`.

import {
  MSG_BYTES, MSG_CHUNKS, MSG_ERROR, MSG_RESULT, MSG_STREAM_END, type AttemptTimes, type JobData, type ResultMeta, type StreamEndMeta,
  type StreamHead, type UsageData, type WorkerToFront,
} from '../src/contract/messages.js';
import type { ErrorData } from '../src/errors/error-data.js';
import type { Schedulable } from './due-queue.js';

/** Which of the three deadlines a job missed: the total, a stream's first chunk, or a gap inside a stream. */
export type TimeoutReason = 'total-timeout' | 'first-token-timeout' | 'idle-timeout';
export type AbortReason = 'cancelled' | 'closing' | TimeoutReason;

export interface Deadlines {
  /** What is left of the request's total budget when the job reached the worker. */
  totalMs: number;
  /** Streams only: from the job reaching the worker to its first chunk; null: only the total applies. */
  firstTokenMs: number | null;
  /** Streams only, once the first chunk arrived: the longest wait for the upstream's next bytes. */
  idleMs: number;
}

export interface JobHooks {
  send(message: WorkerToFront): void;
  /** The front is behind: messages wait for room in the ring (RingWriter.congested). */
  congested(): boolean;
  /** Calls `drained` once the front has caught up (RingWriter.whenDrained). */
  whenDrained(drained: () => void): void;
  /** Called once with the job's outcome, for metrics and logs. */
  settled(job: Job, error: ErrorData | null, usage: UsageData | null): void;
  /** The job's next deadline may now fall earlier than `dueAt()` said before (a stream's first chunk, a resume). */
  dueEarlier(job: Job): void;
}

export interface FlowControl {
  abort(reason: AbortReason): void;
  pause?(): void;
  resume?(): void;
}

const EMPTY = new Uint8Array(0);

export class Job implements Schedulable {
  readonly id: number;
  readonly data: JobData;
  readonly startedAt = performance.now();
  abortReason: AbortReason | null = null;
  /** Request fields the adapter could not send; reported with the result or the first chunk. */
  droppedParams: string[] | null = null;
  scheduledDue = NaN;
  #finished = false;
  #paused = false;
  /** Held back until the front catches up (`holdForFront`). */
  #held = false;
  #firstChunkAt: number | null = null;
  #lastActivity = this.startedAt;
  #upstreamStartedAt: number | null = null;
  /** Traced jobs: when the upstream's response headers came, and its status. */
  #headersAt = 0;
  #upstreamStatus = 0;
  #flow: FlowControl | null = null;
  readonly #hooks: JobHooks;

  readonly #deadlines: Deadlines;

  constructor(id: number, data: JobData, deadlines: Deadlines, hooks: JobHooks) {
    this.id = id;
    this.data = data;
    this.#deadlines = deadlines;
    this.#hooks = hooks;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get streamStarted(): boolean {
    return this.#firstChunkAt !== null;
  }

  /** The runner's handle on the upstream call: how to abort it and, for streams, pause and resume it. */
  attach(flow: FlowControl): void {
    this.#flow = flow;
    if (this.abortReason) flow.abort(this.abortReason);
  }

  abort(reason: AbortReason): void {
    if (this.#finished || this.abortReason) return;
    this.abortReason = reason;
    this.#flow?.abort(reason);
  }

  /**
   * The deadline this job has missed at `now`, if any. The total holds for the whole job, a paused stream's too: it
   * is what the client was promised. A paused or held stream is never idle: it waits on the client or the front.
   */
  missedDeadline(now: number): TimeoutReason | null {
    const total = this.startedAt + this.#deadlines.totalMs;
    if (now > total) return 'total-timeout';
    const next = this.#nextDeadline();
    return next !== null && now > next.at ? next.reason : null;
  }

  /** The earliest moment `missedDeadline` could name a deadline, as things stand. */
  dueAt(): number {
    const total = this.startedAt + this.#deadlines.totalMs;
    return Math.min(total, this.#nextDeadline()?.at ?? total);
  }

  /**
   * The deadline besides the total that applies now, if any: a stream's first chunk until it arrives, then the gap
   * since the upstream's last bytes unless paused or held. The one place the rules are written, for both the check and
   * the sweep's due time.
   */
  #nextDeadline(): { reason: TimeoutReason; at: number } | null {
    const { firstTokenMs, idleMs } = this.#deadlines;
    if (this.#firstChunkAt === null) {
      return this.data.stream && firstTokenMs !== null ? { reason: 'first-token-timeout', at: this.startedAt + firstTokenMs } : null;
    }
    return this.#paused || this.#held ? null : { reason: 'idle-timeout', at: this.#lastActivity + idleMs };
  }

  markUpstreamStart(): void {
    this.#upstreamStartedAt = performance.now();
  }

  /** The upstream's response headers arrived (for a traced job's times). */
  markHeaders(status: number): void {
    if (this.data.trace === undefined || this.#headersAt !== 0) return;
    this.#headersAt = performance.now();
    this.#upstreamStatus = status;
  }

  /** A traced job's times for the front's spans; undefined for every other job, which pays nothing for them. */
  #times(): AttemptTimes | undefined {
    if (this.data.trace === undefined) return undefined;
    const origin = performance.timeOrigin;
    return [origin + this.startedAt, this.#upstreamStartedAt === null ? 0 : origin + this.#upstreamStartedAt,
      this.#headersAt === 0 ? 0 : origin + this.#headersAt, this.#upstreamStatus];
  }

  /** Milliseconds spent waiting on the upstream so far. */
  upstreamMs(): number {
    return this.#upstreamStartedAt === null ? 0 : performance.now() - this.#upstreamStartedAt;
  }

  pause(): void {
    this.#paused = true;
    this.#flow?.pause?.();
  }

  resume(): void {
    this.#paused = false;
    this.#restartIdleClock();
    this.#flow?.resume?.();
  }

  /** Waiting is over: the idle gap counts from now, and its deadline may fall earlier than the sweep has armed. */
  #restartIdleClock(): void {
    this.#lastActivity = performance.now();
    this.#hooks.dueEarlier(this);
  }

  /** The front is behind with this worker's messages: a stream should stop reading its upstream (`holdForFront`). */
  get frontBehind(): boolean {
    return this.#hooks.congested();
  }

  /**
   * Holds the stream until the front has caught up, then calls `resume` (unless the job finished meanwhile). A held
   * stream, like a paused one, is never idle: it waits on the front, not the upstream.
   */
  holdForFront(resume: () => void): void {
    if (this.#finished) return;
    this.#held = true;
    this.#hooks.whenDrained(() => {
      this.#held = false;
      if (this.#finished) return;
      this.#restartIdleClock();
      resume();
    });
  }

  /** Bytes arrived from the upstream (even ones that completed no chunk yet). */
  touch(): void {
    this.#lastActivity = performance.now();
  }

  chunks(chunks: string[]): void {
    if (this.#finished || chunks.length === 0) return;
    const first = this.#markFirstChunk();
    this.#hooks.send([MSG_CHUNKS, this.id, chunks, first ? this.droppedParams : null]);
  }

  /**
   * A streamed-through answer: its head once, as soon as the upstream's headers came (the client gets its status
   * and the idle deadline starts), then its bytes as they arrive.
   */
  streamHead(head: StreamHead): void {
    if (this.#finished) return;
    this.#markFirstChunk();
    this.#hooks.send([MSG_BYTES, this.id, EMPTY, head]);
  }

  bytes(chunk: Uint8Array): void {
    if (this.#finished || chunk.byteLength === 0) return;
    this.#lastActivity = performance.now();
    this.#hooks.send([MSG_BYTES, this.id, chunk, null]);
  }

  /** True for the stream's first chunks. */
  #markFirstChunk(): boolean {
    if (this.#firstChunkAt !== null) return false;
    this.#firstChunkAt = performance.now();
    this.#lastActivity = this.#firstChunkAt;
    this.#hooks.dueEarlier(this);
    return true;
  }

  /** `contentType` for media answers, which the client gets as they are. */
  result(body: string | Uint8Array, usage: UsageData | null, contentType?: string, headers?: Record<string, string>): void {
    if (!this.#finish()) return;
    // Metrics first: once the client has its answer, its tokens and latency are already counted.
    this.#hooks.settled(this, null, usage);
    // Optional fields set one by one: three conditional spreads cost every answer, traced or not, a clone each.
    const meta: ResultMeta = { upstreamMs: this.upstreamMs(), usage, droppedParams: this.droppedParams };
    if (contentType !== undefined) meta.contentType = contentType;
    if (headers !== undefined) meta.headers = headers;
    if (this.data.trace !== undefined) meta.times = this.#times();
    this.#hooks.send([MSG_RESULT, this.id, 200, body, meta]);
  }

  /** `lastChunks`: chunks that came with the end, sent in the same message (StreamEndMeta.chunks). */
  end(usage: UsageData | null, lastChunks?: string[]): void {
    if (this.#finished) return;
    const withChunks = lastChunks !== undefined && lastChunks.length > 0;
    // Finishing: no deadline is left to reschedule, only the time to the first chunk to record.
    if (withChunks) this.#firstChunkAt ??= performance.now();
    this.#finish();
    const firstTokenMs = this.#firstChunkAt === null ? null : this.#firstChunkAt - this.startedAt;
    this.#hooks.settled(this, null, usage);
    const meta: StreamEndMeta = { upstreamMs: this.upstreamMs(), usage, droppedParams: this.droppedParams, firstTokenMs };
    if (this.data.trace !== undefined) meta.times = this.#times();
    if (withChunks) meta.chunks = lastChunks;
    this.#hooks.send([MSG_STREAM_END, this.id, meta]);
  }

  /** `usage`: what a stream that broke had reported before it did (the provider bills it). */
  fail(error: ErrorData, usage: UsageData | null = null): void {
    if (!this.#finish()) return;
    this.#hooks.settled(this, error, usage);
    const times = this.#times();
    if (usage) this.#hooks.send([MSG_ERROR, this.id, error, times ?? null, usage]);
    else this.#hooks.send(times ? [MSG_ERROR, this.id, error, times] : [MSG_ERROR, this.id, error]);
  }

  #finish(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    this.#flow = null;
    return true;
  }
}
