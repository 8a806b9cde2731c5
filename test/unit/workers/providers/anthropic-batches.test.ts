import { describe, expect, it } from 'vitest';
import { messageBatchBody, messageBatchRequest, openAIBatchOf, openAIResultsOf } from '../../../../workers/providers/anthropic-batches.js';
import type { FilesRequest } from '../../../../src/contract/messages.js';

const batch = (status: string, counts: Record<string, number>) => ({ id: 'msgbatch_1', processing_status: status, request_counts: counts,
  created_at: '2026-01-01T00:00:00Z', expires_at: '2026-01-02T00:00:00Z', ended_at: status === 'ended' ? '2026-01-01T01:00:00Z' : null,
  cancel_initiated_at: null });

describe('OpenAI batches on Message Batches', () => {
  it('writes each line as Messages params, with max_tokens and no stream', () => {
    const body = JSON.parse(messageBatchBody(`${JSON.stringify({ custom_id: 'a', body: { model: 'claude-x', stream: true,
      messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }] } })}\n`)) as { requests: { custom_id: string; params: Record<string, unknown> }[] };
    expect(body.requests).toHaveLength(1);
    expect(body.requests[0]).toMatchObject({ custom_id: 'a', params: { model: 'claude-x', system: 's', messages: [{ role: 'user' }] } });
    expect(body.requests[0].params.max_tokens).toEqual(expect.any(Number));
    expect(body.requests[0].params.stream).toBeUndefined();
    expect(() => messageBatchBody(JSON.stringify({ custom_id: 'a', body: { messages: [] } }))).toThrow(/line 1: body.model/);
  });

  it('reads the batch\'s status and counts in OpenAI\'s terms', () => {
    expect(openAIBatchOf(batch('in_progress', { processing: 2 }), 'file-1')).toMatchObject({ status: 'in_progress', output_file_id: null,
      input_file_id: 'file-1', request_counts: { total: 2, completed: 0, failed: 0 }, created_at: 1767225600 });
    expect(openAIBatchOf(batch('ended', { succeeded: 1, errored: 1, canceled: 1 }), undefined)).toMatchObject({ status: 'completed',
      output_file_id: 'file-heimdall-out-msgbatch_1', request_counts: { total: 3, completed: 1, failed: 2 }, completed_at: 1767229200 });
    expect(openAIBatchOf(batch('ended', { canceled: 2 }), undefined)).toMatchObject({ status: 'cancelled', cancelled_at: 1767229200 });
    expect(openAIBatchOf(batch('ended', { expired: 2 }), undefined)).toMatchObject({ status: 'expired' });
    expect(openAIBatchOf(batch('canceling', { processing: 1 }), undefined)).toMatchObject({ status: 'cancelling' });
  });

  it('writes results as OpenAI output lines, failures as errors', () => {
    const lines = [{ custom_id: 'a', result: { type: 'succeeded', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x',
      content: [{ type: 'text', text: 'hi' }], stop_reason: 'max_tokens', usage: { input_tokens: 2, output_tokens: 1 } } } },
    { custom_id: 'b', result: { type: 'expired' } }].map((item) => JSON.stringify(item)).join('\n');
    const out = openAIResultsOf(lines).trim().split('\n').map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(out[0]).toMatchObject({ custom_id: 'a', error: null, response: { status_code: 200, request_id: 'msg_1', body: { object: 'chat.completion',
      choices: [{ message: { content: 'hi' }, finish_reason: 'length' }], usage: { prompt_tokens: 2, completion_tokens: 1 } } } });
    expect(out[1]).toMatchObject({ custom_id: 'b', response: null, error: { code: 'batch_expired' } });
  });

  it('sends each step to its Message Batches path', () => {
    const request = (translate: FilesRequest['translate'], path: string): FilesRequest => ({ method: 'GET', path, query: 'limit=2', contentType: null,
      body: null, headers: {}, translate });
    expect(messageBatchRequest(request('cancel', '/v1/batches/msgbatch_1/cancel'))).toMatchObject({ method: 'POST', path: '/v1/messages/batches/msgbatch_1/cancel' });
    expect(messageBatchRequest(request('results', '/v1/batches/msgbatch_1'))).toMatchObject({ path: '/v1/messages/batches/msgbatch_1/results' });
    expect(messageBatchRequest(request('list', '/v1/batches'))).toMatchObject({ path: '/v1/messages/batches', query: 'limit=2' });
    expect(messageBatchRequest({ ...request('list', '/v1/batches'), query: 'after=msgbatch_0&limit=5' }).query).toBe('limit=5&after_id=msgbatch_0');
  });
});
