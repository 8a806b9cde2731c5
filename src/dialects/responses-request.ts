// OpenAI's Responses request → the pipeline's chat request, for providers without the native API. Responses are
// not stored (no server-side state), so what needs it (`previous_response_id`, `conversation`, item references,
// background runs) is refused with a clear 400; a client that keeps its own history (appending `response.output` to `input`) works with any provider.
// Fields the Responses API has and chat has not are refused by name rather than silently dropped.

import { GatewayError } from '../errors/gateway-error.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseModelRequest, type ParsedRequest } from '../pipeline/parse.js';

type Json = Record<string, unknown>;

/** What the answer repeats of the request, as the Responses API echoes it in every `response` object. */
export interface ResponsesEcho {
  instructions: unknown;
  maxOutputTokens: unknown;
  metadata: unknown;
  parallelToolCalls: unknown;
  reasoning: unknown;
  temperature: unknown;
  text: unknown;
  toolChoice: unknown;
  tools: unknown[];
  topP: unknown;
  user: unknown;
}

/** Fields with the same meaning in chat (and Heimdall's own `fallbacks`): sent on as they are. */
const PASSED_ON = ['temperature', 'top_p', 'parallel_tool_calls', 'user', 'service_tier', 'safety_identifier',
  'prompt_cache_key', 'prompt_cache_retention', 'prompt_cache_options', 'moderation', 'top_logprobs', 'fallbacks'] as const;
/**
 * Responses settings chat has no field for, carried under their own names: server-side compaction
 * (`context_management`). Adapters drop and report them (chat servers have no such thing).
 */
const CARRIED = ['context_management'] as const;
/** Fields read below, or harmless here (`include` asks for extras; `truncation: "disabled"` is the only behaviour). */
const HANDLED = new Set<string>(['model', 'input', 'instructions', 'tools', 'tool_choice', 'max_output_tokens', 'text',
  'reasoning', 'metadata', 'store', 'stream', 'stream_options', 'include', 'truncation', 'background', ...PASSED_ON, ...CARRIED]);
const STATEFUL: Record<string, string> = {
  previous_response_id: 'Heimdall does not store responses, so `previous_response_id` cannot be resolved; send the ' +
    'earlier turns in `input` (the previous `response.output` items, then your new items) instead',
  conversation: 'Heimdall does not store conversations; send the earlier turns in `input` instead',
  prompt: 'stored prompt templates live on OpenAI\'s servers; send `instructions` and `input` instead',
};

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

function invalid(message: string, param: string): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

const present = (value: unknown): boolean => value !== undefined && value !== null;

function text(value: unknown, param: string): string {
  if (typeof value !== 'string') invalid(`'${param}' must be a string`, param);
  return value;
}

/** A content part of a message item → a chat content part. */
function contentPart(part: unknown, param: string): Json {
  if (!isObject(part)) invalid(`'${param}' must be an object with a 'type'`, param);
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: text(part.text, `${param}.text`) };
    case 'refusal':
      return { type: 'text', text: text(part.refusal, `${param}.refusal`) };
    case 'input_image': {
      if (typeof part.image_url !== 'string') {
        invalid(`'${param}': only images given by 'image_url' (a URL or a data: URL) are supported; files by id need OpenAI's storage`, param);
      }
      return { type: 'image_url', image_url: { url: part.image_url, ...(present(part.detail) ? { detail: part.detail } : {}) } };
    }
    case 'input_file': {
      if (typeof part.file_data !== 'string') {
        invalid(`'${param}': only files given inline as 'file_data' are supported; files by id or URL need OpenAI's storage`, param);
      }
      return { type: 'file', file: { file_data: part.file_data, ...(present(part.filename) ? { filename: part.filename } : {}) } };
    }
    default:
      return invalid(`'${param}.type' ${JSON.stringify(part.type)} is not supported: use input_text, input_image, input_file or output_text`,
        `${param}.type`);
  }
}

const ROLES: Record<string, string> = { user: 'user', assistant: 'assistant', system: 'system', developer: 'system' };

/** Builds chat messages item by item: consecutive function calls (and reasoning) join one assistant message. */
class MessageBuilder {
  readonly messages: Json[] = [];
  /** The assistant message the next function call joins, while nothing else came between. */
  #assistant: Json | null = null;
  /** Reasoning items waiting for the assistant turn they belong to. */
  #reasoning: string[] = [];
  #thinkingBlocks: unknown[] = [];

  message(item: Json, param: string): void {
    const role = ROLES[item.role as string];
    if (!role) invalid(`'${param}.role' must be user, assistant, system or developer`, `${param}.role`);
    let content: unknown;
    if (typeof item.content === 'string') content = item.content;
    else if (Array.isArray(item.content)) content = item.content.map((part, i) => contentPart(part, `${param}.content[${i}]`));
    else invalid(`'${param}.content' must be a string or an array of content parts`, `${param}.content`);
    if (role === 'assistant' && Array.isArray(content)) {
      // Chat's assistant messages carry text; the parts of an earlier answer are its output_text pieces.
      content = (content as Json[]).map((part) => {
        if (part.type !== 'text') invalid(`'${param}.content': an assistant message may only hold output_text parts`, `${param}.content`);
        return part.text as string;
      }).join('');
    }
    const message: Json = { role, content };
    if (role === 'assistant') {
      this.#attachReasoning(message);
      this.#assistant = message;
    } else {
      this.#assistant = null;
    }
    this.messages.push(message);
  }

  functionCall(item: Json, param: string): void {
    const call = {
      id: text(item.call_id, `${param}.call_id`),
      type: 'function',
      function: { name: text(item.name, `${param}.name`), arguments: text(item.arguments, `${param}.arguments`) },
    };
    if (!this.#assistant) {
      this.#assistant = { role: 'assistant', content: null };
      this.#attachReasoning(this.#assistant);
      this.messages.push(this.#assistant);
    }
    ((this.#assistant.tool_calls ??= []) as Json[]).push(call);
  }

  functionCallOutput(item: Json, param: string): void {
    let output: unknown = item.output;
    if (Array.isArray(output)) output = output.map((part, i) => contentPart(part, `${param}.output[${i}]`));
    else if (typeof output !== 'string') invalid(`'${param}.output' must be a string or an array of content parts`, `${param}.output`);
    this.messages.push({ role: 'tool', tool_call_id: text(item.call_id, `${param}.call_id`), content: output });
    this.#assistant = null;
  }

  /** An earlier answer's reasoning: its text, and the provider's signed blocks when the answer carried them. */
  reasoning(item: Json, param: string): void {
    const summary = Array.isArray(item.summary) ? item.summary : [];
    const parts = Array.isArray(item.content) && item.content.length > 0 ? item.content : summary;
    this.#reasoning.push(parts.map((part: unknown) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join(''));
    if (typeof item.encrypted_content === 'string' && item.encrypted_content !== '') {
      let blocks: unknown;
      try {
        blocks = JSON.parse(item.encrypted_content);
      } catch {
        blocks = null;
      }
      if (!Array.isArray(blocks)) {
        invalid(`'${param}.encrypted_content' is not one this gateway wrote (it carries the provider's thinking blocks)`,
          `${param}.encrypted_content`);
      }
      this.#thinkingBlocks.push(...blocks);
    }
    this.#assistant = null;
  }

  #attachReasoning(message: Json): void {
    if (this.#reasoning.length === 0 && this.#thinkingBlocks.length === 0) return;
    message.reasoning_content = this.#reasoning.join('\n');
    if (this.#thinkingBlocks.length > 0) message.thinking_blocks = this.#thinkingBlocks;
    this.#reasoning = [];
    this.#thinkingBlocks = [];
  }
}

function messagesOf(request: Json): Json[] {
  const builder = new MessageBuilder();
  if (present(request.instructions)) builder.message({ role: 'system', content: text(request.instructions, 'instructions') }, 'instructions');
  const input = request.input;
  if (typeof input === 'string') {
    builder.message({ role: 'user', content: input }, 'input');
  } else if (Array.isArray(input) && input.length > 0) {
    input.forEach((item, i) => {
      const param = `input[${i}]`;
      if (!isObject(item)) invalid(`'${param}' must be an object`, param);
      const type = item.type ?? 'message';
      if (type === 'message') builder.message(item, param);
      else if (type === 'function_call') builder.functionCall(item, param);
      else if (type === 'function_call_output') builder.functionCallOutput(item, param);
      else if (type === 'reasoning') builder.reasoning(item, param);
      else if (type === 'item_reference') invalid(`'${param}': item references need stored responses, which Heimdall does not keep; send the item itself`, param);
      else invalid(`'${param}.type' ${JSON.stringify(type)} is not supported: use message, function_call, function_call_output or reasoning`, `${param}.type`);
    });
  } else {
    invalid("'input' must be a non-empty string or a non-empty array of input items", 'input');
  }
  if (!builder.messages.some((message) => message.role !== 'system')) invalid("'input' holds no message for the model", 'input');
  return builder.messages;
}

/** The Responses API's web search tool, by each name it has had. */
const WEB_SEARCH_TOOLS = new Set(['web_search', 'web_search_2025_08_26', 'web_search_preview', 'web_search_preview_2025_03_11']);

/**
 * A `web_search` tool as chat's `web_search_options`, which the providers with a search of their own map to it
 * (Anthropic's web search tool, Gemini's Google Search grounding; capability `webSearch`): the others refuse it.
 */
function webSearchOf(tool: Json, param: string): Json {
  const options: Json = {};
  for (const field of Object.keys(tool)) {
    if (field === 'type' || !present(tool[field])) continue;
    if (field === 'search_context_size') options.search_context_size = tool.search_context_size;
    else if (field === 'user_location' && isObject(tool.user_location)) {
      const { type: _type, ...approximate } = tool.user_location;
      options.user_location = { type: 'approximate', approximate };
    } else {
      invalid(`'${param}.${field}': a web search's ${field} has no equivalent outside OpenAI`, `${param}.${field}`);
    }
  }
  return options;
}

/**
 * Responses' flat function tool `{type, name, parameters, strict}` → chat's `{type, function: {…}}`; a web search
 * tool becomes `body.web_search_options`.
 */
function toolsOf(tools: unknown, body: ChatRequestBody): Json[] {
  if (!Array.isArray(tools)) invalid("'tools' must be an array", 'tools');
  return tools.flatMap((tool, i) => {
    const param = `tools[${i}]`;
    if (isObject(tool) && WEB_SEARCH_TOOLS.has(tool.type as string)) {
      body.web_search_options = webSearchOf(tool, param);
      return [];
    }
    if (!isObject(tool) || tool.type !== 'function') {
      invalid(`'${param}': only function and web_search tools are supported (other built-in tools such as file_search run on OpenAI's servers)`, `${param}.type`);
    }
    const fn: Json = { name: text(tool.name, `${param}.name`) };
    for (const field of ['description', 'parameters', 'strict'] as const) if (present(tool[field])) fn[field] = tool[field];
    return { type: 'function', function: fn };
  });
}

function toolChoiceOf(choice: unknown): unknown {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (isObject(choice) && choice.type === 'function') return { type: 'function', function: { name: text(choice.name, 'tool_choice.name') } };
  return invalid("'tool_choice' must be auto, none, required or {\"type\":\"function\",\"name\":…}", 'tool_choice');
}

/** `text.format` → chat's `response_format`; null for plain text. */
function responseFormatOf(textConfig: unknown): Json | null {
  if (!isObject(textConfig)) invalid("'text' must be an object", 'text');
  const format = textConfig.format;
  if (!present(format)) return null;
  if (!isObject(format)) invalid("'text.format' must be an object", 'text.format');
  if (format.type === 'text') return null;
  if (format.type === 'json_object') return { type: 'json_object' };
  if (format.type !== 'json_schema') invalid("'text.format.type' must be text, json_object or json_schema", 'text.format.type');
  const schema: Json = { name: text(format.name, 'text.format.name') };
  for (const field of ['description', 'schema', 'strict'] as const) if (present(format[field])) schema[field] = format[field];
  return { type: 'json_schema', json_schema: schema };
}

/** The parsed request and what its answer must echo; the wire finds the echo by the parsed request. */
export function parseResponsesRequest(raw: Buffer | null): { parsed: ParsedRequest; echo: ResponsesEcho } {
  return translateResponsesRequest(parseModelRequest(raw));
}

/** A Responses request (a JSON object with a string `model`) as a chat request; throws a 400 for what chat cannot say. */
export function translateResponsesRequest(request: Json & { model: string }): { parsed: ParsedRequest; echo: ResponsesEcho } {
  for (const [field, why] of Object.entries(STATEFUL)) if (present(request[field])) invalid(why, field);
  if (request.background === true) invalid('background responses need stored responses, which Heimdall does not keep', 'background');
  for (const field of Object.keys(request)) {
    if (!HANDLED.has(field)) invalid(`'${field}' is not supported on /v1/responses by this gateway`, field);
  }
  if (present(request.truncation) && request.truncation !== 'disabled') {
    invalid("'truncation' may only be \"disabled\": the gateway does not cut the input to fit", 'truncation');
  }
  if (present(request.stream) && typeof request.stream !== 'boolean') invalid("'stream' must be a boolean", 'stream');
  if (present(request.metadata) && !isObject(request.metadata)) invalid("'metadata' must be an object of strings", 'metadata');

  const body: ChatRequestBody = { model: request.model, messages: messagesOf(request) };
  for (const field of PASSED_ON) if (present(request[field])) body[field] = request[field];
  for (const field of CARRIED) if (present(request[field])) body[field] = request[field];
  const tools = present(request.tools) ? toolsOf(request.tools, body) : [];
  if (tools.length > 0) body.tools = tools;
  if (present(request.tool_choice)) body.tool_choice = toolChoiceOf(request.tool_choice);
  if (present(request.max_output_tokens)) {
    if (!Number.isInteger(request.max_output_tokens) || (request.max_output_tokens as number) < 1) {
      invalid("'max_output_tokens' must be a positive integer", 'max_output_tokens');
    }
    body.max_completion_tokens = request.max_output_tokens;
  }
  const responseFormat = present(request.text) ? responseFormatOf(request.text) : null;
  if (responseFormat) body.response_format = responseFormat;
  const verbosity = (request.text as Json | undefined)?.verbosity;
  if (present(verbosity)) body.verbosity = verbosity;
  if (present(request.reasoning)) {
    if (!isObject(request.reasoning)) invalid("'reasoning' must be an object", 'reasoning');
    if (present(request.reasoning.effort)) body.reasoning_effort = text(request.reasoning.effort, 'reasoning.effort');
  }
  const stream = request.stream === true;
  if (stream) body.stream = true;
  if (present(request.stream_options)) {
    if (!isObject(request.stream_options)) invalid("'stream_options' must be an object", 'stream_options');
    // Chat's stream_options takes the same `include_obfuscation`; the usage is always asked for (the last event has it).
    if (stream) body.stream_options = { ...request.stream_options, include_usage: true };
  }
  return { parsed: { kind: 'chat', body, stream, includeUsage: stream }, echo: echoOf(request) };
}

export function echoOf(request: Json): ResponsesEcho {
  return {
    instructions: request.instructions ?? null,
    maxOutputTokens: request.max_output_tokens ?? null,
    metadata: request.metadata ?? {},
    parallelToolCalls: request.parallel_tool_calls ?? true,
    reasoning: { effort: (request.reasoning as Json | undefined)?.effort ?? null, summary: null },
    temperature: request.temperature ?? 1,
    text: present(request.text) && isObject((request.text as Json).format) ? request.text : { format: { type: 'text' } },
    toolChoice: request.tool_choice ?? 'auto',
    tools: Array.isArray(request.tools) ? request.tools : [],
    topP: request.top_p ?? 1,
    user: request.user ?? null,
  };
}
