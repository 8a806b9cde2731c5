/**
 * Heimdall in front of the bench mock with the request log off, on without content, or on with content, for the
 * request-log bench (bench/request-log.ts). A process of its own, so that its CPU counters are the gateway's alone
 * (its log writer thread included).
 *
 *   node dist/bench/request-log-gateway.js --upstream 1234 --mode off|on|content --db /tmp/x.db [--threads 1]
 *
 * Prints `LISTENING <port>` once serving.
 */
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { startGateway, type RequestLog as GatewayRequestLog } from '../src/gateway.js';
import { openRequestLog } from '../src/stores/request-log.js';
import { num, parseFlags, str } from './args.js';

const flags = parseFlags(process.argv.slice(2));
const mode = str(flags, 'mode', 'off');
if (!['off', 'on', 'content'].includes(mode)) throw new Error(`--mode is off, on or content, not ${mode}`);
const logger = pino({ level: 'warn' });
const config = await loadConfig({
  raw: { providers: { openai: {
    keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
    network_config: { base_url: `http://127.0.0.1:${num(flags, 'upstream', 0)}` },
    concurrency_and_buffer_size: { concurrency: 20000, buffer_size: 20000, threads: num(flags, 'threads', 1) },
  } } },
  env: {},
  overrides: { port: 0, host: '127.0.0.1', logLevel: 'warn' },
});
const log = mode === 'off' ? null
  : await openRequestLog({ target: { type: 'sqlite', path: str(flags, 'db', '') }, logger, retentionDays: 0 });
const requestLog: GatewayRequestLog | undefined = log ? { sink: log.sink, reader: log.reader, content: mode === 'content' } : undefined;
const gateway = await startGateway(config, { logger, requestLog });
process.stdout.write(`LISTENING ${gateway.port}\n`);
const stop = () => {
  void gateway.close(1000).then(() => log?.close()).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
