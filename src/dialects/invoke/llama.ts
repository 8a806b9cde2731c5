// Meta Llama on Bedrock: `{prompt, max_gen_len, temperature, top_p, images}` → `{generation, prompt_token_count,
// generation_token_count, stop_reason}`; a stream's chunks are the same object with each piece of the generation,
// the counts and the stop reason on the last.

import { droppedOf, invalid, numberField, samplingFields, stringField, textStream, type ChatReply, type InvokeFamily, type Json } from './family.js';
import { promptMessages } from './prompt.js';

const KNOWN = ['prompt', 'max_gen_len', 'temperature', 'top_p', 'images'];

/** The image's media type from its first bytes: Llama's `images` are bare base64. */
function imageUrl(base64: string, at: string): string {
  const head = Buffer.from(base64.slice(0, 16), 'base64');
  const type = head[0] === 0x89 && head[1] === 0x50 ? 'image/png' : head[0] === 0xff && head[1] === 0xd8 ? 'image/jpeg'
    : head.subarray(0, 3).toString('latin1') === 'GIF' ? 'image/gif' : head.subarray(8, 12).toString('latin1') === 'WEBP' ? 'image/webp' : null;
  if (!type) throw invalid(`${at} must be a base64 PNG, JPEG, GIF or WebP image`, at);
  return `data:${type};base64,${base64}`;
}

const stopReason = (reply: ChatReply) => (reply.finish === 'length' ? 'length' : 'stop');

export const llama: InvokeFamily = {
  name: 'Meta Llama',
  models: /(^|[./])meta\.llama/,
  owns: (body) => typeof body.prompt === 'string' && body.max_gen_len !== undefined,

  toChat(body, modelId) {
    const messages: Json[] = promptMessages(stringField(body, 'prompt', true)!).map((turn) => ({ ...turn }));
    const chat: Json = { model: modelId, messages };
    samplingFields(body, { max_gen_len: 'max_tokens', temperature: 'temperature', top_p: 'top_p' }, chat, ['max_gen_len']);
    numberField(body, 'max_gen_len', true);
    const images = body.images;
    if (images !== undefined && images !== null) {
      if (!Array.isArray(images) || !images.every((image) => typeof image === 'string')) throw invalid("'images' must be an array of base64 strings", 'images');
      const user = messages.findLast((message) => message.role === 'user')!;
      user.content = [{ type: 'text', text: user.content }, ...images.map((image, i) => ({ type: 'image_url', image_url: { url: imageUrl(image, `images[${i}]`) } }))];
    }
    return { chat, dropped: droppedOf(body, KNOWN) };
  },

  answer: (reply) => ({ generation: reply.text, prompt_token_count: reply.promptTokens, generation_token_count: reply.completionTokens,
    stop_reason: stopReason(reply) }),

  stream: () => {
    let pieces = 0;
    return textStream(
      (text) => ({ generation: text, prompt_token_count: null, generation_token_count: ++pieces, stop_reason: null }),
      (reply) => [{ generation: '', prompt_token_count: reply.promptTokens, generation_token_count: reply.completionTokens, stop_reason: stopReason(reply) }]);
  },
};
