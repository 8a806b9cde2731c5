// A dialect is the API a client speaks on a route: OpenAI's (on /v1 and /openai), Anthropic's Messages, Google's
// GenAI, AWS Bedrock's Converse, OpenAI's Responses. The pipeline itself always carries an OpenAI chat request and
// gets OpenAI answers and chunks back from the providers' workers; a dialect translates the client's request into
// that on the way in (`parse`) and the answer, stream and errors back into the client's shape on the way out
// (`wire`). So any route can reach any provider, and plugins see one request shape whatever the route.
// Dialects are pure transforms on the front thread: no I/O, no provider code.

import type { ErrorData } from '../errors/error-data.js';
import type { AttemptRecord } from '../errors/gateway-error.js';
import type { IncomingRequest } from '../http/server.js';
import type { ParsedRequest } from '../pipeline/parse.js';

/** How one request's answer is written in the client's dialect; it may keep state across a stream's chunks. */
export interface ClientWire {
  /** A chat.completion (or embeddings list) as JSON text → the answer body. */
  answer(body: string): string;
  /** The error body for a failed request; the status is the error's own (src/errors/codes.ts). */
  errorBody(error: ErrorData, attempts?: readonly AttemptRecord[]): string;
  /** Headers an error response needs besides its body, for clients that read the error's type from one (AWS SDKs:
   * `x-amzn-errortype`). */
  errorHeaders?(error: ErrorData): Record<string, string>;
  /** `content-type` of a streamed answer. */
  readonly streamContentType: string;
  /** One OpenAI chat.completion.chunk (JSON text) → the bytes to write; '' when it adds nothing. */
  chunk(chunk: string): string | Uint8Array;
  /** The end of a stream that succeeded. */
  end(): string | Uint8Array;
  /** An error after the stream started: written, then the stream ends. */
  streamError(error: ErrorData): string | Uint8Array;
  /** A media answer (audio bytes, OpenAI's images JSON) in the client's API; absent, it goes out as the provider sent
   * it, with its content type. */
  media?(body: string | Uint8Array, contentType: string): { contentType: string; body: string | Uint8Array };
}

export interface Dialect {
  readonly name: string;
  /** The provider a model named without a configured `provider/` prefix goes to; null: such a model is an error. */
  readonly defaultProvider: string | null;
  /** The client's request as an OpenAI request; throws a GatewayError (4xx) for bad input. */
  parse(request: IncomingRequest): ParsedRequest;
  wire(parsed: ParsedRequest): ClientWire;
  /** The error body before a request parsed (bad JSON, body too large, unknown route). */
  errorBody(error: ErrorData): string;
  /** The wire of an attempt that sent the request natively (ParsedRequest.native): the provider's answer and SSE
   * blocks go to the client as they are. */
  nativeWire?(): ClientWire;
  /** As ClientWire.errorHeaders, for errors before the request parsed. */
  errorHeaders?(error: ErrorData): Record<string, string>;
  /** Bifrost's `extra_fields` go on this route's answers (src/pipeline/extra-fields.ts): the /v1 routes. */
  readonly extraFields?: ExtraFieldsDeclaration;
}

export interface ExtraFieldsDeclaration {
  /** Bifrost's name of the request type: `chat_completion`, `embedding`, … */
  readonly requestType: string;
  /** Also on each chunk: the wire writes OpenAI's chat chunks as it gets them. */
  readonly chunks: boolean;
}

/** `dialect` as a /v1 route serves it, with Bifrost's `extra_fields` on its answers. */
export const withExtraFieldsOn = (dialect: Dialect, requestType: string, chunks = false): Dialect =>
  Object.freeze<Dialect>({ ...dialect, extraFields: { requestType, chunks } });
