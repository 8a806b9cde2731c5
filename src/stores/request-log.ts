// The front thread's side of the request log. `push` only encodes the record into the batch's buffer (log-batch.ts):
// records leave in batches, transferred to the log worker thread (log-worker.ts), which writes them and answers the
// admin API's reads. What waits here plus what waits in the worker never exceeds `queueCapacity`; past it a record is
// dropped, counted in heimdall_log_records_dropped_total and reported in a log line at most every
// `dropLogIntervalMs`. So a slow, full or absent store costs the gateway neither latency nor unbounded memory, and
// writing resumes by itself.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import {
  LogQueryError, LogStoreUnavailableError, type LogPage, type LogQuery, type LogReader, type LogStats, type LogStatsQuery,
} from './log-query.js';
import { BATCH_BYTES_CAP, RecordBatchEncoder } from './log-batch.js';
import type { LogSink, RequestLogRecord } from './log-record.js';
import type { FrontMessage, LogWorkerData, WorkerMessage } from './log-worker-messages.js';
import type { SqliteEngine } from './sqlite.js';
import type { StoreTarget } from './store-config.js';
import type { OwnerWrite, StoredOwner } from './owner-store.js';
import type { EntityWrite, GovernanceSnapshot, UsageDelta } from './governance-store.js';
import type { StoredAsyncJob } from './async-job-store.js';
import type { RequestLogConfig } from '../config/types.js';

const WORKER_FILE = new URL('./log-worker.js', import.meta.url);

export interface RequestLogOptions {
  target: StoreTarget;
  logger: Logger;
  /** Records older than this many days are deleted; 0 keeps them forever. */
  retentionDays: number;
  /** Records waiting to be written (here and in the worker) at most. Default 10,000. */
  queueCapacity?: number;
  /** Records per batch (and per transaction). Default 500. */
  batchSize?: number;
  /** The longest a record waits before its batch is sent, when traffic is light. Default 250 ms. */
  flushIntervalMs?: number;
  /** Default one hour. */
  retentionIntervalMs?: number;
  /** Records deleted per statement. Default 1,000. */
  retentionBatch?: number;
  /** A read not answered in this time fails with LogStoreUnavailableError. Default 10 s. */
  readTimeoutMs?: number;
  /** Default 10 s. */
  dropLogIntervalMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  busyTimeoutMs?: number;
  connectTimeoutSeconds?: number;
  /** `logs_store.search_index`: a trigram index of the content for search. Default: the engine's (log-store.ts). */
  searchIndex?: boolean;
  /** Benchmarks only: SQLite's engine, instead of the one the Node version picks (sqlite.ts). */
  sqliteEngine?: SqliteEngine;
}

export interface RequestLogCounters {
  readonly written: number;
  readonly dropped: number;
  /** Records waiting, here and in the worker. */
  readonly waiting: number;
  readonly storeUp: boolean;
}

export interface RequestLog {
  /** What the request path pushes records into. */
  readonly sink: LogSink;
  /** What the admin API reads with. */
  readonly reader: LogReader;
  /** Where the records go: `sqlite <path>` or `postgres <host>:<port>/<database>`. */
  readonly description: string;
  counters(): RequestLogCounters;
  /** `/v1/async/*` jobs and their results, in the same store (src/http/async-jobs.ts). */
  readonly asyncJobs: {
    get(jobId: string): Promise<StoredAsyncJob | null>;
    put(job: StoredAsyncJob): Promise<void>;
  };
  /** Which provider and key own each file and batch id, in the same store (src/pipeline/resource-owners.ts). */
  readonly owners: {
    get(id: string): Promise<StoredOwner | null>;
    /** Posted to the log thread and applied there in order; not answered. */
    write(entries: OwnerWrite[]): void;
  };
  /** Governance's state in the same store (governance-store.ts), for src/governance/persist.ts. */
  readonly governance: GovernanceStateStore;
  /** Runs retention now (it also runs every `retentionIntervalMs`); resolves to the records deleted. */
  runRetention(): Promise<number>;
  /** Sends what waits, lets the worker write for up to `deadlineMs`, counts the rest as dropped, stops the thread. */
  close(deadlineMs?: number): Promise<void>;
}

export interface GovernanceStateStore {
  load(anchors: [string, number][]): Promise<GovernanceSnapshot>;
  /** Posted to the log thread and applied there in order; not answered. */
  addUsage(deltas: UsageDelta[]): void;
  writeEntities(writes: EntityWrite[]): Promise<number>;
  /** `onChange` gets the whole state each time another writer moves the revision past the last one seen. */
  watch(revision: number, intervalMs: number, onChange: (snapshot: GovernanceSnapshot) => void): void;
}

export const METRIC_DROPPED = {
  name: 'heimdall_log_records_dropped_total',
  help: 'Request-log records not stored: the queue was full (store slow or down), or the store refused them.',
} as const;
export const METRIC_WRITTEN = {
  name: 'heimdall_log_records_written_total',
  help: 'Request-log records stored.',
} as const;

export function describeTarget(target: StoreTarget): string {
  return target.type === 'sqlite' ? `sqlite ${target.path}`
    : `postgres ${target.connection.host}:${target.connection.port}/${target.connection.database}`;
}

/** Starts the log worker, which opens the store (one that is down is retried, not fatal). */
export async function openRequestLog(options: RequestLogOptions): Promise<RequestLog> {
  const { logger } = options;
  const capacity = options.queueCapacity ?? 10_000;
  const batchSize = Math.min(options.batchSize ?? 500, capacity);
  const flushIntervalMs = options.flushIntervalMs ?? 250;
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;
  const dropLogIntervalMs = options.dropLogIntervalMs ?? 10_000;
  const data: LogWorkerData = {
    target: options.target,
    retentionDays: options.retentionDays,
    retentionIntervalMs: options.retentionIntervalMs ?? 3_600_000,
    retentionBatch: options.retentionBatch ?? 1000,
    retryInitialMs: options.retryInitialMs ?? 100,
    retryMaxMs: options.retryMaxMs ?? 5000,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    connectTimeoutSeconds: options.connectTimeoutSeconds ?? 5,
    ...(options.searchIndex === undefined ? {} : { searchIndex: options.searchIndex }),
    ...(options.sqliteEngine === undefined ? {} : { sqliteEngine: options.sqliteEngine }),
  };
  const description = describeTarget(options.target);

  const pending = new RecordBatchEncoder();
  let inWorker = 0;
  let written = 0;
  let dropped = 0;
  let storeUp = false;
  let closed = false;
  let flushTimer: NodeJS.Timeout | null = null;
  let droppedSinceLine = 0;
  let dropLineTimer: NodeJS.Timeout | null = null;
  const calls = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  let nextCall = 1;
  let onClosed: ((dropped: number) => void) | null = null;
  let onGovernanceChange: ((snapshot: GovernanceSnapshot) => void) | null = null;
  let governanceWatch: FrontMessage | null = null;

  const countDropped = (n: number, reason: string) => {
    dropped += n;
    droppedSinceLine += n;
    // One line per interval, however many records go: a store outage must not flood the log as well.
    if (dropLineTimer) return;
    logger.warn({ dropped: droppedSinceLine, store: description, reason }, 'request log records dropped');
    droppedSinceLine = 0;
    dropLineTimer = setTimeout(() => {
      dropLineTimer = null;
      if (droppedSinceLine > 0) countDropped(0, reason);
    }, dropLogIntervalMs);
    dropLineTimer.unref();
  };

  let worker: Worker;

  const onMessage = (message: WorkerMessage) => {
    switch (message.type) {
      case 'settled':
        if (message.buffer) pending.recycle(message.buffer);
        inWorker -= message.written + message.dropped;
        written += message.written;
        if (message.dropped > 0) countDropped(message.dropped, message.reason ?? 'refused by the store');
        break;
      case 'state':
        storeUp = message.up;
        restartDelayMs = 1000;
        if (message.up) logger.info({ store: description }, 'request log store is up');
        else logger.error({ store: description, err: message.error }, 'request log store is unavailable; records wait, then drop past the queue bound');
        break;
      case 'result': {
        const call = calls.get(message.id);
        if (!call) break;
        calls.delete(message.id);
        clearTimeout(call.timer);
        if (message.ok) call.resolve(message.value);
        else if (message.error.name === 'LogQueryError') call.reject(new LogQueryError(message.error.param ?? '', message.error.message));
        else call.reject(new LogStoreUnavailableError(`the request log store could not answer: ${message.error.message}`));
        break;
      }
      case 'retained':
        logger.info({ deleted: message.deleted, retentionDays: options.retentionDays }, 'request log retention deleted old records');
        break;
      case 'gov-changed':
        onGovernanceChange?.(message.snapshot);
        break;
      case 'closed':
        onClosed?.(message.dropped);
        break;
    }
  };

  let alive = false;
  let restartDelayMs = 1000;
  const start = () => {
    // `node --input-type=module -e …` would pass its flag on to the thread, which then refuses to load a file. Any
    // other start keeps Node's inheritance: a list given to the thread is checked strictly and refuses the flags only
    // a process takes (`--max-old-space-size`, `--title`), so `new Worker` threw and the gateway did not start.
    const execArgv = process.execArgv.some((arg) => arg.startsWith('--input-type'))
      ? process.execArgv.filter((arg) => !arg.startsWith('--input-type'))
      : undefined;
    worker = new Worker(WORKER_FILE, { workerData: data, name: 'heimdall-request-log', execArgv });
    alive = true;
    worker.on('message', onMessage);
    worker.on('error', (error) => logger.error({ err: error }, 'the request log thread failed'));
    worker.on('exit', (code) => {
      alive = false;
      if (closed) return;
      // What the thread held is gone; a new thread takes over so logging goes on.
      countDropped(inWorker, 'the request log thread exited');
      inWorker = 0;
      for (const [id, call] of calls) {
        clearTimeout(call.timer);
        call.reject(new LogStoreUnavailableError('the request log thread exited'));
        calls.delete(id);
      }
      logger.error({ code, restartInMs: restartDelayMs }, 'the request log thread exited; starting another');
      setTimeout(() => {
        if (closed) return;
        start();
        if (governanceWatch) worker.postMessage(governanceWatch);
        flush();
      }, restartDelayMs).unref();
      restartDelayMs = Math.min(restartDelayMs * 2, 60_000);
    });
    // The gateway's shutdown closes it; a forgotten log must not keep a process alive.
    worker.unref();
  };
  start();

  const flush = () => {
    if (flushTimer) {
      clearTimeout(flushTimer);
      flushTimer = null;
    }
    // Without a thread (between one that died and the next) records wait here, within the same bound.
    if (pending.count === 0 || !alive) return;
    const { bytes, count } = pending.take()!;
    inWorker += count;
    worker.postMessage({ type: 'batch', bytes, count } satisfies FrontMessage, [bytes.buffer as ArrayBuffer]);
  };

  const call = <T>(message: (id: number) => FrontMessage): Promise<T> => {
    if (closed) return Promise.reject(new LogStoreUnavailableError('the request log is closed'));
    const id = nextCall++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        calls.delete(id);
        reject(new LogStoreUnavailableError(`the request log store did not answer within ${readTimeoutMs} ms`));
      }, readTimeoutMs);
      calls.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      worker.postMessage(message(id));
    });
  };

  const sink: LogSink = {
    push(record) {
      if (closed || pending.count + inWorker >= capacity) {
        countDropped(1, closed ? 'the request log is closed' : `the queue is full (${capacity} records): the store is slow or down`);
        return;
      }
      try {
        pending.push(record);
      } catch (error) {
        countDropped(1, `the record could not be encoded: ${(error as Error).message}`);
        return;
      }
      if (pending.count >= batchSize || pending.bytes >= BATCH_BYTES_CAP) flush();
      else if (!flushTimer) {
        flushTimer = setTimeout(flush, flushIntervalMs);
        flushTimer.unref();
      }
    },
    close: () => close(),
  };

  const reader: LogReader = {
    query: (query: LogQuery) => call<LogPage>((id) => ({ type: 'query', id, query })),
    get: (recordId: string) => call<RequestLogRecord | null>((id) => ({ type: 'get', id, recordId })),
    stats: (query: LogStatsQuery) => call<LogStats>((id) => ({ type: 'stats', id, query })),
  };

  let closing: Promise<void> | null = null;
  const close = (deadlineMs = 5000): Promise<void> => {
    closing ??= (async () => {
      flush();
      closed = true;
      // Unreferenced while running; a process that awaits the close must stay up until the thread is done.
      worker.ref();
      const left = await new Promise<number>((resolve) => {
        worker.once('exit', () => resolve(inWorker));
        // The worker stops writing at the deadline; this one covers a thread that does not answer at all.
        const timer = setTimeout(() => resolve(inWorker), deadlineMs + 2000);
        onClosed = (n) => {
          clearTimeout(timer);
          resolve(n);
        };
        worker.postMessage({ type: 'close', deadlineMs } satisfies FrontMessage);
      });
      if (left > 0) countDropped(left, 'the store did not take them before shutdown');
      inWorker = 0;
      if (dropLineTimer) clearTimeout(dropLineTimer);
      for (const [, c] of calls) {
        clearTimeout(c.timer);
        c.reject(new LogStoreUnavailableError('the request log is closed'));
      }
      calls.clear();
      await worker.terminate();
    })();
    return closing;
  };

  // Start-up does not wait for the store: the thread opens it beside the provider pools starting, and says when it
  // is up (or not); records and reads queue behind it meanwhile.

  return {
    sink,
    reader,
    description,
    counters: () => ({ written, dropped, waiting: pending.count + inWorker, storeUp }),
    runRetention: () => call<number>((id) => ({ type: 'retention', id })),
    owners: {
      get: (ownerId: string) => call<StoredOwner | null>((id) => ({ type: 'owner-get', id, ownerId })),
      write: (entries: OwnerWrite[]) => {
        if (!closed && alive) worker.postMessage({ type: 'owner-write', entries } satisfies FrontMessage);
      },
    },
    governance: {
      load: (anchors) => call<GovernanceSnapshot>((id) => ({ type: 'gov-load', id, anchors })),
      addUsage: (deltas) => {
        if (!closed && alive) worker.postMessage({ type: 'gov-usage', deltas } satisfies FrontMessage);
      },
      writeEntities: (writes) => call<number>((id) => ({ type: 'gov-write', id, writes })),
      watch: (revision, intervalMs, onChange) => {
        onGovernanceChange = onChange;
        governanceWatch = { type: 'gov-watch', revision, intervalMs };
        if (alive) worker.postMessage(governanceWatch);
      },
    },
    asyncJobs: {
      get: (jobId: string) => call<StoredAsyncJob | null>((id) => ({ type: 'async-get', id, jobId, nowMs: Date.now() })),
      put: (job: StoredAsyncJob) => call<void>((id) => ({ type: 'async-put', id, job })),
    },
    close,
  };
}

/**
 * The request log the config asks for, or null when logging is off. Start-up says where records go; a store that
 * cannot be reached is logged and retried, and the gateway starts anyway.
 */
export async function openConfiguredRequestLog(config: RequestLogConfig, logger: Logger): Promise<RequestLog | null> {
  if (!config.enabled) {
    logger.info('request log off (client.enable_logging or logs_store.enabled is false)');
    return null;
  }
  const log = await openRequestLog({ target: config.target, logger, retentionDays: config.retentionDays,
    queueCapacity: config.queueCapacity, batchSize: config.batchSize, flushIntervalMs: config.flushIntervalMs,
    searchIndex: config.searchIndex });
  logger.info({ store: log.description, content: config.content, retentionDays: config.retentionDays },
    `request log: ${log.description}, content ${config.content ? 'kept' : 'not kept'}, `
    + `${config.retentionDays === 0 ? 'kept forever' : `kept ${config.retentionDays} days`}`);
  return log;
}
