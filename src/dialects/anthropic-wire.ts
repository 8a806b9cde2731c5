// The way out of the Anthropic route: the OpenAI answer, chunks and errors the pipeline carries, in Anthropic's
// Messages shapes — a `message` with content blocks, the named SSE events of a stream, the error envelope.
//
// A stream's blocks are opened and closed as the OpenAI deltas change kind (reasoning_content → thinking,
// content → text, each tool call → tool_use); a thinking block's signature arrives in `thinking_blocks`, as the
// Anthropic adapter sends it. `message_delta` needs the usage, which OpenAI sends after the finish chunk, so it is
// written with `message_stop` at the end of the stream.
//
// stop_reason: OpenAI's `stop` cannot tell end_turn from a stop sequence; the matched sequence travels in the
// choice's `stop_reason` (vLLM's field, which the Anthropic adapter also fills), which makes it `stop_sequence`.

import { randomBytes } from 'node:crypto';
import type { ErrorData } from '../errors/error-data.js';
import { statusOf, type AttemptRecord } from '../errors/gateway-error.js';
import type { ParsedRequest } from '../pipeline/parse.js';
import type { ClientWire } from './dialect.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  529: 'overloaded_error',
};

/** Anthropic's error `type` for one of our statuses. */
export function anthropicErrorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** `{"type":"error","error":{"type":…,"message":…}}`; the tries are listed in `error.attempts` when there were several. */
export function anthropicErrorBody(error: ErrorData, attempts?: readonly AttemptRecord[]): string {
  return JSON.stringify({
    type: 'error',
    error: {
      type: anthropicErrorType(statusOf(error)),
      message: error.message,
      ...(attempts && attempts.length > 1 ? { attempts } : {}),
    },
  });
}

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null; cache_creation_tokens?: number | null } | null;
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** OpenAI's prompt_tokens include cached ones; Anthropic's input_tokens do not, and cache reads and writes are apart. */
export function anthropicUsage(usage: OpenAIUsage | null | undefined): AnthropicUsage {
  const details = usage?.prompt_tokens_details;
  const read = typeof details?.cached_tokens === 'number' ? details.cached_tokens : null;
  const written = typeof details?.cache_creation_tokens === 'number' ? details.cache_creation_tokens : null;
  const result: AnthropicUsage = {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - (read ?? 0) - (written ?? 0)),
    output_tokens: usage?.completion_tokens ?? 0,
  };
  if (written !== null) result.cache_creation_input_tokens = written;
  if (read !== null) result.cache_read_input_tokens = read;
  return result;
}

interface StopReason {
  stop_reason: string;
  stop_sequence: string | null;
}

/** OpenAI's finish_reason (and a matched stop string in `stop_reason`) as Anthropic's stop_reason and stop_sequence. */
export function anthropicStop(finishReason: unknown, matchedStop: unknown): StopReason {
  switch (finishReason) {
    case 'length':
      return { stop_reason: 'max_tokens', stop_sequence: null };
    case 'tool_calls':
    case 'function_call':
      return { stop_reason: 'tool_use', stop_sequence: null };
    case 'content_filter':
      return { stop_reason: 'refusal', stop_sequence: null };
    default:
      return typeof matchedStop === 'string' && matchedStop !== ''
        ? { stop_reason: 'stop_sequence', stop_sequence: matchedStop }
        : { stop_reason: 'end_turn', stop_sequence: null };
  }
}

// Anthropic's ids start `msg_`, and clients may check; another provider's id (`chatcmpl-…`) keeps its value behind it.
const messageId = (id: unknown): string => {
  if (typeof id !== 'string' || id === '') return `msg_${randomBytes(12).toString('base64url')}`;
  return id.startsWith('msg_') ? id : `msg_${id}`;
};
const toolUseId = (): string => `toolu_${randomBytes(12).toString('base64url')}`;

/** A tool call's arguments as the input object Anthropic's tool_use carries; text that is not an object is kept under `arguments`. */
function toolInput(args: unknown): Json {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (isObject(parsed)) return parsed;
  } catch {
    // Malformed arguments from the model: kept verbatim below rather than lost.
  }
  return { arguments: args };
}

interface OpenAIMessage {
  content?: unknown;
  refusal?: unknown;
  reasoning_content?: unknown;
  thinking_blocks?: unknown;
  tool_calls?: { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[];
}

function thinkingFromBlocks(blocks: unknown): Json[] {
  if (!Array.isArray(blocks)) return [];
  const out: Json[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (block.type === 'thinking') out.push({ type: 'thinking', thinking: String(block.thinking ?? ''), signature: String(block.signature ?? '') });
    else if (block.type === 'redacted_thinking') out.push({ type: 'redacted_thinking', data: String(block.data ?? '') });
  }
  return out;
}

function contentOf(message: OpenAIMessage): Json[] {
  const blocks = thinkingFromBlocks(message.thinking_blocks);
  // A provider's reasoning without Anthropic's blocks (DeepSeek, a vLLM reasoning parser) has no signature to give.
  if (blocks.length === 0 && typeof message.reasoning_content === 'string' && message.reasoning_content !== '') {
    blocks.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  }
  let text = '';
  if (typeof message.content === 'string') text = message.content;
  else if (Array.isArray(message.content)) {
    for (const part of message.content) if (isObject(part) && typeof part.text === 'string') text += part.text;
  }
  if (text === '' && typeof message.refusal === 'string') text = message.refusal;
  if (text !== '') blocks.push({ type: 'text', text });
  for (const call of message.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: typeof call.id === 'string' && call.id ? call.id : toolUseId(),
      name: String(call.function?.name ?? ''), input: toolInput(call.function?.arguments) });
  }
  return blocks;
}

/** A chat.completion as an Anthropic `message`. */
export function anthropicMessage(body: string, requestedModel: string): string {
  // A plugin's short-circuit answer may be any JSON: what is not a chat.completion is an empty message.
  const parsed: unknown = JSON.parse(body);
  const completion = (isObject(parsed) ? parsed : {}) as { id?: unknown; model?: unknown; usage?: OpenAIUsage;
    choices?: { message?: OpenAIMessage; finish_reason?: unknown; stop_reason?: unknown }[] };
  const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
  return JSON.stringify({
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: typeof completion.model === 'string' && completion.model ? completion.model : requestedModel,
    content: choice?.message ? contentOf(choice.message) : [],
    ...anthropicStop(choice?.finish_reason, choice?.stop_reason),
    usage: anthropicUsage(completion.usage),
  });
}

const sseEvent = (type: string, payload: Json): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;

interface ChunkDelta {
  content?: unknown;
  reasoning_content?: unknown;
  thinking_blocks?: unknown;
  tool_calls?: { index?: number; id?: unknown; function?: { name?: unknown; arguments?: unknown } }[];
}

interface Chunk {
  id?: unknown;
  model?: unknown;
  usage?: OpenAIUsage | null;
  choices?: { index?: number; delta?: ChunkDelta; finish_reason?: unknown; stop_reason?: unknown }[];
}

type OpenBlock = { kind: 'text' } | { kind: 'thinking' } | { kind: 'tool_use'; toolIndex: number };

/** One streamed answer's translation: which block is open, its index, the stop reason and usage seen so far. */
class AnthropicStream {
  #started = false;
  #open: OpenBlock | null = null;
  #nextIndex = 0;
  #stop: StopReason = { stop_reason: 'end_turn', stop_sequence: null };
  #usage: AnthropicUsage = { input_tokens: 0, output_tokens: 0 };
  readonly #model: string;

  constructor(model: string) {
    this.#model = model;
  }

  #start(chunk: Chunk | null): string {
    if (this.#started) return '';
    this.#started = true;
    const model = typeof chunk?.model === 'string' && chunk.model ? chunk.model : this.#model;
    return sseEvent('message_start', { message: { id: messageId(chunk?.id), type: 'message', role: 'assistant', model,
      content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } } })
      + sseEvent('ping', {});
  }

  #close(): string {
    if (!this.#open) return '';
    this.#open = null;
    return sseEvent('content_block_stop', { index: this.#nextIndex - 1 });
  }

  #openBlock(block: OpenBlock, contentBlock: Json): string {
    const closed = this.#close();
    this.#open = block;
    return closed + sseEvent('content_block_start', { index: this.#nextIndex++, content_block: contentBlock });
  }

  #delta(delta: Json): string {
    return sseEvent('content_block_delta', { index: this.#nextIndex - 1, delta });
  }

  #thinkingBlocks(blocks: unknown): string {
    let out = '';
    for (const block of thinkingFromBlocks(blocks)) {
      if (block.type === 'redacted_thinking') {
        out += this.#openBlock({ kind: 'thinking' }, block) + this.#close();
        continue;
      }
      // The whole block comes with its signature: its text was streamed already when a thinking block is open.
      if (this.#open?.kind !== 'thinking') {
        out += this.#openBlock({ kind: 'thinking' }, { type: 'thinking', thinking: '', signature: '' });
        if (block.thinking) out += this.#delta({ type: 'thinking_delta', thinking: block.thinking });
      }
      out += this.#delta({ type: 'signature_delta', signature: block.signature }) + this.#close();
    }
    return out;
  }

  #toolCalls(calls: NonNullable<ChunkDelta['tool_calls']>): string {
    let out = '';
    for (const [position, call] of calls.entries()) {
      const toolIndex = call.index ?? position;
      if (this.#open?.kind !== 'tool_use' || this.#open.toolIndex !== toolIndex) {
        out += this.#openBlock({ kind: 'tool_use', toolIndex }, { type: 'tool_use',
          id: typeof call.id === 'string' && call.id ? call.id : toolUseId(), name: String(call.function?.name ?? ''), input: {} });
      }
      const args = call.function?.arguments;
      if (typeof args === 'string' && args !== '') out += this.#delta({ type: 'input_json_delta', partial_json: args });
    }
    return out;
  }

  chunk(text: string): string {
    const chunk = JSON.parse(text) as Chunk;
    let out = this.#start(chunk);
    if (chunk.usage) this.#usage = anthropicUsage(chunk.usage);
    const choice = chunk.choices?.[0];
    if (!choice) return out;
    const delta = choice.delta ?? {};
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') {
      if (this.#open?.kind !== 'thinking') out += this.#openBlock({ kind: 'thinking' }, { type: 'thinking', thinking: '', signature: '' });
      out += this.#delta({ type: 'thinking_delta', thinking: delta.reasoning_content });
    }
    if (delta.thinking_blocks) out += this.#thinkingBlocks(delta.thinking_blocks);
    if (typeof delta.content === 'string' && delta.content !== '') {
      if (this.#open?.kind !== 'text') out += this.#openBlock({ kind: 'text' }, { type: 'text', text: '' });
      out += this.#delta({ type: 'text_delta', text: delta.content });
    }
    if (Array.isArray(delta.tool_calls)) out += this.#toolCalls(delta.tool_calls);
    if (choice.finish_reason) {
      out += this.#close();
      this.#stop = anthropicStop(choice.finish_reason, choice.stop_reason);
    }
    return out;
  }

  end(): string {
    return this.#start(null) + this.#close()
      + sseEvent('message_delta', { delta: { ...this.#stop }, usage: this.#usage })
      + sseEvent('message_stop', {});
  }
}

/** The wire of one request on the Anthropic route. */
export function createAnthropicWire(parsed: ParsedRequest): ClientWire {
  const model = parsed.body.model;
  const stream = parsed.stream ? new AnthropicStream(model) : null;
  return {
    // A count_tokens answer is `{"input_tokens": N}` already, Anthropic's own shape.
    answer: (body) => (parsed.kind === 'count_tokens' ? body : anthropicMessage(body, model)),
    errorBody: anthropicErrorBody,
    streamContentType: 'text/event-stream; charset=utf-8',
    chunk: (chunk) => stream!.chunk(chunk),
    end: () => stream!.end(),
    streamError: (error) => `event: error\ndata: ${anthropicErrorBody(error)}\n\n`,
  };
}
