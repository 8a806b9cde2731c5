// Amazon Titan Text on Bedrock: `{inputText, textGenerationConfig: {maxTokenCount, temperature, topP, stopSequences}}`
// → `{inputTextTokenCount, results: [{tokenCount, outputText, completionReason}]}`; a stream's chunks are `{outputText,
// index, totalOutputTextTokenCount, completionReason, inputTextTokenCount}`, the counts and reason on the last.

import { droppedOf, invalid, isObject, samplingFields, stringField, stringsField, textStream, type ChatReply, type InvokeFamily, type Json } from './family.js';

const CONFIG = ['maxTokenCount', 'temperature', 'topP', 'stopSequences'];

const completionReason = (reply: ChatReply) => (reply.finish === 'length' ? 'LENGTH' : reply.finish === 'content_filter' ? 'CONTENT_FILTERED' : 'FINISH');

export const titanText: InvokeFamily = {
  name: 'Amazon Titan Text',
  models: /(^|[./])amazon\.titan-(text|tg1)/,
  owns: (body) => typeof body.inputText === 'string' && body.textGenerationConfig !== undefined,

  toChat(body, modelId) {
    const chat: Json = { model: modelId, messages: [{ role: 'user', content: stringField(body, 'inputText', true) }] };
    const dropped = droppedOf(body, ['inputText', 'textGenerationConfig']);
    const config = body.textGenerationConfig ?? {};
    if (!isObject(config)) throw invalid("'textGenerationConfig' must be an object", 'textGenerationConfig');
    samplingFields(config, { maxTokenCount: 'max_tokens', temperature: 'temperature', topP: 'top_p' }, chat, ['maxTokenCount']);
    const stop = stringsField(config, 'stopSequences', 'textGenerationConfig.stopSequences');
    if (stop && stop.length > 0) chat.stop = stop;
    dropped.push(...droppedOf(config, CONFIG).map((name) => `textGenerationConfig.${name}`));
    return { chat, dropped };
  },

  answer: (reply) => ({ inputTextTokenCount: reply.promptTokens,
    results: [{ tokenCount: reply.completionTokens, outputText: reply.text, completionReason: completionReason(reply) }] }),

  stream: () => textStream((text) => ({ outputText: text, index: 0, totalOutputTextTokenCount: null, completionReason: null, inputTextTokenCount: null }),
    (reply) => [{ outputText: '', index: 0, totalOutputTextTokenCount: reply.completionTokens, completionReason: completionReason(reply),
      inputTextTokenCount: reply.promptTokens }]),
};
