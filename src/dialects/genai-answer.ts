// OpenAI answers as Google GenAI's: a chat.completion as a GenerateContentResponse, chunks as a stream of them (SSE
// with `?alt=sse`, else one JSON array, as Google does), embeddings as `embedding.values`, a token count as
// `totalTokens`, and errors as Google's `{"error":{"code","message","status"}}`. Thinking comes back as thought
// parts: `reasoning_content` as text with `thought: true`, a Claude thinking block (`thinking_blocks`) with its
// signature as `thoughtSignature`, so the client can send it back (genai-request.ts reads it again).

import type { ChatMessage, ChatToolCall, ChatUsage } from '../contract/chat-shape.js';
import type { ErrorData } from '../errors/error-data.js';
import { statusOf, type AttemptRecord } from '../errors/gateway-error.js';
import type { ClientWire } from './dialect.js';

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// Errors

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 402: 'RESOURCE_EXHAUSTED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'NOT_FOUND',
  409: 'ABORTED', 413: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED', 500: 'INTERNAL',
  501: 'UNIMPLEMENTED', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** Google's canonical status name for an HTTP status. */
export function googleStatus(status: number): string {
  return GOOGLE_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
}

/**
 * Google's error envelope; the gateway's own code rides in an ErrorInfo detail (`reason`), as Google's APIs name
 * theirs, and the tries of a request that failed more than once in a second detail.
 */
export function genaiErrorBody(error: ErrorData, attempts?: readonly AttemptRecord[]): string {
  const status = statusOf(error);
  const details: Json[] = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: error.code, domain: 'heimdall',
    metadata: error.provider ? { provider: error.provider } : {} }];
  if (attempts && attempts.length > 1) details.push({ '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: JSON.stringify(attempts) });
  return JSON.stringify({ error: { code: status, message: error.message, status: googleStatus(status), details } });
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

const FINISH_REASONS: Record<string, string> = {
  stop: 'STOP', tool_calls: 'STOP', function_call: 'STOP', length: 'MAX_TOKENS', content_filter: 'SAFETY',
};

const finishReasonOf = (reason: unknown): string =>
  (typeof reason === 'string' && Object.hasOwn(FINISH_REASONS, reason) ? FINISH_REASONS[reason] : 'OTHER');

/** The usage as Google counts it: thinking apart from the answer's tokens (gemini-shared.ts adds them together). */
export function usageMetadataOf(usage: ChatUsage | undefined | null): Json | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const prompt = usage.prompt_tokens ?? 0;
  const completion = usage.completion_tokens ?? 0;
  const thoughts = usage.completion_tokens_details?.reasoning_tokens;
  const meta: Json = { promptTokenCount: prompt, candidatesTokenCount: completion - (thoughts ?? 0),
    totalTokenCount: usage.total_tokens ?? prompt + completion };
  if (thoughts) meta.thoughtsTokenCount = thoughts;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (cached) meta.cachedContentTokenCount = cached;
  return meta;
}

function parseArgs(text: string | undefined): Json {
  if (text === undefined || text.trim() === '') return {};
  try {
    const args = JSON.parse(text) as unknown;
    return typeof args === 'object' && args !== null && !Array.isArray(args) ? args as Json : { value: args };
  } catch {
    // A model that wrote broken JSON arguments: the client still sees what it wrote.
    return { _raw: text };
  }
}

function functionCallPart(call: ChatToolCall): Json {
  const part: Json = { functionCall: { ...(call.id ? { id: call.id } : {}), name: call.function?.name ?? '', args: parseArgs(call.function?.arguments) } };
  const signature = call.extra_content?.google?.thought_signature;
  if (typeof signature === 'string') part.thoughtSignature = signature;
  return part;
}

function thoughtParts(message: ChatMessage): Json[] {
  const signed = (message.thinking_blocks ?? []).filter((block) => block?.type === 'thinking');
  if (signed.length > 0) {
    return signed.map((block) => ({ text: block.thinking ?? '', thought: true,
      ...(block.signature ? { thoughtSignature: block.signature } : {}) }));
  }
  return typeof message.reasoning_content === 'string' && message.reasoning_content !== ''
    ? [{ text: message.reasoning_content, thought: true }] : [];
}

/**
 * A stream's thinking: the text as it comes (`reasoning_content`), then a Claude block's signature on a part of its
 * own with empty text when the block is complete (anthropic-shared.ts sends the whole block then), as Gemini signs
 * its streamed thoughts; genai-request.ts joins them again.
 */
function streamedThoughtParts(delta: ChatMessage): Json[] {
  const parts: Json[] = typeof delta.reasoning_content === 'string' && delta.reasoning_content !== ''
    ? [{ text: delta.reasoning_content, thought: true }] : [];
  for (const block of delta.thinking_blocks ?? []) {
    if (block?.type === 'thinking' && block.signature) parts.push({ text: '', thought: true, thoughtSignature: block.signature });
  }
  return parts;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join('');
}

const responseIdOf = (id: unknown): string | undefined =>
  (typeof id === 'string' ? id.replace(/^chatcmpl-/, '') : undefined);

/** A chat.completion as a GenerateContentResponse. */
export function generateContentResponse(body: string): string {
  const completion = JSON.parse(body) as { id?: unknown; model?: unknown; usage?: ChatUsage;
    choices?: { index?: number; message?: ChatMessage; finish_reason?: unknown }[] };
  const candidates = (completion.choices ?? []).map((choice, position) => {
    const message = choice.message ?? {};
    const parts = thoughtParts(message);
    const text = textOf(message.content) || (typeof message.refusal === 'string' ? message.refusal : '');
    if (text !== '') parts.push({ text });
    for (const call of message.tool_calls ?? []) parts.push(functionCallPart(call));
    return { content: { role: 'model', parts }, finishReason: finishReasonOf(choice.finish_reason), index: choice.index ?? position };
  });
  const response: Json = { candidates };
  const usage = usageMetadataOf(completion.usage);
  if (usage) response.usageMetadata = usage;
  if (typeof completion.model === 'string') response.modelVersion = completion.model;
  const responseId = responseIdOf(completion.id);
  if (responseId) response.responseId = responseId;
  return JSON.stringify(response);
}

export function embedContentResponse(body: string, batch: boolean): string {
  const list = JSON.parse(body) as { data?: { index?: number; embedding?: unknown }[] };
  const embeddings = [...(list.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0))
    .map((item) => ({ values: Array.isArray(item.embedding) ? item.embedding : [] }));
  return JSON.stringify(batch ? { embeddings } : { embedding: embeddings[0] ?? { values: [] } });
}

export function countTokensResponse(body: string): string {
  const counted = JSON.parse(body) as { input_tokens?: unknown };
  return JSON.stringify({ totalTokens: typeof counted.input_tokens === 'number' ? counted.input_tokens : 0 });
}

// ---------------------------------------------------------------------------------------------------------------
// Streams

interface OpenAIChunk {
  id?: string;
  model?: string;
  usage?: ChatUsage | null;
  choices?: { index?: number; delta?: ChatMessage & { content?: unknown }; finish_reason?: unknown }[];
}

interface PendingCandidate {
  /** Tool calls by their stream index: OpenAI streams the arguments in pieces, Google sends each call whole. */
  calls: Map<number, ChatToolCall & { arguments: string }>;
  finishReason: string | null;
}

/**
 * The chunks of one streamed answer as GenerateContentResponse events. A candidate's function calls and its
 * finishReason go out together, in its last event, held until the usage chunk that follows the finish (or the end)
 * so that the last event carries usageMetadata as Google's does.
 */
export class GenAIStream {
  readonly #sse: boolean;
  #first = true;
  #id: string | undefined;
  #model: string | undefined;
  readonly #candidates = new Map<number, PendingCandidate>();

  constructor(sse: boolean) {
    this.#sse = sse;
  }

  get contentType(): string {
    return this.#sse ? 'text/event-stream' : 'application/json; charset=UTF-8';
  }

  #frame(event: Json): string {
    const data = JSON.stringify(event);
    if (this.#sse) return `data: ${data}\r\n\r\n`;
    const framed = `${this.#first ? '[' : ',\r\n'}${data}`;
    this.#first = false;
    return framed;
  }

  #event(candidates: Json[], usage?: Json): Json {
    const event: Json = { candidates };
    if (usage) event.usageMetadata = usage;
    if (this.#model) event.modelVersion = this.#model;
    const responseId = responseIdOf(this.#id);
    if (responseId) event.responseId = responseId;
    return event;
  }

  #pending(index: number): PendingCandidate {
    let pending = this.#candidates.get(index);
    if (!pending) {
      pending = { calls: new Map(), finishReason: null };
      this.#candidates.set(index, pending);
    }
    return pending;
  }

  /** The finished candidates' last events, as one event. */
  #flush(usage?: Json): string {
    const finished: Json[] = [];
    for (const [index, pending] of this.#candidates) {
      if (pending.finishReason === null) continue;
      const parts = [...pending.calls.values()].map((call) => functionCallPart({ ...call, function: { name: call.function?.name, arguments: call.arguments } }));
      // An empty text part, as Gemini's own last event has, so that `chunk.text` is '' rather than undefined.
      finished.push({ content: { role: 'model', parts: parts.length > 0 ? parts : [{ text: '' }] }, finishReason: pending.finishReason, index });
      this.#candidates.delete(index);
    }
    return finished.length > 0 || usage ? this.#frame(this.#event(finished, usage)) : '';
  }

  chunk(text: string): string {
    const chunk = JSON.parse(text) as OpenAIChunk;
    this.#id ??= chunk.id;
    this.#model ??= chunk.model;
    let out = '';
    const candidates: Json[] = [];
    for (const choice of chunk.choices ?? []) {
      const index = choice.index ?? 0;
      const delta = choice.delta ?? {};
      const pending = this.#pending(index);
      const parts = streamedThoughtParts(delta);
      const content = textOf(delta.content);
      if (content !== '') parts.push({ text: content });
      for (const call of delta.tool_calls ?? []) {
        const at = call.index ?? pending.calls.size;
        const open = pending.calls.get(at);
        if (open) open.arguments += call.function?.arguments ?? '';
        else pending.calls.set(at, { ...call, arguments: call.function?.arguments ?? '' });
      }
      if (parts.length > 0) candidates.push({ content: { role: 'model', parts }, index });
      if (choice.finish_reason) pending.finishReason = finishReasonOf(choice.finish_reason);
    }
    if (candidates.length > 0) out += this.#frame(this.#event(candidates));
    if (chunk.usage) out += this.#flush(usageMetadataOf(chunk.usage));
    return out;
  }

  end(): string {
    const last = this.#flush();
    if (this.#sse) return last;
    return this.#first ? '[]' : `${last}]`;
  }

  error(error: ErrorData): string {
    const body = JSON.parse(genaiErrorBody(error)) as Json;
    return this.#sse ? this.#frame(body) : `${this.#frame(body)}]`;
  }
}

/** The wire of one streamed generateContent request. */
export function streamWire(sse: boolean, answer: (body: string) => string): ClientWire {
  const stream = new GenAIStream(sse);
  return {
    answer,
    errorBody: genaiErrorBody,
    streamContentType: stream.contentType,
    chunk: (chunk) => stream.chunk(chunk),
    end: () => stream.end(),
    streamError: (error) => stream.error(error),
  };
}
