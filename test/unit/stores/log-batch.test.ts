import { describe, expect, it } from 'vitest';
import { BATCH_BYTES_CAP, RecordBatchEncoder, decodeRecordBatch } from '../../../src/stores/log-batch.js';
import type { RequestLogRecord } from '../../../src/stores/log-record.js';
import { logRecord } from '../../integration/stores/records.js';

/** Every field a value no other field has, so a field moved, dropped or swapped in the encoding shows. */
function distinctRecord(n: number): RequestLogRecord {
  return logRecord({
    id: `id-${n}`, timestamp: 1_750_000_000_123 + n, route: `/route-${n}`, method: 'PUT', dialect: 'anthropic',
    provider: `provider-${n}`, modelRequested: `asked-${n}`, model: `answered-${n}`, keyName: `key-${n}`,
    virtualKeyId: `vk-${n}`, status: 418, errorCode: `code-${n}`, attempts: 3, fallbacks: 2, latencyMs: 1.25,
    ttftMs: 2.5, upstreamMs: 3.75, overheadMs: 4.125, tokensIn: 5, tokensOut: 6, tokensCached: 7, tokensReasoning: 8,
    costUsd: 0.000123, cache: 'semantic-hit', stream: true, cancelled: true, request: `request ${n} é 漢 😀`,
    response: `response ${n}`,
  });
}

describe('request-log record batches', () => {
  it('decode to the records pushed, every field in its place, in order', () => {
    const encoder = new RecordBatchEncoder();
    const records = [distinctRecord(1), distinctRecord(2), logRecord({ request: null, response: null, costUsd: null })];
    for (const r of records) encoder.push(r);
    expect(encoder.count).toBe(3);
    const batch = encoder.take()!;
    expect(batch.count).toBe(3);
    expect(decodeRecordBatch(batch.bytes)).toEqual(records);
    // Every field of the record type is carried: a field added to the record but not to the encoding fails here.
    expect(Object.keys(decodeRecordBatch(batch.bytes)[0]).sort()).toEqual(Object.keys(records[0]).sort());
  });

  it('starts empty after a take, and takes nothing when nothing was pushed', () => {
    const encoder = new RecordBatchEncoder();
    expect(encoder.take()).toBeNull();
    encoder.push(distinctRecord(1));
    encoder.take();
    expect(encoder.count).toBe(0);
    expect(encoder.bytes).toBe(0);
    expect(encoder.take()).toBeNull();
  });

  it('grows its buffer for contents larger than it, and reuses a buffer handed back', () => {
    const encoder = new RecordBatchEncoder();
    const large = logRecord({ request: 'x'.repeat(600_000), response: 'y'.repeat(300_000) });
    encoder.push(large);
    encoder.push(distinctRecord(9));
    const first = encoder.take()!;
    expect(first.bytes.byteLength).toBeGreaterThan(900_000);
    expect(decodeRecordBatch(first.bytes)).toEqual([large, distinctRecord(9)]);
    encoder.recycle(first.bytes.buffer as ArrayBuffer);
    encoder.push(distinctRecord(10));
    const second = encoder.take()!;
    expect(second.bytes.buffer).toBe(first.bytes.buffer);
    expect(decodeRecordBatch(second.bytes)).toEqual([distinctRecord(10)]);
  });

  it('keeps no spare larger than twice the batch cap', () => {
    const encoder = new RecordBatchEncoder();
    encoder.recycle(new ArrayBuffer(2 * BATCH_BYTES_CAP + 1));
    encoder.push(distinctRecord(1));
    expect(encoder.take()!.bytes.buffer.byteLength).toBeLessThanOrEqual(2 * BATCH_BYTES_CAP);
  });
});
