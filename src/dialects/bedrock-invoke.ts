// Bedrock Runtime's InvokeModel (`/bedrock/model/{modelId}/invoke`) and InvokeModelWithResponseStream
// (`/invoke-with-response-stream`) for `@aws-sdk/client-bedrock-runtime`. InvokeModel's body is the model family's own:
// an Anthropic Messages body (`anthropic_version: "bedrock-2023-05-31"`) is translated as `/anthropic/v1/messages`
// translates it and answered as Anthropic's Message, its stream as Anthropic's events, each in an event-stream
// `chunk` frame whose `bytes` hold the event's JSON, as Bedrock frames them; a Titan embeddings body (`inputText`)
// is an embeddings request answered as Titan's. So they reach any provider: a bare model id means `bedrock` (which
// gets Converse or its embeddings call), `provider/model` goes anywhere. Other families' bodies are refused by name.

import type { ErrorData } from '../errors/error-data.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import { toOpenAIRequest } from './anthropic.js';
import { createAnthropicWire } from './anthropic-wire.js';
import { bedrockErrorBody, bedrockErrorHeaders, EVENT_STREAM_CONTENT_TYPE, eventFrame, exceptionFrame, streamExceptionName } from './bedrock-wire.js';
import type { ClientWire, Dialect } from './dialect.js';


const ROUTE = /^\/bedrock\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/;

function invalid(message: string, param: string | null = null): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

function modelIdOf(path: string): { modelId: string; stream: boolean } {
  const match = ROUTE.exec(path);
  if (!match) invalid(`no InvokeModel operation at ${path}`);
  try {
    return { modelId: decodeURIComponent(match[1]), stream: match[2] === 'invoke-with-response-stream' };
  } catch {
    return invalid(`the model id '${match[1]}' in the path is not valid percent-encoding`, 'modelId');
  }
}

/** Which InvokeModel body this is, by its fields: the family's own request shape. */
type Family = 'anthropic' | 'titan-embeddings';

const families = new WeakMap<ParsedRequest, Family>();

function parseInvoke(request: IncomingRequest): ParsedRequest {
  const { modelId, stream } = modelIdOf(request.path);
  const body = parseJsonObjectBody(request.body);
  if (typeof body.anthropic_version === 'string' || Array.isArray(body.messages)) {
    const { anthropic_version: _version, anthropic_beta: betas, ...messages } = body;
    // What chat has no place for is named in x-heimdall-dropped-params, as on /anthropic/v1/messages.
    const noted = { lost: [] as string[], reshaped: false };
    const parsed = toOpenAIRequest({ ...messages, model: modelId, ...(stream ? { stream: true } : {}) }, false, noted);
    const dropped = [...(parsed.dropped ?? []), ...noted.lost, ...(betas === undefined ? [] : ['anthropic_beta'])];
    if (dropped.length > 0) parsed.dropped = dropped;
    families.set(parsed, 'anthropic');
    return parsed;
  }
  if (typeof body.inputText === 'string') {
    if (stream) invalid('Titan embeddings do not stream: call InvokeModel', 'modelId');
    const { inputText, dimensions, normalize: _normalize, embeddingTypes: _types, fallbacks, ...rest } = body;
    const parsed: ParsedRequest = { kind: 'embeddings', stream: false, includeUsage: false,
      body: { model: modelId, input: inputText, encoding_format: 'float', ...(dimensions === undefined ? {} : { dimensions }),
        ...(fallbacks === undefined ? {} : { fallbacks }) } as unknown as ChatRequestBody,
      ...(Object.keys(rest).length > 0 ? { dropped: Object.keys(rest) } : {}) };
    families.set(parsed, 'titan-embeddings');
    return parsed;
  }
  return invalid(`the InvokeModel body for '${modelId}' is not one this gateway translates: it takes Anthropic Messages bodies `
    + '(anthropic_version "bedrock-2023-05-31", messages, max_tokens) and Titan embeddings bodies (inputText); '
    + 'for other model families use Converse (/bedrock/model/{modelId}/converse)');
}

function titanAnswer(body: string): string {
  const parsed = JSON.parse(body) as { data?: { embedding?: unknown }[]; usage?: { prompt_tokens?: unknown } };
  return JSON.stringify({ embedding: parsed.data?.[0]?.embedding ?? [],
    inputTextTokenCount: typeof parsed.usage?.prompt_tokens === 'number' ? parsed.usage.prompt_tokens : 0 });
}

/** Anthropic's SSE blocks (`event: x\ndata: {…}\n\n`) as Bedrock's `chunk` frames, the event's JSON in `bytes`. */
function chunkFrames(sse: string): Uint8Array {
  const frames: Uint8Array[] = [];
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    frames.push(eventFrame('chunk', { bytes: Buffer.from(line.slice('data: '.length)).toString('base64') }));
  }
  return frames.length === 1 ? frames[0] : Buffer.concat(frames);
}

function invokeWire(parsed: ParsedRequest): ClientWire {
  const errorBody = (error: ErrorData) => bedrockErrorBody(error);
  if (families.get(parsed) === 'titan-embeddings') {
    return { answer: titanAnswer, errorBody, errorHeaders: bedrockErrorHeaders, streamContentType: EVENT_STREAM_CONTENT_TYPE,
      chunk: () => '', end: () => '', streamError: (error) => exceptionFrame(streamExceptionName(error), error.message) };
  }
  const anthropic = createAnthropicWire(parsed);
  return {
    answer: anthropic.answer,
    errorBody,
    errorHeaders: bedrockErrorHeaders,
    streamContentType: EVENT_STREAM_CONTENT_TYPE,
    chunk: (chunk) => chunkFrames(anthropic.chunk(chunk) as string),
    end: () => chunkFrames(anthropic.end() as string),
    streamError: (error) => exceptionFrame(streamExceptionName(error), error.message),
  };
}

export const bedrockInvoke = Object.freeze<Dialect>({
  name: 'bedrock',
  defaultProvider: 'bedrock',
  parse: parseInvoke,
  wire: invokeWire,
  errorBody: (error) => bedrockErrorBody(error),
  errorHeaders: bedrockErrorHeaders,
});

export function bedrockInvokeRoutes(handler: RouteHandler): Route[] {
  return ['invoke', 'invoke-with-response-stream'].map((operation): Route => ({
    method: 'post', path: `/bedrock/model/:modelId/${operation}`, label: `/bedrock/model/{modelId}/${operation}`, readBody: true, handler,
    errorBody: bedrockInvoke.errorBody, errorHeaders: bedrockErrorHeaders,
  }));
}
