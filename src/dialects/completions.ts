// OpenAI's legacy text completions (`POST /v1/completions`) over the chat pipeline: the prompt becomes one user
// message, the answer's message text becomes `choices[].text`, and a stream's chunks become `text_completion`
// chunks ending with `[DONE]`. A chat request carries one conversation, so a request carries one prompt; what chat
// cannot express (insertion with `suffix`, `best_of`, per-token `logprobs`, token-id prompts) is refused by name
// rather than answered differently. `echo` is kept: the prompt is put before the text, as the API does.

import { randomBytes } from 'node:crypto';
import { GatewayError, openAIErrorBody } from '../errors/gateway-error.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseModelRequest, type ParsedRequest } from '../pipeline/parse.js';
import { withExtraFieldsOn, type ClientWire, type Dialect } from './dialect.js';
import { translatedDialect } from './translated.js';
import { SSE_DONE, sseData } from './openai.js';

/** Fields with the same meaning in chat (and Heimdall's own `fallbacks`): sent on as they are. */
const PASSED_ON = ['max_tokens', 'temperature', 'top_p', 'n', 'stop', 'presence_penalty', 'frequency_penalty', 'seed',
  'logit_bias', 'user', 'stream', 'stream_options', 'fallbacks'] as const;
const HANDLED = new Set<string>(['model', 'prompt', 'echo', 'suffix', 'logprobs', 'best_of', ...PASSED_ON]);

const present = (value: unknown): boolean => value !== undefined && value !== null;

function invalid(message: string, param: string): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

/** The one prompt of the request: a string, or an array holding one string. */
function promptOf(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.every((item) => typeof item === 'string')) {
    if (prompt.length === 1) return prompt[0] as string;
    invalid(`'prompt' holds ${prompt.length} prompts; this gateway answers completions through chat, one conversation ` +
      'per request: send one prompt per request', 'prompt');
  }
  return invalid("'prompt' must be a string or an array of one string (token-id prompts need the model's own tokenizer)", 'prompt');
}

export function parseCompletionsRequest(raw: Buffer | null): { parsed: ParsedRequest; echo: string | null } {
  const request = parseModelRequest(raw);
  for (const field of Object.keys(request)) {
    if (!HANDLED.has(field)) invalid(`'${field}' is not supported on /v1/completions by this gateway`, field);
  }
  if (present(request.suffix) && request.suffix !== '') invalid("'suffix' (insertion) cannot be translated to chat and is not supported", 'suffix');
  if (present(request.logprobs) && request.logprobs !== 0) {
    invalid("'logprobs' is not supported: chat models report log probabilities per chat token, not in this API's shape", 'logprobs');
  }
  if (present(request.best_of) && request.best_of !== 1) invalid("'best_of' is not supported: ask for `n` completions instead", 'best_of');
  if (present(request.echo) && typeof request.echo !== 'boolean') invalid("'echo' must be a boolean", 'echo');
  if (present(request.stream) && typeof request.stream !== 'boolean') invalid("'stream' must be a boolean", 'stream');
  const options = request.stream_options;
  if (present(options) && (typeof options !== 'object' || Array.isArray(options))) invalid("'stream_options' must be an object", 'stream_options');
  const prompt = promptOf(request.prompt);
  const body: ChatRequestBody = { model: request.model, messages: [{ role: 'user', content: prompt }] };
  for (const field of PASSED_ON) if (present(request[field])) (body as Record<string, unknown>)[field] = request[field];
  const stream = request.stream === true;
  const includeUsage = stream && (options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  return { parsed: { kind: 'chat', body, stream, includeUsage }, echo: request.echo === true ? prompt : null };
}

interface ChatChoice {
  index?: number;
  message?: { content?: string | null; refusal?: string | null };
  delta?: { content?: string | null; refusal?: string | null };
  finish_reason?: string | null;
}

interface ChatObject {
  id?: string;
  created?: number;
  model?: string;
  system_fingerprint?: string;
  choices?: ChatChoice[];
  usage?: unknown;
}

/** `chatcmpl-…` → `cmpl-…`, so the id looks like this API's and stays traceable to the provider's. */
const completionId = (id: string | undefined): string => `cmpl-${id?.replace(/^chatcmpl-/, '') || randomBytes(12).toString('hex')}`;

class CompletionsWire implements ClientWire {
  readonly streamContentType = 'text/event-stream; charset=utf-8';
  readonly errorBody = openAIErrorBody;
  readonly #echo: string | null;
  /** Choices whose echoed prompt went out already in this stream. */
  readonly #echoed = new Set<number>();

  constructor(echo: string | null) {
    this.#echo = echo;
  }

  answer(body: string): string {
    const chat = JSON.parse(body) as ChatObject;
    return JSON.stringify({
      id: completionId(chat.id),
      object: 'text_completion',
      created: chat.created ?? Math.floor(Date.now() / 1000),
      model: chat.model,
      ...(chat.system_fingerprint ? { system_fingerprint: chat.system_fingerprint } : {}),
      choices: (chat.choices ?? []).map((choice, position) => ({
        text: (this.#echo ?? '') + (choice.message?.content ?? choice.message?.refusal ?? ''),
        index: choice.index ?? position,
        logprobs: null,
        finish_reason: choice.finish_reason ?? 'stop',
      })),
      ...(chat.usage ? { usage: chat.usage } : {}),
    });
  }

  chunk(data: string): string {
    const chat = JSON.parse(data) as ChatObject;
    const base = { id: completionId(chat.id), object: 'text_completion', created: chat.created ?? Math.floor(Date.now() / 1000), model: chat.model };
    if (chat.usage && (chat.choices?.length ?? 0) === 0) return sseData(JSON.stringify({ ...base, choices: [], usage: chat.usage }));
    const choices = [];
    for (const [position, choice] of (chat.choices ?? []).entries()) {
      const index = choice.index ?? position;
      let text = choice.delta?.content ?? choice.delta?.refusal ?? '';
      if (this.#echo !== null && !this.#echoed.has(index)) {
        this.#echoed.add(index);
        text = this.#echo + text;
      }
      // The role chunk and tool-call deltas carry no text: nothing to say in this API.
      if (text === '' && !choice.finish_reason) continue;
      choices.push({ text, index, logprobs: null, finish_reason: choice.finish_reason ?? null });
    }
    return choices.length > 0 ? sseData(JSON.stringify({ ...base, choices })) : '';
  }

  end(): string {
    return SSE_DONE;
  }

  streamError(error: Parameters<ClientWire['streamError']>[0]): string {
    return sseData(openAIErrorBody(error));
  }
}

const completionsDialect = (defaultProvider: string | null): Dialect => translatedDialect('completions', defaultProvider,
  (raw) => { const { parsed, echo } = parseCompletionsRequest(raw); return { parsed, extra: echo }; },
  (_parsed, echo) => new CompletionsWire(echo));

/** `/v1/completions`: models are `provider/model` or an alias. */
export const completions = withExtraFieldsOn(completionsDialect(null), 'text_completion');
/** `/openai/v1/completions`, `/openai/completions`: a bare model name means the `openai` provider. */
export const dropInCompletions = completionsDialect('openai');
