// DeepSeek-R1 on Bedrock: `{prompt, max_tokens, temperature, top_p, stop}` → `{choices: [{text, stop_reason}]}`; a
// stream's chunks are `{choices: [{text, stop_reason: null}]}`, the stop reason on the last.

import { droppedOf, samplingFields, stringField, stringsField, textStream, type ChatReply, type InvokeFamily } from './family.js';
import { promptMessages } from './prompt.js';

const KNOWN = ['prompt', 'max_tokens', 'temperature', 'top_p', 'stop'];

const stopReason = (reply: ChatReply) => (reply.finish === 'length' ? 'length' : 'stop');

export const deepseek: InvokeFamily = {
  name: 'DeepSeek',
  models: /(^|[./])deepseek\./,
  // Its body is Mistral's less top_k: only the model id tells them apart.
  owns: () => false,

  toChat(body, modelId) {
    const chat = { model: modelId, messages: promptMessages(stringField(body, 'prompt', true)!) } as Record<string, unknown>;
    samplingFields(body, { max_tokens: 'max_tokens', temperature: 'temperature', top_p: 'top_p' }, chat, ['max_tokens']);
    const stop = stringsField(body, 'stop');
    if (stop && stop.length > 0) chat.stop = stop;
    return { chat, dropped: droppedOf(body, KNOWN) };
  },

  answer: (reply) => ({ choices: [{ text: reply.text, stop_reason: stopReason(reply) }] }),

  stream: () => textStream((text) => ({ choices: [{ text, stop_reason: null }] }),
    (reply) => [{ choices: [{ text: '', stop_reason: stopReason(reply) }] }]),
};
