// The only code that touches uWebSockets.js. It copies what a request carries into plain data, reads bodies
// within the size limit, and hands requests to the route handlers; it records the per-route metrics and writes the
// access log line when each response is complete.

import { randomUUID } from 'node:crypto';
import { App, us_listen_socket_close, us_socket_local_port, type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { writeAccessLine } from '../observability/access-log.js';
import type { HttpMetrics } from '../observability/http-metrics.js';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
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
  readonly method: 'get' | 'post';
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
  readonly handler: RouteHandler;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  readonly routes: readonly Route[];
  readonly nativePrefixes?: readonly NativePrefix[];
  readonly metrics: HttpMetrics;
  /** Where access log lines go; null when `client.access_log` is off. */
  readonly accessLog: Logger | null;
}

export interface HttpServer {
  readonly port: number;
  /** Stops accepting connections; requests in progress go on. */
  stopListening(): void;
  /** Closes every connection at once. */
  closeAll(): void;
}

// A caller's request id is echoed in a response header, so only a plain token is accepted.
const REQUEST_ID = /^[A-Za-z0-9._:@\-]{1,128}$/;

function requestIdFrom(req: HttpRequest): string {
  const given = req.getHeader('x-request-id');
  return given && REQUEST_ID.test(given) ? given : randomUUID();
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
  const routed = new Set<string>();

  /** Called once per request when its response is complete or the client left: one function for every route. */
  const finish = (sink: UwsResponseSink) => {
    const latencyMs = performance.now() - sink.receivedAt;
    const access = sink.access;
    metrics.record(access, sink.status, latencyMs / 1000);
    if (accessLog) {
      writeAccessLine(accessLog, { route: metrics.routes.values[access.routeIndex],
        method: metrics.methods.values[access.methodIndex], status: sink.status, requestId: sink.requestId, latencyMs }, access);
    }
  };
  const labelled = metrics.custom.length > 0;
  /** A sink for a request just arrived, labelled for the metrics while `req` may still be read. */
  const newSink = (res: HttpResponse, req: HttpRequest, routeIndex: number, methodIndex: number): UwsResponseSink => {
    const sink = new UwsResponseSink(res, requestIdFrom(req), performance.now(), finish);
    const access = sink.access;
    access.routeIndex = routeIndex;
    access.methodIndex = methodIndex;
    if (labelled) access.customIndex = metrics.customIndex((name) => req.getHeader(name));
    return sink;
  };

  const nativePrefixes = options.nativePrefixes ?? [];
  const answerError = (res: HttpResponse, req: HttpRequest, routeIndex: number, shape: ErrorShape,
    code: 'UNKNOWN_ROUTE' | 'METHOD_NOT_ALLOWED', served?: string) => {
    const method = req.getCaseSensitiveMethod();
    const sink = newSink(res, req, routeIndex, metrics.methodIndex(method));
    res.onAborted(abortHandler(sink));
    const error = errorData(code, code === 'UNKNOWN_ROUTE'
      ? `no route for ${method} ${req.getUrl()}${served ? `: ${served}` : ''}`
      : `${method} is not allowed on ${req.getUrl()}`);
    sink.access.errorCode = error.code.toLowerCase();
    sink.json(statusOf(error), shape.errorBody(error), shape.errorHeaders?.(error));
  };
  /** A route's error shape: its own, else its native prefix's, else OpenAI's. */
  const shapeOf = (route: Route): ErrorShape => route.errorBody
    ? { errorBody: route.errorBody, errorHeaders: route.errorHeaders }
    : nativePrefixes.find(({ prefix }) => route.path.startsWith(`${prefix}/`)) ?? OPENAI_SHAPE;

  for (const route of options.routes) {
    const shape = shapeOf(route);
    const routeIndex = metrics.routes.indexOf(route.label ?? routeLabelOf(route.path));
    const labelOf = route.labelOf;
    const method = route.method.toUpperCase();
    const methodIndex = metrics.methodIndex(method);
    app[route.method](route.path, (res, req) => {
      const path = req.getUrl();
      const sink = newSink(res, req, labelOf ? metrics.routes.indexOf(labelOf(path)) : routeIndex, methodIndex);
      // Registered first: uWebSockets.js forbids touching `res` after an abort, and the body read is async.
      res.onAborted(abortHandler(sink));
      const incoming: ReadingRequest = {
        method,
        path,
        query: req.getQuery() ?? '',
        headers: copyHeaders(req),
        requestId: sink.requestId,
        receivedAt: sink.receivedAt,
        body: null,
      };
      if (!route.readBody) route.handler(incoming, sink);
      else readBody(res, sink, incoming, options.maxBodyBytes, shape, route.handler);
    });
    if (!routed.has(route.path)) {
      routed.add(route.path);
      app.any(route.path, (res, req) => answerError(res, req, routeIndex, shape, 'METHOD_NOT_ALLOWED'));
    }
  }
  // Before the catch-all: a path under a native prefix is answered in that API's shape.
  for (const native of nativePrefixes) {
    const routeIndex = metrics.routes.indexOf(native.prefix);
    for (const path of [native.prefix, `${native.prefix}/*`]) {
      app.any(path, (res, req) => answerError(res, req, routeIndex, native, 'UNKNOWN_ROUTE', native.served));
    }
  }
  const otherIndex = metrics.routes.otherIndex;
  app.any('/*', (res, req) => answerError(res, req, otherIndex, OPENAI_SHAPE, 'UNKNOWN_ROUTE'));

  return new Promise((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (!socket) {
        reject(new Error(`could not listen on ${options.host}:${options.port}`));
        return;
      }
      resolve({
        port: us_socket_local_port(socket),
        stopListening: () => us_listen_socket_close(socket),
        closeAll: () => app.close(),
      });
    });
  });
}

const OPENAI_SHAPE: ErrorShape = Object.freeze({ errorBody: (error: ErrorData): string => openAIErrorBody(error) });

/**
 * The abort handler in a scope of its own: a closure keeps its whole scope alive, and uWebSockets.js keeps this one
 * for as long as the request is open, which for a slow provider is seconds of other state surviving garbage
 * collections.
 */
function abortHandler(sink: UwsResponseSink): () => void {
  return () => sink.markAborted();
}

/**
 * Reads the body, then hands the request to `handler`. Once it has, the data callback (which uWebSockets.js may keep
 * until the response ends) lets go of the request and the chunks, so only what the pipeline keeps stays alive.
 */
function readBody(res: HttpResponse, sink: UwsResponseSink, request: ReadingRequest, limit: number,
  shape: ErrorShape, handler: RouteHandler): void {
  const tooLarge = () => {
    const error = errorData('BODY_TOO_LARGE', `the body is larger than ${limit} bytes (client.max_request_body_size_mb)`);
    sink.access.errorCode = error.code.toLowerCase();
    sink.jsonAndClose(statusOf(error), shape.errorBody(error), shape.errorHeaders?.(error));
  };
  const contentLength = request.headers['content-length'];
  if (contentLength !== undefined && Number(contentLength) > limit) {
    tooLarge();
    return;
  }
  let parts: Buffer[] | null = null;
  let size = 0;
  let refused = false;
  let pending: ReadingRequest | null = request;
  res.onData((chunk, isLast) => {
    if (refused || sink.aborted || !pending) return;
    size += chunk.byteLength;
    if (size > limit) {
      refused = true;
      tooLarge();
      return;
    }
    // The chunk's memory belongs to uWebSockets.js and is reused after this callback: copy it.
    const part = Buffer.copyBytesFrom(new Uint8Array(chunk));
    if (!isLast) {
      (parts ??= []).push(part);
      return;
    }
    const complete = pending;
    complete.body = parts ? Buffer.concat([...parts, part], size) : part;
    pending = null;
    parts = null;
    handler(complete, sink);
  });
}
