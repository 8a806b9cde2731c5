// OpenAI Chat Completions ↔ Anthropic Messages, as pure transforms. The Messages format is spoken by Anthropic's
// own API and by the clouds that host Claude (their framing and auth differ, the JSON does not), so the request
// body (without `model`), the answer, the stream's event payloads and the error body are converted here, once.
//
// Fields with no Anthropic equivalent are dropped and named in `droppedParams`; content the model would
// otherwise lose (audio, files by id, non-function tools) is refused with an Error instead, as is anything
// that cannot be converted faithfully.
//
// Thinking: Anthropic's thinking blocks come back as `reasoning_content` (the text) plus `thinking_blocks` (the
// blocks with their signatures, as LiteLLM names them). Sent back on an assistant message, `thinking_blocks`
// become thinking blocks again; `reasoning_content` alone cannot, as Anthropic needs the signature.

import { usageData as usageOf, type JobData, type UsageData } from '../../src/contract/messages.js';
import type { ChatAnswer, StreamState, StreamStep } from './types.js';
import { isObject, objectsIn, parseObject, type Json } from './json.js';
import { toolFailed } from './tool-result.js';

/** Used when the client gives neither `max_completion_tokens` nor `max_tokens`: Anthropic requires one. */
export const DEFAULT_MAX_TOKENS = 4096;


export interface AnthropicRequest {
  /** The Messages request body without `model` and `stream`, which the caller places (body or URL). */
  body: Json;
  droppedParams: string[];
}

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
/** Anthropic fields a client may send through the gateway as they are (the /anthropic route carries them). */
const NATIVE_FIELDS = ['thinking', 'top_k', 'cache_control', 'container', 'diagnostics', 'inference_geo', 'speed',
  'user_profile_id', 'workspace_id'] as const;
/** A custom tool's Anthropic fields, carried on the OpenAI tool object by the /anthropic route. */
const NATIVE_TOOL_FIELDS = ['allowed_callers', 'defer_loading', 'eager_input_streaming', 'input_examples'] as const;
/**
 * Sent at their default (no effect), these OpenAI fields are not worth reporting; LangChain's ChatOpenAI sends the
 * penalties at 0 on every request.
 */
const HARMLESS_DEFAULTS: Record<string, unknown> = { n: 1, logprobs: false, parallel_tool_calls: true,
  frequency_penalty: 0, presence_penalty: 0 };
/** Fields `toAnthropicRequest` reads itself; any other field of the client's body is dropped and reported. */
const HANDLED = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'stop', 'tools', 'tool_choice', 'parallel_tool_calls', 'user', 'safety_identifier', 'reasoning_effort',
  'response_format', 'service_tier', 'output_config', 'anthropic_beta', 'web_search_options', ...NATIVE_FIELDS,
]);
/** OpenAI reasoning efforts with no Anthropic `output_config.effort` counterpart. */
const EFFORTS_WITHOUT_EQUIVALENT = new Set(['none', 'minimal']);
const SERVICE_TIERS: Record<string, string> = { auto: 'auto', default: 'standard_only' };

class Dropped {
  readonly names: string[] = [];
  add(name: string): void {
    if (!this.names.includes(name)) this.names.push(name);
  }
}


// ---- request -------------------------------------------------------------------------------------------------

/** A `data:` URL's media type and base64 payload; other encodings are refused. */
function parseDataUrl(url: string, what: string): { mediaType: string; data: string } {
  const match = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!match) throw new Error(`${what}: malformed data: URL`);
  if (!match[2].split(';').includes('base64')) throw new Error(`${what}: only base64 data: URLs are supported`);
  return { mediaType: match[1].toLowerCase(), data: match[3] };
}

function imageBlock(part: Json, where: string, dropped: Dropped): Json {
  const image = part.image_url;
  const url = typeof image === 'string' ? image : isObject(image) ? image.url : undefined;
  if (typeof url !== 'string' || url === '') throw new Error(`${where}: image_url.url must be a string`);
  // Anthropic picks the resolution itself; OpenAI's `detail` hint has no counterpart.
  if (isObject(image) && image.detail !== undefined && image.detail !== null && image.detail !== 'auto') dropped.add('image_url.detail');
  let source: Json;
  if (url.startsWith('data:')) {
    const { mediaType, data } = parseDataUrl(url, where);
    if (!IMAGE_TYPES.has(mediaType)) {
      throw new Error(`${where}: image type '${mediaType}' is not supported (use ${[...IMAGE_TYPES].join(', ')})`);
    }
    source = { type: 'base64', media_type: mediaType, data };
  } else if (/^https?:\/\//i.test(url)) {
    source = { type: 'url', url };
  } else {
    throw new Error(`${where}: image_url.url must be an http(s) or data: URL`);
  }
  return withCacheControl({ type: 'image', source }, part);
}

function documentBlock(part: Json, where: string): Json {
  const file = isObject(part.file) ? part.file : {};
  if (typeof file.file_data !== 'string') {
    throw new Error(`${where}: files must be sent inline as file.file_data (a data: URL); file_id references are not supported`);
  }
  const { mediaType, data } = parseDataUrl(file.file_data, where);
  if (mediaType !== 'application/pdf') throw new Error(`${where}: file type '${mediaType}' is not supported (PDF only)`);
  const block: Json = { type: 'document', source: { type: 'base64', media_type: mediaType, data } };
  if (typeof file.filename === 'string' && file.filename) block.title = file.filename;
  return withCacheControl(block, part);
}

/** Keeps a part's `cache_control` (Anthropic prompt caching, as OpenAI-side clients such as LiteLLM's send it). */
function withCacheControl(block: Json, part: Json): Json {
  if (isObject(part.cache_control)) block.cache_control = part.cache_control;
  return block;
}

/** One content part of a user, system or tool message as an Anthropic block. */
function contentBlock(part: unknown, where: string, dropped: Dropped, allowMedia: boolean): Json {
  if (!isObject(part)) throw new Error(`${where}: a content part must be an object`);
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string') throw new Error(`${where}: text parts need a string 'text'`);
      return withCacheControl({ type: 'text', text: part.text }, part);
    case 'image_url':
      if (!allowMedia) break;
      return imageBlock(part, where, dropped);
    case 'file':
      if (!allowMedia) break;
      return documentBlock(part, where);
    case 'input_audio':
      throw new Error(`${where}: audio input is not supported by this provider`);
  }
  throw new Error(`${where}: content part type '${String(part.type)}' is not supported here`);
}

function contentBlocks(content: unknown, where: string, dropped: Dropped, allowMedia: boolean): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (content === null || content === undefined) return [];
  if (!Array.isArray(content)) throw new Error(`${where}.content must be a string or an array of parts`);
  return content.map((part, i) => contentBlock(part, `${where}.content[${i}]`, dropped, allowMedia));
}

function toolUseBlock(call: unknown, where: string): Json {
  if (!isObject(call) || !isObject(call.function) || (call.type !== undefined && call.type !== 'function')) {
    throw new Error(`${where}: only function tool calls are supported`);
  }
  const { name, arguments: args } = call.function;
  if (typeof call.id !== 'string' || typeof name !== 'string') throw new Error(`${where}: a tool call needs a string id and function.name`);
  let input: unknown = {};
  if (typeof args === 'string' && args.trim() !== '') {
    try {
      input = JSON.parse(args);
    } catch {
      throw new Error(`${where}: function.arguments is not valid JSON`);
    }
  }
  if (!isObject(input)) throw new Error(`${where}: function.arguments must be a JSON object`);
  // The /anthropic route keeps a tool use's cache breakpoint on its tool call.
  return withCacheControl({ type: 'tool_use', id: call.id, name, input }, call);
}

/** Thinking blocks an earlier answer carried (`thinking_blocks`), handed back verbatim as Anthropic needs them. */
function thinkingBlocks(blocks: unknown, where: string): Json[] {
  if (!Array.isArray(blocks)) throw new Error(`${where}.thinking_blocks must be an array`);
  return blocks.map((block, i) => {
    if (isObject(block) && block.type === 'thinking' && typeof block.thinking === 'string' && typeof block.signature === 'string') {
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    }
    if (isObject(block) && block.type === 'redacted_thinking' && typeof block.data === 'string') {
      return { type: 'redacted_thinking', data: block.data };
    }
    throw new Error(`${where}.thinking_blocks[${i}] must be a thinking block with its signature, or a redacted_thinking block`);
  });
}

function assistantBlocks(message: Json, where: string, dropped: Dropped): Json[] {
  const blocks: Json[] = [];
  if (message.thinking_blocks !== undefined && message.thinking_blocks !== null) {
    blocks.push(...thinkingBlocks(message.thinking_blocks, where));
  } else if (typeof message.reasoning_content === 'string' && message.reasoning_content !== '') {
    dropped.add('reasoning_content');
  }
  const content = message.content;
  if (typeof content === 'string') {
    if (content !== '') blocks.push({ type: 'text', text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part, i) => {
      const at = `${where}.content[${i}]`;
      if (isObject(part) && part.type === 'refusal' && typeof part.refusal === 'string') {
        blocks.push({ type: 'text', text: part.refusal });
        return;
      }
      const block = contentBlock(part, at, dropped, false);
      // An assistant turn's text block may not be empty; OpenAI clients often send "" beside tool calls.
      if (block.text !== '') blocks.push(block);
    });
  } else if (content !== null && content !== undefined) {
    throw new Error(`${where}.content must be a string, an array of parts or null`);
  }
  if (message.tool_calls !== undefined && message.tool_calls !== null) {
    if (!Array.isArray(message.tool_calls)) throw new Error(`${where}.tool_calls must be an array`);
    message.tool_calls.forEach((call, i) => blocks.push(toolUseBlock(call, `${where}.tool_calls[${i}]`)));
  }
  if (message.function_call !== undefined && message.function_call !== null) dropped.add('function_call');
  return blocks;
}

function toolResultBlock(message: Json, where: string, dropped: Dropped): Json {
  if (typeof message.tool_call_id !== 'string') throw new Error(`${where}: a tool message needs a string tool_call_id`);
  const content = typeof message.content === 'string'
    ? message.content
    : contentBlocks(message.content, where, dropped, true);
  const block: Json = { type: 'tool_result', tool_use_id: message.tool_call_id, content };
  // Anthropic's own flag (tool-result.ts), false included when the client said so.
  const failed = toolFailed(message, where);
  if (failed !== undefined) block.is_error = failed;
  // The /anthropic route keeps a tool result's cache breakpoint on its tool message.
  return withCacheControl(block, message);
}

interface Conversation {
  system: Json[];
  messages: { role: 'user' | 'assistant'; content: Json[] }[];
}

/**
 * OpenAI's messages as Anthropic's: system and developer messages become the top-level system prompt, tool
 * messages become tool_result blocks in a user turn, and consecutive turns of one role are merged (so tool
 * results, then any user text, share the user turn Anthropic expects after a tool call).
 */
function convertMessages(messages: unknown, dropped: Dropped): Conversation {
  if (!Array.isArray(messages)) throw new Error("'messages' must be an array");
  const conversation: Conversation = { system: [], messages: [] };
  const push = (role: 'user' | 'assistant', blocks: Json[]) => {
    const last = conversation.messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else conversation.messages.push({ role, content: blocks });
  };
  messages.forEach((message: unknown, i) => {
    const where = `messages[${i}]`;
    if (!isObject(message)) throw new Error(`${where} must be an object`);
    if (message.name !== undefined && message.name !== null && message.role !== 'tool') dropped.add('name');
    switch (message.role) {
      case 'system':
      case 'developer':
        for (const block of contentBlocks(message.content, where, dropped, false)) conversation.system.push(block);
        return;
      case 'user':
        push('user', contentBlocks(message.content, where, dropped, true));
        return;
      case 'assistant':
        push('assistant', assistantBlocks(message, where, dropped));
        return;
      case 'tool':
        push('user', [toolResultBlock(message, where, dropped)]);
        return;
      default:
        throw new Error(`${where}: role '${String(message.role)}' is not supported`);
    }
  });
  return conversation;
}

/** A turn that is one plain text block is sent as a string, as Anthropic's own examples do. */
function compactContent(blocks: Json[]): string | Json[] {
  if (blocks.length === 1 && blocks[0].type === 'text' && blocks[0].cache_control === undefined) return blocks[0].text as string;
  return blocks;
}

/**
 * OpenAI's web search (`web_search_options`; a Responses `web_search` tool arrives as it) as Anthropic's web search
 * server tool, which Anthropic runs; the answer's search blocks are skipped, its text kept.
 */
function webSearchTool(options: Json, dropped: Dropped): Json {
  const tool: Json = { type: 'web_search_20250305', name: 'web_search' };
  const location = options.user_location;
  if (isObject(location) && isObject(location.approximate)) tool.user_location = { type: 'approximate', ...location.approximate };
  if (options.search_context_size !== undefined) dropped.add('web_search_options.search_context_size');
  return tool;
}

function convertTools(tools: unknown[]): Json[] {
  return tools.map((tool, i) => {
    if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function) || typeof tool.function.name !== 'string') {
      throw new Error(`tools[${i}]: only function tools with a name are supported`);
    }
    const fn = tool.function;
    const converted: Json = { name: fn.name };
    if (typeof fn.description === 'string') converted.description = fn.description;
    converted.input_schema = isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} };
    if (typeof fn.strict === 'boolean') converted.strict = fn.strict;
    for (const field of NATIVE_TOOL_FIELDS) if (tool[field] !== undefined && tool[field] !== null) converted[field] = tool[field];
    return withCacheControl(converted, tool);
  });
}

/** OpenAI's tool_choice as Anthropic's, or null when it has no counterpart (reported by the caller). */
function convertToolChoice(choice: unknown): Json | null {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any' };
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    return { type: 'tool', name: choice.function.name };
  }
  return null;
}

/** The fields of a Messages request that Anthropic's token counter takes (`/v1/messages/count_tokens`, Vertex's). */
const COUNTED_FIELDS = ['messages', 'system', 'tools', 'tool_choice', 'thinking'] as const;

/**
 * A count_tokens job as Anthropic's token counter takes it: the model, the conversation and what shapes the prompt.
 * Sampling fields (and the max_tokens the conversion always sets) change no count and are refused by the endpoint.
 */
export function anthropicCountTokensRequest(job: JobData): { request: Json; droppedParams: string[] } {
  const { body, droppedParams } = toAnthropicRequest(job.body);
  const request: Json = { model: job.model };
  for (const field of COUNTED_FIELDS) if (body[field] !== undefined) request[field] = body[field];
  return { request, droppedParams };
}

/** The counter's `{"input_tokens": N}`, as the count_tokens job answers it. */
export function anthropicCountTokensAnswer(text: string): ChatAnswer {
  const answer = JSON.parse(text) as { input_tokens?: unknown };
  if (!Number.isInteger(answer?.input_tokens)) throw new SyntaxError('the count_tokens answer has no integer input_tokens');
  // Counting spends no tokens: no usage is recorded.
  return { body: JSON.stringify({ input_tokens: answer.input_tokens }), usage: null };
}

/**
 * The client's OpenAI chat request as an Anthropic Messages body (without `model` and `stream`). Throws an
 * Error with a clear message for what cannot be converted; lists in `droppedParams` what was left out.
 */
export function toAnthropicRequest(request: Json): AnthropicRequest {
  const dropped = new Dropped();
  const { system, messages } = convertMessages(request.messages, dropped);
  const body: Json = {};
  const present = (name: string) => request[name] !== undefined && request[name] !== null;

  const maxTokens = present('max_completion_tokens') ? request.max_completion_tokens : request.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) {
    body.max_tokens = maxTokens;
  } else {
    // Thinking tokens count toward max_tokens, and the budget must stay below it.
    const thinking = request.thinking;
    const budget = isObject(thinking) && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : 0;
    body.max_tokens = Math.max(DEFAULT_MAX_TOKENS, budget + DEFAULT_MAX_TOKENS);
  }
  body.messages = messages.map((turn) => ({ role: turn.role, content: compactContent(turn.content) }));
  if (system.length > 0) {
    body.system = system.length === 1 && system[0].cache_control === undefined ? system[0].text : system;
  }
  if (present('temperature')) body.temperature = request.temperature;
  if (present('top_p')) body.top_p = request.top_p;
  if (present('stop')) {
    const stop = request.stop;
    body.stop_sequences = Array.isArray(stop) ? stop : [stop];
  }

  const tools = Array.isArray(request.tools) ? request.tools : [];
  if (tools.length > 0) {
    body.tools = convertTools(tools);
    let choice: Json | null = null;
    if (present('tool_choice')) {
      choice = convertToolChoice(request.tool_choice);
      if (!choice) dropped.add('tool_choice');
    }
    if (request.parallel_tool_calls === false && choice?.type !== 'none') {
      choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true };
    }
    if (choice) body.tool_choice = choice;
  } else if (present('tools') && !Array.isArray(request.tools)) {
    throw new Error("'tools' must be an array");
  }
  if (isObject(request.web_search_options)) ((body.tools ??= []) as Json[]).push(webSearchTool(request.web_search_options, dropped));
  // With no tools, tool_choice and parallel_tool_calls have no effect at OpenAI either: nothing is lost.

  const userId = request.safety_identifier ?? request.user;
  if (typeof userId === 'string' && userId !== '') body.metadata = { user_id: userId };

  // What the /anthropic route kept of the client's `output_config` (members with no OpenAI field), then those that
  // travelled as OpenAI fields.
  const outputConfig: Json = isObject(request.output_config) ? { ...request.output_config } : {};
  if (present('output_config') && !isObject(request.output_config)) dropped.add('output_config');
  if (present('reasoning_effort')) {
    const effort = request.reasoning_effort;
    if (typeof effort === 'string' && !EFFORTS_WITHOUT_EQUIVALENT.has(effort)) outputConfig.effort = effort;
    else dropped.add('reasoning_effort');
  }
  if (present('response_format')) {
    const format = request.response_format;
    if (isObject(format) && format.type === 'json_schema' && isObject(format.json_schema) && isObject(format.json_schema.schema)) {
      outputConfig.format = { type: 'json_schema', schema: format.json_schema.schema };
    } else if (!(isObject(format) && format.type === 'text')) {
      // json_object asks for "some JSON" with no schema; Anthropic's structured output needs one.
      dropped.add('response_format');
    }
  }
  if (Object.keys(outputConfig).length > 0) body.output_config = outputConfig;

  if (present('service_tier')) {
    const tier = SERVICE_TIERS[String(request.service_tier)];
    if (tier) body.service_tier = tier;
    else dropped.add('service_tier');
  }
  for (const name of NATIVE_FIELDS) if (present(name)) body[name] = request[name];

  for (const [name, value] of Object.entries(request)) {
    if (HANDLED.has(name) || value === undefined || value === null) continue;
    if (Object.hasOwn(HARMLESS_DEFAULTS, name) && HARMLESS_DEFAULTS[name] === value) continue;
    dropped.add(name);
  }
  return { body, droppedParams: dropped.names };
}

// ---- answers -------------------------------------------------------------------------------------------------

interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; cache_creation_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

/**
 * Anthropic counts cache reads and writes apart from `input_tokens`; OpenAI's prompt_tokens includes every
 * prompt token, so the three are added up. Cache reads are OpenAI's `cached_tokens`; cache writes, which OpenAI
 * has no field for, go in `prompt_tokens_details.cache_creation_tokens`.
 */
export function openAIUsage(usage: AnthropicUsage): OpenAIUsage {
  const read = usage.cache_read_input_tokens ?? 0;
  const written = usage.cache_creation_input_tokens ?? 0;
  const prompt = (usage.input_tokens ?? 0) + read + written;
  const completion = usage.output_tokens ?? 0;
  const result: OpenAIUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: read, cache_creation_tokens: written },
  };
  const thinking = usage.output_tokens_details?.thinking_tokens;
  if (typeof thinking === 'number') result.completion_tokens_details = { reasoning_tokens: thinking };
  return result;
}

const usageData = (usage: OpenAIUsage): UsageData =>
  usageOf(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, {
    cachedTokens: usage.prompt_tokens_details.cached_tokens,
    cacheWriteTokens: usage.prompt_tokens_details.cache_creation_tokens,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens,
  });

/** Anthropic's stop_reason as OpenAI's finish_reason. */
export function finishReason(stopReason: unknown): string {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, and pause_turn (a server tool's turn was cut short: the answer so far stands).
      return 'stop';
  }
}

interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  thinking?: string;
  signature?: string;
  data?: string;
}

interface AnthropicMessage {
  id?: string;
  type?: string;
  model?: string;
  content?: ContentBlock[];
  stop_reason?: string | null;
  stop_sequence?: string | null;
  usage?: AnthropicUsage;
}

/**
 * The stop sequence that ended the answer, in the choice's `stop_reason` as vLLM reports it: OpenAI's finish_reason
 * `stop` alone cannot tell it from end_turn, and Anthropic's Messages route answers `stop_sequence` from it.
 */
function matchedStop(stopSequence: unknown): { stop_reason?: string } {
  return typeof stopSequence === 'string' && stopSequence !== '' ? { stop_reason: stopSequence } : {};
}

/** A Messages answer as an OpenAI chat.completion. */
export function chatCompletionFromMessage(text: string, fallbackModel: string): ChatAnswer {
  const message = JSON.parse(text) as AnthropicMessage;
  if (!isObject(message) || !Array.isArray(message.content)) throw new SyntaxError('the answer has no content array');
  let content = '';
  let reasoning = '';
  const toolCalls: Json[] = [];
  const thinking: Json[] = [];
  for (const block of objectsIn<ContentBlock>(message.content)) {
    if (block.type === 'text') content += block.text ?? '';
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    } else if (block.type === 'thinking') {
      reasoning += block.thinking ?? '';
      thinking.push({ type: 'thinking', thinking: block.thinking ?? '', signature: block.signature ?? '' });
    } else if (block.type === 'redacted_thinking') {
      thinking.push({ type: 'redacted_thinking', data: block.data ?? '' });
    }
    // Server-tool blocks (web search and the like) are never asked for by this adapter.
  }
  const reply: Json = { role: 'assistant', content: content === '' && toolCalls.length > 0 ? null : content, refusal: null };
  if (toolCalls.length > 0) reply.tool_calls = toolCalls;
  if (thinking.length > 0) {
    reply.reasoning_content = reasoning;
    reply.thinking_blocks = thinking;
  }
  const usage = openAIUsage(message.usage ?? {});
  const body = {
    id: message.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: message.model ?? fallbackModel,
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: finishReason(message.stop_reason),
      ...matchedStop(message.stop_sequence) }],
    usage,
  };
  return { body: JSON.stringify(body), usage: usageData(usage) };
}

// ---- errors --------------------------------------------------------------------------------------------------

const STATUS_BY_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** The HTTP status Anthropic answers an error `type` with (an error inside a stream carries only the type). */
export function statusForErrorType(type: unknown): number {
  return (typeof type === 'string' && STATUS_BY_ERROR_TYPE[type]) || 500;
}

/** The message inside `{"type":"error","error":{"type":…,"message":…}}`, or null. */
export function anthropicErrorMessage(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    if (isObject(parsed.error) && typeof parsed.error.message === 'string') return parsed.error.message;
    if (typeof parsed.error === 'string') return parsed.error;
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON (a proxy's HTML page): the caller falls back to the raw text.
  }
  return null;
}

// ---- streams -------------------------------------------------------------------------------------------------

interface BlockState {
  kind: string;
  /** For tool_use blocks: the OpenAI tool_calls index. */
  toolIndex: number;
  /** For thinking blocks: the text so far, sent again whole with the signature. */
  thinking: string;
}

interface AnthropicStreamScratch {
  id: string;
  model: string;
  created: number;
  usage: AnthropicUsage;
  blocks: Map<number, BlockState>;
  tools: number;
}

function scratchOf(state: StreamState): AnthropicStreamScratch {
  let scratch = state.scratch.anthropic as AnthropicStreamScratch | undefined;
  if (!scratch) {
    scratch = { id: '', model: state.model, created: Math.floor(Date.now() / 1000), usage: {}, blocks: new Map(), tools: 0 };
    state.scratch.anthropic = scratch;
  }
  return scratch;
}

/** Later usage reports are cumulative: a non-null field replaces the earlier value. */
function mergeUsage(into: AnthropicUsage, from: unknown): void {
  if (!isObject(from)) return;
  for (const [key, value] of Object.entries(from)) {
    if (value !== null && value !== undefined) (into as Json)[key] = value;
  }
}

function chunk(scratch: AnthropicStreamScratch, delta: Json, finish: string | null = null, stopSequence: unknown = null): string {
  return JSON.stringify({
    id: scratch.id, object: 'chat.completion.chunk', created: scratch.created, model: scratch.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...matchedStop(stopSequence) }],
  });
}

interface StreamPayload {
  type?: string;
  index?: number;
  message?: AnthropicMessage;
  content_block?: ContentBlock;
  delta?: { type?: string; text?: string; partial_json?: string; thinking?: string; signature?: string; stop_reason?: string | null;
    stop_sequence?: string | null };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

const NOTHING: StreamStep = Object.freeze({ chunks: [], done: false }) as StreamStep;

/**
 * One event of a Messages stream (its JSON payload; the event name repeats the payload's `type`) as OpenAI
 * chunks: the role chunk at message_start, content / reasoning_content / tool_calls deltas, the finish chunk at
 * message_delta, and the usage chunk (when asked) at message_stop, which ends the stream.
 */
export function anthropicStreamStep(data: string, state: StreamState): StreamStep {
  const payload = parseObject<StreamPayload>(data, 'the stream event');
  const scratch = scratchOf(state);
  switch (payload.type) {
    case 'message_start': {
      const message = payload.message ?? {};
      if (message.id) scratch.id = message.id;
      if (message.model) scratch.model = message.model;
      mergeUsage(scratch.usage, message.usage);
      // Known from here on: a stream that breaks before its end still reports the input it was billed for.
      state.usage = usageData(openAIUsage(scratch.usage));
      return { chunks: [chunk(scratch, { role: 'assistant', content: '' })], done: false };
    }
    case 'content_block_start': {
      const block = payload.content_block ?? { type: 'unknown' };
      const entry: BlockState = { kind: block.type, toolIndex: -1, thinking: block.thinking ?? '' };
      scratch.blocks.set(payload.index ?? 0, entry);
      if (block.type === 'tool_use') {
        entry.toolIndex = scratch.tools++;
        return { chunks: [chunk(scratch, { tool_calls: [{ index: entry.toolIndex, id: block.id, type: 'function',
          function: { name: block.name, arguments: '' } }] })], done: false };
      }
      if (block.type === 'text' && block.text) return { chunks: [chunk(scratch, { content: block.text })], done: false };
      if (block.type === 'thinking' && block.thinking) {
        return { chunks: [chunk(scratch, { reasoning_content: block.thinking })], done: false };
      }
      if (block.type === 'redacted_thinking') {
        return { chunks: [chunk(scratch, { thinking_blocks: [{ type: 'redacted_thinking', data: block.data ?? '' }] })], done: false };
      }
      return NOTHING;
    }
    case 'content_block_delta': {
      const delta = payload.delta ?? {};
      const block = scratch.blocks.get(payload.index ?? 0);
      switch (delta.type) {
        case 'text_delta':
          return delta.text ? { chunks: [chunk(scratch, { content: delta.text })], done: false } : NOTHING;
        case 'input_json_delta':
          // The first fragment is often empty; a tool's arguments are the concatenation of the rest.
          if (!delta.partial_json || !block || block.toolIndex < 0) return NOTHING;
          return { chunks: [chunk(scratch, { tool_calls: [{ index: block.toolIndex, function: { arguments: delta.partial_json } }] })],
            done: false };
        case 'thinking_delta':
          if (!delta.thinking) return NOTHING;
          if (block) block.thinking += delta.thinking;
          return { chunks: [chunk(scratch, { reasoning_content: delta.thinking })], done: false };
        case 'signature_delta':
          // The whole block once, when its signature arrives: what the client sends back in thinking_blocks.
          return { chunks: [chunk(scratch, { thinking_blocks: [{ type: 'thinking', thinking: block?.thinking ?? '',
            signature: delta.signature ?? '' }] })], done: false };
        default:
          return NOTHING;
      }
    }
    case 'message_delta': {
      mergeUsage(scratch.usage, payload.usage);
      state.usage = usageData(openAIUsage(scratch.usage));
      return { chunks: [chunk(scratch, {}, finishReason(payload.delta?.stop_reason), payload.delta?.stop_sequence)], done: false };
    }
    case 'message_stop': {
      const usage = openAIUsage(scratch.usage);
      state.usage = usageData(usage);
      const chunks = state.includeUsage
        ? [JSON.stringify({ id: scratch.id, object: 'chat.completion.chunk', created: scratch.created, model: scratch.model,
          choices: [], usage })]
        : [];
      return { chunks, done: true };
    }
    case 'error': {
      const error = payload.error ?? {};
      return { chunks: [], done: false, error: { status: statusForErrorType(error.type),
        message: error.message ?? String(error.type ?? 'stream error') } };
    }
    default:
      // ping, content_block_stop, and event types added after this was written (Anthropic's versioning allows it).
      return NOTHING;
  }
}

// ---- the Messages API natively (`messages` jobs) ---------------------------------------------------------------

/** A Messages answer, forwarded as the provider wrote it, with its usage read for the metrics. */
export function nativeMessageAnswer(text: string): ChatAnswer {
  const message = parseObject<{ usage?: unknown }>(text, 'the answer');
  const usage: AnthropicUsage = {};
  mergeUsage(usage, message.usage);
  return { body: text, usage: usageData(openAIUsage(usage)) };
}

/** Scratch key: the usage of a native stream so far (message_start's, then each message_delta's). */
const NATIVE_USAGE = 'anthropicNativeUsage';

/**
 * One event of a native Messages stream as the SSE block it came as: the client gets the provider's events untouched.
 * The stream ends with `message_stop`. An `error` event is the provider failing, as in a translated stream: the
 * gateway records it (breaker, metrics; a retry or fallback while nothing was sent yet) and ends the client's stream
 * with the error event in Anthropic's shape.
 */
export function nativeMessageEvent(event: { event: string | null; data: string }, state: StreamState): StreamStep {
  const payload = parseObject<StreamPayload>(event.data, 'the stream event');
  if (payload.type === 'error') {
    const error = payload.error ?? {};
    return { chunks: [], done: false, error: { status: statusForErrorType(error.type), message: error.message ?? 'the stream failed' } };
  }
  const block = `${event.event === null ? '' : `event: ${event.event}\n`}data: ${event.data}\n\n`;
  const usage = (state.scratch[NATIVE_USAGE] ??= {}) as AnthropicUsage;
  if (payload.type === 'message_start') mergeUsage(usage, payload.message?.usage);
  else if (payload.type === 'message_delta') mergeUsage(usage, payload.usage);
  if (payload.type === 'message_start' || payload.type === 'message_delta' || payload.type === 'message_stop') {
    state.usage = usageData(openAIUsage(usage));
  }
  return { chunks: [block], done: payload.type === 'message_stop' };
}
