// The pipeline's view of a response: JSON, or an SSE stream with backpressure. The only implementation wraps
// a uWebSockets.js HttpResponse; every write is corked, and nothing touches the socket once it has aborted.

import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import { AccessRecord } from '../observability/access-log.js';

export const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';

export type Headers = Readonly<Record<string, string>>;

/** Told when the client goes away; an object rather than a callback, so a waiting request needs no closure for it. */
export interface AbortListener {
  clientAborted(): void;
}

export interface ResponseSink {
  readonly requestId: string;
  /** The client went away; further writes are ignored. */
  readonly aborted: boolean;
  /** A response (JSON or the end of a stream) has been completed. */
  readonly finished: boolean;
  readonly streaming: boolean;
  /** What the access log and the HTTP metrics say of this request; the pipeline fills it in. */
  readonly access: AccessRecord;
  onAbort(listener: AbortListener): void;
  /** Headers every answer to the request carries from now on (the rate-limit headers of its virtual key). */
  addHeaders(headers: Headers): void;
  json(status: number, body: string, headers?: Headers): void;
  /** Any content type: metrics text, a media answer (audio bytes) as the provider sent it. */
  text(status: number, contentType: string, body: string | Uint8Array, headers?: Headers): void;
  /**
   * Starts a streamed answer; an SSE stream unless the dialect frames it otherwise (AWS event-stream), with status
   * 200 unless a passthrough's provider said otherwise.
   */
  startStream(headers?: Headers, contentType?: string, status?: number): void;
  /** False when the socket is backed up: wait for `onWritable` before producing more. */
  write(data: string | Uint8Array): boolean;
  onWritable(listener: () => void): void;
  end(data?: string | Uint8Array): void;
  /**
   * Ends a started stream as broken: the connection closes before the body's end, so the client's HTTP library
   * reports a truncated answer rather than a complete one. For a stream in a format the gateway cannot put an error
   * event in (a passthrough's).
   */
  breakOff(): void;
  /**
   * Runs `writes` with the socket corked once: a stream's headers, chunks and end written inside go out in one
   * send, rather than one per call.
   */
  batch(writes: () => void): void;
}

// Every control character but the tab, which header values may hold. The plain pattern is tested first: a replace
// with a global pattern and a function takes V8's slow path even when nothing matches.
const CONTROL_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTER.source, 'g');

/**
 * A header value with its control characters percent-encoded. Some values come from the client (a model name, the
 * name of a dropped parameter), and uWebSockets.js writes values as they are: a CR/LF in one would end the line and
 * let the client write response headers of its own.
 */
export function headerValue(value: string): string {
  if (!CONTROL_CHARACTER.test(value)) return value;
  return value.replace(CONTROL_CHARACTERS, (character) => `%${character.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

const statusLines = new Map<number, string>();
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (!line) {
    line = `${status} ${STATUS_CODES[status] ?? (status === 499 ? 'Client Closed Request' : 'Unknown')}`;
    statusLines.set(status, line);
  }
  return line;
}

export class UwsResponseSink implements ResponseSink {
  readonly requestId: string;
  aborted = false;
  finished = false;
  streaming = false;
  status = 0;
  readonly access = new AccessRecord();
  /** `performance.now()` when the request arrived. */
  readonly receivedAt: number;
  /** Headers every answer to this request carries (CORS), set before the route runs. */
  sharedHeaders: Headers | null = null;
  /** Close the connection after this response: the process is handing its clients over to the others. */
  closeConnection = false;
  /** A HEAD request: the answer's headers, with the length of the body a GET would get, and no body. */
  headOnly = false;
  readonly #res: HttpResponse;
  /** The route's own (one per route, not per request): it reads the status and arrival time off the sink. */
  readonly #onFinish: (sink: UwsResponseSink) => void;
  #abortListener: AbortListener | null = null;
  #writableListener: (() => void) | null = null;
  /** Inside `batch`: the socket is corked already, writes go straight to it. */
  #corked = false;

  constructor(res: HttpResponse, requestId: string, receivedAt: number, onFinish: (sink: UwsResponseSink) => void) {
    this.#res = res;
    this.requestId = requestId;
    this.receivedAt = receivedAt;
    this.#onFinish = onFinish;
  }

  /** Called from the route's onAborted, which is registered before anything else. */
  markAborted(): void {
    if (this.aborted) return;
    this.aborted = true;
    if (!this.finished) {
      this.finished = true;
      this.status = 499;
      this.#onFinish(this);
    }
    this.#abortListener?.clientAborted();
  }

  addHeaders(headers: Headers): void {
    this.sharedHeaders = this.sharedHeaders ? { ...this.sharedHeaders, ...headers } : headers;
  }

  onAbort(listener: AbortListener): void {
    this.#abortListener = listener;
  }

  json(status: number, body: string, headers?: Headers): void {
    this.#send(status, 'application/json', body, headers);
  }

  text(status: number, contentType: string, body: string | Uint8Array, headers?: Headers): void {
    this.#send(status, contentType, body, headers);
  }

  /** An answer without a body (a preflight's 204). */
  noContent(status: number, headers?: Headers): void {
    if (this.aborted || this.finished) return;
    this.#complete(status);
    this.#cork(() => {
      this.#res.writeStatus(statusLine(status)).writeHeader('x-request-id', this.requestId);
      if (this.sharedHeaders) this.#writeHeaders(this.sharedHeaders);
      if (headers) this.#writeHeaders(headers);
      this.#res.endWithoutBody();
    });
  }

  /** Answers and closes the connection: for a request whose body we refuse to read to the end. */
  jsonAndClose(status: number, body: string, headers?: Headers): void {
    this.#send(status, 'application/json', body, headers, true);
  }

  #send(status: number, contentType: string, body: string | Uint8Array, headers: Headers | undefined,
    closeConnection = false): void {
    if (this.aborted || this.finished) return;
    this.access.content?.answer(body, contentType);
    this.#complete(status);
    this.#cork(() => {
      this.#res.writeStatus(statusLine(status))
        .writeHeader('content-type', contentType)
        .writeHeader('x-request-id', this.requestId);
      if (this.sharedHeaders) this.#writeHeaders(this.sharedHeaders);
      if (headers) this.#writeHeaders(headers);
      if (this.headOnly) {
        // Content-Length is the GET's, as HTTP asks, written by hand: given to endWithoutBody, uWebSockets.js would
        // wait for that many body bytes and never read the connection's next request. No argument at all: an
        // explicit undefined reads as a length. (HEAD reads no body, so it is never answered with a close.)
        this.#res.writeHeader('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
        this.#res.endWithoutBody();
      } else {
        this.#res.end(body, closeConnection || this.closeConnection);
      }
    });
  }

  startStream(headers?: Headers, contentType = SSE_CONTENT_TYPE, status = 200): void {
    if (this.aborted || this.streaming || this.finished) return;
    this.streaming = true;
    this.status = status;
    this.#cork(() => {
      this.#res.writeStatus(statusLine(status))
        .writeHeader('content-type', contentType)
        .writeHeader('cache-control', 'no-cache')
        // Tells nginx and similar proxies in front of us not to buffer the stream.
        .writeHeader('x-accel-buffering', 'no')
        .writeHeader('x-request-id', this.requestId);
      if (this.sharedHeaders) this.#writeHeaders(this.sharedHeaders);
      if (headers) this.#writeHeaders(headers);
    });
  }

  write(data: string | Uint8Array): boolean {
    // A HEAD request's stream is its headers alone.
    if (this.aborted || this.finished || this.headOnly) return true;
    // Inside a batch (every chunk's write), no closure to cork with.
    if (this.#corked) return this.#res.write(data);
    let ok = true;
    this.#res.cork(() => {
      ok = this.#res.write(data);
    });
    return ok;
  }

  onWritable(listener: () => void): void {
    if (this.aborted) return;
    if (!this.#writableListener) {
      this.#res.onWritable(() => {
        const current = this.#writableListener;
        this.#writableListener = null;
        current?.();
        return true;
      });
    }
    this.#writableListener = listener;
  }

  end(data?: string | Uint8Array): void {
    if (this.aborted || this.finished) return;
    this.#complete(this.status || 200);
    this.#cork(() => {
      if (this.headOnly) this.#res.endWithoutBody();
      else this.#res.end(data, this.closeConnection);
    });
  }

  breakOff(): void {
    if (this.aborted || this.finished) return;
    this.#complete(this.status || 200);
    // Its onAborted runs at once: marks the sink aborted, with the response already recorded as finished.
    this.#res.close();
  }

  batch(writes: () => void): void {
    if (this.#corked || this.aborted) {
      writes();
      return;
    }
    this.#corked = true;
    try {
      this.#res.cork(writes);
    } finally {
      this.#corked = false;
    }
  }

  #cork(writes: () => void): void {
    if (this.#corked) writes();
    else this.#res.cork(writes);
  }

  #writeHeaders(headers: Headers): void {
    for (const name in headers) this.#res.writeHeader(name, headerValue(headers[name]));
  }

  #complete(status: number): void {
    this.finished = true;
    this.status = status;
    // uWebSockets.js keeps the abort handler, and through it this sink, until the connection's next request: let
    // go of the pipeline's objects now, or a client that pauses between requests keeps a finished one alive.
    this.#abortListener = null;
    this.#writableListener = null;
    this.#onFinish(this);
  }
}
