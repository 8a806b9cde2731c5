/**
 * Heimdall in front of the bench mock with the request log off, on without content, or on with content, for the
 * request-log bench (bench/request-log.ts). A process of its own, so that its CPU counters are the gateway's alone
 * (its log writer thread included).
 *
 * Two more modes take content's cost apart: `content-front` builds and pushes every record, then drops it at the
 * sink (the front thread's share: the capture, the record); `content-memory` writes them to SQLite in memory (the
 * hand-off to the writer thread and the inserts, without the file's I/O).
 *
 *   node dist/bench/request-log-gateway.js --upstream 1234 --mode off|on|content|content-front|content-memory
 *     --db /tmp/x.db [--threads 1]
 *
 * Prints `LISTENING <port>` once serving.
 */
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { openConfiguredRequestLog } from '../src/stores/request-log.js';
import { num, parseFlags, str } from './args.js';

const flags = parseFlags(process.argv.slice(2));
const mode = str(flags, 'mode', 'off');
if (!['off', 'on', 'content', 'content-front', 'content-memory'].includes(mode)) {
  throw new Error(`--mode is off, on, content, content-front or content-memory, not ${mode}`);
}
const logger = pino({ level: 'warn' });
// The request log as a user configures it: Bifrost's keys, the writer's defaults.
const config = await loadConfig({
  raw: {
    client: { enable_logging: mode !== 'off', disable_content_logging: !mode.startsWith('content') },
    logs_store: { enabled: true, type: 'sqlite', config: { path: str(flags, 'db', 'bench-logs.db') } },
    providers: { openai: {
      keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
      network_config: { base_url: `http://127.0.0.1:${num(flags, 'upstream', 0)}` },
      concurrency_and_buffer_size: { concurrency: 20000, buffer_size: 20000, threads: num(flags, 'threads', 1) },
    } },
  },
  env: {},
  overrides: { port: 0, host: '127.0.0.1', logLevel: 'warn' },
});
const opened = await openConfiguredRequestLog(mode === 'content-memory'
  ? { ...config.requestLog, target: { type: 'sqlite', path: ':memory:' } } : config.requestLog, logger);
// The store stays open for the bench's count after the window (which reads 0 records here).
const requestLog = opened && mode === 'content-front' ? { ...opened, sink: { push() {}, close: () => opened.sink.close() } } : opened;
const gateway = await startGateway(config, { logger, requestLog });
process.stdout.write(`LISTENING ${gateway.port}\n`);
const stop = () => {
  void gateway.close(1000).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
