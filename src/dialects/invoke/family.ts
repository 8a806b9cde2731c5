// One model family's own InvokeModel body on Bedrock (`/bedrock/model/{id}/invoke`), as a small set of pure
// transforms: the body to an OpenAI chat request for a provider that is not Bedrock, and the chat answer and chunks
// back to the family's answer and stream events. The bedrock provider never uses these: it gets the body as it came.

import { GatewayError } from '../../errors/gateway-error.js';

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

export const invalid = (message: string, param: string | null = null): GatewayError =>
  new GatewayError('INVALID_REQUEST', message, { param });

/** A valid body the chat translation cannot carry: only the bedrock provider, which takes it as it is, can serve it. */
export class Untranslatable extends GatewayError {}

export const untranslatable = (family: string, field: string, why: string): Untranslatable =>
  new Untranslatable('INVALID_REQUEST', `${family}'s '${field}' cannot be translated for another provider (${why}); `
    + "only the built-in 'bedrock' provider takes it (the body is sent to it as it is)", { param: field });

export interface ChatTranslation {
  chat: Json;
  /** The body's fields chat has no place for: reported in x-heimdall-dropped-params. */
  dropped: string[];
}

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as OpenAI carries a call's arguments. */
  arguments: string;
}

/** The chat answer (or the stream so far), read once, from which a family writes its own answer. */
export interface ChatReply {
  id: string;
  text: string;
  toolCalls: ToolCall[];
  /** OpenAI's finish_reason: stop, length, tool_calls, content_filter; null while a stream runs. */
  finish: string | null;
  promptTokens: number;
  completionTokens: number;
}

/** One chat chunk's first choice delta, as a family's stream writes it. */
export interface ChatDelta {
  text: string | null;
  /** Tool call pieces, by their index in the answer; the first piece of a call has its id and name. */
  toolCalls: { index: number; id?: string; name?: string; arguments: string }[];
}

export interface FamilyStream {
  /** Events before the first delta (Nova's messageStart, Cohere's stream-start). */
  start(reply: ChatReply): Json[];
  delta(delta: ChatDelta, reply: ChatReply): Json[];
  /** The closing events, once the finish reason and the usage are known. */
  end(reply: ChatReply): Json[];
}

export interface InvokeFamily {
  /** The family's name, as errors name it. */
  readonly name: string;
  /** Bedrock model ids of the family (inference profiles `us.…` and ARNs included). */
  readonly models: RegExp;
  /** Whether a body is this family's by its fields alone, for a model id that names no family. */
  owns(body: Json): boolean;
  toChat(body: Json, modelId: string): ChatTranslation;
  /** The family's answer; `body` is the client's request (Cohere echoes the conversation). */
  answer(reply: ChatReply, body: Json): Json;
  stream(body: Json): FamilyStream;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a body

export function stringField(body: Json, name: string, required = false): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    if (required) throw invalid(`'${name}' is required and must be a string`, name);
    return undefined;
  }
  if (typeof value !== 'string') throw invalid(`'${name}' must be a string`, name);
  return value;
}

export function numberField(body: Json, name: string, integer = false, at = name): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw invalid(`'${at}' must be ${integer ? 'an integer' : 'a number'}`, at);
  }
  return value;
}

export function stringsField(body: Json, name: string, at = name): string[] | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw invalid(`'${at}' must be an array of strings`, at);
  return value as string[];
}

/**
 * Copies the named sampling fields into the chat request under their chat names, checked as numbers; what the body
 * holds beyond `known` is returned as dropped.
 */
export function samplingFields(body: Json, names: Readonly<Record<string, string>>, chat: Json, integers: readonly string[] = []): void {
  for (const [own, target] of Object.entries(names)) {
    const value = numberField(body, own, integers.includes(own));
    if (value !== undefined) chat[target] = value;
  }
}

export const droppedOf = (body: Json, known: readonly string[]): string[] =>
  Object.keys(body).filter((name) => !known.includes(name) && body[name] !== undefined && body[name] !== null);

// ---------------------------------------------------------------------------------------------------------------
// Reading the chat answer

export function emptyReply(): ChatReply {
  return { id: '', text: '', toolCalls: [], finish: null, promptTokens: 0, completionTokens: 0 };
}

/** A chat.completion as a ChatReply. */
export function replyOf(completion: string): ChatReply {
  const parsed = JSON.parse(completion) as Json;
  const reply = emptyReply();
  if (typeof parsed.id === 'string') reply.id = parsed.id;
  const choice = Array.isArray(parsed.choices) && isObject(parsed.choices[0]) ? parsed.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  if (typeof message.content === 'string') reply.text = message.content;
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls as Json[]) {
      const fn = isObject(call.function) ? call.function : {};
      reply.toolCalls.push({ id: String(call.id ?? ''), name: String(fn.name ?? ''), arguments: String(fn.arguments ?? '{}') });
    }
  }
  reply.finish = typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop';
  usageInto(reply, parsed.usage);
  return reply;
}

function usageInto(reply: ChatReply, usage: unknown): void {
  if (!isObject(usage)) return;
  if (typeof usage.prompt_tokens === 'number') reply.promptTokens = usage.prompt_tokens;
  if (typeof usage.completion_tokens === 'number') reply.completionTokens = usage.completion_tokens;
}

/** One chat.completion.chunk into the reply so far; the delta it carries, or null when it carries none. */
export function deltaOf(chunk: string, reply: ChatReply): ChatDelta | null {
  const parsed = JSON.parse(chunk) as Json;
  if (!reply.id && typeof parsed.id === 'string') reply.id = parsed.id;
  usageInto(reply, parsed.usage);
  const choice = Array.isArray(parsed.choices) && isObject(parsed.choices[0]) ? parsed.choices[0] : null;
  if (!choice) return null;
  if (typeof choice.finish_reason === 'string') reply.finish = choice.finish_reason;
  const delta = isObject(choice.delta) ? choice.delta : {};
  const text = typeof delta.content === 'string' && delta.content !== '' ? delta.content : null;
  const toolCalls: ChatDelta['toolCalls'] = [];
  if (Array.isArray(delta.tool_calls)) {
    for (const call of delta.tool_calls as Json[]) {
      const fn = isObject(call.function) ? call.function : {};
      const index = typeof call.index === 'number' ? call.index : 0;
      const piece = { index, arguments: typeof fn.arguments === 'string' ? fn.arguments : '',
        ...(typeof call.id === 'string' ? { id: call.id } : {}), ...(typeof fn.name === 'string' ? { name: fn.name } : {}) };
      toolCalls.push(piece);
      const known = (reply.toolCalls[index] ??= { id: piece.id ?? '', name: piece.name ?? '', arguments: '' });
      known.arguments += piece.arguments;
    }
  }
  if (text !== null) reply.text += text;
  return text === null && toolCalls.length === 0 ? null : { text, toolCalls };
}

/** A family that streams text only: each delta's text as one event, the closing ones at the end. */
export function textStream(piece: (text: string, reply: ChatReply) => Json, end: (reply: ChatReply) => Json[]): FamilyStream {
  return {
    start: () => [],
    delta: (delta, reply) => (delta.text === null ? [] : [piece(delta.text, reply)]),
    end,
  };
}
