// Anthropic's Messages API (`/anthropic/v1/messages`, `/anthropic/v1/messages/count_tokens`): the request as an
// OpenAI chat request on the way in. The answer, stream and errors go back out in anthropic-wire.ts.
//
// The OpenAI request keeps what the Anthropic adapter (workers/providers/anthropic-shared.ts) turns back into the
// same Messages request, so a request that goes to `anthropic` arrives as the client sent it:
//   - system blocks and content blocks keep `cache_control`, tools too, a tool result on its `tool` message and a
//     tool use on its tool call;
//   - assistant thinking / redacted_thinking blocks travel as `thinking_blocks` with their signatures;
//   - a tool_result becomes a `tool` message; `is_error: true` travels on it as an extension field;
//   - `thinking` and `top_k` travel as they are; `metadata.user_id` is OpenAI's `user`;
//   - `stop_sequences` is `stop`, tool_choice any/tool is `required`/a named function,
//     `disable_parallel_tool_use` is `parallel_tool_calls: false`, service_tier standard_only is `default`;
//   - the client's `anthropic-beta` header (Claude Code sends several: interleaved thinking, the 1M context, …)
//     travels as `anthropic_beta`, Bedrock's name for it, which the Anthropic adapter sends as the header again;
//   - `output_config.effort` is `reasoning_effort` and `output_config.format` (a JSON schema) is `response_format`,
//     which every adapter maps (the Anthropic one back to the same `output_config`); members with no OpenAI
//     counterpart stay in an `output_config` of their own, as do the Anthropic-only top-level fields
//     (ANTHROPIC_ONLY) and a tool's Anthropic-only fields: the Anthropic adapter sends them on, the others drop and
//     report them (`x-heimdall-dropped-params`).
// Anything Anthropic's API would refuse is refused here with a 400 in Anthropic's error shape. What is valid but
// cannot cross the chat translation faithfully (server tools and their result blocks, MCP servers, context
// management, documents by URL or file id, search results) is `Untranslatable`: such a request goes to the
// built-in `anthropic` provider as the client sent it (a `messages` job, answered and streamed back untouched,
// with the client's `anthropic-beta` header), and any other provider refuses it with that 400. What the chat
// request merely has no place for (citations, a document's title and context; a plain-text document, which
// becomes text) makes the request go to `anthropic` natively as well, so nothing is lost there, while another
// provider gets the translation and the lost fields' paths in `x-heimdall-dropped-params`.

import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest } from '../http/server.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import type { ClientWire, Dialect } from './dialect.js';
import { anthropicErrorBody, createAnthropicWire } from './anthropic-wire.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const present = (value: unknown): boolean => value !== undefined && value !== null;

const invalid = (message: string, param: string | null = null): GatewayError =>
  new GatewayError('INVALID_REQUEST', message, { param });

/** A valid request the chat translation cannot carry: only Anthropic's own API, natively, takes it. */
class Untranslatable extends GatewayError {}
const NATIVE_ONLY = "; only the built-in 'anthropic' provider takes it (the request is sent to it as it is)";
const untranslatable = (message: string, param: string): GatewayError =>
  new Untranslatable('INVALID_REQUEST', `${message}${NATIVE_ONLY}`, { param });

/**
 * Values client libraries send to mean "not set", taken as absent (on the native path too): @langchain/anthropic's
 * ChatAnthropic sends `top_k: -1` and `top_p: -1` on every request whose user set neither. Any other out-of-range
 * value is still refused, as Anthropic refuses it.
 */
const UNSET_SENTINELS: Readonly<Record<string, unknown>> = { top_k: -1, top_p: -1 };

function withoutSentinels(body: Json): Json {
  for (const field in UNSET_SENTINELS) if (body[field] === UNSET_SENTINELS[field]) delete body[field];
  return body;
}

/** Beta top-level fields with no chat counterpart, for Anthropic's own API only. */
const UNTRANSLATABLE_FIELDS = new Set(['mcp_servers', 'context_management']);

/**
 * Top-level fields of a Messages request this route takes; any other is refused, as Anthropic's API does.
 * `fallbacks` is Heimdall's own (`provider/model` names to try next), as on every route.
 */
/**
 * Top-level Messages fields with no OpenAI counterpart, carried as they are for the Anthropic adapter: prompt
 * caching of the last cacheable block, a code-execution container, request diagnostics, the inference region, fast
 * mode, and the ids that attribute a request to a user profile or workspace.
 */
const ANTHROPIC_ONLY = ['cache_control', 'container', 'diagnostics', 'inference_geo', 'speed', 'user_profile_id',
  'workspace_id'] as const;
const MESSAGE_FIELDS = new Set(['model', 'messages', 'max_tokens', 'system', 'temperature', 'top_p', 'top_k',
  'stop_sequences', 'stream', 'metadata', 'tools', 'tool_choice', 'thinking', 'service_tier', 'output_config',
  ...ANTHROPIC_ONLY, 'fallbacks']);
/** `messages/count_tokens` takes the conversation and what shapes it, not the sampling fields. */
const COUNT_FIELDS = new Set(['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'output_config',
  'cache_control', 'speed']);
/** `output_config.effort` values; each is also the `reasoning_effort` it travels as. */
const EFFORTS = new Set(['low', 'medium', 'high', 'xhigh', 'max']);
/** A custom tool's fields with no OpenAI function counterpart, carried on the OpenAI tool for the Anthropic adapter. */
const TOOL_ONLY = ['allowed_callers', 'defer_loading', 'eager_input_streaming', 'input_examples'] as const;
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const SERVICE_TIERS: Record<string, string> = { auto: 'auto', standard_only: 'default' };

/**
 * What a translation under way left out or reshaped (set for the length of one synchronous `toOpenAIRequest` call,
 * so the block converters need no extra argument): a request with any of it goes to the `anthropic` provider as the
 * client wrote it, and to any other provider translated, the lost fields named in `x-heimdall-dropped-params`.
 */
interface TranslationNotes {
  /** Paths of fields the chat request has no place for: a document's title and context, citations. */
  readonly lost: string[];
  /** A block changed form on the way (a plain-text document became a text part): only Anthropic's API keeps it. */
  reshaped: boolean;
}
let notes: TranslationNotes | null = null;
const lose = (path: string): void => {
  notes?.lost.push(path);
};

/** Copies `cache_control` from an Anthropic block to the OpenAI part: the Anthropic adapter puts it back. */
function withCacheControl(part: Json, block: Json): Json {
  if (isObject(block.cache_control)) part.cache_control = block.cache_control;
  return part;
}

function textPart(block: Json, at: string): Json {
  if (typeof block.text !== 'string') throw invalid(`${at}.text: Field required`, at);
  // An earlier answer's citations: the text goes on without them.
  if (Array.isArray(block.citations) && block.citations.length > 0) lose(`${at}.citations`);
  return withCacheControl({ type: 'text', text: block.text }, block);
}

function imagePart(block: Json, at: string): Json {
  const source = block.source;
  if (!isObject(source)) throw invalid(`${at}.source: Field required`, at);
  if (present(block.transformations)) throw untranslatable(`${at}.transformations: cannot be translated`, at);
  let url: string;
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string' || !IMAGE_TYPES.has(source.media_type)) {
      throw invalid(`${at}.source.media_type: Input should be ${[...IMAGE_TYPES].map((type) => `'${type}'`).join(', ')}`, at);
    }
    if (typeof source.data !== 'string' || source.data === '') throw invalid(`${at}.source.data: Field required`, at);
    url = `data:${source.media_type};base64,${source.data}`;
  } else if (source.type === 'url') {
    if (typeof source.url !== 'string' || !/^https?:\/\//i.test(source.url)) throw invalid(`${at}.source.url: must be an http(s) URL`, at);
    url = source.url;
  } else {
    throw untranslatable(`${at}.source.type: image source '${String(source.type)}' cannot be translated (only 'base64' or 'url')`, at);
  }
  return withCacheControl({ type: 'image_url', image_url: { url } }, block);
}

/** A PDF inline becomes OpenAI's file part; a plain-text document is its text. Files by URL or id cannot cross. */
function documentPart(block: Json, at: string): Json {
  const source = block.source;
  if (!isObject(source)) throw invalid(`${at}.source: Field required`, at);
  // Citations, and a document's context, have no place in the translated request or answer.
  if (isObject(block.citations) && block.citations.enabled === true) lose(`${at}.citations`);
  if (typeof block.context === 'string' && block.context !== '') lose(`${at}.context`);
  if (source.type === 'base64' && source.media_type === 'application/pdf' && typeof source.data === 'string') {
    const file: Json = { file_data: `data:application/pdf;base64,${source.data}` };
    if (typeof block.title === 'string') file.filename = block.title;
    return withCacheControl({ type: 'file', file }, block);
  }
  if (source.type === 'text' && typeof source.data === 'string') {
    if (typeof block.title === 'string' && block.title !== '') lose(`${at}.title`);
    if (notes) notes.reshaped = true;
    return withCacheControl({ type: 'text', text: source.data }, block);
  }
  throw untranslatable(`${at}.source: only base64 PDF and plain-text documents can be translated`, at);
}

/** A user turn's or a tool result's block (not a tool_result) as an OpenAI content part. */
function userPart(block: unknown, at: string): Json {
  if (!isObject(block)) throw invalid(`${at}: Input should be a valid dictionary`, at);
  switch (block.type) {
    case 'text':
      return textPart(block, at);
    case 'image':
      return imagePart(block, at);
    case 'document':
      return documentPart(block, at);
    default:
      throw untranslatable(`${at}.type: '${String(block.type)}' blocks cannot be translated (text, image, document, tool_result can)`, at);
  }
}

function toolMessage(block: Json, at: string): Json {
  if (typeof block.tool_use_id !== 'string' || block.tool_use_id === '') throw invalid(`${at}.tool_use_id: Field required`, at);
  const content = block.content;
  let converted: unknown;
  if (content === undefined || content === null) converted = '';
  else if (typeof content === 'string') converted = content;
  else if (Array.isArray(content)) converted = content.map((inner, i) => userPart(inner, `${at}.content.${i}`));
  else throw invalid(`${at}.content: Input should be a valid string or list`, at);
  if (present(block.toolset_name)) throw untranslatable(`${at}.toolset_name: cannot be translated`, at);
  const message: Json = { role: 'tool', tool_call_id: block.tool_use_id, content: converted };
  if (typeof block.is_error === 'boolean') message.is_error = block.is_error;
  // Claude Code marks the last block of the conversation, often a tool result, as the cache breakpoint.
  return withCacheControl(message, block);
}

/** One user turn: its tool results first (as `tool` messages, in order), then any other blocks as a user message. */
function userMessages(content: unknown, at: string): Json[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  if (!Array.isArray(content)) throw invalid(`${at}.content: Input should be a valid string or list`, at);
  const out: Json[] = [];
  const parts: Json[] = [];
  content.forEach((block: unknown, i) => {
    const where = `${at}.content.${i}`;
    if (isObject(block) && block.type === 'tool_result') {
      if (parts.length > 0) throw invalid(`${at}: tool_result blocks must come first in the content, before any other block`, where);
      out.push(toolMessage(block, where));
    } else {
      parts.push(userPart(block, where));
    }
  });
  if (parts.length > 0) out.push({ role: 'user', content: parts });
  return out;
}

function assistantMessage(content: unknown, at: string): Json {
  if (typeof content === 'string') return { role: 'assistant', content };
  if (!Array.isArray(content)) throw invalid(`${at}.content: Input should be a valid string or list`, at);
  const texts: Json[] = [];
  const toolCalls: Json[] = [];
  const thinking: Json[] = [];
  let reasoning = '';
  content.forEach((block: unknown, i) => {
    const where = `${at}.content.${i}`;
    if (!isObject(block)) throw invalid(`${where}: Input should be a valid dictionary`, where);
    switch (block.type) {
      case 'text':
        texts.push(textPart(block, where));
        return;
      case 'tool_use':
        if (typeof block.id !== 'string' || typeof block.name !== 'string' || !isObject(block.input)) {
          throw invalid(`${where}: tool_use blocks need a string id, a string name and an input object`, where);
        }
        if (present(block.caller) || present(block.toolset_name)) {
          throw untranslatable(`${where}: a tool_use block's caller and toolset_name cannot be translated`, where);
        }
        toolCalls.push(withCacheControl({ id: block.id, type: 'function', function: { name: block.name,
          arguments: JSON.stringify(block.input) } }, block));
        return;
      case 'thinking':
        if (typeof block.thinking !== 'string' || typeof block.signature !== 'string') {
          throw invalid(`${where}: thinking blocks need a string thinking and signature`, where);
        }
        reasoning += block.thinking;
        thinking.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
        return;
      case 'redacted_thinking':
        if (typeof block.data !== 'string') throw invalid(`${where}.data: Field required`, where);
        thinking.push({ type: 'redacted_thinking', data: block.data });
        return;
      default:
        throw untranslatable(`${where}.type: '${String(block.type)}' blocks cannot be translated (text, tool_use, thinking, redacted_thinking can)`, where);
    }
  });
  const message: Json = { role: 'assistant', content: texts.length > 0 ? texts : null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (thinking.length > 0) {
    message.thinking_blocks = thinking;
    message.reasoning_content = reasoning;
  }
  return message;
}

function systemMessage(system: unknown): Json | null {
  if (system === undefined || system === null) return null;
  if (typeof system === 'string') return system === '' ? null : { role: 'system', content: system };
  if (!Array.isArray(system)) throw invalid('system: Input should be a valid string or list of text blocks', 'system');
  const parts = system.map((block: unknown, i) => {
    if (!isObject(block) || block.type !== 'text') throw invalid(`system.${i}: Input should be a text block`, `system.${i}`);
    return textPart(block, `system.${i}`);
  });
  return parts.length > 0 ? { role: 'system', content: parts } : null;
}

function convertTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) throw invalid('tools: Input should be a valid list', 'tools');
  return tools.map((tool: unknown, i) => {
    const at = `tools.${i}`;
    if (!isObject(tool)) throw invalid(`${at}: Input should be a valid dictionary`, at);
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      throw untranslatable(`${at}.type: server tool '${String(tool.type)}' runs on Anthropic's servers and cannot be translated`, at);
    }
    if (typeof tool.name !== 'string' || tool.name === '') throw invalid(`${at}.name: Field required`, at);
    if (!isObject(tool.input_schema)) throw invalid(`${at}.input_schema: Field required`, at);
    const fn: Json = { name: tool.name, parameters: tool.input_schema };
    if (typeof tool.description === 'string') fn.description = tool.description;
    if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
    const converted: Json = { type: 'function', function: fn };
    for (const field of TOOL_ONLY) if (tool[field] !== undefined && tool[field] !== null) converted[field] = tool[field];
    return withCacheControl(converted, tool);
  });
}

/** Anthropic's tool_choice in the OpenAI request (`tool_choice`, and `parallel_tool_calls` when it is disabled). */
function convertToolChoice(choice: unknown, body: Json): void {
  if (!isObject(choice)) throw invalid("tool_choice: Input should be an object with type 'auto', 'any', 'tool' or 'none'", 'tool_choice');
  switch (choice.type) {
    case 'auto':
      body.tool_choice = 'auto';
      break;
    case 'any':
      body.tool_choice = 'required';
      break;
    case 'none':
      body.tool_choice = 'none';
      return;
    case 'tool':
      if (typeof choice.name !== 'string' || choice.name === '') throw invalid('tool_choice.name: Field required', 'tool_choice');
      body.tool_choice = { type: 'function', function: { name: choice.name } };
      break;
    default:
      throw invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'", 'tool_choice');
  }
  if (choice.disable_parallel_tool_use === true) body.parallel_tool_calls = false;
}

function checkThinking(thinking: unknown, maxTokens: number | null): void {
  if (!isObject(thinking) || !['enabled', 'disabled', 'adaptive'].includes(thinking.type as string)) {
    throw invalid("thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'", 'thinking');
  }
  if (thinking.type !== 'enabled') return;
  const budget = thinking.budget_tokens;
  if (!Number.isInteger(budget) || (budget as number) < 1024) throw invalid('thinking.budget_tokens: Input should be an integer >= 1024', 'thinking');
  if (maxTokens !== null && (budget as number) >= maxTokens) throw invalid('`max_tokens` must be greater than `thinking.budget_tokens`', 'max_tokens');
}

/**
 * `output_config` as the OpenAI fields every adapter knows (`reasoning_effort`, `response_format`); what has no such
 * field is kept under `output_config` for the Anthropic adapter.
 */
function convertOutputConfig(config: unknown, body: Json): void {
  if (!isObject(config)) throw invalid('output_config: Input should be a valid dictionary', 'output_config');
  const rest: Json = {};
  for (const [member, value] of Object.entries(config)) {
    if (value === undefined || value === null) continue;
    if (member === 'effort') {
      if (typeof value !== 'string' || !EFFORTS.has(value)) {
        throw invalid(`output_config.effort: Input should be ${[...EFFORTS].map((effort) => `'${effort}'`).join(', ')}`, 'output_config');
      }
      body.reasoning_effort = value;
    } else if (member === 'format') {
      if (!isObject(value) || value.type !== 'json_schema' || !isObject(value.schema)) {
        throw invalid("output_config.format: Input should be {type: 'json_schema', schema: {...}}", 'output_config');
      }
      // Anthropic's structured output always holds to the schema: OpenAI's strict mode is the same promise.
      body.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: value.schema, strict: true } };
    } else {
      rest[member] = value;
    }
  }
  if (Object.keys(rest).length > 0) body.output_config = rest;
}

const optionalNumber = (request: Json, name: string, min: number, max: number, body: Json, as = name): void => {
  const value = request[name];
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`${name}: Input should be a number between ${min} and ${max}`, name);
  }
  body[as] = value;
};


/** A Messages request (or a count_tokens request, with `counting`) as the pipeline's OpenAI chat request. */
export function toOpenAIRequest(request: Json, counting: boolean, noted: TranslationNotes | null = null): ParsedRequest {
  notes = noted;
  try {
    return translate(request, counting);
  } finally {
    notes = null;
  }
}

function translate(request: Json, counting: boolean): ParsedRequest {
  const allowed = counting ? COUNT_FIELDS : MESSAGE_FIELDS;
  for (const field of Object.keys(request)) {
    if (allowed.has(field)) continue;
    if (!counting && UNTRANSLATABLE_FIELDS.has(field)) throw untranslatable(`${field}: cannot be translated`, field);
    throw invalid(`${field}: Extra inputs are not permitted`, field);
  }
  if (typeof request.model !== 'string' || request.model === '') throw invalid('model: Field required', 'model');
  let maxTokens: number | null = null;
  if (!counting) {
    if (!Number.isInteger(request.max_tokens) || (request.max_tokens as number) < 1) {
      throw invalid('max_tokens: Field required (an integer >= 1)', 'max_tokens');
    }
    maxTokens = request.max_tokens as number;
  }
  if (!Array.isArray(request.messages) || request.messages.length === 0) throw invalid('messages: Field required (a non-empty list)', 'messages');
  if (request.stream !== undefined && typeof request.stream !== 'boolean') throw invalid('stream: Input should be a valid boolean', 'stream');

  const messages: Json[] = [];
  const system = systemMessage(request.system);
  if (system) messages.push(system);
  request.messages.forEach((message: unknown, i) => {
    const at = `messages.${i}`;
    if (!isObject(message)) throw invalid(`${at}: Input should be a valid dictionary`, at);
    if (message.role === 'user') messages.push(...userMessages(message.content, at));
    else if (message.role === 'assistant') messages.push(assistantMessage(message.content, at));
    else throw invalid(`${at}.role: Input should be 'user' or 'assistant'`, at);
  });

  const stream = !counting && request.stream === true;
  const body: ChatRequestBody = { model: request.model, messages };
  if (maxTokens !== null) body.max_tokens = maxTokens;
  if (stream) {
    body.stream = true;
    // message_delta carries the usage: the stream must end with OpenAI's usage chunk.
    body.stream_options = { include_usage: true };
  }
  optionalNumber(request, 'temperature', 0, 1, body);
  optionalNumber(request, 'top_p', 0, 1, body);
  if (request.top_k !== undefined && request.top_k !== null) {
    if (!Number.isInteger(request.top_k) || (request.top_k as number) < 0) throw invalid('top_k: Input should be a non-negative integer', 'top_k');
    body.top_k = request.top_k;
  }
  if (request.stop_sequences !== undefined && request.stop_sequences !== null) {
    const stops = request.stop_sequences;
    if (!Array.isArray(stops) || stops.some((stop) => typeof stop !== 'string')) {
      throw invalid('stop_sequences: Input should be a valid list of strings', 'stop_sequences');
    }
    if (stops.length > 0) body.stop = stops;
  }
  if (request.metadata !== undefined && request.metadata !== null) {
    const metadata = request.metadata;
    if (!isObject(metadata) || Object.keys(metadata).some((key) => key !== 'user_id')) {
      throw invalid('metadata: only user_id is accepted', 'metadata');
    }
    if (typeof metadata.user_id === 'string' && metadata.user_id !== '') body.user = metadata.user_id;
  }
  if (request.tools !== undefined && request.tools !== null) {
    const tools = convertTools(request.tools);
    if (tools.length > 0) body.tools = tools;
  }
  if (request.tool_choice !== undefined && request.tool_choice !== null) {
    if (!body.tools) throw invalid('tool_choice: may only be specified while providing tools', 'tool_choice');
    convertToolChoice(request.tool_choice, body);
  }
  if (request.thinking !== undefined && request.thinking !== null) {
    checkThinking(request.thinking, maxTokens);
    body.thinking = request.thinking;
  }
  if (request.service_tier !== undefined && request.service_tier !== null) {
    const tier = SERVICE_TIERS[String(request.service_tier)];
    if (!tier) throw invalid("service_tier: Input should be 'auto' or 'standard_only'", 'service_tier');
    body.service_tier = tier;
  }
  if (request.output_config !== undefined && request.output_config !== null) convertOutputConfig(request.output_config, body);
  for (const field of ANTHROPIC_ONLY) if (request[field] !== undefined && request[field] !== null) body[field] = request[field];
  // Checked and taken out by the pipeline, before routing.
  if (request.fallbacks !== undefined) body.fallbacks = request.fallbacks;
  return { kind: counting ? 'count_tokens' : 'chat', body, stream, includeUsage: stream };
}

/** The client's `anthropic-beta` header as a list, or null when it sent none. */
function betasOf(request: IncomingRequest): string[] | null {
  const header = request.headers['anthropic-beta'];
  const betas = header ? header.split(',').map((beta) => beta.trim()).filter(Boolean) : [];
  return betas.length > 0 ? betas : null;
}

/** The request with the client's beta flags (see the top of this file). */
function withBetas(parsed: ParsedRequest, request: IncomingRequest): ParsedRequest {
  const betas = betasOf(request);
  if (betas) parsed.body.anthropic_beta = betas;
  return parsed;
}

/** The request body as JSON, for the count_tokens route's estimate when the provider has no counter. */
export function readAnthropicBody(request: IncomingRequest): Json {
  return parseJsonObjectBody(request.body);
}

/**
 * A Messages request as the pipeline's chat request; one the translation cannot carry goes with the client's own
 * request beside it (for the `anthropic` provider) and, for plugins and routing, a chat request with its model only.
 */
function parseMessages(request: IncomingRequest): ParsedRequest {
  const body = withoutSentinels(parseJsonObjectBody(request.body));
  /** The client's request as the `anthropic` provider gets it natively. */
  const own = (): Json => {
    // `fallbacks` is the gateway's; the client's beta flags travel in the body as the adapter expects them.
    const { fallbacks: _fallbacks, ...rest } = body;
    const betas = betasOf(request);
    if (betas && rest.anthropic_beta === undefined) rest.anthropic_beta = betas;
    return rest;
  };
  const noted: TranslationNotes = { lost: [], reshaped: false };
  try {
    const parsed = withBetas(toOpenAIRequest(body, false, noted), request);
    if (noted.lost.length > 0 || noted.reshaped) {
      parsed.native = { kind: 'messages', body: own(), untranslatable: null };
      if (noted.lost.length > 0) parsed.dropped = noted.lost;
    }
    return parsed;
  } catch (error) {
    if (!(error instanceof Untranslatable)) throw error;
    if (typeof body.model !== 'string' || body.model === '') throw invalid('model: Field required', 'model');
    if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalid('stream: Input should be a valid boolean', 'stream');
    const stream = body.stream === true;
    const { fallbacks } = body;
    const chat: ChatRequestBody = { model: body.model, messages: [], ...(fallbacks === undefined ? {} : { fallbacks }) };
    return { kind: 'chat', body: chat, stream, includeUsage: stream, native: { kind: 'messages', body: own(), untranslatable: error.data } };
  }
}

/** A native attempt's wire: Anthropic's answer and SSE blocks (the worker's chunks) pass as they are. */
const nativeWire = Object.freeze<ClientWire>({
  answer: (body: string) => body,
  errorBody: (error, attempts) => anthropicErrorBody(error, attempts),
  streamContentType: 'text/event-stream',
  chunk: (block: string) => block,
  end: () => '',
  streamError: (error) => `event: error\ndata: ${anthropicErrorBody(error)}\n\n`,
});

function anthropicDialect(counting: boolean): Dialect {
  return Object.freeze<Dialect>({
    name: 'anthropic',
    defaultProvider: 'anthropic',
    parse: (request) => (counting
      ? withBetas(toOpenAIRequest(withoutSentinels(parseJsonObjectBody(request.body)), true), request)
      : parseMessages(request)),
    wire: (parsed) => createAnthropicWire(parsed),
    errorBody: (error) => anthropicErrorBody(error),
    ...(counting ? {} : { nativeWire: () => nativeWire }),
  });
}

/** POST /anthropic/v1/messages. */
export const anthropicMessages = anthropicDialect(false);
/** POST /anthropic/v1/messages/count_tokens, for providers with a token counter. */
export const anthropicCountTokens = anthropicDialect(true);
