// The only code that touches uWebSockets.js. It copies what a request carries into plain data, reads bodies
// within the size limit, and hands requests to the route handlers; it records the per-route metrics and writes the
// access log line when each response is complete.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { App, us_listen_socket_close, us_socket_local_port, type HttpRequest, type HttpResponse, type TemplatedApp,
  type us_listen_socket } from 'uWebSockets.js';
import { writeAccessLine } from '../observability/access-log.js';
import { loggedDialectOf, requestLogRecord } from '../observability/request-log.js';
import type { LogSink } from '../stores/log-record.js';
import type { HttpMetrics } from '../observability/http-metrics.js';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import type { AdminConfig } from '../config/types.js';
import { adminCheck, adminRealm, guardAdminRoutes } from './admin-guard.js';
import { corsPolicy, type CorsPolicy } from './cors.js';
import { formatAddress, ListenError, probePort } from './port-probe.js';
import { UwsResponseSink, type ResponseSink } from './response.js';

export interface IncomingRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Header names in lower case, as uWebSockets.js gives them. */
  readonly headers: Readonly<Record<string, string>>;
  readonly requestId: string;
  /** `performance.now()` when the request arrived. */
  readonly receivedAt: number;
  readonly body: Buffer | null;
  /** The client's IP address as text, read only for routes that ask for it (`Route.remoteAddress`). */
  readonly remoteAddress?: string;
}

/** An IncomingRequest whose body is still being read. */
type ReadingRequest = IncomingRequest & { body: Buffer | null };

export type RouteHandler = (request: IncomingRequest, response: ResponseSink) => void;

/** How a route's API writes an error: its body, and headers some clients read the error's type from. */
export interface ErrorShape {
  readonly errorBody: (error: ErrorData) => string;
  readonly errorHeaders?: (error: ErrorData) => Record<string, string>;
}

/**
 * A path prefix where another API than OpenAI's is spoken (`/anthropic`): an unknown path or method under it is
 * answered in that API's error shape, so the client's SDK raises its own not-found error.
 */
export interface NativePrefix extends ErrorShape {
  /** `/anthropic`; also the metrics' route label of the unknown paths it answers. */
  readonly prefix: string;
  /** Appended to the message of an unknown route: what the prefix does serve. */
  readonly served?: string;
}

export interface Route {
  readonly method: 'get' | 'post' | 'put' | 'delete';
  /** A uWebSockets.js pattern: `/v1/models`, `/genai/v1beta/models/*`. */
  readonly path: string;
  /**
   * The metrics' and access log's route label when it is not the path as a template (`/v1/models/{id}`,
   * `/bedrock/model/{modelId}/converse`).
   */
  readonly label?: string;
  /** The label per request, for a route that serves several operations (GenAI's `models/{model}:action`). */
  readonly labelOf?: (path: string) => string;
  /** The error body in the route's own API shape (OpenAI's when absent), for a body too large. */
  readonly errorBody?: (error: ErrorData) => string;
  /** Headers that go with `errorBody`'s body. */
  readonly errorHeaders?: (error: ErrorData) => Record<string, string>;
  readonly readBody: boolean;
  /** Fill `IncomingRequest.remoteAddress` (admin routes that only loopback clients may call). */
  readonly remoteAddress?: boolean;
  readonly handler: RouteHandler;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Listen with SO_REUSEPORT, so that several processes accept on one port and the kernel splits connections
   * between them. Only for a cluster of Heimdall's own processes; off, a port already taken is an error.
   */
  readonly sharePort?: boolean;
  /** `client.allowed_origins`: browser origins that may call the API (`*`: any); empty: no CORS headers at all. */
  readonly allowedOrigins?: readonly string[];
  readonly maxBodyBytes: number;
  /** The setting `maxBodyBytes` comes from, named in the 413's message; `client.max_request_body_size_mb` by default. */
  readonly maxBodySetting?: string;
  /** Every route under `/api/` is behind the admin guard (src/http/admin-guard.ts). */
  readonly routes: readonly Route[];
  /** Who may call `/api/*`; absent, loopback clients only. */
  readonly admin?: AdminConfig;
  readonly nativePrefixes?: readonly NativePrefix[];
  readonly metrics: HttpMetrics;
  /** Where access log lines go; null when `client.access_log` is off. */
  readonly accessLog: Logger | null;
  /** Where the request log's records go (requests the pipeline marked, `AccessRecord.dialect`); null when it is off. */
  readonly requestLog?: LogSink | null;
}

export interface HttpServer {
  readonly port: number;
  /** Stops accepting connections; requests in progress go on. */
  stopListening(): void;
  /**
   * Stops accepting, and closes each kept-alive connection after its next response, so that its client reconnects
   * to another process on the shared port rather than find this one gone.
   */
  handOver(): void;
  /** Closes every connection at once. */
  closeAll(): void;
}

// A caller's request id is echoed in a response header, so only a plain token is accepted.
const REQUEST_ID = /^[A-Za-z0-9._:@\-]{1,128}$/;

function requestIdFrom(req: HttpRequest): string {
  const given = req.getHeader('x-request-id');
  return given && REQUEST_ID.test(given) ? given : timeOrderedUuid(Date.now());
}

/**
 * A UUID version 7 (RFC 9562): the milliseconds since the epoch, then random bits. Ids made in time order are
 * appended to the request log's id index; random ones (version 4) land anywhere in it, and each such row rewrote a
 * page of it (bench/README.md, "Request log").
 */
export function timeOrderedUuid(nowMs: number): string {
  // randomUUID's version-4 layout already carries the variant bits; only the time and the version digit change.
  const random = randomUUID();
  const time = nowMs.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}

/** A route's path as a metrics label: uWebSockets.js's `:param` and `*` written as `{param}` and `{id}`. */
export function routeLabelOf(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*/g, '{id}');
}

function copyHeaders(req: HttpRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  req.forEach((name, value) => {
    headers[name] = value;
  });
  return headers;
}

export function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app: TemplatedApp = App();
  const metrics = options.metrics;
  const accessLog = options.accessLog;
  const requestLog = options.requestLog ?? null;
  const routed = new Set<string>();
  let handingOver = false;

  /** Called once per request when its response is complete or the client left: one function for every route. */
  const finish = (sink: UwsResponseSink) => {
    const latencyMs = performance.now() - sink.receivedAt;
    const access = sink.access;
    if (access.afterResponse) {
      const after = access.afterResponse;
      access.afterResponse = null;
      after(sink.status);
    }
    metrics.record(access, sink.status, latencyMs / 1000);
    access.trace?.end(sink.status, metrics.methods.values[access.methodIndex], metrics.routes.values[access.routeIndex], access.errorCode,
      sink.receivedAt + latencyMs);
    const logged = requestLog !== null && access.dialect !== '';
    if (!accessLog && !logged) return;
    const line = { route: metrics.routes.values[access.routeIndex], method: metrics.methods.values[access.methodIndex],
      status: sink.status, requestId: sink.requestId, latencyMs };
    if (accessLog) writeAccessLine(accessLog, line, access);
    if (logged) requestLog.push(requestLogRecord(access, line, sink.receivedAt));
  };
  const labelled = metrics.custom.length > 0;
  const nativePrefixes = options.nativePrefixes ?? [];
  const cors = corsPolicy(options.allowedOrigins ?? []);
  /**
   * A response for a request just arrived: labelled for the metrics while `req` may still be read, its abort handler
   * registered, and the headers every answer to it carries.
   */
  const openSink = (res: HttpResponse, req: HttpRequest, routeIndex: number, methodIndex: number): UwsResponseSink => {
    const sink = new UwsResponseSink(res, requestIdFrom(req), performance.now(), finish);
    if (handingOver) sink.closeConnection = true;
    // Registered first: uWebSockets.js forbids touching `res` after an abort, and the body read is async.
    res.onAborted(abortHandler(sink));
    const access = sink.access;
    access.routeIndex = routeIndex;
    access.methodIndex = methodIndex;
    if (labelled) access.customIndex = metrics.customIndex((name) => req.getHeader(name));
    if (cors) sink.sharedHeaders = cors.responseHeaders(req.getHeader('origin') || undefined);
    return sink;
  };
  /**
   * Every request no route takes: a preflight (OPTIONS, on any path), or an unknown path or method in the shape of
   * `shape`.
   */
  const answerUnrouted = (res: HttpResponse, req: HttpRequest, routeIndex: number, shape: ErrorShape,
    code: 'UNKNOWN_ROUTE' | 'METHOD_NOT_ALLOWED', served?: string) => {
    // Not getMethod(): it lower-cases the method in place, and the error message quotes it as sent.
    const sent = req.getCaseSensitiveMethod();
    const method = sent.toLowerCase();
    if (method === 'options') {
      const sink = openSink(res, req, routeIndex, metrics.methodIndex(sent));
      // The preflight's own headers say all a preflight may: the response headers would repeat the origin.
      sink.sharedHeaders = null;
      answerPreflight(req, sink, cors);
      return;
    }
    const sink = openSink(res, req, routeIndex, metrics.methodIndex(sent));
    sink.headOnly = method === 'head';
    const error = errorData(code, code === 'UNKNOWN_ROUTE'
      ? `no route for ${sent} ${req.getUrl()}${served ? `: ${served}` : ''}`
      : `${sent} is not allowed on ${req.getUrl()}`);
    sink.access.errorCode = error.code.toLowerCase();
    sink.json(statusOf(error), shape.errorBody(error), shape.errorHeaders?.(error));
  };
  /** A route's error shape: its own, else its native prefix's, else OpenAI's. */
  const shapeOf = (route: Route): ErrorShape => route.errorBody
    ? { errorBody: route.errorBody, errorHeaders: route.errorHeaders }
    : nativePrefixes.find(({ prefix }) => route.path.startsWith(`${prefix}/`)) ?? OPENAI_SHAPE;

  const bodyLimit: BodyLimit = { bytes: options.maxBodyBytes, setting: options.maxBodySetting ?? 'client.max_request_body_size_mb' };
  const admin = options.admin ?? NO_ADMIN_CREDENTIALS;
  for (const route of guardAdminRoutes(options.routes, adminCheck(admin), adminRealm(admin))) {
    const shape = shapeOf(route);
    const routeIndex = metrics.routes.indexOf(route.label ?? routeLabelOf(route.path));
    const labelOf = route.labelOf;
    const method = route.method.toUpperCase();
    const logDialect = loggedDialectOf(route.handler);
    const serve = (methodIndex: number, headOnly: boolean) => (res: HttpResponse, req: HttpRequest) => {
      const path = req.getUrl();
      const sink = openSink(res, req, labelOf ? metrics.routes.indexOf(labelOf(path)) : routeIndex, methodIndex);
      sink.headOnly = headOnly;
      // Marked before the body is read: a request refused on its way to the handler is recorded too.
      if (logDialect) sink.access.dialect = logDialect;
      const incoming: ReadingRequest = {
        method,
        path,
        query: req.getQuery() ?? '',
        headers: copyHeaders(req),
        requestId: sink.requestId,
        receivedAt: sink.receivedAt,
        body: null,
        ...(route.remoteAddress ? { remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString() } : {}),
      };
      if (!route.readBody) route.handler(incoming, sink);
      else readBody(res, sink, incoming, bodyLimit, shape, route.handler);
    };
    // uWebSockets.js names DELETE's registration `del`.
    app[route.method === 'delete' ? 'del' : route.method](route.path, serve(metrics.methodIndex(method), false));
    // HTTP asks every GET resource to answer HEAD: the GET's headers, no body (probes and monitors send it).
    if (route.method === 'get') app.head(route.path, serve(metrics.methodIndex('HEAD'), true));
    if (!routed.has(route.path)) {
      routed.add(route.path);
      app.any(route.path, (res, req) => answerUnrouted(res, req, routeIndex, shape, 'METHOD_NOT_ALLOWED'));
    }
  }
  // Before the catch-all: a path under a native prefix is answered in that API's shape.
  for (const native of nativePrefixes) {
    const routeIndex = metrics.routes.indexOf(native.prefix);
    for (const path of [native.prefix, `${native.prefix}/*`]) {
      app.any(path, (res, req) => answerUnrouted(res, req, routeIndex, native, 'UNKNOWN_ROUTE', native.served));
    }
  }
  const otherIndex = metrics.routes.otherIndex;
  app.any('/*', (res, req) => answerUnrouted(res, req, otherIndex, OPENAI_SHAPE, 'UNKNOWN_ROUTE'));

  return new Promise((resolve, reject) => {
    // The options argument exists natively but is missing from the typings' four-argument overload.
    const listen = app.listen as unknown as (host: string, port: number, flags: number,
      callback: (socket: us_listen_socket | false) => void) => TemplatedApp;
    listen.call(app, options.host, options.port, options.sharePort ? LISTEN_DEFAULT : LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (!socket) {
        void listenFailure(options.host, options.port).then(reject);
        return;
      }
      let listening = true;
      resolve({
        port: us_socket_local_port(socket),
        stopListening: () => {
          // Closing a listen socket twice is undefined behaviour in uSockets.
          if (listening) us_listen_socket_close(socket);
          listening = false;
        },
        handOver: () => {
          if (listening) us_listen_socket_close(socket);
          listening = false;
          handingOver = true;
        },
        closeAll: () => app.close(),
      });
    });
  });
}

// uSockets' listen flags (LIBUS_LISTEN_*). Linux's SO_REUSEPORT, which the default sets, lets a second process bind
// a port that is in use and take half of its connections; exclusive refuses to share and fails instead.
const LISTEN_DEFAULT = 0;
const LISTEN_EXCLUSIVE_PORT = 1;

/**
 * uWebSockets.js says only that listening failed: the system's reason comes from binding the same address once with
 * node:net. Free again means whoever held it let go in between, or uWebSockets.js failed for a reason the probe
 * cannot see.
 */
async function listenFailure(host: string, port: number): Promise<ListenError> {
  const probed = await probePort(host, port);
  return probed instanceof ListenError ? probed
    : new ListenError(formatAddress(host, port), 'UNKNOWN', 'the port could not be bound; it is free now, so try again');
}

const NO_ADMIN_CREDENTIALS: AdminConfig = Object.freeze({ basic: null, bearerToken: null });

const OPENAI_SHAPE: ErrorShape = Object.freeze({ errorBody: (error: ErrorData): string => openAIErrorBody(error) });

/**
 * A CORS preflight: 204 with what the origin may send when it is allowed; without CORS headers when it is not (or
 * when no origin is), which the browser takes as a refusal. A plain OPTIONS learns the methods from `Allow`.
 */
function answerPreflight(req: HttpRequest, sink: UwsResponseSink, cors: CorsPolicy | null): void {
  const preflight = cors?.preflightHeaders(req.getHeader('origin') || undefined,
    req.getHeader('access-control-request-headers') || undefined);
  sink.noContent(204, { allow: 'GET, POST, HEAD, OPTIONS', ...preflight });
}

/**
 * The abort handler in a scope of its own: a closure keeps its whole scope alive, and uWebSockets.js keeps this one
 * for as long as the request is open, which for a slow provider is seconds of other state surviving garbage
 * collections.
 */
function abortHandler(sink: UwsResponseSink): () => void {
  return () => sink.markAborted();
}

interface BodyLimit {
  readonly bytes: number;
  readonly setting: string;
}

/** How far past its limit a body is still read (and dropped) so that its sender gets the 413 (readBody). */
const DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * Reads the body, then hands the request to `handler`. Once it has, the data callback (which uWebSockets.js may keep
 * until the response ends) lets go of the request and the chunks, so only what the pipeline keeps stays alive.
 *
 * A body in one chunk is copied once, as it comes. A body in several is copied into one buffer of the length the
 * request declared, as each chunk comes: the body is in memory once, not once in parts and again joined. Only a
 * body without a length (chunked) is gathered in parts and joined at its end.
 */
function readBody(res: HttpResponse, sink: UwsResponseSink, request: ReadingRequest, limit: BodyLimit,
  shape: ErrorShape, handler: RouteHandler): void {
  const tooLarge = (cutOff: boolean) => {
    const error = errorData('BODY_TOO_LARGE', `the body is larger than ${limit.bytes} bytes (${limit.setting})`);
    sink.access.errorCode = error.code.toLowerCase();
    if (cutOff) sink.jsonAndClose(statusOf(error), shape.errorBody(error), shape.errorHeaders?.(error));
    else sink.json(statusOf(error), shape.errorBody(error), shape.errorHeaders?.(error));
  };
  const contentLength = request.headers['content-length'];
  const declared = contentLength === undefined ? -1 : Number(contentLength);
  // A body over the limit is read to its end and dropped before the 413, up to DRAIN_BYTES more: a client answered
  // and disconnected while it is still sending sees its write fail (a reset) before it reads the answer, so it
  // reports a broken connection instead of the 413. Past that, it is answered at once and the connection closed.
  const drainUntil = limit.bytes + DRAIN_BYTES;
  if (declared > drainUntil) {
    tooLarge(true);
    return;
  }
  if (declared > limit.bytes) {
    res.onData((_chunk, isLast) => {
      if (isLast) tooLarge(false);
    });
    return;
  }
  let whole: Buffer | null = null;
  let parts: Buffer[] | null = null;
  let size = 0;
  let refused = false;
  let pending: ReadingRequest | null = request;
  res.onData((chunk, isLast) => {
    if (sink.aborted || !pending) return;
    const at = size;
    size += chunk.byteLength;
    if (refused || size > limit.bytes) {
      // Over the limit: nothing more is kept (what was is let go), the rest is read and dropped as above.
      if (!refused) {
        refused = true;
        whole = null;
        parts = null;
      }
      if (isLast || size > drainUntil) {
        pending = null;
        tooLarge(!isLast);
      }
      return;
    }
    // The chunk's memory belongs to uWebSockets.js and is reused after this callback: copy it.
    let body: Buffer;
    if (isLast && at === 0) {
      body = Buffer.copyBytesFrom(new Uint8Array(chunk));
    } else {
      if (at === 0 && Number.isSafeInteger(declared) && declared >= size) whole = Buffer.allocUnsafeSlow(declared);
      if (whole && size <= whole.length) {
        whole.set(new Uint8Array(chunk), at);
      } else {
        // More than the declared length (uWebSockets.js frames by it, so never expected): gather the rest in parts.
        if (whole) parts = [whole.subarray(0, at)];
        whole = null;
        (parts ??= []).push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      }
      if (!isLast) return;
      body = whole ? whole.subarray(0, size) : Buffer.concat(parts!, size);
    }
    const complete = pending;
    complete.body = body;
    pending = null;
    parts = null;
    whole = null;
    handler(complete, sink);
  });
}
