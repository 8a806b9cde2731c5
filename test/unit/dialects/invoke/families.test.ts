import { describe, expect, it } from 'vitest';
import { deltaOf, emptyReply, replyOf, Untranslatable } from '../../../../src/dialects/invoke/family.js';
import { familyOf } from '../../../../src/dialects/invoke/index.js';
import { cohereCommand } from '../../../../src/dialects/invoke/cohere-command.js';
import { llama } from '../../../../src/dialects/invoke/llama.js';
import { nova } from '../../../../src/dialects/invoke/nova.js';
import { titanText } from '../../../../src/dialects/invoke/titan-text.js';
import { mistral } from '../../../../src/dialects/invoke/mistral.js';

const completion = (message: Record<string, unknown>, finish = 'stop') => JSON.stringify({ id: 'c1', choices: [{ index: 0, message, finish_reason: finish }],
  usage: { prompt_tokens: 7, completion_tokens: 3 } });
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'c1', choices: [{ index: 0, delta, finish_reason: finish }] });

describe('familyOf', () => {
  it('knows the family by the model id first, then by the body', () => {
    expect(familyOf('us.meta.llama3-2-11b-instruct-v1:0', { prompt: 'x' })).toBe(llama);
    expect(familyOf('arn:aws:bedrock:us-east-1::foundation-model/mistral.mistral-large-2402-v1:0', { prompt: 'x' })).toBe(mistral);
    expect(familyOf('us.anthropic.claude-3-5-haiku-20241022-v1:0', { messages: [] })).toBe('anthropic');
    expect(familyOf('amazon.nova-canvas-v1:0', { messages: [] })).toBe('anthropic');
    expect(familyOf('mock/echo', { prompt: 'x', max_gen_len: 5 })).toBe(llama);
    expect(familyOf('mock/echo', { inputText: 'x', textGenerationConfig: {} })).toBe(titanText);
    expect(familyOf('mock/echo', { inputText: 'x' })).toBe('titan-embeddings');
    expect(familyOf('mock/echo', { message: 'x' })).toBe(cohereCommand);
    expect(familyOf('mock/echo', { prompt: 'x' })).toBeNull();
    expect(familyOf('cohere.embed-english-v3', { texts: ['x'] })).toBe('cohere-embeddings');
    expect(familyOf('mock/embed', { texts: ['x'] })).toBe('cohere-embeddings');
  });
});

describe('translations', () => {
  it('checks what it reads and reports what chat has no place for', () => {
    expect(() => llama.toChat({ prompt: 'x', max_gen_len: 1.5 }, 'm')).toThrow(/'max_gen_len' must be an integer/);
    expect(() => titanText.toChat({ inputText: 'x', textGenerationConfig: 3 }, 'm')).toThrow(/must be an object/);
    expect(titanText.toChat({ inputText: 'x', textGenerationConfig: { maxTokenCount: 9, topK: 3 }, extra: 1 }, 'm')).toEqual({
      chat: { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 9 }, dropped: ['extra', 'textGenerationConfig.topK'] });
  });

  it('puts Llama\'s images on the last user turn by their media type', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]).toString('base64');
    const { chat } = llama.toChat({ prompt: 'what is this?', images: [png] }, 'm');
    expect(chat.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }]);
    expect(() => llama.toChat({ prompt: 'x', images: ['aGVsbG8gd29ybGQ='] }, 'm')).toThrow(/images\[0\] must be a base64 PNG/);
  });

  it('refuses Cohere\'s grounding as untranslatable, so only Bedrock gets it', () => {
    expect(() => cohereCommand.toChat({ message: 'x', tools: [{ name: 't' }] }, 'm')).toThrow(Untranslatable);
    expect(cohereCommand.toChat({ message: 'x', tools: [], search_queries_only: false }, 'm').dropped).toEqual([]);
  });

  it('reads Nova\'s inferenceConfig names and its Converse-shaped messages', () => {
    const { chat, dropped } = nova.toChat({ schemaVersion: 'messages-v1', system: [{ text: 's' }], messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      inferenceConfig: { max_new_tokens: 10, top_p: 0.5, top_k: 4, reasoningConfig: {} } }, 'm');
    expect(chat).toMatchObject({ model: 'm', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }], max_tokens: 10, top_p: 0.5, top_k: 4 });
    expect(dropped).toEqual(['inferenceConfig.reasoningConfig']);
    expect(() => nova.toChat({ schemaVersion: 'v2', messages: [] }, 'm')).toThrow(/messages-v1/);
  });
});

describe('answers', () => {
  it('writes tool calls and stop reasons in the family\'s terms', () => {
    const reply = replyOf(completion({ role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, 'tool_calls'));
    expect(nova.answer(reply, {})).toEqual({ output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'f', input: { a: 1 } } }] } },
      stopReason: 'tool_use', usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10 } });
    expect(llama.answer(replyOf(completion({ content: 'x' }, 'length')), {})).toMatchObject({ stop_reason: 'length', generation_token_count: 3 });
    expect(titanText.answer(replyOf(completion({ content: 'x' }, 'content_filter')), {})).toMatchObject({ results: [{ completionReason: 'CONTENT_FILTERED' }] });
  });

  it('streams Nova\'s tool calls as content blocks of their own', () => {
    const stream = nova.stream({});
    const reply = emptyReply();
    const events = [...stream.start(reply)];
    for (const piece of [chunk({ content: 'let me' }), chunk({ tool_calls: [{ index: 0, id: 't1', function: { name: 'f', arguments: '{"a"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }), chunk({}, 'tool_calls')]) {
      const delta = deltaOf(piece, reply);
      if (delta) events.push(...stream.delta(delta, reply));
    }
    events.push(...stream.end(reply));
    expect(events).toEqual([{ messageStart: { role: 'assistant' } }, { contentBlockDelta: { delta: { text: 'let me' }, contentBlockIndex: 0 } },
      { contentBlockStop: { contentBlockIndex: 0 } }, { contentBlockStart: { start: { toolUse: { toolUseId: 't1', name: 'f' } }, contentBlockIndex: 1 } },
      { contentBlockDelta: { delta: { toolUse: { input: '{"a"' } }, contentBlockIndex: 1 } }, { contentBlockDelta: { delta: { toolUse: { input: ':1}' } }, contentBlockIndex: 1 } },
      { contentBlockStop: { contentBlockIndex: 1 } }, { messageStop: { stopReason: 'tool_use' } },
      { metadata: { usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 }, metrics: {}, trace: {} } }]);
    expect(reply.toolCalls).toEqual([{ id: 't1', name: 'f', arguments: '{"a":1}' }]);
  });
});
