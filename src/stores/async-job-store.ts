// The results of `/v1/async/*` jobs (src/http/async-jobs.ts), kept in the request log's store beside its records, so
// that a poll finds its job on any process of a cluster, and after a restart, until the job's result expires. One
// small table: a job is written when it is accepted (status 0: pending) and again when it is answered.
import type postgres from 'postgres';
import type { PostgresClient } from './postgres.js';
import type { SqliteDatabase } from './sqlite.js';

export const ASYNC_JOBS_TABLE = 'heimdall_async_jobs';
export const ASYNC_JOBS_COMPONENT = 'async_jobs';

export interface StoredAsyncJob {
  readonly id: string;
  /** 0 while pending; then the HTTP status the route answered. */
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
  readonly createdMs: number;
  readonly expiresMs: number;
}

export interface AsyncJobTable {
  /** The job, unless unknown or expired at `nowMs`. */
  get(id: string, nowMs: number): Promise<StoredAsyncJob | null>;
  /** Writes the job, and deletes the expired ones. */
  put(job: StoredAsyncJob): Promise<void>;
}

const schema = (bigint: string, bytes: string) => [`CREATE TABLE IF NOT EXISTS ${ASYNC_JOBS_TABLE} (
  id TEXT PRIMARY KEY, status INTEGER NOT NULL, content_type TEXT NOT NULL, body ${bytes} NOT NULL,
  created_ms ${bigint} NOT NULL, expires_ms ${bigint} NOT NULL)`];
export const SQLITE_ASYNC_JOBS_SCHEMA = schema('INTEGER', 'BLOB');
export const POSTGRES_ASYNC_JOBS_SCHEMA = schema('BIGINT', 'BYTEA');

const UPSERT = `INSERT INTO ${ASYNC_JOBS_TABLE} (id, status, content_type, body, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6) `
  + 'ON CONFLICT (id) DO UPDATE SET status = excluded.status, content_type = excluded.content_type, body = excluded.body, '
  + 'expires_ms = excluded.expires_ms';
const EXPIRE = `DELETE FROM ${ASYNC_JOBS_TABLE} WHERE expires_ms <= $1`;
const SELECT = `SELECT id, status, content_type, body, created_ms, expires_ms FROM ${ASYNC_JOBS_TABLE} WHERE id = $1 AND expires_ms > $2`;

interface Row { id: string; status: number; content_type: string; body: Uint8Array; created_ms: number | string; expires_ms: number | string }

const jobOf = (row: Row | undefined): StoredAsyncJob | null => (row ? { id: row.id, status: Number(row.status), contentType: row.content_type,
  body: new Uint8Array(row.body), createdMs: Number(row.created_ms), expiresMs: Number(row.expires_ms) } : null);

const values = (job: StoredAsyncJob) => [job.id, job.status, job.contentType, Buffer.from(job.body), job.createdMs, job.expiresMs];

export function sqliteAsyncJobs(db: SqliteDatabase): AsyncJobTable {
  const positional = (text: string) => text.replace(/\$\d/g, '?');
  const upsert = db.prepare(positional(UPSERT));
  const expire = db.prepare(positional(EXPIRE));
  const select = db.prepare(positional(SELECT));
  const putOne = db.transaction((job: StoredAsyncJob) => {
    expire.run([Date.now()]);
    upsert.run(values(job));
  });
  return {
    async get(id, nowMs) {
      return jobOf(select.get<Row>([id, nowMs]));
    },
    async put(job) {
      putOne.immediate(job);
    },
  };
}

export function postgresAsyncJobs(sql: PostgresClient, ready: () => Promise<void>): AsyncJobTable {
  return {
    async get(id, nowMs) {
      await ready();
      const rows = await sql.unsafe(SELECT, [id, nowMs]) as unknown as Row[];
      return jobOf(rows[0]);
    },
    async put(job) {
      await ready();
      await sql.begin(async (tx) => {
        await tx.unsafe(EXPIRE, [Date.now()]);
        await tx.unsafe(UPSERT, values(job) as postgres.ParameterOrJSON<never>[]);
      });
    },
  };
}
