// OpenAI answers, chunks and errors written as Bedrock Converse's, for the `/bedrock` route (bedrock.ts).
//
// Answer: `{output: {message: {role, content[]}}, stopReason, usage, metrics}`, with reasoning, text and toolUse
// blocks in that order. Stream: AWS event-stream frames (`application/vnd.amazon.eventstream`, encoded with the AWS
// SDK's own codec, as test/fakes/bedrock-server.ts and the worker's decoder use it): messageStart, then per content
// block contentBlockStart (tool use only, as Bedrock does) / contentBlockDelta / contentBlockStop, then messageStop and
// a closing metadata event with the usage. Errors: `{"message": …}` with the exception's name in `x-amzn-errortype`,
// or, once the stream started, an exception frame; either way the SDK raises its own exception class.

import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ErrorData } from '../errors/error-data.js';
import { statusOf, type AttemptRecord } from '../errors/gateway-error.js';
import type { ClientWire } from './dialect.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** The Bedrock exception a client's SDK should raise for an error, by code where one is meant, else by status. */
function exceptionName(error: ErrorData): string {
  if (error.code === 'UPSTREAM_TIMEOUT') return 'ModelTimeoutException';
  // A spent budget (402) is Bedrock's quota exception, which its SDK has a class for.
  if (error.code === 'BUDGET_EXCEEDED') return 'ServiceQuotaExceededException';
  const status = statusOf(error);
  if (status === 401 || status === 403) return 'AccessDeniedException';
  if (status === 404) return 'ResourceNotFoundException';
  if (status === 429) return 'ThrottlingException';
  if (status === 503) return 'ServiceUnavailableException';
  if (status === 504) return 'ModelTimeoutException';
  return status >= 500 ? 'InternalServerException' : 'ValidationException';
}

/**
 * The exception member of ConverseStream's output union for an error after the stream started. Only five exist:
 * a provider's failure is the model's stream failing; the gateway's own is an internal error.
 */
export function streamExceptionName(error: ErrorData): string {
  const status = statusOf(error);
  if (status === 429) return 'throttlingException';
  if (status === 503) return 'serviceUnavailableException';
  if (status < 500) return 'validationException';
  return error.code === 'INTERNAL' || error.code === 'PLUGIN_FAILED' ? 'internalServerException' : 'modelStreamErrorException';
}

/** Bedrock's error body; the tries of a request that failed more than once are listed as OpenAI's envelope does. */
export function bedrockErrorBody(error: ErrorData, attempts?: readonly AttemptRecord[]): string {
  return JSON.stringify({ message: error.message, ...(attempts && attempts.length > 1 ? { attempts } : {}) });
}

/** The SDK reads the exception's name from this header first (restJson1). */
export const bedrockErrorHeaders = (error: ErrorData): Record<string, string> => ({ 'x-amzn-errortype': exceptionName(error) });

// ---------------------------------------------------------------------------------------------------------------
// Event-stream frames

// Encoding keeps no state between frames, so one codec serves every stream.
const codec = new EventStreamCodec(toUtf8, fromUtf8);

const stringHeader = (value: string) => ({ type: 'string' as const, value });

function frame(headers: MessageHeaders, payload: Json): Uint8Array {
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(payload)) });
}

/** One ConverseStream event frame. */
export function eventFrame(type: string, payload: Json): Uint8Array {
  return frame({ ':event-type': stringHeader(type), ':content-type': stringHeader('application/json'),
    ':message-type': stringHeader('event') }, payload);
}

/** One exception frame: the SDK throws it as the exception class of that union member. */
export function exceptionFrame(type: string, message: string): Uint8Array {
  return frame({ ':exception-type': stringHeader(type), ':content-type': stringHeader('application/json'),
    ':message-type': stringHeader('exception') }, { message });
}

const joinFrames = (frames: Uint8Array[]): Uint8Array => (frames.length === 1 ? frames[0] : Buffer.concat(frames));

// ---------------------------------------------------------------------------------------------------------------
// Answers

const STOP_REASONS: Readonly<Record<string, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'content_filtered',
};
/** OpenAI's `stop` covers both the end of a turn and a stop sequence; Converse's end_turn is the common case. */
const stopReasonOf = (finish: unknown): string =>
  (Object.hasOwn(STOP_REASONS, String(finish)) ? STOP_REASONS[String(finish)] : 'end_turn');

/**
 * OpenAI's prompt_tokens include cache reads (`cached_tokens`) and writes (`cache_creation_tokens`, where the bedrock
 * and anthropic adapters put them); Converse counts both apart from inputTokens, and in totalTokens.
 */
function converseUsage(usage: unknown): Json {
  const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const openai = isObject(usage) ? usage : {};
  const details = isObject(openai.prompt_tokens_details) ? openai.prompt_tokens_details : {};
  const cacheRead = count(details.cached_tokens);
  const cacheWrite = count(details.cache_creation_tokens);
  const input = count(openai.prompt_tokens) - cacheRead - cacheWrite;
  const output = count(openai.completion_tokens);
  return { inputTokens: input, outputTokens: output, totalTokens: input + cacheRead + cacheWrite + output,
    ...(cacheRead > 0 ? { cacheReadInputTokens: cacheRead } : {}), ...(cacheWrite > 0 ? { cacheWriteInputTokens: cacheWrite } : {}) };
}

/** A tool call's arguments as the toolUse input document; arguments that are not JSON go as the string they are. */
function toolInput(args: unknown): unknown {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

/** Reasoning blocks: the signed ones when the provider gave them (Claude's), else the reasoning text alone. */
function reasoningBlocks(message: Json): Json[] {
  if (Array.isArray(message.thinking_blocks) && message.thinking_blocks.length > 0) {
    return (message.thinking_blocks as Json[]).map((block) => (block.type === 'redacted_thinking'
      ? { reasoningContent: { redactedContent: block.data } }
      : { reasoningContent: { reasoningText: { text: block.thinking, signature: block.signature } } }));
  }
  const text = message.reasoning_content;
  return typeof text === 'string' && text !== '' ? [{ reasoningContent: { reasoningText: { text } } }] : [];
}

function contentBlocks(message: Json): Json[] {
  const blocks = reasoningBlocks(message);
  const content = message.content;
  if (typeof content === 'string' && content !== '') blocks.push({ text: content });
  else if (Array.isArray(content)) {
    for (const part of content as Json[]) if (typeof part?.text === 'string' && part.text !== '') blocks.push({ text: part.text });
  }
  for (const call of Array.isArray(message.tool_calls) ? (message.tool_calls as Json[]) : []) {
    const fn = isObject(call.function) ? call.function : {};
    blocks.push({ toolUse: { toolUseId: call.id, name: fn.name, input: toolInput(fn.arguments) } });
  }
  // Converse always answers with a block; an empty answer is an empty text.
  return blocks.length > 0 ? blocks : [{ text: '' }];
}

export function converseAnswer(completion: string, latencyMs: number): string {
  const parsed = JSON.parse(completion) as Json;
  const choice = Array.isArray(parsed.choices) && isObject(parsed.choices[0]) ? parsed.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  return JSON.stringify({
    output: { message: { role: 'assistant', content: contentBlocks(message) } },
    stopReason: stopReasonOf(choice.finish_reason),
    usage: converseUsage(parsed.usage),
    metrics: { latencyMs },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Streams

type OpenBlock = { kind: 'text' } | { kind: 'reasoning'; signed: boolean } | { kind: 'tool' };

/** One request's answer in Converse's shape; for a stream, it tracks the content blocks across chunks. */
export class BedrockWire implements ClientWire {
  readonly streamContentType = EVENT_STREAM_CONTENT_TYPE;
  readonly errorHeaders = bedrockErrorHeaders;
  /** When the request was read: `metrics.latencyMs` is the time from there to the answer. */
  readonly #startedAt = performance.now();
  #started = false;
  #stopped = false;
  #open: OpenBlock | null = null;
  #nextIndex = 0;
  /** OpenAI tool_calls index → Converse contentBlockIndex. */
  readonly #toolBlocks = new Map<number, number>();
  #usage: unknown = null;

  #latencyMs(): number {
    return Math.round(performance.now() - this.#startedAt);
  }

  answer(body: string): string {
    return converseAnswer(body, this.#latencyMs());
  }

  errorBody(error: ErrorData, attempts?: readonly AttemptRecord[]): string {
    return bedrockErrorBody(error, attempts);
  }

  chunk(chunk: string): Uint8Array {
    const data = JSON.parse(chunk) as Json;
    const frames: Uint8Array[] = [];
    this.#start(frames);
    const choice = Array.isArray(data.choices) && isObject(data.choices[0]) ? data.choices[0] : null;
    const delta = choice && isObject(choice.delta) ? choice.delta : {};
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') {
      this.#delta(frames, 'reasoning', { reasoningContent: { text: delta.reasoning_content } });
    }
    if (Array.isArray(delta.thinking_blocks)) {
      // Their text came as reasoning_content already: what is new is the signature, or a redacted block.
      for (const block of delta.thinking_blocks as Json[]) {
        if (block.type === 'redacted_thinking') this.#delta(frames, 'reasoning', { reasoningContent: { redactedContent: block.data } });
        else if (typeof block.signature === 'string') this.#delta(frames, 'reasoning', { reasoningContent: { signature: block.signature } });
        // A signature ends its thinking block: more reasoning text is a new block.
        if (this.#open?.kind === 'reasoning') this.#open.signed = true;
      }
    }
    if (typeof delta.content === 'string' && delta.content !== '') this.#delta(frames, 'text', { text: delta.content });
    if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls as Json[]) this.#toolCall(frames, call);
    if (choice && choice.finish_reason !== null && choice.finish_reason !== undefined) this.#stop(frames, choice.finish_reason);
    if (isObject(data.usage)) this.#usage = data.usage;
    return frames.length === 0 ? new Uint8Array(0) : joinFrames(frames);
  }

  end(): Uint8Array {
    const frames: Uint8Array[] = [];
    this.#start(frames);
    if (!this.#stopped) this.#stop(frames, 'stop');
    frames.push(eventFrame('metadata', { usage: converseUsage(this.#usage), metrics: { latencyMs: this.#latencyMs() } }));
    return joinFrames(frames);
  }

  streamError(error: ErrorData): Uint8Array {
    return exceptionFrame(streamExceptionName(error), error.message);
  }

  #start(frames: Uint8Array[]): void {
    if (this.#started) return;
    this.#started = true;
    frames.push(eventFrame('messageStart', { role: 'assistant' }));
  }

  #close(frames: Uint8Array[]): void {
    if (!this.#open) return;
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: this.#nextIndex - 1 }));
    this.#open = null;
  }

  /** A text or reasoning delta, in the open block of its kind or a new one (which needs no start event). */
  #delta(frames: Uint8Array[], kind: 'text' | 'reasoning', delta: Json): void {
    const open = this.#open;
    const fits = open?.kind === kind && !(open.kind === 'reasoning' && open.signed);
    if (!fits) {
      this.#close(frames);
      this.#open = kind === 'text' ? { kind } : { kind, signed: false };
      this.#nextIndex++;
    }
    frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: this.#nextIndex - 1, delta }));
  }

  #toolCall(frames: Uint8Array[], call: Json): void {
    const toolIndex = typeof call.index === 'number' ? call.index : 0;
    const fn = isObject(call.function) ? call.function : {};
    let block = this.#toolBlocks.get(toolIndex);
    if (block === undefined) {
      this.#close(frames);
      block = this.#nextIndex++;
      this.#toolBlocks.set(toolIndex, block);
      this.#open = { kind: 'tool' };
      frames.push(eventFrame('contentBlockStart', { contentBlockIndex: block,
        start: { toolUse: { toolUseId: String(call.id ?? ''), name: String(fn.name ?? '') } } }));
    }
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: block, delta: { toolUse: { input: fn.arguments } } }));
    }
  }

  #stop(frames: Uint8Array[], finish: unknown): void {
    this.#close(frames);
    this.#stopped = true;
    frames.push(eventFrame('messageStop', { stopReason: stopReasonOf(finish) }));
  }
}
