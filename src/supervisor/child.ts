// A gateway process under the supervisor: a full Heimdall (uWS front, provider pools) on the shared port. It gets
// its config from the supervisor, which validated it and printed the start-up summary once; it says when it is
// ready (node:cluster's `listening` never fires for uWS, which does not use node's net); it stops when told to,
// when the supervisor is gone, or on a signal, and always drains first.
import '../heap-tuning.js';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { startGateway, type Gateway, type ReloadOutcome } from '../gateway.js';
import { openConfiguredRequestLog } from '../stores/request-log.js';
import type { MetricsSnapshot } from '../observability/cluster-metrics.js';
import { createLogger } from '../observability/logger.js';
import type { McpTransport } from '../mcp/remote.js';
import { RemoteCounters, type CounterTransport } from '../governance/remote.js';
import { PluginLoadError } from '../plugins/load.js';
import { kindOf, type FromChild, type LeaseTransport, type ToChild } from './messages.js';
import { stopControl } from './stop-signals.js';

/** Tests only: a child that finds this file at start dies at once, as one that crashes at every start. */
const CRASH_FILE = process.env.HEIMDALL_TEST_CRASH_AT_START;

const send = (message: FromChild, then?: () => void): void => {
  if (!process.connected) {
    then?.();
    return;
  }
  process.send!(message, undefined, {}, () => then?.());
};

let logger: Logger | null = null;
let gateway: Gateway | null = null;
let starting: Promise<Gateway | null> | null = null;
let processes = { up: 0, configured: 0 };
let nextId = 1;
const pendingReloads = new Map<number, (outcome: ReloadOutcome) => void>();
const pendingMetrics = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
const leaseHandlers: ((message: unknown) => void)[] = [];
const mcpHandlers: ((message: unknown) => void)[] = [];
const governanceHandlers: ((message: unknown) => void)[] = [];
/** The supervisor sends its MCP view as soon as this process exists, before the gateway listens for it: kept here. */
let lastMcpView: unknown = null;

/** The limits feature's channel to the supervisor's ledger, over this process's IPC. */
export const leaseTransport: LeaseTransport = {
  send: (message) => {
    if (process.connected) process.send!(message);
  },
  onMessage: (handler) => {
    leaseHandlers.push(handler);
  },
};

/** Governance's channel to the supervisor, which counts budgets and rate limits for every process without Redis. */
const governanceTransport: CounterTransport = {
  send: (message) => {
    if (process.connected) process.send!(message);
  },
  onMessage: (handler) => {
    governanceHandlers.push(handler);
  },
};

/** MCP's channel to the supervisor, which owns the connections to the MCP servers (docs/mcp.md). */
const mcpTransport: McpTransport = {
  send: (message) => {
    if (process.connected) process.send!(message);
  },
  onMessage: (handler) => {
    mcpHandlers.push(handler);
    if (lastMcpView) handler(lastMcpView);
  },
};

const exitAfterFlush = (code: number): void => {
  if (logger) logger.flush(() => process.exit(code));
  else process.exit(code);
};

/** How long a process being replaced keeps serving its kept-alive connections, each closed after its response. */
const HAND_OVER_MS = 2_000;
let handOver = false;

const control = stopControl({
  stop(reason) {
    logger?.info({ reason, handOver }, 'process stopping: finishing requests in flight');
    void (starting ?? Promise.resolve(gateway)).then(async (running) => {
      await running?.close(undefined, handOver ? HAND_OVER_MS : 0);
      exitAfterFlush(0);
    }, () => exitAfterFlush(0)).catch((error: unknown) => {
      logger?.error({ err: error }, 'shutdown failed');
      exitAfterFlush(1);
    });
  },
  force(reason) {
    logger?.warn({ reason }, 'second signal: exiting now');
    exitAfterFlush(1);
  },
});

// A signal to the whole process group reaches this process too: it is the same stop the supervisor orders.
process.on('SIGTERM', () => control.trigger('SIGTERM'));
process.on('SIGINT', () => control.trigger('SIGINT'));
// Reload is the supervisor's: a SIGHUP from a closing terminal reaches the group, and must not end this process.
process.on('SIGHUP', () => undefined);
// The supervisor gone (killed with SIGKILL): no one would stop this process, so it drains and leaves, no orphan.
process.on('disconnect', () => control.trigger('supervisor gone'));

function ask<T>(pending: Map<number, T>, entry: T, message: (id: number) => FromChild): void {
  const id = nextId++;
  pending.set(id, entry);
  send(message(id));
}

async function start(message: Extract<ToChild, { heimdall: 'start' }>): Promise<Gateway | null> {
  if (CRASH_FILE && existsSync(CRASH_FILE)) {
    process.stderr.write(`heimdall process ${message.slot}: crashing at start (${CRASH_FILE} exists)\n`);
    process.exit(70);
  }
  const config: GatewayConfig = { ...message.config, server: { ...message.config.server, port: message.port } };
  logger = createLogger(config.server.logLevel).child({ process: message.slot, pid: process.pid });
  try {
    const running = await startGateway(config, {
      logger,
      // Each process writes the same store: SQLite in WAL mode with a busy timeout, or the same PostgreSQL.
      requestLog: await openConfiguredRequestLog(config.requestLog, logger),
      sharePort: true,
      leases: leaseTransport,
      mcp: mcpTransport,
      governanceCounters: () => new RemoteCounters(governanceTransport),
      processes: () => processes,
      reload: () => new Promise((resolve) => ask(pendingReloads, resolve, (id) => ({ heimdall: 'reload', id }))),
      ...(message.clusterMetrics ? {
        clusterMetrics: () => new Promise<string>((resolve, reject) => ask(pendingMetrics, { resolve, reject },
          (id) => ({ heimdall: 'metrics', id }))),
      } : {}),
    });
    gateway = running;
    if (control.stopping) return running;
    send({ heimdall: 'ready', port: running.port });
    return running;
  } catch (error) {
    logger.flush();
    // Worded as a single process words it before exiting 2.
    const message = error instanceof PluginLoadError ? error.message : `could not start: ${(error as Error).message}`;
    send({ heimdall: 'failed', message }, () => process.exit(2));
    return null;
  }
}

/** This process's metrics as data, for the supervisor's whole-cluster /metrics; null when it has none to give. */
async function sendSnapshot(id: number): Promise<void> {
  let snapshot: MetricsSnapshot | null = null;
  try {
    snapshot = await gateway?.metricsSnapshot() ?? null;
  } catch (error) {
    logger?.error({ err: error }, 'the metrics snapshot failed');
  }
  send({ heimdall: 'metrics-snapshot', id, snapshot });
}

process.on('message', (message: ToChild | { heimdall: 'lease' }) => {
  switch (kindOf(message)) {
    case 'start':
      starting = start(message as Extract<ToChild, { heimdall: 'start' }>);
      break;
    case 'processes': {
      const { up, configured } = message as Extract<ToChild, { heimdall: 'processes' }>;
      processes = { up, configured };
      break;
    }
    case 'stop':
      handOver = (message as Extract<ToChild, { heimdall: 'stop' }>).handOver;
      control.trigger('supervisor');
      break;
    case 'reload-result': {
      const { id, outcome } = message as Extract<ToChild, { heimdall: 'reload-result' }>;
      pendingReloads.get(id)?.(outcome);
      pendingReloads.delete(id);
      break;
    }
    case 'metrics-text': {
      const { id, text, error } = message as Extract<ToChild, { heimdall: 'metrics-text' }>;
      const pending = pendingMetrics.get(id);
      pendingMetrics.delete(id);
      if (text !== null) pending?.resolve(text);
      else pending?.reject(new Error(error ?? 'no metrics'));
      break;
    }
    case 'metrics-snapshot-request': {
      const { id } = message as Extract<ToChild, { heimdall: 'metrics-snapshot-request' }>;
      void sendSnapshot(id);
      break;
    }
    case 'lease':
      for (const handler of leaseHandlers) handler(message);
      break;
    case 'governance':
      for (const handler of governanceHandlers) handler(message);
      break;
    case 'mcp':
      if ((message as { type?: unknown }).type === 'view') lastMcpView = message;
      for (const handler of mcpHandlers) handler(message);
      break;
    default:
      break;
  }
});
