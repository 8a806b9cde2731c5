// The request log's settings: on by default to an SQLite file in the data directory; Bifrost's `logs_store` for
// SQLite or PostgreSQL, env references resolved and masked; every mistake refused with its path.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { redactConfig } from '../../../src/config/redact.js';
import { configError } from './helpers.js';

const load = (raw: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ raw, env });
const problems = async (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
  (await configError(() => load(raw, env))).problems;
const pg = (config: Record<string, unknown>) => ({ logs_store: { enabled: true, type: 'postgres', config } });

describe('the request log settings', () => {
  it('log to ./data/logs.db by default, content included, for 30 days', async () => {
    const cfg = await load({});
    expect(cfg.requestLog).toEqual({ enabled: true, content: true, retentionDays: 30,
      target: { type: 'sqlite', path: resolve('data', 'logs.db') }, queueCapacity: 10_000, batchSize: 500, flushIntervalMs: 250,
      searchIndex: false });
    expect((await load({ logs_store: { type: 'sqlite', search_index: true } })).requestLog.searchIndex).toBe(true);
    // PostgreSQL's server does the indexing: on unless the config says otherwise.
    expect((await load(pg({ host: 'db', db_name: 'x' }))).requestLog.searchIndex).toBe(true);
    expect((await load({ logs_store: { ...pg({ host: 'db', db_name: 'x' }).logs_store, search_index: false } })).requestLog.searchIndex).toBe(false);
  });

  it('place the file in HEIMDALL_DATA_DIR, a relative path inside it, an absolute path where it says', async () => {
    expect((await load({}, { HEIMDALL_DATA_DIR: '/var/lib/heimdall' })).requestLog.target)
      .toEqual({ type: 'sqlite', path: '/var/lib/heimdall/logs.db' });
    const relative = { logs_store: { enabled: true, type: 'sqlite', config: { path: 'sub/requests.db' } } };
    expect((await load(relative, { HEIMDALL_DATA_DIR: '/srv/h' })).requestLog.target).toEqual({ type: 'sqlite', path: '/srv/h/sub/requests.db' });
    const absolute = { logs_store: { type: 'sqlite', config: { path: '/tmp/x/logs.db' } } };
    expect((await load(absolute)).requestLog.target).toEqual({ type: 'sqlite', path: '/tmp/x/logs.db' });
  });

  it('turn off with client.enable_logging, with logs_store.enabled (no type needed), or keep content out', async () => {
    expect((await load({ client: { enable_logging: false } })).requestLog.enabled).toBe(false);
    expect((await load({ logs_store: { enabled: false } })).requestLog.enabled).toBe(false);
    // A store that is off needs none of its env references set.
    expect((await load({ client: { enable_logging: false }, ...pg({ host: 'db', db_name: 'x', password: 'env.UNSET' }) })).requestLog.enabled).toBe(false);
    expect((await load({ client: { disable_content_logging: true } })).requestLog.content).toBe(false);
    expect((await load({ client: { log_retention_days: 0 } })).requestLog.retentionDays).toBe(0);
    expect((await load({ logs_store: { type: 'sqlite', retention_days: 3 } })).requestLog.retentionDays).toBe(3);
  });

  it('take PostgreSQL as Bifrost\'s parts, env references resolved and masked in the dump', async () => {
    const cfg = await load(pg({ host: 'env.PG_HOST', port: '6543', user: 'heimdall', password: 'env.PG_PASSWORD',
      db_name: 'logs', ssl_mode: 'require', max_open_conns: 20, conn_max_lifetime: '30m', schema: 'gateway' }),
    { PG_HOST: 'db.internal', PG_PASSWORD: 's3cret-pw' });
    expect(cfg.requestLog.target).toEqual({ type: 'postgres', connection: { host: 'db.internal', port: 6543, user: 'heimdall',
      password: 's3cret-pw', database: 'logs', sslMode: 'require', maxConnections: 20, maxLifetimeSeconds: 1800, schema: 'gateway' } });
    expect(JSON.stringify(redactConfig(cfg))).not.toContain('s3cret-pw');
  });

  it('take a connection string, its password masked even when written in the file', async () => {
    const cfg = await load(pg({ connection_string: 'postgres://app:pl%40in@10.0.0.5:5433/gw?sslmode=disable' }));
    expect(cfg.requestLog.target).toMatchObject({ type: 'postgres', connection: { host: '10.0.0.5', port: 5433, user: 'app',
      password: 'pl@in', database: 'gw', sslMode: 'disable' } });
    const dump = JSON.stringify(redactConfig(cfg));
    expect(dump).not.toContain('pl@in');
    const plain = await load(pg({ host: 'db', db_name: 'x', password: 'written-here' }));
    expect(JSON.stringify(redactConfig(plain))).not.toContain('written-here');
  });

  it('refuse what cannot be a store, naming the key', async () => {
    expect(await problems(pg({ host: 'db' }))).toContainEqual(expect.objectContaining({ path: 'logs_store.config',
      message: expect.stringContaining('host and db_name') }));
    expect(await problems(pg({ connection_string: 'postgres://h/db', host: 'h' }))).toContainEqual(
      expect.objectContaining({ path: 'logs_store.config.connection_string', message: expect.stringContaining('not both') }));
    expect(await problems(pg({ connection_string: 'mysql://h/db' }))).toContainEqual(
      expect.objectContaining({ path: 'logs_store.config.connection_string', message: expect.stringContaining('postgres://') }));
    expect(await problems(pg({ host: 'h', db_name: 'd', ssl_mode: 'verify-ca' }))).toContainEqual(
      expect.objectContaining({ path: 'logs_store.config.ssl_mode', message: expect.stringContaining('verify-full') }));
    expect(await problems(pg({ host: 'h', db_name: 'd', port: 'eighty' }))).toContainEqual(
      expect.objectContaining({ path: 'logs_store.config.port' }));
    expect(await problems(pg({ host: 'h', db_name: 'd', password: 'env.PG_NOPE' }))).toContainEqual(
      expect.objectContaining({ path: 'logs_store.config.password', message: expect.stringContaining("'PG_NOPE' is not set") }));
    expect(await problems(pg({ host: 'h', dbname: 'd' }))).toContainEqual(
      expect.objectContaining({ path: 'logs_store.config.dbname', message: expect.stringContaining("did you mean 'db_name'") }));
    expect(await problems({ logs_store: { type: 'mongo' } })).toContainEqual(expect.objectContaining({ path: 'logs_store.type' }));
    expect(await problems({ logs_store: { type: 'sqlite', config: { file: 'x.db' } } })).toContainEqual(
      expect.objectContaining({ path: 'logs_store.config.file' }));
    expect(await problems({ logs_store: { type: 'sqlite', writer: { batch_interval: 'soon' } } })).toContainEqual(
      expect.objectContaining({ path: 'logs_store.writer.batch_interval' }));
    expect(await problems({ client: { log_retention_days: -1 } })).toContainEqual(
      expect.objectContaining({ path: 'client.log_retention_days' }));
  });

  it('act on Bifrost\'s writer settings and list the ones with no counterpart', async () => {
    const cfg = await load({ logs_store: { type: 'sqlite', writer: { max_batch_size: 200, write_queue_capacity: 5000,
      batch_interval: '2s', max_batch_bytes: 1000 } } });
    expect(cfg.requestLog).toMatchObject({ batchSize: 200, queueCapacity: 5000, flushIntervalMs: 2000 });
    expect(cfg.ignoredKeys).toContain('logs_store.writer.max_batch_bytes');
  });

  it('keep a relative path from escaping nothing: it is joined, not trusted as absolute', async () => {
    const cfg = await load({ logs_store: { type: 'sqlite', config: { path: '../elsewhere.db' } } }, { HEIMDALL_DATA_DIR: '/srv/h/data' });
    expect(cfg.requestLog.target).toEqual({ type: 'sqlite', path: join('/srv/h', 'elsewhere.db') });
  });
});
