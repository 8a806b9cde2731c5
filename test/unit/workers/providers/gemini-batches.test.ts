import { describe, expect, it } from 'vitest';
import { geminiBatchBody, geminiBatchRequest, openAIBatchOfGemini, openAIResultsOfGemini } from '../../../../workers/providers/gemini-batches.js';
import type { FilesRequest } from '../../../../src/contract/messages.js';

const line = (id: string, model: string) => JSON.stringify({ custom_id: id, body: { model, messages: [{ role: 'user', content: `hi ${id}` }] } });

describe('OpenAI batches on Gemini batches', () => {
  it('writes the lines as inline generateContent requests keyed by custom_id, of one model', () => {
    const { model, body } = geminiBatchBody(`${line('a', 'gemini-2.0-flash')}\n${line('b', 'gemini-2.0-flash')}\n`);
    expect(model).toBe('gemini-2.0-flash');
    expect(JSON.parse(body)).toEqual({ batch: { displayName: 'openai-batch', inputConfig: { requests: { requests: [
      { request: expect.objectContaining({ contents: [{ role: 'user', parts: [{ text: 'hi a' }] }] }), metadata: { key: 'a' } },
      { request: expect.objectContaining({ contents: [{ role: 'user', parts: [{ text: 'hi b' }] }] }), metadata: { key: 'b' } }] } } } });
    expect(() => geminiBatchBody(`${line('a', 'm1')}\n${line('b', 'm2')}`)).toThrow(/line 2 names model 'm2'.*one model/);
  });

  it('reads the batch\'s state and stats in OpenAI\'s terms', () => {
    const operation = (state: string) => ({ name: 'batches/abc', metadata: { name: 'batches/abc', state, createTime: '2026-01-01T00:00:00Z',
      endTime: '2026-01-01T01:00:00Z', batchStats: { requestCount: '3', successfulRequestCount: '2', failedRequestCount: '1' } } });
    expect(openAIBatchOfGemini(operation('BATCH_STATE_SUCCEEDED'), 'file-1')).toMatchObject({ id: 'abc', status: 'completed', input_file_id: 'file-1',
      output_file_id: 'file-heimdall-out-abc', request_counts: { total: 3, completed: 2, failed: 1 }, completed_at: 1767229200 });
    expect(openAIBatchOfGemini(operation('BATCH_STATE_PENDING'), undefined)).toMatchObject({ status: 'validating', output_file_id: null });
    expect(openAIBatchOfGemini(operation('BATCH_STATE_FAILED'), undefined)).toMatchObject({ status: 'failed', failed_at: 1767229200 });
  });

  it('writes the inlined responses as OpenAI output lines, failures as errors', () => {
    const out = openAIResultsOfGemini({ metadata: { model: 'models/gemini-2.0-flash' }, response: { inlinedResponses: { inlinedResponses: [
      { metadata: { key: 'a' }, response: { candidates: [{ content: { role: 'model', parts: [{ text: 'yo' }] }, finishReason: 'MAX_TOKENS' }],
        usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 1, totalTokenCount: 5 }, responseId: 'r1' } },
      { metadata: { key: 'b' }, error: { code: 3, message: 'bad', status: 'INVALID_ARGUMENT' } }] } } })
      .trim().split('\n').map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(out[0]).toMatchObject({ custom_id: 'a', error: null, response: { status_code: 200, request_id: 'r1', body: { object: 'chat.completion',
      choices: [{ message: { content: 'yo' }, finish_reason: 'length' }], usage: { prompt_tokens: 4, completion_tokens: 1 } } } });
    expect(out[1]).toMatchObject({ custom_id: 'b', response: null, error: { code: 'INVALID_ARGUMENT', message: 'bad' } });
  });

  it('sends each step to its batches path', () => {
    const request = (translate: FilesRequest['translate'], path: string, query = ''): FilesRequest => ({ method: 'GET', path, query, contentType: null,
      body: null, headers: {}, translate });
    expect(geminiBatchRequest(request('cancel', '/v1/batches/abc/cancel'))).toMatchObject({ method: 'POST', path: '/v1beta/batches/abc:cancel' });
    expect(geminiBatchRequest(request('results', '/v1/batches/abc'))).toMatchObject({ method: 'GET', path: '/v1beta/batches/abc' });
    expect(geminiBatchRequest(request('list', '/v1/batches', 'limit=5&after=x'))).toMatchObject({ path: '/v1beta/batches', query: 'pageSize=5' });
  });
});
