// The SQLite engine under the stores: node:sqlite where this Node has it without a flag, libsql below, the two
// answering alike and sharing one file. `npx tsc -b` first: the warning test's child loads dist/.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SQLITE_ENGINE, isSqliteBusy, nodeSqliteAvailable, openSqlite, type SqliteEngine } from '../../../src/stores/sqlite.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'heimdall-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * What a bare node (no NODE_OPTIONS, no flags), the one running this test, offers: node:sqlite without a flag, with
 * FTS5's trigram tokenizer (the search index) and rows as arrays.
 */
async function nodeSqliteServes(): Promise<boolean> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return run(process.execPath, ['-e', `const { DatabaseSync } = require('node:sqlite');
    const db = new DatabaseSync(':memory:');
    db.exec("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')");
    db.prepare('SELECT 1').setReturnArrays(true);`], { env }).then(() => true, () => false);
}

const engines: SqliteEngine[] = nodeSqliteAvailable() ? ['libsql', 'node:sqlite'] : ['libsql'];

describe('the engine', () => {
  it('is node:sqlite wherever this Node has all the stores need of it, and libsql where it has not', async () => {
    const serves = await nodeSqliteServes();
    expect(nodeSqliteAvailable()).toBe(serves);
    const db = openSqlite(join(dir, 'default.db'));
    expect(db.engine).toBe(serves ? 'node:sqlite' : 'libsql');
    expect(DEFAULT_SQLITE_ENGINE).toBe(db.engine);
    db.close();
    // The Node lines CI runs: 20 on libsql, 22 (the Docker image's, 22.16 or later) on node:sqlite.
    const [major, minor] = process.versions.node.split('.').map(Number);
    if (major === 20) expect(db.engine).toBe('libsql');
    if (major === 22 && minor >= 16) expect(db.engine).toBe('node:sqlite');
  });

  it('knows the versions node:sqlite serves from', () => {
    // 22.13–22.15 load it without a flag, but without FTS5 and setReturnArrays.
    expect(['20.20.2', '22.11.0', '22.13.0', '22.15.0', '23.11.0'].map((v) => nodeSqliteAvailable(v))).toEqual([false, false, false, false, false]);
    expect(['22.16.0', '22.23.5', '24.0.0', '25.1.0'].map((v) => nodeSqliteAvailable(v))).toEqual([true, true, true, true]);
  });

  it("hides node:sqlite's ExperimentalWarning and no other warning", async () => {
    const moduleUrl = new URL('../../../dist/src/stores/sqlite.js', import.meta.url).href;
    const { stderr, stdout } = await run(process.execPath, ['--input-type=module', '-e', `
      const { openSqlite } = await import(${JSON.stringify(moduleUrl)});
      const db = openSqlite(${JSON.stringify(join(dir, 'warn.db'))});
      console.log(db.engine);
      db.close();
      process.emitWarning('another experiment', 'ExperimentalWarning');
    `]);
    expect(stdout.trim()).toBe(DEFAULT_SQLITE_ENGINE);
    expect(stderr).not.toMatch(/SQLite is an experimental feature/);
    expect(stderr).toMatch(/ExperimentalWarning: another experiment/);
  });
});

describe.each(engines)('%s', (engine) => {
  const open = (name: string) => openSqlite(join(dir, `${engine}-${name}`), { engine });

  it('sets the pragmas the stores rely on', () => {
    const db = open('pragmas.db');
    db.exec('CREATE TABLE t (a)');
    const pragma = (name: string) => Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
    // Foreign keys on under both (libsql's build enforces them, as node:sqlite does by default).
    expect([pragma('journal_mode'), pragma('page_size'), pragma('mmap_size'), pragma('synchronous'), pragma('busy_timeout'),
      pragma('foreign_keys')]).toEqual(['wal', 16_384, 256 * 1024 * 1024, 1, 5000, 1]);
    db.close();
  });

  it('binds one array of positional values, reads rows as objects or as arrays, and reports what a write did', () => {
    const db = open('rows.db');
    db.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY, name TEXT, size REAL, blob BLOB)');
    const insert = db.prepare('INSERT INTO t (name, size, blob) VALUES (?, ?, ?)');
    const first = insert.run(['a', 1.5, Buffer.from('xy')]);
    expect([Number(first.changes), Number(first.lastInsertRowid)]).toEqual([1, 1]);
    expect(Number(insert.run(['b', null, null]).lastInsertRowid)).toBe(2);
    const select = db.prepare('SELECT name, size, seq, blob FROM t WHERE seq >= ? ORDER BY seq');
    expect({ ...select.get([1]) }).toMatchObject({ name: 'a', size: 1.5, seq: 1 });
    expect(select.all([2]).map((row) => ({ ...row }))).toEqual([{ name: 'b', size: null, seq: 2, blob: null }]);
    const rows = [...select.rows([1])];
    expect(rows.map((row) => row.slice(0, 3))).toEqual([['a', 1.5, 1], ['b', null, 2]]);
    expect(Buffer.from(rows[0][3] as Uint8Array).toString()).toBe('xy');
    // Objects again after arrays: the two forms do not share a statement's mode.
    expect({ ...select.get([2]) }).toMatchObject({ name: 'b' });
    expect(Number(db.prepare('DELETE FROM t WHERE seq > ?').run([0]).changes)).toBe(2);
    db.close();
  });

  it('commits a transaction, and rolls back all of one that throws', () => {
    const db = open('tx.db');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
    const both = db.transaction((a: string, b: string) => {
      insert.run([a]);
      insert.run([b]);
      return 'done';
    });
    expect(both.immediate('x', 'y')).toBe('done');
    expect(() => both.immediate('z', 'x')).toThrow(/UNIQUE/);
    expect(db.prepare('SELECT k FROM t ORDER BY k').all().map((row) => row.k)).toEqual(['x', 'y']);
    // The failed one left no transaction open behind it.
    expect(both.immediate('p', 'q')).toBe('done');
    db.close();
  });

  it("tells a file another connection holds (retried) from a refused write (dropped)", () => {
    const holder = open('busy.db');
    holder.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    const waiter = openSqlite(join(dir, `${engine}-busy.db`), { engine, busyTimeoutMs: 10 });
    const insert = waiter.prepare('INSERT INTO t (k) VALUES (?)');
    const write = waiter.transaction((k: string) => insert.run([k]));
    const errorOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error;
      }
      throw new Error('did not throw');
    };
    holder.exec('BEGIN IMMEDIATE');
    expect(isSqliteBusy(errorOf(() => write.immediate('a')))).toBe(true);
    holder.exec('COMMIT');
    write.immediate('a');
    expect(isSqliteBusy(errorOf(() => write.immediate('a')))).toBe(false);
    expect(isSqliteBusy(new Error('database is locked'))).toBe(false);
    holder.close();
    waiter.close();
  });
});

describe.skipIf(engines.length < 2)('both engines on one file', () => {
  it('read what the other wrote, while both hold it open', () => {
    const path = join(dir, 'shared.db');
    const a = openSqlite(path, { engine: 'libsql' });
    const b = openSqlite(path, { engine: 'node:sqlite' });
    a.exec('CREATE TABLE t (k TEXT)');
    a.prepare('INSERT INTO t (k) VALUES (?)').run(['from libsql']);
    b.transaction(() => b.prepare('INSERT INTO t (k) VALUES (?)').run(['from node:sqlite'])).immediate();
    for (const db of [a, b]) expect(db.prepare('SELECT k FROM t ORDER BY k').all().map((row) => row.k)).toEqual(['from libsql', 'from node:sqlite']);
    a.close();
    b.close();
  });
});
