// The families Bedrock serves in OpenAI's chat format (AI21 Jamba, OpenAI's gpt-oss): the body is a chat request,
// the answer a chat.completion and the stream's chunks chat.completion.chunks, so the translation is the identity.

import { droppedOf, invalid, type ChatReply, type InvokeFamily, type Json } from './family.js';

const CHAT_FIELDS = ['messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'n', 'frequency_penalty',
  'presence_penalty', 'seed', 'tools', 'tool_choice', 'response_format', 'reasoning_effort', 'documents', 'stream_options'];

const finishOf = (reply: ChatReply) => reply.finish ?? 'stop';

export const openaiFormat: InvokeFamily = {
  name: 'AI21 Jamba / OpenAI gpt-oss',
  models: /(^|[./])(ai21\.jamba|openai\.gpt-oss)/,
  // Without the model id, a `messages` body is read as Anthropic's, the family most clients send.
  owns: () => false,

  toChat(body, modelId) {
    if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalid("'messages' must be a non-empty array", 'messages');
    const chat: Json = { model: modelId };
    for (const field of CHAT_FIELDS) if (body[field] !== undefined && field !== 'documents' && field !== 'stream_options') chat[field] = body[field];
    return { chat, dropped: droppedOf(body, CHAT_FIELDS.filter((field) => field !== 'documents')) };
  },

  answer: (reply) => ({
    id: reply.id,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: reply.toolCalls.length > 0 && reply.text === '' ? null : reply.text,
      ...(reply.toolCalls.length > 0 ? { tool_calls: reply.toolCalls.map((call) => ({ id: call.id, type: 'function',
        function: { name: call.name, arguments: call.arguments } })) } : {}) }, finish_reason: finishOf(reply) }],
    usage: { prompt_tokens: reply.promptTokens, completion_tokens: reply.completionTokens, total_tokens: reply.promptTokens + reply.completionTokens },
  }),

  stream: () => ({
    start: (reply) => [{ id: reply.id, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }],
    delta: (delta, reply) => [{ id: reply.id, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {
      ...(delta.text === null ? {} : { content: delta.text }),
      ...(delta.toolCalls.length > 0 ? { tool_calls: delta.toolCalls.map((call) => ({ index: call.index, ...(call.id ? { id: call.id, type: 'function' } : {}),
        function: { ...(call.name ? { name: call.name } : {}), arguments: call.arguments } })) } : {}) }, finish_reason: null }] }],
    end: (reply) => [{ id: reply.id, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: finishOf(reply) }],
      usage: { prompt_tokens: reply.promptTokens, completion_tokens: reply.completionTokens, total_tokens: reply.promptTokens + reply.completionTokens } }],
  }),
};
