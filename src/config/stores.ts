// Bifrost's store blocks (`logs_store`, later `config_store`) resolved into where the data goes: env references
// read, a connection string split into its parts, relative SQLite paths placed in the data directory.
import type { ConfigProblem } from './errors.js';
import type { RawConfig, RawPostgresStoreConfig, RawStore } from './schema.js';
import type { RequestLogConfig } from './types.js';
import {
  dataDirectory, goDurationSeconds, parsePostgresUrl, POSTGRES_SSL_MODES, sqlitePath, type PostgresConnection,
  type PostgresSslMode, type StoreTarget,
} from '../stores/store-config.js';

/** Reads `env.VAR` references (recording a problem at `path` when the variable is unset); plain strings pass. */
export type EnvResolver = (value: string, path: string) => string;

export const DEFAULT_LOG_FILE = 'logs.db';
export const DEFAULT_RETENTION_DAYS = 30;
const DEFAULT_QUEUE_CAPACITY = 10_000;
const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_FLUSH_MS = 250;

export interface StoreContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly resolveEnv: EnvResolver;
  readonly problems: ConfigProblem[];
  readonly warnings: string[];
}

/** A PostgreSQL block's connection, or null (with problems recorded under `at`) when it cannot be one. */
export function postgresConnection(raw: RawPostgresStoreConfig, at: string, ctx: StoreContext): PostgresConnection | null {
  const problem = (field: string, message: string) => {
    ctx.problems.push({ path: `${at}.${field}`, message });
    return null;
  };
  const read = (field: keyof RawPostgresStoreConfig): string | null => {
    const v = raw[field];
    if (v === undefined) return null;
    return typeof v === 'string' ? ctx.resolveEnv(v, `${at}.${field}`) : String(v);
  };
  let parts: { host: string | null; port: string | null; user: string | null; password: string | null; database: string | null; sslMode: string | null };
  if (raw.connection_string !== undefined) {
    const url = read('connection_string') ?? '';
    try {
      const p = parsePostgresUrl(url);
      parts = { ...p, port: p.port === null ? null : String(p.port) };
    } catch (error) {
      // The message names the problem, never the URL (it may hold a password).
      return problem('connection_string', (error as Error).message);
    }
  } else {
    parts = { host: read('host'), port: read('port'), user: read('user'), password: read('password'),
      database: read('db_name'), sslMode: read('ssl_mode') };
  }
  const port = parts.port === null ? 5432 : Number(parts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return problem('port', `expected a port number, got '${parts.port}'`);
  const sslMode = (parts.sslMode ?? 'prefer').toLowerCase();
  if (!(POSTGRES_SSL_MODES as readonly string[]).includes(sslMode)) {
    return problem('ssl_mode', `expected one of ${POSTGRES_SSL_MODES.join(', ')}, got '${sslMode}'`
      + (sslMode === 'verify-ca' ? ' (verify-ca is not supported: use verify-full)' : ''));
  }
  if (!parts.host) return problem('host', 'required');
  if (!parts.database) return problem('db_name', 'required');
  let maxLifetimeSeconds: number | null = null;
  if (raw.conn_max_lifetime !== undefined) {
    maxLifetimeSeconds = goDurationSeconds(raw.conn_max_lifetime);
    if (maxLifetimeSeconds === null || maxLifetimeSeconds <= 0) {
      return problem('conn_max_lifetime', `expected a duration such as '30m' or '1h', got '${raw.conn_max_lifetime}'`);
    }
  }
  return {
    host: parts.host,
    port,
    user: parts.user ?? 'postgres',
    password: parts.password || null,
    database: parts.database,
    sslMode: sslMode as PostgresSslMode,
    maxConnections: raw.max_open_conns ?? 10,
    maxLifetimeSeconds,
    schema: raw.schema ?? null,
  };
}

/** Where a store block puts its data; `defaultFile` is the SQLite file when the block names none (or is absent). */
export function storeTarget(raw: RawStore | undefined, at: string, defaultFile: string, ctx: StoreContext): StoreTarget | null {
  const dataDir = dataDirectory(ctx.env);
  if (!raw || raw.type === 'sqlite') return { type: 'sqlite', path: sqlitePath(raw?.config.path ?? defaultFile, dataDir) };
  const connection = postgresConnection(raw.config, `${at}.config`, ctx);
  return connection && { type: 'postgres', connection };
}

/**
 * `logs_store.search_index` when the config does not say: on for PostgreSQL, whose server does the indexing; off for
 * SQLite, whose indexing runs on the gateway's own log writer thread at 8 to 16 times the CPU of writing the record
 * (bench/log-write.ts), which would take the request log far past its cost goal (bench/request-log.ts).
 */
export const defaultSearchIndex = (engine: StoreTarget['type']): boolean => engine === 'postgres';

export function requestLogConfig(cfg: RawConfig, ctx: StoreContext): RequestLogConfig {
  const store = cfg.logs_store;
  const fromClient = cfg.client.log_retention_days;
  const fromStore = store?.retention_days;
  if (fromClient !== undefined && fromStore !== undefined && fromClient !== fromStore) {
    ctx.warnings.push(`logs_store.retention_days (${fromStore}) and client.log_retention_days (${fromClient}) differ: `
      + `records are kept ${fromStore === 0 ? 'forever' : `${fromStore} days`} (logs_store.retention_days wins)`);
  }
  let flushIntervalMs = DEFAULT_FLUSH_MS;
  const interval = store?.writer?.batch_interval;
  if (interval !== undefined) {
    const seconds = goDurationSeconds(interval);
    if (seconds === null || seconds <= 0 || seconds > 60) {
      ctx.problems.push({ path: 'logs_store.writer.batch_interval', message: `expected a duration from 1ms to 60s such as '500ms', got '${interval}'` });
    } else flushIntervalMs = Math.max(1, Math.round(seconds * 1000));
  }
  const enabled = cfg.client.enable_logging && (store?.enabled ?? true);
  // A store that is off is not resolved: its env references need not be set.
  const target = enabled ? storeTarget(store, 'logs_store', DEFAULT_LOG_FILE, ctx) : null;
  const queueCapacity = store?.writer?.write_queue_capacity ?? DEFAULT_QUEUE_CAPACITY;
  return {
    enabled,
    content: !cfg.client.disable_content_logging,
    retentionDays: fromStore ?? fromClient ?? DEFAULT_RETENTION_DAYS,
    target: target ?? { type: 'sqlite', path: sqlitePath(DEFAULT_LOG_FILE, dataDirectory(ctx.env)) },
    queueCapacity,
    batchSize: Math.min(store?.writer?.max_batch_size ?? DEFAULT_BATCH_SIZE, queueCapacity),
    flushIntervalMs,
    searchIndex: store?.search_index ?? defaultSearchIndex(target?.type ?? 'sqlite'),
  };
}
