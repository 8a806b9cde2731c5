import { describe, expect, it } from 'vitest';
import { decodeLogBatch, LogBatchEncoder } from '../../../src/stores/log-wire.js';
import type { RequestLogRecord } from '../../../src/stores/log-record.js';
import { logRecord } from '../../integration/stores/records.js';

describe('the request log batch encoding', () => {
  it('brings every field of every record across, nulls, flags and numbers included', () => {
    const records: RequestLogRecord[] = [
      logRecord(),
      logRecord({ provider: null, modelRequested: null, model: null, keyName: null, virtualKeyId: 'vk-1', status: 499,
        errorCode: 'client_closed', attempts: 3, fallbacks: 2, latencyMs: 0.125, ttftMs: 12.75, upstreamMs: null,
        overheadMs: null, tokensIn: null, tokensOut: 0, tokensCached: null, tokensReasoning: 7, costUsd: null, cache: 'semantic-hit',
        stream: true, cancelled: true, request: null, response: null }),
      logRecord({ costUsd: 1e-12, timestamp: 2 ** 52, request: '', response: '' }),
    ];
    const encoder = new LogBatchEncoder();
    for (const r of records) encoder.add(r);
    expect(encoder.count).toBe(3);
    const { bytes, count } = encoder.take();
    expect(count).toBe(3);
    expect(encoder.count).toBe(0);
    expect(decodeLogBatch(bytes)).toEqual(records);
  });

  it('keeps text that is not ASCII, short or long, and makes a lone surrogate U+FFFD as UTF-8 does', () => {
    const long = `${'naïve café 東京 🚀 '.repeat(500)}end`;
    const records = [logRecord({ model: 'modèle-ü', keyName: '🔑', request: long, response: 'x\ud800y', route: '/v1/ä' })];
    const encoder = new LogBatchEncoder();
    encoder.add(records[0]);
    const [back] = decodeLogBatch(encoder.take().bytes);
    expect(back).toEqual({ ...records[0], response: 'x\ufffdy' });
  });

  it('grows past its first buffer and starts each batch afresh, the taken bytes untouched by the next', () => {
    const encoder = new LogBatchEncoder();
    const first = Array.from({ length: 300 }, (_, i) => logRecord({ request: `${i} ${'p'.repeat(2000)}` }));
    for (const r of first) encoder.add(r);
    const taken = encoder.take();
    expect(taken.bytes.byteLength).toBeGreaterThan(64 * 1024);
    const second = [logRecord({ request: 'next batch' })];
    encoder.add(second[0]);
    const next = encoder.take();
    expect(decodeLogBatch(taken.bytes)).toEqual(first);
    expect(decodeLogBatch(next.bytes)).toEqual(second);
    expect(next.bytes.buffer).not.toBe(taken.bytes.buffer);
  });
});

describe('a record from code outside TypeScript', () => {
  it('stores a field left undefined as null, and refuses a field of the wrong type without spoiling the batch', () => {
    const encoder = new LogBatchEncoder();
    const kept = logRecord();
    encoder.add(kept);
    expect(() => encoder.add({ ...logRecord(), model: 42 } as unknown as RequestLogRecord)).toThrow(TypeError);
    const loose = { ...logRecord(), cache: undefined, costUsd: undefined } as unknown as RequestLogRecord;
    encoder.add(loose);
    expect(encoder.count).toBe(2);
    expect(decodeLogBatch(encoder.take().bytes)).toEqual([kept, { ...loose, cache: null, costUsd: null }]);
  });
});
