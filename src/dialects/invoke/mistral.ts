// Mistral's text models on Bedrock: `{prompt, max_tokens, stop, temperature, top_p, top_k}` → `{outputs: [{text,
// stop_reason}]}`; a stream's chunks are `{outputs: [{text, stop_reason: null}]}`, the stop reason on the last.

import { droppedOf, samplingFields, stringField, stringsField, textStream, type ChatReply, type InvokeFamily } from './family.js';
import { promptMessages } from './prompt.js';

const KNOWN = ['prompt', 'max_tokens', 'stop', 'temperature', 'top_p', 'top_k'];

const stopReason = (reply: ChatReply) => (reply.finish === 'length' ? 'length' : 'stop');

export const mistral: InvokeFamily = {
  name: 'Mistral',
  models: /(^|[./])mistral\./,
  owns: (body) => typeof body.prompt === 'string' && body.top_k !== undefined,

  toChat(body, modelId) {
    const chat = { model: modelId, messages: promptMessages(stringField(body, 'prompt', true)!) } as Record<string, unknown>;
    samplingFields(body, { max_tokens: 'max_tokens', temperature: 'temperature', top_p: 'top_p', top_k: 'top_k' }, chat, ['max_tokens', 'top_k']);
    const stop = stringsField(body, 'stop');
    if (stop && stop.length > 0) chat.stop = stop;
    return { chat, dropped: droppedOf(body, KNOWN) };
  },

  answer: (reply) => ({ outputs: [{ text: reply.text, stop_reason: stopReason(reply) }] }),

  stream: () => textStream((text) => ({ outputs: [{ text, stop_reason: null }] }),
    (reply) => [{ outputs: [{ text: '', stop_reason: stopReason(reply) }] }]),
};
