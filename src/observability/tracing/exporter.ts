// The front thread's end of the exporter: each span is encoded as OTLP protobuf as it finishes (into one growing
// buffer, spans.ts writes it) and the buffer goes to the exporter thread (export-thread.ts) as transferred bytes, one
// postMessage per batch, never one per request. The queue is bounded by a count both threads see (`queued`, in shared
// memory): a span that would pass it is dropped and counted before it is encoded (as OpenTelemetry's batch span
// processor drops), so a collector that is down or slow costs the front thread one comparison per span, never memory
// or time.

import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { TracingConfig } from '../../config/types.js';
import { SpanEncoder } from './otlp-proto.js';
import type { SpanSink } from './spans.js';

/**
 * The shared counters: spans queued (handed off, not yet settled) as an Int32 in the first eight bytes, read by the
 * front for every span (a BigInt's conversion would cost more than the comparison); then the totals as BigInt64s.
 */
export const COUNTER_QUEUED = 0;
export const COUNTER_DROPPED = 1;
export const COUNTER_EXPORTED = 2;
const COUNTERS = 3;

/**
 * A hand-off holds at most this many bytes of spans (about 7,000 spans without content): an export is made of whole
 * hand-offs up to MAX_EXPORT_BYTES, so one hand-off must fit in it with room for a last span.
 */
export const MAX_HANDOFF_BYTES = 2 << 20;
/** An export's spans stop short of this many bytes (with whole hand-offs): the OpenTelemetry Collector refuses a gRPC
 * message past 4 MiB by default. */
export const MAX_EXPORT_BYTES = 3 << 20;
/** Shutdown waits this long for the last export. */
const FLUSH_LIMIT_MS = 2000;

export interface ExportThreadData {
  readonly settings: TracingConfig;
  readonly counters: SharedArrayBuffer;
  readonly version: string;
}

/** Front → exporter: encoded spans (SpanEncoder's) and how many, or the shutdown flush. */
export type ToExportThread = { type: 'spans'; bytes: Uint8Array; count: number } | { type: 'flush' };
/** Exporter → front: a failure to log, the flush done, or hand-offs' buffers an export is done with (transferred). */
export type FromExportThread = { type: 'export-failed'; message: string } | { type: 'flushed' }
  | { type: 'spent'; buffers: ArrayBuffer[] };
/** Spent buffers the front keeps for its next hand-offs; more are let go. */
const MAX_SPARE_BUFFERS = 2;

export const METRIC_SPANS_DROPPED = { name: 'heimdall_trace_spans_dropped_total',
  help: 'Spans not exported: the export queue was full, or the collector refused or did not answer' } as const;
export const METRIC_SPANS_EXPORTED = { name: 'heimdall_trace_spans_exported_total',
  help: 'Spans the collector accepted' } as const;

export class TraceExporter implements SpanSink {
  readonly #thread: Worker;
  readonly #counters: BigInt64Array;
  readonly #queued: Int32Array;
  readonly #max: number;
  readonly #batch: number;
  readonly #pending = new SpanEncoder();
  readonly #spare: ArrayBuffer[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** A span reaches the exporter thread at most this long after it ends (`schedule_delay_ms`). */
  readonly #delayMs: number;
  #closed = false;

  constructor(settings: TracingConfig, version: string, logger: Logger) {
    const buffer = new SharedArrayBuffer(COUNTERS * BigInt64Array.BYTES_PER_ELEMENT);
    this.#counters = new BigInt64Array(buffer);
    this.#queued = new Int32Array(buffer, 0, 1);
    this.#max = settings.maxQueueSpans;
    this.#batch = settings.maxBatchSpans;
    this.#delayMs = settings.scheduleDelayMs;
    const data: ExportThreadData = { settings, counters: buffer, version };
    this.#thread = new Worker(new URL('./export-thread.js', import.meta.url), { workerData: data, name: 'heimdall-otlp-exporter' });
    this.#thread.unref();
    this.#thread.on('message', (message: FromExportThread) => {
      if (message.type === 'spent') {
        for (const buffer of message.buffers) if (this.#spare.length < MAX_SPARE_BUFFERS) this.#spare.push(buffer);
      } else if (message.type === 'export-failed') logger.warn({ endpoint: settings.endpoint }, `traces: ${message.message} (the spans are dropped and counted)`);
    });
    this.#thread.on('error', (error) => logger.error({ err: error }, 'the trace exporter thread failed; traces are dropped from now on'));
    this.#thread.on('exit', () => {
      this.#closed = true;
    });
  }

  open(): SpanEncoder | null {
    if (this.#closed || Atomics.load(this.#queued, COUNTER_QUEUED) + this.#pending.count >= this.#max) {
      Atomics.add(this.#counters, COUNTER_DROPPED, 1n);
      return null;
    }
    return this.#pending;
  }

  closed(): void {
    if (this.#pending.count >= this.#batch || this.#pending.length >= MAX_HANDOFF_BYTES) this.#handOff();
    else this.#timer ??= setTimeout(this.#handOff, this.#delayMs).unref();
  }

  readonly #handOff = (): void => {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#pending.count === 0) return;
    const { bytes, count } = this.#pending.take(this.#spare.pop() ?? null);
    Atomics.add(this.#queued, COUNTER_QUEUED, count);
    this.#thread.postMessage({ type: 'spans', bytes, count } satisfies ToExportThread, [bytes.buffer as ArrayBuffer]);
  };

  counters(): { dropped: number; exported: number; queued: number } {
    return {
      dropped: Number(Atomics.load(this.#counters, COUNTER_DROPPED)),
      exported: Number(Atomics.load(this.#counters, COUNTER_EXPORTED)),
      queued: Atomics.load(this.#queued, COUNTER_QUEUED),
    };
  }

  /** Sends what is queued (waiting at most FLUSH_LIMIT_MS for the collector), then ends the thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#handOff();
    this.#closed = true;
    const flushed = new Promise<void>((resolve) => {
      const done = (message: FromExportThread) => {
        if (message.type === 'flushed') resolve();
      };
      this.#thread.on('message', done);
      this.#thread.once('exit', () => resolve());
      setTimeout(resolve, FLUSH_LIMIT_MS).unref();
    });
    this.#thread.postMessage({ type: 'flush' } satisfies ToExportThread);
    await flushed;
    await this.#thread.terminate();
  }
}
