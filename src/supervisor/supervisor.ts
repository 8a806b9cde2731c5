// The primary of cluster mode: it starts N gateway processes on one port (each listens with SO_REUSEPORT and the
// kernel spreads connections between them), says the gateway is ready only once every one is, replaces a process
// that dies (with backoff, so one that dies at every start does not spin), stops them all on a signal, and reloads
// the config by replacing them one at a time.
//
// child_process.fork rather than node:cluster: cluster's value is sharing node:net servers, which uWS does not use
// (it never emits `listening` for a uWS child, and its round-robin scheduler would sit idle), so fork gives the same
// IPC channel with less machinery, and the supervisor keeps every decision (readiness, restarts, rollout) in one place.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import type { GatewayConfig } from '../config/types.js';
import { ListenError, probePort } from '../http/port-probe.js';
import type { ReloadOutcome } from '../gateway.js';
import type { ClusterInfo, MetricsSnapshot } from '../observability/cluster-metrics.js';
import { MCP_START_WAIT_MS } from '../mcp/entry.js';
import type { McpThread } from '../mcp/host-thread.js';
import { kindOf, type FromChild, type LeaseTransport, type ToChild } from './messages.js';
import { CounterHost } from '../governance/remote.js';

const CHILD_FILE = new URL('./child.js', import.meta.url);

/** A replacement's first delay; each death before the process was up for `STABLE_MS` doubles it, up to the cap. */
export const RESTART_BASE_MS = 250;
export const RESTART_CAP_MS = 15_000;
/** A process up this long has proven itself: its next death restarts it after the first delay again. */
const STABLE_MS = 10_000;
/** How long a new process may take to start its pools and listen. */
const START_TIMEOUT_MS = 60_000;
/** How long past `client.shutdown_grace_seconds` a process may take to exit before it is killed. */
const KILL_AFTER_GRACE_MS = 10_000;
/** How long a scrape waits for each process's snapshot before leaving it out. */
const SNAPSHOT_TIMEOUT_MS = 2_000;

export interface SupervisorOptions {
  logger: Logger;
  /** Re-reads and validates the config file (SIGHUP, `POST /api/reload`); throws ConfigError on a mistake. */
  loadConfig: () => Promise<GatewayConfig>;
  /** Whole-cluster Prometheus text from every process's snapshot (the metrics feature's `renderClusterMetrics`). */
  renderMetrics?: (snapshots: readonly MetricsSnapshot[], cluster: ClusterInfo) => Promise<string>;
  /** The limits feature's ledger (`createLedger`): each process's lease messages go to it, keyed by its pid. */
  ledger?: {
    attach(childId: string, transport: LeaseTransport): void;
    detach(childId: string): void;
  };
}

type ChildState = 'starting' | 'ready' | 'draining';

interface Member {
  readonly child: ChildProcess;
  readonly slot: number;
  state: ChildState;
  readyAt: number | null;
  /** Set when the supervisor itself stopped it: its exit is expected. */
  retired: boolean;
  /** Started by `start()` or a reload, which handle its failure to start: no restart is scheduled for it then. */
  readonly trial: boolean;
  detachLeases: (() => void) | null;
  /** Settles when the process is ready, or rejects when it fails or dies first. */
  readonly ready: Promise<number>;
}

interface Slot {
  readonly id: number;
  current: Member | null;
  restarts: number;
  /** Deaths in a row without a stable run, which set the backoff. */
  streak: number;
  restartTimer: NodeJS.Timeout | null;
}

/** The reason a process could not start, as a single process would have printed it. */
export class ChildStartError extends Error {
  override readonly name = 'ChildStartError';
}

export class Supervisor {
  private readonly logger: Logger;
  private readonly options: SupervisorOptions;
  private config: GatewayConfig;
  private readonly slots: Slot[] = [];
  private readonly members = new Set<Member>();
  private port = 0;
  private stopping = false;
  private reloading = false;
  private nextRequestId = 1;
  private readonly snapshotWaits = new Map<number, (snapshot: MetricsSnapshot | null) => void>();
  private allExited: (() => void) | null = null;
  private stopped: Promise<void> | null = null;
  /**
   * The MCP connections, owned here rather than by each process: a stdio server is spawned once for the cluster,
   * each HTTP server sees one client, and the processes reach them over IPC (src/mcp/remote.ts, docs/mcp.md). They
   * run on a thread of their own, so that large tool results do not hold up this thread's leases and restarts.
   */
  private mcp: McpThread | null = null;
  /**
   * Every process's budgets and rate limits, counted here when they are not in Redis (src/governance/remote.ts):
   * one set of counters for the cluster, kept across reloads and process restarts.
   */
  readonly governance = new CounterHost();

  constructor(config: GatewayConfig, options: SupervisorOptions) {
    this.config = config;
    this.options = options;
    this.logger = options.logger;
  }

  /** Starts every process; resolves with the port once all are ready, rejects (and stops them) when one fails. */
  async start(): Promise<number> {
    const { host, port } = this.config.server;
    // SO_REUSEPORT would let the processes join any listener of this user on the port: make sure it is free. Port 0
    // is resolved here: a port the kernel picked for one SO_REUSEPORT socket cannot be joined by another.
    this.port = await freePort(host, port);
    for (let id = 1; id <= this.config.processes.count; id++) this.slots.push({ id, current: null, restarts: 0, streak: 0, restartTimer: null });
    await this.configureMcp(this.config);
    try {
      await Promise.all(this.slots.map((slot) => this.launch(slot, this.config).ready));
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.broadcastProcesses();
    return this.port;
  }

  get processCount(): number {
    return this.slots.length;
  }

  /** Drains every process (each within `client.shutdown_grace_seconds`); resolves once all have exited. */
  stop(): Promise<void> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  private stopAll(): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
    }
    const exited = new Promise<void>((resolve) => {
      this.allExited = resolve;
    });
    for (const member of this.members) this.retire(member);
    // Each process ends its own drain at the grace deadline; one that hangs past it is not left behind.
    const deadline = setTimeout(() => {
      if (this.members.size === 0) return;
      this.logger.error({ pids: this.pids() }, 'processes still running past the shutdown grace period: killing them');
      this.kill();
    }, this.config.client.shutdownGraceSeconds * 1000 + KILL_AFTER_GRACE_MS);
    this.checkAllExited();
    // The MCP servers last: a process draining an agent-mode request may still call tools.
    return exited.finally(() => clearTimeout(deadline)).then(() => this.mcp?.close());
  }

  /** Connects to the config's MCP servers, or brings the connections in line with a reloaded config. */
  private async configureMcp(config: GatewayConfig): Promise<void> {
    if (this.mcp) {
      this.mcp.reconfigure(config.mcp);
      return;
    }
    if (!config.mcp) return;
    // Loaded only with MCP configured (see src/mcp/entry.ts).
    const { McpThread } = await import('../mcp/host-thread.js');
    this.mcp = new McpThread(config.mcp, config.server.logLevel, MCP_START_WAIT_MS, this.logger);
  }

  /** Ends every process at once (an operator's deliberate second signal). */
  kill(): void {
    for (const member of this.members) member.child.kill('SIGKILL');
    void this.mcp?.close();
  }

  /** The pids of the processes running now (tests, logs). */
  pids(): number[] {
    return [...this.members].map((member) => member.child.pid!).filter(Boolean);
  }

  /**
   * Re-reads the config; when it is valid, replaces the processes one at a time: start the new one, wait until it
   * is ready, then drain the old one. A new process that fails ends the rollout; the old ones keep serving.
   * `lastSlot`: the slot whose process asked (`POST /api/reload`), replaced last so that it can still answer.
   */
  async reload(lastSlot: number | null = null, beforeLast?: (outcome: ReloadOutcome) => void): Promise<ReloadOutcome> {
    if (this.stopping) return { ok: false, code: 'RELOAD_UNAVAILABLE', message: 'the gateway is shutting down' };
    if (this.reloading) return { ok: false, code: 'RELOAD_UNAVAILABLE', message: 'a reload is already running; try again when it ends' };
    this.reloading = true;
    try {
      let config: GatewayConfig;
      try {
        config = await this.options.loadConfig();
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        // The same lines as at start, so the operator reads the mistake where they read it before.
        process.stderr.write(`heimdall: ${error.message}\n`);
        this.logger.error({ problems: error.message }, 'config reload refused: the config has mistakes; the running processes keep serving');
        return { ok: false, code: 'CONFIG_INVALID', message: error.message };
      }
      this.logger.info({ source: config.source, processes: config.processes.count }, 'config reload: replacing processes one at a time');
      if (!migratesPendingConnections()) {
        this.logger.info('net.ipv4.tcp_migrate_req is 0: Linux resets the few connections still waiting to be accepted by a '
          + 'process when it stops listening; set it to 1 (Linux 5.14 or later) so they go to the other processes');
      }
      for (const warning of config.warnings) this.logger.warn(warning);
      await this.configureMcp(config);
      const outcome = await this.rollOut(config, lastSlot, beforeLast);
      if (outcome.ok) this.logger.info({ processes: outcome.processes }, 'config reloaded');
      return outcome;
    } finally {
      this.reloading = false;
    }
  }

  private async rollOut(config: GatewayConfig, lastSlot: number | null, beforeLast?: (outcome: ReloadOutcome) => void): Promise<ReloadOutcome> {
    const target = config.processes.count;
    while (this.slots.length < target) this.slots.push({ id: this.slots.length + 1, current: null, restarts: 0, streak: 0, restartTimer: null });
    const surplus = this.slots.splice(target);
    const order = [...this.slots].sort((a, b) => Number(a.id === lastSlot) - Number(b.id === lastSlot));
    const done: ReloadOutcome = { ok: true, processes: target };
    for (const slot of order) {
      if (this.stopping) return { ok: false, code: 'RELOAD_UNAVAILABLE', message: 'the gateway began shutting down during the reload' };
      const old = slot.current;
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
      const fresh = this.launch(slot, config);
      try {
        await fresh.ready;
      } catch (error) {
        slot.current = old && !old.retired && old.child.exitCode === null ? old : null;
        if (!slot.current) this.scheduleRestart(slot, 'has no process: its replacement failed during a reload');
        this.slots.push(...surplus);
        const message = `a process with the new config did not start: ${(error as Error).message}; the running processes keep serving`;
        this.logger.error({ process: slot.id }, message);
        return { ok: false, code: 'RELOAD_FAILED', message };
      }
      if (slot.id === lastSlot) beforeLast?.(done);
      if (old) this.retire(old);
    }
    this.config = config;
    for (const slot of surplus) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      if (slot.id === lastSlot) beforeLast?.(done);
      if (slot.current) this.retire(slot.current);
    }
    this.broadcastProcesses();
    return done;
  }

  private launch(slot: Slot, config: GatewayConfig, trial = true): Member {
    const child = fork(CHILD_FILE, [], { serialization: 'advanced', stdio: 'inherit' });
    let settle!: { resolve: (port: number) => void; reject: (error: Error) => void };
    const ready = new Promise<number>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Not every caller awaits it (a restart): a failure is logged where the process's exit is handled.
    ready.catch(() => undefined);
    const member: Member = { child, slot: slot.id, state: 'starting', readyAt: null, retired: false, trial, detachLeases: null, ready };
    this.members.add(member);
    slot.current = member;
    let failure: string | null = null;
    const startTimer = setTimeout(() => {
      failure = `not ready within ${START_TIMEOUT_MS / 1000} s`;
      child.kill('SIGKILL');
    }, START_TIMEOUT_MS);
    const ledger = this.options.ledger;
    if (ledger) {
      const handlers: ((message: unknown) => void)[] = [];
      child.on('message', (message) => {
        if (kindOf(message) === 'lease') for (const handler of handlers) handler(message);
      });
      const childId = String(child.pid);
      ledger.attach(childId, {
        send: (message) => {
          if (child.connected) child.send(message as object);
        },
        onMessage: (handler) => handlers.push(handler),
      });
      member.detachLeases = () => ledger.detach(childId);
    }
    {
      const childId = String(child.pid);
      const handlers: ((message: unknown) => void)[] = [];
      child.on('message', (message) => {
        if (kindOf(message) === 'governance') for (const handler of handlers) handler(message);
      });
      this.governance.attach(childId, {
        send: (message) => {
          if (child.connected) child.send(message as object);
        },
        onMessage: (handler) => handlers.push(handler),
      });
      child.once('exit', () => this.governance.detach(childId));
    }
    const mcp = this.mcp;
    if (mcp) {
      // The process's MCP messages go to its channel on the MCP thread, and the thread's answers back to it.
      const childId = String(child.pid);
      const channel = mcp.channel(childId);
      child.on('message', (message) => {
        if (kindOf(message) === 'mcp') channel.send(message);
      });
      channel.onMessage((message) => {
        if (child.connected) child.send(message as object);
      });
      child.once('exit', () => mcp.detach(childId));
    }
    child.on('message', (message: FromChild) => {
      switch (kindOf(message)) {
        case 'ready':
          clearTimeout(startTimer);
          if (member.retired) return;
          member.state = 'ready';
          member.readyAt = performance.now();
          settle.resolve((message as Extract<FromChild, { heimdall: 'ready' }>).port);
          this.broadcastProcesses();
          break;
        case 'failed':
          failure = (message as Extract<FromChild, { heimdall: 'failed' }>).message;
          break;
        case 'reload':
          void this.answerReload(member, (message as Extract<FromChild, { heimdall: 'reload' }>).id);
          break;
        case 'metrics':
          void this.answerMetrics(member, (message as Extract<FromChild, { heimdall: 'metrics' }>).id);
          break;
        case 'metrics-snapshot': {
          const { id, snapshot } = message as Extract<FromChild, { heimdall: 'metrics-snapshot' }>;
          this.snapshotWaits.get(id)?.(snapshot);
          break;
        }
        default:
          break;
      }
    });
    child.on('error', (error) => this.logger.error({ process: slot.id, err: error }, 'process channel error'));
    child.once('exit', (code, signal) => {
      clearTimeout(startTimer);
      this.members.delete(member);
      member.detachLeases?.();
      const wasReady = member.state === 'ready';
      const upFor = member.readyAt === null ? 0 : performance.now() - member.readyAt;
      member.state = 'draining';
      const how = signal ? `signal ${signal}` : `code ${code}`;
      settle.reject(new ChildStartError(failure ?? `could not start: a gateway process exited with ${how} before it was ready`));
      if (slot.current === member) slot.current = null;
      this.broadcastProcesses();
      this.checkAllExited();
      if (member.retired || this.stopping) {
        this.logger.debug({ process: slot.id, pid: child.pid, code, signal }, 'process exited');
        return;
      }
      if (!this.slots.includes(slot) || slot.current || (member.trial && !wasReady)) return;
      if (upFor >= STABLE_MS) slot.streak = 0;
      const why = wasReady ? `died with ${how} while serving` : `died with ${how} before it was ready${failure ? ` (${failure})` : ''}`;
      this.scheduleRestart(slot, why, { pid: child.pid, code, signal });
    });
    const start: ToChild = { heimdall: 'start', config, slot: slot.id, port: this.port, clusterMetrics: Boolean(this.options.renderMetrics) };
    child.send(start);
    return member;
  }

  private scheduleRestart(slot: Slot, why: string,
    exit: { pid?: number; code?: number | null; signal?: NodeJS.Signals | null } = {}): void {
    if (this.stopping || slot.restartTimer) return;
    const delay = Math.min(RESTART_CAP_MS, RESTART_BASE_MS * 2 ** slot.streak);
    slot.streak++;
    slot.restarts++;
    const level = slot.streak > 3 ? 'error' : 'warn';
    this.logger[level]({ process: slot.id, ...exit, restartInMs: delay, attempt: slot.streak },
      `process ${slot.id}${exit.pid ? ` (pid ${exit.pid})` : ''} ${why}: restarting it in ${(delay / 1000).toFixed(2)} s${slot.streak > 1
        ? ` (attempt ${slot.streak}; retried at most every ${RESTART_CAP_MS / 1000} s while it keeps failing; the others keep serving)` : ''}`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.stopping || slot.current || !this.slots.includes(slot)) return;
      const member = this.launch(slot, this.config, false);
      member.ready.then(() => this.logger.info({ process: slot.id, pid: member.child.pid }, `process ${slot.id} replaced and serving`),
        () => undefined);
    }, delay);
  }

  private retire(member: Member): void {
    if (member.retired) return;
    member.retired = true;
    member.state = 'draining';
    // While the others keep serving (a reload), its kept-alive clients are moved over to them before it drains.
    if (member.child.connected) member.child.send({ heimdall: 'stop', handOver: !this.stopping } satisfies ToChild);
    else member.child.kill('SIGTERM');
    this.broadcastProcesses();
  }

  private checkAllExited(): void {
    if (this.allExited && this.members.size === 0) {
      const resolve = this.allExited;
      this.allExited = null;
      resolve();
    }
  }

  private up(): number {
    return [...this.members].filter((member) => member.state === 'ready' && !member.retired).length;
  }

  private broadcastProcesses(): void {
    const message: ToChild = { heimdall: 'processes', up: this.up(), configured: this.slots.length };
    for (const member of this.members) {
      if (member.child.connected) member.child.send(message);
    }
  }

  private async answerReload(member: Member, id: number): Promise<void> {
    let answered = false;
    const answer = (outcome: ReloadOutcome) => {
      if (answered) return;
      answered = true;
      if (member.child.connected) member.child.send({ heimdall: 'reload-result', id, outcome } satisfies ToChild);
    };
    answer(await this.reload(member.slot, answer));
  }

  private async answerMetrics(member: Member, id: number): Promise<void> {
    const reply = (text: string | null, error: string | null) => {
      if (member.child.connected) member.child.send({ heimdall: 'metrics-text', id, text, error } satisfies ToChild);
    };
    if (!this.options.renderMetrics) {
      reply(null, 'cluster metrics are not available');
      return;
    }
    const live = [...this.members].filter((m) => m.state === 'ready' && m.child.connected);
    const snapshots = (await Promise.all(live.map((m) => this.snapshotOf(m)))).filter((s) => s !== null);
    const restarts = Object.fromEntries(this.slots.map((slot) => [String(slot.id), slot.restarts]));
    try {
      reply(await this.options.renderMetrics(snapshots, { processes: this.up(), restarts }), null);
    } catch (error) {
      this.logger.error({ err: error }, 'cluster metrics could not be rendered');
      reply(null, (error as Error).message);
    }
  }

  /** One process's metrics, or null when it does not answer in time (the scrape answers without it). */
  private snapshotOf(member: Member): Promise<MetricsSnapshot | null> {
    const id = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.snapshotWaits.delete(id);
        this.logger.warn({ process: member.slot }, 'a process did not send its metrics in time: the scrape leaves it out');
        resolve(null);
      }, SNAPSHOT_TIMEOUT_MS);
      this.snapshotWaits.set(id, (snapshot) => {
        clearTimeout(timer);
        this.snapshotWaits.delete(id);
        resolve(snapshot);
      });
      member.child.send({ heimdall: 'metrics-snapshot-request', id } satisfies ToChild);
    });
  }
}

/** Whether the kernel hands a closing SO_REUSEPORT listener's pending connections to another (Linux ≥ 5.14). */
function migratesPendingConnections(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Binds the port exclusively for a moment: fails as a single process would when something already listens; for
 * port 0, the port the system picked.
 */
async function freePort(host: string, port: number): Promise<number> {
  const probed = await probePort(host, port);
  if (probed instanceof ListenError) throw new ChildStartError(`could not start: ${probed.message}`);
  return probed;
}
