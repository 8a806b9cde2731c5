// The OpenAI wire format, shared by OpenAI itself and every server that speaks it (vLLM, Ollama's /v1,
// LM Studio, …). A provider of this family is this factory with its own id, base URL and auth, plus
// declarations of what it refuses: fields it rejects (for every model, or for some), fields it spells
// differently, an allow-list for strict servers that refuse any unknown field, and whether it takes
// `stream_options`. Whatever is dropped is reported to the client; nothing is changed silently.

import { jsonWithTools } from './added-tools.js';
import { usageData, type JobData, type JobFile, type UsageData } from '../../src/contract/messages.js';
import { joinUrl } from '../upstream/url.js';
import { markedFailed, toolFailed } from './tool-result.js';
import { jinaRerankAnswer, jinaRerankBody } from './jina-rerank.js';
import { modelListAnswer, type AuthStyle, type CallTarget, type ChatAnswer, type HttpAdapter, type StreamEvent, type StreamState, type StreamStep,
  type UpstreamCall } from './types.js';

/** A request field the provider cannot take; with `accepts`, only some of its values (Groq takes `n` only as 1). */
export type ParamRule = string | { readonly name: string; readonly accepts: (value: unknown) => boolean };

/** Fields some models of a provider refuse (a reasoning model that takes no sampling parameters). */
export interface ModelParamRule {
  /** Tested against the bare model name. */
  readonly models: RegExp;
  readonly unsupportedParams: readonly ParamRule[];
}

export interface OpenAICompatibleOptions {
  readonly id: string;
  /** Null for servers that have no public endpoint (vLLM, SGLang): the config must give `base_url`. */
  readonly defaultBaseUrl: string | null;
  readonly auth?: AuthStyle;
  readonly chatPath?: string;
  /** Null when the provider has no list of models (or none in OpenAI's shape); else beside the chat path. */
  readonly modelsPath?: string | null;
  /** OpenAI's Responses API, for the providers that have it (capability `responses`); absent, none. */
  readonly responsesPath?: string;
  /** The Jina-style rerank endpoint, for the servers that have one (capability `rerank`); absent, none. */
  readonly rerankPath?: string;
  /** Null when the provider has no embeddings endpoint. */
  readonly embeddingsPath?: string | null;
  /** Request fields the provider rejects: dropped before sending and reported to the client. */
  readonly unsupportedParams?: readonly ParamRule[];
  /** Like `unsupportedParams`, for the models a rule matches. */
  readonly modelParams?: readonly ModelParamRule[];
  /** OpenAI fields the provider spells differently (OpenAI name → the provider's). When the client sent both, the
   * provider's own spelling wins and the OpenAI one is reported dropped. */
  readonly renamedParams?: Readonly<Record<string, string>>;
  /** For servers that refuse any field they do not know: the only chat fields sent (after renaming); every other
   * field is dropped and reported. `model`, `messages` and `stream` are always sent. */
  readonly chatParams?: readonly string[];
  /** The same for embeddings; `model` and `input` are always sent. */
  readonly embeddingsParams?: readonly string[];
  /** Fields a message may not carry (Groq refuses `messages[].name`): removed, reported as `messages[].<field>`. */
  readonly unsupportedMessageFields?: readonly string[];
  /**
   * False for servers that refuse `stream_options` (Mistral, Cerebras) and send the usage on their last chunk
   * unasked. The field is then never sent; a client's own `include_usage` is still honoured, from that chunk.
   */
  readonly streamOptions?: boolean;
}

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_creation_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
  /** DeepSeek's name for the cached part of prompt_tokens. */
  prompt_cache_hit_tokens?: number;
}

export function usageFromOpenAI(usage: OpenAIUsage | null | undefined): UsageData | null {
  if (!usage || typeof usage !== 'object') return null;
  const promptTokens = usage.prompt_tokens ?? 0;
  const completionTokens = usage.completion_tokens ?? 0;
  return usageData(promptTokens, completionTokens, usage.total_tokens ?? promptTokens + completionTokens, {
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens,
    cacheWriteTokens: usage.prompt_tokens_details?.cache_creation_tokens,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens,
  });
}

// Servers written in other languages put spaces in their JSON (`"usage": {`).
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const NULL_USAGE_FIRST = /"usage"\s*:\s*null\s*,\s*/;
const NULL_USAGE_AFTER = /,\s*"usage"\s*:\s*null/;

/** `data` mentions "usage". */
function withoutNullUsage(data: string): string {
  return NULL_USAGE_FIRST.test(data) ? data.replace(NULL_USAGE_FIRST, '') : data.replace(NULL_USAGE_AFTER, '');
}

type BodyKind = 'chat' | 'embeddings';

const ALWAYS_SENT: Record<BodyKind, readonly string[]> = { chat: ['model', 'messages', 'stream'], embeddings: ['model', 'input'] };

/** Everything a call's body goes through, resolved once per adapter. */
interface BodyPolicy {
  readonly unsupported: readonly ParamRule[];
  readonly modelParams: readonly ModelParamRule[];
  readonly renamed: readonly (readonly [string, string])[];
  readonly allowed: Record<BodyKind, ReadonlySet<string> | null>;
  readonly messageFields: readonly string[];
  readonly streamOptions: boolean;
}

function policyOf(options: OpenAICompatibleOptions): BodyPolicy {
  const allowList = (kind: BodyKind, list: readonly string[] | undefined) =>
    (list ? new Set([...ALWAYS_SENT[kind], ...list]) : null);
  return {
    unsupported: [...FOREIGN_PARAMS, ...(options.unsupportedParams ?? [])],
    modelParams: options.modelParams ?? [],
    renamed: Object.entries(options.renamedParams ?? {}),
    allowed: { chat: allowList('chat', options.chatParams), embeddings: allowList('embeddings', options.embeddingsParams) },
    messageFields: [...FOREIGN_MESSAGE_FIELDS, ...(options.unsupportedMessageFields ?? [])],
    streamOptions: options.streamOptions ?? true,
  };
}

function dropRules(body: Record<string, unknown>, rules: readonly ParamRule[], dropped: string[]): void {
  for (const rule of rules) {
    const name = typeof rule === 'string' ? rule : rule.name;
    const value = body[name];
    if (value === undefined || (typeof rule !== 'string' && rule.accepts(value))) continue;
    delete body[name];
    if (!dropped.includes(name)) dropped.push(name);
  }
}

// Fields of the gateway's chat shape that come from other APIs (a request on `/anthropic` or `/bedrock`): Anthropic's
// `thinking` config, the signed `thinking_blocks` Anthropic needs handed back, and a tool result's `is_error`
// (tool-result.ts). No OpenAI-compatible server takes them, and OpenAI refuses unknown fields, so they are dropped and
// reported.
// The /anthropic route's Anthropic-only fields travel the same way: the members of `output_config` with no OpenAI
// field (its effort and format arrive as `reasoning_effort` and `response_format`), top-level settings such as
// `inference_geo`, and a tool's `defer_loading` and the like; the /genai route's Google-only settings (`google`); and
// the Responses API's server-side compaction (`context_management`, Anthropic's context editing has the same name).
const FOREIGN_PARAMS = ['thinking', 'output_config', 'cache_control', 'container', 'diagnostics', 'inference_geo', 'speed',
  'user_profile_id', 'workspace_id', 'anthropic_beta', 'google', 'context_management'] as const;
const FOREIGN_MESSAGE_FIELDS = ['thinking_blocks', 'is_error', 'cache_control'] as const;
const FOREIGN_TOOL_FIELDS = ['allowed_callers', 'defer_loading', 'eager_input_streaming', 'input_examples'] as const;
/** Anthropic's top effort (`output_config.effort: max`) is OpenAI's `xhigh`. */
const EFFORT_SPELLINGS: Readonly<Record<string, string>> = { max: 'xhigh' };

/** An assistant message's tool calls without the cache breakpoint the /anthropic route keeps on them; copied only then. */
function stripToolCallCache(body: Record<string, unknown>, dropped: string[]): void {
  const messages = body.messages;
  if (!Array.isArray(messages)) return;
  let copy: unknown[] | null = null;
  messages.forEach((message: unknown, index) => {
    const calls = (message as { tool_calls?: unknown } | null)?.tool_calls;
    if (!Array.isArray(calls) || !calls.some((call) => (call as { cache_control?: unknown } | null)?.cache_control !== undefined)) return;
    const clean = calls.map((call: unknown) => {
      if ((call as { cache_control?: unknown } | null)?.cache_control === undefined) return call;
      const { cache_control: _dropped, ...rest } = call as Record<string, unknown>;
      return rest;
    });
    if (!dropped.includes('messages[].tool_calls[].cache_control')) dropped.push('messages[].tool_calls[].cache_control');
    copy ??= messages.slice();
    copy[index] = { ...(message as Record<string, unknown>), tool_calls: clean };
  });
  if (copy) body.messages = copy;
}

/** Tools without the fields no OpenAI-compatible server takes; the array is copied only when a tool carries one. */
function stripToolFields(body: Record<string, unknown>, dropped: string[]): void {
  const tools = body.tools;
  if (!Array.isArray(tools)) return;
  let copy: unknown[] | null = null;
  tools.forEach((tool: unknown, index) => {
    if (!tool || typeof tool !== 'object' || !carriesAny(tool as Record<string, unknown>, FOREIGN_TOOL_FIELDS)) return;
    const clean: Record<string, unknown> = { ...(tool as Record<string, unknown>) };
    for (const field of FOREIGN_TOOL_FIELDS) {
      if (clean[field] === undefined) continue;
      delete clean[field];
      if (!dropped.includes(`tools[].${field}`)) dropped.push(`tools[].${field}`);
    }
    copy ??= tools.slice();
    copy[index] = clean;
  });
  if (copy) body.tools = copy;
}

function carriesAny(message: Record<string, unknown>, fields: readonly string[]): boolean {
  for (const field of fields) if (message[field] !== undefined) return true;
  return false;
}

/** Messages without the fields the provider refuses; the array is copied only when a message carries one. */
function stripMessageFields(body: Record<string, unknown>, fields: readonly string[], dropped: string[]): void {
  const messages = body.messages;
  if (!Array.isArray(messages)) return;
  let copy: unknown[] | null = null;
  messages.forEach((message: unknown, index) => {
    if (!message || typeof message !== 'object' || !carriesAny(message as Record<string, unknown>, fields)) return;
    const present = fields.filter((field) => (message as Record<string, unknown>)[field] !== undefined);
    const clean: Record<string, unknown> = { ...(message as Record<string, unknown>) };
    for (const field of present) {
      delete clean[field];
      if (!dropped.includes(`messages[].${field}`)) dropped.push(`messages[].${field}`);
    }
    if (clean.role === 'tool' && toolFailed(message as Record<string, unknown>, `messages[${index}]`)) clean.content = markedFailed(clean.content);
    copy ??= messages.slice();
    copy[index] = clean;
  });
  if (copy) body.messages = copy;
}

/** The request body for the provider: the client's fields in the provider's spelling, less what it cannot take. */
function bodyFor(job: JobData, policy: BodyPolicy): { body: Record<string, unknown>; dropped: string[] } {
  const body: Record<string, unknown> = { ...job.body, model: job.model };
  // Tools the gateway adds (JobData.tools) go in as text after the policy: an empty list stands for them until then,
  // so that a provider that takes no tools drops those too.
  if (job.tools !== undefined && body.tools === undefined) body.tools = [];
  const dropped: string[] = [];
  // Not a dropped parameter when refused: `include_usage` is honoured from the usage the server sends unasked.
  if (!policy.streamOptions) delete body.stream_options;
  for (const [from, to] of policy.renamed) {
    if (body[from] === undefined) continue;
    if (body[to] === undefined) body[to] = body[from];
    else dropped.push(from);
    delete body[from];
  }
  if (typeof body.reasoning_effort === 'string' && Object.hasOwn(EFFORT_SPELLINGS, body.reasoning_effort)) {
    body.reasoning_effort = EFFORT_SPELLINGS[body.reasoning_effort];
  }
  dropRules(body, policy.unsupported, dropped);
  for (const rule of policy.modelParams) if (rule.models.test(job.model)) dropRules(body, rule.unsupportedParams, dropped);
  const allowed = policy.allowed[job.kind === 'embeddings' ? 'embeddings' : 'chat'];
  if (allowed) {
    for (const name of Object.keys(body)) {
      if (allowed.has(name)) continue;
      delete body[name];
      if (!dropped.includes(name)) dropped.push(name);
    }
  }
  if (job.kind === 'chat' && policy.messageFields.length > 0) stripMessageFields(body, policy.messageFields, dropped);
  if (job.kind === 'chat') {
    stripToolFields(body, dropped);
    stripToolCallCache(body, dropped);
  }
  return { body, dropped };
}

/** The client's body with the bare model, less the `unsupported` fields (listed in `dropped`); for adapters that
 * reuse the OpenAI format with a URL or body of their own. */
export function providerBody(job: JobData, unsupported: readonly ParamRule[] = []): { body: Record<string, unknown>; dropped: string[] } {
  return bodyFor(job, policyOf({ id: '', defaultBaseUrl: null, unsupportedParams: unsupported }));
}

interface UsageChunk {
  id?: unknown;
  created?: unknown;
  model?: unknown;
  usage?: OpenAIUsage;
  choices?: unknown[];
}

/** Scratch key: the usage a server put on a content chunk, owed to the client as OpenAI's separate usage chunk. */
const OWED_USAGE = 'openaiCompatibleOwedUsage';

/** A detail list as FastAPI/pydantic servers (Mistral, vLLM) send it: `[{loc, msg}]`. */
function detailText(detail: unknown): string | null {
  if (typeof detail === 'string') return detail;
  if (!Array.isArray(detail)) return null;
  const parts = detail.map((item: { msg?: unknown; loc?: unknown }) => {
    if (typeof item?.msg !== 'string') return null;
    return Array.isArray(item.loc) ? `${item.loc.join('.')}: ${item.msg}` : item.msg;
  }).filter((part): part is string => part !== null);
  return parts.length > 0 ? parts.join('; ') : null;
}

const isJobFile = (value: unknown): value is JobFile =>
  typeof value === 'object' && value !== null && (value as JobFile).bytes instanceof Uint8Array;

/** A form job's fields (a transcription, an image edit) as OpenAI's multipart form: files as file parts, lists as
 * repeated `name[]` parts (several images of an edit as `image[]`). */
export function transcriptionForm(body: Record<string, unknown>): FormData {
  const form = new FormData();
  const append = (name: string, value: unknown) => {
    if (isJobFile(value)) form.append(name, new Blob([value.bytes], { type: value.type }), value.name);
    else form.append(name, String(value));
  };
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) append(`${name}[]`, item);
    else append(name, value);
  }
  return form;
}

/** OpenAI's media endpoints sit beside chat: `…/chat/completions` → `…/audio/speech`, whatever the provider's prefix. */
const besideChat = (chatPath: string, operation: string): string => chatPath.replace(/chat\/completions$/, operation);

/** Whether `text`, spaces aside, starts with '{' and ends with '}': what a whole JSON object does, in O(1). */
function bracedObject(text: string): boolean {
  let start = 0;
  let end = text.length - 1;
  while (start < end && text.charCodeAt(start) <= 32) start++;
  while (end > start && text.charCodeAt(end) <= 32) end--;
  return text.charCodeAt(start) === 123 && text.charCodeAt(end) === 125;
}

export function createOpenAICompatible(options: OpenAICompatibleOptions): HttpAdapter {
  const chatPath = options.chatPath ?? '/v1/chat/completions';
  const embeddingsPath = options.embeddingsPath === undefined ? '/v1/embeddings' : options.embeddingsPath;
  const policy = policyOf(options);
  const baseOf = (target: CallTarget): string => {
    const base = target.baseUrl ?? options.defaultBaseUrl;
    if (!base) throw new Error('no base URL configured (network_config.base_url)');
    return base;
  };
  const adapter: HttpAdapter = {
    id: options.id,
    transport: 'http',
    auth: options.auth ?? { kind: 'bearer' },
    streamFormat: 'sse',
    chatTakesToolsText: true,

    chatCall(job: JobData, target: CallTarget): UpstreamCall {
      const { body, dropped } = bodyFor(job, policy);
      // Always ask for the usage chunk so token metrics work; it is withheld from clients that did not ask.
      if (job.stream && policy.streamOptions) {
        body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
      }
      return { url: joinUrl(baseOf(target), chatPath), body: jsonWithTools(body, job.tools), droppedParams: dropped };
    },

    chatAnswer(text: string): ChatAnswer {
      const parsed = JSON.parse(text) as { usage?: OpenAIUsage; choices?: unknown };
      if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.choices)) {
        throw new SyntaxError('the answer has no choices array');
      }
      // Same wire format: forward the provider's bytes untouched rather than re-serialising them.
      return { body: text, usage: usageFromOpenAI(parsed.usage) };
    },

    streamEvent(event: StreamEvent, state: StreamState): StreamStep {
      if (event.data === '[DONE]') {
        const owed = state.scratch[OWED_USAGE] as UsageChunk | undefined;
        const chunks = owed && state.includeUsage
          ? [JSON.stringify({ id: owed.id, object: 'chat.completion.chunk', created: owed.created, model: owed.model,
            choices: [], usage: owed.usage })]
          : [];
        return { chunks, done: true };
      }
      // Only chunks with a usage object need parsing; every other chunk is forwarded as the provider sent it, less
      // the `"usage":null` that asking for usage adds to each chunk, for clients that did not ask.
      // One scan for the word settles most chunks (content deltas carry no usage at all); the patterns run only on
      // the chunks that have it.
      const mentionsUsage = event.data.includes('"usage"');
      if (!mentionsUsage || !USAGE_OBJECT.test(event.data)) {
        // Not parsed, but a chunk cut short, or no object at all (a proxy's error text), would reach the client's SDK
        // as a parse failure mid-stream: a look at its two ends turns that into the gateway's own stream error.
        if (!bracedObject(event.data)) throw new SyntaxError('the stream event is not a JSON object');
        return { chunks: [state.includeUsage || !mentionsUsage ? event.data : withoutNullUsage(event.data)], done: false };
      }
      const chunk = JSON.parse(event.data) as UsageChunk;
      state.usage = usageFromOpenAI(chunk.usage);
      const usageOnly = !chunk.choices || chunk.choices.length === 0;
      if (usageOnly) {
        delete state.scratch[OWED_USAGE];
        return { chunks: state.includeUsage ? [event.data] : [], done: false };
      }
      // Usage on a content chunk (servers that send it unasked, or on every chunk): OpenAI clients expect it in
      // a chunk of its own with no choices, after the others; it goes out at the end unless the server sends one.
      state.scratch[OWED_USAGE] = { id: chunk.id, created: chunk.created, model: chunk.model, usage: chunk.usage };
      delete chunk.usage;
      return { chunks: [JSON.stringify(chunk)], done: false };
    },

    errorMessage(text: string): string | null {
      try {
        const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
        if (typeof parsed.error === 'string') return parsed.error;
        if (typeof parsed.error?.message === 'string') return parsed.error.message;
        if (typeof parsed.message === 'string') return parsed.message;
        // Pydantic validation errors: `{"detail": [...]}`, or Mistral's `{"message": {"detail": [...]}}`.
        const nested = parsed.message && typeof parsed.message === 'object' ? (parsed.message as { detail?: unknown }).detail : undefined;
        return detailText(parsed.detail) ?? detailText(nested);
      } catch {
        // Not JSON: fall through to null and let the caller use the raw text.
      }
      return null;
    },
  };
  if (embeddingsPath !== null) {
    adapter.embeddingsCall = (job: JobData, target: CallTarget): UpstreamCall => {
      const { body, dropped } = bodyFor(job, policy);
      return { url: joinUrl(baseOf(target), embeddingsPath), body: JSON.stringify(body), droppedParams: dropped };
    };
    adapter.embeddingsAnswer = (text: string): ChatAnswer => {
      const parsed = JSON.parse(text) as { data?: unknown; usage?: OpenAIUsage };
      if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.data)) throw new SyntaxError('the answer has no data array');
      return { body: text, usage: usageFromOpenAI(parsed.usage) };
    };
  }
  const rerankPath = options.rerankPath;
  if (rerankPath !== undefined) {
    adapter.rerankCall = (job: JobData, target: CallTarget): UpstreamCall => {
      const { body, dropped } = jinaRerankBody(job);
      return { url: joinUrl(baseOf(target), rerankPath), body, droppedParams: dropped };
    };
    adapter.rerankAnswer = jinaRerankAnswer;
  }
  const modelsPath = options.modelsPath === undefined ? besideChat(chatPath, 'models') : options.modelsPath;
  if (modelsPath !== null) {
    adapter.listModelsCall = (_job, target) => ({ method: 'GET', url: joinUrl(baseOf(target), modelsPath), body: '', droppedParams: [] });
    adapter.listModelsAnswer = (text: string): ChatAnswer => {
      const parsed = JSON.parse(text) as { data?: unknown };
      if (!Array.isArray(parsed?.data)) throw new SyntaxError('the model list has no data array');
      return modelListAnswer(parsed.data.map((model: { id?: unknown } | null) => model?.id));
    };
  }
  // Media and Responses bodies are OpenAI's own, sent as the client wrote them (the chat field rules do not apply).
  const mediaBody = (job: JobData) => ({ ...job.body, model: job.model });
  const responsesPath = options.responsesPath;
  if (responsesPath !== undefined) {
    adapter.responsesCall = (job, target) =>
      ({ url: joinUrl(baseOf(target), responsesPath), body: JSON.stringify(mediaBody(job)), droppedParams: [] });
  }
  adapter.speechCall = (job, target) =>
    ({ url: joinUrl(baseOf(target), besideChat(chatPath, 'audio/speech')), body: JSON.stringify(mediaBody(job)), droppedParams: [] });
  adapter.transcriptionCall = (job, target) =>
    ({ url: joinUrl(baseOf(target), besideChat(chatPath, 'audio/transcriptions')), body: '', form: transcriptionForm(mediaBody(job)), droppedParams: [] });
  adapter.imageGenerationCall = (job, target) =>
    ({ url: joinUrl(baseOf(target), besideChat(chatPath, 'images/generations')), body: JSON.stringify(mediaBody(job)), droppedParams: [] });
  adapter.imageEditCall = (job, target) =>
    ({ url: joinUrl(baseOf(target), besideChat(chatPath, 'images/edits')), body: '', form: transcriptionForm(mediaBody(job)), droppedParams: [] });
  adapter.imageVariationCall = (job, target) =>
    ({ url: joinUrl(baseOf(target), besideChat(chatPath, 'images/variations')), body: '', form: transcriptionForm(mediaBody(job)), droppedParams: [] });
  return adapter;
}
