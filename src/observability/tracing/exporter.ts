// The front thread's end of the exporter: a finished trace's spans are encoded as OTLP protobuf at once (into one
// growing buffer) and go to the exporter thread (export-thread.ts) as transferred bytes, one postMessage per batch,
// never one per request. The queue is bounded by a count both threads see (`queued`, in shared memory): a trace that
// would pass it is dropped whole and counted, so a collector that is down or slow costs the front thread one
// comparison per request, never memory or time.

import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { TracingConfig } from '../../config/types.js';
import { SpanEncoder } from './otlp-proto.js';
import type { SpanRecord, SpanSink } from './spans.js';

export const COUNTER_QUEUED = 0;
export const COUNTER_DROPPED = 1;
export const COUNTER_EXPORTED = 2;
const COUNTERS = 3;

/** A trace's spans reach the exporter thread at most this long after the trace ends. */
const HANDOFF_MS = 100;
/** Shutdown waits this long for the last export. */
const FLUSH_LIMIT_MS = 2000;

export interface ExportThreadData {
  readonly settings: TracingConfig;
  readonly counters: SharedArrayBuffer;
  readonly version: string;
}

/** Front → exporter: encoded spans (SpanEncoder's) and how many, or the shutdown flush. */
export type ToExportThread = { type: 'spans'; bytes: Uint8Array; count: number } | { type: 'flush' };
type FromExportThread = { type: 'export-failed'; message: string } | { type: 'flushed' };

export const METRIC_SPANS_DROPPED = { name: 'heimdall_trace_spans_dropped_total',
  help: 'Spans not exported: the export queue was full, or the collector refused or did not answer' } as const;
export const METRIC_SPANS_EXPORTED = { name: 'heimdall_trace_spans_exported_total',
  help: 'Spans the collector accepted' } as const;

export class TraceExporter implements SpanSink {
  readonly #thread: Worker;
  readonly #counters: BigInt64Array;
  readonly #max: number;
  readonly #batch: number;
  readonly #pending = new SpanEncoder();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(settings: TracingConfig, version: string, logger: Logger) {
    const buffer = new SharedArrayBuffer(COUNTERS * BigInt64Array.BYTES_PER_ELEMENT);
    this.#counters = new BigInt64Array(buffer);
    this.#max = settings.maxQueueSpans;
    this.#batch = settings.maxBatchSpans;
    const data: ExportThreadData = { settings, counters: buffer, version };
    this.#thread = new Worker(new URL('./export-thread.js', import.meta.url), { workerData: data, name: 'heimdall-otlp-exporter' });
    this.#thread.unref();
    this.#thread.on('message', (message: FromExportThread) => {
      if (message.type === 'export-failed') logger.warn({ endpoint: settings.endpoint }, `traces: ${message.message} (the spans are dropped and counted)`);
    });
    this.#thread.on('error', (error) => logger.error({ err: error }, 'the trace exporter thread failed; traces are dropped from now on'));
    this.#thread.on('exit', () => {
      this.#closed = true;
    });
  }

  push(spans: SpanRecord[]): void {
    const queued = Number(Atomics.load(this.#counters, COUNTER_QUEUED)) + this.#pending.count;
    if (this.#closed || queued + spans.length > this.#max) {
      Atomics.add(this.#counters, COUNTER_DROPPED, BigInt(spans.length));
      return;
    }
    this.#pending.append(spans);
    if (this.#pending.count >= this.#batch) this.#handOff();
    else this.#timer ??= setTimeout(this.#handOff, HANDOFF_MS).unref();
  }

  readonly #handOff = (): void => {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#pending.count === 0) return;
    const { bytes, count } = this.#pending.take();
    Atomics.add(this.#counters, COUNTER_QUEUED, BigInt(count));
    this.#thread.postMessage({ type: 'spans', bytes, count } satisfies ToExportThread, [bytes.buffer as ArrayBuffer]);
  };

  counters(): { dropped: number; exported: number; queued: number } {
    return {
      dropped: Number(Atomics.load(this.#counters, COUNTER_DROPPED)),
      exported: Number(Atomics.load(this.#counters, COUNTER_EXPORTED)),
      queued: Number(Atomics.load(this.#counters, COUNTER_QUEUED)),
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
