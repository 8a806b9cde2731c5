// The request log over one engine. Both engines answer the same calls with the same SQL (log-sql.ts); SQLite's are
// synchronous underneath, so this runs in the log worker thread (log-worker.ts), never on the front thread.
import { LOG_QUERY_LIMITS, type LogPage, type LogQuery, type LogStats, type LogStatsQuery } from './log-query.js';
import type { RequestLogRecord } from './log-record.js';
import {
  EMPTY_GROUP, getQuery, listQuery, LOG_COLUMNS, LOG_COMPONENT, LOG_TABLE, pageOf, POSTGRES_LOG_SCHEMA, recordOf,
  retentionQuery, rowValues, SQLITE_LOG_SCHEMA, statsGroupOf, statsQuery, type BuiltQuery,
} from './log-sql.js';
import type postgres from 'postgres';
import { migratePostgres, openPostgres, type PostgresClient } from './postgres.js';
import { migrateSqlite, openSqlite, type SqliteDatabase } from './sqlite.js';
import type { StoreTarget } from './store-config.js';

export interface LogStore {
  readonly engine: 'sqlite' | 'postgres';
  /** Stores every record in one transaction; a record whose id is already stored is skipped. */
  insert(records: readonly RequestLogRecord[]): Promise<void>;
  query(q: LogQuery): Promise<LogPage>;
  get(id: string): Promise<RequestLogRecord | null>;
  stats(q: LogStatsQuery): Promise<LogStats>;
  /** Deletes up to `batch` records older than `before` (epoch ms); resolves to how many went. */
  deleteOlderThan(before: number, batch: number): Promise<number>;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenLogStoreOptions {
  busyTimeoutMs?: number;
  connectTimeoutSeconds?: number;
}

export async function openLogStore(target: StoreTarget, options: OpenLogStoreOptions = {}): Promise<LogStore> {
  return target.type === 'sqlite'
    ? sqliteLogStore(openSqlite(target.path, { busyTimeoutMs: options.busyTimeoutMs }))
    : postgresLogStore(openPostgres(target.connection, { connectTimeoutSeconds: options.connectTimeoutSeconds }),
      target.connection.schema);
}

function statsOf(rows: readonly Record<string, unknown>[], q: LogStatsQuery): LogStats {
  const groups = rows.map((row) => statsGroupOf(row, q.groupBy));
  // With no group asked for, an empty filter still answers one group of zeros.
  return { groupBy: q.groupBy ?? null, groups: q.groupBy || groups.length > 0 ? groups : [EMPTY_GROUP] };
}

const INSERT_COLUMNS = LOG_COLUMNS.map(([, column]) => column);

export function sqliteLogStore(db: SqliteDatabase): LogStore {
  try {
    migrateSqlite(db, LOG_COMPONENT, SQLITE_LOG_SCHEMA);
  } catch (error) {
    db.close();
    throw error;
  }
  const insertOne = db.prepare(`INSERT INTO ${LOG_TABLE} (${INSERT_COLUMNS.join(', ')}) `
    + `VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`);
  const insertAll = db.transaction((records: readonly RequestLogRecord[]) => {
    for (const r of records) insertOne.run(...rowValues(r, 'sqlite'));
  });
  const all = (q: BuiltQuery) => db.prepare(q.text).all(...q.values) as Record<string, unknown>[];
  return {
    engine: 'sqlite',
    async insert(records) {
      // IMMEDIATE takes the write lock up front, so a busy file waits the busy timeout instead of failing mid-way.
      insertAll.immediate(records);
    },
    async query(q) {
      return pageOf(all(listQuery(q, 'sqlite')), q);
    },
    async get(id) {
      const [row] = all(getQuery(id, 'sqlite'));
      return row ? recordOf(row) : null;
    },
    async stats(q) {
      return statsOf(all(statsQuery(q, 'sqlite', LOG_QUERY_LIMITS.maxGroups)), q);
    },
    async deleteOlderThan(before, batch) {
      const q = retentionQuery(before, batch, 'sqlite');
      return Number(db.prepare(q.text).run(...q.values).changes);
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      db.close();
    },
  };
}

export async function postgresLogStore(sql: PostgresClient, schema: string | null): Promise<LogStore> {
  let migrated = false;
  // The server may be down at start: the schema is made on the first call that reaches it.
  const ready = async () => {
    if (migrated) return;
    await migratePostgres(sql, schema, LOG_COMPONENT, POSTGRES_LOG_SCHEMA);
    migrated = true;
  };
  const all = async (q: BuiltQuery) => {
    await ready();
    return (await sql.unsafe(q.text, q.values as postgres.ParameterOrJSON<never>[])) as unknown as Record<string, unknown>[];
  };
  try {
    await ready();
  } catch {
    // Left to the first insert or query, which retries it.
  }
  return {
    engine: 'postgres',
    async insert(records) {
      if (records.length === 0) return;
      await ready();
      // One multi-row INSERT: a single round trip and one transaction for the whole batch.
      const values: unknown[] = [];
      const rows = records.map((r, i) => {
        values.push(...rowValues(r, 'postgres'));
        const base = i * INSERT_COLUMNS.length;
        return `(${INSERT_COLUMNS.map((_, j) => `$${base + j + 1}`).join(', ')})`;
      });
      await sql.unsafe(`INSERT INTO ${LOG_TABLE} (${INSERT_COLUMNS.join(', ')}) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`,
        values as postgres.ParameterOrJSON<never>[]);
    },
    async query(q) {
      return pageOf(await all(listQuery(q, 'postgres')), q);
    },
    async get(id) {
      const [row] = await all(getQuery(id, 'postgres'));
      return row ? recordOf(row) : null;
    },
    async stats(q) {
      return statsOf(await all(statsQuery(q, 'postgres', LOG_QUERY_LIMITS.maxGroups)), q);
    },
    async deleteOlderThan(before, batch) {
      await ready();
      const q = retentionQuery(before, batch, 'postgres');
      const result = await sql.unsafe(q.text, q.values as postgres.ParameterOrJSON<never>[]);
      return result.count;
    },
    async ping() {
      await sql`SELECT 1`;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
