// The request log over one engine. Both engines answer the same calls with the same SQL (log-sql.ts); SQLite's are
// synchronous underneath, so this runs in the log worker thread (log-worker.ts), never on the front thread.
import { LOG_QUERY_LIMITS, type LogPage, type LogQuery, type LogStats, type LogStatsQuery } from './log-query.js';
import type { RequestLogRecord } from './log-record.js';
import {
  aggregateStats, CONTENT_TABLE, contentValues, EMPTY_GROUP, getQuery, listQuery, LOG_COMPONENT, LOG_TABLE, META_COLUMNS,
  pageOf, POSTGRES_LOG_SCHEMA, POSTGRES_SEARCH_INDEX, postgresStatsQuery, recordOf, retentionQueries, rowValues, SEARCH_TABLE, SQLITE_LOG_SCHEMA, SQLITE_SEARCH_INDEX,
  sqliteStatsRowsQuery, statsGroupOf, type BuiltQuery,
} from './log-sql.js';
import type postgres from 'postgres';
import { migratePostgres, openPostgres, type PostgresClient } from './postgres.js';
import { migrateSqlite, openSqlite, type SqliteDatabase, type SqliteEngine, type SqliteValue } from './sqlite.js';
import type { StoreTarget } from './store-config.js';
import { ASYNC_JOBS_COMPONENT, POSTGRES_ASYNC_JOBS_SCHEMA, postgresAsyncJobs, SQLITE_ASYNC_JOBS_SCHEMA, sqliteAsyncJobs,
  type AsyncJobTable } from './async-job-store.js';
import {
  OWNERS_COMPONENT, POSTGRES_OWNERS_SCHEMA, postgresOwners, SQLITE_OWNERS_SCHEMA, sqliteOwners, type OwnerTable,
} from './owner-store.js';
import {
  GOVERNANCE_COMPONENT, POSTGRES_GOVERNANCE_SCHEMA, postgresGovernance, SQLITE_GOVERNANCE_SCHEMA, sqliteGovernance,
  type GovernanceTable,
} from './governance-store.js';

export interface LogStore {
  readonly engine: 'sqlite' | 'postgres';
  /** Stores every record in one transaction; a record whose id is already stored is skipped. */
  insert(records: readonly RequestLogRecord[]): Promise<void>;
  query(q: LogQuery): Promise<LogPage>;
  get(id: string): Promise<RequestLogRecord | null>;
  stats(q: LogStatsQuery): Promise<LogStats>;
  /** Deletes up to `batch` records older than `before` (epoch ms); resolves to how many went. */
  deleteOlderThan(before: number, batch: number): Promise<number>;
  /** Which provider and key own each file and batch id (owner-store.ts), in the same store. */
  readonly owners: OwnerTable;
  /** Governance's spend, windows and admin changes (governance-store.ts), in the same store. */
  readonly governance: GovernanceTable;
  readonly asyncJobs: AsyncJobTable;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenLogStoreOptions {
  busyTimeoutMs?: number;
  connectTimeoutSeconds?: number;
  /** `logs_store.search_index`: keep a trigram index of the content for search (made or dropped at open). Default: on
   * for PostgreSQL, off for SQLite (see `defaultSearchIndex`). */
  searchIndex?: boolean;
  /** Benchmarks only: SQLite's engine, instead of the one the Node version picks (sqlite.ts). */
  sqliteEngine?: SqliteEngine;
}

export async function openLogStore(target: StoreTarget, options: OpenLogStoreOptions = {}): Promise<LogStore> {
  return target.type === 'sqlite'
    ? sqliteLogStore(openSqlite(target.path, { busyTimeoutMs: options.busyTimeoutMs, engine: options.sqliteEngine }), options.searchIndex ?? false)
    : postgresLogStore(openPostgres(target.connection, { connectTimeoutSeconds: options.connectTimeoutSeconds }),
      target.connection.schema, options.searchIndex ?? true);
}

function statsOf(groups: LogStats['groups'], q: LogStatsQuery): LogStats {
  // With no group asked for, an empty filter still answers one group of zeros.
  return { groupBy: q.groupBy ?? null, groups: q.groupBy || groups.length > 0 ? groups : [EMPTY_GROUP] };
}

const INSERT_COLUMNS = META_COLUMNS.map(([, column]) => column);
const CONTENT_INSERT = `INSERT INTO ${CONTENT_TABLE} (id, request, response) VALUES `;

export function sqliteLogStore(db: SqliteDatabase, searchIndex = false): LogStore {
  try {
    migrateSqlite(db, LOG_COMPONENT, SQLITE_LOG_SCHEMA);
    migrateSqlite(db, OWNERS_COMPONENT, SQLITE_OWNERS_SCHEMA);
    migrateSqlite(db, GOVERNANCE_COMPONENT, SQLITE_GOVERNANCE_SCHEMA);
    // Made or dropped to match the config; IMMEDIATE, so processes opening the file together do it once.
    db.transaction(() => {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get([SEARCH_TABLE]) !== undefined;
      if (searchIndex && !exists) db.exec(SQLITE_SEARCH_INDEX.create);
      if (!searchIndex && exists) db.exec(SQLITE_SEARCH_INDEX.drop);
    }).immediate();
    migrateSqlite(db, ASYNC_JOBS_COMPONENT, SQLITE_ASYNC_JOBS_SCHEMA);
  } catch (error) {
    db.close();
    throw error;
  }
  const insertOne = db.prepare(`INSERT INTO ${LOG_TABLE} (${INSERT_COLUMNS.join(', ')}) `
    + `VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`);
  const insertContent = db.prepare(`INSERT INTO ${CONTENT_TABLE} (seq, request, response) VALUES (?, ?, ?)`);
  // One array each, refilled per row and bound whole (no spread: the binding reads an array as it is).
  const meta: unknown[] = new Array(INSERT_COLUMNS.length);
  const content: [number, string | null, string | null] = [0, null, null];
  const insertAll = db.transaction((records: readonly RequestLogRecord[]) => {
    for (const r of records) {
      const stored = insertOne.run(rowValues(r, 'sqlite', meta) as SqliteValue[]);
      // A record already stored keeps its content too: the first one written wins, whole.
      if (Number(stored.changes) === 0) continue;
      const values = contentValues(r);
      if (!values) continue;
      content[0] = Number(stored.lastInsertRowid);
      content[1] = values[1];
      content[2] = values[2];
      insertContent.run(content);
    }
  });
  // The SQLite dialect's queries bind strings and numbers only (its booleans as 0 and 1).
  const bound = (q: BuiltQuery) => q.values as SqliteValue[];
  const retain = db.transaction((before: number, batch: number) => {
    const [contents, logs] = retentionQueries(before, batch, 'sqlite');
    db.prepare(contents.text).run(bound(contents));
    return Number(db.prepare(logs.text).run(bound(logs)).changes);
  });
  const all = (q: BuiltQuery) => db.prepare(q.text).all(bound(q));
  return {
    engine: 'sqlite',
    owners: sqliteOwners(db),
    governance: sqliteGovernance(db),
    asyncJobs: sqliteAsyncJobs(db),
    async insert(records) {
      // IMMEDIATE takes the write lock up front, so a busy file waits the busy timeout instead of failing mid-way.
      insertAll.immediate(records);
    },
    async query(q) {
      return pageOf(all(listQuery(q, 'sqlite', searchIndex)), q);
    },
    async get(id) {
      const [row] = all(getQuery(id, 'sqlite'));
      return row ? recordOf(row) : null;
    },
    async stats(q) {
      const built = sqliteStatsRowsQuery(q, searchIndex);
      const rows = db.prepare(built.text).rows(bound(built));
      return statsOf(aggregateStats(rows, q, LOG_QUERY_LIMITS.maxGroups), q);
    },
    async deleteOlderThan(before, batch) {
      return retain.immediate(before, batch);
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      db.close();
    },
  };
}

export async function postgresLogStore(sql: PostgresClient, schema: string | null, searchIndex = true): Promise<LogStore> {
  let migrated = false;
  // The server may be down at start: the schema is made on the first call that reaches it.
  const ready = async () => {
    if (migrated) return;
    await migratePostgres(sql, schema, LOG_COMPONENT, POSTGRES_LOG_SCHEMA);
    await migratePostgres(sql, schema, OWNERS_COMPONENT, POSTGRES_OWNERS_SCHEMA);
    await migratePostgres(sql, schema, GOVERNANCE_COMPONENT, POSTGRES_GOVERNANCE_SCHEMA);
    // The search index made or dropped to match the config, under the lock migrations take, so processes do it once.
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`heimdall_migrate:${schema ?? ''}:${LOG_COMPONENT}`}))`;
      await tx.unsafe(searchIndex ? POSTGRES_SEARCH_INDEX.create : POSTGRES_SEARCH_INDEX.drop);
    });
    await migratePostgres(sql, schema, ASYNC_JOBS_COMPONENT, POSTGRES_ASYNC_JOBS_SCHEMA);
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
    owners: postgresOwners(sql, ready),
    governance: postgresGovernance(sql, ready),
    asyncJobs: postgresAsyncJobs(sql, ready),
    async insert(records) {
      if (records.length === 0) return;
      await ready();
      // Two multi-row INSERTs in one transaction: two round trips for the whole batch. RETURNING names the records
      // stored now, so one already stored keeps its first content.
      const values: unknown[] = [];
      const rows = records.map((r, i) => {
        values.push(...rowValues(r, 'postgres'));
        const base = i * INSERT_COLUMNS.length;
        return `(${INSERT_COLUMNS.map((_, j) => `$${base + j + 1}`).join(', ')})`;
      });
      await sql.begin(async (tx) => {
        const stored = await tx.unsafe(`INSERT INTO ${LOG_TABLE} (${INSERT_COLUMNS.join(', ')}) VALUES ${rows.join(', ')} `
          + 'ON CONFLICT (id) DO NOTHING RETURNING id', values as postgres.ParameterOrJSON<never>[]);
        const fresh = new Set(stored.map((row) => row.id as string));
        const contents = records.filter((r) => fresh.has(r.id)).map(contentValues).filter((c) => c !== null);
        if (contents.length === 0) return;
        await tx.unsafe(`${CONTENT_INSERT}${contents.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`).join(', ')} `
          + 'ON CONFLICT (id) DO NOTHING', contents.flat() as postgres.ParameterOrJSON<never>[]);
      });
    },
    async query(q) {
      return pageOf(await all(listQuery(q, 'postgres')), q);
    },
    async get(id) {
      const [row] = await all(getQuery(id, 'postgres'));
      return row ? recordOf(row) : null;
    },
    async stats(q) {
      const rows = await all(postgresStatsQuery(q, LOG_QUERY_LIMITS.maxGroups));
      return statsOf(rows.map((row) => statsGroupOf(row, q.groupBy)), q);
    },
    async deleteOlderThan(before, batch) {
      await ready();
      const [contents, logs] = retentionQueries(before, batch, 'postgres');
      return sql.begin(async (tx) => {
        await tx.unsafe(contents.text, contents.values as postgres.ParameterOrJSON<never>[]);
        return (await tx.unsafe(logs.text, logs.values as postgres.ParameterOrJSON<never>[])).count;
      });
    },
    async ping() {
      await sql`SELECT 1`;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
