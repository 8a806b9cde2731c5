// Bedrock Runtime's InvokeModel (`/bedrock/model/{modelId}/invoke`) and InvokeModelWithResponseStream
// (`/invoke-with-response-stream`) for `@aws-sdk/client-bedrock-runtime`. InvokeModel's body is the model family's own
// (src/dialects/invoke/: Meta Llama, Mistral, DeepSeek, Cohere Command R, Amazon Nova, Titan Text, AI21 Jamba and
// gpt-oss; Anthropic's Messages body and Titan's and Cohere's embeddings bodies here). The built-in bedrock provider gets the body as
// it came (a native `invoke` job) and its answer and stream go back as Bedrock wrote them. Any other provider gets the
// body translated to a chat request, and the answer back in the family's shape; its stream as the family's events,
// each in an event-stream `chunk` frame whose `bytes` hold the event's JSON, the last with Bedrock's
// `amazon-bedrock-invocationMetrics`. A body no translation can carry (Cohere's documents or tools) is refused for
// them with a 400 naming the field. The family is the model id's (a Bedrock id, or an alias named after one), else
// the body's fields tell it; a body of no family Heimdall knows is refused, naming the families.

import { randomUUID } from 'node:crypto';
import type { ErrorData } from '../errors/error-data.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import { toOpenAIRequest } from './anthropic.js';
import { createAnthropicWire } from './anthropic-wire.js';
import { bedrockErrorBody, bedrockErrorHeaders, EVENT_STREAM_CONTENT_TYPE, eventFrame, exceptionFrame, streamExceptionName } from './bedrock-wire.js';
import type { ClientWire, Dialect } from './dialect.js';
import { deltaOf, emptyReply, replyOf, Untranslatable, type InvokeFamily, type Json } from './invoke/family.js';
import { FAMILIES, familyOf, type Family } from './invoke/index.js';

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

const families = new WeakMap<ParsedRequest, Family>();
/** The client's body, for the families whose answer echoes it (Cohere's chat_history). */
const bodies = new WeakMap<ParsedRequest, Json>();

function anthropicRequest(body: Json, modelId: string, stream: boolean): ParsedRequest {
  const { anthropic_version: _version, anthropic_beta: betas, ...messages } = body;
  // What chat has no place for is named in x-heimdall-dropped-params, as on /anthropic/v1/messages.
  const noted = { lost: [] as string[], reshaped: false };
  const parsed = toOpenAIRequest({ ...messages, model: modelId, ...(stream ? { stream: true } : {}) }, false, noted);
  const dropped = [...(parsed.dropped ?? []), ...noted.lost, ...(betas === undefined ? [] : ['anthropic_beta'])];
  if (dropped.length > 0) parsed.dropped = dropped;
  return parsed;
}

function titanEmbeddingsRequest(body: Json, modelId: string, stream: boolean): ParsedRequest {
  if (stream) invalid('Titan embeddings do not stream: call InvokeModel', 'modelId');
  if (typeof body.inputText !== 'string' || body.inputText === '') invalid("'inputText' is required and must be a non-empty string", 'inputText');
  const { inputText, dimensions, normalize: _normalize, embeddingTypes: _types, fallbacks, ...rest } = body;
  return { kind: 'embeddings', stream: false, includeUsage: false,
    body: { model: modelId, input: inputText, encoding_format: 'float', ...(dimensions === undefined ? {} : { dimensions }),
      ...(fallbacks === undefined ? {} : { fallbacks }) } as unknown as ChatRequestBody,
    ...(Object.keys(rest).length > 0 ? { dropped: Object.keys(rest) } : {}) };
}

const COHERE_EMBED_FIELDS = ['texts', 'input_type', 'truncate', 'embedding_types', 'output_dimension', 'fallbacks'];

/** Cohere Embed's body (`texts`, `input_type`, …): an embeddings request; `output_dimension` is OpenAI's `dimensions`. */
function cohereEmbeddingsRequest(body: Json, modelId: string, stream: boolean): ParsedRequest {
  if (stream) invalid('Cohere embeddings do not stream: call InvokeModel', 'modelId');
  const { texts, input_type: inputType, truncate, embedding_types: types, output_dimension: dimensions, fallbacks } = body;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((text) => typeof text === 'string')) {
    invalid("'texts' is required: a non-empty array of strings (images are not translated)", 'texts');
  }
  if (types !== undefined && !(Array.isArray(types) && types.every((type) => type === 'float'))) {
    invalid("'embedding_types' may ask for float vectors only here", 'embedding_types');
  }
  const dropped = Object.keys(body).filter((name) => !COHERE_EMBED_FIELDS.includes(name));
  return { kind: 'embeddings', stream: false, includeUsage: false,
    body: { model: modelId, input: texts, encoding_format: 'float', ...(inputType === undefined ? {} : { input_type: inputType }),
      ...(truncate === undefined ? {} : { truncate }), ...(dimensions === undefined ? {} : { dimensions }),
      ...(fallbacks === undefined ? {} : { fallbacks }) } as unknown as ChatRequestBody,
    ...(dropped.length > 0 ? { dropped } : {}) };
}

function familyRequest(family: InvokeFamily, body: Json, modelId: string, stream: boolean): ParsedRequest {
  const { fallbacks, ...own } = body;
  const extra = fallbacks === undefined ? {} : { fallbacks };
  try {
    const { chat, dropped } = family.toChat(own, modelId);
    // The usage closes a stream's last event (its counts, and invocationMetrics).
    const body: ChatRequestBody = { ...chat, ...extra, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) } as ChatRequestBody;
    return { kind: 'chat', body, stream, includeUsage: stream, ...(dropped.length > 0 ? { dropped } : {}) };
  } catch (error) {
    if (!(error instanceof Untranslatable)) throw error;
    return { kind: 'chat', body: { model: modelId, messages: [], ...extra } as ChatRequestBody, stream, includeUsage: stream,
      native: { kind: 'invoke', body: own, untranslatable: error.data } };
  }
}

const FAMILY_NAMES = ['Anthropic Messages (anthropic_version, messages)', 'Titan embeddings (inputText)', 'Cohere Embed (texts)',
  ...FAMILIES.map((family) => family.name)].join(', ');

function parseInvoke(request: IncomingRequest): ParsedRequest {
  const { modelId, stream } = modelIdOf(request.path);
  const body = parseJsonObjectBody(request.body);
  const family = familyOf(modelId, body);
  if (family === null) {
    return invalid(`the InvokeModel body for '${modelId}' is of no model family this gateway knows (${FAMILY_NAMES}); `
      + "a 'prompt' body is Llama's, Mistral's or DeepSeek's: name the model by its Bedrock id (or an alias named after one) "
      + 'so the family is known, or use Converse (/bedrock/model/{modelId}/converse)');
  }
  if (family === 'titan-embeddings' || family === 'cohere-embeddings') {
    const parsed = family === 'titan-embeddings' ? titanEmbeddingsRequest(body, modelId, stream) : cohereEmbeddingsRequest(body, modelId, stream);
    families.set(parsed, family);
    bodies.set(parsed, body);
    return parsed;
  }
  const parsed = family === 'anthropic' ? anthropicRequest(body, modelId, stream) : familyRequest(family, body, modelId, stream);
  const { fallbacks: _fallbacks, ...own } = body;
  // The bedrock provider takes the body as it came; the chat translation is for the others.
  parsed.native ??= { kind: 'invoke', body: own, untranslatable: null };
  families.set(parsed, family);
  bodies.set(parsed, own);
  return parsed;
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

function titanAnswer(body: string): string {
  const parsed = JSON.parse(body) as { data?: { embedding?: unknown }[]; usage?: { prompt_tokens?: unknown } };
  return JSON.stringify({ embedding: parsed.data?.[0]?.embedding ?? [],
    inputTextTokenCount: typeof parsed.usage?.prompt_tokens === 'number' ? parsed.usage.prompt_tokens : 0 });
}

/** Cohere Embed's answer: float vectors by type when the request asked by type, else a plain list. */
function cohereEmbeddingsAnswer(answer: string, body: Json): string {
  const parsed = JSON.parse(answer) as { id?: unknown; data?: { embedding?: unknown }[]; usage?: { prompt_tokens?: unknown } };
  const vectors = (parsed.data ?? []).map((item) => item.embedding ?? []);
  const byType = Array.isArray(body.embedding_types);
  const tokens = typeof parsed.usage?.prompt_tokens === 'number' ? parsed.usage.prompt_tokens : 0;
  return JSON.stringify({ id: typeof parsed.id === 'string' ? parsed.id : randomUUID(), texts: body.texts,
    embeddings: byType ? { float: vectors } : vectors, response_type: byType ? 'embeddings_by_type' : 'embeddings_floats',
    meta: { billed_units: { input_tokens: tokens } } });
}

const chunkFrame = (json: string): Uint8Array => eventFrame('chunk', { bytes: Buffer.from(json).toString('base64') });
const joinFrames = (frames: Uint8Array[]): Uint8Array => (frames.length === 1 ? frames[0] : Buffer.concat(frames));

/** Anthropic's SSE blocks (`event: x\ndata: {…}\n\n`) as Bedrock's `chunk` frames, the event's JSON in `bytes`. */
function sseFrames(sse: string): Uint8Array {
  const frames: Uint8Array[] = [];
  for (const line of sse.split('\n')) if (line.startsWith('data: ')) frames.push(chunkFrame(line.slice('data: '.length)));
  return joinFrames(frames);
}

const errorBody = (error: ErrorData) => bedrockErrorBody(error);
const streamError = (error: ErrorData) => exceptionFrame(streamExceptionName(error), error.message);
const BASE = { errorBody, errorHeaders: bedrockErrorHeaders, streamContentType: EVENT_STREAM_CONTENT_TYPE, streamError };

/** A family's answer and stream from the chat answer and chunks; the stream's last event carries Bedrock's metrics. */
function familyWire(family: InvokeFamily, body: Json): ClientWire {
  const stream = family.stream(body);
  const reply = emptyReply();
  const begun = Date.now();
  let firstByte: number | null = null;
  const frames = (events: Json[]) => joinFrames(events.map((event) => chunkFrame(JSON.stringify(event))));
  return {
    ...BASE,
    answer: (completion) => JSON.stringify(family.answer(replyOf(completion), body)),
    chunk(chunk) {
      const delta = deltaOf(chunk, reply);
      if (delta === null) return '';
      const events = firstByte === null ? stream.start(reply) : [];
      firstByte ??= Date.now() - begun;
      events.push(...stream.delta(delta, reply));
      return events.length === 0 ? '' : frames(events);
    },
    end() {
      const events = [...(firstByte === null ? stream.start(reply) : []), ...stream.end(reply)];
      events[events.length - 1] = { ...events.at(-1), 'amazon-bedrock-invocationMetrics': { inputTokenCount: reply.promptTokens,
        outputTokenCount: reply.completionTokens, invocationLatency: Date.now() - begun, firstByteLatency: firstByte ?? Date.now() - begun } };
      return frames(events);
    },
  };
}

function invokeWire(parsed: ParsedRequest): ClientWire {
  const family = families.get(parsed);
  if (family === 'titan-embeddings') return { ...BASE, answer: titanAnswer, chunk: () => '', end: () => '' };
  if (family === 'cohere-embeddings') {
    const body = bodies.get(parsed) ?? {};
    return { ...BASE, answer: (answer) => cohereEmbeddingsAnswer(answer, body), chunk: () => '', end: () => '' };
  }
  if (family !== undefined && family !== 'anthropic') return familyWire(family, bodies.get(parsed) ?? {});
  const anthropic = createAnthropicWire(parsed);
  return {
    ...BASE,
    answer: anthropic.answer,
    chunk: (chunk) => sseFrames(anthropic.chunk(chunk) as string),
    end: () => sseFrames(anthropic.end() as string),
  };
}

/** A native attempt's wire: Bedrock's answer as it came; each stream chunk (an event's JSON) in a `chunk` frame. */
const nativeWire = Object.freeze<ClientWire>({ ...BASE, answer: (body) => body, chunk: chunkFrame, end: () => '' });

export const bedrockInvoke = Object.freeze<Dialect>({
  name: 'bedrock',
  defaultProvider: 'bedrock',
  parse: parseInvoke,
  wire: invokeWire,
  nativeWire: () => nativeWire,
  errorBody,
  errorHeaders: bedrockErrorHeaders,
});

export function bedrockInvokeRoutes(handler: RouteHandler): Route[] {
  return ['invoke', 'invoke-with-response-stream'].map((operation): Route => ({
    method: 'post', path: `/bedrock/model/:modelId/${operation}`, label: `/bedrock/model/{modelId}/${operation}`, readBody: true, handler,
    errorBody: bedrockInvoke.errorBody, errorHeaders: bedrockErrorHeaders,
  }));
}
