// What the front thread and the log worker say to each other (request-log.ts ↔ log-worker.ts).
import type { LogQuery, LogStatsQuery } from './log-query.js';
import type { StoreTarget } from './store-config.js';
import type { OwnerWrite } from './owner-store.js';
import type { EntityWrite, GovernanceSnapshot, UsageDelta } from './governance-store.js';
import type { StoredAsyncJob } from './async-job-store.js';
import type { SqliteEngine } from './sqlite.js';

export interface LogWorkerData {
  target: StoreTarget;
  /** 0: keep records forever. */
  retentionDays: number;
  retentionIntervalMs: number;
  retentionBatch: number;
  retryInitialMs: number;
  retryMaxMs: number;
  busyTimeoutMs: number;
  connectTimeoutSeconds: number;
  /** `logs_store.search_index`; absent: the engine's default. */
  searchIndex?: boolean;
  sqliteEngine?: SqliteEngine;
}

export type FrontMessage =
  /** Records encoded by log-batch.ts; the buffer under `bytes` is transferred, and handed back once settled. */
  | { type: 'batch'; bytes: Uint8Array; count: number }
  | { type: 'query'; id: number; query: LogQuery }
  | { type: 'get'; id: number; recordId: string }
  | { type: 'stats'; id: number; query: LogStatsQuery }
  | { type: 'retention'; id: number }
  /** File and batch owners (owner-store.ts): a read answered as a `result`, writes applied in order, unanswered. */
  | { type: 'owner-get'; id: number; ownerId: string }
  | { type: 'owner-write'; entries: OwnerWrite[] }
  /** Governance (governance-store.ts): load and entity writes answered as a `result`, usage applied in order. */
  | { type: 'gov-load'; id: number; anchors: [string, number][] }
  | { type: 'gov-usage'; deltas: UsageDelta[] }
  | { type: 'gov-write'; id: number; writes: EntityWrite[] }
  /** Polls the revision every `intervalMs` from `revision` on, and posts `gov-changed` with the whole state when it moves. */
  | { type: 'gov-watch'; revision: number; intervalMs: number }
  /** Async jobs (async-job-store.ts): both answered as a `result`, so a job is stored before its 202 goes out. */
  | { type: 'async-get'; id: number; jobId: string; nowMs: number }
  | { type: 'async-put'; id: number; job: StoredAsyncJob }
  | { type: 'close'; deadlineMs: number };

export type WorkerMessage =
  /** A batch left the worker: stored, or given up because the store refused it. */
  | { type: 'settled'; written: number; dropped: number; reason?: string; buffer?: ArrayBuffer }
  | { type: 'state'; up: boolean; error?: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: { name: string; message: string; param?: string } }
  | { type: 'retained'; deleted: number }
  | { type: 'gov-changed'; snapshot: GovernanceSnapshot }
  | { type: 'closed'; dropped: number };
