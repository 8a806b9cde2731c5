// Anthropic's legacy Text Completions (`POST /anthropic/v1/complete`) over the chat pipeline: the prompt's
// `\n\nHuman:` and `\n\nAssistant:` turns become chat messages (text before the first turn, the system prompt; a
// non-empty last Assistant turn, the start of the answer), and the answer's text becomes `completion`, a stream's
// chunks `completion` events. A bare model means the `anthropic` provider, `provider/model` goes anywhere.

import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import { anthropicErrorBody } from './anthropic-wire.js';
import type { ClientWire, Dialect } from './dialect.js';
import { translatedDialect } from './translated.js';

type Json = Record<string, unknown>;

const HUMAN = '\n\nHuman:';
const ASSISTANT = '\n\nAssistant:';
/** Fields with the same meaning in chat, by their chat name. */
const RENAMED: Readonly<Record<string, string>> = { max_tokens_to_sample: 'max_tokens', stop_sequences: 'stop', temperature: 'temperature',
  top_p: 'top_p', top_k: 'top_k', fallbacks: 'fallbacks' };

const present = (value: unknown): boolean => value !== undefined && value !== null;

function invalid(message: string, param: string): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

/** The prompt's turns as chat messages; the API requires it to start with a Human turn and end with an Assistant one. */
export function promptMessages(prompt: string): Json[] {
  const first = prompt.indexOf(HUMAN);
  if (first === -1) invalid(`'prompt' must contain a "${HUMAN.trim()}" turn, as in "\\n\\nHuman: Hello\\n\\nAssistant:"`, 'prompt');
  if (prompt.lastIndexOf(ASSISTANT) < prompt.lastIndexOf(HUMAN)) {
    invalid(`'prompt' must end with an "${ASSISTANT.trim()}" turn after the last "${HUMAN.trim()}" turn`, 'prompt');
  }
  const messages: Json[] = [];
  const system = prompt.slice(0, first).trim();
  if (system) messages.push({ role: 'system', content: system });
  const turn = /\n\n(Human|Assistant):/g;
  const marks = [...prompt.matchAll(turn)];
  marks.forEach((mark, i) => {
    const text = prompt.slice(mark.index + mark[0].length, marks[i + 1]?.index ?? prompt.length).trim();
    const role = mark[1] === 'Human' ? 'user' : 'assistant';
    // The last, empty Assistant turn is where the answer goes; an empty earlier turn says nothing.
    if (text !== '') messages.push({ role, content: text });
  });
  return messages;
}

function parseComplete(raw: Buffer | null): { parsed: ParsedRequest; extra: { model: string } } {
  const request = parseJsonObjectBody(raw);
  if (typeof request.model !== 'string' || request.model === '') invalid("'model' is required and must be a non-empty string", 'model');
  if (typeof request.prompt !== 'string') invalid("'prompt' is required and must be a string", 'prompt');
  if (!Number.isInteger(request.max_tokens_to_sample) || (request.max_tokens_to_sample as number) < 1) {
    invalid("'max_tokens_to_sample' is required and must be a positive integer", 'max_tokens_to_sample');
  }
  if (present(request.stream) && typeof request.stream !== 'boolean') invalid("'stream' must be a boolean", 'stream');
  const body: Json = { model: request.model, messages: promptMessages(request.prompt) };
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(request)) {
    if (name === 'model' || name === 'prompt' || name === 'stream' || !present(value)) continue;
    if (Object.hasOwn(RENAMED, name)) body[RENAMED[name]] = value;
    else if (name === 'metadata' && typeof (value as Json).user_id === 'string') body.user = (value as Json).user_id;
    else dropped.push(name);
  }
  const stream = request.stream === true;
  if (stream) body.stream = true;
  return { parsed: { kind: 'chat', body: body as ChatRequestBody, stream, includeUsage: false, ...(dropped.length > 0 ? { dropped } : {}) },
    extra: { model: request.model } };
}

const stopReason = (finish: unknown): string => (finish === 'length' ? 'max_tokens' : 'stop_sequence');
const completionId = (): string => `compl_${randomBytes(12).toString('hex')}`;

function completeWire(model: string): ClientWire {
  const id = completionId();
  let finish: unknown = null;
  const event = (completion: string, reason: string | null) =>
    `event: completion\ndata: ${JSON.stringify({ type: 'completion', id, completion, stop_reason: reason, model })}\n\n`;
  return {
    answer(body) {
      const parsed = JSON.parse(body) as { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[] };
      const choice = parsed.choices?.[0];
      return JSON.stringify({ type: 'completion', id, completion: typeof choice?.message?.content === 'string' ? choice.message.content : '',
        stop_reason: stopReason(choice?.finish_reason), model });
    },
    errorBody: anthropicErrorBody,
    streamContentType: 'text/event-stream; charset=utf-8',
    chunk(chunk) {
      const parsed = JSON.parse(chunk) as { choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[] };
      const choice = parsed.choices?.[0];
      if (present(choice?.finish_reason)) finish = choice!.finish_reason;
      const text = choice?.delta?.content;
      return typeof text === 'string' && text !== '' ? event(text, null) : '';
    },
    end: () => event('', stopReason(finish)),
    streamError: (error) => `event: error\ndata: ${anthropicErrorBody(error)}\n\n`,
  };
}

const dialect = translatedDialect('anthropic', 'anthropic', parseComplete, (_parsed, extra) => completeWire(extra.model));
/** The route's dialect: Anthropic's error shape before the request parsed too. */
export const anthropicComplete = Object.freeze<Dialect>({ ...dialect, errorBody: (error) => anthropicErrorBody(error) });
