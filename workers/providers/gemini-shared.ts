// The Gemini `generateContent` wire format, shared by the Gemini API (gemini.ts) and Vertex AI (vertex.ts): they
// differ only in URLs and authentication. OpenAI chat requests become `contents` + `systemInstruction` + `tools` +
// `generationConfig`; answers, stream chunks (one GenerateContentResponse per SSE `data:`, no [DONE]) and usage
// come back as OpenAI's. What Gemini cannot take is dropped and reported, never silently.

import { randomBytes } from 'node:crypto';
import type { ChatMessage, ChatToolCall } from '../../src/contract/chat-shape.js';
import { usageData, type JobData, type UsageData } from '../../src/contract/messages.js';
import type { ChatAnswer, StreamEvent, StreamState, StreamStep } from './types.js';
import { isObject, objectsIn, type Json } from './json.js';
import { toolFailed } from './tool-result.js';


interface GeminiPart {
  text?: string;
  thought?: boolean;
  /** Gemini 2.5+ signs the reasoning behind a function call; the signature must come back with the call. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { id?: string; name: string; args?: Json };
  functionResponse?: { name: string; response: Json };
}

interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

interface GeminiCandidate {
  index?: number;
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string; blockReasonMessage?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  error?: { code?: number; message?: string; status?: string };
}

// ---------------------------------------------------------------------------------------------------------------
// Request

/** Request fields the transform reads; every other field the client sent is dropped and reported. */
const HANDLED = new Set([
  'model', 'messages', 'stream', 'stream_options', 'tools', 'tool_choice', 'functions', 'function_call',
  'temperature', 'top_p', 'top_k', 'max_tokens', 'max_completion_tokens', 'stop', 'n', 'seed', 'presence_penalty',
  'frequency_penalty', 'response_format', 'reasoning_effort', 'logprobs', 'top_logprobs', 'google', 'web_search_options',
]);

const STRING_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']);
/** The OpenAPI subset Gemini's `Schema` takes; anything else goes as full JSON Schema instead. */
const SCHEMA_KEYS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);

/**
 * A JSON Schema as Gemini's own `Schema` (upper-case types, `nullable` for `["x","null"]`), or null when it uses
 * something that subset lacks (`additionalProperties`, `$ref`, `oneOf`, …): such schemas go in the
 * `*JsonSchema` fields, which take JSON Schema as it is.
 */
export function toGeminiSchema(schema: unknown): Json | null {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return null;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (!SCHEMA_KEYS.has(key)) return null;
    if (key === 'type') {
      const types = Array.isArray(value) ? value : [value];
      const named = types.filter((t) => t !== 'null');
      if (named.length !== 1 || typeof named[0] !== 'string' || !STRING_TYPES.has(named[0])) return null;
      out.type = named[0].toUpperCase();
      if (named.length < types.length) out.nullable = true;
    } else if (key === 'properties') {
      if (!value || typeof value !== 'object') return null;
      const properties: Json = {};
      for (const [name, sub] of Object.entries(value as Json)) {
        const converted = toGeminiSchema(sub);
        if (!converted) return null;
        properties[name] = converted;
      }
      out.properties = properties;
    } else if (key === 'items') {
      const converted = toGeminiSchema(value);
      if (!converted) return null;
      out.items = converted;
    } else if (key === 'anyOf') {
      if (!Array.isArray(value)) return null;
      const converted = value.map(toGeminiSchema);
      if (converted.some((c) => c === null)) return null;
      out.anyOf = converted;
    } else {
      out[key] = value;
    }
  }
  return out;
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', heic: 'image/heic',
  heif: 'image/heif', pdf: 'application/pdf', mp3: 'audio/mp3', wav: 'audio/wav', mp4: 'video/mp4', txt: 'text/plain',
};

/** An `image_url` (or file) reference as a Gemini part: data: URLs inline, http(s)/gs: URLs as file references. */
function mediaPart(url: string, fallbackMime: string): GeminiPart {
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',');
    if (comma === -1) throw new Error('a data: URL has no comma');
    const meta = url.slice(5, comma).split(';');
    const payload = url.slice(comma + 1);
    const base64 = meta.includes('base64');
    return {
      inlineData: {
        mimeType: meta[0] || 'text/plain',
        data: base64 ? payload : Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64'),
      },
    };
  }
  if (!/^(https?|gs):\/\//i.test(url)) throw new Error(`unsupported image URL scheme in '${url.slice(0, 40)}'`);
  const extension = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? '';
  // Gemini needs a MIME type with a file reference; an image_url without a known extension is taken as JPEG.
  return { fileData: { mimeType: (Object.hasOwn(MIME_BY_EXTENSION, extension) ? MIME_BY_EXTENSION[extension] : fallbackMime), fileUri: url } };
}

function contentParts(content: unknown, dropped: Set<string>): GeminiPart[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  if (!Array.isArray(content)) throw new Error('message content must be a string or an array of parts');
  const parts: GeminiPart[] = [];
  for (const part of content as Json[]) {
    const type = part?.type;
    if (type === 'text' || type === 'refusal') {
      const text = (type === 'text' ? part.text : part.refusal) as unknown;
      if (typeof text !== 'string') throw new Error(`a ${type} part has no ${type} string`);
      if (text !== '') parts.push({ text });
    } else if (type === 'image_url') {
      const image = part.image_url as { url?: unknown; detail?: unknown } | string | undefined;
      const url = typeof image === 'string' ? image : image?.url;
      if (typeof url !== 'string') throw new Error('an image_url part has no url');
      if (typeof image === 'object' && image.detail !== undefined && image.detail !== 'auto') dropped.add('image_url.detail');
      parts.push(mediaPart(url, 'image/jpeg'));
    } else if (type === 'input_audio') {
      const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
      if (typeof audio?.data !== 'string' || typeof audio.format !== 'string') throw new Error('an input_audio part needs data and format');
      parts.push({ inlineData: { mimeType: `audio/${audio.format}`, data: audio.data } });
    } else if (type === 'file') {
      const file = part.file as { file_data?: unknown; file_id?: unknown } | undefined;
      if (typeof file?.file_data !== 'string') throw new Error('file parts need file_data (a data: URL); file_id is not supported');
      parts.push(mediaPart(file.file_data, 'application/octet-stream'));
    } else {
      throw new Error(`unsupported content part type '${String(type)}'`);
    }
  }
  return parts;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: Json) => (typeof part?.text === 'string' ? part.text : '')).join('');
}

function parseArguments(text: string | undefined, name: string): Json {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the arguments of tool call '${name}' are not valid JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`the arguments of tool call '${name}' are not a JSON object`);
  }
  return parsed as Json;
}

/**
 * A tool message's content as the Struct a functionResponse's `response` must be: a JSON object as it is, anything
 * else under `result`. A failed tool's (tool-result.ts) goes under `error`, the key Gemini reads as the function's
 * error details.
 */
function toolResponse(content: unknown, failed: boolean): Json {
  const text = textOf(content);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // Plain text: sent as it is.
  }
  if (failed) return { error: value };
  return isObject(value) ? value : { result: value };
}

function convertMessages(messages: unknown, dropped: Set<string>): { contents: GeminiContent[]; system: GeminiPart[] } {
  if (!Array.isArray(messages)) throw new Error('messages must be an array');
  const contents: GeminiContent[] = [];
  const system: GeminiPart[] = [];
  const toolNames = new Map<string, string>();
  for (const message of messages as ChatMessage[]) {
    const role = message?.role;
    if (role === 'system' || role === 'developer') {
      const text = textOf(message.content);
      if (text !== '') system.push({ text });
    } else if (role === 'user') {
      const parts = contentParts(message.content, dropped);
      if (parts.length > 0) contents.push({ role: 'user', parts });
    } else if (role === 'assistant') {
      const parts = contentParts(message.content, dropped);
      if (message.tool_calls != null && !Array.isArray(message.tool_calls)) throw new Error("an assistant message's tool_calls is not a list");
      for (const call of message.tool_calls ?? []) {
        const name = isObject(call) ? (call as ChatToolCall).function?.name : undefined;
        if (!name) throw new Error('an assistant tool call has no function name');
        if (call.id) toolNames.set(call.id, name);
        const part: GeminiPart = { functionCall: { name, args: parseArguments(call.function?.arguments, name) } };
        const signature = call.extra_content?.google?.thought_signature;
        if (typeof signature === 'string') part.thoughtSignature = signature;
        parts.push(part);
      }
      if (message.function_call?.name) {
        const name = message.function_call.name;
        parts.push({ functionCall: { name, args: parseArguments(message.function_call.arguments, name) } });
      }
      if (parts.length > 0) contents.push({ role: 'model', parts });
    } else if (role === 'tool' || role === 'function') {
      const name = (role === 'tool' && message.tool_call_id ? toolNames.get(message.tool_call_id) : undefined) ?? message.name;
      if (!name) {
        throw new Error(`tool message '${message.tool_call_id ?? ''}' answers no earlier assistant tool call (its function name is unknown)`);
      }
      const part: GeminiPart = { functionResponse: { name, response: toolResponse(message.content, toolFailed(message, `tool message '${message.tool_call_id ?? name}'`) === true) } };
      // The answers to one turn's calls go back together, in one content.
      const last = contents.at(-1);
      if (last?.role === 'user' && last.parts.every((p) => p.functionResponse)) last.parts.push(part);
      else contents.push({ role: 'user', parts: [part] });
    } else {
      throw new Error(`unsupported message role '${String(role)}'`);
    }
  }
  return { contents, system };
}

interface FunctionTool {
  name: string;
  description?: string;
  parameters?: unknown;
  strict?: unknown;
}

function functionDeclarations(body: Json, dropped: Set<string>): Json[] {
  const declarations: Json[] = [];
  const add = (fn: FunctionTool | undefined) => {
    if (!fn?.name) throw new Error('a tool has no function name');
    const declaration: Json = { name: fn.name };
    if (fn.description) declaration.description = fn.description;
    if (fn.parameters !== undefined) {
      const schema = toGeminiSchema(fn.parameters);
      if (schema) declaration.parameters = schema;
      else declaration.parametersJsonSchema = fn.parameters;
    }
    if (fn.strict === true) dropped.add('tools.function.strict');
    declarations.push(declaration);
  };
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools as { type?: string; function?: FunctionTool }[]) {
      if (tool?.type !== 'function') throw new Error(`unsupported tool type '${String(tool?.type)}' (only function tools)`);
      add(tool.function);
    }
  }
  if (Array.isArray(body.functions)) for (const fn of body.functions as FunctionTool[]) add(fn);
  return declarations;
}

function functionCallingConfig(choice: unknown): Json | null {
  if (choice === undefined || choice === null) return null;
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'required') return { mode: 'ANY' };
  const named = choice as { type?: string; function?: { name?: string }; name?: string; allowed_tools?: { mode?: string; tools?: { function?: { name?: string } }[] } };
  if (named.type === 'allowed_tools' && named.allowed_tools) {
    const names = (named.allowed_tools.tools ?? []).map((t) => t.function?.name).filter((n): n is string => Boolean(n));
    return { mode: named.allowed_tools.mode === 'required' ? 'ANY' : 'AUTO', allowedFunctionNames: names };
  }
  const name = named.function?.name ?? named.name;
  if (name) return { mode: 'ANY', allowedFunctionNames: [name] };
  throw new Error('unsupported tool_choice');
}

// `xhigh` (OpenAI) and `max` (Anthropic's effort, from the /anthropic route) get the largest budget every thinking
// Gemini takes (2.5 Flash stops at 24576).
const THINKING_BUDGET: Record<string, number> = { none: 0, minimal: 1024, low: 1024, medium: 8192, high: 24576,
  xhigh: 24576, max: 24576 };

/** `reasoning_effort` as Google's own OpenAI layer maps it: a thinking level on Gemini 3, a token budget before. */
function thinkingConfig(effort: unknown, model: string): Json | null {
  if (typeof effort !== 'string' || !(effort in THINKING_BUDGET)) return null;
  if (/gemini-3/.test(model)) return { thinkingLevel: effort === 'low' || effort === 'minimal' || effort === 'none' ? 'low' : 'high' };
  return { thinkingBudget: THINKING_BUDGET[effort] };
}

function generationConfig(body: Json, model: string, dropped: Set<string>): Json {
  const config: Json = {};
  const copy = (from: string, to: string) => {
    if (body[from] !== undefined && body[from] !== null) config[to] = body[from];
  };
  copy('temperature', 'temperature');
  copy('top_p', 'topP');
  copy('top_k', 'topK');
  copy('seed', 'seed');
  copy('presence_penalty', 'presencePenalty');
  copy('frequency_penalty', 'frequencyPenalty');
  copy('n', 'candidateCount');
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) config.maxOutputTokens = maxTokens;
  if (typeof body.stop === 'string') config.stopSequences = [body.stop];
  else if (Array.isArray(body.stop)) config.stopSequences = body.stop;
  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown; strict?: unknown } } | undefined;
  if (format?.type === 'json_object') {
    config.responseMimeType = 'application/json';
  } else if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    const schema = format.json_schema?.schema;
    if (schema !== undefined) {
      const converted = toGeminiSchema(schema);
      if (converted) config.responseSchema = converted;
      else config.responseJsonSchema = schema;
    }
  } else if (format && format.type !== 'text') {
    dropped.add('response_format');
  }
  if (body.reasoning_effort !== undefined && body.reasoning_effort !== null) {
    const thinking = thinkingConfig(body.reasoning_effort, model);
    if (thinking) config.thinkingConfig = thinking;
    else dropped.add('reasoning_effort');
  }
  if (body.logprobs === true) config.responseLogprobs = true;
  if (typeof body.top_logprobs === 'number') config.logprobs = body.top_logprobs;
  const google = isObject(body.google) ? body.google : {};
  if (google.mediaResolution !== undefined) config.mediaResolution = google.mediaResolution;
  // The /genai route's own thinking config and response type, exactly as its client sent them.
  if (isObject(google.thinkingConfig)) config.thinkingConfig = google.thinkingConfig;
  if (google.responseMimeType !== undefined && config.responseMimeType === undefined) config.responseMimeType = google.responseMimeType;
  return config;
}

/** Google's own settings from the /genai route (its `google` object): the Gemini API has no `labels`, Vertex has. */
function googleSettings(source: Json, body: Json, labels: boolean, dropped: Set<string>): void {
  if (source.google === undefined || source.google === null) return;
  if (!isObject(source.google)) {
    dropped.add('google');
    return;
  }
  if (source.google.safetySettings !== undefined) body.safetySettings = source.google.safetySettings;
  if (source.google.labels !== undefined) {
    if (labels) body.labels = source.google.labels;
    else dropped.add('google.labels');
  }
}

/**
 * The generateContent body for an OpenAI chat request, and the request fields it had to leave out; `labels`: the API
 * takes billing labels (Vertex AI does, the Gemini API does not).
 */
export function geminiChatRequest(job: JobData, labels = false): { body: Json; droppedParams: string[] } {
  const source = job.body;
  const dropped = new Set<string>();
  const { contents, system } = convertMessages(source.messages, dropped);
  if (contents.length === 0) throw new Error('the request has no user or assistant content (Gemini needs at least one)');
  const body: Json = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  const declarations = functionDeclarations(source, dropped);
  const choice = functionCallingConfig(source.tool_choice ?? (typeof source.function_call === 'string'
    ? source.function_call : source.function_call ? { function: source.function_call } : undefined));
  if (declarations.length > 0) {
    body.tools = [{ functionDeclarations: declarations }];
    if (choice) body.toolConfig = { functionCallingConfig: choice };
  } else if (choice) {
    dropped.add('tool_choice');
  }
  // OpenAI's web search (a Responses `web_search` tool arrives as it) is grounding with Google Search; how much
  // context and where the user is have no place in it.
  if (isObject(source.web_search_options)) {
    ((body.tools ??= []) as Json[]).push({ googleSearch: {} });
    for (const option of ['search_context_size', 'user_location']) {
      if (source.web_search_options[option] !== undefined) dropped.add(`web_search_options.${option}`);
    }
  }
  const config = generationConfig(source, job.model, dropped);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  googleSettings(source, body, labels, dropped);
  for (const [name, value] of Object.entries(source)) {
    if (!HANDLED.has(name) && value !== undefined && value !== null && value !== false) dropped.add(name);
  }
  return { body, droppedParams: [...dropped] };
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

const CONTENT_FILTER = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT']);

export function finishReasonFromGemini(reason: string | undefined, calledTools: boolean): string {
  if (calledTools) return 'tool_calls';
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason && CONTENT_FILTER.has(reason)) return 'content_filter';
  return 'stop';
}

export function usageFromGemini(meta: GeminiUsageMetadata | undefined): UsageData | null {
  if (!meta || typeof meta !== 'object') return null;
  // Tool-use prompt tokens are input; thinking tokens are output, as OpenAI counts reasoning tokens.
  const promptTokens = (meta.promptTokenCount ?? 0) + (meta.toolUsePromptTokenCount ?? 0);
  const completionTokens = (meta.candidatesTokenCount ?? 0) + (meta.thoughtsTokenCount ?? 0);
  return usageData(promptTokens, completionTokens, meta.totalTokenCount ?? promptTokens + completionTokens,
    { cachedTokens: meta.cachedContentTokenCount, reasoningTokens: meta.thoughtsTokenCount });
}

function openAIUsage(meta: GeminiUsageMetadata, usage: UsageData): Json {
  const out: Json = { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens };
  if (meta.cachedContentTokenCount !== undefined) out.prompt_tokens_details = { cached_tokens: meta.cachedContentTokenCount };
  if (meta.thoughtsTokenCount !== undefined) out.completion_tokens_details = { reasoning_tokens: meta.thoughtsTokenCount };
  return out;
}

/** A function call's thought signature where Google's OpenAI layer puts it, for the client to send back. */
const signatureOf = (part: GeminiPart): Json =>
  (part.thoughtSignature ? { extra_content: { google: { thought_signature: part.thoughtSignature } } } : {});

const newToolCallId = () => `call_${randomBytes(12).toString('hex')}`;
const completionId = (response: GeminiResponse) => `chatcmpl-${response.responseId ?? randomBytes(12).toString('hex')}`;

function parseResponse(text: string): GeminiResponse {
  const parsed = JSON.parse(text) as GeminiResponse;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('the answer is not a JSON object');
  return parsed;
}

function blockedRefusal(feedback: GeminiResponse['promptFeedback']): string {
  return `the prompt was blocked (${feedback?.blockReason})${feedback?.blockReasonMessage ? `: ${feedback.blockReasonMessage}` : ''}`;
}

/** A generateContent answer as an OpenAI chat.completion. */
export function geminiChatAnswer(text: string, job: JobData): ChatAnswer {
  const response = parseResponse(text);
  if (!Array.isArray(response.candidates) && !response.promptFeedback?.blockReason) {
    throw new SyntaxError('the answer has neither candidates nor a prompt block reason');
  }
  const choices = objectsIn<GeminiCandidate>(response.candidates).map((candidate, position) => {
    let content = '';
    let hasText = false;
    const toolCalls: Json[] = [];
    for (const part of candidate.content?.parts ?? []) {
      if (typeof part.text === 'string' && !part.thought) {
        content += part.text;
        hasText = true;
      } else if (part.functionCall) {
        toolCalls.push({ id: part.functionCall.id || newToolCallId(), type: 'function',
          function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
          ...signatureOf(part) });
      }
    }
    const message: Json = { role: 'assistant', content: hasText ? content : null, refusal: null };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    return { index: candidate.index ?? position, message, logprobs: null,
      finish_reason: finishReasonFromGemini(candidate.finishReason, toolCalls.length > 0) };
  });
  if (choices.length === 0) {
    choices.push({ index: 0, message: { role: 'assistant', content: null, refusal: blockedRefusal(response.promptFeedback) },
      logprobs: null, finish_reason: 'content_filter' });
  }
  const usage = usageFromGemini(response.usageMetadata);
  const body: Json = {
    id: completionId(response), object: 'chat.completion', created: Math.floor(Date.now() / 1000),
    model: response.modelVersion ?? job.model, choices,
  };
  if (usage) body.usage = openAIUsage(response.usageMetadata!, usage);
  return { body: JSON.stringify(body), usage };
}

// ---------------------------------------------------------------------------------------------------------------
// Streams

interface CandidateProgress {
  /** The role delta went out. */
  started: boolean;
  toolCalls: number;
  finished: boolean;
}

interface StreamScratch {
  id: string;
  created: number;
  model: string;
  candidates: Map<number, CandidateProgress>;
  meta: GeminiUsageMetadata | null;
}

function scratchOf(state: StreamState, response: GeminiResponse): StreamScratch {
  let scratch = state.scratch.gemini as StreamScratch | undefined;
  if (!scratch) {
    scratch = { id: completionId(response), created: Math.floor(Date.now() / 1000),
      model: response.modelVersion ?? state.model, candidates: new Map(), meta: null };
    state.scratch.gemini = scratch;
  }
  return scratch;
}

function chunkOf(scratch: StreamScratch, choices: Json[], usage?: Json): string {
  const chunk: Json = { id: scratch.id, object: 'chat.completion.chunk', created: scratch.created, model: scratch.model, choices };
  if (usage) chunk.usage = usage;
  return JSON.stringify(chunk);
}

const choiceOf = (index: number, delta: Json, finishReason: string | null = null): Json =>
  ({ index, delta, logprobs: null, finish_reason: finishReason });

/**
 * One streamed GenerateContentResponse as OpenAI chunks. There is no [DONE]: the chunk carrying the last
 * candidate's finishReason ends the stream, and a body that ends before it was cut off.
 */
export function geminiStreamEvent(event: StreamEvent, state: StreamState): StreamStep {
  const response = parseResponse(event.data);
  if (response.error) {
    return { chunks: [], done: false, error: { status: response.error.code ?? 500,
      message: response.error.message ?? response.error.status ?? 'error inside the stream' } };
  }
  const scratch = scratchOf(state, response);
  const chunks: string[] = [];
  if (response.usageMetadata) {
    scratch.meta = response.usageMetadata;
    state.usage = usageFromGemini(response.usageMetadata);
  }
  let finishedNow = false;
  const candidates = objectsIn<GeminiCandidate>(response.candidates);
  candidates.forEach((candidate, position) => {
    const index = candidate.index ?? position;
    const progress = scratch.candidates.get(index) ?? { started: false, toolCalls: 0, finished: false };
    scratch.candidates.set(index, progress);
    const opening = (delta: Json): Json => {
      if (progress.started) return delta;
      progress.started = true;
      return { role: 'assistant', ...delta };
    };
    for (const part of candidate.content?.parts ?? []) {
      if (typeof part.text === 'string' && !part.thought) {
        if (part.text !== '' || !progress.started) chunks.push(chunkOf(scratch, [choiceOf(index, opening({ content: part.text }))]));
      } else if (part.functionCall) {
        // Gemini sends each call whole; OpenAI clients expect the header delta, then the arguments.
        const toolIndex = progress.toolCalls++;
        chunks.push(chunkOf(scratch, [choiceOf(index, opening({ tool_calls: [{ index: toolIndex,
          id: part.functionCall.id || newToolCallId(), type: 'function', function: { name: part.functionCall.name, arguments: '' },
          ...signatureOf(part) }] }))]));
        chunks.push(chunkOf(scratch, [choiceOf(index, { tool_calls: [{ index: toolIndex,
          function: { arguments: JSON.stringify(part.functionCall.args ?? {}) } }] })]));
      }
    }
    if (candidate.finishReason) {
      if (!progress.started) chunks.push(chunkOf(scratch, [choiceOf(index, opening({ content: '' }))]));
      chunks.push(chunkOf(scratch, [choiceOf(index, {}, finishReasonFromGemini(candidate.finishReason, progress.toolCalls > 0))]));
      progress.finished = true;
      finishedNow = true;
    }
  });
  if (candidates.length === 0 && response.promptFeedback?.blockReason) {
    chunks.push(chunkOf(scratch, [choiceOf(0, { role: 'assistant', content: null, refusal: blockedRefusal(response.promptFeedback) })]));
    chunks.push(chunkOf(scratch, [choiceOf(0, {}, 'content_filter')]));
    finishedNow = true;
  }
  const done = finishedNow && [...scratch.candidates.values()].every((c) => c.finished);
  if (done && state.includeUsage && state.usage) chunks.push(chunkOf(scratch, [], openAIUsage(scratch.meta ?? {}, state.usage)));
  return { chunks, done };
}

/** The message of Google's error envelope `{"error":{"code","message","status"}}` (also inside an array). */
export function geminiErrorMessage(text: string): string | null {
  try {
    let parsed = JSON.parse(text) as unknown;
    if (Array.isArray(parsed)) parsed = parsed[0];
    const error = (parsed as { error?: { message?: unknown; status?: unknown } } | null)?.error;
    if (typeof error?.message === 'string' && error.message !== '') return error.message;
    if (typeof error?.status === 'string') return error.status;
  } catch {
    // Not JSON: the caller uses the raw text.
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Counting tokens

/** A `:countTokens` answer as the pipeline's `{"input_tokens": N}`; counting is not billed, so no usage. */
export function geminiTokenCountAnswer(text: string): ChatAnswer {
  const totalTokens = parseJsonObject(text).totalTokens;
  if (typeof totalTokens !== 'number') throw new SyntaxError('the answer has no totalTokens number');
  return { body: JSON.stringify({ input_tokens: totalTokens }), usage: null };
}

// ---------------------------------------------------------------------------------------------------------------
// Embeddings

/** The texts of an OpenAI embeddings request, and the fields this family cannot take. */
export function embeddingInputs(job: JobData): { texts: string[]; dimensions: number | null; droppedParams: string[] } {
  const input = job.body.input;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) {
    throw new Error('input must be a string or an array of strings (token-id inputs are not supported)');
  }
  const droppedParams = Object.entries(job.body)
    .filter(([name, value]) => !['model', 'input', 'dimensions', 'encoding_format'].includes(name) && value !== undefined && value !== null)
    .map(([name]) => name);
  const dimensions = typeof job.body.dimensions === 'number' ? job.body.dimensions : null;
  return { texts: texts as string[], dimensions, droppedParams };
}

/** Vectors as an OpenAI embeddings list, base64 (little-endian float32, as OpenAI) when the client asked for it. */
export function openAIEmbeddingList(vectors: number[][], job: JobData, promptTokens: number | null): ChatAnswer {
  const base64 = job.body.encoding_format === 'base64';
  const data = vectors.map((values, index) => ({
    object: 'embedding', index,
    embedding: base64 ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values,
  }));
  const tokens = promptTokens ?? 0;
  const body = { object: 'list', data, model: job.model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
  return { body: JSON.stringify(body), usage: promptTokens === null ? null
    : { promptTokens, completionTokens: 0, totalTokens: promptTokens } };
}

export function parseJsonObject(text: string): Json {
  const parsed = JSON.parse(text) as unknown;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('the answer is not a JSON object');
  return parsed as Json;
}
