// Test MCP servers over HTTP, on port 0, written with the SDK: streamable HTTP through `createMcpHandler` (stateless,
// as a serverless deployment runs it), and the older HTTP+SSE transport (GET /sse for the event stream, POST
// /messages?sessionId= for requests), which the SDK's v2 server no longer ships: its transport is the few lines below,
// under the SDK's own McpServer.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpHandler, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';
import { buildToolServer } from './tools.js';

export interface FakeMcpServer {
  readonly url: string;
  /** Requests (HTTP) or connections (SSE) received so far; `headers` of the last one. */
  readonly seen: { requests: number; headers: Record<string, string | string[] | undefined> };
  /** Drops every open connection and stops listening (a server that went down). */
  close(): Promise<void>;
  /** Streamable HTTP only: `false` holds every request unanswered (a hung server), `true` answers them and the next. */
  answer?(yes: boolean): void;
}

async function listen(server: HttpServer, path: string, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

function closer(server: HttpServer): () => Promise<void> {
  return () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Streamable HTTP at `/mcp`. `port`: listen there (a server coming back up on the same URL). */
export async function startStreamableServer(name = 'http-fake', port = 0): Promise<FakeMcpServer> {
  const handler = createMcpHandler(() => buildToolServer(name));
  const seen: FakeMcpServer['seen'] = { requests: 0, headers: {} };
  let held: (() => void)[] | null = null;
  const server = createServer((req, res) => {
    seen.requests++;
    seen.headers = req.headers;
    void (async () => {
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      if (held) await new Promise<void>((resolve) => held!.push(resolve));
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(key, value);
      const response = await handler.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (!response.body) {
        res.end();
        return;
      }
      for await (const chunk of response.body) res.write(chunk);
      res.end();
    })().catch(() => res.destroy());
  });
  const answer = (yes: boolean) => {
    const waiting = held;
    held = yes ? null : held ?? [];
    if (yes) for (const resolve of waiting ?? []) resolve();
  };
  return { url: await listen(server, '/mcp', port), seen, close: closer(server), answer };
}

/** The server's side of one SSE connection. */
class SseServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly sessionId = randomUUID();
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
    res.on('close', () => this.onclose?.());
  }

  async start(): Promise<void> {
    this.#res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.#res.write(`event: endpoint\ndata: /messages?sessionId=${this.sessionId}\n\n`);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.#res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  async close(): Promise<void> {
    this.#res.end();
  }
}

/** HTTP+SSE at `/sse` (events) and `/messages` (requests). */
export async function startSseServer(name = 'sse-fake'): Promise<FakeMcpServer> {
  const sessions = new Map<string, SseServerTransport>();
  const seen: FakeMcpServer['seen'] = { requests: 0, headers: {} };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/sse') {
      seen.requests++;
      seen.headers = req.headers;
      const transport = new SseServerTransport(res);
      sessions.set(transport.sessionId, transport);
      res.on('close', () => sessions.delete(transport.sessionId));
      void buildToolServer(name).connect(transport);
      return;
    }
    const transport = url.pathname === '/messages' ? sessions.get(url.searchParams.get('sessionId') ?? '') : undefined;
    if (req.method !== 'POST' || !transport) {
      res.writeHead(404).end();
      return;
    }
    void readBody(req).then((body) => {
      res.writeHead(202).end('Accepted');
      transport.onmessage?.(JSON.parse(body.toString('utf8')) as JSONRPCMessage);
    });
  });
  return { url: await listen(server, '/sse'), seen, close: closer(server) };
}
