// What the supervisor and its gateway processes say to each other over the IPC channel. Every message carries a
// `heimdall` field naming its kind, so that features sharing the channel (the limits' leases: `heimdall: 'lease'`)
// never mix with these.
import type { GatewayConfig } from '../config/types.js';
import type { ReloadOutcome } from '../gateway.js';
import type { MetricsSnapshot } from '../observability/cluster-metrics.js';

/** Supervisor → gateway process. */
export type ToChild =
  /** The config, already validated by the supervisor, and the port (resolved when `--port 0`). */
  | { heimdall: 'start'; config: GatewayConfig; slot: number; port: number; clusterMetrics: boolean }
  | { heimdall: 'processes'; up: number; configured: number }
  /** `handOver`: the others keep serving the port, so kept-alive clients are moved over to them first. */
  | { heimdall: 'stop'; handOver: boolean }
  | { heimdall: 'reload-result'; id: number; outcome: ReloadOutcome }
  | { heimdall: 'metrics-text'; id: number; text: string | null; error: string | null }
  | { heimdall: 'metrics-snapshot-request'; id: number };

/** Gateway process → supervisor. */
export type FromChild =
  | { heimdall: 'ready'; port: number }
  /** It could not start; `message` is what a single process would print before exiting 2. */
  | { heimdall: 'failed'; message: string }
  | { heimdall: 'reload'; id: number }
  | { heimdall: 'metrics'; id: number }
  | { heimdall: 'metrics-snapshot'; id: number; snapshot: MetricsSnapshot | null };

/** The transport the limits feature's lease client and ledger talk over: one per gateway process. */
export type { LeaseTransport } from '../contract/lease-messages.js';

export function kindOf(message: unknown): string | null {
  if (typeof message !== 'object' || message === null) return null;
  const kind = (message as { heimdall?: unknown }).heimdall;
  return typeof kind === 'string' ? kind : null;
}
