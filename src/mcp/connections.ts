// The gateway's connections to its MCP servers, one per `mcp.client_configs[]` entry, through the SDK's client
// transports (stdio, streamable HTTP, SSE). Whoever owns them (the gateway process, or the supervisor of a cluster:
// docs/mcp.md) is the only process that talks to the servers; the request path sees their tools through
// `McpToolCatalog`, which reads this `view` and calls `call`.
//
// A server that is down does not stop the gateway: it is retried with backoff, and its state shows in /health and
// the metrics. Tools are listed on connect, on `notifications/tools/list_changed` and every sync interval; a ping
// notices a connection that died quietly. stdio servers are child processes, stopped by `close()` and `reconfigure`.

import { Client, ProtocolError, SdkError, SSEClientTransport, StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Logger } from 'pino';
import type { McpClientConfig, McpConfig } from '../config/types.js';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, gatewayErrorOf } from '../errors/gateway-error.js';
import { VERSION } from '../version.js';

/** A tool as its server lists it. */
export interface ServerTool {
  readonly tool: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

export type McpClientState = 'connecting' | 'connected' | 'disconnected';

/** One client's state and tools, as plain data (it crosses to a cluster's gateway processes). */
export interface McpClientView {
  readonly name: string;
  readonly state: McpClientState;
  readonly tools: readonly ServerTool[];
  /** Why the last connection attempt or connection failed; null while connected. */
  readonly lastError: string | null;
  /** Connections made after the first (reconnects). */
  readonly reconnects: number;
}

export interface McpView {
  /** Bumped on every change of any client's state or tools. */
  readonly version: number;
  readonly clients: readonly McpClientView[];
}

/** What a tool call came to on the server: its text and whether the tool reported an error. */
export interface RawToolResult {
  readonly content: string;
  readonly isError: boolean;
}

/** The owner's side as the request path needs it: a local `McpConnections`, or a cluster child's remote view of it. */
export interface McpOwner {
  view(): McpView;
  onChange(listener: (view: McpView) => void): void;
  /** Rejects with a GatewayError: server down (503), lost mid-call (502), past `timeoutMs` (504, cancelled). */
  call(client: string, tool: string, args: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<RawToolResult>;
  close(): Promise<void>;
}

/** Reconnect delays: doubling from the first to the cap; a connection that stayed up a minute starts over. */
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_CAP_MS = 30_000;
const STABLE_MS = 60_000;
/** How long connecting, listing or pinging may take before the attempt counts as failed. */
const HANDSHAKE_TIMEOUT_MS = 15_000;

/** How often a connected server is pinged (`is_ping_available`), and how long its answer may take. */
export interface PingTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}
const DEFAULT_PING: PingTiming = { intervalMs: 30_000, timeoutMs: HANDSHAKE_TIMEOUT_MS };

export class McpConnections implements McpOwner {
  readonly #logger: Logger;
  readonly #connections = new Map<string, Connection>();
  readonly #listeners: ((view: McpView) => void)[] = [];
  #version = 0;
  #view: McpView = { version: 0, clients: [] };

  readonly #ping: PingTiming;

  /** `ping`: the default's half a minute is long for a test to wait out. */
  constructor(config: McpConfig, logger: Logger, ping: PingTiming = DEFAULT_PING) {
    this.#logger = logger.child({ component: 'mcp' });
    this.#ping = ping;
    for (const client of config.clients) this.#connections.set(client.name, this.#connection(client));
    this.#changed();
  }

  #connection(client: McpClientConfig): Connection {
    return new Connection(client, this.#logger, () => this.#changed(), this.#ping);
  }

  /** Connects every client; resolves once each has connected or failed its first attempt (then retries on its own). */
  start(): Promise<void> {
    return Promise.all([...this.#connections.values()].map((c) => c.start())).then(() => undefined);
  }

  view(): McpView {
    return this.#view;
  }

  onChange(listener: (view: McpView) => void): void {
    this.#listeners.push(listener);
  }

  call(client: string, tool: string, args: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<RawToolResult> {
    const connection = this.#connections.get(client);
    if (!connection) return Promise.reject(gatewayErrorOf(errorData('MCP_UNKNOWN_TOOL', `no MCP client '${client}'`)));
    return connection.call(tool, args, timeoutMs, signal);
  }

  /**
   * A reloaded config: clients whose settings changed are closed (a stdio server's process stopped) and connected
   * anew, removed ones closed, new ones connected; unchanged ones keep their connection.
   */
  async reconfigure(config: McpConfig | null): Promise<void> {
    const wanted = new Map((config?.clients ?? []).map((c) => [c.name, c]));
    const closing: Promise<void>[] = [];
    for (const [name, connection] of this.#connections) {
      const next = wanted.get(name);
      if (next && sameSettings(next, connection.config)) {
        wanted.delete(name);
        continue;
      }
      this.#connections.delete(name);
      closing.push(connection.close());
    }
    await Promise.all(closing);
    const started: Promise<void>[] = [];
    for (const client of wanted.values()) {
      const connection = this.#connection(client);
      this.#connections.set(client.name, connection);
      started.push(connection.start());
    }
    this.#changed();
    await Promise.all(started);
  }

  async close(): Promise<void> {
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(all.map((c) => c.close()));
    this.#changed();
  }

  #changed(): void {
    this.#view = { version: ++this.#version, clients: [...this.#connections.values()].map((c) => c.view()) };
    for (const listener of this.#listeners) listener(this.#view);
  }
}

function sameSettings(a: McpClientConfig, b: McpClientConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One MCP server: its client, its reconnect loop, its timers. */
class Connection {
  readonly config: McpClientConfig;
  readonly #logger: Logger;
  readonly #onChange: () => void;
  #client: Client | null = null;
  #state: McpClientState = 'connecting';
  #tools: readonly ServerTool[] = [];
  #lastError: string | null = null;
  #connects = 0;
  #failures = 0;
  #connectedAt = 0;
  #closed = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #syncTimer: NodeJS.Timeout | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  readonly #pingTiming: PingTiming;

  constructor(config: McpClientConfig, logger: Logger, onChange: () => void, ping: PingTiming) {
    this.config = config;
    this.#logger = logger.child({ mcpClient: config.name });
    this.#onChange = onChange;
    this.#pingTiming = ping;
  }

  view(): McpClientView {
    return { name: this.config.name, state: this.#state, tools: this.#tools, lastError: this.#lastError,
      reconnects: Math.max(0, this.#connects - 1) };
  }

  start(): Promise<void> {
    return this.#connect();
  }

  async #connect(): Promise<void> {
    this.#retryTimer = null;
    if (this.#closed) return;
    const client = new Client({ name: 'heimdall', version: VERSION }, { capabilities: {} });
    let transport: Transport;
    try {
      transport = this.#transport();
      await client.connect(transport, { timeout: HANDSHAKE_TIMEOUT_MS });
      if (this.#closed) {
        await client.close();
        return;
      }
      this.#client = client;
      client.setNotificationHandler('notifications/tools/list_changed', () => void this.#sync('list_changed'));
      client.onclose = () => this.#lost(client, 'the connection closed');
      client.onerror = (error) => this.#logger.debug({ err: error }, 'MCP transport error');
      await this.#listTools(client);
    } catch (error) {
      // Let go first: closing fires `onclose`, which must not count as losing a connection that was never up.
      if (this.#client === client) this.#client = null;
      await client.close().catch(() => undefined);
      this.#fail(`could not connect: ${describe(error)}`);
      return;
    }
    this.#connects++;
    this.#connectedAt = performance.now();
    this.#state = 'connected';
    this.#lastError = null;
    this.#logger.info({ tools: this.#tools.length, reconnects: this.#connects - 1 }, 'MCP server connected');
    this.#onChange();
    if (this.config.syncIntervalMs > 0) {
      this.#syncTimer = setInterval(() => void this.#sync('interval'), this.config.syncIntervalMs);
      this.#syncTimer.unref();
    }
    if (this.config.ping) {
      this.#pingTimer = setInterval(() => void this.#ping(client), this.#pingTiming.intervalMs);
      this.#pingTimer.unref();
    }
  }

  #transport(): Transport {
    const { config } = this;
    const requestInit = { headers: { ...config.headers } };
    switch (config.connectionType) {
      case 'stdio': {
        const transport = new StdioClientTransport({ command: config.command!, args: [...config.args],
          env: { ...getDefaultEnvironment(), ...config.env }, stderr: 'pipe' });
        // The server's own diagnostics, one log line each, with its name.
        transport.stderr?.on('data', (chunk: Buffer) => {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.#logger.info({ stderr: line.trimEnd() }, 'MCP server stderr');
        });
        return transport;
      }
      case 'http':
        return new StreamableHTTPClientTransport(new URL(config.url!), { requestInit });
      case 'sse':
        return new SSEClientTransport(new URL(config.url!), { requestInit });
    }
  }

  async #listTools(client: Client): Promise<void> {
    const tools: ServerTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: HANDSHAKE_TIMEOUT_MS });
      for (const tool of page.tools) {
        tools.push({ tool: tool.name, description: tool.description ?? '', inputSchema: tool.inputSchema as Record<string, unknown> });
      }
      cursor = page.nextCursor;
    } while (cursor);
    this.#tools = tools;
  }

  async #sync(why: string): Promise<void> {
    const client = this.#client;
    if (!client || this.#state !== 'connected') return;
    const before = JSON.stringify(this.#tools);
    try {
      await this.#listTools(client);
    } catch (error) {
      this.#logger.warn({ err: describe(error), why }, 'listing the MCP server\'s tools failed');
      return;
    }
    if (JSON.stringify(this.#tools) === before) return;
    this.#logger.info({ tools: this.#tools.length, why }, 'the MCP server\'s tool list changed');
    this.#onChange();
  }

  async #ping(client: Client): Promise<void> {
    try {
      await client.ping({ timeout: this.#pingTiming.timeoutMs });
    } catch (error) {
      this.#lost(client, `ping failed: ${describe(error)}`);
    }
  }

  /** The connection died (process exited, stream closed, ping unanswered): reconnect with backoff. */
  #lost(client: Client, why: string): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#stopTimers();
    void client.close().catch(() => undefined);
    if (this.#closed) return;
    if (performance.now() - this.#connectedAt >= STABLE_MS) this.#failures = 0;
    this.#fail(why);
  }

  #fail(why: string): void {
    if (this.#closed) return;
    this.#state = 'disconnected';
    this.#lastError = why;
    const delay = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** this.#failures++);
    this.#logger.warn({ reason: why, retryInMs: delay }, 'MCP server unavailable; retrying');
    this.#onChange();
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }

  async call(tool: string, args: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<RawToolResult> {
    const client = this.#client;
    if (!client || this.#state !== 'connected') {
      throw gatewayErrorOf(errorData('MCP_SERVER_UNAVAILABLE', `MCP server '${this.config.name}' is not connected`
        + (this.#lastError ? ` (${this.#lastError})` : '')));
    }
    try {
      // On timeout or abort the SDK sends the server `notifications/cancelled` for this call.
      const result = await client.callTool({ name: tool, arguments: args }, { timeout: timeoutMs, signal });
      return toolResult(result as { content?: unknown[]; structuredContent?: unknown; isError?: boolean });
    } catch (error) {
      throw gatewayErrorOf(callFailure(error, this.config.name, tool, timeoutMs, signal));
    }
  }

  #stopTimers(): void {
    if (this.#syncTimer) clearInterval(this.#syncTimer);
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#syncTimer = this.#pingTimer = null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#stopTimers();
    const client = this.#client;
    this.#client = null;
    this.#state = 'disconnected';
    this.#lastError = 'closed';
    // For stdio the SDK ends stdin, then SIGTERM, then SIGKILL: the server process is gone when this resolves.
    await client?.close().catch(() => undefined);
  }
}

function callFailure(error: unknown, client: string, tool: string, timeoutMs: number, signal?: AbortSignal): ErrorData {
  if (signal?.aborted) return errorData('CLIENT_CLOSED', `the call of ${client}_${tool} was cancelled`);
  if (error instanceof SdkError && error.code === 'REQUEST_TIMEOUT') {
    return errorData('MCP_TOOL_TIMEOUT', `${client}_${tool} did not answer within ${timeoutMs / 1000} s `
      + '(client.mcp_tool_execution_timeout); the call was cancelled on the server');
  }
  if (error instanceof ProtocolError) {
    // The server does not know the tool (its list changed since it was last listed) or refused the arguments.
    if (error.code === -32602 && /not found/i.test(error.message)) {
      return errorData('MCP_UNKNOWN_TOOL', `MCP server '${client}' has no tool '${tool}': ${error.message}`);
    }
    if (error.code === -32602) return errorData('MCP_INVALID_ARGUMENTS', `${client}_${tool}: ${error.message}`);
    return errorData('MCP_SERVER_FAILED', `MCP server '${client}' answered ${tool} with an error: ${error.message}`);
  }
  return errorData('MCP_SERVER_FAILED', `MCP server '${client}' failed during ${tool}: ${describe(error)}`);
}

/** The tool's content as the text a `role: tool` message carries: text parts joined, other parts as JSON. */
export function toolResult(result: { content?: unknown[]; structuredContent?: unknown; isError?: boolean }): RawToolResult {
  const parts: string[] = [];
  for (const item of result.content ?? []) {
    const part = item as { type?: string; text?: unknown };
    parts.push(part.type === 'text' && typeof part.text === 'string' ? part.text : JSON.stringify(item));
  }
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent));
  return { content: parts.join('\n'), isError: result.isError === true };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
