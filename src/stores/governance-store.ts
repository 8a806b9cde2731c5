// Governance state kept in the request log's store beside its records (as the resource owners are), so that it
// outlives a restart and every process of a cluster, and every instance sharing a PostgreSQL server, sees it:
//   - what each budget and rate-limit counter has counted in its current window, written as increments, so that
//     several processes add to one row without reading it first (a write of an older window is dropped, a write of a
//     newer one starts the row over), and the anchor its rolling windows count from;
//   - the virtual keys, teams, customers, budgets and rate limits the admin API created, changed or deleted (a
//     deletion is kept as a row without a body, so that it also hides an entry of the config file), with one revision
//     number bumped by each change, which every process polls to pick up the others' changes.
import type postgres from 'postgres';
import type { PostgresClient } from './postgres.js';
import type { SqliteDatabase } from './sqlite.js';

export const GOVERNANCE_COMPONENT = 'governance';
const USAGE = 'heimdall_governance_usage';
const ENTITIES = 'heimdall_governance_entities';
const REVISION = 'heimdall_governance_revision';

export type EntityKind = 'virtual_key' | 'team' | 'customer' | 'budget' | 'rate_limit';

export interface StoredCounter {
  readonly key: string;
  readonly anchor: number;
  readonly used: number;
  /** Epoch ms the window `used` belongs to ends; 0 while nothing has been counted. */
  readonly windowEnd: number;
}

export interface StoredEntity {
  readonly kind: EntityKind;
  readonly id: string;
  /** The entity as the admin API stores it (a key's value replaced by its digest); null: deleted. */
  readonly body: Record<string, unknown> | null;
}

/** What a counter counted since the last write: `[counter key, amount, end of its window]`. */
export type UsageDelta = readonly [key: string, amount: number, windowEnd: number];
export type EntityWrite = readonly [kind: EntityKind, id: string, body: Record<string, unknown> | null];

export interface GovernanceSnapshot {
  readonly counters: readonly StoredCounter[];
  readonly entities: readonly StoredEntity[];
  readonly revision: number;
}

export interface GovernanceTable {
  /**
   * Records each counter's anchor unless one is stored already (so processes starting together agree on one), and
   * answers every counter, entity and the revision.
   */
  load(anchors: readonly (readonly [key: string, anchor: number])[]): Promise<GovernanceSnapshot>;
  addUsage(deltas: readonly UsageDelta[]): Promise<void>;
  /** In one transaction, with the revision bumped once; resolves to the new revision. */
  writeEntities(writes: readonly EntityWrite[]): Promise<number>;
  revision(): Promise<number>;
}

const schema = (bigint: string) => [
  `CREATE TABLE IF NOT EXISTS ${USAGE} (counter TEXT PRIMARY KEY, anchor_ms ${bigint} NOT NULL, used ${bigint} NOT NULL,
    window_end_ms ${bigint} NOT NULL, updated_ms ${bigint} NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${ENTITIES} (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT, updated_ms ${bigint} NOT NULL,
    PRIMARY KEY (kind, id))`,
  `CREATE TABLE IF NOT EXISTS ${REVISION} (id INTEGER PRIMARY KEY, revision ${bigint} NOT NULL)`,
].join(';\n');
export const SQLITE_GOVERNANCE_SCHEMA = [schema('INTEGER')];
export const POSTGRES_GOVERNANCE_SCHEMA = [schema('BIGINT')];

const ANCHOR = `INSERT INTO ${USAGE} (counter, anchor_ms, used, window_end_ms, updated_ms) VALUES ($1, $2, 0, 0, $3) `
  + 'ON CONFLICT (counter) DO NOTHING';
// Same window: added. A newer window: starts over from this amount. An older one (a late write): dropped.
const ADD = `INSERT INTO ${USAGE} (counter, anchor_ms, used, window_end_ms, updated_ms) VALUES ($1, $2, $3, $4, $5) `
  + `ON CONFLICT (counter) DO UPDATE SET
    used = CASE WHEN excluded.window_end_ms = ${USAGE}.window_end_ms THEN ${USAGE}.used + excluded.used
      WHEN excluded.window_end_ms > ${USAGE}.window_end_ms THEN excluded.used ELSE ${USAGE}.used END,
    window_end_ms = CASE WHEN excluded.window_end_ms > ${USAGE}.window_end_ms THEN excluded.window_end_ms
      ELSE ${USAGE}.window_end_ms END,
    updated_ms = excluded.updated_ms`;
const COUNTERS = `SELECT counter, anchor_ms, used, window_end_ms FROM ${USAGE}`;
const ENTITY_ROWS = `SELECT kind, id, body FROM ${ENTITIES} ORDER BY updated_ms, kind, id`;
const UPSERT_ENTITY = `INSERT INTO ${ENTITIES} (kind, id, body, updated_ms) VALUES ($1, $2, $3, $4) `
  + 'ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms';
const BUMP = `INSERT INTO ${REVISION} (id, revision) VALUES (1, 1) `
  + `ON CONFLICT (id) DO UPDATE SET revision = ${REVISION}.revision + 1`;
const READ_REVISION = `SELECT revision FROM ${REVISION} WHERE id = 1`;

interface CounterRow { counter: string; anchor_ms: number | string; used: number | string; window_end_ms: number | string }
interface EntityRow { kind: EntityKind; id: string; body: string | null }

const counterOf = (row: CounterRow): StoredCounter => ({ key: row.counter, anchor: Number(row.anchor_ms),
  used: Number(row.used), windowEnd: Number(row.window_end_ms) });
const entityOf = (row: EntityRow): StoredEntity => ({ kind: row.kind, id: row.id,
  body: row.body === null ? null : JSON.parse(row.body) as Record<string, unknown> });
// Every statement binds its parameters once each, in order: SQLite's anonymous `?` take them the same way.
const positional = (text: string) => text.replace(/\$\d/g, '?');

/** Over the log's SQLite file (synchronous: the log worker thread calls it). */
export function sqliteGovernance(db: SqliteDatabase): GovernanceTable {
  const anchor = db.prepare(positional(ANCHOR));
  const add = db.prepare(positional(ADD));
  const counters = db.prepare(COUNTERS);
  const entities = db.prepare(ENTITY_ROWS);
  const upsert = db.prepare(positional(UPSERT_ENTITY));
  const bump = db.prepare(BUMP);
  const readRevision = db.prepare(READ_REVISION);
  const revisionOf = () => Number(readRevision.get<{ revision: number }>()?.revision ?? 0);
  const loadAll = db.transaction((anchors: readonly (readonly [string, number])[]) => {
    const now = Date.now();
    for (const [key, ms] of anchors) anchor.run([key, ms, now]);
    return { counters: counters.all<CounterRow>().map(counterOf), entities: entities.all<EntityRow>().map(entityOf),
      revision: revisionOf() };
  });
  const addAll = db.transaction((deltas: readonly UsageDelta[]) => {
    const now = Date.now();
    for (const [key, amount, end] of deltas) add.run([key, now, amount, end, now]);
  });
  const writeAll = db.transaction((writes: readonly EntityWrite[]) => {
    const now = Date.now();
    for (const [kind, id, body] of writes) upsert.run([kind, id, body === null ? null : JSON.stringify(body), now]);
    bump.run();
    return revisionOf();
  });
  return {
    async load(anchors) {
      return loadAll.immediate(anchors);
    },
    async addUsage(deltas) {
      addAll.immediate(deltas);
    },
    async writeEntities(writes) {
      return writeAll.immediate(writes);
    },
    async revision() {
      return revisionOf();
    },
  };
}

/** Over the log's PostgreSQL connection; `ready` makes the tables (with the log's) before the first use. */
export function postgresGovernance(sql: PostgresClient, ready: () => Promise<void>): GovernanceTable {
  const run = (tx: postgres.TransactionSql | PostgresClient, text: string, values: unknown[]) =>
    tx.unsafe(text, values as postgres.ParameterOrJSON<never>[]);
  const revisionOf = async (tx: postgres.TransactionSql | PostgresClient) =>
    Number(((await run(tx, READ_REVISION, [])) as unknown as { revision: string }[])[0]?.revision ?? 0);
  return {
    async load(anchors) {
      await ready();
      return sql.begin(async (tx) => {
        const now = Date.now();
        for (const [key, ms] of anchors) await run(tx, ANCHOR, [key, ms, now]);
        // The revision first: a change committed between the reads (each statement sees the latest commit) then
        // leaves a revision older than the entities, so the next poll reads them again.
        const revision = await revisionOf(tx);
        const counters = (await run(tx, COUNTERS, [])) as unknown as CounterRow[];
        const entities = (await run(tx, ENTITY_ROWS, [])) as unknown as EntityRow[];
        return { counters: counters.map(counterOf), entities: entities.map(entityOf), revision };
      });
    },
    async addUsage(deltas) {
      await ready();
      await sql.begin(async (tx) => {
        const now = Date.now();
        for (const [key, amount, end] of deltas) await run(tx, ADD, [key, now, amount, end, now]);
      });
    },
    async writeEntities(writes) {
      await ready();
      return sql.begin(async (tx) => {
        const now = Date.now();
        for (const [kind, id, body] of writes) await run(tx, UPSERT_ENTITY, [kind, id, body === null ? null : JSON.stringify(body), now]);
        await run(tx, BUMP, []);
        return revisionOf(tx);
      });
    },
    async revision() {
      await ready();
      return revisionOf(sql);
    },
  };
}
