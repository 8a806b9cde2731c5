// Cohere's v2 API as a drop-in for the `cohere-ai` SDK (`environment` at `/cohere`): `/cohere/v2/chat` (JSON, or
// Cohere's typed SSE events), `/cohere/v2/embed` and `/cohere/v1/tokenize`. Chat and embed are translated to the
// pipeline's OpenAI requests, so they reach any provider (a bare model means `cohere`); their answers and errors
// (`{"message"}`) come back in Cohere's shape. Fields chat cannot carry are named in `x-heimdall-dropped-params`.
// Tokenize is Cohere's own tokenizer: a `tokenize` job, which only a provider with that API (capability) serves.

import { randomUUID } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.js';
import type { ErrorData } from '../errors/error-data.js';
import type { NativePrefix, Route, RouteHandler } from '../http/server.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import type { ClientWire, Dialect } from './dialect.js';
import { cohereErrorBody, cohereRerank } from './rerank.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const present = (value: unknown): boolean => value !== undefined && value !== null;

function invalid(message: string, param: string): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

function requireModel(body: Json): string {
  if (typeof body.model !== 'string' || body.model === '') invalid("'model' is required and must be a non-empty string, like \"command-a-03-2025\"", 'model');
  return body.model;
}

// ---- chat request ----

/** Cohere's parameters that are OpenAI's under another name. */
const RENAMED: Readonly<Record<string, string>> = { temperature: 'temperature', p: 'top_p', k: 'top_k', max_tokens: 'max_tokens',
  seed: 'seed', frequency_penalty: 'frequency_penalty', presence_penalty: 'presence_penalty', stop_sequences: 'stop' };
/** Fields the translation carries in its own way. */
const HANDLED = new Set(['model', 'messages', 'stream', 'tools', 'tool_choice', 'response_format', 'strict_tools', 'fallbacks']);

function textParts(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) invalid(`${where}: content must be a string or an array of content blocks`, where);
  return content.map((part: unknown, index) => {
    if (isObject(part) && part.type === 'text' && typeof part.text === 'string') return part.text;
    // A tool result may be a document: its data goes as JSON text.
    if (isObject(part) && part.type === 'document' && isObject(part.document)) return JSON.stringify(part.document.data ?? part.document);
    return invalid(`${where}.content[${index}] must be a text block`, `${where}.content[${index}]`);
  }).join('');
}

function userContent(content: unknown, where: string): unknown {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) invalid(`${where}: content must be a string or an array of content blocks`, where);
  return content.map((part: unknown, index) => {
    if (isObject(part) && part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
    if (isObject(part) && part.type === 'image_url') return { type: 'image_url', image_url: part.image_url };
    return invalid(`${where}.content[${index}] must be a text or image_url block`, `${where}.content[${index}]`);
  });
}

function chatMessages(messages: unknown): Json[] {
  if (!Array.isArray(messages) || messages.length === 0) invalid("'messages' must be a non-empty array", 'messages');
  return messages.map((message: unknown, index) => {
    const where = `messages[${index}]`;
    if (!isObject(message)) invalid(`${where} must be an object`, where);
    switch (message.role) {
      case 'system':
        return { role: 'system', content: textParts(message.content, where) };
      case 'user':
        return { role: 'user', content: userContent(message.content, where) };
      case 'assistant': {
        const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
        const text = present(message.content) ? textParts(message.content, where) : typeof message.tool_plan === 'string' ? message.tool_plan : '';
        return { role: 'assistant', content: calls.length > 0 && text === '' ? null : text,
          ...(calls.length > 0 ? { tool_calls: calls.map((call: unknown) => {
            const fn = isObject(call) && isObject(call.function) ? call.function : {};
            return { id: String((call as Json)?.id ?? ''), type: 'function', function: { name: String(fn.name ?? ''), arguments: String(fn.arguments ?? '{}') } };
          }) } : {}) };
      }
      case 'tool':
        if (typeof message.tool_call_id !== 'string') invalid(`${where}: a tool message needs 'tool_call_id'`, `${where}.tool_call_id`);
        return { role: 'tool', tool_call_id: message.tool_call_id, content: textParts(message.content, where) };
      default:
        return invalid(`${where}: unknown role '${String(message.role)}' (system, user, assistant or tool)`, `${where}.role`);
    }
  });
}

function responseFormat(format: unknown): Json {
  if (!isObject(format)) invalid("'response_format' must be an object", 'response_format');
  if (format.type === 'text') return { type: 'text' };
  if (format.type !== 'json_object') invalid("'response_format.type' must be 'text' or 'json_object'", 'response_format.type');
  return isObject(format.json_schema)
    ? { type: 'json_schema', json_schema: { name: 'response', schema: format.json_schema } }
    : { type: 'json_object' };
}

function parseChat(raw: Buffer | null): ParsedRequest {
  const body = parseJsonObjectBody(raw);
  const chat: Json = { model: requireModel(body), messages: chatMessages(body.messages) };
  if (present(body.stream) && typeof body.stream !== 'boolean') invalid("'stream' must be a boolean", 'stream');
  const stream = body.stream === true;
  if (stream) {
    chat.stream = true;
    // message-end carries the usage, so the provider is asked for it.
    chat.stream_options = { include_usage: true };
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    chat.tools = body.tools.map((tool: unknown) => (body.strict_tools === true && isObject(tool) && isObject(tool.function)
      ? { ...tool, function: { ...tool.function, strict: true } } : tool));
  }
  if (body.tool_choice === 'REQUIRED') chat.tool_choice = 'required';
  else if (body.tool_choice === 'NONE') chat.tool_choice = 'none';
  else if (present(body.tool_choice)) invalid("'tool_choice' must be 'REQUIRED' or 'NONE'", 'tool_choice');
  if (present(body.response_format)) chat.response_format = responseFormat(body.response_format);
  if (present(body.fallbacks)) chat.fallbacks = body.fallbacks;
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(body)) {
    if (HANDLED.has(name) || !present(value)) continue;
    if (Object.hasOwn(RENAMED, name)) chat[RENAMED[name]] = value;
    else dropped.push(name);
  }
  return { kind: 'chat', body: chat as ChatRequestBody, stream, includeUsage: stream, ...(dropped.length > 0 ? { dropped } : {}) };
}

// ---- chat answer and stream ----

const FINISH: Readonly<Record<string, string>> = { stop: 'COMPLETE', length: 'MAX_TOKENS', tool_calls: 'TOOL_CALL', content_filter: 'ERROR_TOXIC' };
const finishOf = (reason: unknown): string => (typeof reason === 'string' && Object.hasOwn(FINISH, reason) ? FINISH[reason] : 'COMPLETE');

function usageOf(usage: unknown): Json {
  const read = isObject(usage) ? usage : {};
  const input = typeof read.prompt_tokens === 'number' ? read.prompt_tokens : 0;
  const output = typeof read.completion_tokens === 'number' ? read.completion_tokens : 0;
  return { billed_units: { input_tokens: input, output_tokens: output }, tokens: { input_tokens: input, output_tokens: output } };
}

const cohereToolCall = (call: Json): Json => {
  const fn = isObject(call.function) ? call.function : {};
  return { id: String(call.id ?? ''), type: 'function', function: { name: String(fn.name ?? ''), arguments: String(fn.arguments ?? '') } };
};

export function cohereChatAnswer(body: string): string {
  const parsed = JSON.parse(body) as Json;
  const choice = Array.isArray(parsed.choices) && isObject(parsed.choices[0]) ? parsed.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const text = typeof message.content === 'string' ? message.content : '';
  const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as Json[]).map(cohereToolCall) : [];
  return JSON.stringify({
    id: typeof parsed.id === 'string' ? parsed.id : randomUUID(),
    finish_reason: finishOf(choice.finish_reason),
    message: {
      role: 'assistant',
      // With tool calls, Cohere puts the text that goes with them in tool_plan.
      ...(calls.length > 0 ? { tool_plan: text, tool_calls: calls } : { content: text === '' ? [] : [{ type: 'text', text }] }),
    },
    usage: usageOf(parsed.usage),
  });
}

const event = (type: string, payload: Json): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;

/** One answer in Cohere's shape; a stream's OpenAI chunks become Cohere's typed events, its content blocks tracked. */
class CohereWire implements ClientWire {
  readonly streamContentType = 'text/event-stream; charset=utf-8';
  #started = false;
  #textOpen = false;
  #ended = false;
  readonly #tools = new Map<number, number>();
  #openTool: number | null = null;
  #finish: unknown = null;
  #usage: unknown = null;

  answer(body: string): string {
    return cohereChatAnswer(body);
  }

  errorBody(error: ErrorData): string {
    return cohereErrorBody(error);
  }

  chunk(chunk: string): string {
    const data = JSON.parse(chunk) as Json;
    let out = this.#start(typeof data.id === 'string' ? data.id : randomUUID());
    const choice = Array.isArray(data.choices) && isObject(data.choices[0]) ? data.choices[0] : null;
    const delta = choice && isObject(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string' && delta.content !== '') {
      if (this.#tools.size > 0) {
        out += event('tool-plan-delta', { delta: { message: { tool_plan: delta.content } } });
      } else {
        if (!this.#textOpen) {
          this.#textOpen = true;
          out += event('content-start', { index: 0, delta: { message: { content: { type: 'text', text: '' } } } });
        }
        out += event('content-delta', { index: 0, delta: { message: { content: { text: delta.content } } } });
      }
    }
    if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls as Json[]) out += this.#toolCall(call);
    if (choice && present(choice.finish_reason)) this.#finish = choice.finish_reason;
    if (isObject(data.usage)) this.#usage = data.usage;
    return out;
  }

  end(): string {
    if (this.#ended) return '';
    this.#ended = true;
    return `${this.#start(randomUUID())}${this.#closeText()}${this.#closeTool()}`
      + event('message-end', { delta: { finish_reason: finishOf(this.#finish ?? 'stop'), usage: usageOf(this.#usage) } });
  }

  streamError(error: ErrorData): string {
    return event('message-end', { delta: { finish_reason: 'ERROR', error: error.message, usage: usageOf(this.#usage) } });
  }

  #start(id: string): string {
    if (this.#started) return '';
    this.#started = true;
    return event('message-start', { id, delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } });
  }

  #closeText(): string {
    if (!this.#textOpen) return '';
    this.#textOpen = false;
    return event('content-end', { index: 0 });
  }

  #closeTool(): string {
    if (this.#openTool === null) return '';
    const index = this.#openTool;
    this.#openTool = null;
    return event('tool-call-end', { index });
  }

  #toolCall(call: Json): string {
    const openAIIndex = typeof call.index === 'number' ? call.index : 0;
    const fn = isObject(call.function) ? call.function : {};
    let index = this.#tools.get(openAIIndex);
    let out = '';
    if (index === undefined) {
      out += this.#closeText() + this.#closeTool();
      index = this.#tools.size;
      this.#tools.set(openAIIndex, index);
      this.#openTool = index;
      out += event('tool-call-start', { index, delta: { message: { tool_calls: {
        id: String(call.id ?? ''), type: 'function', function: { name: String(fn.name ?? ''), arguments: '' } } } } });
    }
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      out += event('tool-call-delta', { index, delta: { message: { tool_calls: { function: { arguments: fn.arguments } } } } });
    }
    return out;
  }
}

// ---- embed ----

const EMBED_HANDLED = new Set(['model', 'texts', 'inputs', 'input_type', 'embedding_types', 'output_dimension', 'fallbacks']);

function parseEmbed(raw: Buffer | null): ParsedRequest {
  const body = parseJsonObjectBody(raw);
  const model = requireModel(body);
  const texts = body.texts;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((text) => typeof text === 'string')) {
    invalid("'texts' must be a non-empty array of strings (image and mixed 'inputs' are not supported)", 'texts');
  }
  const types = body.embedding_types ?? ['float'];
  if (!Array.isArray(types) || types.length !== 1 || types[0] !== 'float') {
    invalid("'embedding_types' may only ask for [\"float\"] here", 'embedding_types');
  }
  const request: Json = { model, input: texts, encoding_format: 'float',
    ...(typeof body.input_type === 'string' ? { input_type: body.input_type } : {}),
    ...(present(body.output_dimension) ? { dimensions: body.output_dimension } : {}),
    ...(present(body.fallbacks) ? { fallbacks: body.fallbacks } : {}) };
  const dropped = Object.keys(body).filter((name) => !EMBED_HANDLED.has(name) && present(body[name]));
  return { kind: 'embeddings', body: request as ChatRequestBody, stream: false, includeUsage: false, ...(dropped.length > 0 ? { dropped } : {}) };
}

function cohereEmbedAnswer(body: string, texts: readonly string[]): string {
  const parsed = JSON.parse(body) as { id?: unknown; data?: { embedding?: unknown }[]; usage?: { prompt_tokens?: unknown } };
  const vectors = (parsed.data ?? []).map((item) => item.embedding);
  return JSON.stringify({
    id: typeof parsed.id === 'string' ? parsed.id : randomUUID(),
    embeddings: { float: vectors },
    texts,
    meta: { api_version: { version: '2' }, billed_units: { input_tokens: typeof parsed.usage?.prompt_tokens === 'number' ? parsed.usage.prompt_tokens : 0 } },
    response_type: 'embeddings_by_type',
  });
}

// ---- tokenize ----

function parseTokenize(raw: Buffer | null): ParsedRequest {
  const body = parseJsonObjectBody(raw);
  const model = requireModel(body);
  if (typeof body.text !== 'string' || body.text === '') invalid("'text' is required and must be a non-empty string", 'text');
  return { kind: 'tokenize', body: { model, text: body.text } as unknown as ChatRequestBody, stream: false, includeUsage: false };
}

// ---- dialects and routes ----

const WIRE_BASE = { errorBody: cohereErrorBody, streamContentType: 'text/event-stream; charset=utf-8', chunk: () => '', end: () => '',
  streamError: (error: ErrorData) => cohereErrorBody(error) };

function cohereDialect(parse: Dialect['parse'], wire: Dialect['wire']): Dialect {
  return Object.freeze<Dialect>({ name: 'cohere', defaultProvider: 'cohere', parse: (request) => parse(request), wire, errorBody: cohereErrorBody });
}

export const cohereChat = cohereDialect((request) => parseChat(request.body), () => new CohereWire());
export const cohereEmbed = cohereDialect((request) => parseEmbed(request.body), (parsed) => {
  const texts = (parsed.body as unknown as { input: string[] }).input;
  return { ...WIRE_BASE, answer: (body) => cohereEmbedAnswer(body, texts) };
});
export const cohereTokenize = cohereDialect((request) => parseTokenize(request.body), () => ({ ...WIRE_BASE, answer: (body) => body }));

/** Under `/cohere`, an unknown path is answered in Cohere's error shape. */
export const coherePrefix: NativePrefix = Object.freeze({
  prefix: '/cohere',
  errorBody: cohereErrorBody,
  served: 'the gateway serves /cohere/v2/chat, /v2/embed, /v2/rerank and /v1/tokenize',
});

export function cohereRoutes(handlerFor: (dialect: Dialect) => RouteHandler): Route[] {
  const route = (path: string, dialect: Dialect): Route => ({ method: 'post', path, readBody: true, handler: handlerFor(dialect),
    errorBody: cohereErrorBody });
  return [
    route('/cohere/v2/chat', cohereChat),
    route('/cohere/v2/embed', cohereEmbed),
    route('/cohere/v2/rerank', cohereRerank),
    route('/cohere/v1/tokenize', cohereTokenize),
  ];
}
