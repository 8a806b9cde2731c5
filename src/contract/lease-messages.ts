// The lease protocol between a gateway child (LeaseClient, src/dispatch/leases.ts) and the primary's ledger
// (src/supervisor/ledger.ts). Every message carries `heimdall: 'lease'`, so it can share the process IPC channel
// with the supervisor's own messages: whoever reads the channel routes on that field.

export const LEASE_TAG = 'lease';

/**
 * What a counter is: `limit` units at once gateway-wide (slots in flight, places in a queue); or, with `windowMs`,
 * `limit` units per window (requests per minute, tokens per day): units taken in a window are consumed, given back
 * only as a refund within it, and every window starts from zero. Windows are aligned to the epoch (`Date.now()`
 * divided by `windowMs`), so every process agrees on where one ends.
 */
export interface CounterSpec {
  name: string;
  limit: number;
  windowMs?: number;
}

export type ChildToLedger =
  /** Creates the counter, or sets its limit (a reloaded child brings the new config). */
  | { heimdall: typeof LEASE_TAG; type: 'define'; counter: string; limit: number; windowMs?: number }
  /**
   * Asks for `amount` more units. With `wait` the ledger answers once at least one unit is free (in FIFO order
   * among waiting children); without, it answers at once, with 0 if nothing is free.
   */
  | { heimdall: typeof LEASE_TAG; type: 'acquire'; id: number; counter: string; amount: number; wait: boolean }
  /**
   * Gives units back: done with them, or holding more than it needs. `window` is the window they were leased in
   * (0 for a counter without windows): units of a window that ended are void, and giving them back changes nothing.
   */
  | { heimdall: typeof LEASE_TAG; type: 'release'; counter: string; amount: number; window: number };

export type LedgerToChild =
  /** The answer to `acquire` number `id`: `amount` units (≥ 1 for a waiting ask; 0 = refused for one that did not wait). */
  | { heimdall: typeof LEASE_TAG; type: 'grant'; id: number; counter: string; amount: number; window: number }
  /** A windowed counter's new window began: every unit leased before is void, and the count starts from zero. */
  | { heimdall: typeof LEASE_TAG; type: 'window'; counter: string; window: number }
  /**
   * Another child waits for this counter (`on`), or no one does any more. While on, a child gives back every unit
   * it does not use and takes none it has not asked the ledger for, so the ledger's FIFO decides who gets the next.
   */
  | { heimdall: typeof LEASE_TAG; type: 'contended'; counter: string; on: boolean };

/** The process channel both ends speak over: `process.send`/`process.on('message')`, a ChildProcess, a test pipe. */
export interface LeaseTransport {
  send(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

export function isLeaseMessage(message: unknown): message is { heimdall: typeof LEASE_TAG; type: string } {
  return typeof message === 'object' && message !== null && (message as { heimdall?: unknown }).heimdall === LEASE_TAG;
}

/** Anything with node's IPC shape: `process` in a child, a `ChildProcess` or cluster `Worker` in the primary. */
export interface IpcEndpoint {
  send?(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * The lease protocol over a node IPC channel (fork or cluster). It may share the channel with other messages: the
 * lease ends ignore whatever lacks `heimdall: 'lease'`. A send on a channel that closed is dropped, since the
 * other end is gone and its leases are reclaimed by `detach`.
 */
export function ipcTransport(endpoint: IpcEndpoint): LeaseTransport {
  return {
    send(message) {
      if (!endpoint.send) throw new Error('this process has no IPC channel (was it started with fork or cluster?)');
      try {
        endpoint.send(message);
      } catch {
        // ERR_IPC_CHANNEL_CLOSED: the peer is gone.
      }
    },
    onMessage(handler) {
      endpoint.on('message', handler);
    },
  };
}
