// Google's GenAI (Gemini API) on `/genai/v1beta/models/{model}:{action}` (and `/genai/v1/...`): the `@google/genai`
// SDK's drop-in with `httpOptions.baseUrl` at `/genai`. The model is in the path, where the SDK writes a
// `provider/model` name unencoded (`models/openai/gpt-4o-mini:generateContent`), so the action is what follows the
// last ':'. Each action is a dialect of its own: its request kind, and how its answer is written
// (genai-request.ts and genai-answer.ts hold the transforms). A bare model goes to the `gemini` provider.

import { errorData, GatewayError, statusOf } from '../errors/gateway-error.js';
import type { NativePrefix, Route, RouteHandler } from '../http/server.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import type { ClientWire, Dialect } from './dialect.js';
import { countTokensResponse, embedContentResponse, generateContentResponse, genaiErrorBody, streamWire } from './genai-answer.js';
import { genaiMediaAnswer, genaiMediaRequest } from './genai-media.js';
import { chatRequestOf, countTokensRequestOf, embeddingsRequestOf } from './genai-request.js';

const ACTIONS = ['generateContent', 'streamGenerateContent', 'countTokens', 'embedContent', 'batchEmbedContents'];

const PATH = /^\/genai\/v1(?:beta)?\/models\/(.+):([A-Za-z]+)$/;

/** The model (still percent-encoded) and action of a GenAI path, or null when the path names no action. */
function splitPath(path: string): { model: string; action: string } | null {
  const match = PATH.exec(path);
  return match ? { model: match[1], action: match[2] } : null;
}

const VERSION = /^\/genai\/(v1beta|v1)\//;

/** The metrics label of a GenAI call, one per operation: `/genai/v1beta/models/{model}:generateContent`. */
export function genaiRouteLabel(path: string): string {
  const version = VERSION.exec(path)?.[1] ?? 'v1beta';
  const action = splitPath(path)?.action;
  const known = action !== undefined && (ACTIONS.includes(action) || action === 'batchGenerateContent');
  return `/genai/${version}/models/{model}:${known ? action : '{unknown}'}`;
}

/** The model a GenAI path names: after `models/`, the gateway's model name, `provider/model` or bare. */
export function modelOf(path: string): string {
  const found = splitPath(path);
  if (!found) throw new GatewayError('INVALID_REQUEST', 'the path names no model', { param: 'model' });
  try {
    return decodeURIComponent(found.model);
  } catch {
    throw new GatewayError('INVALID_REQUEST', `the model in the path is not valid percent-encoding: '${found.model}'`, { param: 'model' });
  }
}

/** Answers that keep no state: every request of the action shares the wire. */
const fixedWire = (answer: (body: string) => string): ClientWire => Object.freeze<ClientWire>({
  answer,
  errorBody: genaiErrorBody,
  streamContentType: 'application/json; charset=UTF-8',
  chunk: () => '',
  end: () => '',
  streamError: () => '',
});

function genaiDialect(parse: (body: Record<string, unknown>, model: string) => ParsedRequest, wire: (parsed: ParsedRequest) => ClientWire): Dialect {
  return Object.freeze<Dialect>({
    name: 'genai',
    defaultProvider: 'gemini',
    parse: (request) => parse(parseJsonObjectBody(request.body), modelOf(request.path)),
    wire,
    errorBody: genaiErrorBody,
  });
}

const chat = (body: Record<string, unknown>, kind: ParsedRequest['kind'], stream: boolean): ParsedRequest =>
  ({ kind, body: body as ChatRequestBody, stream, includeUsage: stream });

const embeddings = (body: Record<string, unknown>): ParsedRequest =>
  ({ kind: 'embeddings', body: body as unknown as ChatRequestBody, stream: false, includeUsage: false });

/** Usage is always asked for: the stream's last event carries usageMetadata, as Google's does. */
const streamed = (body: Record<string, unknown>, model: string): ParsedRequest => {
  // A stream of audio or images is refused with its 400; for text it returns null.
  genaiMediaRequest(body, model, true);
  return chat({ ...chatRequestOf(body, model), stream: true, stream_options: { include_usage: true } }, 'chat', true);
};

const generateWire = fixedWire(generateContentResponse);
/** An audio or image answer (genai-media.ts); its errors are Google's, as every answer's. */
const mediaWire = Object.freeze<ClientWire>({ ...fixedWire((body) => body), media: genaiMediaAnswer });
const countTokensWire = fixedWire(countTokensResponse);
const embedWire = fixedWire((body) => embedContentResponse(body, false));
const batchEmbedWire = fixedWire((body) => embedContentResponse(body, true));

/** The dialect of each action; `streamGenerateContent` without `alt=sse` is Google's streamed JSON array. */
export const GENAI_DIALECTS = Object.freeze({
  generateContent: genaiDialect((body, model) => genaiMediaRequest(body, model, false) ?? chat(chatRequestOf(body, model), 'chat', false),
    (parsed) => (parsed.kind === 'chat' ? generateWire : mediaWire)),
  streamGenerateContent: genaiDialect(streamed, () => streamWire(true, generateContentResponse)),
  streamGenerateContentArray: genaiDialect(streamed, () => streamWire(false, generateContentResponse)),
  countTokens: genaiDialect((body, model) => chat(countTokensRequestOf(body, model), 'count_tokens', false), () => countTokensWire),
  embedContent: genaiDialect((body, model) => embeddings(embeddingsRequestOf(body, model, false)), () => embedWire),
  batchEmbedContents: genaiDialect((body, model) => embeddings(embeddingsRequestOf(body, model, true)), () => batchEmbedWire),
} satisfies Record<string, Dialect>);

/** The handler key of a request: its action, or the JSON-array variant of a stream. */
function handlerKey(action: string, query: string): string {
  return action === 'streamGenerateContent' && new URLSearchParams(query).get('alt') !== 'sse' ? 'streamGenerateContentArray' : action;
}

/** Any other path under `/genai`: Google's NOT_FOUND, which the SDK raises as an ApiError with status 404. */
export const genaiPrefix: NativePrefix = Object.freeze({
  prefix: '/genai',
  errorBody: genaiErrorBody,
  served: `the gateway serves /genai/v1beta/models/{model}:${ACTIONS.join(', :')}`,
});

/**
 * The GenAI routes, given how the gateway makes an inference handler of a dialect: one route per API version,
 * which hands each request to its action's handler. `more`: handlers of actions that are not inference
 * (`batchGenerateContent`, files-genai.ts).
 */
export function genaiRoutes(handlerFor: (dialect: Dialect) => RouteHandler, more: Readonly<Record<string, RouteHandler>> = {}): Route[] {
  const handlers = new Map<string, RouteHandler>(Object.entries(GENAI_DIALECTS).map(([key, dialect]) => [key, handlerFor(dialect)]));
  const handler: RouteHandler = (request, sink) => {
    const action = splitPath(request.path)?.action;
    const handle = action === undefined ? undefined : ACTIONS.includes(action) ? handlers.get(handlerKey(action, request.query))
      : Object.hasOwn(more, action) ? more[action] : undefined;
    if (!handle) {
      const data = errorData('UNKNOWN_ROUTE', `no GenAI method at ${request.path}: this gateway serves ` +
        `models/{model}:${ACTIONS.join(', :')}`);
      sink.json(statusOf(data), genaiErrorBody(data));
      return;
    }
    handle(request, sink);
  };
  return ['/genai/v1beta/models/*', '/genai/v1/models/*'].map((path): Route =>
    ({ method: 'post', path, labelOf: genaiRouteLabel, errorBody: genaiErrorBody, readBody: true, handler }));
}
