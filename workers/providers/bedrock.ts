// Amazon Bedrock through its Converse API (`/model/{modelId}/converse` and `/converse-stream`), which speaks one
// message format for every chat model Bedrock hosts; through InvokeModel, in each model's own body, embeddings
// (Amazon Titan, and Cohere Embed: `texts`, `input_type`, `embedding_types`) and images (Titan Image Generator and
// Nova Canvas: `taskType` TEXT_IMAGE; Stability's models: `prompt`, `aspect_ratio`), as OpenAI's answers. Requests are
// signed with SigV4 from the key's `bedrock_key_config` (or carry a Bedrock API key as a bearer token, see
// upstream/auth/aws-sigv4.ts); streams come in AWS event-stream framing (upstream/aws-eventstream.ts).
//
// Key config: bedrock_key_config { access_key, secret_key, session_token?, region, deployments? }, where
// `deployments` maps the model name a client sends to the model id, inference profile or ARN to call.
// `network_config.base_url` replaces https://bedrock-runtime.{region}.amazonaws.com.
//
// What Converse has beyond OpenAI chat travels in fields the `/bedrock` route (src/dialects/bedrock.ts) writes and any
// OpenAI client may send, so a Converse client loses nothing through the gateway:
//   - a request field that is not an OpenAI chat field (`top_k`, `thinking`, `anthropic_beta`, …) is the model's own
//     and goes in `additionalModelRequestFields`; OpenAI fields Converse cannot take are dropped and reported;
//   - a tool message's `is_error` (tool-result.ts) becomes the toolResult's status: true → "error", false → "success";
//   - reasoning comes back as `reasoning_content` plus `thinking_blocks` with their signatures (as the anthropic
//     adapter's, see anthropic-shared.ts), and `thinking_blocks` sent back become reasoningContent blocks;
//   - cache reads are `prompt_tokens_details.cached_tokens`, cache writes `prompt_tokens_details.cache_creation_tokens`.

// Loading these registers, with the shared runner, the 'aws-eventstream' decoder and (aws-sigv4.js) the 'aws-sigv4' authenticator.
import '../upstream/aws-eventstream.js';
import { randomUUID } from 'node:crypto';
import { usageData, type FilesRequest, type JobData, type UsageData } from '../../src/contract/messages.js';
import { forwardFilesCall } from './files-forward.js';
import { awsKeyAuth } from '../upstream/auth/aws-sigv4.js';
import { joinUrl } from '../upstream/url.js';
import { bedrockBatchAnswer, bedrockBatchCall, type BedrockBatchDeps } from './bedrock-batches.js';
import { exceptionStep, invokeAnswer, invokeCall, invokeEvent } from './bedrock-invoke.js';
import { bedrockModelArn, bedrockRerankAnswer, bedrockRerankBody } from './bedrock-rerank.js';
import type { CallTarget, ChatAnswer, HttpAdapter, StreamEvent, StreamState, StreamStep, UpstreamCall } from './types.js';
import { isObject, parseObject, type Json } from './json.js';
import { toolFailed } from './tool-result.js';
import { imageListAnswer, imageRequest, nearestAspectRatio } from './media-shared.js';
import type { MediaAnswer } from './types.js';

const SERVICE = 'bedrock';
const KEY_CONFIG = 'bedrock_key_config';

type Block = Json;
interface ConverseMessage {
  role: 'user' | 'assistant';
  content: Block[];
}

const present = (value: unknown): boolean => value !== undefined && value !== null;

// ---------------------------------------------------------------------------------------------------------------
// Where a call goes

interface KeySettings {
  region: string | null;
  deployments: Readonly<Record<string, string>>;
}

function keySettings(target: CallTarget): KeySettings {
  // Throws the clear message when the key has no usable credentials at all.
  awsKeyAuth(target.key, SERVICE);
  const config = (target.key.configs[KEY_CONFIG] ?? {}) as Json;
  const region = typeof config.region === 'string' && config.region !== '' ? config.region : null;
  const deployments = config.deployments ?? {};
  if (!isObject(deployments) || !Object.values(deployments).every((id) => typeof id === 'string' && id !== '')) {
    throw new Error(`${KEY_CONFIG}.deployments must map model names to model ids`);
  }
  return { region, deployments: deployments as Record<string, string> };
}

type Operation = 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream';

function modelUrl(job: JobData, target: CallTarget, operation: Operation): { url: string; modelId: string } {
  const settings = keySettings(target);
  let base = target.baseUrl;
  if (!base) {
    if (!settings.region) throw new Error(`${KEY_CONFIG}.region is required (or network_config.base_url)`);
    base = `https://bedrock-runtime.${settings.region}.amazonaws.com`;
  }
  const modelId = Object.hasOwn(settings.deployments, job.model) ? settings.deployments[job.model] : job.model;
  // The model id is one path segment: `:` in `…-v1:0` and `/` in an ARN are percent-encoded, as the AWS SDK does.
  return { url: joinUrl(base, `/model/${encodeURIComponent(modelId)}/${operation}`), modelId };
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAI messages → Converse `system` + `messages`

const IMAGE_FORMATS: Readonly<Record<string, string>> = {
  'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp',
};
const IMAGE_EXTENSIONS: Readonly<Record<string, string>> = { png: 'png', jpg: 'jpeg', jpeg: 'jpeg', gif: 'gif', webp: 'webp' };
const DOCUMENT_FORMATS: Readonly<Record<string, string>> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};

function parseDataUrl(url: string): { mime: string; base64: string } | null {
  const match = /^data:([^;,]+)((?:;[^;,]*)*),/.exec(url);
  if (!match) return null;
  if (!match[2].split(';').includes('base64')) throw new Error('data: URLs must be base64-encoded');
  return { mime: match[1].toLowerCase(), base64: url.slice(match[0].length) };
}

function imageBlock(part: Json): Block {
  const image = part.image_url;
  const url = typeof image === 'string' ? image : isObject(image) && typeof image.url === 'string' ? image.url : null;
  if (!url) throw new Error("an image_url part needs image_url.url");
  const data = parseDataUrl(url);
  if (data) {
    const format = IMAGE_FORMATS[data.mime];
    if (!format) throw new Error(`image type '${data.mime}' is not supported: Bedrock Converse takes png, jpeg, gif and webp`);
    return { image: { format, source: { bytes: data.base64 } } };
  }
  if (url.startsWith('s3://')) {
    const format = IMAGE_EXTENSIONS[/\.([a-z0-9]+)$/i.exec(url)?.[1]?.toLowerCase() ?? ''];
    if (!format) throw new Error(`cannot tell the image format of '${url}' from its extension (png, jpg, jpeg, gif, webp)`);
    return { image: { format, source: { s3Location: { uri: url } } } };
  }
  throw new Error('Bedrock Converse does not fetch image URLs: send the image inline as a base64 data: URL (or an s3:// URI)');
}

function documentBlock(part: Json, names: Set<string>): Block {
  const file = isObject(part.file) ? part.file : {};
  if (typeof file.file_data !== 'string') {
    throw new Error('file parts need file.file_data as a base64 data: URL (file ids are not supported)');
  }
  const data = parseDataUrl(file.file_data);
  const format = data && DOCUMENT_FORMATS[data.mime];
  if (!data || !format) {
    const formats = Object.values(DOCUMENT_FORMATS).join(', ');
    throw new Error(`document type '${data?.mime ?? 'unknown'}' is not supported: Bedrock takes ${formats}`);
  }
  // Converse document names allow letters, digits, single spaces, hyphens, parentheses and brackets, and must differ.
  const stem = typeof file.filename === 'string' ? file.filename.replace(/\.[^.]*$/, '') : '';
  let name = stem.replace(/[^A-Za-z0-9\s\-()[\]]+/g, '-').replace(/\s+/g, ' ').trim() || 'document';
  for (let n = 2; names.has(name); n++) name = `${name.replace(/ \d+$/, '')} ${n}`;
  names.add(name);
  return { document: { format, name, source: { bytes: data.base64 } } };
}

/** Text of a string content or of its text (and refusal) parts; other parts are an error where text is expected. */
function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!present(content)) return '';
  if (!Array.isArray(content)) throw new Error(`${where} content must be a string or an array of parts`);
  return content.map((part: Json) => {
    if (part?.type === 'text' && typeof part.text === 'string') return part.text;
    if (part?.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
    throw new Error(`${where} content may only hold text parts, not '${String(part?.type)}'`);
  }).join('');
}

function userBlocks(content: unknown, documents: Set<string>): Block[] {
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  if (!Array.isArray(content)) throw new Error('user content must be a string or an array of parts');
  const blocks: Block[] = [];
  for (const part of content as Json[]) {
    const type = part?.type;
    if (type === 'text') {
      if (typeof part.text !== 'string') throw new Error('a text part needs a string text');
      // Converse rejects blank text blocks; an empty part carries nothing anyway.
      if (part.text !== '') blocks.push({ text: part.text });
    } else if (type === 'image_url') {
      blocks.push(imageBlock(part));
    } else if (type === 'file') {
      blocks.push(documentBlock(part, documents));
    } else {
      throw new Error(`content part type '${String(type)}' is not supported by Bedrock Converse`);
    }
  }
  return blocks;
}

function toolUseBlock(call: unknown): Block {
  if (!isObject(call)) throw new Error('every assistant tool call must be an object');
  const fn = isObject(call.function) ? call.function : {};
  if (typeof call.id !== 'string' || typeof fn.name !== 'string') throw new Error('an assistant tool call needs an id and function.name');
  let input: unknown = {};
  const args = typeof fn.arguments === 'string' ? fn.arguments.trim() : '';
  if (args !== '') {
    try {
      input = JSON.parse(args);
    } catch {
      throw new Error(`the arguments of tool call '${call.id}' (${fn.name}) are not valid JSON`);
    }
  }
  return { toolUse: { toolUseId: call.id, name: fn.name, input } };
}

/** `thinking_blocks` of an earlier answer, handed back as the reasoningContent blocks Claude checks. */
function reasoningBlocks(blocks: unknown, where: string): Block[] {
  if (!present(blocks)) return [];
  if (!Array.isArray(blocks)) throw new Error(`${where}.thinking_blocks must be an array`);
  return blocks.map((block: unknown, i) => {
    if (isObject(block) && block.type === 'thinking' && typeof block.thinking === 'string' && typeof block.signature === 'string') {
      return { reasoningContent: { reasoningText: { text: block.thinking, signature: block.signature } } };
    }
    if (isObject(block) && block.type === 'redacted_thinking' && typeof block.data === 'string') {
      return { reasoningContent: { redactedContent: block.data } };
    }
    throw new Error(`${where}.thinking_blocks[${i}] must be a thinking block with its signature, or a redacted_thinking block`);
  });
}

function toolResultBlock(message: Json, where: string): Block {
  if (typeof message.tool_call_id !== 'string') throw new Error(`${where} (tool) needs a tool_call_id`);
  const text = textOf(message.content, `${where} (tool)`);
  const result: Json = { toolUseId: message.tool_call_id };
  const failed = toolFailed(message, where);
  if (failed !== undefined) result.status = failed ? 'error' : 'success';
  result.content = text === '' ? [] : [{ text }];
  return { toolResult: result };
}

function convertMessages(messages: unknown[]): { system: Block[]; messages: ConverseMessage[] } {
  const system: Block[] = [];
  const out: ConverseMessage[] = [];
  const documents = new Set<string>();
  // Converse wants user and assistant turns to alternate: consecutive OpenAI messages of one side (several tool
  // results, a tool result then a user note) become one Converse message.
  const add = (role: ConverseMessage['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const [i, raw] of messages.entries()) {
    const message = raw as Json;
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = textOf(message.content, `messages[${i}] (${message.role})`);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user':
        add('user', userBlocks(message.content, documents));
        break;
      case 'assistant': {
        const text = textOf(message.content, `messages[${i}] (assistant)`);
        const calls: unknown[] = Array.isArray(message.tool_calls) ? message.tool_calls : [];
        // Reasoning first, as the model wrote it; `reasoning_content` alone cannot go back, Claude needs the signature.
        add('assistant', [...reasoningBlocks(message.thinking_blocks, `messages[${i}]`), ...(text !== '' ? [{ text }] : []),
          ...calls.map(toolUseBlock)]);
        break;
      }
      case 'tool':
        add('user', [toolResultBlock(message, `messages[${i}]`)]);
        break;
      default:
        throw new Error(`messages[${i}] has role '${String(message.role)}', which Bedrock Converse cannot take`
          + ' (use tools instead of functions)');
    }
  }
  return { system, messages: out };
}

// ---------------------------------------------------------------------------------------------------------------
// Tools, sampling and the rest of the request

function toolSpec(tool: unknown): Block {
  if (!isObject(tool)) throw new Error('every entry of tools must be an object');
  const fn = isObject(tool.function) ? tool.function : null;
  if (tool.type !== 'function' || !fn || typeof fn.name !== 'string') {
    throw new Error(`tools of type '${String(tool.type)}' are not supported: Bedrock Converse takes function tools`);
  }
  const spec: Json = { name: fn.name };
  if (typeof fn.description === 'string' && fn.description !== '') spec.description = fn.description;
  spec.inputSchema = { json: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} } };
  if (typeof fn.strict === 'boolean') spec.strict = fn.strict;
  return { toolSpec: spec };
}

function toolChoiceOf(choice: unknown): Json | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto') return { auto: {} };
  if (choice === 'required') return { any: {} };
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    return { tool: { name: choice.function.name } };
  }
  throw new Error(`tool_choice ${JSON.stringify(choice)} is not one Bedrock Converse understands`);
}

function toolConfigOf(body: Json, messages: ConverseMessage[], dropped: string[]): Json | undefined {
  const usesTools = messages.some((m) => m.content.some((block) => 'toolUse' in block || 'toolResult' in block));
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
  const choice = body.tool_choice;
  if (tools.length === 0) {
    if (present(choice) && choice !== 'none') dropped.push('tool_choice');
    if (!usesTools) return undefined;
    // Converse refuses tool use and results in the history without a toolConfig: declare the tools the history
    // names, with an open schema, so a conversation that has finished with its tools can go on.
    const names = new Set<string>();
    for (const m of messages) for (const block of m.content) if (isObject(block.toolUse)) names.add(String(block.toolUse.name));
    return { tools: [...names].map((name) => ({ toolSpec: { name, inputSchema: { json: { type: 'object' } } } })) };
  }
  const specs = tools.map(toolSpec);
  if (choice === 'none') {
    // Converse has no "none": not offering the tools is the same thing, unless the history needs them declared.
    if (!usesTools) return undefined;
    dropped.push('tool_choice');
    return { tools: specs };
  }
  const toolChoice = toolChoiceOf(choice);
  return toolChoice ? { tools: specs, toolChoice } : { tools: specs };
}

function outputConfigOf(format: unknown, dropped: string[]): Json | undefined {
  if (!present(format)) return undefined;
  if (isObject(format) && format.type === 'text') return undefined;
  if (isObject(format) && format.type === 'json_schema' && isObject(format.json_schema) && isObject(format.json_schema.schema)) {
    const schema = format.json_schema;
    const definition: Json = { schema: JSON.stringify(schema.schema), name: typeof schema.name === 'string' ? schema.name : 'response' };
    if (typeof schema.description === 'string') definition.description = schema.description;
    return { textFormat: { type: 'json_schema', structure: { jsonSchema: definition } } };
  }
  // `json_object` (JSON without a schema) has no Converse equivalent.
  dropped.push('response_format');
  return undefined;
}

/** Request fields read below. */
const HANDLED = new Set(['model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature',
  'top_p', 'stop', 'tools', 'tool_choice', 'response_format', 'metadata']);
/** OpenAI's other chat request fields: Converse has no place for them, so a client's are dropped and reported. */
const OPENAI_FIELDS = new Set(['audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs', 'modalities', 'n',
  'parallel_tool_calls', 'prediction', 'presence_penalty', 'prompt_cache_key', 'prompt_cache_retention', 'reasoning_effort',
  'safety_identifier', 'seed', 'service_tier', 'store', 'top_logprobs', 'user', 'verbosity', 'web_search_options']);
/** Fields whose value here asks for nothing beyond what Converse does anyway (LangChain sends the penalties at 0). */
const NO_OP: Readonly<Record<string, unknown>> = { n: 1, logprobs: false, parallel_tool_calls: true, frequency_penalty: 0,
  presence_penalty: 0 };

function converseBody(body: Json): { request: Json; dropped: string[] } {
  const dropped: string[] = [];
  // Any other field is the model's own (Claude's `top_k` and `thinking`, what a Converse client put in
  // additionalModelRequestFields): Bedrock hands those to the model as they are.
  const modelFields: Json = {};
  for (const [name, value] of Object.entries(body)) {
    if (HANDLED.has(name) || !present(value)) continue;
    if (!OPENAI_FIELDS.has(name)) modelFields[name] = value;
    else if (NO_OP[name] !== value) dropped.push(name);
  }
  const { system, messages } = convertMessages(Array.isArray(body.messages) ? body.messages : []);
  const request: Json = { messages };
  if (system.length > 0) request.system = system;

  const inference: Json = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (present(maxTokens)) inference.maxTokens = maxTokens;
  if (present(body.temperature)) inference.temperature = body.temperature;
  if (present(body.top_p)) inference.topP = body.top_p;
  if (typeof body.stop === 'string') inference.stopSequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length > 0) inference.stopSequences = body.stop;
  if (Object.keys(inference).length > 0) request.inferenceConfig = inference;

  const toolConfig = toolConfigOf(body, messages, dropped);
  if (toolConfig) request.toolConfig = toolConfig;
  const outputConfig = outputConfigOf(body.response_format, dropped);
  if (outputConfig) request.outputConfig = outputConfig;
  if (present(body.metadata)) {
    // OpenAI's and Converse's request metadata are both string maps kept with the invocation logs.
    const strings = isObject(body.metadata) && Object.values(body.metadata).every((v) => typeof v === 'string');
    if (strings) request.requestMetadata = body.metadata;
    else dropped.push('metadata');
  }
  if (Object.keys(modelFields).length > 0) request.additionalModelRequestFields = modelFields;
  return { request, dropped };
}

// ---------------------------------------------------------------------------------------------------------------
// Converse answers → OpenAI

const FINISH_REASONS: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};
const finishReason = (stopReason: unknown): string =>
  (Object.hasOwn(FINISH_REASONS, String(stopReason)) ? FINISH_REASONS[String(stopReason)] : 'stop');

interface BedrockUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/** Converse counts cache reads and writes apart from `inputTokens`; OpenAI's prompt_tokens include them. */
function openAIUsage(usage: BedrockUsage | undefined): { json: Json; data: UsageData } | null {
  if (typeof usage !== 'object' || usage === null) return null;
  const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const cacheRead = count(usage.cacheReadInputTokens);
  const cacheWrite = count(usage.cacheWriteInputTokens);
  const promptTokens = count(usage.inputTokens) + cacheRead + cacheWrite;
  const completionTokens = count(usage.outputTokens);
  const totalTokens = promptTokens + completionTokens;
  const json: Json = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: totalTokens };
  // Cache writes have no OpenAI field: they go where the anthropic adapter puts Anthropic's.
  if (usage.cacheReadInputTokens !== undefined || usage.cacheWriteInputTokens !== undefined) {
    json.prompt_tokens_details = { cached_tokens: cacheRead, cache_creation_tokens: cacheWrite };
  }
  return { json, data: usageData(promptTokens, completionTokens, totalTokens,
    { cachedTokens: usage.cacheReadInputTokens, cacheWriteTokens: usage.cacheWriteInputTokens }) };
}

const completionId = () => `chatcmpl-${randomUUID().replaceAll('-', '')}`;

function chatAnswer(text: string, job: JobData): ChatAnswer {
  const parsed = JSON.parse(text) as { output?: { message?: { content?: unknown } }; stopReason?: unknown; usage?: BedrockUsage };
  const content = parsed?.output?.message?.content;
  if (!Array.isArray(content)) throw new SyntaxError('the answer has no output.message.content');
  let reply = '';
  let reasoning = '';
  const thinking: Json[] = [];
  const toolCalls: Json[] = [];
  for (const block of content as Json[]) {
    if (typeof block.text === 'string') reply += block.text;
    else if (isObject(block.toolUse)) {
      const use = block.toolUse;
      toolCalls.push({ id: use.toolUseId, type: 'function', function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) } });
    } else if (isObject(block.reasoningContent)) {
      const { reasoningText, redactedContent } = block.reasoningContent;
      if (isObject(reasoningText)) {
        const text = String(reasoningText.text ?? '');
        reasoning += text;
        // Signed reasoning must go back to the model as it was: the client keeps it in thinking_blocks.
        if (typeof reasoningText.signature === 'string') thinking.push({ type: 'thinking', thinking: text, signature: reasoningText.signature });
      } else if (typeof redactedContent === 'string') {
        thinking.push({ type: 'redacted_thinking', data: redactedContent });
      }
    }
  }
  const message: Json = { role: 'assistant', content: reply === '' && toolCalls.length > 0 ? null : reply };
  if (reasoning !== '') message.reasoning_content = reasoning;
  if (thinking.length > 0) message.thinking_blocks = thinking;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  message.refusal = null;
  const usage = openAIUsage(parsed.usage);
  const body = {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: job.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(parsed.stopReason) }],
    ...(usage ? { usage: usage.json } : {}),
  };
  return { body: JSON.stringify(body), usage: usage?.data ?? null };
}

// ---------------------------------------------------------------------------------------------------------------
// ConverseStream events → OpenAI chunks

interface StreamScratch {
  id: string;
  created: number;
  /** The role goes out with the first chunk that carries something, so an exception right after messageStart
   * still fails the request with its own status rather than breaking a stream already begun. */
  rolePending: boolean;
  /** contentBlockIndex → OpenAI tool_calls index. */
  tools: Record<number, number>;
  toolCount: number;
  /** contentBlockIndex → the reasoning text so far, sent again whole with its signature. */
  reasoning: Record<number, string>;
  stopped: boolean;
  usageSeen: boolean;
}

const STREAM_EVENTS = new Set(['messageStart', 'contentBlockStart', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);

function scratchOf(state: StreamState): StreamScratch {
  const scratch = state.scratch as unknown as Partial<StreamScratch>;
  if (scratch.id === undefined) {
    Object.assign(scratch, { id: completionId(), created: Math.floor(Date.now() / 1000), rolePending: true, tools: {},
      toolCount: 0, reasoning: {}, stopped: false, usageSeen: false } satisfies StreamScratch);
  }
  return scratch as StreamScratch;
}

function chunk(state: StreamState, s: StreamScratch, delta: Json, finish: string | null = null): string {
  if (s.rolePending) {
    delta = { role: 'assistant', ...delta };
    s.rolePending = false;
  }
  return JSON.stringify({ id: s.id, object: 'chat.completion.chunk', created: s.created, model: state.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
}

function streamEvent(event: StreamEvent, state: StreamState): StreamStep {
  const name = event.event ?? '';
  if (!STREAM_EVENTS.has(name)) return exceptionStep(event);
  const data = parseObject(event.data, 'the stream event');
  const s = scratchOf(state);
  const chunks: string[] = [];
  switch (name) {
    case 'contentBlockStart': {
      const start = isObject(data.start) ? data.start : {};
      if (isObject(start.toolUse)) {
        const index = s.toolCount++;
        s.tools[Number(data.contentBlockIndex)] = index;
        chunks.push(chunk(state, s, { content: null, tool_calls: [{ index, id: start.toolUse.toolUseId, type: 'function',
          function: { name: start.toolUse.name, arguments: '' } }] }));
      }
      break;
    }
    case 'contentBlockDelta': {
      const delta = isObject(data.delta) ? data.delta : {};
      if (typeof delta.text === 'string') {
        if (delta.text !== '') chunks.push(chunk(state, s, { content: delta.text }));
      } else if (isObject(delta.toolUse)) {
        const index = s.tools[Number(data.contentBlockIndex)];
        if (index === undefined) throw new Error(`tool input for content block ${String(data.contentBlockIndex)}, which never started`);
        chunks.push(chunk(state, s, { tool_calls: [{ index, function: { arguments: String(delta.toolUse.input ?? '') } }] }));
      } else if (isObject(delta.reasoningContent)) {
        const { text, signature, redactedContent } = delta.reasoningContent;
        const index = Number(data.contentBlockIndex);
        if (typeof text === 'string') {
          s.reasoning[index] = (s.reasoning[index] ?? '') + text;
          if (text !== '') chunks.push(chunk(state, s, { reasoning_content: text }));
        } else if (typeof signature === 'string') {
          // The whole block once, when its signature arrives, as the anthropic adapter streams it.
          chunks.push(chunk(state, s, { thinking_blocks: [{ type: 'thinking', thinking: s.reasoning[index] ?? '', signature }] }));
        } else if (typeof redactedContent === 'string') {
          chunks.push(chunk(state, s, { thinking_blocks: [{ type: 'redacted_thinking', data: redactedContent }] }));
        }
      }
      break;
    }
    case 'messageStop':
      s.stopped = true;
      chunks.push(chunk(state, s, {}, finishReason(data.stopReason)));
      break;
    case 'metadata': {
      s.usageSeen = true;
      const usage = openAIUsage(data.usage as BedrockUsage | undefined);
      if (usage) {
        state.usage = usage.data;
        if (state.includeUsage) {
          chunks.push(JSON.stringify({ id: s.id, object: 'chat.completion.chunk', created: s.created, model: state.model,
            choices: [], usage: usage.json }));
        }
      }
      break;
    }
    default:
      // messageStart (its role goes out with the first chunk) and contentBlockStop carry nothing to forward.
      break;
  }
  // Converse ends with messageStop then metadata; the end is both having come.
  return { chunks, done: s.stopped && s.usageSeen };
}

function errorMessage(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as Json;
    const message = isObject(parsed) ? parsed.message ?? parsed.Message : null;
    return typeof message === 'string' && message !== '' ? message : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Embeddings: Amazon Titan text embeddings through InvokeModel, one input per call

const EMBEDDINGS_HANDLED = new Set(['model', 'input', 'encoding_format', 'dimensions']);

const isCohereEmbed = (job: JobData, modelId: string) => /cohere\.embed/.test(modelId) || /cohere\.embed/.test(job.model);
/** Cohere's own fields, which a client may send beside OpenAI's: they go in the body as they are. */
const COHERE_EMBED_FIELDS = ['input_type', 'truncate'] as const;

function embeddingsCall(job: JobData, target: CallTarget): UpstreamCall {
  const { url, modelId } = modelUrl(job, target, 'invoke');
  if (isCohereEmbed(job, modelId)) return cohereEmbeddingsCall(job, url, modelId);
  if (!/titan-embed/.test(job.model) && !/titan-embed/.test(modelId)) {
    throw new Error(`embeddings on Bedrock support the Amazon Titan (amazon.titan-embed-*) and Cohere (cohere.embed-*) models, not '${job.model}'`);
  }
  const body = job.body as Json;
  let input = body.input;
  if (Array.isArray(input) && input.length === 1) input = input[0];
  if (typeof input !== 'string') {
    const what = Array.isArray(input) && input.every((item) => typeof item === 'string')
      ? `${input.length} inputs: send one string per request` : 'token arrays: send the text';
    throw new Error(`Titan embeddings take one text per request, not ${what}`);
  }
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(body)) if (!EMBEDDINGS_HANDLED.has(name) && present(value)) dropped.push(name);
  const request: Json = { inputText: input };
  if (present(body.dimensions)) {
    // Only Titan Text Embeddings V2 takes a size (256, 512 or 1024); G1 rejects any field but inputText.
    if (/titan-embed-text-v2/.test(modelId) || /titan-embed-text-v2/.test(job.model)) request.dimensions = body.dimensions;
    else dropped.push('dimensions');
  }
  const encoding = body.encoding_format;
  if (present(encoding) && encoding !== 'float' && encoding !== 'base64') {
    throw new Error(`encoding_format '${String(encoding)}' is not supported`);
  }
  return { url, headers: { accept: 'application/json' }, body: JSON.stringify(request), droppedParams: dropped };
}

/**
 * Cohere Embed's InvokeModel body: up to 96 `texts` at once, the `input_type` Cohere v3 and later require
 * (`search_document` unless the client sends its own, as for text stored for retrieval), float vectors asked for by
 * `embedding_types`; `dimensions` is Embed v4's `output_dimension`.
 */
function cohereEmbeddingsCall(job: JobData, url: string, modelId: string): UpstreamCall {
  const body = job.body as Json;
  const texts = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((text) => typeof text === 'string')) {
    throw new Error('Cohere embeddings take text: a string or a list of strings, not token arrays');
  }
  const encoding = body.encoding_format;
  if (present(encoding) && encoding !== 'float' && encoding !== 'base64') throw new Error(`encoding_format '${String(encoding)}' is not supported`);
  const request: Json = { texts, input_type: body.input_type ?? 'search_document', embedding_types: ['float'] };
  if (present(body.truncate)) request.truncate = body.truncate;
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(body)) {
    if (!EMBEDDINGS_HANDLED.has(name) && !(COHERE_EMBED_FIELDS as readonly string[]).includes(name) && present(value)) dropped.push(name);
  }
  if (present(body.dimensions)) {
    if (/embed-v4/.test(modelId) || /embed-v4/.test(job.model)) request.output_dimension = body.dimensions;
    else dropped.push('dimensions');
  }
  return { url, headers: { accept: 'application/json' }, body: JSON.stringify(request), droppedParams: dropped };
}

function cohereEmbeddingsAnswer(parsed: Json, job: JobData): ChatAnswer {
  // `embedding_types` asked: vectors by type; without: a plain list (response_type embeddings_floats).
  const vectors = isObject(parsed.embeddings) ? parsed.embeddings.float : parsed.embeddings;
  if (!Array.isArray(vectors)) throw new SyntaxError('the answer has no float embeddings');
  const base64 = (job.body as Json).encoding_format === 'base64';
  const billed = isObject(parsed.meta) && isObject(parsed.meta.billed_units) ? parsed.meta.billed_units.input_tokens : undefined;
  const tokens = typeof billed === 'number' ? billed : null;
  const body = {
    object: 'list',
    data: (vectors as number[][]).map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? base64Floats(vector) : vector })),
    model: job.model,
    usage: { prompt_tokens: tokens ?? 0, total_tokens: tokens ?? 0 },
  };
  return { body: JSON.stringify(body), usage: tokens === null ? null : { promptTokens: tokens, completionTokens: 0, totalTokens: tokens } };
}

/** OpenAI's base64 encoding: the vector's float32 values, little-endian, in base64. */
function base64Floats(vector: number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}

function embeddingsAnswer(text: string, job: JobData): ChatAnswer {
  const parsed = parseObject<{ embedding?: unknown; inputTextTokenCount?: unknown; texts?: unknown }>(text, 'the answer');
  if (Array.isArray(parsed.texts)) return cohereEmbeddingsAnswer(parsed as Json, job);
  if (!Array.isArray(parsed?.embedding)) throw new SyntaxError('the answer has no embedding array');
  const vector = parsed.embedding as number[];
  const tokens = typeof parsed.inputTextTokenCount === 'number' ? parsed.inputTextTokenCount : 0;
  const embedding = (job.body as Json).encoding_format === 'base64' ? base64Floats(vector) : vector;
  const body = {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding }],
    model: job.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
  return { body: JSON.stringify(body), usage: { promptTokens: tokens, completionTokens: 0, totalTokens: tokens } };
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAI images → InvokeModel on an image model

const isStability = (model: string) => /(^|\.)stability\./.test(model);
/** The aspect ratios Stability's models on Bedrock take. */
const STABILITY_RATIOS = ['16:9', '1:1', '21:9', '2:3', '3:2', '4:5', '5:4', '9:16', '9:21'] as const;

/**
 * Stability's models (`stability.sd3-5-large-v1:0`, `stability.stable-image-core-v1:1`, …) take a prompt and an
 * aspect ratio and answer one image; Titan Image Generator and Nova Canvas take Titan's TEXT_IMAGE task, with the
 * size as width and height, up to 5 images and OpenAI's `hd` quality as `premium`.
 */
function imageGenerationCall(job: JobData, target: CallTarget): UpstreamCall {
  const { url, modelId } = modelUrl(job, target, 'invoke');
  const { prompt, count, size, droppedParams } = imageRequest(job);
  const headers = { accept: 'application/json' };
  if (isStability(modelId)) {
    if (count > 1) droppedParams.push('n');
    const request = { prompt, output_format: 'png', ...(size ? { aspect_ratio: nearestAspectRatio(size, STABILITY_RATIOS) } : {}) };
    return { url, headers, body: JSON.stringify(request), droppedParams };
  }
  const quality = (job.body as Json).quality;
  const dropped = droppedParams.filter((name) => name !== 'quality');
  const config: Json = { numberOfImages: count, ...(size ? { width: size.width, height: size.height } : {}) };
  if (quality === 'hd' || quality === 'high') config.quality = 'premium';
  else if (quality === 'standard' || quality === 'medium' || quality === 'low') config.quality = 'standard';
  else if (present(quality) && quality !== 'auto') dropped.push('quality');
  const request = { taskType: 'TEXT_IMAGE', textToImageParams: { text: prompt }, imageGenerationConfig: config };
  return { url, headers, body: JSON.stringify(request), droppedParams: dropped };
}

/** Both families answer `images` (base64); Stability says per image why it was filtered (`finish_reasons`). */
function mediaAnswer(text: string): MediaAnswer {
  const parsed = parseObject<{ images?: unknown; finish_reasons?: unknown; error?: unknown }>(text, 'the answer');
  if (typeof parsed.error === 'string' && parsed.error !== '') throw new SyntaxError(parsed.error);
  if (!Array.isArray(parsed.images)) throw new SyntaxError('the answer has no images array');
  const reasons = Array.isArray(parsed.finish_reasons) ? parsed.finish_reasons : [];
  const images = parsed.images.filter((image, i): image is string => typeof image === 'string' && !present(reasons[i]));
  if (images.length === 0 && reasons.some(present)) throw new SyntaxError(`no image: ${reasons.filter(present).map(String).join('; ')}`);
  return imageListAnswer(images);
}

// ---------------------------------------------------------------------------------------------------------------

/** Rerank lives in the Agent Runtime (bedrock-agent-runtime.{region}), signed as Bedrock with the same key. */
function rerankCall(job: JobData, target: CallTarget): UpstreamCall {
  const settings = keySettings(target);
  const base = target.baseUrl ?? (settings.region ? `https://bedrock-agent-runtime.${settings.region}.amazonaws.com` : null);
  if (!base) throw new Error(`${KEY_CONFIG}.region is required (or network_config.base_url)`);
  const modelId = Object.hasOwn(settings.deployments, job.model) ? settings.deployments[job.model] : job.model;
  const { body, dropped } = bedrockRerankBody(job, bedrockModelArn(modelId, settings.region));
  return { url: joinUrl(base, '/rerank'), headers: { accept: 'application/json' }, body, droppedParams: dropped };
}

export const bedrock: HttpAdapter = {
  rerankCall,
  rerankAnswer: bedrockRerankAnswer,
  id: 'bedrock',
  transport: 'http',
  auth: { kind: 'aws-sigv4', service: SERVICE },
  streamFormat: 'aws-eventstream',

  chatCall(job: JobData, target: CallTarget): UpstreamCall {
    const { url } = modelUrl(job, target, job.stream ? 'converse-stream' : 'converse');
    const { request, dropped } = converseBody(job.body as Json);
    const headers = { accept: job.stream ? 'application/vnd.amazon.eventstream' : 'application/json' };
    return { url, headers, body: JSON.stringify(request), droppedParams: dropped };
  },
  chatAnswer,
  streamEvent,
  errorMessage,
  embeddingsCall,
  embeddingsAnswer,
  invokeCall: (job: JobData, target: CallTarget) => invokeCall(job, modelUrl(job, target, job.stream ? 'invoke-with-response-stream' : 'invoke').url),
  invokeAnswer,
  invokeEvent,
  imageGenerationCall,
  mediaAnswer,
  filesCall,
  openAIBatchCall: (request, target) => bedrockBatchCall(request, target, BATCH_DEPS),
  openAIBatchAnswer: (request, text, context) => bedrockBatchAnswer(request, text, context, BATCH_DEPS),
};

/**
 * Batch inference: the model invocation jobs of the Bedrock control plane (bedrock.{region}.amazonaws.com), and
 * the S3 objects they read and write, which the /bedrock/files routes reach as `/files/{bucket}/{key}`: path-style
 * S3 (s3.{region}.amazonaws.com/{bucket}/{key}), signed for service `s3` with the same bedrock_key_config. A
 * configured `network_config.base_url` takes both (a proxy, a test double).
 */
function filesCall(request: FilesRequest, target: CallTarget): UpstreamCall {
  const settings = keySettings(target);
  const region = () => {
    if (!settings.region) throw new Error(`${KEY_CONFIG}.region is required (or network_config.base_url)`);
    return settings.region;
  };
  if (request.path.startsWith('/files/')) {
    const base = target.baseUrl ?? `https://s3.${region()}.amazonaws.com`;
    return { ...forwardFilesCall(base, { ...request, path: request.path.slice('/files'.length) }),
      auth: { kind: 'aws-sigv4', service: 's3', keyConfig: SERVICE } };
  }
  return forwardFilesCall(target.baseUrl ?? `https://bedrock.${region()}.amazonaws.com`, request);
}

/** What OpenAI's batches on Bedrock (bedrock-batches.ts) take from this adapter. */
const BATCH_DEPS: BedrockBatchDeps = {
  deployments: (target) => keySettings(target).deployments,
  filesCall,
  converseRequest: converseBody,
  converseAnswer: (text, model) => chatAnswer(text, { model } as JobData).body,
};
