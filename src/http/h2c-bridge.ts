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

import { createServer, constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
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

function responseHeaders(status: number, headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = { [constants.HTTP2_HEADER_STATUS]: status };
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
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

export function startH2cBridge(options: H2cBridgeOptions): Promise<H2cBridge> {
  const host = options.targetHost.includes(':') ? `[${options.targetHost}]` : options.targetHost;
  const target = new Pool(`http://${host}:${options.targetPort}`, { keepAliveTimeout: 30_000, connect: { timeout: 5_000 } });
  const server: Http2Server = createServer();
  const sessions = new Set<ServerHttp2Session>();
  /** Streams whose whole answer was relayed: their close is the normal end, not a client going away. */
  const answered = new WeakSet<ServerHttp2Stream>();
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
    const abort = new AbortController();
    // Only a stream closed before its answer ended is the client going away: aborting after a normal end would build
    // an AbortError for nothing (a tenth of the bridge's CPU in a profile).
    stream.on('close', () => {
      if (!answered.has(stream)) abort.abort();
    });
    if (method === 'GET' || method === 'HEAD' || stream.readableEnded) {
      forward(stream, method, path, headers, null, abort.signal);
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
      if (size <= options.maxBodyBytes) forward(stream, method, path, headers, parts.length === 1 ? parts[0] : Buffer.concat(parts), abort.signal);
    });
  });

  /** An answer body not read: undici reports destroying it unread as an error, which is expected here. */
  const discard = (body: Dispatcher.ResponseData['body']) => {
    body.on('error', () => {});
    body.destroy();
  };

  /** One stream's request, sent on to the gateway's port; its answer streamed back with backpressure both ways. */
  const forward = (stream: ServerHttp2Stream, method: string, path: string, headers: IncomingHttpHeaders, body: Buffer | null,
    signal: AbortSignal) => {
    const sent = requestHeaders(headers);
    if (body !== null) sent['content-length'] = String(body.length);
    target.request({ method: method as Dispatcher.HttpMethod, path, headers: sent, signal, body }).then((answer) => {
      if (stream.destroyed) {
        discard(answer.body);
        return;
      }
      stream.respond(responseHeaders(answer.statusCode, answer.headers), { endStream: method === 'HEAD' });
      if (method === 'HEAD') {
        answered.add(stream);
        discard(answer.body);
        return;
      }
      const source = answer.body;
      // A slow client slows the read from the gateway, which slows the provider.
      source.on('data', (chunk: Buffer) => {
        if (!stream.write(chunk)) source.pause();
      });
      stream.on('drain', () => source.resume());
      source.on('end', () => {
        answered.add(stream);
        stream.end();
      });
      source.on('error', () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    }).catch((error: unknown) => {
      if (signal.aborted) return;
      if (stream.headersSent) {
        stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      options.logger.warn({ err: error }, 'h2c bridge: the gateway port did not answer');
      const failure = errorData('INTERNAL', 'the gateway could not be reached from the h2c port', { status: 502 });
      stream.respond({ [constants.HTTP2_HEADER_STATUS]: 502, 'content-type': 'application/json' });
      stream.end(openAIErrorBody(failure));
    });
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

