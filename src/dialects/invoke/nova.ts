// Amazon Nova (Micro, Lite, Pro, Premier, Nova 2) on Bedrock, the `messages-v1` schema: Converse's messages, system
// and toolConfig, with `inferenceConfig` as Nova names it (`max_new_tokens` or `maxTokens`, `top_p`, `top_k`, …) →
// `{output: {message}, stopReason, usage}`; a stream is messageStart, contentBlock events, messageStop, metadata.
// The body reads as a Converse request does (bedrock.ts), so both routes refuse and take the same things.

import { toChatRequest } from '../bedrock.js';
import { droppedOf, invalid, isObject, numberField, stringsField, type ChatReply, type FamilyStream, type InvokeFamily, type Json } from './family.js';

const CONFIG_NAMES: Readonly<Record<string, string>> = { max_new_tokens: 'maxTokens', maxTokens: 'maxTokens', temperature: 'temperature',
  top_p: 'topP', topP: 'topP' };

function inferenceConfig(config: unknown, chat: Json): { converse: Json; dropped: string[] } {
  if (config === undefined || config === null) return { converse: {}, dropped: [] };
  if (!isObject(config)) throw invalid("'inferenceConfig' must be an object", 'inferenceConfig');
  const converse: Json = {};
  for (const [own, name] of Object.entries(CONFIG_NAMES)) {
    const value = numberField(config, own, name === 'maxTokens', `inferenceConfig.${own}`);
    if (value !== undefined) converse[name] = value;
  }
  const stops = stringsField(config, 'stopSequences', 'inferenceConfig.stopSequences');
  if (stops) converse.stopSequences = stops;
  const topK = numberField(config, 'top_k', true, 'inferenceConfig.top_k') ?? numberField(config, 'topK', true, 'inferenceConfig.topK');
  if (topK !== undefined) chat.top_k = topK;
  const known = [...Object.keys(CONFIG_NAMES), 'stopSequences', 'top_k', 'topK'];
  return { converse, dropped: droppedOf(config, known).map((name) => `inferenceConfig.${name}`) };
}

const stopReason = (reply: ChatReply) => ({ length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'content_filtered' })[reply.finish ?? '']
  ?? 'end_turn';

const usageOf = (reply: ChatReply) => ({ inputTokens: reply.promptTokens, outputTokens: reply.completionTokens,
  totalTokens: reply.promptTokens + reply.completionTokens });

function toolInput(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    return {};
  }
}

function novaStream(): FamilyStream {
  // Open blocks by the chat answer's part: the text, and each tool call by its index.
  let next = 0;
  let textBlock: number | null = null;
  const toolBlocks = new Map<number, number>();
  const closeText = (): Json[] => {
    if (textBlock === null) return [];
    const stop = { contentBlockStop: { contentBlockIndex: textBlock } };
    textBlock = null;
    return [stop];
  };
  return {
    start: () => [{ messageStart: { role: 'assistant' } }],
    delta(delta) {
      const events: Json[] = [];
      if (delta.text !== null) {
        textBlock ??= next++;
        events.push({ contentBlockDelta: { delta: { text: delta.text }, contentBlockIndex: textBlock } });
      }
      for (const call of delta.toolCalls) {
        let block = toolBlocks.get(call.index);
        if (block === undefined) {
          events.push(...closeText());
          block = next++;
          toolBlocks.set(call.index, block);
          events.push({ contentBlockStart: { start: { toolUse: { toolUseId: call.id ?? '', name: call.name ?? '' } }, contentBlockIndex: block } });
        }
        if (call.arguments !== '') events.push({ contentBlockDelta: { delta: { toolUse: { input: call.arguments } }, contentBlockIndex: block } });
      }
      return events;
    },
    end: (reply) => [...closeText(), ...[...toolBlocks.values()].map((block) => ({ contentBlockStop: { contentBlockIndex: block } })),
      { messageStop: { stopReason: stopReason(reply) } }, { metadata: { usage: usageOf(reply), metrics: {}, trace: {} } }],
  };
}

export const nova: InvokeFamily = {
  name: 'Amazon Nova',
  models: /(^|[./])amazon\.nova-(?!canvas|reel|sonic)/,
  owns: (body) => body.schemaVersion === 'messages-v1' || (Array.isArray(body.messages) && isObject(body.inferenceConfig)),

  toChat(body, modelId) {
    const { schemaVersion, inferenceConfig: config, ...converse } = body;
    if (schemaVersion !== undefined && schemaVersion !== 'messages-v1') throw invalid("'schemaVersion' must be 'messages-v1'", 'schemaVersion');
    const chat: Json = {};
    const settings = inferenceConfig(config, chat);
    return { chat: { ...toChatRequest({ ...converse, inferenceConfig: settings.converse }, modelId), ...chat }, dropped: settings.dropped };
  },

  answer: (reply) => ({
    output: { message: { role: 'assistant', content: [...(reply.text === '' ? [] : [{ text: reply.text }]),
      ...reply.toolCalls.map((call) => ({ toolUse: { toolUseId: call.id, name: call.name, input: toolInput(call.arguments) } }))] } },
    stopReason: stopReason(reply),
    usage: usageOf(reply),
  }),

  stream: novaStream,
};
