#!/usr/bin/env node
// The `heimdall` command. Boot order: arguments → config → logger → gateway (metrics, pools, plugins, HTTP) →
// signals. A user's mistake (bad flag, bad config) is one clear message and exit code 2, never a stack trace.

// First: it must run before anything imports uWebSockets.js.
import './http/exit-on-unsupported-node.js';
import './heap-tuning.js';
import { parseArgs } from 'node:util';
import { ConfigError } from './config/errors.js';
import { loadConfig } from './config/load.js';
import { redactConfig } from './config/redact.js';
import { configSummary } from './config/summary.js';
import { startGateway, type Gateway } from './gateway.js';
import { startH2cBridge, type H2cBridge } from './http/h2c-bridge.js';
import { openConfiguredRequestLog } from './stores/request-log.js';
import { createLogger } from './observability/logger.js';
import { PluginLoadError } from './plugins/load.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/types.js';
import { renderClusterMetrics } from './observability/cluster-metrics.js';
import { createLedger } from './supervisor/ledger.js';
import { stopControl, type StopControl, type StopHandlers } from './supervisor/stop-signals.js';
import { ChildStartError, Supervisor } from './supervisor/supervisor.js';
import { VERSION } from './version.js';

const USAGE = `usage: heimdall [--config FILE] [--port N] [--host H] [--h2c-port N] [--processes N|auto] [--log-level LEVEL]
  --config FILE     JSON or YAML config (Bifrost's config.json shape); env HEIMDALL_CONFIG.
                    Without one, the embedded default: the keyless mock provider, plus every provider
                    whose key variable (OPENAI_API_KEY, …) is set.
  --port N          listen port (default 8080); env PORT
  --host H          listen address (default 0.0.0.0); env HOST
  --h2c-port N      also serve HTTP/2 cleartext (prior knowledge) on this port, for the AWS SDK's default
                    handler (default: none); env HEIMDALL_H2C_PORT
  --processes N     gateway processes sharing the port under one supervisor, or 'auto' for one per core
                    (default 1: a single process, no supervisor); env HEIMDALL_PROCESSES
  --log-level L     trace, debug, info, warn, error, fatal (default info)
  -v, --version     print the version and exit
  -h, --help        print this help and exit`;

function fail(message: string): never {
  process.stderr.write(`heimdall: ${message}\n`);
  process.exit(2);
}

function parsePort(value: string | undefined, source: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`${source} must be a port number from 0 to 65535, got '${value}'`);
  return port;
}

/** The host as a URL writes it: the wildcard as localhost, an IPv6 address in brackets (`[::1]`). */
function listenAddress(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

async function main(): Promise<void> {
  // A terminal closing, or a service manager asking for a reload, sends SIGHUP, whose default ends the process. A
  // single process cannot reload (the supervisor of cluster mode does): say so and keep serving. Taken from the
  // start, so that a SIGHUP during start-up does not end it either; the logger says it once there is one.
  let reportHangup = (): void => {
    process.stderr.write(`heimdall: ${HANGUP_IGNORED}\n`);
  };
  process.on('SIGHUP', () => reportHangup());
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        'h2c-port': { type: 'string' },
        processes: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }

  const loadOptions = {
    file: args.config ?? process.env.HEIMDALL_CONFIG ?? null,
    env: process.env,
    overrides: {
      port: parsePort(args.port, '--port') ?? parsePort(process.env.PORT, 'PORT'),
      host: args.host ?? (process.env.HOST || undefined),
      logLevel: args['log-level'],
      processes: args.processes ?? (process.env.HEIMDALL_PROCESSES || undefined),
      h2cPort: parsePort(args['h2c-port'], '--h2c-port') ?? parsePort(process.env.HEIMDALL_H2C_PORT, 'HEIMDALL_H2C_PORT'),
    },
  };
  let config;
  try {
    // Validated once, here: in cluster mode the processes get this config, not the file.
    config = await loadConfig(loadOptions);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }

  const logger = createLogger(config.server.logLevel);
  for (const line of configSummary(config)) logger.info(line.fields, line.msg);
  logger.debug({ source: config.source, config: redactConfig(config) }, 'effective config');
  for (const warning of config.warnings) logger.warn(warning);
  if (config.ignoredKeys.length > 0) {
    logger.warn({ keys: config.ignoredKeys }, `config keys accepted for Bifrost compatibility but not acted on by Heimdall yet: ${
      config.ignoredKeys.join(', ')}`);
  }

  if (config.providers.length === 0) {
    logger.warn('no providers configured: every chat request will get 404 (add one under "providers", e.g. "mock": {})');
  }

  if (config.processes.supervised) {
    process.removeAllListeners('SIGHUP');
    await runCluster(config, logger, () => loadConfig(loadOptions));
    return;
  }

  let gateway: Gateway;
  try {
    gateway = await startGateway(config, { logger, requestLog: await openConfiguredRequestLog(config.requestLog, logger) });
  } catch (error) {
    logger.flush();
    if (error instanceof PluginLoadError) fail(error.message);
    fail(`could not start: ${(error as Error).message}`);
  }
  let h2c: H2cBridge | null;
  try {
    h2c = await startH2c(config, gateway.port, logger);
  } catch (error) {
    await gateway.close(0);
    logger.flush();
    fail(`could not start: ${(error as Error).message}`);
  }
  logListening(logger, config, gateway.port, null);

  // The logger writes asynchronously: exiting before its buffer reached stdout would lose the last lines.
  const exitAfterFlush = (code: number) => logger.flush(() => process.exit(code));
  stopOnSignals(logger, {
    stop(signal) {
      logger.info({ signal, graceSeconds: config.client.shutdownGraceSeconds }, 'shutting down: finishing requests in flight');
      void Promise.all([gateway.close(), h2c?.close()]).then(() => {
        logger.info('stopped');
        exitAfterFlush(0);
      }, (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitAfterFlush(1);
      });
    },
    force: (signal) => forceExit(logger, signal, exitAfterFlush),
  });
  reportHangup = () => logger.warn({ signal: 'SIGHUP' }, HANGUP_IGNORED);
}

const HANGUP_IGNORED = 'SIGHUP ignored: config reload needs the supervisor (--processes 2 or more, or auto); '
  + 'restart to apply a new config';

/** The line operators and tests wait for: where the gateway listens, its processes, each provider's threads. */
function logListening(logger: Logger, config: GatewayConfig, port: number, processes: number | null): void {
  logger.info({ host: config.server.host, port, ...(processes === null ? {} : { processes }),
    providers: config.providers.map((p) => `${p.name} (${p.concurrency.threads} thread${p.concurrency.threads === 1 ? '' : 's'})`) },
  `heimdall listening on http://${listenAddress(config.server.host)}:${port}${processes === null ? '' : ` (${processes} processes)`}`);
}

/** The h2c port in front of the gateway's port, when one is configured; logged as the other listening line is. */
async function startH2c(config: GatewayConfig, targetPort: number, logger: Logger): Promise<H2cBridge | null> {
  if (config.server.h2cPort === null) return null;
  const host = config.server.host;
  const targetHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const bridge = await startH2cBridge({ host, port: config.server.h2cPort, targetPort, targetHost, logger,
    maxBodyBytes: config.client.maxRequestBodyBytes });
  logger.info({ host: config.server.host, h2cPort: bridge.port },
    `heimdall serving HTTP/2 cleartext on http://${listenAddress(config.server.host)}:${bridge.port}`);
  return bridge;
}

/** SIGTERM and SIGINT stop the gateway once, however many copies arrive within the window (see stop-signals.ts). */
function stopOnSignals(logger: Logger, handlers: Omit<StopHandlers, 'duplicate'>): StopControl {
  const control = stopControl({
    ...handlers,
    duplicate: (signal) => logger.debug({ signal }, 'the same signal again (sent to the process group, or forwarded): already stopping'),
  });
  process.on('SIGTERM', () => control.trigger('SIGTERM'));
  process.on('SIGINT', () => control.trigger('SIGINT'));
  return control;
}

/** A deliberate second signal: the operator does not want to wait for in-flight requests. */
function forceExit(logger: Logger, signal: string, exit: (code: number) => void): void {
  logger.warn({ signal }, 'second signal: exiting now');
  exit(1);
}

/** Cluster mode: the supervisor and its processes; this process serves no request itself. */
async function runCluster(config: GatewayConfig, logger: Logger, reloadConfig: () => Promise<GatewayConfig>): Promise<void> {
  const supervisor = new Supervisor(config, {
    logger,
    loadConfig: reloadConfig,
    renderMetrics: renderClusterMetrics,
    ledger: createLedger({
      onProtocolError: (childId, reason) => logger.warn({ pid: childId, reason }, 'a process broke the lease protocol; its message was ignored'),
    }),
  });
  const exitAfterFlush = (code: number) => logger.flush(() => process.exit(code));
  let started = false;
  let h2c: H2cBridge | null = null;
  const control = stopOnSignals(logger, {
    stop(signal) {
      logger.info({ signal, graceSeconds: config.client.shutdownGraceSeconds, pids: supervisor.pids() },
        'shutting down: every process finishes its requests in flight');
      void Promise.all([supervisor.stop(), h2c?.close()]).then(() => {
        logger.info('stopped');
        exitAfterFlush(0);
      });
    },
    force(signal) {
      supervisor.kill();
      forceExit(logger, signal, exitAfterFlush);
    },
  });
  process.on('SIGHUP', () => {
    if (!started) {
      logger.warn({ signal: 'SIGHUP' }, 'SIGHUP ignored: the processes are still starting');
      return;
    }
    logger.info({ signal: 'SIGHUP' }, 'SIGHUP: reloading the config');
    void supervisor.reload();
  });

  let port: number;
  try {
    port = await supervisor.start();
  } catch (error) {
    if (control.stopping) return;
    logger.flush();
    fail(error instanceof ChildStartError ? error.message : `could not start: ${(error as Error).message}`);
  }
  if (control.stopping) return;
  // The supervisor's own: its streams go to the shared port, where the kernel spreads them over the processes.
  try {
    h2c = await startH2c(config, port, logger);
  } catch (error) {
    await supervisor.stop();
    logger.flush();
    fail(`could not start: ${(error as Error).message}`);
  }
  started = true;
  logListening(logger, config, port, supervisor.processCount);
}

void main().catch((error: unknown) => {
  process.stderr.write(`heimdall: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
