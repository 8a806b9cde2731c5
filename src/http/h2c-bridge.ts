// HTTP/2 in cleartext with prior knowledge (h2c) on a port of its own, for clients that speak nothing else to an
// `http://` endpoint: the AWS SDK's Bedrock Runtime client, whose default Node handler is NodeHttp2Handler.
// uWebSockets.js speaks HTTP/1.1 only and owns its listening socket (there is no way to hand it a connection that
// turned out not to be HTTP/2), so the h2c port is a node:http2 server whose streams are sent on, one HTTP/1.1
// request each over kept-alive loopback connections, to the gateway's own port: every route, limit, metric and log
// line is the HTTP/1.1 server's, and nothing is written twice. What it costs is measured in bench/h2c.ts
// (docs/http2.md has the figures).
//
// The admin API (`/api/…`) is not served here: its loopback-only default trusts the peer address, and behind this
// bridge every client would look like loopback.

import {
  createServer, constants, type Http2Server, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream,
} from 'node:http2';
import type { Logger } from 'pino';
import { Pool, type Dispatcher } from 'undici';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import { formatAddress, ListenError, probePort } from './port-probe.js';

export interface H2cBridgeOptions {
  readonly host: string;
  /** The h2c port; 0 for any free one. */
  readonly port: number;
  /** The gateway's HTTP/1.1 port on this machine. */
  readonly targetPort: number;
  /** Where that port listens: the gateway's host, loopback when it listens on every address. */
  readonly targetHost: string;
  /** `client.max_request_body_size_mb` in bytes: a bigger body is refused here, before it is held in memory. */
  readonly maxBodyBytes: number;
  readonly logger: Logger;
}

export interface H2cBridge {
  readonly port: number;
  /** Stops accepting connections and asks every session to finish (GOAWAY); resolves when the last one closed. */
  close(): Promise<void>;
}

// Hop-by-hop headers, which HTTP/2 forbids in a response (RFC 9113 §8.2.2).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** The HTTP/1.1 request's headers: the client's, with `:authority` as `host`. */
function requestHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined || HOP_BY_HOP.has(name) || name === 'te') continue;
    out[name] = value;
  }
  const authority = headers[':authority'];
  if (authority) out.host = authority;
  return out;
}

/** The HTTP/2 response's headers from undici's raw list (name, value, name, value…), repeated names as arrays. */
function responseHeaders(status: number, rawHeaders: Buffer[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { [constants.HTTP2_HEADER_STATUS]: status };
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toString('latin1').toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const value = rawHeaders[i + 1].toString('latin1');
    const before = out[name];
    out[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [String(before), value];
  }
  return out;
}

function refuseAdmin(stream: ServerHttp2Stream): void {
  const error = errorData('UNKNOWN_ROUTE', 'the admin API (/api/…) is not served on the h2c port: call it on the HTTP/1.1 port');
  const body = openAIErrorBody(error);
  stream.respond({ [constants.HTTP2_HEADER_STATUS]: statusOf(error), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  stream.end(body);
}

/** The gateway's own 413, answered by the bridge: the body is not read further, and the stream is closed after it. */
function tooLarge(stream: ServerHttp2Stream, limit: number): void {
  const error = errorData('BODY_TOO_LARGE', `the body is larger than ${limit} bytes (client.max_request_body_size_mb)`);
  stream.respond({ [constants.HTTP2_HEADER_STATUS]: statusOf(error), 'content-type': 'application/json' });
  stream.end(openAIErrorBody(error));
  stream.close(constants.NGHTTP2_NO_ERROR);
}

/**
 * One stream's exchange with the gateway's port, as undici's dispatch handler: no promise, AbortSignal or body stream
 * per request (undici's `request()` makes all three), and undici's own pause and resume for backpressure. In the
 * callbacks undici 7's HTTP/1 client calls itself, as workers/upstream/call.ts does.
 */
class Relay implements Dispatcher.DispatchHandler {
  readonly #stream: ServerHttp2Stream;
  readonly #head: boolean;
  readonly #logger: Logger;
  #abort: ((error: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  /** The whole answer was relayed: the stream's close is its normal end, not the client going away. */
  #done = false;

  constructor(stream: ServerHttp2Stream, head: boolean, logger: Logger) {
    this.#stream = stream;
    this.#head = head;
    this.#logger = logger;
    // A client that resets its stream cancels the gateway's request, as a closed HTTP/1.1 connection does.
    stream.once('close', () => {
      if (!this.#done) this.#abort?.(new Error('the h2c client closed its stream'));
    });
    stream.on('drain', () => this.#resume?.());
  }

  onConnect(abort: (error: Error) => void): void {
    this.#abort = abort;
    if (this.#stream.destroyed) abort(new Error('the h2c client closed its stream'));
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#resume = resume;
    if (this.#stream.destroyed) return false;
    this.#stream.respond(responseHeaders(status, rawHeaders), { endStream: this.#head });
    return true;
  }

  onData(chunk: Buffer): boolean {
    // False while the client's stream is backed up: undici stops reading the gateway until `drain` resumes it.
    return this.#head || this.#stream.destroyed || this.#stream.write(chunk);
  }

  onComplete(): void {
    this.#done = true;
    if (!this.#head && !this.#stream.destroyed) this.#stream.end();
  }

  onError(error: Error): void {
    if (this.#done || this.#stream.destroyed) return;
    this.#done = true;
    if (this.#stream.headersSent) {
      this.#stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    this.#logger.warn({ err: error }, 'h2c bridge: the gateway port did not answer');
    const failure = errorData('INTERNAL', 'the gateway could not be reached from the h2c port', { status: 502 });
    this.#stream.respond({ [constants.HTTP2_HEADER_STATUS]: 502, 'content-type': 'application/json' });
    this.#stream.end(openAIErrorBody(failure));
  }
}

export function startH2cBridge(options: H2cBridgeOptions): Promise<H2cBridge> {
  const host = options.targetHost.includes(':') ? `[${options.targetHost}]` : options.targetHost;
  const target = new Pool(`http://${host}:${options.targetPort}`, { keepAliveTimeout: 30_000, connect: { timeout: 5_000 } });
  const server: Http2Server = createServer();
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const method = String(headers[':method'] ?? 'GET');
    const path = String(headers[':path'] ?? '/');
    if (path === '/api' || path.startsWith('/api/') || path.startsWith('/api?')) {
      refuseAdmin(stream);
      return;
    }
    if (method === 'GET' || method === 'HEAD' || stream.readableEnded) {
      forward(stream, method, path, headers, null);
      return;
    }
    // Read whole before it is sent on: bodies are small, and one write with its length is cheaper for both servers
    // than a chunked stream (the gateway's size limit still applies there).
    const parts: Buffer[] = [];
    let size = 0;
    stream.on('data', (part: Buffer) => {
      size += part.length;
      if (size > options.maxBodyBytes) {
        if (!stream.headersSent) tooLarge(stream, options.maxBodyBytes);
        return;
      }
      parts.push(part);
    });
    stream.on('end', () => {
      if (size <= options.maxBodyBytes) forward(stream, method, path, headers, parts.length === 1 ? parts[0] : Buffer.concat(parts));
    });
  });

  /** One stream's request, sent on to the gateway's port; its answer relayed back with backpressure both ways. */
  const forward = (stream: ServerHttp2Stream, method: string, path: string, headers: IncomingHttpHeaders, body: Buffer | null) => {
    if (stream.destroyed) return;
    const sent = requestHeaders(headers);
    if (body !== null) sent['content-length'] = String(body.length);
    target.dispatch({ method: method as Dispatcher.HttpMethod, path, headers: sent, body }, new Relay(stream, method === 'HEAD', options.logger));
  };

  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      void target.close();
      void probePort(options.host, options.port).then((probed) => reject(probed instanceof ListenError ? probed
        : new ListenError(formatAddress(options.host, options.port), error.code ?? 'UNKNOWN', error.message)));
    });
    server.listen(options.port, options.host, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : options.port,
        close: async () => {
          const closed = new Promise<void>((done) => server.close(() => done()));
          for (const session of sessions) session.close();
          await closed;
          await target.close();
        },
      });
    });
  });
}

