// The Bedrock fake's InvokeModel and InvokeModelWithResponseStream for the text models, in each family's own body
// and answer as Bedrock's model parameter pages document them: Anthropic Claude (Messages, `anthropic_version`
// bedrock-2023-05-31), Meta Llama, Mistral, DeepSeek, Cohere Command R, Amazon Nova (messages-v1), Titan Text and
// AI21 Jamba. Bodies are checked per family, unknown keys refused as Bedrock's validation does. A stream's chunks
// are the family's own events, the last carrying `amazon-bedrock-invocationMetrics`, as Bedrock adds it.

import { randomUUID } from 'node:crypto';
import { tokensOf } from './fake-server.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const words = (text: string) => text.match(/\S+\s*|\s+/g) ?? [text];

export interface InvokeReply {
  /** The answer's text. */
  text: string;
  inputTokens: number;
  outputTokens: number;
}

interface TextFamily {
  models: RegExp;
  /** The body's keys Bedrock takes for the family. */
  keys: string[];
  check(body: Json): string | null;
  /** The prompt's text, for the input token count. */
  prompt(body: Json): string;
  answer(body: Json, reply: InvokeReply): Json;
  chunks(body: Json, reply: InvokeReply): Json[];
}

const isString = (value: unknown) => typeof value === 'string' && value !== '';
const needs = (body: Json, key: string) => (isString(body[key]) ? null : `Malformed input request: required key [${key}] not found, please reformat your input and try again.`);
const texts = (messages: unknown) => (Array.isArray(messages) ? JSON.stringify(messages) : '');

const anthropic: TextFamily = {
  models: /anthropic\.claude/,
  keys: ['anthropic_version', 'anthropic_beta', 'max_tokens', 'messages', 'system', 'stop_sequences', 'temperature', 'top_p', 'top_k', 'tools',
    'tool_choice', 'thinking', 'metadata'],
  check: (body) => {
    if (body.anthropic_version !== 'bedrock-2023-05-31') return 'Malformed input request: #: required key [anthropic_version] not found or not bedrock-2023-05-31';
    if (!Number.isInteger(body.max_tokens)) return 'Malformed input request: #: required key [max_tokens] not found';
    if (!Array.isArray(body.messages) || body.messages.length === 0) return 'Malformed input request: #: required key [messages] not found';
    return null;
  },
  prompt: (body) => texts(body.messages) + String(body.system ?? ''),
  answer: (_body, reply) => ({ id: `msg_bdrk_${randomUUID()}`, type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: reply.text }],
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: reply.inputTokens, output_tokens: reply.outputTokens } }),
  chunks: (_body, reply) => [
    { type: 'message_start', message: { id: `msg_bdrk_${randomUUID()}`, type: 'message', role: 'assistant', model: 'claude', content: [],
      stop_reason: null, stop_sequence: null, usage: { input_tokens: reply.inputTokens, output_tokens: 1 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ...words(reply.text).map((text) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: reply.outputTokens } },
    { type: 'message_stop' },
  ],
};

const llama: TextFamily = {
  models: /meta\.llama/,
  keys: ['prompt', 'max_gen_len', 'temperature', 'top_p', 'images'],
  check: (body) => needs(body, 'prompt'),
  prompt: (body) => String(body.prompt),
  answer: (_body, reply) => ({ generation: reply.text, prompt_token_count: reply.inputTokens, generation_token_count: reply.outputTokens, stop_reason: 'stop' }),
  chunks: (_body, reply) => words(reply.text).map((generation, i, all) => ({ generation, prompt_token_count: i === 0 ? reply.inputTokens : null,
    generation_token_count: i + 1, stop_reason: i === all.length - 1 ? 'stop' : null })),
};

const mistral: TextFamily = {
  models: /mistral\./,
  keys: ['prompt', 'max_tokens', 'stop', 'temperature', 'top_p', 'top_k'],
  check: (body) => needs(body, 'prompt'),
  prompt: (body) => String(body.prompt),
  answer: (_body, reply) => ({ outputs: [{ text: reply.text, stop_reason: 'stop' }] }),
  chunks: (_body, reply) => words(reply.text).map((text, i, all) => ({ outputs: [{ text, stop_reason: i === all.length - 1 ? 'stop' : null }] })),
};

const deepseek: TextFamily = {
  models: /deepseek\./,
  keys: ['prompt', 'max_tokens', 'temperature', 'top_p', 'stop'],
  check: (body) => needs(body, 'prompt'),
  prompt: (body) => String(body.prompt),
  answer: (_body, reply) => ({ choices: [{ text: reply.text, stop_reason: 'stop' }] }),
  chunks: (_body, reply) => words(reply.text).map((text, i, all) => ({ choices: [{ text, stop_reason: i === all.length - 1 ? 'stop' : null }] })),
};

const cohere: TextFamily = {
  models: /cohere\.command-r/,
  keys: ['message', 'chat_history', 'documents', 'search_queries_only', 'preamble', 'max_tokens', 'temperature', 'p', 'k', 'prompt_truncation',
    'frequency_penalty', 'presence_penalty', 'seed', 'return_prompt', 'tools', 'tool_results', 'stop_sequences', 'raw_prompting'],
  check: (body) => needs(body, 'message'),
  prompt: (body) => String(body.message) + texts(body.chat_history),
  answer: (body, reply) => ({ response_id: randomUUID(), text: reply.text, generation_id: randomUUID(),
    chat_history: [...(Array.isArray(body.chat_history) ? body.chat_history : []), { role: 'USER', message: body.message }, { role: 'CHATBOT', message: reply.text }],
    finish_reason: 'COMPLETE' }),
  chunks: (body, reply) => [{ is_finished: false, event_type: 'stream-start', generation_id: randomUUID() },
    ...words(reply.text).map((text) => ({ is_finished: false, event_type: 'text-generation', text })),
    { is_finished: true, event_type: 'stream-end', finish_reason: 'COMPLETE', response: cohere.answer(body, reply) }],
};

const nova: TextFamily = {
  models: /amazon\.nova-(micro|lite|pro|premier|2)/,
  keys: ['schemaVersion', 'system', 'messages', 'inferenceConfig', 'toolConfig'],
  check: (body) => {
    if (!Array.isArray(body.messages) || body.messages.length === 0) return 'Malformed input request: #: required key [messages] not found';
    for (const message of body.messages as unknown[]) {
      if (!isObject(message) || !['user', 'assistant'].includes(String(message.role)) || !Array.isArray(message.content)) {
        return 'Malformed input request: #/messages: each message needs a role (user or assistant) and a content list';
      }
    }
    const config = body.inferenceConfig;
    if (config !== undefined && (!isObject(config) || Object.keys(config).some((key) => !['max_new_tokens', 'maxTokens', 'temperature', 'top_p', 'topP',
      'top_k', 'topK', 'stopSequences', 'reasoningConfig'].includes(key)))) return 'Malformed input request: #/inferenceConfig: extraneous key';
    return null;
  },
  prompt: (body) => texts(body.messages) + texts(body.system),
  answer: (_body, reply) => ({ output: { message: { role: 'assistant', content: [{ text: reply.text }] } }, stopReason: 'end_turn',
    usage: { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens, totalTokens: reply.inputTokens + reply.outputTokens } }),
  chunks: (_body, reply) => [{ messageStart: { role: 'assistant' } },
    ...words(reply.text).map((text) => ({ contentBlockDelta: { delta: { text }, contentBlockIndex: 0 } })),
    { contentBlockStop: { contentBlockIndex: 0 } }, { messageStop: { stopReason: 'end_turn' } },
    { metadata: { usage: { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens }, metrics: {}, trace: {} } }],
};

const titanText: TextFamily = {
  models: /amazon\.titan-(text|tg1)/,
  keys: ['inputText', 'textGenerationConfig'],
  check: (body) => {
    const missing = needs(body, 'inputText');
    if (missing) return missing;
    const config = body.textGenerationConfig;
    if (config !== undefined && (!isObject(config) || Object.keys(config).some((key) => !['maxTokenCount', 'temperature', 'topP', 'stopSequences'].includes(key)))) {
      return 'Malformed input request: #/textGenerationConfig: extraneous key';
    }
    return null;
  },
  prompt: (body) => String(body.inputText),
  answer: (_body, reply) => ({ inputTextTokenCount: reply.inputTokens, results: [{ tokenCount: reply.outputTokens, outputText: reply.text, completionReason: 'FINISH' }] }),
  chunks: (_body, reply) => words(reply.text).map((outputText, i, all) => ({ outputText, index: 0, totalOutputTextTokenCount: i + 1,
    completionReason: i === all.length - 1 ? 'FINISH' : null, inputTextTokenCount: i === 0 ? reply.inputTokens : null })),
};

const jamba: TextFamily = {
  models: /ai21\.jamba/,
  keys: ['messages', 'max_tokens', 'temperature', 'top_p', 'stop', 'n', 'frequency_penalty', 'presence_penalty', 'tools', 'response_format', 'documents'],
  check: (body) => (Array.isArray(body.messages) && body.messages.length > 0 ? null : 'Malformed input request: #: required key [messages] not found'),
  prompt: (body) => texts(body.messages),
  answer: (_body, reply) => ({ id: `chatcmpl-${randomUUID()}`, choices: [{ index: 0, message: { role: 'assistant', content: reply.text, tool_calls: null },
    finish_reason: 'stop' }], usage: { prompt_tokens: reply.inputTokens, completion_tokens: reply.outputTokens, total_tokens: reply.inputTokens + reply.outputTokens } }),
  chunks: (_body, reply) => [...words(reply.text).map((content) => ({ id: 'chatcmpl-fake', choices: [{ index: 0, delta: { content }, finish_reason: null }] })),
    { id: 'chatcmpl-fake', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      usage: { prompt_tokens: reply.inputTokens, completion_tokens: reply.outputTokens, total_tokens: reply.inputTokens + reply.outputTokens } }],
};

const FAMILIES = [anthropic, llama, mistral, deepseek, cohere, nova, titanText, jamba];

/** Whether the model id is a text model this fake serves through InvokeModel. */
export const isTextModel = (modelId: string): boolean => FAMILIES.some((family) => family.models.test(modelId));

const familyOf = (modelId: string): TextFamily => FAMILIES.find((family) => family.models.test(modelId))!;

/** The body's problem as Bedrock words it, or null. */
export function checkTextInvoke(modelId: string, body: Json): string | null {
  const family = familyOf(modelId);
  const extra = Object.keys(body).find((key) => !family.keys.includes(key));
  if (extra) return `Malformed input request: extraneous key [${extra}] is not permitted, please reformat your input and try again.`;
  return family.check(body);
}

export function textInvokeReply(modelId: string, body: Json, text: string): InvokeReply {
  return { text, inputTokens: Math.max(1, tokensOf(familyOf(modelId).prompt(body))), outputTokens: tokensOf(text) };
}

export const textInvokeAnswer = (modelId: string, body: Json, reply: InvokeReply): Json => familyOf(modelId).answer(body, reply);

/** The stream's chunk payloads, the last with the invocation metrics. */
export function textInvokeChunks(modelId: string, body: Json, reply: InvokeReply): Json[] {
  const chunks = familyOf(modelId).chunks(body, reply);
  chunks[chunks.length - 1] = { ...chunks.at(-1), 'amazon-bedrock-invocationMetrics': { inputTokenCount: reply.inputTokens,
    outputTokenCount: reply.outputTokens, invocationLatency: 120, firstByteLatency: 40 } };
  return chunks;
}
