// The embedded engine, chosen by the Node version: node:sqlite (Node's own binding) from Node 22.16, libsql below
// (Node 20 and 22.11–22.15: a better-sqlite3-style binding whose binaries come as npm optional dependencies, so it
// installs with `npm ci --ignore-scripts` and in a slim image; better-sqlite3 12 must compile and 13 crashes on
// Node 20). node:sqlite's calls are cheaper: the request log's inserts take 30–46 % less CPU a row on it
// (bench/README.md, "Request log on node:sqlite"). Both write SQLite's one file format, so gateway processes on
// different engines share a file. Callers see only `SqliteDatabase`, what they use of either. Every call is
// synchronous: open and use it from a worker thread, never from the front thread.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type LibsqlDatabase from 'libsql';

export type SqliteEngine = 'node:sqlite' | 'libsql';
/** What both engines bind: no booleans and no `undefined` (node:sqlite refuses them; libsql would take them). */
export type SqliteValue = string | number | bigint | Uint8Array | null;
export type SqliteRow = Record<string, unknown>;
/** Numbers, or bigints past 2^53 on node:sqlite: `Number()` them. */
export interface SqliteRunResult { readonly changes: number | bigint; readonly lastInsertRowid: number | bigint }

/** A prepared statement; parameters are positional (`?`), given as one array. `T`: the rows' shape, the caller's word. */
export interface SqliteStatement {
  run(params?: readonly SqliteValue[]): SqliteRunResult;
  get<T = SqliteRow>(params?: readonly SqliteValue[]): T | undefined;
  all<T = SqliteRow>(params?: readonly SqliteValue[]): T[];
  /** The rows one at a time, each the array of its values in column order (no object per row). */
  rows(params?: readonly SqliteValue[]): IterableIterator<unknown[]>;
}

export interface SqliteDatabase {
  readonly engine: SqliteEngine;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  /** `PRAGMA <setting>`, e.g. `synchronous = NORMAL`; its answer is dropped. */
  pragma(setting: string): void;
  /** `fn` wrapped in `BEGIN IMMEDIATE` … `COMMIT`, rolled back if it throws. Not nestable. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): { immediate(...args: A): R };
  close(): void;
}

/**
 * Whether this Node's node:sqlite serves the stores. It loads without `--experimental-sqlite` from 22.13, but its
 * SQLite has FTS5 (the search index's trigram table) and `setReturnArrays` only from 22.16 (and 24.0); Node 23 is
 * left to libsql.
 */
export function nodeSqliteAvailable(version = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major >= 24 || (major === 22 && minor >= 16);
}

export const DEFAULT_SQLITE_ENGINE: SqliteEngine = nodeSqliteAvailable() ? 'node:sqlite' : 'libsql';

const PAGE_SIZE = 16_384;
const MMAP_BYTES = 256 * 1024 * 1024;
const NO_PARAMS: readonly SqliteValue[] = [];

export interface OpenSqliteOptions {
  /** How long a write waits for another process's transaction before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
  /** Benchmarks and tests only: the gateway takes the default, chosen by the Node version. */
  engine?: SqliteEngine;
}

/**
 * Opens (creating it and its folder if needed) a database file tuned for several processes writing it: WAL, so
 * readers never block the writer; a busy timeout, so writers of other gateway processes queue instead of failing;
 * `synchronous=NORMAL`, durable across a process crash (only a power loss may lose the last transactions).
 */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  mkdirSync(dirname(path), { recursive: true });
  const db = (options.engine ?? DEFAULT_SQLITE_ENGINE) === 'node:sqlite' ? openNodeSqlite(path) : openLibsql(path);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    // Pages of 16 KiB for a new file (the size is fixed once the file is in WAL mode): each dirty page costs a write
    // to the WAL and another at the checkpoint, syscalls dearer than the copy on a VM, and the request log's rows
    // carry kilobytes of content: 4 KiB pages took 5× the writes per row (bench/README.md, "Request log").
    if (db.prepare('PRAGMA page_count').get<{ page_count: number }>()?.page_count === 0) db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    // Pages read through a mapping of the file rather than a read() each: a content search reads every candidate's
    // row and content, a syscall per page otherwise (over 100,000 records, ~8× the time). The mapped pages are the
    // kernel's page cache, shared and reclaimable, not the process's heap.
    db.pragma(`mmap_size = ${MMAP_BYTES}`);
    db.pragma('synchronous = NORMAL');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

const load = createRequire(import.meta.url);

function openLibsql(path: string): SqliteDatabase {
  const Database = load('libsql') as typeof LibsqlDatabase;
  const db = new Database(path);
  type Statement = ReturnType<InstanceType<typeof LibsqlDatabase>['prepare']>;
  return withTransactions({
    engine: 'libsql',
    prepare(sql) {
      const statement = db.prepare(sql);
      let raw: Statement | undefined;
      // libsql binds an array given alone as the list of parameters, as it is (no spread).
      return {
        run: (params = NO_PARAMS) => statement.run(params) as SqliteRunResult,
        get: <T>(params = NO_PARAMS) => statement.get(params) as T | undefined,
        all: <T>(params = NO_PARAMS) => statement.all(params) as T[],
        // A statement of its own in raw mode, so `get` and `all` keep answering objects.
        rows: (params = NO_PARAMS) => (raw ??= db.prepare(sql).raw(true)).iterate(params) as IterableIterator<unknown[]>,
      };
    },
    exec: (sql) => void db.exec(sql),
    pragma: (setting) => void db.pragma(setting),
    close: () => db.close(),
  });
}

// The part of node:sqlite used here (@types/node 20 has none of it).
interface NodeStatement {
  run(...params: readonly SqliteValue[]): SqliteRunResult;
  get(...params: readonly SqliteValue[]): SqliteRow | undefined;
  all(...params: readonly SqliteValue[]): SqliteRow[];
  iterate(...params: readonly SqliteValue[]): IterableIterator<SqliteRow | unknown[]>;
  setReturnArrays(enabled: boolean): void;
}
interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
}
type NodeSqlite = { DatabaseSync: new (path: string, options: { enableForeignKeyConstraints: boolean }) => NodeDatabase };

let nodeSqlite: NodeSqlite | undefined;

/** node:sqlite, loaded once, without the one ExperimentalWarning Node 22 emits when it loads (any other still shows). */
function loadNodeSqlite(): NodeSqlite {
  if (nodeSqlite) return nodeSqlite;
  const emitWarning = process.emitWarning;
  // Node emits it as emitWarning(message, 'ExperimentalWarning').
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (rest[0] === 'ExperimentalWarning' && String(warning).startsWith('SQLite is an experimental feature')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return (nodeSqlite = load('node:sqlite') as NodeSqlite);
  } finally {
    process.emitWarning = emitWarning;
  }
}

function openNodeSqlite(path: string): SqliteDatabase {
  // Foreign keys enforced, node:sqlite's default and libsql's too: the same file behaves the same under either engine.
  const db = new (loadNodeSqlite().DatabaseSync)(path, { enableForeignKeyConstraints: true });
  return withTransactions({
    engine: 'node:sqlite',
    prepare(sql) {
      const statement = db.prepare(sql);
      let arrays: NodeStatement | undefined;
      // A statement of its own answering arrays, so `get` and `all` keep answering objects.
      const arrayStatement = () => {
        arrays = db.prepare(sql);
        arrays.setReturnArrays(true);
        return arrays;
      };
      return {
        run: (params = NO_PARAMS) => statement.run(...params),
        get: <T>(params = NO_PARAMS) => statement.get(...params) as T | undefined,
        all: <T>(params = NO_PARAMS) => statement.all(...params) as T[],
        rows: (params = NO_PARAMS) => (arrays ?? arrayStatement()).iterate(...params) as IterableIterator<unknown[]>,
      };
    },
    exec: (sql) => db.exec(sql),
    pragma: (setting) => db.exec(`PRAGMA ${setting}`),
    close: () => db.close(),
  });
}

/** One transaction wrapper for both engines, so they commit, roll back and fail alike. */
function withTransactions(db: Omit<SqliteDatabase, 'transaction'>): SqliteDatabase {
  return {
    ...db,
    transaction: <A extends unknown[], R>(fn: (...args: A) => R) => ({
      immediate(...args: A): R {
        // Outside the try: when BEGIN fails (the file busy past the timeout) there is nothing to roll back.
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = fn(...args);
          db.exec('COMMIT');
          return result;
        } catch (error) {
          try {
            db.exec('ROLLBACK');
          } catch {
            // SQLite had rolled it back already (some errors end the transaction themselves).
          }
          throw error;
        }
      },
    }),
  };
}

/**
 * Whether `error` is SQLite's BUSY or LOCKED (another connection holds the lock past the busy timeout), under either
 * engine: libsql names it in `code` (`SQLITE_BUSY`), node:sqlite numbers it in `errcode` (5, or 6 for LOCKED, with
 * an extended code's high bits).
 */
export function isSqliteBusy(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  if (typeof errcode === 'number') return (errcode & 0xff) === 5 || (errcode & 0xff) === 6;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

/**
 * Brings `component`'s tables to the last of `steps` (each a script of DDL, applied once, in order). The version
 * is kept per component in `heimdall_schema_versions`, so several stores share one file; `BEGIN IMMEDIATE` makes
 * processes that start together apply each step once.
 */
export function migrateSqlite(db: SqliteDatabase, component: string, steps: readonly string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS heimdall_schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const current = db.prepare('SELECT version FROM heimdall_schema_versions WHERE component = ?');
  const save = db.prepare('INSERT INTO heimdall_schema_versions (component, version) VALUES (?, ?) '
    + 'ON CONFLICT (component) DO UPDATE SET version = excluded.version');
  db.transaction(() => {
    const row = current.get<{ version: number }>([component]);
    for (let v = row?.version ?? 0; v < steps.length; v++) {
      db.exec(steps[v]);
      save.run([component, v + 1]);
    }
  }).immediate();
}
