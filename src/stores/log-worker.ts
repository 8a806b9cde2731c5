// The request log's thread: it owns the store, writes the batches the front thread posts (one transaction each),
// answers the admin API's reads, and runs retention. A store that is down holds batches here and is retried with
// backoff; the front thread bounds how many records may wait (request-log.ts), so memory stays bounded.
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeRecordBatch, type EncodedBatch } from './log-batch.js';
import { LogQueryError } from './log-query.js';
import { openLogStore, type LogStore } from './log-store.js';
import type { FrontMessage, LogWorkerData, WorkerMessage } from './log-worker-messages.js';
import { isSqliteBusy } from './sqlite.js';

const port = parentPort;
if (!port) throw new Error('log-worker.ts runs as a worker thread');
const config = workerData as LogWorkerData;
const post = (message: WorkerMessage) => port.postMessage(message);
/** A batch is done with: what became of it, and its buffer back to the front for a later batch. */
const settle = (batch: EncodedBatch, outcome: { written: number; dropped: number; reason?: string }) => {
  const buffer = batch.bytes.buffer as ArrayBuffer;
  port.postMessage({ type: 'settled', ...outcome, buffer } satisfies WorkerMessage, [buffer]);
};

let store: LogStore | null = null;
let opening: Promise<LogStore> | null = null;
let up = false;
/** Held encoded (off the heap) while the store is down; decoded for each attempt. */
const batches: EncodedBatch[] = [];
let draining = false;
let closing = false;
let wake: (() => void) | null = null;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function setUp(next: boolean, error?: unknown): void {
  if (next === up) return;
  up = next;
  post({ type: 'state', up, ...(error === undefined ? {} : { error: messageOf(error) }) });
}

/** The store, opened on first use and reopened after a failure to open. */
function ensureStore(): Promise<LogStore> {
  if (store) return Promise.resolve(store);
  opening ??= openLogStore(config.target, { busyTimeoutMs: config.busyTimeoutMs, connectTimeoutSeconds: config.connectTimeoutSeconds,
    searchIndex: config.searchIndex, sqliteEngine: config.sqliteEngine })
    .then((opened) => {
      store = opened;
      return opened;
    })
    .finally(() => {
      opening = null;
    });
  return opening;
}

/** Sleeps the backoff, or less when the front thread asks to close. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      wake = null;
      resolve();
    }
    wake = done;
  });
}

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  let backoff = config.retryInitialMs;
  try {
    while (batches.length > 0) {
      const batch = batches[0];
      try {
        const s = await ensureStore();
        await s.insert(decodeRecordBatch(batch.bytes));
        batches.shift();
        backoff = config.retryInitialMs;
        setUp(true);
        settle(batch, { written: batch.count, dropped: 0 });
        continue;
      } catch (error) {
        // The store answers but refuses this batch: retrying would block every batch behind it forever. A file
        // locked by another process past the busy timeout answers reads, yet is only slow: that one is retried.
        if (!isSqliteBusy(error) && store && await store.ping().then(() => true, () => false)) {
          batches.shift();
          settle(batch, { written: 0, dropped: batch.count, reason: `the store refused a batch: ${messageOf(error)}` });
          continue;
        }
        setUp(false, error);
      }
      if (closing) return;
      await pause(backoff);
      backoff = Math.min(backoff * 2, config.retryMaxMs);
    }
  } finally {
    draining = false;
  }
}

async function retention(): Promise<number> {
  if (config.retentionDays <= 0) return 0;
  const before = Date.now() - config.retentionDays * 86_400_000;
  const s = await ensureStore();
  let deleted = 0;
  for (;;) {
    const n = await s.deleteOlderThan(before, config.retentionBatch);
    deleted += n;
    if (n < config.retentionBatch) return deleted;
    // Between batches, the writes waiting for this thread go first.
    await sleep(0);
    if (batches.length > 0) await drain();
  }
}

async function answer(id: number, work: () => Promise<unknown>): Promise<void> {
  try {
    post({ type: 'result', id, ok: true, value: await work() });
  } catch (error) {
    const param = error instanceof LogQueryError ? error.param : undefined;
    post({ type: 'result', id, ok: false, error: { name: (error as Error)?.name ?? 'Error', message: messageOf(error), param } });
  }
}

const periodicRetention = () => {
  retention().then((deleted) => {
    if (deleted > 0) post({ type: 'retained', deleted });
  }, () => {});
};
const retentionTimer = config.retentionDays > 0 && config.retentionIntervalMs > 0
  ? setInterval(periodicRetention, config.retentionIntervalMs)
  : null;
retentionTimer?.unref();
// Once soon after start too, so a gateway restarted more often than hourly still trims its store.
if (retentionTimer) setTimeout(periodicRetention, Math.min(10_000, config.retentionIntervalMs)).unref();

let ownerWrites: Promise<void> = Promise.resolve();
let governanceWrites: Promise<void> = Promise.resolve();
let watchTimer: NodeJS.Timeout | null = null;

/** Another process (or instance) changed governance: the whole state goes to the front, which recompiles it. */
function watchGovernance(from: number, intervalMs: number): void {
  let known = from;
  let busy = false;
  if (watchTimer) clearInterval(watchTimer);
  watchTimer = setInterval(() => {
    if (busy || !store) return;
    busy = true;
    const s = store;
    s.governance.revision().then(async (revision) => {
      if (revision === known) return;
      const snapshot = await s.governance.load([]);
      known = snapshot.revision;
      post({ type: 'gov-changed', snapshot });
    }).catch(() => {}).finally(() => {
      busy = false;
    });
  }, intervalMs);
  watchTimer.unref();
}

port.on('message', (message: FrontMessage) => {
  switch (message.type) {
    case 'batch':
      batches.push({ bytes: message.bytes, count: message.count });
      void drain();
      break;
    case 'query':
      void answer(message.id, async () => (await ensureStore()).query(message.query));
      break;
    case 'get':
      void answer(message.id, async () => (await ensureStore()).get(message.recordId));
      break;
    case 'stats':
      void answer(message.id, async () => (await ensureStore()).stats(message.query));
      break;
    case 'retention':
      void answer(message.id, retention);
      break;
    case 'owner-get':
      void answer(message.id, async () => (await ensureStore()).owners.get(message.ownerId));
      break;
    case 'owner-write':
      // Best effort: the gateway's memory keeps the owners either way; a store that is down loses only persistence.
      // Chained, so a delete never overtakes the write it follows, and a close waits for what is on its way.
      ownerWrites = ownerWrites.then(async () => (await ensureStore()).owners.write(message.entries)).catch(() => {});
      break;
    case 'gov-load':
      void answer(message.id, async () => (await ensureStore()).governance.load(message.anchors));
      break;
    case 'gov-write':
      void answer(message.id, async () => (await ensureStore()).governance.writeEntities(message.writes));
      break;
    case 'gov-usage':
      // Chained like the owners' writes; spend a store that is down does not take is lost to persistence only.
      governanceWrites = governanceWrites.then(async () => (await ensureStore()).governance.addUsage(message.deltas)).catch(() => {});
      break;
    case 'gov-watch':
      watchGovernance(message.revision, message.intervalMs);
      break;
    case 'async-get':
      void answer(message.id, async () => (await ensureStore()).asyncJobs.get(message.jobId, message.nowMs));
      break;
    case 'async-put':
      void answer(message.id, async () => (await ensureStore()).asyncJobs.put(message.job));
      break;
    case 'close':
      void close(message.deadlineMs);
      break;
  }
});

async function close(deadlineMs: number): Promise<void> {
  closing = true;
  if (retentionTimer) clearInterval(retentionTimer);
  if (watchTimer) clearInterval(watchTimer);
  // Writes go on until they are done or the deadline passes; whatever is left then is counted as dropped.
  const deadline = sleep(deadlineMs, 'late' as const);
  wake?.();
  await Promise.race([(async () => {
    while (batches.length > 0) {
      await drain();
      if (batches.length > 0) await pause(config.retryInitialMs);
    }
    await ownerWrites;
    await governanceWrites;
  })(), deadline]);
  const left = batches.reduce((n, b) => n + b.count, 0);
  batches.length = 0;
  await store?.close().catch(() => {});
  post({ type: 'closed', dropped: left });
}

// First contact, so the front can say at start-up whether the store is there.
ensureStore().then(() => setUp(true), (error: unknown) => post({ type: 'state', up: false, error: messageOf(error) }));
