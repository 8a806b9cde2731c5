import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { openai } from '../../../../workers/providers/openai.js';
import { answerFor, callFor, streamEventFor, type StreamState } from '../../../../workers/providers/types.js';

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
