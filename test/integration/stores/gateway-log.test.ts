// The gateway owns its request log: the sink it exposes is what the request path pushes into, /metrics counts what
// was written and dropped, and a graceful close writes what still waits before the process ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway } from '../../../dist/src/gateway.js';
import { openLogStore } from '../../../dist/src/stores/log-store.js';
import { openConfiguredRequestLog } from '../../../dist/src/stores/request-log.js';
import { logRecord } from './records.js';

const dir = mkdtempSync(join(tmpdir(), 'heimdall-gateway-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a gateway with its request log', () => {
  it('counts records in /metrics and writes the last ones on close', async () => {
    const logger = pino({ level: 'silent' });
    const config = await loadConfig({ raw: { providers: { mock: {} }, logs_store: { type: 'sqlite', writer: { batch_interval: '60s' } } },
      env: { HEIMDALL_DATA_DIR: dir }, overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' } });
    const gateway = await startGateway(config, { logger, requestLog: await openConfiguredRequestLog(config.requestLog, logger) });
    const sink = gateway.requestLog?.sink;
    expect(sink).toBeDefined();
    for (let i = 0; i < 3; i++) sink?.push(logRecord({ id: `gw-${i}` }));
    // Nothing is written yet (the batch interval is a minute): the close must write them.
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
    expect(metrics).toContain('heimdall_log_records_written_total 0');
    expect(metrics).toContain('heimdall_log_records_dropped_total 0');
    await gateway.close(1000);
    const store = await openLogStore({ type: 'sqlite', path: join(dir, 'logs.db') });
    expect((await store.get('gw-2'))?.id).toBe('gw-2');
    await store.close();
  });

  it('starts with no log when logging is off', async () => {
    const logger = pino({ level: 'silent' });
    const config = await loadConfig({ raw: { client: { enable_logging: false }, providers: { mock: {} } }, env: {},
      overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' } });
    const gateway = await startGateway(config, { logger, requestLog: await openConfiguredRequestLog(config.requestLog, logger) });
    expect(gateway.requestLog).toBeNull();
    expect(await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text()).not.toContain('heimdall_log_records');
    await gateway.close(1000);
  });
});
