// Which provider and key own each file and batch id (src/pipeline/resource-owners.ts), kept in the request log's
// store beside its records, so that ids outlive a restart and every process of a cluster finds them. One small
// table; a write is an upsert or a delete, a read one row by its key.
import type postgres from 'postgres';
import type { PostgresClient } from './postgres.js';
import type { SqliteDatabase } from './sqlite.js';

export const OWNERS_TABLE = 'heimdall_resource_owners';
export const OWNERS_COMPONENT = 'resource_owners';

export interface StoredOwner {
  readonly provider: string;
  readonly keyId: string;
}

/** An id and its owner; a null owner deletes the id. */
export type OwnerWrite = readonly [id: string, owner: StoredOwner | null];

export interface OwnerTable {
  get(id: string): Promise<StoredOwner | null>;
  /** In order, in one transaction. */
  write(entries: readonly OwnerWrite[]): Promise<void>;
}

const schema = (bigint: string) => [`CREATE TABLE IF NOT EXISTS ${OWNERS_TABLE} (
  id TEXT PRIMARY KEY, provider TEXT NOT NULL, key_id TEXT NOT NULL, updated_ms ${bigint} NOT NULL)`];
export const SQLITE_OWNERS_SCHEMA = schema('INTEGER');
export const POSTGRES_OWNERS_SCHEMA = schema('BIGINT');

const UPSERT = `INSERT INTO ${OWNERS_TABLE} (id, provider, key_id, updated_ms) VALUES ($1, $2, $3, $4) `
  + 'ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, key_id = excluded.key_id, updated_ms = excluded.updated_ms';
const DELETE = `DELETE FROM ${OWNERS_TABLE} WHERE id = $1`;
const SELECT = `SELECT provider, key_id FROM ${OWNERS_TABLE} WHERE id = $1`;

const ownerOf = (row: { provider: string; key_id: string } | undefined): StoredOwner | null =>
  (row ? { provider: row.provider, keyId: row.key_id } : null);

/** Over the log's SQLite file: the table is created (once, versioned) beside the log's. */
export function sqliteOwners(db: SqliteDatabase): OwnerTable {
  const positional = (text: string) => text.replace(/\$\d/g, '?');
  const upsert = db.prepare(positional(UPSERT));
  const remove = db.prepare(positional(DELETE));
  const select = db.prepare(positional(SELECT));
  const writeAll = db.transaction((entries: readonly OwnerWrite[]) => {
    const now = Date.now();
    for (const [id, owner] of entries) {
      if (owner) upsert.run([id, owner.provider, owner.keyId, now]);
      else remove.run([id]);
    }
  });
  return {
    async get(id) {
      return ownerOf(select.get<{ provider: string; key_id: string }>([id]));
    },
    async write(entries) {
      writeAll.immediate(entries);
    },
  };
}

/** Over the log's PostgreSQL connection; `ready` makes the table (with the log's) before the first use. */
export function postgresOwners(sql: PostgresClient, ready: () => Promise<void>): OwnerTable {
  return {
    async get(id) {
      await ready();
      const rows = await sql.unsafe(SELECT, [id]) as unknown as { provider: string; key_id: string }[];
      return ownerOf(rows[0]);
    },
    async write(entries) {
      await ready();
      await sql.begin(async (tx) => {
        const now = Date.now();
        for (const [id, owner] of entries) {
          if (owner) await tx.unsafe(UPSERT, [id, owner.provider, owner.keyId, now] as postgres.ParameterOrJSON<never>[]);
          else await tx.unsafe(DELETE, [id]);
        }
      });
    },
  };
}
