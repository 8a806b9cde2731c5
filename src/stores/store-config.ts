// Where a database-backed store lives, resolved from Bifrost's `{ enabled, type, config }` blocks (`logs_store`,
// `config_store`): an SQLite file, or a PostgreSQL server. Plain data, so it crosses to a worker thread as is.
import { isAbsolute, resolve } from 'node:path';

export const POSTGRES_SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-full'] as const;
export type PostgresSslMode = (typeof POSTGRES_SSL_MODES)[number];

export interface PostgresConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Never logged: `redactConfig` masks it by name. */
  readonly password: string | null;
  readonly database: string;
  readonly sslMode: PostgresSslMode;
  /** Connections the pool may open (Bifrost's `max_open_conns`). */
  readonly maxConnections: number;
  /** Seconds a connection lives before it is replaced (Bifrost's `conn_max_lifetime`); null: the client's default. */
  readonly maxLifetimeSeconds: number | null;
  /** The schema tables are created in and read from (`search_path`); null: the server's default (`public`). */
  readonly schema: string | null;
}

export type StoreTarget =
  | { readonly type: 'sqlite'; /** Absolute. */ readonly path: string }
  | { readonly type: 'postgres'; readonly connection: PostgresConnection };

/** Where embedded stores live unless a path says otherwise: HEIMDALL_DATA_DIR, else `./data` under the working directory. */
export function dataDirectory(env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): string {
  const dir = env.HEIMDALL_DATA_DIR;
  return dir ? resolve(cwd, dir) : resolve(cwd, 'data');
}

/** An SQLite path from the config: absolute as written, relative to the data directory otherwise (as Bifrost's app-dir). */
export function sqlitePath(path: string, dataDir: string): string {
  return isAbsolute(path) ? path : resolve(dataDir, path);
}

/** Go's duration syntax (`90s`, `1h30m`, `500ms`) in seconds; null when it is not one. */
export function goDurationSeconds(text: string): number | null {
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return null;
  let total = 0;
  for (const [, n, , u] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(n) * unit[u];
  return total;
}

/** The parts of a `postgres://` / `postgresql://` URL; throws with a reason a config error can carry. */
export function parsePostgresUrl(text: string): {
  host: string; port: number | null; user: string | null; password: string | null; database: string | null; sslMode: string | null;
} {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('not a URL (expected postgres://user:password@host:5432/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`expected a postgres:// or postgresql:// URL, got ${url.protocol}//`);
  }
  if (!url.hostname) throw new Error('the URL names no host');
  const known = new Set(['sslmode']);
  for (const name of url.searchParams.keys()) {
    if (!known.has(name)) throw new Error(`unsupported URL parameter '${name}' (only sslmode)`);
  }
  const dbName = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : null,
    user: url.username ? decodeURIComponent(url.username) : null,
    password: url.password ? decodeURIComponent(url.password) : null,
    database: dbName || null,
    sslMode: url.searchParams.get('sslmode'),
  };
}
