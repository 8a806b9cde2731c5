/**
 * Heimdall in front of the bench mock with tracing off (no `otel` entry), configured but sampling nothing, or
 * sampling every request and exporting to the bench's OTLP sink, for the tracing bench (bench/tracing.ts). A process
 * of its own, so that its CPU counters are the gateway's alone (its exporter thread included).
 *
 *   node dist/bench/tracing-gateway.js --upstream 1234 --mode off|zero|on --collector 5678 [--threads 1]
 *
 * Prints `LISTENING <port>` once serving.
 */
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { num, parseFlags, str } from './args.js';

const flags = parseFlags(process.argv.slice(2));
const mode = str(flags, 'mode', 'off');
if (!['off', 'zero', 'on'].includes(mode)) throw new Error(`--mode is off, zero or on, not ${mode}`);
const logger = pino({ level: 'warn' });
const otel = { name: 'otel', config: { collector_url: `http://127.0.0.1:${num(flags, 'collector', 0)}/v1/traces`,
  sample_rate: mode === 'on' ? 1 : 0 } };
const config = await loadConfig({
  raw: {
    providers: { openai: {
      keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
      network_config: { base_url: `http://127.0.0.1:${num(flags, 'upstream', 0)}` },
      concurrency_and_buffer_size: { concurrency: 20000, buffer_size: 20000, threads: num(flags, 'threads', 1) },
    } },
    // The default plugin list (the metrics plugin), plus tracing when asked.
    plugins: mode === 'off' ? ['metrics'] : ['metrics', otel],
  },
  env: {},
  overrides: { port: 0, host: '127.0.0.1', logLevel: 'warn' },
});
const gateway = await startGateway(config, { logger });
process.stdout.write(`LISTENING ${gateway.port}\n`);
const stop = () => {
  void gateway.close(1000).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
