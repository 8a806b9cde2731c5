import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { openai } from '../../../../workers/providers/openai.js';
import { answerFor, callFor, mediaAnswer, streamEventFor, type StreamState } from '../../../../workers/providers/types.js';
import { usageFromOpenAI } from '../../../../workers/providers/openai-compatible.js';

const job = (kind: JobData['kind'], body: Record<string, unknown>): JobData =>
  ({ modelLabel: 0, kind, requestId: 'r', model: 'gpt-4o-mini', keyIndex: 0, stream: body.stream === true, includeUsage: false, body });

const state = (): StreamState => ({ includeUsage: false, model: 'gpt-4o-mini', usage: null, scratch: {} });

describe('responses jobs', () => {
  it('send the client\'s Responses request to /v1/responses with the bare model, nothing dropped', () => {
    const body = { model: 'openai/gpt-4o-mini', input: 'hi', tools: [{ type: 'web_search' }], previous_response_id: 'resp_1', top_k: 3 };
    const call = callFor(openai, job('responses', body), { baseUrl: 'http://up', key: { value: 'k', configs: {} } });
    expect(call.url).toBe('http://up/v1/responses');
    expect(JSON.parse(call.body)).toEqual({ ...body, model: 'gpt-4o-mini' });
    expect(call.droppedParams).toEqual([]);
  });

  it('answer the provider\'s body as it is, with its input/output usage', () => {
    const text = '{"id":"resp_1","object":"response","output":[],"usage":{"input_tokens":3,"output_tokens":5,"total_tokens":8}}';
    expect(answerFor(openai, text, job('responses', {}))).toEqual({ body: text, usage: { promptTokens: 3, completionTokens: 5, totalTokens: 8 } });
    expect(() => answerFor(openai, '[]', job('responses', {}))).toThrow(SyntaxError);
  });

  it('stream each event as its SSE block, ending at response.completed with its usage', () => {
    const onEvent = streamEventFor(openai, job('responses', { stream: true }));
    const scratch = state();
    const delta = '{"type":"response.output_text.delta","sequence_number":3,"delta":"Hi"}';
    expect(onEvent({ event: 'response.output_text.delta', data: delta }, scratch))
      .toEqual({ chunks: [`event: response.output_text.delta\ndata: ${delta}\n\n`], done: false });
    // An event without its `event:` line is known by its `type`.
    const completed = '{"type":"response.completed","response":{"usage":{"input_tokens":2,"output_tokens":1}}}';
    expect(onEvent({ event: null, data: completed }, scratch)).toEqual({ chunks: [`data: ${completed}\n\n`], done: true });
    expect(scratch.usage).toEqual({ promptTokens: 2, completionTokens: 1, totalTokens: 3 });
  });

  it('leave chat jobs\' streams to the adapter', () => {
    const onEvent = streamEventFor(openai, job('chat', { stream: true }));
    expect(onEvent({ event: null, data: '[DONE]' }, state())).toEqual({ chunks: [], done: true });
    expect(onEvent({ event: null, data: '{"choices":[{"delta":{"content":"x"}}]}' }, state()).chunks).toEqual(['{"choices":[{"delta":{"content":"x"}}]}']);
  });
});

describe('usage details, for pricing', () => {
  it('Responses: cached input and reasoning output from their details', () => {
    const text = JSON.stringify({ id: 'r', output: [], usage: { input_tokens: 100, output_tokens: 50,
      input_tokens_details: { cached_tokens: 60 }, output_tokens_details: { reasoning_tokens: 40 } } });
    expect(answerFor(openai, text, job('responses', {})).usage)
      .toEqual({ promptTokens: 100, completionTokens: 50, totalTokens: 150, cachedTokens: 60, reasoningTokens: 40 });
  });

  it('media: the images an answer holds, a transcription\'s seconds, and tokens where the model reports them', () => {
    const answer = (body: unknown) => mediaAnswer(Buffer.from(JSON.stringify(body)), 'application/json').usage;
    expect(answer({ created: 1, data: [{ url: 'a' }, { url: 'b' }] })).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0, images: 2 });
    expect(answer({ data: [{ b64_json: 'x' }], usage: { input_tokens: 10, output_tokens: 4160 } }))
      .toEqual({ promptTokens: 10, completionTokens: 4160, totalTokens: 4170, images: 1 });
    expect(answer({ text: 'hi', usage: { type: 'duration', seconds: 7 } })).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0, audioSeconds: 7 });
    expect(answer({ text: 'hi', duration: 3.5, segments: [] })).toMatchObject({ audioSeconds: 3.5 });
    expect(answer({ text: 'hi' })).toBeNull();
    expect(mediaAnswer(Buffer.from('hi'), 'text/plain').usage).toBeNull();
  });

  it('OpenAI-compatible chat: cached and reasoning tokens, and DeepSeek\'s cache hits', () => {
    expect(usageFromOpenAI({ prompt_tokens: 10, completion_tokens: 20, total_tokens: 30, prompt_tokens_details: { cached_tokens: 6 },
      completion_tokens_details: { reasoning_tokens: 15 } })).toEqual({ promptTokens: 10, completionTokens: 20, totalTokens: 30,
      cachedTokens: 6, reasoningTokens: 15 });
    expect(usageFromOpenAI({ prompt_tokens: 10, completion_tokens: 1, prompt_cache_hit_tokens: 8 })).toMatchObject({ cachedTokens: 8 });
    // Absent details stay absent: not reported is not zero.
    expect(usageFromOpenAI({ prompt_tokens: 1, completion_tokens: 1 })).toEqual({ promptTokens: 1, completionTokens: 1, totalTokens: 2 });
  });
});
