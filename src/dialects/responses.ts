// OpenAI's Responses API (`POST /v1/responses`) over the chat pipeline: the request is translated in
// responses-request.ts; here a chat.completion becomes a `response` object, and a stream of chat chunks becomes
// the Responses API's typed SSE events (`event: response.output_text.delta` …, each with its sequence number),
// ending with `response.completed` (or `response.incomplete`) carrying the whole response and its usage. A provider
// with the Responses API natively (capability `responses`) gets the client's request instead, and its answer and
// events go back untouched through the native wire at the end of this file.

import { randomBytes } from 'node:crypto';
import type { ErrorData } from '../errors/error-data.js';
import { withExtraFieldsOn, type ClientWire, type Dialect } from './dialect.js';
import { GatewayError, openAIErrorBody } from '../errors/gateway-error.js';
import { parseModelRequest, type ParsedRequest } from '../pipeline/parse.js';
import { echoOf, translateResponsesRequest, type ResponsesEcho } from './responses-request.js';
import { translatedDialect } from './translated.js';

type Json = Record<string, unknown>;

const newId = (prefix: string): string => `${prefix}_${randomBytes(16).toString('hex')}`;

interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

interface ChatMessage {
  content?: string | null;
  refusal?: string | null;
  reasoning_content?: string | null;
  thinking_blocks?: unknown[] | null;
  tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[] | null;
}

interface Completion {
  model?: string;
  created?: number;
  choices?: { message?: ChatMessage; finish_reason?: string | null }[];
  usage?: ChatUsage | null;
}

function usageOf(usage: ChatUsage | null | undefined): Json | null {
  if (!usage) return null;
  const input = usage.prompt_tokens ?? 0;
  const output = usage.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens ?? input + output,
  };
}

/** A chat finish reason as the Responses API's status; `length` and `content_filter` leave it incomplete. */
function statusOf(finishReason: string | null | undefined): { status: string; incomplete_details: Json | null } {
  if (finishReason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finishReason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

/** A reasoning item; the provider's signed thinking blocks ride in `encrypted_content`, so a client that sends the
 * item back in `input` gives an Anthropic model its thinking again. */
function reasoningItem(id: string, text: string, blocks: readonly unknown[]): Json {
  return {
    type: 'reasoning',
    id,
    summary: text ? [{ type: 'summary_text', text }] : [],
    ...(blocks.length > 0 ? { encrypted_content: JSON.stringify(blocks) } : {}),
  };
}

const outputText = (text: string): Json => ({ type: 'output_text', text, annotations: [], logprobs: [] });

function messageItem(id: string, status: string, content: Json[]): Json {
  return { type: 'message', id, status, role: 'assistant', content };
}

function functionCallItem(id: string, callId: string, name: string, args: string, status: string): Json {
  return { type: 'function_call', id, call_id: callId, name, arguments: args, status };
}

/** The fields every `response` object of one request shares, in the API's order. */
function responseObject(id: string, createdAt: number, model: string, echo: ResponsesEcho, fields: {
  status: string; incomplete_details?: Json | null; error?: Json | null; output: Json[]; usage: Json | null;
}): Json {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: fields.status,
    background: false,
    error: fields.error ?? null,
    incomplete_details: fields.incomplete_details ?? null,
    instructions: echo.instructions,
    max_output_tokens: echo.maxOutputTokens,
    metadata: echo.metadata,
    model,
    output: fields.output,
    parallel_tool_calls: echo.parallelToolCalls,
    previous_response_id: null,
    reasoning: echo.reasoning,
    store: false,
    temperature: echo.temperature,
    text: echo.text,
    tool_choice: echo.toolChoice,
    tools: echo.tools,
    top_p: echo.topP,
    truncation: 'disabled',
    usage: fields.usage,
    user: echo.user,
  };
}

/** A whole chat.completion → a `response`. */
export function responseFromCompletion(body: string, echo: ResponsesEcho, requestModel: string): string {
  const completion = JSON.parse(body) as Completion;
  const choice = completion.choices?.[0];
  const message = choice?.message ?? {};
  const output: Json[] = [];
  if (message.reasoning_content || (message.thinking_blocks?.length ?? 0) > 0) {
    output.push(reasoningItem(newId('rs'), message.reasoning_content ?? '', message.thinking_blocks ?? []));
  }
  const parts: Json[] = [];
  if (message.content) parts.push(outputText(message.content));
  if (message.refusal) parts.push({ type: 'refusal', refusal: message.refusal });
  if (parts.length > 0) output.push(messageItem(newId('msg'), 'completed', parts));
  for (const call of message.tool_calls ?? []) {
    output.push(functionCallItem(newId('fc'), call.id ?? newId('call'), call.function?.name ?? '', call.function?.arguments ?? '', 'completed'));
  }
  return JSON.stringify(responseObject(newId('resp'), completion.created ?? Math.floor(Date.now() / 1000),
    completion.model ?? requestModel, echo, { ...statusOf(choice?.finish_reason), output, usage: usageOf(completion.usage) }));
}

interface ChunkDelta {
  content?: string | null;
  refusal?: string | null;
  reasoning_content?: string | null;
  thinking_blocks?: unknown[] | null;
  tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] | null;
}

interface Chunk {
  model?: string;
  choices?: { delta?: ChunkDelta; finish_reason?: string | null }[];
  usage?: ChatUsage | null;
}

/** An output item being streamed: its place in `output`, and what is known of it so far. */
interface OpenItem {
  index: number;
  id: string;
  kind: 'reasoning' | 'message' | 'function_call';
  text: string;
  blocks: unknown[];
  callId: string;
  name: string;
}

/** One streamed response: chat chunks in, Responses events out, with the state the final `response` needs. */
class ResponsesStream implements ClientWire {
  readonly streamContentType = 'text/event-stream; charset=utf-8';
  readonly #echo: ResponsesEcho;
  readonly #id = newId('resp');
  readonly #createdAt = Math.floor(Date.now() / 1000);
  #model: string;
  #sequence = 0;
  #started = false;
  #output: Json[] = [];
  /** Items opened and not yet done, in the order they opened. */
  #open: OpenItem[] = [];
  /** Function calls by their chat `tool_calls[].index`. */
  #calls = new Map<number, OpenItem>();
  #finishReason: string | null = null;
  #usage: Json | null = null;

  constructor(echo: ResponsesEcho, model: string) {
    this.#echo = echo;
    this.#model = model;
  }

  answer(body: string): string {
    return responseFromCompletion(body, this.#echo, this.#model);
  }

  errorBody(error: ErrorData, attempts?: Parameters<ClientWire['errorBody']>[1]): string {
    return openAIErrorBody(error, attempts);
  }

  #event(type: string, fields: Json): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: this.#sequence++ })}\n\n`;
  }

  #response(status: string, extra: { incomplete_details?: Json | null; error?: Json | null } = {}): Json {
    return responseObject(this.#id, this.#createdAt, this.#model, this.#echo,
      { status, ...extra, output: status === 'in_progress' ? [] : this.#output, usage: status === 'in_progress' ? null : this.#usage });
  }

  #start(): string {
    if (this.#started) return '';
    this.#started = true;
    const response = this.#response('in_progress');
    return this.#event('response.created', { response }) + this.#event('response.in_progress', { response });
  }

  #openItem(kind: OpenItem['kind'], prefix: string, callId = '', name = ''): { item: OpenItem; out: string } {
    const item: OpenItem = { index: this.#output.length, id: newId(prefix), kind, text: '', blocks: [], callId, name };
    this.#output.push({});
    this.#open.push(item);
    let out = this.#event('response.output_item.added', { output_index: item.index, item: this.#itemJson(item, 'in_progress') });
    if (kind === 'message') {
      out += this.#event('response.content_part.added', { item_id: item.id, output_index: item.index, content_index: 0, part: outputText('') });
    } else if (kind === 'reasoning') {
      out += this.#event('response.reasoning_summary_part.added', { item_id: item.id, output_index: item.index, summary_index: 0,
        part: { type: 'summary_text', text: '' } });
    }
    return { item, out };
  }

  #itemJson(item: OpenItem, status: string): Json {
    if (item.kind === 'message') return messageItem(item.id, status, status === 'in_progress' ? [] : [outputText(item.text)]);
    if (item.kind === 'function_call') return functionCallItem(item.id, item.callId, item.name, item.text, status);
    return status === 'in_progress' ? reasoningItem(item.id, '', []) : reasoningItem(item.id, item.text, item.blocks);
  }

  #closeItem(item: OpenItem): string {
    const at = { item_id: item.id, output_index: item.index };
    let out = '';
    if (item.kind === 'message') {
      out += this.#event('response.output_text.done', { ...at, content_index: 0, text: item.text, logprobs: [] });
      out += this.#event('response.content_part.done', { ...at, content_index: 0, part: outputText(item.text) });
    } else if (item.kind === 'function_call') {
      out += this.#event('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.text });
    } else {
      out += this.#event('response.reasoning_summary_text.done', { ...at, summary_index: 0, text: item.text });
      out += this.#event('response.reasoning_summary_part.done', { ...at, summary_index: 0, part: { type: 'summary_text', text: item.text } });
    }
    const done = this.#itemJson(item, 'completed');
    this.#output[item.index] = done;
    this.#open = this.#open.filter((open) => open !== item);
    return out + this.#event('response.output_item.done', { output_index: item.index, item: done });
  }

  /** Closes every open item not of `kind`: text, reasoning and calls follow one another in the output. */
  #closeOthers(kind: OpenItem['kind']): string {
    let out = '';
    for (const item of [...this.#open]) if (item.kind !== kind) out += this.#closeItem(item);
    return out;
  }

  #current(kind: 'reasoning' | 'message', prefix: string): { item: OpenItem; out: string } {
    const open = this.#open.find((item) => item.kind === kind);
    if (open) return { item: open, out: '' };
    const closed = this.#closeOthers(kind);
    const opened = this.#openItem(kind, prefix);
    return { item: opened.item, out: closed + opened.out };
  }

  chunk(data: string): string {
    const chunk = JSON.parse(data) as Chunk;
    let out = this.#start();
    if (chunk.model) this.#model = chunk.model;
    if (chunk.usage) this.#usage = usageOf(chunk.usage);
    const choice = chunk.choices?.[0];
    if (!choice) return out;
    const delta = choice.delta ?? {};
    if (delta.reasoning_content || (delta.thinking_blocks?.length ?? 0) > 0) {
      const { item, out: opened } = this.#current('reasoning', 'rs');
      out += opened;
      if (delta.reasoning_content) {
        item.text += delta.reasoning_content;
        out += this.#event('response.reasoning_summary_text.delta', { item_id: item.id, output_index: item.index, summary_index: 0,
          delta: delta.reasoning_content });
      }
      if (delta.thinking_blocks) item.blocks.push(...delta.thinking_blocks);
    }
    const text = (delta.content ?? '') + (delta.refusal ?? '');
    if (text) {
      const { item, out: opened } = this.#current('message', 'msg');
      item.text += text;
      out += opened + this.#event('response.output_text.delta', { item_id: item.id, output_index: item.index, content_index: 0,
        delta: text, logprobs: [] });
    }
    for (const call of delta.tool_calls ?? []) {
      const index = call.index ?? 0;
      let item = this.#calls.get(index);
      if (!item) {
        out += this.#closeOthers('function_call');
        const opened = this.#openItem('function_call', 'fc', call.id ?? newId('call'), call.function?.name ?? '');
        item = opened.item;
        this.#calls.set(index, item);
        out += opened.out;
      }
      const args = call.function?.arguments;
      if (args) {
        item.text += args;
        out += this.#event('response.function_call_arguments.delta', { item_id: item.id, output_index: item.index, delta: args });
      }
    }
    if (choice.finish_reason) this.#finishReason = choice.finish_reason;
    return out;
  }

  end(): string {
    let out = this.#start();
    for (const item of [...this.#open]) out += this.#closeItem(item);
    const { status, incomplete_details } = statusOf(this.#finishReason);
    const response = this.#response(status, { incomplete_details });
    return out + this.#event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
  }

  streamError(error: ErrorData): string {
    const envelope = (JSON.parse(openAIErrorBody(error)) as { error: { message: string; code: string; param: string | null } }).error;
    let out = this.#start();
    out += this.#event('error', { code: envelope.code, message: envelope.message, param: envelope.param });
    return out + this.#event('response.failed', { response: this.#response('failed', { error: { code: envelope.code, message: envelope.message } }) });
  }
}

/**
 * The request translated through chat, with the client's own request beside it for providers that have the Responses
 * API (src/pipeline/capabilities.ts `sendsNative`). A request chat cannot say (built-in tools, `previous_response_id`,
 * `background`, …) is not refused yet: the provider chosen decides, and only those without the API get the 400.
 */
function parseResponses(raw: Buffer | null): { parsed: ParsedRequest; extra: ResponsesEcho } {
  const request = parseModelRequest(raw);
  if (request.stream !== undefined && request.stream !== null && typeof request.stream !== 'boolean') {
    throw new GatewayError('INVALID_REQUEST', "'stream' must be a boolean", { param: 'stream' });
  }
  // `fallbacks` is the gateway's: the pipeline takes it from the chat body, and the provider never sees it.
  const { fallbacks, ...own } = request;
  try {
    const { parsed, echo } = translateResponsesRequest(request);
    parsed.native = { kind: 'responses', body: own, untranslatable: null };
    return { parsed, extra: echo };
  } catch (error) {
    if (!(error instanceof GatewayError) || error.data.code !== 'INVALID_REQUEST') throw error;
    const stream = request.stream === true;
    // What plugins and routing see of a request only the native API can take: its model, no messages.
    const body = { model: request.model, messages: [], ...(fallbacks === undefined ? {} : { fallbacks }) };
    return { parsed: { kind: 'chat', body, stream, includeUsage: stream, native: { kind: 'responses', body: own, untranslatable: error.data } },
      extra: echoOf(request) };
  }
}

/** The error event OpenAI's Responses stream ends with when it fails. */
const errorEvent = (error: ErrorData): string => {
  const { message, code, param } = (JSON.parse(openAIErrorBody(error)) as { error: { message: string; code: string; param: string | null } }).error;
  return `event: error\ndata: ${JSON.stringify({ type: 'error', code, message, param })}\n\n`;
};

/** A native attempt's wire: the provider's answer and SSE blocks (the worker's chunks) pass as they are. */
const nativeWire = Object.freeze<ClientWire>({
  answer: (body: string) => body,
  errorBody: (error, attempts) => openAIErrorBody(error, attempts),
  streamContentType: 'text/event-stream',
  chunk: (block: string) => block,
  end: () => '',
  streamError: errorEvent,
});

const responsesDialect = (defaultProvider: string | null): Dialect => Object.freeze({
  ...translatedDialect('responses', defaultProvider, parseResponses, (parsed, echo) => new ResponsesStream(echo, parsed.body.model)),
  nativeWire: () => nativeWire,
});

/** `/v1/responses`: models are `provider/model` or an alias. */
export const responses = withExtraFieldsOn(responsesDialect(null), 'responses');
/** `/openai/v1/responses`, `/openai/responses`: a bare model name means the `openai` provider. */
export const dropInResponses = responsesDialect('openai');
