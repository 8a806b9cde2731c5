// The embedded engine: libsql, a better-sqlite3-compatible binding whose binaries come as npm optional
// dependencies, so it installs with `npm ci --ignore-scripts` on Node 20 and 22 and in a slim image (better-sqlite3
// 12 must compile, and 13 crashes on Node 20; node:sqlite needs Node 22). Every call is synchronous: open and use
// it from a worker thread, never from the front thread.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';

export type SqliteDatabase = InstanceType<typeof Database>;

const PAGE_SIZE = 16_384;
const MMAP_BYTES = 256 * 1024 * 1024;

export interface OpenSqliteOptions {
  /** How long a write waits for another process's transaction before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating it and its folder if needed) a database file tuned for several processes writing it: WAL, so
 * readers never block the writer; a busy timeout, so writers of other gateway processes queue instead of failing;
 * `synchronous=NORMAL`, durable across a process crash (only a power loss may lose the last transactions).
 */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    // Pages of 16 KiB for a new file (the size is fixed once the file is in WAL mode): each dirty page costs a write
    // to the WAL and another at the checkpoint, syscalls dearer than the copy on a VM, and the request log's rows
    // carry kilobytes of content: 4 KiB pages took 5× the writes per row (bench/README.md, "Request log").
    if ((db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count === 0) db.pragma(`page_size = ${PAGE_SIZE}`);
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
  const apply = db.transaction(() => {
    const row = current.get(component) as { version: number } | undefined;
    for (let v = row?.version ?? 0; v < steps.length; v++) {
      db.exec(steps[v]);
      save.run(component, v + 1);
    }
  });
  apply.immediate();
}
