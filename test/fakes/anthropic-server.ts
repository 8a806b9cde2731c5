// A fake of Anthropic's Messages API (POST /v1/messages, and /v1/messages/count_tokens) on node:http, for tests. It answers in Anthropic's wire
// format — the `message` JSON, the named SSE events of a stream (message_start, content_block_start/delta/stop,
// message_delta, message_stop, ping, error), the `{"type":"error","error":{…}}` envelope — and checks requests
// as strictly as the real API does where a converter could go wrong: required headers and fields, unknown
// top-level fields, block types per role, tool_use/tool_result pairing, image sources. It records every request.
//
// What a request gets is its Scenario, chosen (first match wins) by:
//   1. the header `x-fake-scenario` holding a Scenario as JSON;
//   2. a scenario registered with `fake.script(model, scenario)`;
//   3. the model's name, read by `anthropicScenarioFromModel`:
//        error-<status>     fails with that status and Anthropic's error type (429 and 529 carry Retry-After)
//        break-after-<n>    streams n events, then destroys the socket
//        no-stop            streams everything but message_stop, then ends the response
//        stream-error       streams some text, then an `error` event (overloaded_error)
//        latency-<ms>       waits before answering
//        tools              says a sentence, then calls the request's first tool (or `get_weather`)
//        thinking           a thinking block (with its signature) before the text
//        refusal            stops with stop_reason `refusal`
//        cache              reports cache reads and writes in usage
//      anything else is a plain text answer that echoes the last user text;
//   4. the options given to `startFakeAnthropic`, as defaults.
// The answer honours `max_tokens` (one word is one token: cut with stop_reason max_tokens) and `stop_sequences`.
// A request with the `web_search` server tool gets the server's search first (a server_tool_use block and its
// web_search_tool_result), and a text block that cites it, as the real API answers. Beta fields (`mcp_servers`,
// `context_management`) are taken only with their `anthropic-beta` flag, as the real API does.

import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  breakOff, FakeServer, modelOf, openStream, parseJson, retryAfterFor, scenarioOrBadHeader, sendJson as sendJsonOf, tokensOf,
  type WaitableFakeServerApi, whenClosed,
} from './fake-server.js';

export interface FakeToolUse {
  name: string;
  input: Record<string, unknown>;
  id?: string;
}

export interface FakeAnthropicError {
  status: number;
  type?: string;
  message?: string;
  /** Sent as Retry-After; 429 and 529 get '1' unless given. */
  retryAfter?: string | null;
}

export interface AnthropicUsageCounts {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export interface AnthropicScenario {
  latencyMs?: number;
  /** The text of the answer (before any tool use); streamed as `chunks` when given, else word by word. */
  content?: string;
  chunks?: string[];
  toolUses?: FakeToolUse[];
  /** A thinking block first, with this text. */
  thinking?: string;
  /** A redacted_thinking block first. */
  redactedThinking?: boolean;
  stopReason?: string;
  usage?: AnthropicUsageCounts;
  error?: FakeAnthropicError;
  /** Streams: after the first text delta, an `error` event of this type, then the end of the response. */
  streamError?: { type: string; message?: string };
  /** Streams: write this many events, then destroy the socket. */
  breakAfterEvents?: number;
  /** Streams: end the response without message_stop. */
  omitMessageStop?: boolean;
}

/** What `GET /v1/models` lists. */
export const FAKE_ANTHROPIC_MODELS: readonly string[] = Object.freeze(['claude-sonnet-4-5', 'claude-haiku-4-5']);

export interface FakeAnthropicOptions extends AnthropicScenario {
  /** When set, a request whose x-api-key (or Bearer token) differs gets 401 authentication_error. */
  apiKey?: string;
}

export interface SseEventRecord {
  event: string;
  data: string;
}

export interface AnthropicRecordedRequest {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The body parsed as JSON; undefined when it was not JSON. */
  readonly body: MessagesBody | undefined;
  readonly scenario: AnthropicScenario;
  /** The status the fake answered with; 0 until the headers went out. */
  status: number;
  /** The SSE events written, in order. */
  readonly events: SseEventRecord[];
  /** Non-streamed answers and errors: the JSON text sent. */
  responseBody: string | null;
  /** The text the fake answered with (joined deltas, for a stream). */
  content: string;
  completed: boolean;
  clientAborted: boolean;
  brokenOff: boolean;
  readonly closed: Promise<void>;
}

export interface MessagesBody {
  model?: unknown;
  max_tokens?: unknown;
  messages?: { role: string; content: unknown }[];
  system?: unknown;
  tools?: { name: string; input_schema?: unknown; type?: unknown }[];
  tool_choice?: unknown;
  stream?: unknown;
  stop_sequences?: unknown;
  [field: string]: unknown;
}

export type FakeAnthropic = WaitableFakeServerApi<AnthropicRecordedRequest, AnthropicScenario>;

const DEFAULT_TOOL: FakeToolUse = { name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } };
const ERROR_TYPES: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'messages: the request was rejected.' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  402: { type: 'billing_error', message: 'Your credit balance is too low to access the Anthropic API.' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'model: not found' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { type: 'rate_limit_error', message: 'This request would exceed the rate limit for your organization. Please try again later.' },
  500: { type: 'api_error', message: 'Internal server error' },
  504: { type: 'timeout_error', message: 'Request timed out' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

/** Top-level fields the Messages API takes (anthropic-version 2023-06-01); any other is refused. */
const KNOWN_FIELDS = new Set(['model', 'messages', 'max_tokens', 'system', 'temperature', 'top_p', 'top_k', 'stop_sequences',
  'stream', 'metadata', 'tools', 'tool_choice', 'thinking', 'output_config', 'service_tier', 'cache_control', 'container',
  'inference_geo', 'speed', 'diagnostics', 'user_profile_id', 'workspace_id']);
/** Beta top-level fields, by the `anthropic-beta` flag they need. */
const BETA_FIELDS: Record<string, string> = { mcp_servers: 'mcp-client-2025-04-04', context_management: 'context-management-2025-06-27' };
/** A server tool's `type` (`web_search_20250305`, `code_execution_20250825`, …): it has no input_schema. */
const SERVER_TOOL = /^[a-z_]+_\d{8}$/;
/** Top-level fields `/v1/messages/count_tokens` takes. */
const COUNT_FIELDS = new Set(['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers', 'output_config',
  'cache_control', 'speed']);
/** Sampling fields API version 2026-10-21 refuses. */
const SAMPLING_FIELDS = ['temperature', 'top_p', 'top_k'];
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const EFFORTS = new Set(['low', 'medium', 'high', 'xhigh', 'max']);

export function anthropicScenarioFromModel(model: string): AnthropicScenario {
  let match: RegExpExecArray | null;
  if ((match = /(?:^|-)error-(\d{3})$/.exec(model))) return { error: { status: Number(match[1]) } };
  if ((match = /break-after-(\d+)$/.exec(model))) return { breakAfterEvents: Number(match[1]) };
  if (/(?:^|-)no-stop$/.test(model)) return { omitMessageStop: true };
  if (/(?:^|-)stream-error$/.test(model)) return { streamError: { type: 'overloaded_error', message: 'Overloaded' } };
  if ((match = /latency-(\d+)$/.exec(model))) return { latencyMs: Number(match[1]) };
  if (/(?:^|-)tools$/.test(model)) return { content: "I'll look that up.", toolUses: [DEFAULT_TOOL] };
  if (/(?:^|-)thinking$/.test(model)) return { thinking: 'The user greets me; a short, friendly answer fits.' };
  if (/(?:^|-)refusal$/.test(model)) return { content: '', stopReason: 'refusal' };
  if (/(?:^|-)cache$/.test(model)) return { usage: { input_tokens: 12, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512 } };
  return {};
}

const randomId = (prefix: string, bytes = 12) => `${prefix}${randomBytes(bytes).toString('base64url')}`;
const splitWords = (text: string) => text.match(/\S+\s*|\s+/g) ?? [];
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

class InvalidRequest extends Error {}

function lastUserText(body: MessagesBody): string {
  const messages = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role !== 'user') continue;
    const content = messages[i].content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      const text = content.filter((b) => isObject(b) && b.type === 'text').map((b) => (b as { text: string }).text).join(' ');
      if (text) return text;
    }
  }
  return '';
}

function checkBlock(block: unknown, role: string, at: string): void {
  if (!isObject(block)) throw new InvalidRequest(`${at}: Input should be a valid dictionary`);
  const allowed = role === 'user'
    ? ['text', 'image', 'document', 'tool_result']
    : ['text', 'tool_use', 'thinking', 'redacted_thinking', 'server_tool_use', 'web_search_tool_result', 'mcp_tool_use', 'mcp_tool_result'];
  if (!allowed.includes(block.type as string)) {
    throw new InvalidRequest(`${at}.type: Input tag '${String(block.type)}' found using 'type' does not match any of the expected tags for a ${role} message`);
  }
  switch (block.type) {
    case 'text':
      if (typeof block.text !== 'string' || block.text === '') throw new InvalidRequest(`${at}: text content blocks must be non-empty`);
      break;
    case 'image': {
      const source = block.source;
      if (!isObject(source)) throw new InvalidRequest(`${at}.source: Field required`);
      if (source.type === 'base64') {
        if (!IMAGE_TYPES.has(source.media_type as string)) throw new InvalidRequest(`${at}.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`);
        if (typeof source.data !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(source.data)) throw new InvalidRequest(`${at}.source.data: invalid base64 data`);
      } else if (source.type === 'url') {
        if (typeof source.url !== 'string' || !/^https?:\/\//.test(source.url)) throw new InvalidRequest(`${at}.source.url: invalid URL`);
      } else {
        throw new InvalidRequest(`${at}.source.type: Input tag '${String(source.type)}' does not match 'base64', 'url'`);
      }
      break;
    }
    case 'document':
      if (!isObject(block.source)) throw new InvalidRequest(`${at}.source: Field required`);
      break;
    case 'tool_use':
      if (typeof block.id !== 'string' || typeof block.name !== 'string' || !isObject(block.input)) {
        throw new InvalidRequest(`${at}: tool_use blocks need id, name and an input object`);
      }
      break;
    case 'tool_result':
      if (typeof block.tool_use_id !== 'string') throw new InvalidRequest(`${at}.tool_use_id: Field required`);
      if (Array.isArray(block.content)) block.content.forEach((inner, i) => checkBlock(inner, 'user', `${at}.content.${i}`));
      break;
    case 'thinking':
      if (typeof block.thinking !== 'string' || typeof block.signature !== 'string') throw new InvalidRequest(`${at}.signature: Field required`);
      break;
  }
}

/** The checks of the real API that catch a converter's mistakes; throws InvalidRequest with Anthropic's wording. */
function validate(body: MessagesBody, version: string, counting: boolean, betas: readonly string[]): void {
  for (const field of Object.keys(body)) {
    if (!counting && Object.hasOwn(BETA_FIELDS, field) && betas.includes(BETA_FIELDS[field])) continue;
    if (!(counting ? COUNT_FIELDS : KNOWN_FIELDS).has(field)) throw new InvalidRequest(`${field}: Extra inputs are not permitted`);
  }
  if (version !== '2023-06-01') {
    for (const field of SAMPLING_FIELDS) {
      if (body[field] !== undefined) throw new InvalidRequest(`${field}: not accepted with anthropic-version ${version}`);
    }
  }
  if (typeof body.model !== 'string') throw new InvalidRequest('model: Field required');
  if (!counting && (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)) throw new InvalidRequest('max_tokens: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new InvalidRequest('messages: Field required');
  if (body.temperature !== undefined && (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 1)) {
    throw new InvalidRequest('temperature: Input should be less than or equal to 1');
  }
  if (body.stop_sequences !== undefined && (!Array.isArray(body.stop_sequences) || body.stop_sequences.some((s) => typeof s !== 'string'))) {
    throw new InvalidRequest('stop_sequences: Input should be a valid list of strings');
  }
  if (body.system !== undefined && typeof body.system !== 'string') {
    if (!Array.isArray(body.system)) throw new InvalidRequest('system: Input should be a valid string or list');
    body.system.forEach((block, i) => {
      if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') throw new InvalidRequest(`system.${i}: Input should be a text block`);
    });
  }
  if (body.metadata !== undefined) {
    if (!isObject(body.metadata) || Object.keys(body.metadata).some((key) => key !== 'user_id')) {
      throw new InvalidRequest('metadata: Extra inputs are not permitted');
    }
  }
  const toolNames = new Set<string>();
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw new InvalidRequest('tools: Input should be a valid list');
    body.tools.forEach((tool, i) => {
      if (!isObject(tool) || typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(tool.name)) {
        throw new InvalidRequest(`tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      }
      if (typeof tool.type === 'string' && SERVER_TOOL.test(tool.type)) {
        toolNames.add(tool.name);
        return;
      }
      if (!isObject(tool.input_schema) || tool.input_schema.type !== 'object') throw new InvalidRequest(`tools.${i}.input_schema.type: Input should be 'object'`);
      const extra = Object.keys(tool).find((key) => !['name', 'description', 'input_schema', 'cache_control', 'strict', 'type',
        'allowed_callers', 'defer_loading', 'eager_input_streaming', 'input_examples'].includes(key));
      if (extra) throw new InvalidRequest(`tools.${i}.${extra}: Extra inputs are not permitted`);
      toolNames.add(tool.name);
    });
  }
  if (body.tool_choice !== undefined) {
    const choice = body.tool_choice;
    if (!isObject(choice) || !['auto', 'any', 'tool', 'none'].includes(choice.type as string)) {
      throw new InvalidRequest("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
    }
    if (toolNames.size === 0) throw new InvalidRequest('tool_choice: may only be specified while providing tools');
    if (choice.type === 'tool' && !toolNames.has(choice.name as string)) throw new InvalidRequest(`tool_choice.name: no tool named '${String(choice.name)}'`);
  }
  if (body.thinking !== undefined) {
    const thinking = body.thinking;
    if (!isObject(thinking) || !['enabled', 'adaptive', 'disabled'].includes(thinking.type as string)) {
      throw new InvalidRequest("thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'");
    }
    if (thinking.type === 'enabled') {
      const budget = thinking.budget_tokens;
      if (!Number.isInteger(budget) || (budget as number) < 1024) throw new InvalidRequest('thinking.budget_tokens: Input should be greater than or equal to 1024');
      if ((budget as number) >= (body.max_tokens as number)) throw new InvalidRequest('`max_tokens` must be greater than `thinking.budget_tokens`');
    }
  }
  if (body.output_config !== undefined) {
    const config = body.output_config;
    if (!isObject(config)) throw new InvalidRequest('output_config: Input should be a valid dictionary');
    if (config.effort !== undefined && !EFFORTS.has(config.effort as string)) throw new InvalidRequest("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'");
    if (config.format !== undefined && (!isObject(config.format) || config.format.type !== 'json_schema' || !isObject(config.format.schema))) {
      throw new InvalidRequest('output_config.format: expected a json_schema format with a schema');
    }
  }

  let previousToolUses: string[] = [];
  body.messages.forEach((message, i) => {
    const at = `messages.${i}`;
    if (!isObject(message) || (message.role !== 'user' && message.role !== 'assistant')) {
      throw new InvalidRequest(`${at}.role: Input should be 'user' or 'assistant'`);
    }
    const blocks = typeof message.content === 'string'
      ? (message.content === '' ? [] : [{ type: 'text', text: message.content }])
      : message.content;
    if (!Array.isArray(blocks)) throw new InvalidRequest(`${at}.content: Input should be a valid list`);
    if (typeof message.content === 'string' && message.content === '' && i < body.messages!.length - 1) {
      throw new InvalidRequest(`${at}: all messages must have non-empty content except for the optional final assistant message`);
    }
    blocks.forEach((block, j) => checkBlock(block, message.role as string, `${at}.content.${j}`));
    const results = blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id as string);
    if (previousToolUses.length > 0) {
      const missing = previousToolUses.filter((id) => !results.includes(id));
      if (message.role !== 'user' || missing.length > 0) {
        throw new InvalidRequest(`messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
      }
      const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
      if (firstOther !== -1 && blocks.slice(firstOther).some((b) => b.type === 'tool_result')) {
        throw new InvalidRequest(`${at}: tool_result blocks must come first in the content, before any other block`);
      }
    }
    const unexpected = results.filter((id) => !previousToolUses.includes(id));
    if (unexpected.length > 0) {
      throw new InvalidRequest(`${at}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
    }
    previousToolUses = message.role === 'assistant' ? blocks.filter((b) => b.type === 'tool_use').map((b) => b.id as string) : [];
  });
  if (previousToolUses.length > 0) {
    throw new InvalidRequest(`messages.${body.messages.length - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${previousToolUses.join(', ')}.`);
  }
}

const inputTokensOf = (body: MessagesBody): number => tokensOf(JSON.stringify([body.system ?? '', body.messages]));

interface PlannedAnswer {
  blocks: Record<string, unknown>[];
  text: string;
  stopReason: string;
  stopSequence: string | null;
  usage: Required<AnthropicUsageCounts>;
}

/** The answer the scenario asks for, cut by max_tokens and stop_sequences as the model would be. */
function planAnswer(body: MessagesBody, scenario: AnthropicScenario): PlannedAnswer {
  let text = scenario.content ?? (lastUserText(body) ? `Hello! You said: ${lastUserText(body)}` : 'Hello from the fake Claude.');
  let stopReason = scenario.stopReason ?? (scenario.toolUses ? 'tool_use' : 'end_turn');
  let stopSequence: string | null = null;
  const stops = Array.isArray(body.stop_sequences) ? body.stop_sequences as string[] : [];
  for (const stop of stops) {
    const at = stop ? text.indexOf(stop) : -1;
    if (at !== -1 && !scenario.toolUses) {
      text = text.slice(0, at);
      stopReason = 'stop_sequence';
      stopSequence = stop;
      break;
    }
  }
  const words = splitWords(text);
  const maxTokens = body.max_tokens as number;
  if (words.length > maxTokens) {
    text = words.slice(0, maxTokens).join('');
    stopReason = 'max_tokens';
  }
  const blocks: Record<string, unknown>[] = [];
  if (scenario.redactedThinking) blocks.push({ type: 'redacted_thinking', data: randomBytes(24).toString('base64') });
  if (scenario.thinking) blocks.push({ type: 'thinking', thinking: scenario.thinking, signature: randomBytes(48).toString('base64') });
  const search = body.tools?.find((tool) => isObject(tool) && typeof tool.type === 'string' && tool.type.startsWith('web_search_'));
  if (search) {
    const id = randomId('srvtoolu_01');
    const url = 'https://example.com/heimdall';
    blocks.push({ type: 'server_tool_use', id, name: 'web_search', input: { query: lastUserText(body) } });
    blocks.push({ type: 'web_search_tool_result', tool_use_id: id, content: [{ type: 'web_search_result', url, title: 'Heimdall',
      encrypted_content: randomBytes(24).toString('base64'), page_age: null }] });
    if (text) {
      blocks.push({ type: 'text', text, citations: [{ type: 'web_search_result_location', url, title: 'Heimdall',
        encrypted_index: randomBytes(12).toString('base64'), cited_text: text.slice(0, 20) }] });
    }
  } else if (text) {
    blocks.push({ type: 'text', text });
  }
  const requested = body.tools?.[0]?.name;
  if (stopReason !== 'max_tokens' && stopReason !== 'stop_sequence') {
    for (const use of scenario.toolUses ?? []) {
      blocks.push({ type: 'tool_use', id: use.id ?? randomId('toolu_01'), name: use === DEFAULT_TOOL && requested ? requested : use.name,
        input: use.input });
    }
  }
  const output = tokensOf(JSON.stringify(blocks));
  return {
    blocks,
    text,
    stopReason,
    stopSequence,
    usage: {
      input_tokens: scenario.usage?.input_tokens ?? inputTokensOf(body),
      output_tokens: scenario.usage?.output_tokens ?? output,
      cache_creation_input_tokens: scenario.usage?.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: scenario.usage?.cache_read_input_tokens ?? 0,
    },
  };
}

function fullUsage(usage: Required<AnthropicUsageCounts>) {
  return {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    cache_creation: { ephemeral_5m_input_tokens: usage.cache_creation_input_tokens, ephemeral_1h_input_tokens: 0 },
    output_tokens: usage.output_tokens,
    service_tier: 'standard',
  };
}

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const { apiKey, ...defaults } = options;

  const sendJson = (res: ServerResponse, record: AnthropicRecordedRequest, status: number, body: unknown,
    headers: Record<string, string> = {}) => {
    sendJsonOf(res, record, status, body, { 'request-id': randomId('req_011'), 'anthropic-organization-id': 'org-fake', ...headers });
  };

  const sendError = (res: ServerResponse, record: AnthropicRecordedRequest, error: FakeAnthropicError) => {
    const known = ERROR_TYPES[error.status] ?? ERROR_TYPES[error.status >= 500 ? 500 : 400];
    const retryAfter = retryAfterFor(error.status, error.retryAfter, [429, 529]);
    sendJson(res, record, error.status, {
      type: 'error',
      error: { type: error.type ?? known.type, message: error.message ?? known.message },
      request_id: randomId('req_011'),
    }, retryAfter === null ? {} : { 'retry-after': retryAfter });
  };

  const fake = await FakeServer.start<AnthropicRecordedRequest, AnthropicScenario>((req, res, rawBody) => {
    const body = parseJson<MessagesBody>(rawBody);
    const scenario = scenarioOrBadHeader(() => fake.pickScenario(req.headers, modelOf(body), anthropicScenarioFromModel, defaults));
    const record: AnthropicRecordedRequest = fake.record({
      seq: fake.nextSeq(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, rawBody, body, scenario,
      status: 0, events: [], responseBody: null, content: '', completed: false, clientAborted: false, brokenOff: false,
      closed: whenClosed(res, () => {
        record.completed = res.writableFinished;
        record.clientAborted = !res.writableFinished && !record.brokenOff;
      }),
    });
    void answer(req, res, record).catch(() => res.destroy());
  });

  async function answer(req: IncomingMessage, res: ServerResponse, record: AnthropicRecordedRequest): Promise<void> {
    const { scenario, body } = record;
    if (scenario.latencyMs) {
      await new Promise((resolve) => setTimeout(resolve, scenario.latencyMs));
      if (res.destroyed) return;
    }
    const path = record.path.split('?')[0];
    const counting = path === '/v1/messages/count_tokens';
    const listing = req.method === 'GET' && path === '/v1/models';
    if (!listing && (req.method !== 'POST' || (path !== '/v1/messages' && !counting))) {
      sendError(res, record, { status: 404, message: 'Not Found' });
      return;
    }
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const key = (req.headers['x-api-key'] as string | undefined) ?? bearer;
    if (!key) {
      sendError(res, record, { status: 401, message: 'x-api-key header is required' });
      return;
    }
    if (apiKey !== undefined && key !== apiKey) {
      sendError(res, record, { status: 401 });
      return;
    }
    const version = req.headers['anthropic-version'];
    if (typeof version !== 'string') {
      sendError(res, record, { status: 400, message: 'anthropic-version: header is required' });
      return;
    }
    if (listing) {
      const data = FAKE_ANTHROPIC_MODELS.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-05-22T00:00:00Z' }));
      sendJson(res, record, 200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
      return;
    }
    if (!body || !isObject(body)) {
      sendError(res, record, { status: 400, message: 'There was an issue with your request. Please check your JSON.' });
      return;
    }
    const betas = String(req.headers['anthropic-beta'] ?? '').split(',').map((beta) => beta.trim()).filter(Boolean);
    try {
      validate(body, version, counting, betas);
    } catch (error) {
      if (!(error instanceof InvalidRequest)) throw error;
      sendError(res, record, { status: 400, message: error.message });
      return;
    }
    if (scenario.error) {
      sendError(res, record, scenario.error);
      return;
    }
    if (counting) {
      // The same count the answer's usage reports as input_tokens.
      sendJson(res, record, 200, { input_tokens: inputTokensOf(body) });
      return;
    }
    const plan = planAnswer(body, scenario);
    const id = randomId('msg_01');
    const model = body.model as string;
    if (body.stream !== true) {
      record.content = plan.text;
      sendJson(res, record, 200, {
        id, type: 'message', role: 'assistant', model, content: plan.blocks, stop_reason: plan.stopReason,
        stop_sequence: plan.stopSequence, usage: fullUsage(plan.usage),
      });
      return;
    }
    await stream(res, record, plan, id, model);
  }

  async function stream(res: ServerResponse, record: AnthropicRecordedRequest, plan: PlannedAnswer, id: string, model: string) {
    const { scenario } = record;
    openStream(res, record, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache',
      connection: 'keep-alive', 'request-id': randomId('req_011'), 'anthropic-organization-id': 'org-fake' });
    let written = 0;
    /** Writes one named event; false once the exchange is over. */
    const send = async (payload: Record<string, unknown>): Promise<boolean> => {
      if (res.destroyed) return false;
      const event = { event: payload.type as string, data: JSON.stringify(payload) };
      record.events.push(event);
      written++;
      const flushed = new Promise<void>((resolve) => {
        res.write(`event: ${event.event}\ndata: ${event.data}\n\n`, () => resolve());
      });
      if (scenario.breakAfterEvents !== undefined && written >= scenario.breakAfterEvents) {
        await breakOff(res, record, flushed);
        return false;
      }
      return true;
    };

    const startUsage = { ...fullUsage(plan.usage), output_tokens: 1 };
    if (!await send({ type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [],
      stop_reason: null, stop_sequence: null, usage: startUsage } })) return;
    if (!await send({ type: 'ping' })) return;
    for (const [index, block] of plan.blocks.entries()) {
      if (block.type === 'text') {
        if (!await send({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } })) return;
        for (const piece of scenario.chunks ?? splitWords(block.text as string)) {
          record.content += piece;
          if (!await send({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } })) return;
          if (scenario.streamError) {
            await send({ type: 'error', error: { type: scenario.streamError.type, message: scenario.streamError.message ?? 'Overloaded' },
              request_id: randomId('req_011') });
            res.end();
            return;
          }
        }
        for (const citation of (block.citations as unknown[] | undefined) ?? []) {
          if (!await send({ type: 'content_block_delta', index, delta: { type: 'citations_delta', citation } })) return;
        }
      } else if (block.type === 'thinking') {
        if (!await send({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } })) return;
        for (const piece of splitWords(block.thinking as string)) {
          if (!await send({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } })) return;
        }
        if (!await send({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } })) return;
      } else if (block.type === 'redacted_thinking') {
        if (!await send({ type: 'content_block_start', index, content_block: block })) return;
      } else if (block.type === 'web_search_tool_result') {
        if (!await send({ type: 'content_block_start', index, content_block: block })) return;
      } else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
        if (!await send({ type: 'content_block_start', index, content_block: { type: block.type, id: block.id, name: block.name, input: {} } })) return;
        // As the API does: an empty first fragment, then the JSON in a few pieces.
        const json = JSON.stringify(block.input);
        const size = Math.max(1, Math.ceil(json.length / 3));
        const pieces = [''];
        for (let at = 0; at < json.length; at += size) pieces.push(json.slice(at, at + size));
        for (const piece of pieces) {
          if (!await send({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } })) return;
        }
      }
      if (!await send({ type: 'content_block_stop', index })) return;
    }
    if (!await send({ type: 'message_delta', delta: { stop_reason: plan.stopReason, stop_sequence: plan.stopSequence },
      usage: { input_tokens: plan.usage.input_tokens, cache_creation_input_tokens: plan.usage.cache_creation_input_tokens,
        cache_read_input_tokens: plan.usage.cache_read_input_tokens, output_tokens: plan.usage.output_tokens } })) return;
    if (!scenario.omitMessageStop && !await send({ type: 'message_stop' })) return;
    res.end();
  }

  const { url, port, requests, script, requestsWithId, waitForRequests, reset, close } = fake;
  return { url, port, requests, script, requestsWithId, waitForRequests, reset, close };
}
