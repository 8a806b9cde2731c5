// Cohere Command R and R+ on Bedrock: `{message, chat_history: [{role: USER|CHATBOT|SYSTEM, message}], preamble,
// max_tokens, temperature, p, k, stop_sequences, …}` → `{response_id, text, generation_id, chat_history,
// finish_reason}`; a stream is `stream-start`, `text-generation` events, then `stream-end` with the whole response.
// Documents (RAG), tools and search-query generation have no chat counterpart another provider would honour.

import { randomUUID } from 'node:crypto';
import { droppedOf, invalid, isObject, samplingFields, stringField, stringsField, untranslatable, type ChatReply, type InvokeFamily, type Json } from './family.js';

const NAME = 'Cohere Command R';
const SAMPLING = { max_tokens: 'max_tokens', temperature: 'temperature', p: 'top_p', k: 'top_k', frequency_penalty: 'frequency_penalty',
  presence_penalty: 'presence_penalty', seed: 'seed' };
const KNOWN = ['message', 'chat_history', 'preamble', 'stop_sequences', ...Object.keys(SAMPLING)];
const ROLES: Readonly<Record<string, string>> = { USER: 'user', CHATBOT: 'assistant', SYSTEM: 'system' };

function history(body: Json): Json[] {
  const turns = body.chat_history ?? [];
  if (!Array.isArray(turns)) throw invalid("'chat_history' must be an array", 'chat_history');
  return turns.map((turn, i) => {
    const at = `chat_history[${i}]`;
    if (!isObject(turn) || typeof turn.role !== 'string' || !Object.hasOwn(ROLES, turn.role)) throw invalid(`${at}.role must be USER, CHATBOT or SYSTEM`, `${at}.role`);
    if (typeof turn.message !== 'string') throw invalid(`${at}.message must be a string`, `${at}.message`);
    return { role: ROLES[turn.role], content: turn.message };
  });
}

const finishReason = (reply: ChatReply) => (reply.finish === 'length' ? 'MAX_TOKENS' : reply.finish === 'content_filter' ? 'ERROR_TOXIC' : 'COMPLETE');

function response(reply: ChatReply, body: Json, generationId: string): Json {
  const before = Array.isArray(body.chat_history) ? body.chat_history : [];
  return {
    response_id: reply.id || randomUUID(),
    text: reply.text,
    generation_id: generationId,
    chat_history: [...before, { role: 'USER', message: body.message }, { role: 'CHATBOT', message: reply.text }],
    finish_reason: finishReason(reply),
    meta: { billed_units: { input_tokens: reply.promptTokens, output_tokens: reply.completionTokens } },
  };
}

export const cohereCommand: InvokeFamily = {
  name: NAME,
  models: /(^|[./])cohere\.command-r/,
  owns: (body) => typeof body.message === 'string',

  toChat(body, modelId) {
    for (const field of ['documents', 'tools', 'tool_results']) {
      if (Array.isArray(body[field]) && (body[field] as unknown[]).length > 0) throw untranslatable(NAME, field, 'it is Cohere\'s own grounding and tool use');
    }
    if (body.search_queries_only === true) throw untranslatable(NAME, 'search_queries_only', 'it asks Cohere for search queries, not an answer');
    const messages: Json[] = [];
    const preamble = stringField(body, 'preamble');
    if (preamble !== undefined) messages.push({ role: 'system', content: preamble });
    messages.push(...history(body), { role: 'user', content: stringField(body, 'message', true) });
    const chat: Json = { model: modelId, messages };
    samplingFields(body, SAMPLING, chat, ['max_tokens', 'k', 'seed']);
    const stop = stringsField(body, 'stop_sequences');
    if (stop && stop.length > 0) chat.stop = stop;
    const empty = (field: string) => body[field] === false || (Array.isArray(body[field]) && (body[field] as unknown[]).length === 0);
    return { chat, dropped: droppedOf(body, KNOWN).filter((field) => !empty(field)) };
  },

  answer: (reply, body) => response(reply, body, randomUUID()),

  stream: (body) => {
    const generationId = randomUUID();
    return {
      start: () => [{ is_finished: false, event_type: 'stream-start', generation_id: generationId }],
      delta: (delta) => (delta.text === null ? [] : [{ is_finished: false, event_type: 'text-generation', text: delta.text }]),
      end: (reply) => [{ is_finished: true, event_type: 'stream-end', response: response(reply, body, generationId), finish_reason: finishReason(reply) }],
    };
  },
};
