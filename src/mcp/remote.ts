// Cluster mode: the supervisor owns the MCP connections (one stdio server process for the whole gateway, not one per
// gateway process), and each gateway process sees them through this protocol over its IPC channel, tagged
// `heimdall: 'mcp'` like the leases are tagged 'lease'. The host pushes the view whenever it changes, so listing and
// injecting tools never waits on IPC; a tool call is one message each way, and a cancel when the caller gives up.

import type { ErrorData } from '../errors/error-data.js';
import { errorData, gatewayErrorOf, GatewayError } from '../errors/gateway-error.js';
import type { McpConnections, McpOwner, McpView, RawToolResult } from './connections.js';

export const MCP_TAG = 'mcp';

export type ToMcpHost =
  | { heimdall: typeof MCP_TAG; type: 'call'; id: number; client: string; tool: string; args: Record<string, unknown>; timeoutMs: number }
  | { heimdall: typeof MCP_TAG; type: 'cancel'; id: number };

export type FromMcpHost =
  | { heimdall: typeof MCP_TAG; type: 'view'; view: McpView }
  | { heimdall: typeof MCP_TAG; type: 'result'; id: number; result: RawToolResult }
  | { heimdall: typeof MCP_TAG; type: 'error'; id: number; error: ErrorData };

/** One end of a process's IPC channel: the child's `process`, or the supervisor's handle on the child. */
export interface McpTransport {
  send(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

export const isMcpMessage = (message: unknown): boolean =>
  typeof message === 'object' && message !== null && (message as { heimdall?: unknown }).heimdall === MCP_TAG;

/** The supervisor's side: serves every gateway process's calls on the one set of connections. */
export class McpHost {
  readonly #owner: McpConnections;
  readonly #children = new Map<string, { transport: McpTransport; calls: Map<number, AbortController> }>();

  constructor(owner: McpConnections) {
    this.#owner = owner;
    owner.onChange((view) => {
      for (const child of this.#children.values()) child.transport.send({ heimdall: MCP_TAG, type: 'view', view } satisfies FromMcpHost);
    });
  }

  attach(childId: string, transport: McpTransport): void {
    const calls = new Map<number, AbortController>();
    this.#children.set(childId, { transport, calls });
    transport.onMessage((raw) => {
      if (!isMcpMessage(raw)) return;
      const message = raw as ToMcpHost;
      if (message.type === 'cancel') {
        calls.get(message.id)?.abort();
        return;
      }
      if (message.type !== 'call') return;
      const abort = new AbortController();
      calls.set(message.id, abort);
      this.#owner.call(message.client, message.tool, message.args, message.timeoutMs, abort.signal).then(
        (result) => transport.send({ heimdall: MCP_TAG, type: 'result', id: message.id, result } satisfies FromMcpHost),
        (error: unknown) => transport.send({ heimdall: MCP_TAG, type: 'error', id: message.id,
          error: error instanceof GatewayError ? error.data : errorData('MCP_SERVER_FAILED', String(error)) } satisfies FromMcpHost),
      ).finally(() => calls.delete(message.id));
    });
    transport.send({ heimdall: MCP_TAG, type: 'view', view: this.#owner.view() } satisfies FromMcpHost);
  }

  /** The process is gone: its calls in flight are cancelled on the servers. */
  detach(childId: string): void {
    const child = this.#children.get(childId);
    this.#children.delete(childId);
    for (const abort of child?.calls.values() ?? []) abort.abort();
  }
}

/** How much longer than the tool's own timeout a gateway process waits for the host before giving up on it. */
const HOST_GRACE_MS = 5_000;

/** The request path's side: the connections on the MCP thread, or the supervisor's, as an McpOwner. */
export class RemoteMcpOwner implements McpOwner {
  readonly #transport: McpTransport;
  readonly #closeHost: () => Promise<void>;
  readonly #listeners: ((view: McpView) => void)[] = [];
  readonly #pending = new Map<number, { resolve: (result: RawToolResult) => void; reject: (error: Error) => void }>();
  #view: McpView = { version: 0, clients: [] };
  #nextId = 1;
  #firstView: Promise<void>;

  /** `closeHost`: stops the connections when they are this process's own (its MCP thread); not the supervisor's. */
  constructor(transport: McpTransport, closeHost: () => Promise<void> = () => Promise.resolve()) {
    this.#transport = transport;
    this.#closeHost = closeHost;
    let arrived!: () => void;
    this.#firstView = new Promise((resolve) => {
      arrived = resolve;
    });
    transport.onMessage((raw) => {
      if (!isMcpMessage(raw)) return;
      const message = raw as FromMcpHost;
      if (message.type === 'view') {
        this.#view = message.view;
        arrived();
        for (const listener of this.#listeners) listener(message.view);
        return;
      }
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.type === 'result') pending?.resolve(message.result);
      else pending?.reject(gatewayErrorOf(message.error));
    });
  }

  /** Resolves once the host sent its first view (at once when it is attached), so start-up sees the tools. */
  ready(): Promise<void> {
    return this.#firstView;
  }

  view(): McpView {
    return this.#view;
  }

  onChange(listener: (view: McpView) => void): void {
    this.#listeners.push(listener);
  }

  call(client: string, tool: string, args: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<RawToolResult> {
    const id = this.#nextId++;
    return new Promise<RawToolResult>((resolve, reject) => {
      const onAbort = () => this.#transport.send({ heimdall: MCP_TAG, type: 'cancel', id } satisfies ToMcpHost);
      // The host answers within the timeout; this only covers a host that stopped answering.
      const guard = setTimeout(() => {
        this.#pending.delete(id);
        onAbort();
        reject(new GatewayError('MCP_TOOL_TIMEOUT', `no answer from the supervisor's MCP connections within ${(timeoutMs + HOST_GRACE_MS) / 1000} s`));
      }, timeoutMs + HOST_GRACE_MS);
      const settle = () => {
        clearTimeout(guard);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#pending.set(id, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(signal?.aborted ? new GatewayError('CLIENT_CLOSED', 'the tool call was cancelled') : error);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#transport.send({ heimdall: MCP_TAG, type: 'call', id, client, tool, args, timeoutMs } satisfies ToMcpHost);
    });
  }

  async close(): Promise<void> {
    for (const pending of this.#pending.values()) pending.reject(new GatewayError('PROVIDER_SHUTTING_DOWN', 'the gateway is shutting down'));
    this.#pending.clear();
    await this.#closeHost();
  }
}
