// AWS Bedrock Runtime's Converse API on `/bedrock`, for `@aws-sdk/client-bedrock-runtime` with its `endpoint` at
// `${gateway}/bedrock`: `POST /bedrock/model/{modelId}/converse` and `/converse-stream`, the model id one
// URL-encoded path segment (so `openai/gpt-4o-mini` arrives as `openai%2Fgpt-4o-mini`). This file reads the
// Converse request into an OpenAI chat request; bedrock-wire.ts writes answers, event streams and errors back.
//
// What has no OpenAI counterpart is refused with a ValidationException naming it, never dropped unseen:
// guardrails, prompt variables, response field paths, audio and video. `additionalModelRequestFields` travel as
// top-level fields of the chat request, where the provider's adapter takes what it knows (`top_k` and `thinking` for
// Claude, `reasoning_effort` for OpenAI; the bedrock adapter puts every field that is not OpenAI's back in
// additionalModelRequestFields) and reports the rest in `x-heimdall-dropped-params`. Cache points are hints that
// change no answer, so they are skipped.
//
// What OpenAI chat has no field for rides on extensions the bedrock adapter reads (workers/providers/bedrock.ts),
// so the same-provider round trip is faithful: a tool result's status as the tool message's `is_error` (the flag the
// /anthropic route writes too; each adapter renders it its own way), and signed reasoning as `thinking_blocks` on the
// assistant message.

import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest, NativePrefix, Route, RouteHandler } from '../http/server.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import type { Dialect } from './dialect.js';
import { bedrockErrorBody, bedrockErrorHeaders, BedrockWire } from './bedrock-wire.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

const invalid = (message: string, param?: string): GatewayError =>
  new GatewayError('INVALID_REQUEST', message, param === undefined ? {} : { param });

const ROUTE = /^\/bedrock\/model\/([^/]+)\/(converse|converse-stream)$/;

/** The model id from the path, decoded: the SDK percent-encodes it as one segment (`:` and `/` included). */
function modelIdOf(path: string): { modelId: string; stream: boolean } {
  const match = ROUTE.exec(path);
  if (!match) throw invalid(`no Converse operation at ${path}`);
  let modelId: string;
  try {
    modelId = decodeURIComponent(match[1]);
  } catch {
    throw invalid(`the model id '${match[1]}' in the path is not valid percent-encoding`, 'modelId');
  }
  return { modelId, stream: match[2] === 'converse-stream' };
}

// ---------------------------------------------------------------------------------------------------------------
// Content blocks

const IMAGE_TYPES: Readonly<Record<string, string>> = { png: 'image/png', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };
/** The media types the worker-side Bedrock adapter maps back to these same formats. */
const DOCUMENT_TYPES: Readonly<Record<string, string>> = {
  pdf: 'application/pdf',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  html: 'text/html',
  txt: 'text/plain',
  md: 'text/markdown',
};

/** The one member of a content block: Converse blocks are unions. */
function memberOf(block: unknown, at: string): [string, unknown] {
  if (!isObject(block)) throw invalid(`${at} must be a content block object`, at);
  const members = Object.keys(block).filter((name) => block[name] !== undefined && block[name] !== null);
  if (members.length !== 1) throw invalid(`${at} must hold exactly one member (text, image, toolUse, …), got ${members.join(', ') || 'none'}`, at);
  return [members[0], block[members[0]]];
}

function textValue(value: unknown, at: string): string {
  if (typeof value !== 'string') throw invalid(`${at}.text must be a string`, `${at}.text`);
  return value;
}

/** Inline bytes (base64 in the JSON) or an S3 object the Bedrock adapter passes on by URI. */
function sourceUrl(source: unknown, mime: string, at: string): string {
  if (isObject(source) && typeof source.bytes === 'string') return `data:${mime};base64,${source.bytes}`;
  if (isObject(source) && isObject(source.s3Location) && typeof source.s3Location.uri === 'string') return source.s3Location.uri;
  throw invalid(`${at}.source must be {bytes} (base64) or {s3Location: {uri}}`, `${at}.source`);
}

function imagePart(image: unknown, at: string): Json {
  const mime = isObject(image) && typeof image.format === 'string' ? IMAGE_TYPES[image.format] : undefined;
  if (!mime) throw invalid(`${at}.format must be one of ${Object.keys(IMAGE_TYPES).join(', ')}`, `${at}.format`);
  return { type: 'image_url', image_url: { url: sourceUrl((image as Json).source, mime, at) } };
}

function documentPart(document: unknown, at: string): Json {
  const mime = isObject(document) && typeof document.format === 'string' ? DOCUMENT_TYPES[document.format] : undefined;
  if (!mime) throw invalid(`${at}.format must be one of ${Object.keys(DOCUMENT_TYPES).join(', ')}`, `${at}.format`);
  const { name, source, format } = document as Json;
  if (typeof name !== 'string' || name === '') throw invalid(`${at}.name must be a non-empty string`, `${at}.name`);
  if (!isObject(source) || typeof source.bytes !== 'string') throw invalid(`${at}.source must be {bytes} (base64)`, `${at}.source`);
  return { type: 'file', file: { filename: `${name}.${String(format)}`, file_data: sourceUrl(source, mime, at) } };
}

/** A tool result's content as the OpenAI tool message's: text, and JSON as its text. */
function toolResultContent(result: Json, at: string): string | Json[] {
  if (result.status !== undefined && result.status !== 'success' && result.status !== 'error') {
    throw invalid(`${at}.status must be 'success' or 'error'`, `${at}.status`);
  }
  const content = result.content ?? [];
  if (!Array.isArray(content)) throw invalid(`${at}.content must be an array`, `${at}.content`);
  const texts = content.map((item, i) => {
    const [kind, value] = memberOf(item, `${at}.content[${i}]`);
    if (kind === 'text') return textValue(value, `${at}.content[${i}]`);
    if (kind === 'json') return JSON.stringify(value);
    throw invalid(`${at}.content[${i}]: a tool result may hold text and json here, not ${kind}`, `${at}.content[${i}]`);
  });
  return texts.length === 1 ? texts[0] : texts.map((text) => ({ type: 'text', text }));
}

interface Turn {
  /** `tool` messages first: OpenAI wants them right after the assistant's tool calls. */
  tools: Json[];
  parts: Json[];
}

function userTurn(content: unknown[], at: string): Turn {
  const turn: Turn = { tools: [], parts: [] };
  content.forEach((block, i) => {
    const where = `${at}.content[${i}]`;
    const [kind, value] = memberOf(block, where);
    switch (kind) {
      case 'text':
        turn.parts.push({ type: 'text', text: textValue(value, where) });
        break;
      case 'image':
        turn.parts.push(imagePart(value, `${where}.image`));
        break;
      case 'document':
        turn.parts.push(documentPart(value, `${where}.document`));
        break;
      case 'toolResult': {
        const result = value as Json;
        if (!isObject(result) || typeof result.toolUseId !== 'string') throw invalid(`${where}.toolResult needs a toolUseId`, where);
        const message: Json = { role: 'tool', tool_call_id: result.toolUseId, content: toolResultContent(result, `${where}.toolResult`) };
        if (result.status !== undefined) message.is_error = result.status === 'error';
        turn.tools.push(message);
        break;
      }
      case 'cachePoint':
        break;
      default:
        throw invalid(`${where}: a ${kind} block is not supported in a user message here`, where);
    }
  });
  return turn;
}

function assistantMessage(content: unknown[], at: string): Json {
  const texts: string[] = [];
  const toolCalls: Json[] = [];
  let reasoning = '';
  const thinking: Json[] = [];
  content.forEach((block, i) => {
    const where = `${at}.content[${i}]`;
    const [kind, value] = memberOf(block, where);
    if (kind === 'text') {
      texts.push(textValue(value, where));
    } else if (kind === 'toolUse') {
      const use = value as Json;
      if (!isObject(use) || typeof use.toolUseId !== 'string' || typeof use.name !== 'string') {
        throw invalid(`${where}.toolUse needs a toolUseId and a name`, where);
      }
      toolCalls.push({ id: use.toolUseId, type: 'function', function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) } });
    } else if (kind === 'reasoningContent') {
      const reasoningBlock = value as Json;
      if (isObject(reasoningBlock) && isObject(reasoningBlock.reasoningText)) {
        const { text, signature } = reasoningBlock.reasoningText;
        reasoning += textValue(text, `${where}.reasoningContent.reasoningText`);
        // Providers that check thinking (Claude) need it back with its signature, as `thinking_blocks`.
        if (typeof signature === 'string') thinking.push({ type: 'thinking', thinking: text, signature });
      } else if (isObject(reasoningBlock) && typeof reasoningBlock.redactedContent === 'string') {
        thinking.push({ type: 'redacted_thinking', data: reasoningBlock.redactedContent });
      } else {
        throw invalid(`${where}.reasoningContent must be {reasoningText: {text, signature}} or {redactedContent}`, where);
      }
    } else if (kind !== 'cachePoint') {
      throw invalid(`${where}: a ${kind} block is not supported in an assistant message here`, where);
    }
  });
  const message: Json = { role: 'assistant', content: texts.length <= 1 ? (texts[0] ?? (toolCalls.length > 0 ? null : ''))
    : texts.map((text) => ({ type: 'text', text })) };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning !== '') message.reasoning_content = reasoning;
  if (thinking.length > 0) message.thinking_blocks = thinking;
  return message;
}

function chatMessages(body: Json): Json[] {
  const out: Json[] = [];
  if (body.system !== undefined) {
    if (!Array.isArray(body.system)) throw invalid("'system' must be an array of blocks", 'system');
    body.system.forEach((block, i) => {
      const [kind, value] = memberOf(block, `system[${i}]`);
      if (kind === 'text') out.push({ role: 'system', content: textValue(value, `system[${i}]`) });
      else if (kind !== 'cachePoint') throw invalid(`system[${i}]: a ${kind} block is not supported here`, `system[${i}]`);
    });
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalid("'messages' must be a non-empty array", 'messages');
  body.messages.forEach((message, i) => {
    const at = `messages[${i}]`;
    if (!isObject(message) || (message.role !== 'user' && message.role !== 'assistant')) {
      throw invalid(`${at}.role must be 'user' or 'assistant'`, `${at}.role`);
    }
    if (!Array.isArray(message.content) || message.content.length === 0) {
      throw invalid(`${at}.content must be a non-empty array of content blocks`, `${at}.content`);
    }
    if (message.role === 'assistant') {
      out.push(assistantMessage(message.content, at));
      return;
    }
    const turn = userTurn(message.content, at);
    out.push(...turn.tools);
    if (turn.parts.length > 0) {
      const onlyText = turn.parts.length === 1 && turn.parts[0].type === 'text';
      out.push({ role: 'user', content: onlyText ? turn.parts[0].text : turn.parts });
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

function inferenceFields(config: unknown): Json {
  if (config === undefined) return {};
  if (!isObject(config)) throw invalid("'inferenceConfig' must be an object", 'inferenceConfig');
  const fields: Json = {};
  const number = (name: string, target: string, integer = false) => {
    const value = config[name];
    if (value === undefined || value === null) return;
    if (typeof value !== 'number' || (integer && !Number.isInteger(value))) {
      throw invalid(`inferenceConfig.${name} must be ${integer ? 'an integer' : 'a number'}`, `inferenceConfig.${name}`);
    }
    fields[target] = value;
  };
  number('maxTokens', 'max_tokens', true);
  number('temperature', 'temperature');
  number('topP', 'top_p');
  const stops = config.stopSequences;
  if (stops !== undefined && stops !== null) {
    if (!Array.isArray(stops) || !stops.every((stop) => typeof stop === 'string')) {
      throw invalid('inferenceConfig.stopSequences must be an array of strings', 'inferenceConfig.stopSequences');
    }
    if (stops.length > 0) fields.stop = stops;
  }
  const unknown = Object.keys(config).filter((name) => !['maxTokens', 'temperature', 'topP', 'stopSequences'].includes(name));
  if (unknown.length > 0) throw invalid(`inferenceConfig.${unknown[0]} is not an inference setting`, `inferenceConfig.${unknown[0]}`);
  return fields;
}

function toolFields(config: unknown): Json {
  if (config === undefined) return {};
  if (!isObject(config) || !Array.isArray(config.tools)) throw invalid("'toolConfig.tools' must be an array", 'toolConfig.tools');
  const tools: Json[] = [];
  config.tools.forEach((tool, i) => {
    const at = `toolConfig.tools[${i}]`;
    const [kind, spec] = memberOf(tool, at);
    if (kind === 'cachePoint') return;
    if (kind !== 'toolSpec') throw invalid(`${at}: ${kind} tools are not supported here; declare a toolSpec`, at);
    if (!isObject(spec) || typeof spec.name !== 'string' || !isObject(spec.inputSchema) || !isObject(spec.inputSchema.json)) {
      throw invalid(`${at}.toolSpec needs a name and inputSchema.json`, `${at}.toolSpec`);
    }
    const fn: Json = { name: spec.name, parameters: spec.inputSchema.json };
    if (typeof spec.description === 'string') fn.description = spec.description;
    if (typeof spec.strict === 'boolean') fn.strict = spec.strict;
    tools.push({ type: 'function', function: fn });
  });
  const fields: Json = tools.length > 0 ? { tools } : {};
  if (config.toolChoice !== undefined) {
    const [kind, value] = memberOf(config.toolChoice, 'toolConfig.toolChoice');
    if (kind === 'auto') fields.tool_choice = 'auto';
    else if (kind === 'any') fields.tool_choice = 'required';
    else if (kind === 'tool' && isObject(value) && typeof value.name === 'string') {
      fields.tool_choice = { type: 'function', function: { name: value.name } };
    } else {
      throw invalid('toolConfig.toolChoice must be {auto: {}}, {any: {}} or {tool: {name}}', 'toolConfig.toolChoice');
    }
  }
  return fields;
}

/** Converse fields the gateway cannot honour through an OpenAI request, and why. */
const REFUSED: Readonly<Record<string, string>> = {
  guardrailConfig: 'guardrails are not applied by the gateway',
  promptVariables: 'prompt management is not available through the gateway',
  additionalModelResponseFieldPaths: 'the answer carries no additional model response fields here',
  performanceConfig: 'latency-optimized inference is not available through the gateway',
};
const READ = new Set(['messages', 'system', 'inferenceConfig', 'toolConfig', 'additionalModelRequestFields', 'requestMetadata']);

export function toChatRequest(body: Json, modelId: string): ChatRequestBody {
  for (const name of Object.keys(body)) {
    if (READ.has(name) || body[name] === undefined || body[name] === null) continue;
    throw invalid(REFUSED[name] ? `'${name}' is not supported: ${REFUSED[name]}` : `'${name}' is not a Converse request field`, name);
  }
  const chat: ChatRequestBody = {
    model: modelId,
    messages: chatMessages(body),
    ...inferenceFields(body.inferenceConfig),
    ...toolFields(body.toolConfig),
  };
  if (body.requestMetadata !== undefined) {
    const metadata = body.requestMetadata;
    if (!isObject(metadata) || !Object.values(metadata).every((value) => typeof value === 'string')) {
      throw invalid("'requestMetadata' must map strings to strings", 'requestMetadata');
    }
    chat.metadata = metadata;
  }
  const extra = body.additionalModelRequestFields;
  if (extra !== undefined) {
    if (!isObject(extra)) throw invalid("'additionalModelRequestFields' must be an object", 'additionalModelRequestFields');
    for (const [name, value] of Object.entries(extra)) {
      // A field the Converse request already set would be silently overridden either way. The gateway's own
      // `fallbacks` is welcome here: it is how a Converse client asks for them.
      if (Object.hasOwn(chat, name) || name === 'stream' || name === 'stream_options') {
        throw invalid(`additionalModelRequestFields.${name} conflicts with a field the Converse request sets`,
          `additionalModelRequestFields.${name}`);
      }
      chat[name] = value;
    }
  }
  return chat;
}

function parseConverse(request: IncomingRequest): ParsedRequest {
  const { modelId, stream } = modelIdOf(request.path);
  const body = parseJsonObjectBody(request.body);
  const chat = toChatRequest(body, modelId);
  if (stream) chat.stream = true;
  // The stream's closing metadata event carries the usage, so the provider is asked for it.
  return { kind: 'chat', body: chat, stream, includeUsage: stream };
}

/** `/bedrock/model/{modelId}/converse[-stream]`: a model id that names no configured provider goes to `bedrock`. */
export const bedrockConverse = Object.freeze<Dialect>({
  name: 'bedrock',
  defaultProvider: 'bedrock',
  parse: parseConverse,
  wire: () => new BedrockWire(),
  errorBody: (error) => bedrockErrorBody(error),
  errorHeaders: bedrockErrorHeaders,
});

/** Any other Bedrock Runtime operation (InvokeModel, ApplyGuardrail, …): a 404 the SDK raises as ResourceNotFoundException. */
export const bedrockPrefix: NativePrefix = Object.freeze({
  prefix: '/bedrock',
  errorBody: bedrockConverse.errorBody,
  errorHeaders: bedrockErrorHeaders,
  served: 'the gateway serves Converse and ConverseStream (/bedrock/model/{modelId}/converse and /converse-stream) InvokeModel (/invoke, /invoke-with-response-stream) and Rerank (/bedrock/rerank)',
});

/** The routes, with the handler the pipeline built for `bedrockConverse`. */
export function bedrockRoutes(handler: RouteHandler): Route[] {
  return ['converse', 'converse-stream'].map((operation): Route => ({
    method: 'post', path: `/bedrock/model/:modelId/${operation}`, readBody: true, handler,
    errorBody: bedrockConverse.errorBody, errorHeaders: bedrockErrorHeaders,
  }));
}
