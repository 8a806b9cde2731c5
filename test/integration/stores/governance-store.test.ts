// The config store's governance tables over SQLite (the PostgreSQL twin runs the same statements, through
// test/integration/governance/restart.test.ts): usage added per window, anchors kept by the first writer, entity
// changes with one revision bump each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GOVERNANCE_COMPONENT, SQLITE_GOVERNANCE_SCHEMA, sqliteGovernance } from '../../../src/stores/governance-store.js';
import { migrateSqlite, openSqlite } from '../../../src/stores/sqlite.js';

const folder = mkdtempSync(join(tmpdir(), 'heimdall-gov-store-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function open(name: string) {
  const db = openSqlite(join(folder, name));
  migrateSqlite(db, GOVERNANCE_COMPONENT, SQLITE_GOVERNANCE_SCHEMA);
  return { db, table: sqliteGovernance(db) };
}

describe('governance tables', () => {
  it('add usage within a window, start over in a newer one, and drop a late write of an older one', async () => {
    const { db, table } = open('usage.db');
    await table.load([['budget:b', 1000]]);
    await table.addUsage([['budget:b', 5, 2000], ['budget:b', 7, 2000]]);
    await table.addUsage([['budget:b', 3, 2000]]);
    expect((await table.load([])).counters).toEqual([{ key: 'budget:b', anchor: 1000, used: 15, windowEnd: 2000 }]);
    await table.addUsage([['budget:b', 4, 3000]]);
    await table.addUsage([['budget:b', 100, 2000]]);
    expect((await table.load([])).counters).toEqual([{ key: 'budget:b', anchor: 1000, used: 4, windowEnd: 3000 }]);
    db.close();
  });

  it('keep the first anchor recorded, as processes starting together must agree on one', async () => {
    const first = open('anchors.db');
    const second = open('anchors.db');
    await first.table.load([['requests:r', 111]]);
    const seen = await second.table.load([['requests:r', 222]]);
    expect(seen.counters[0]).toMatchObject({ key: 'requests:r', anchor: 111 });
    first.db.close();
    second.db.close();
  });

  it('store entity changes and deletions, bumping the revision once per change', async () => {
    const { db, table } = open('entities.db');
    expect(await table.revision()).toBe(0);
    expect(await table.writeEntities([['budget', 'b1', { id: 'b1', max_limit: 1 }], ['virtual_key', 'k', { id: 'k' }]])).toBe(1);
    expect(await table.writeEntities([['virtual_key', 'k', null]])).toBe(2);
    const { entities, revision } = await table.load([]);
    expect(revision).toBe(2);
    expect(entities).toEqual(expect.arrayContaining([{ kind: 'budget', id: 'b1', body: { id: 'b1', max_limit: 1 } },
      { kind: 'virtual_key', id: 'k', body: null }]));
    expect(entities).toHaveLength(2);
    db.close();
  });
});
