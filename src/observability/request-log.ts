// The request log's side of a request: what an inference route's request leaves behind, as one RequestLogRecord
// pushed into the LogSink when its response is complete (src/http/server.ts's finish, the same place as the access
// line). The pipeline fills the request's AccessRecord as it goes; with content logging on, a ContentCapture on it
// keeps references to what was sent and answered (the body as it came, the answer's text), accumulates a stream's
// answer as its chunks pass, and only at the end are they decoded and capped. With logging off nothing here runs.

import { isMediaKind, type JobKind } from '../contract/messages.js';
import type { ClientWire } from '../dialects/dialect.js';
import type { RequestLogRecord } from '../stores/log-record.js';
import type { AccessLine, AccessRecord } from './access-log.js';
import {
  AnthropicMessageAnswer, ChatCompletionAnswer, EventListAnswer, ResponsesObjectAnswer, type StreamAnswer, type TextBudget,
} from './stream-content.js';

/** Characters kept of the request and of the answer, each; past it the text ends with TRUNCATION_MARK. */
export const CONTENT_CAP = 64 * 1024;
/** Bytes kept of an answer passed through as it came: enough for CONTENT_CAP characters, whatever their UTF-8 size. */
const PASSTHROUGH_CAP = 4 * CONTENT_CAP;
export const TRUNCATION_MARK = '…[truncated by heimdall:';

const cut = (text: string, more: number, unit: string): string => `${text}${TRUNCATION_MARK} ${more} more ${unit}]`;

function capText(text: string): string {
  return text.length <= CONTENT_CAP ? text : cut(text.slice(0, CONTENT_CAP), text.length - CONTENT_CAP, 'characters');
}

/** A media body as the log keeps it: what it was, not its bytes. */
const described = (contentType: string, bytes: number): string => JSON.stringify({ media: contentType, bytes });

/**
 * The route handlers whose requests the request log records, by the name of their dialect. The server marks each of
 * their requests for the log as it arrives, so a request refused before its handler runs (a body over
 * `client.max_request_body_size_mb`, a form that cannot be read, a client gone mid-upload) is recorded too.
 */
const loggedHandlers = new WeakMap<object, string>();

/** Marks `handler`'s requests for the request log under `dialect`; '' (the log is off) marks nothing. */
export function logRequestsOf<T extends object>(handler: T, dialect: string): T {
  if (dialect !== '') loggedHandlers.set(handler, dialect);
  return handler;
}

/** A handler that hands its requests to `inner` is recorded as `inner` is. */
export function loggedLike<T extends object>(wrapper: T, inner: object): T {
  return logRequestsOf(wrapper, loggedHandlers.get(inner) ?? '');
}

/** The dialect `handler`'s requests are recorded under; '' when they are not recorded. */
export function loggedDialectOf(handler: object): string {
  return loggedHandlers.get(handler) ?? '';
}

/** What the request log was configured to keep. */
export interface RequestLogSettings {
  /** `!client.disable_content_logging`: keep the request and the answer, capped. */
  readonly content: boolean;
}

/** How a streamed answer's chunks are made into one message. */
type StreamKind = 'chat' | 'messages' | 'responses' | 'invoke';

export class ContentCapture {
  /** The body as it arrived (its first CONTENT_CAP bytes when it is larger), or its description. */
  #request: Buffer | string | null;
  #requestBytes: number;
  #answer: string | null = null;
  /** A streamed answer, accumulated as its chunks come, its texts held to CONTENT_CAP characters in all. */
  #stream: StreamAnswer | null = null;
  #streamBudget: TextBudget | null = null;
  /** A passthrough stream's bytes, as the provider sent them (its first PASSTHROUGH_CAP). */
  #bytes: Buffer[] | null = null;
  #byteCount = 0;
  #streamKind: StreamKind = 'chat';
  #describeAnswer = false;
  /** Writes a chat stream's accumulated chat.completion in the client's dialect, as a non-streamed answer. */
  #wire: ClientWire | null = null;

  constructor(body: Buffer | null, contentType: string | undefined) {
    this.#requestBytes = body?.length ?? 0;
    if (!body) this.#request = null;
    // An upload (audio for a transcription) is described, never stored.
    else if (contentType && !/json|^text\//i.test(contentType)) this.#request = described(contentType.split(';')[0], body.length);
    // A copy of the start only: a reference would keep a large body (base64 images) alive to the end of the request.
    else this.#request = body.length > CONTENT_CAP ? Buffer.from(body.subarray(0, CONTENT_CAP)) : body;
  }

  /** The request's kind and the client's wire, once it parsed. */
  parsed(kind: JobKind, wire: ClientWire): void {
    this.#describeAnswer = isMediaKind(kind) && kind !== 'transcription';
    this.#wire = wire;
  }

  /** A native attempt streams the provider's own events (`messages`, `responses`), else chat chunks. */
  attempt(kind: JobKind, native: boolean): void {
    this.#streamKind = native && (kind === 'messages' || kind === 'responses' || kind === 'invoke') ? kind : 'chat';
  }

  /** The answer as sent (JSON, an error body, a media answer's bytes). */
  answer(body: string | Uint8Array, contentType: string): void {
    this.#answer = typeof body !== 'string' || this.#describeAnswer
      ? described(contentType, typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength) : body;
  }

  /** One chunk of a streamed answer, as the provider's worker gave it (after chunk hooks). */
  chunk(text: string): void {
    (this.#stream ??= this.#streamAnswer()).add(text);
  }

  #streamAnswer(): StreamAnswer {
    const budget = (this.#streamBudget = { left: CONTENT_CAP, cut: false });
    switch (this.#streamKind) {
      case 'messages': return new AnthropicMessageAnswer(budget);
      case 'responses': return new ResponsesObjectAnswer(budget);
      case 'invoke': return new EventListAnswer(budget);
      case 'chat': return new ChatCompletionAnswer(budget);
    }
  }

  /** Bytes of a stream passed through in the provider's own format: kept as they came, capped. */
  bytes(chunk: Uint8Array): void {
    const room = PASSTHROUGH_CAP - this.#byteCount;
    this.#byteCount += chunk.byteLength;
    if (room <= 0) return;
    // A copy of the part kept, so that the rest of a large chunk is not held to the end of the request.
    (this.#bytes ??= []).push(Buffer.from(chunk.subarray(0, room)));
  }

  requestText(): string | null {
    const request = this.#request;
    if (request === null || typeof request === 'string') return request;
    const text = request.toString('utf8');
    return this.#requestBytes > request.length ? cut(text, this.#requestBytes - request.length, 'bytes') : text;
  }

  answerText(): string | null {
    if (this.#bytes) {
      const kept = Buffer.concat(this.#bytes);
      const text = capText(kept.toString('utf8'));
      return this.#byteCount > kept.length ? cut(text, this.#byteCount - kept.length, 'bytes') : text;
    }
    if (this.#stream) {
      const text = capText(this.#streamed(this.#stream));
      return this.#streamBudget?.cut ? `${text}${TRUNCATION_MARK} the stream was longer than the log keeps]` : text;
    }
    return this.#answer === null ? null : capText(this.#answer);
  }

  #streamed(stream: StreamAnswer): string {
    const answer = stream.text();
    // A chat stream's chat.completion, written as the client's dialect writes a non-streamed answer.
    if (!(stream instanceof ChatCompletionAnswer) || !this.#wire) return answer;
    try {
      return this.#wire.answer(answer);
    } catch {
      return answer;
    }
  }
}

/** The record of a request whose response is complete; `receivedAt` is its `performance.now()` on arrival. */
export function requestLogRecord(access: AccessRecord, line: AccessLine, receivedAt: number): RequestLogRecord {
  const content = access.content;
  const cancelled = line.status === 499;
  return {
    id: line.requestId,
    timestamp: Math.round(Date.now() - (performance.now() - receivedAt)),
    route: line.route,
    method: line.method,
    dialect: access.dialect,
    provider: access.provider || null,
    modelRequested: access.modelRequested,
    model: access.model || null,
    keyName: access.keyName || null,
    virtualKeyId: access.virtualKeyId,
    status: line.status,
    errorCode: access.errorCode ?? (cancelled ? 'client_closed' : null),
    attempts: access.attempts,
    fallbacks: access.fallbacks,
    latencyMs: line.latencyMs,
    ttftMs: access.firstTokenMs,
    upstreamMs: access.upstreamMs,
    overheadMs: access.overheadMs,
    tokensIn: access.tokensIn,
    tokensOut: access.tokensOut,
    tokensCached: access.tokensCached,
    tokensReasoning: access.tokensReasoning,
    costUsd: access.costUsd,
    cache: access.cache,
    stream: access.stream,
    cancelled,
    request: content ? safely(() => content.requestText()) : null,
    response: content ? safely(() => content.answerText()) : null,
  };
}

/** Runs on the front thread at the end of a response: a content it cannot make must not break serving. */
function safely(text: () => string | null): string | null {
  try {
    return text();
  } catch (error) {
    return `${TRUNCATION_MARK} the content could not be captured: ${(error as Error).message}]`;
  }
}
