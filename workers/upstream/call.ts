// Runs jobs against an HTTP provider: the adapter builds the call, the declared auth style is applied, undici's
// dispatch API sends it, and the answer (or the stream, event by event, through the declared decoder) goes back
// through the adapter. The low-level handler API is used rather than `request()`: no AbortSignal, body stream or
// promise per request, and pause/resume map straight onto the client's backpressure. Nothing here knows a
// provider by name.

import type { Dispatcher } from 'undici';
import type { ProviderInit } from '../../src/contract/worker-init.js';
import type { ErrorData } from '../../src/errors/error-data.js';
import type { AbortReason, Job } from '../job.js';
import { FILES_ANSWER_HEADERS, isMediaKind, type FilesRequest } from '../../src/contract/messages.js';
import { answerFor, callFor, mediaAnswer, streamEventFor, type AuthStyle, type ChatAnswer, type HttpAdapter, type KeyInit, type MediaAnswer, type StreamEvent,
  type StreamState, type StreamStep, type UpstreamCall } from '../providers/types.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { authenticate, type SignableRequest } from './auth.js';
import { createDecoder, type StreamDecoder } from './decoders.js';
import { abortedError, droppedIdleConnection, errorForTransportFailure, errorForUpstreamStatus, parseRetryAfter } from './error-map.js';
import type { UpstreamClients } from './http-client.js';
import { splitUrl } from './url.js';

const MAX_ERROR_TEXT = 500;
const NO_KEY: KeyInit = Object.freeze({ value: '', configs: {} });

export class HttpJobRunner {
  readonly #adapter: HttpAdapter;
  readonly #provider: ProviderInit;
  readonly #clients: UpstreamClients;

  constructor(adapter: HttpAdapter, provider: ProviderInit, clients: UpstreamClients) {
    this.#adapter = adapter;
    this.#provider = provider;
    this.#clients = clients;
  }

  run(job: Job): void {
    const provider = this.#provider.name;
    const adapter = this.#adapter;
    const key = this.#provider.keys[job.data.keyIndex] ?? NO_KEY;
    const target = { baseUrl: this.#provider.baseUrl, key, extraHeaders: this.#provider.extraHeaders };
    let call: UpstreamCall;
    try {
      call = callFor(adapter, job.data, target);
    } catch (error) {
      // A GatewayError names its own code (a key without the settings the call needs); any other is the request's fault.
      const coded = error instanceof GatewayError ? { code: error.data.code, param: error.data.param ?? null } : { code: 'INVALID_REQUEST' as const };
      job.fail({ ...coded, message: `${provider}: ${(error as Error).message}`, provider });
      return;
    }
    if (call.droppedParams.length > 0) job.droppedParams = call.droppedParams;
    const request: SignableRequest = {
      method: call.method ?? 'POST',
      url: call.url,
      headers: {
        'content-type': 'application/json',
        accept: job.data.stream ? 'text/event-stream' : isMediaKind(job.data.kind) || job.data.kind === 'files' ? '*/*' : 'application/json',
        'x-request-id': job.data.requestId,
        ...this.#provider.extraHeaders,
        ...call.headers,
      },
      body: call.body,
    };
    if (call.method === 'GET') {
      delete request.headers['content-type'];
      request.body = '';
    }
    if (call.bytes !== undefined) {
      // A files call: its bytes as they came, with their own content type or none.
      request.body = call.bytes ?? '';
      if (call.contentType) request.headers['content-type'] = call.contentType;
      else delete request.headers['content-type'];
    }
    // A traced request's try, when the config sends W3C trace context upstream (set after the adapter's headers:
    // the gateway's span is the upstream call's parent, whatever a client put in extra headers).
    if (job.data.trace) request.headers.traceparent = job.data.trace;
    const auth = call.auth ?? adapter.auth;
    if (!call.form) {
      this.#authenticateAndSend(job, request, auth);
      return;
    }
    // A multipart form: undici's Response encodes it (parts, boundary) as fetch would send it.
    const encoded = new Response(call.form);
    request.headers['content-type'] = encoded.headers.get('content-type')!;
    encoded.arrayBuffer().then((bytes) => {
      request.body = new Uint8Array(bytes);
      this.#authenticateAndSend(job, request, auth);
    }, (error: unknown) => job.fail({ code: 'INTERNAL', message: `${provider}: could not encode the form: ${(error as Error).message}`, provider }));
  }

  #authenticateAndSend(job: Job, request: SignableRequest, auth: AuthStyle): void {
    const provider = this.#provider.name;
    const key = this.#provider.keys[job.data.keyIndex] ?? NO_KEY;
    let signing: void | Promise<void>;
    try {
      signing = authenticate(request, key, auth);
    } catch (error) {
      job.fail({ code: 'UPSTREAM_AUTH', message: `${provider}: ${(error as Error).message}`, provider });
      return;
    }
    if (signing) {
      signing.then(() => this.#send(job, request), (error: unknown) => job.fail({ code: 'UPSTREAM_AUTH',
        message: `${provider}: could not authenticate: ${(error as Error).message}`, provider }));
    } else {
      this.#send(job, request);
    }
  }

  /** The second try of a request whose kept-alive connection the upstream dropped (see Exchange); one per runner. */
  readonly #resend = (job: Job, request: SignableRequest): void => this.#send(job, request, true);

  #send(job: Job, request: SignableRequest, resent = false): void {
    if (job.finished) return;
    const { origin, path } = splitUrl(request.url);
    const exchange = new Exchange(job, this.#adapter, this.#provider.name, request, resent ? null : this.#resend);
    job.attach(exchange);
    if (!resent) job.markUpstreamStart();
    this.#clients.poolFor(origin).dispatch({ path, method: request.method as Dispatcher.HttpMethod, headers: request.headers,
      body: request.method === 'GET' || (request.method === 'DELETE' && request.body === '') ? null : request.body }, exchange);
  }
}

/**
 * One request/response with the upstream, as undici's dispatch handler, in the callbacks undici 7's HTTP/1 client
 * itself calls (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`). A handler written to the newer
 * `onResponse*` API is wrapped in an adapter that parses every response header and trailer into an object, for
 * each request; this one reads the two headers it needs from the raw list.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #job: Job;
  readonly #adapter: HttpAdapter;
  readonly #provider: string;
  #abortRequest: ((error: Error) => void) | null = null;
  /** Set while the client is backed up: undici stops reading when a data callback answers false. */
  #paused = false;
  /** Set while the front is behind with this worker's messages (Job.holdForFront). */
  #held = false;
  /** A stream's chunks from the reads undici hands over in this turn, sent as one message after them (`#sendTaken`). */
  #taken: string[] | null = null;
  #sendQueued = false;
  #resumeReading: (() => void) | null = null;
  #status = 0;
  #retryAfter: number | undefined;
  #contentType: string | undefined;
  /** A files answer's headers among FILES_ANSWER_HEADERS. */
  #answerHeaders: Record<string, string> | undefined;
  /** A successful answer's headers, which an adapter may read its usage from (Bedrock's token counts). */
  #rawHeaders: Buffer[] = [];
  #parts: Buffer[] = [];
  #decoder: StreamDecoder | null = null;
  #state: StreamState | null = null;
  #streamEvent: ((event: StreamEvent, state: StreamState) => StreamStep) | null = null;
  #done = false;
  /** A passthrough answer streamed through as its bytes come (MSG_BYTES), neither decoded nor read whole. */
  #through = false;
  readonly #request: SignableRequest;
  /** Sends the request again on another connection; null once used, or on the second try. */
  #resend: ((job: Job, request: SignableRequest) => void) | null;

  constructor(job: Job, adapter: HttpAdapter, provider: string, request: SignableRequest,
    resend: ((job: Job, request: SignableRequest) => void) | null) {
    this.#job = job;
    this.#adapter = adapter;
    this.#provider = provider;
    this.#request = request;
    this.#resend = resend;
  }

  abort(reason: AbortReason): void {
    this.#abortRequest?.(new Error(`request ${reason}`));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#held) this.#resumeReading?.();
  }

  onConnect(abort: (error: Error) => void): void {
    this.#abortRequest = abort;
    if (this.#job.abortReason) abort(new Error(`request ${this.#job.abortReason}`));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#status = statusCode;
    this.#job.markHeaders(statusCode);
    this.#resumeReading = resume;
    this.#contentType = headerOf(rawHeaders, 'content-type');
    if (this.#job.data.kind === 'files' && statusCode < 400) this.#answerHeaders = filesAnswerHeaders(rawHeaders);
    if (statusCode < 400) this.#rawHeaders = rawHeaders;
    if (statusCode >= 400) {
      this.#retryAfter = parseRetryAfter(headerOf(rawHeaders, 'retry-after'));
    } else if (this.#job.data.stream) {
      this.#decoder = createDecoder(this.#adapter.streamFormat);
      this.#streamEvent = streamEventFor(this.#adapter, this.#job.data);
      this.#state = { includeUsage: this.#job.data.includeUsage, model: this.#job.data.model, usage: null, scratch: {} };
    } else if (this.#job.data.kind === 'files' && (this.#job.data.body as unknown as FilesRequest).streamThrough === true
      && streamedAnswer(statusCode, rawHeaders, this.#contentType)) {
      this.#through = true;
      this.#job.streamHead({ status: statusCode, contentType: this.#contentType ?? 'application/octet-stream' });
    }
    return !this.#paused;
  }

  onData(chunk: Buffer): boolean {
    if (this.#through) {
      this.#job.bytes(chunk);
      this.#holdIfFrontBehind();
    } else {
      this.#take(chunk);
    }
    return !this.#paused && !this.#held;
  }

  /**
   * A stream's reads become messages to the front: while they wait for room in the ring, reading on would only move
   * the upstream's answer into this thread's memory, unbounded. Held, the socket's window holds the upstream.
   */
  #holdIfFrontBehind(): void {
    if (this.#held || this.#done || !this.#job.frontBehind) return;
    this.#held = true;
    this.#job.holdForFront(() => {
      this.#held = false;
      if (!this.#paused) this.#resumeReading?.();
    });
  }

  #take(chunk: Buffer): void {
    if (this.#done) return;
    if (!this.#decoder) {
      this.#parts.push(chunk);
      return;
    }
    this.#job.touch();
    // undici hands over an HTTP chunk at a time, and an upstream often sends each event as one: the events of all the
    // chunks it parses from this turn's reads cross to the front together, in one message, once it is done with them.
    const out = (this.#taken ??= []);
    // Decided after the chunks before it went out: an error after the first chunk is a broken stream.
    let failure: (() => ErrorData) | null = null;
    try {
      for (const event of this.#decoder.push(chunk)) {
        const step = this.#streamEvent!(event, this.#state!);
        for (const piece of step.chunks) out.push(piece);
        const reported = step.error;
        if (reported) {
          failure = () => (this.#job.streamStarted
            ? this.#brokenStream(reported.message)
            : errorForUpstreamStatus(this.#provider, reported.status, reported.message));
          break;
        }
        if (step.done) {
          this.#done = true;
          break;
        }
      }
    } catch (error) {
      failure = () => this.#brokenStream(`unreadable stream event: ${(error as Error).message}`);
    }
    if (failure) {
      this.#taken = null;
      this.#job.chunks(out);
      this.#finishStream(failure());
    } else if (this.#done) {
      this.#taken = null;
      this.#job.end(this.#state!.usage, out);
    } else if (out.length > 0 && !this.#sendQueued) {
      this.#sendQueued = true;
      queueMicrotask(this.#sendTaken);
    }
  }

  /** After undici's reads of this turn: their chunks go out as one message, then the stream holds if the front is behind. */
  #sendTaken = (): void => {
    this.#sendQueued = false;
    this.#flushTaken();
    // Held from here, the stream pauses at undici's next chunk: this turn's reads were parsed whole, not set back
    // on the socket to be copied out again on resume.
    this.#holdIfFrontBehind();
  };

  /** Sends what was taken and not yet sent: before anything that ends the job, so no chunk is lost behind it. */
  #flushTaken(): void {
    const out = this.#taken;
    this.#taken = null;
    if (out !== null && out.length > 0) this.#job.chunks(out);
  }

  onComplete(): void {
    if (this.#done) return;
    if (this.#through) {
      this.#done = true;
      this.#job.end(null);
      return;
    }
    if (this.#decoder) {
      this.#flushTaken();
      this.#finishStream(this.#brokenStream('the stream ended before its end marker'));
      return;
    }
    this.#done = true;
    const bytes = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts);
    this.#parts = [];
    if (this.#status < 400 && this.#job.data.kind === 'files') {
      const request = this.#job.data.body as unknown as FilesRequest;
      if (request.translate && this.#adapter.openAIBatchAnswer) {
        let answer: { body: string; contentType: string };
        try {
          answer = this.#adapter.openAIBatchAnswer(request, bytes.toString('utf8'),
            { sentHeaders: this.#request.headers, answerHeaders: this.#answerHeaders ?? {},
              sentBytes: typeof this.#request.body === 'string' ? Buffer.byteLength(this.#request.body) : this.#request.body.length });
        } catch (error) {
          this.#job.fail({ code: 'UPSTREAM_ERROR', message: `${this.#provider}: unreadable answer: ${(error as Error).message}`,
            provider: this.#provider, upstreamStatus: this.#status });
          return;
        }
        this.#job.result(answer.body, null, answer.contentType);
        return;
      }
      // Bytes as the provider sent them: a file's content may be anything, and its answers are the client's own API.
      this.#job.result(bytes, null, this.#contentType ?? '', this.#answerHeaders);
      return;
    }
    const provider = this.#provider;
    if (this.#status < 400 && isMediaKind(this.#job.data.kind)) {
      const unreadable = (error: unknown) => this.#job.fail({ code: 'UPSTREAM_ERROR',
        message: `${provider}: unreadable answer: ${(error as Error).message}`, provider, upstreamStatus: this.#status });
      const answered = (answer: MediaAnswer) => this.#job.result(answer.body, answer.usage, answer.contentType);
      let answer: MediaAnswer | Promise<MediaAnswer>;
      try {
        answer = this.#adapter.mediaAnswer ? this.#adapter.mediaAnswer(bytes.toString('utf8'), this.#job.data) : mediaAnswer(bytes, this.#contentType);
      } catch (error) {
        unreadable(error);
        return;
      }
      if (answer instanceof Promise) answer.then(answered, unreadable);
      else answered(answer);
      return;
    }
    const text = bytes.toString('utf8');
    if (this.#status >= 400) {
      const message = this.#adapter.errorMessage(text) ?? (text.slice(0, MAX_ERROR_TEXT) || `HTTP ${this.#status}`);
      this.#job.fail(errorForUpstreamStatus(provider, this.#status, message, this.#retryAfter));
      return;
    }
    let answer: ChatAnswer;
    try {
      answer = answerFor(this.#adapter, text, this.#job.data, (name) => headerOf(this.#rawHeaders, name));
    } catch (error) {
      this.#job.fail({ code: 'UPSTREAM_ERROR', message: `${provider}: unreadable answer: ${(error as Error).message}`,
        provider, upstreamStatus: this.#status });
      return;
    }
    this.#job.result(answer.body, answer.usage);
  }

  onError(error: Error): void {
    if (this.#done) return;
    this.#flushTaken();
    this.#done = true;
    const job = this.#job;
    // A server closes an idle keep-alive connection on its own clock; a request written as it does is lost before
    // the server read it. That is the connection's failure, not the provider's: one more try, on another connection.
    const resend = this.#resend;
    this.#resend = null;
    if (resend && this.#status === 0 && !job.abortReason && droppedIdleConnection(error)) {
      resend(job, this.#request);
      return;
    }
    job.fail(job.abortReason
      ? abortedError(job.abortReason, this.#provider, job.streamStarted)
      : errorForTransportFailure(this.#provider, error, job.streamStarted), this.#state?.usage ?? null);
  }

  #brokenStream(what: string): ErrorData {
    return { code: this.#job.streamStarted ? 'STREAM_INTERRUPTED' : 'UPSTREAM_ERROR', message: `${this.#provider}: ${what}`,
      provider: this.#provider };
  }

  #finishStream(error: ErrorData): void {
    this.#done = true;
    this.#job.fail(error, this.#state?.usage ?? null);
    this.#abortRequest?.(new Error(error.message));
  }
}

/**
 * Whether a successful answer is a stream to pass on as it comes: an event stream, or a body whose end only the
 * connection tells (chunked, or delimited by the close). An answer with a length is read whole: one message back.
 */
function streamedAnswer(status: number, rawHeaders: Buffer[], contentType: string | undefined): boolean {
  if (status === 204 || status === 304) return false;
  if (contentType !== undefined && /^\s*(text\/event-stream|application\/(x-)?ndjson)/i.test(contentType)) return true;
  return headerOf(rawHeaders, 'content-length') === undefined;
}

function filesAnswerHeaders(rawHeaders: Buffer[]): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  for (const name of FILES_ANSWER_HEADERS) {
    const value = headerOf(rawHeaders, name);
    if (value !== undefined) (found ??= {})[name] = value;
  }
  return found;
}

/** The first value of header `name` (lower case) in undici's raw list: name, value, name, value… */
function headerOf(rawHeaders: Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const candidate = rawHeaders[i];
    if (candidate.length === name.length && candidate.toString('latin1').toLowerCase() === name) return rawHeaders[i + 1].toString('latin1');
  }
  return undefined;
}
