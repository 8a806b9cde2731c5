import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, MSG_CANCEL, MSG_CHUNKS, MSG_ERROR, MSG_JOB, MSG_RESULT, MSG_STREAM_END, type FrontToWorker,
  type WorkerToFront }
  from '../../../src/contract/messages.js';

describe('message codec', () => {
  it('round-trips a job with a nested, unicode body', () => {
    const job: FrontToWorker = [MSG_JOB, 42, {
      kind: 'chat', requestId: 'req-1', model: 'gpt-4o-mini', keyIndex: 1, stream: true, includeUsage: false, modelLabel: 3,
      body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'héllo 👋 — 你好' }], temperature: 0.2, n: null },
    }, 29_750.5];
    expect(decodeMessage(Uint8Array.from(encodeMessage(job)))).toEqual(job);
    const withTools: FrontToWorker = [MSG_JOB, 43, { ...job[2], tools: '[{"type":"function","function":{"name":"a_b"}}]' }, 1];
    expect(decodeMessage(Uint8Array.from(encodeMessage(withTools)))).toStrictEqual(withTools);
    // A traced job: '' asks only for the worker's times, a traceparent also goes upstream.
    for (const trace of ['', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']) {
      const traced: FrontToWorker = [MSG_JOB, 44, { ...job[2], trace }, 1];
      expect(decodeMessage(Uint8Array.from(encodeMessage(traced)))).toStrictEqual(traced);
    }
  });

  it("round-trips a traced job's times on its result, stream end and error", () => {
    const times: [number, number, number, number] = [1_765_000_000_123.25, 1_765_000_000_124.5, 1_765_000_000_300.125, 200];
    const messages: WorkerToFront[] = [
      [MSG_RESULT, 1, 200, '{}', { upstreamMs: 1, usage: null, droppedParams: null, times }],
      [MSG_STREAM_END, 2, { upstreamMs: 1, usage: null, droppedParams: null, firstTokenMs: 3.5, times }],
      [MSG_ERROR, 3, { code: 'UPSTREAM_ERROR', message: 'boom' }, [times[0], 0, 0, 0]],
    ];
    for (const message of messages) expect(decodeMessage(Uint8Array.from(encodeMessage(message)))).toStrictEqual(message);
  });

  it('round-trips results, chunks and errors as plain data', () => {
    const messages: WorkerToFront[] = [
      [MSG_RESULT, 7, 200, '{"id":"x"}', { upstreamMs: 12.5, usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7 }, droppedParams: null }],
      [MSG_RESULT, 8, 200, Uint8Array.of(0, 255, 7), { upstreamMs: 3, usage: null, droppedParams: ['voice'], contentType: 'audio/mpeg' }],
      [MSG_RESULT, 9, 200, Uint8Array.of(), { upstreamMs: 2, usage: null, droppedParams: null, contentType: 'application/xml',
        headers: { etag: '"abc"' } }],
      [MSG_STREAM_END, 9, { upstreamMs: 40.25, usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 }, droppedParams: null,
        firstTokenMs: 12.75 }],
      [MSG_STREAM_END, 10, { upstreamMs: 1, usage: null, droppedParams: ['seed'], firstTokenMs: null }],
      // The last chunks of a stream, carried by its end.
      [MSG_STREAM_END, 13, { upstreamMs: 1, usage: null, droppedParams: ['seed'], firstTokenMs: 0.5, chunks: ['{"a":1}', '{"b":2}'] }],
      // Every usage detail, and one alone past absent ones.
      [MSG_RESULT, 11, 200, '{}', { upstreamMs: 1, usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15, cachedTokens: 4,
        cacheWriteTokens: 3, reasoningTokens: 2, images: 1, audioSeconds: 61.5 }, droppedParams: null }],
      [MSG_STREAM_END, 12, { upstreamMs: 1, usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15, reasoningTokens: 2 },
        droppedParams: null, firstTokenMs: 1 }],
      [MSG_CHUNKS, 7, ['{"a":1}', '{"b":2}'], ['logit_bias']],
      [MSG_ERROR, 7, { code: 'UPSTREAM_RATE_LIMITED', message: 'slow down', upstreamStatus: 429, retryAfter: 3 }],
      // A stream that broke after reporting usage, untraced and traced.
      [MSG_ERROR, 8, { code: 'STREAM_INTERRUPTED', message: 'gone' }, null, { promptTokens: 1000, completionTokens: 1, totalTokens: 1001 }],
      [MSG_ERROR, 9, { code: 'STREAM_INTERRUPTED', message: 'gone' }, [1, 2, 3, 200], { promptTokens: 5, completionTokens: 0, totalTokens: 5,
        cachedTokens: 2 }],
    ];
    for (const message of messages) expect(decodeMessage(Uint8Array.from(encodeMessage(message)))).toStrictEqual(message);
  });

  it('round-trips a files job whose body is bytes', () => {
    const job: FrontToWorker = [MSG_JOB, 3, { kind: 'files', requestId: 'r', model: '', keyIndex: 0, stream: false, modelLabel: 0,
      includeUsage: false, body: { method: 'PUT', path: '/b/k.jsonl', query: '', contentType: 'application/jsonl',
        body: Uint8Array.of(123, 125, 10), headers: { 'anthropic-beta': 'files-api-2025-04-14' } } }, 1000];
    expect(decodeMessage(Uint8Array.from(encodeMessage(job)))).toStrictEqual(job);
  });

  it('sends the gateway\'s own objects as positional arrays: no key of theirs is on the wire', () => {
    const job: FrontToWorker = [MSG_JOB, 1, { kind: 'chat', requestId: 'r', model: 'm', keyIndex: 0, stream: false, modelLabel: 1,
      includeUsage: false, body: { messages: [] } }, 1000];
    const result: WorkerToFront = [MSG_RESULT, 1, 200, '{}', { upstreamMs: 1, usage: { promptTokens: 1, completionTokens: 1,
      totalTokens: 2 }, droppedParams: null }];
    const text = (message: FrontToWorker | WorkerToFront) => Buffer.from(encodeMessage(message)).toString('latin1');
    for (const key of ['requestId', 'keyIndex', 'includeUsage', 'kind', 'modelLabel']) expect(text(job)).not.toContain(key);
    expect(text(job)).toContain('messages');
    for (const key of ['upstreamMs', 'promptTokens', 'droppedParams']) expect(text(result)).not.toContain(key);
    const cancel: FrontToWorker = [MSG_CANCEL, 5];
    expect(decodeMessage(Uint8Array.from(encodeMessage(cancel)))).toStrictEqual(cancel);
  });

  it('copies bytes out as it decodes, so a ring reader may reuse the buffer a message came in', () => {
    const wire = Uint8Array.from(encodeMessage([MSG_RESULT, 8, 200, Uint8Array.of(1, 2, 3), { upstreamMs: 3, usage: null,
      droppedParams: null, contentType: 'audio/mpeg' }]));
    const decoded = decodeMessage<WorkerToFront>(wire);
    wire.fill(0);
    expect(decoded[0] === MSG_RESULT && decoded[3]).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('encodes into a reused arena, so a result is only valid until the next encode', () => {
    const first = encodeMessage([MSG_CHUNKS, 1, ['first'], null]);
    const copy = Uint8Array.from(first);
    encodeMessage([MSG_CHUNKS, 2, ['second message'], null]);
    expect(decodeMessage(copy)).toEqual([MSG_CHUNKS, 1, ['first'], null]);
  });
});
