// Bifrost's async inference: `POST /v1/async/<route>` (chat/completions, completions, responses, embeddings,
// audio/speech, audio/transcriptions, images/generations, images/edits, images/variations, rerank) takes the request
// the /v1 route takes, answers 202 with a job id at once, and runs it as that route would; `GET /v1/async/<route>/{id}`
// answers 202 while it runs, then the route's own answer (its status, content type and body) for
// `client.async_job_result_ttl` seconds (or the request's `x-bf-async-job-result-ttl`) from when it finished: counted
// from the submit, a job that ran longer than its TTL would be forgotten as it finished. Jobs live in the request log's
// store, so any process of a cluster answers a poll, and a restart keeps finished results. Streaming is refused: the
// answer is kept whole. A job still pending a day after its submit (or its TTL, if longer) is forgotten: its process
// stopped, since no request's deadline is that long.

import { randomUUID } from 'node:crypto';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import { AccessRecord } from '../observability/access-log.js';
import type { StoredAsyncJob } from '../stores/async-job-store.js';
import type { AbortListener, Headers, ResponseSink } from './response.js';
import type { IncomingRequest, Route, RouteHandler } from './server.js';

export const ASYNC_ROUTES = Object.freeze(['chat/completions', 'completions', 'responses', 'embeddings', 'audio/speech', 'audio/transcriptions',
  'images/generations', 'images/edits', 'images/variations', 'rerank']);

export interface AsyncJobStore {
  get(jobId: string): Promise<StoredAsyncJob | null>;
  put(job: StoredAsyncJob): Promise<void>;
}

const JOB_ID = /^job-[0-9a-f-]{36}$/;
const RESULT_TTL_HEADER = 'x-bf-async-job-result-ttl';
// A result is a whole answer in the store; a month bounds what one header can make it keep.
const MAX_RESULT_TTL_SECONDS = 30 * 24 * 3600;
const PENDING_LIFETIME_MS = 24 * 3600 * 1000;

/** The TTL the request asks for in seconds, the default without the header, or the error for a bad one. */
function resultTtlOf(request: IncomingRequest, fallback: number): number | ErrorData {
  const value = request.headers[RESULT_TTL_HEADER];
  if (value === undefined) return fallback;
  const digits = value.trim();
  const seconds = /^\d{1,10}$/.test(digits) ? Number(digits) : NaN;
  if (seconds >= 1 && seconds <= MAX_RESULT_TTL_SECONDS) return seconds;
  return errorData('INVALID_REQUEST', `${RESULT_TTL_HEADER} must be a whole number of seconds from 1 to ${MAX_RESULT_TTL_SECONDS}, `
    + `not '${value.slice(0, 40)}'`, { param: RESULT_TTL_HEADER });
}

/** Collects one answer of a route's handler, as the client would have got it. */
class CapturingSink implements ResponseSink {
  readonly access = new AccessRecord();
  readonly aborted = false;
  finished = false;
  streaming = false;
  #headers: Record<string, string> = {};
  #parts: Uint8Array[] = [];
  #status = 0;
  #contentType = 'application/json';

  constructor(readonly requestId: string, private readonly done: (status: number, contentType: string, body: Uint8Array) => void) {}

  onAbort(_listener: AbortListener): void {
    // Nobody waits on the socket: the job runs to its end.
  }

  batch(writes: () => void): void {
    // No socket to cork: the writes collect in memory as they come.
    writes();
  }

  addHeaders(headers: Headers): void {
    Object.assign(this.#headers, headers);
  }

  json(status: number, body: string, headers?: Headers): void {
    this.text(status, 'application/json', body, headers);
  }

  text(status: number, contentType: string, body: string | Uint8Array, headers?: Headers): void {
    if (this.finished) return;
    if (headers) this.addHeaders(headers);
    this.finished = true;
    this.done(status, contentType, typeof body === 'string' ? Buffer.from(body) : body);
  }

  startStream(headers?: Headers, contentType = 'text/event-stream; charset=utf-8', status = 200): void {
    if (headers) this.addHeaders(headers);
    this.streaming = true;
    this.#status = status;
    this.#contentType = contentType;
  }

  write(data: string | Uint8Array): boolean {
    this.#parts.push(typeof data === 'string' ? Buffer.from(data) : data);
    return true;
  }

  onWritable(listener: () => void): void {
    listener();
  }

  end(data?: string | Uint8Array): void {
    if (this.finished) return;
    if (data !== undefined) this.write(data);
    this.finished = true;
    this.done(this.#status || 200, this.#contentType, Buffer.concat(this.#parts));
  }

  breakOff(): void {
    // Only a passthrough stream breaks off, and no async route serves one; were one to, its answer is what arrived.
    this.end();
  }
}

function refuse(sink: ResponseSink, error: ErrorData): void {
  sink.access.errorCode = error.code.toLowerCase();
  sink.json(statusOf(error), openAIErrorBody(error));
}

const isStreamed = (request: IncomingRequest): boolean => {
  if (!request.body || !/json/i.test(request.headers['content-type'] ?? 'application/json')) return false;
  try {
    return (JSON.parse(request.body.toString('utf8')) as { stream?: unknown } | null)?.stream === true;
  } catch {
    // The route's own parse answers bad JSON, as the job's result.
    return false;
  }
};

/** The async routes over the /v1 routes' handlers; `store` null: no request log, and every call is refused. */
export function asyncJobRoutes(routes: readonly Route[], store: AsyncJobStore | null, ttlSeconds: number): Route[] {
  const noStore = () => errorData('UNSUPPORTED_CAPABILITY',
    'async jobs need the request log to keep their results: turn on client.enable_logging (or logs_store)');
  return ASYNC_ROUTES.flatMap((name): Route[] => {
    const route = routes.find((r) => r.method === 'post' && r.path === `/v1/${name}`);
    if (!route) return [];
    const submit: RouteHandler = (request, sink) => {
      if (!store) return refuse(sink, noStore());
      if (isStreamed(request)) {
        return refuse(sink, errorData('INVALID_REQUEST', "async jobs cannot stream: leave 'stream' out", { param: 'stream' }));
      }
      const ttl = resultTtlOf(request, ttlSeconds);
      if (typeof ttl !== 'number') return refuse(sink, ttl);
      const now = Date.now();
      const job = { id: `job-${randomUUID()}`, createdMs: now };
      const pendingUntil = now + Math.max(ttl * 1000, PENDING_LIFETIME_MS);
      store.put({ ...job, expiresMs: pendingUntil, status: 0, contentType: 'application/json', body: new Uint8Array(0) }).then(() => {
        sink.json(202, JSON.stringify({ job_id: job.id, status: 'pending', created_at: Math.floor(now / 1000),
          expires_at: Math.floor(pendingUntil / 1000) }));
        route.handler(request, new CapturingSink(request.requestId, (status, contentType, body) => {
          void store.put({ ...job, expiresMs: Date.now() + ttl * 1000, status, contentType, body }).catch(() => {
            // The store is down: the job stays pending until it expires; the request log says why.
          });
        }));
      }, (error: unknown) => refuse(sink, errorData('INTERNAL', `the job could not be stored: ${(error as Error).message}`, { status: 503 })));
    };
    const poll: RouteHandler = (request, sink) => {
      if (!store) return refuse(sink, noStore());
      const id = request.path.slice(`/v1/async/${name}/`.length);
      if (!JOB_ID.test(id)) return refuse(sink, errorData('RESOURCE_NOT_FOUND', `no async job '${id}'`, { param: 'job_id' }));
      store.get(id).then((job) => {
        if (!job) return refuse(sink, errorData('RESOURCE_NOT_FOUND', `no async job '${id}' (unknown, or its result expired)`, { param: 'job_id' }));
        if (job.status === 0) {
          sink.json(202, JSON.stringify({ job_id: id, status: 'pending', created_at: Math.floor(job.createdMs / 1000) }));
          return;
        }
        sink.text(job.status, job.contentType, job.body, { 'x-heimdall-async-job': id });
      }, (error: unknown) => refuse(sink, errorData('INTERNAL', `the job could not be read: ${(error as Error).message}`, { status: 503 })));
    };
    return [
      { method: 'post', path: `/v1/async/${name}`, readBody: true, handler: submit },
      { method: 'get', path: `/v1/async/${name}/:jobId`, label: `/v1/async/${name}/{job_id}`, readBody: false, handler: poll },
    ];
  });
}
