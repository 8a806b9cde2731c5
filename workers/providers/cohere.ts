// Cohere's v2 API (`/v2/chat`, `/v2/embed`). Its chat shape is close to OpenAI's (roles, function tools,
// tool_calls and tool_call_id) but differs in the parameters (`p`, `k`, `stop_sequences`), in the answer
// (`message.content[]` parts, upper-case finish reasons, billed usage) and in the stream, a sequence of typed
// events (message-start, content-delta, tool-call-start, …, message-end) that is turned here into OpenAI chunks.

import { randomUUID } from 'node:crypto';
import { usageData, type JobData, type UsageData } from '../../src/contract/messages.js';
import { joinUrl } from '../upstream/url.js';
import type { CallTarget, ChatAnswer, HttpAdapter, StreamEvent, StreamState, StreamStep, UpstreamCall } from './types.js';
import { isObject, objectsIn, parseObject, type Json } from './json.js';
import { markedFailed, toolFailed } from './tool-result.js';
import { cohereRerankAnswer, cohereRerankCall } from './cohere-rerank.js';

const DEFAULT_BASE_URL = 'https://api.cohere.com';

/** Request fields this adapter maps (or, like `stream_options`, takes care of itself). */
const MAPPED = new Set([
  'model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p', 'top_k', 'max_tokens', 'max_completion_tokens',
  'stop', 'seed', 'frequency_penalty', 'presence_penalty', 'response_format', 'tools', 'tool_choice',
]);
/** Fields Cohere cannot take but whose value here is what Cohere does anyway: kept quiet rather than reported. */
const PROVIDER_DEFAULTS: Readonly<Record<string, unknown>> = { n: 1, parallel_tool_calls: true, logprobs: false };



/** Cohere's finish reasons; ERROR and TIMEOUT are failures, not endings, and are reported as errors. */
const FINISH_REASONS: Readonly<Record<string, string>> = {
  COMPLETE: 'stop',
  STOP_SEQUENCE: 'stop',
  MAX_TOKENS: 'length',
  ERROR_LIMIT: 'length',
  TOOL_CALL: 'tool_calls',
  ERROR_TOXIC: 'content_filter',
};
const FAILURE_STATUS: Readonly<Record<string, number>> = { ERROR: 500, TIMEOUT: 504 };
// Own keys only: an upstream's reason named like an Object.prototype member must not read one.
const finishReasonOf = (reason: string): string => (Object.hasOwn(FINISH_REASONS, reason) ? FINISH_REASONS[reason] : 'stop');

// ---- request ----

function textOfParts(parts: unknown[], where: string): string {
  return parts.map((part) => {
    if (isObject(part) && (part.type === 'text' || part.type === 'refusal')) {
      return String(part.type === 'text' ? part.text ?? '' : part.refusal ?? '');
    }
    throw new Error(`${where} take text parts only, got '${isObject(part) ? String(part.type) : typeof part}'`);
  }).join('');
}

function textOf(content: unknown, where: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return textOfParts(content, where);
  throw new Error(`${where}: content must be a string or an array of parts`);
}

function userContent(content: unknown): unknown {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new Error('a user message\'s content must be a string or an array of parts');
  return content.map((part) => {
    if (!isObject(part)) throw new Error('a content part must be an object');
    if (part.type === 'text') return { type: 'text', text: String(part.text ?? '') };
    if (part.type === 'image_url') {
      // Cohere takes both data: URLs and http(s) URLs, in OpenAI's own shape.
      const image = typeof part.image_url === 'string' ? { url: part.image_url } : part.image_url;
      if (!isObject(image) || typeof image.url !== 'string') throw new Error('an image_url part needs image_url.url');
      return { type: 'image_url', image_url: { url: image.url, ...(typeof image.detail === 'string' ? { detail: image.detail } : {}) } };
    }
    throw new Error(`Cohere cannot take '${String(part.type)}' content parts (text and image_url only)`);
  });
}

function toolCallsOf(calls: unknown[]): Json[] {
  return calls.map((call) => {
    if (!isObject(call) || !isObject(call.function)) throw new Error('an assistant tool call needs a function');
    return {
      id: String(call.id ?? ''),
      type: 'function',
      function: { name: String(call.function.name ?? ''), arguments: String(call.function.arguments ?? '{}') },
    };
  });
}

function cohereMessages(messages: unknown): Json[] {
  if (!Array.isArray(messages)) throw new Error('messages must be an array');
  return messages.map((message) => {
    if (!isObject(message)) throw new Error('each message must be an object');
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: textOf(message.content, 'system messages') };
      case 'user':
        return { role: 'user', content: userContent(message.content) };
      case 'assistant': {
        if (message.function_call) throw new Error('the legacy function_call is not supported: use tool_calls');
        const text = textOf(message.content, 'assistant messages');
        if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) {
          // Cohere puts the text that goes with tool calls in `tool_plan`; the answer maps it back to content.
          return { role: 'assistant', tool_calls: toolCallsOf(message.tool_calls), ...(text ? { tool_plan: text } : {}) };
        }
        return { role: 'assistant', content: text };
      }
      case 'tool': {
        if (typeof message.tool_call_id !== 'string') throw new Error('a tool message needs tool_call_id');
        const text = textOf(message.content, 'tool messages');
        // Cohere's tool messages have no error flag (tool-result.ts).
        const failed = toolFailed(message, `tool message '${message.tool_call_id}'`);
        return { role: 'tool', tool_call_id: message.tool_call_id, content: failed ? markedFailed(text) : text };
      }
      default:
        throw new Error(`Cohere cannot take messages with role '${String(message.role)}'`);
    }
  });
}

function cohereTools(tools: unknown, dropped: string[]): { tools: Json[]; strict: boolean } {
  if (!Array.isArray(tools)) throw new Error('tools must be an array');
  let strictCount = 0;
  const mapped = tools.map((tool) => {
    if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function)) {
      throw new Error('Cohere takes function tools only');
    }
    const fn = tool.function;
    if (fn.strict === true) strictCount++;
    return {
      type: 'function',
      function: {
        name: String(fn.name ?? ''),
        ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
        parameters: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} },
      },
    };
  });
  // Cohere's strictness is one switch for all tools: on when every tool asked for it; a mix cannot be honoured.
  const strict = strictCount > 0 && strictCount === mapped.length;
  if (strictCount > 0 && !strict) dropped.push('tools.function.strict');
  return { tools: mapped, strict };
}

/** OpenAI's tool_choice as Cohere's REQUIRED/NONE; a named function becomes REQUIRED with only that tool offered. */
function applyToolChoice(choice: unknown, out: Json): void {
  if (choice === undefined || choice === null || choice === 'auto') return;
  if (choice === 'none') out.tool_choice = 'NONE';
  else if (choice === 'required') out.tool_choice = 'REQUIRED';
  else if (isObject(choice) && choice.type === 'function' && isObject(choice.function)) {
    const name = choice.function.name;
    const tools = (out.tools as Json[] | undefined) ?? [];
    const only = tools.filter((tool) => (tool.function as Json).name === name);
    if (only.length === 0) throw new Error(`tool_choice names '${String(name)}', which is not among the tools`);
    out.tools = only;
    out.tool_choice = 'REQUIRED';
  } else {
    throw new Error(`Cohere cannot take tool_choice ${JSON.stringify(choice)}`);
  }
}

function responseFormat(format: unknown): Json {
  if (!isObject(format)) throw new Error('response_format must be an object');
  if (format.type === 'text' || format.type === 'json_object') return { type: format.type };
  if (format.type === 'json_schema' && isObject(format.json_schema)) {
    const schema = format.json_schema.schema;
    return { type: 'json_object', ...(isObject(schema) ? { json_schema: schema } : {}) };
  }
  throw new Error(`Cohere cannot take response_format type '${String(format.type)}'`);
}

export function cohereChatBody(job: JobData): { body: Json; dropped: string[] } {
  const from = job.body;
  const dropped: string[] = [];
  const body: Json = { model: job.model, messages: cohereMessages(from.messages) };
  if (job.stream) body.stream = true;
  const copy = (name: string, as = name) => {
    if (from[name] !== undefined && from[name] !== null) body[as] = from[name];
  };
  copy('temperature');
  copy('top_p', 'p');
  copy('top_k', 'k');
  copy('seed');
  copy('frequency_penalty');
  copy('presence_penalty');
  const maxTokens = from.max_completion_tokens ?? from.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) body.max_tokens = maxTokens;
  if (typeof from.stop === 'string') body.stop_sequences = [from.stop];
  else if (Array.isArray(from.stop) && from.stop.length > 0) body.stop_sequences = from.stop;
  if (from.response_format !== undefined && from.response_format !== null) body.response_format = responseFormat(from.response_format);
  if (Array.isArray(from.tools) && from.tools.length > 0) {
    const { tools, strict } = cohereTools(from.tools, dropped);
    body.tools = tools;
    if (strict) body.strict_tools = true;
  }
  if (from.tool_choice !== undefined && body.tools) applyToolChoice(from.tool_choice, body);
  for (const [name, value] of Object.entries(from)) {
    if (MAPPED.has(name) || value === undefined || value === null) continue;
    if (Object.hasOwn(PROVIDER_DEFAULTS, name) && PROVIDER_DEFAULTS[name] === value) continue;
    dropped.push(name);
  }
  return { body, dropped };
}

// ---- answers ----

interface CohereUsage {
  billed_units?: { input_tokens?: number; output_tokens?: number };
  tokens?: { input_tokens?: number; output_tokens?: number };
  cached_tokens?: number;
}

/** Billed units are what the key is charged for (without Cohere's prompt template); raw token counts are the fallback. */
function usageOf(usage: CohereUsage | undefined): { data: UsageData; openai: Json } | null {
  if (!usage || typeof usage !== 'object') return null;
  const promptTokens = usage.billed_units?.input_tokens ?? usage.tokens?.input_tokens ?? 0;
  const completionTokens = usage.billed_units?.output_tokens ?? usage.tokens?.output_tokens ?? 0;
  const totalTokens = promptTokens + completionTokens;
  const openai: Json = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: totalTokens };
  if (typeof usage.cached_tokens === 'number') openai.prompt_tokens_details = { cached_tokens: usage.cached_tokens };
  return { data: usageData(promptTokens, completionTokens, totalTokens, { cachedTokens: usage.cached_tokens }), openai };
}

interface CohereToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

interface CohereChatResponse {
  id?: string;
  finish_reason?: string;
  message?: {
    role?: string;
    content?: { type?: string; text?: string; thinking?: string }[];
    tool_plan?: string;
    tool_calls?: CohereToolCall[];
  };
  usage?: CohereUsage;
}

const openaiToolCall = (call: CohereToolCall) => ({
  id: call.id ?? '',
  type: 'function',
  function: { name: call.function?.name ?? '', arguments: call.function?.arguments ?? '' },
});

function chatAnswer(raw: string, job: JobData): ChatAnswer {
  const parsed = JSON.parse(raw) as CohereChatResponse;
  if (!parsed || typeof parsed !== 'object' || !parsed.message || typeof parsed.message !== 'object') {
    throw new SyntaxError('the answer has no message');
  }
  const reason = parsed.finish_reason ?? 'COMPLETE';
  if (Object.hasOwn(FAILURE_STATUS, reason)) throw new Error(`Cohere ended the generation with ${reason}`);
  const message = parsed.message;
  const parts = objectsIn<NonNullable<typeof message.content>[number]>(message.content);
  const content = parts.filter((part) => part.type === 'text').map((part) => part.text ?? '').join('');
  const thinking = parts.filter((part) => part.type === 'thinking').map((part) => part.thinking ?? '').join('');
  const toolCalls = objectsIn<NonNullable<typeof message.tool_calls>[number]>(message.tool_calls);
  // The tool plan is the text that goes with tool calls, which OpenAI puts in content.
  const text = content || (toolCalls.length > 0 ? message.tool_plan ?? '' : '');
  const usage = usageOf(parsed.usage);
  const body = {
    id: parsed.id ?? randomUUID(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: job.model,
    choices: [{
      index: 0,
      message: {
        role: 'assistant',
        content: text === '' && toolCalls.length > 0 ? null : text,
        ...(thinking ? { reasoning_content: thinking } : {}),
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls.map(openaiToolCall) } : {}),
        refusal: null,
      },
      logprobs: null,
      finish_reason: finishReasonOf(reason),
    }],
    ...(usage ? { usage: usage.openai } : {}),
  };
  return { body: JSON.stringify(body), usage: usage?.data ?? null };
}

// ---- stream ----

interface CohereStreamEvent {
  type?: string;
  id?: string;
  index?: number;
  message?: string;
  delta?: {
    message?: {
      content?: { type?: string; text?: string; thinking?: string };
      tool_plan?: string;
      tool_calls?: CohereToolCall | CohereToolCall[];
    };
    finish_reason?: string;
    error?: string;
    usage?: CohereUsage;
  };
}

interface CohereStreamScratch {
  id?: string;
  created?: number;
  /** Cohere's tool-call index → the OpenAI tool_calls index, in order of appearance. */
  tools?: Record<number, number>;
  toolCount?: number;
}

function chunkOf(state: StreamState, choices: unknown[], extra: Json = {}): string {
  const scratch = state.scratch as CohereStreamScratch;
  scratch.id ??= randomUUID();
  scratch.created ??= Math.floor(Date.now() / 1000);
  return JSON.stringify({ id: scratch.id, object: 'chat.completion.chunk', created: scratch.created, model: state.model, choices, ...extra });
}

const deltaChunk = (state: StreamState, delta: Json, finish: string | null = null) =>
  chunkOf(state, [{ index: 0, delta, logprobs: null, finish_reason: finish }]);

const nothing = (): StreamStep => ({ chunks: [], done: false });

function toolCallStart(event: CohereStreamEvent, state: StreamState): StreamStep {
  const raw = event.delta?.message?.tool_calls;
  const call = Array.isArray(raw) ? raw[0] : raw;
  if (!call) return nothing();
  const scratch = state.scratch as CohereStreamScratch;
  const index = scratch.toolCount ?? 0;
  scratch.toolCount = index + 1;
  (scratch.tools ??= {})[event.index ?? index] = index;
  return {
    chunks: [deltaChunk(state, { tool_calls: [{ index, id: call.id ?? '', type: 'function',
      function: { name: call.function?.name ?? '', arguments: call.function?.arguments ?? '' } }] })],
    done: false,
  };
}

function toolCallDelta(event: CohereStreamEvent, state: StreamState): StreamStep {
  const raw = event.delta?.message?.tool_calls;
  const call = Array.isArray(raw) ? raw[0] : raw;
  const fragment = call?.function?.arguments;
  if (!fragment) return nothing();
  const scratch = state.scratch as CohereStreamScratch;
  const index = scratch.tools?.[event.index ?? 0] ?? Math.max(0, (scratch.toolCount ?? 1) - 1);
  return { chunks: [deltaChunk(state, { tool_calls: [{ index, function: { arguments: fragment } }] })], done: false };
}

function messageEnd(event: CohereStreamEvent, state: StreamState): StreamStep {
  const reason = event.delta?.finish_reason ?? 'COMPLETE';
  const usage = usageOf(event.delta?.usage);
  if (usage) state.usage = usage.data;
  if (Object.hasOwn(FAILURE_STATUS, reason)) {
    return { chunks: [], done: false,
      error: { status: FAILURE_STATUS[reason], message: event.delta?.error || `Cohere ended the generation with ${reason}` } };
  }
  const chunks = [deltaChunk(state, {}, finishReasonOf(reason))];
  if (usage && state.includeUsage) chunks.push(chunkOf(state, [], { usage: usage.openai }));
  return { chunks, done: true };
}

function streamEvent(event: StreamEvent, state: StreamState): StreamStep {
  if (event.data === '[DONE]') return { chunks: [], done: true };
  const parsed = parseObject<CohereStreamEvent>(event.data, 'the stream event');
  const content = parsed.delta?.message?.content;
  switch (parsed.type ?? event.event ?? undefined) {
    case 'message-start': {
      const scratch = state.scratch as CohereStreamScratch;
      if (parsed.id) scratch.id = parsed.id;
      return { chunks: [deltaChunk(state, { role: 'assistant', content: '' })], done: false };
    }
    case 'content-start':
    case 'content-delta':
      if (content?.text) return { chunks: [deltaChunk(state, { content: content.text })], done: false };
      if (content?.thinking) return { chunks: [deltaChunk(state, { reasoning_content: content.thinking })], done: false };
      return nothing();
    case 'tool-plan-delta': {
      const plan = parsed.delta?.message?.tool_plan;
      return plan ? { chunks: [deltaChunk(state, { content: plan })], done: false } : nothing();
    }
    case 'tool-call-start':
      return toolCallStart(parsed, state);
    case 'tool-call-delta':
      return toolCallDelta(parsed, state);
    case 'message-end':
      return messageEnd(parsed, state);
    case undefined:
      // Not an event Cohere documents; an object with only a message is an error report.
      if (typeof parsed.message === 'string') return { chunks: [], done: false, error: { status: 500, message: parsed.message } };
      return nothing();
    default:
      // content-end, tool-call-end, citation-start/-end, debug: nothing an OpenAI client needs.
      return nothing();
  }
}

// ---- embeddings ----

function embeddingsCall(job: JobData, target: CallTarget): UpstreamCall {
  const from = job.body;
  const input = from.input;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || !texts.every((text) => typeof text === 'string')) {
    throw new Error('Cohere embeds text: input must be a string or an array of strings');
  }
  if (from.encoding_format !== undefined && from.encoding_format !== 'float' && from.encoding_format !== 'base64') {
    throw new Error(`unknown encoding_format '${String(from.encoding_format)}'`);
  }
  const body: Json = {
    model: job.model,
    texts,
    // Cohere's v3+ models need to know what the text is for; a client may say so with Cohere's own field.
    input_type: typeof from.input_type === 'string' ? from.input_type : 'search_document',
    embedding_types: ['float'],
  };
  if (typeof from.dimensions === 'number') body.output_dimension = from.dimensions;
  const handled = new Set(['model', 'input', 'input_type', 'encoding_format', 'dimensions']);
  const dropped = Object.keys(from).filter((name) => !handled.has(name) && from[name] !== undefined && from[name] !== null);
  return { url: joinUrl(target.baseUrl ?? DEFAULT_BASE_URL, '/v2/embed'), body: JSON.stringify(body), droppedParams: dropped };
}

function embeddingsAnswer(text: string, job: JobData): ChatAnswer {
  const parsed = JSON.parse(text) as {
    embeddings?: { float?: number[][] };
    meta?: { billed_units?: { input_tokens?: number }; tokens?: { input_tokens?: number } };
  };
  const vectors = parsed?.embeddings?.float;
  if (!Array.isArray(vectors)) throw new SyntaxError('the answer has no embeddings.float array');
  // The openai SDK asks for base64 unless told otherwise: little-endian float32 bytes, as OpenAI sends them.
  const base64 = job.body.encoding_format === 'base64';
  const data = vectors.map((vector, index) => ({
    object: 'embedding',
    index,
    embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
  }));
  const promptTokens = parsed.meta?.billed_units?.input_tokens ?? parsed.meta?.tokens?.input_tokens ?? 0;
  const body = { object: 'list', data, model: job.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
  return { body: JSON.stringify(body), usage: { promptTokens, completionTokens: 0, totalTokens: promptTokens } };
}

export const cohere: HttpAdapter = {
  id: 'cohere',
  transport: 'http',
  auth: { kind: 'bearer' },
  streamFormat: 'sse',

  chatCall(job: JobData, target: CallTarget): UpstreamCall {
    const { body, dropped } = cohereChatBody(job);
    return { url: joinUrl(target.baseUrl ?? DEFAULT_BASE_URL, '/v2/chat'), body: JSON.stringify(body), droppedParams: dropped };
  },

  chatAnswer,
  streamEvent,

  errorMessage(text: string): string | null {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      return typeof parsed?.message === 'string' ? parsed.message : null;
    } catch {
      return null;
    }
  },

  embeddingsCall,
  embeddingsAnswer,
  rerankCall: (job, target) => cohereRerankCall(job, target, DEFAULT_BASE_URL),
  rerankAnswer: cohereRerankAnswer,
  tokenizeCall: (job, target) => ({ url: joinUrl(target.baseUrl ?? DEFAULT_BASE_URL, '/v1/tokenize'),
    body: JSON.stringify({ text: job.body.text, model: job.model }), droppedParams: [] }),
};
