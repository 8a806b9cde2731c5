// The MCP connections on a thread of their own. The SDK parses, validates and copies every message on the thread its
// client runs on: measured (bench/mcp-loop.ts), a 100 KB tool result costs that thread ~10 ms and a 1 MB one ~80 ms,
// which on the front thread would stall every request in flight. Here they cost the front only the copy of the
// result's text. The thread serves channels (McpHost's protocol, src/mcp/remote.ts): the front's own in a single
// process; one per gateway process when the supervisor of a cluster runs it.
//
// Parent → thread: { channel, message } (a channel's message), or { control: 'attach' | 'detach', channel },
// { control: 'reconfigure', config }, { control: 'close' }. Thread → parent: { channel, message }, { control: 'closed' }.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { McpConfig } from '../config/types.js';
import { createLogger } from '../observability/logger.js';
import { McpConnections } from './connections.js';
import { McpHost, type McpTransport } from './remote.js';

type ToThread =
  | { channel: string; message: unknown }
  | { control: 'attach' | 'detach'; channel: string }
  | { control: 'reconfigure'; config: McpConfig | null }
  | { control: 'close' };

type FromThread = { channel: string; message: unknown } | { control: 'closed' };

interface ThreadData {
  readonly config: McpConfig;
  readonly logLevel: string;
  readonly startWaitMs: number;
}

/** The parent's handle on the MCP thread. */
export class McpThread {
  readonly #worker: Worker;
  readonly #handlers = new Map<string, ((message: unknown) => void)[]>();
  #closed: Promise<void> | null = null;

  constructor(config: McpConfig, logLevel: string, startWaitMs: number, logger: Logger) {
    this.#worker = new Worker(new URL(import.meta.url), { workerData: { config, logLevel, startWaitMs } satisfies ThreadData });
    this.#worker.on('message', (raw: FromThread) => {
      if ('channel' in raw) for (const handler of this.#handlers.get(raw.channel) ?? []) handler(raw.message);
    });
    // A bug on the MCP thread must not take the gateway down: its tools stop answering (callers time out), and the
    // log says why.
    this.#worker.on('error', (error) => logger.error({ err: error }, 'the MCP thread failed; MCP tools are unavailable until restart'));
  }

  /** A channel to the connections (the front's, or a gateway process's): its first message is the current view. */
  channel(id: string): McpTransport {
    this.#handlers.set(id, []);
    this.#post({ control: 'attach', channel: id });
    return {
      send: (message) => this.#post({ channel: id, message }),
      onMessage: (handler) => this.#handlers.get(id)?.push(handler),
    };
  }

  detach(id: string): void {
    this.#handlers.delete(id);
    this.#post({ control: 'detach', channel: id });
  }

  reconfigure(config: McpConfig | null): void {
    this.#post({ control: 'reconfigure', config });
  }

  /** Closes every connection (stdio servers stopped), then the thread. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.#worker.on('message', (raw: FromThread) => {
        if ('control' in raw && raw.control === 'closed') {
          clearTimeout(timer);
          resolve();
        }
      });
      this.#worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#post({ control: 'close' });
    }).then(() => this.#worker.terminate()).then(() => undefined);
    return this.#closed;
  }

  #post(message: ToThread): void {
    this.#worker.postMessage(message);
  }
}

async function serve(data: ThreadData): Promise<void> {
  const port = parentPort!;
  const connections = new McpConnections(data.config, createLogger(data.logLevel));
  const host = new McpHost(connections);
  const channels = new Map<string, ((message: unknown) => void)[]>();
  // Messages wait in the port until the first connection attempts are over, so the first view has the tools.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([connections.start(), new Promise<void>((resolve) => {
    timer = setTimeout(resolve, data.startWaitMs);
  })]);
  clearTimeout(timer);
  port.on('message', (raw: ToThread) => {
    if ('channel' in raw && 'message' in raw) {
      for (const handler of channels.get(raw.channel) ?? []) handler(raw.message);
      return;
    }
    if (!('control' in raw)) return;
    switch (raw.control) {
      case 'attach': {
        const id = raw.channel;
        const handlers: ((message: unknown) => void)[] = [];
        channels.set(id, handlers);
        host.attach(id, { send: (message) => port.postMessage({ channel: id, message } satisfies FromThread), onMessage: (h) => handlers.push(h) });
        break;
      }
      case 'detach':
        channels.delete(raw.channel);
        host.detach(raw.channel);
        break;
      case 'reconfigure':
        void connections.reconfigure(raw.config);
        break;
      case 'close':
        void connections.close().then(() => port.postMessage({ control: 'closed' } satisfies FromThread));
        break;
    }
  });
}

if (!isMainThread && (workerData as ThreadData | null)?.config) void serve(workerData as ThreadData);
