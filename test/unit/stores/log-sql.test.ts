import { describe, expect, it } from 'vitest';
import { META_COLUMNS, rowValues } from '../../../src/stores/log-sql.js';
import type { RequestLogRecord } from '../../../src/stores/log-record.js';
import { logRecord } from '../../integration/stores/records.js';

// Every field its own value, so a column bound out of place shows.
const record: RequestLogRecord = logRecord({
  id: 'id-1', timestamp: 1_750_000_000_001, route: '/r', method: 'PUT', dialect: 'genai', provider: 'p', modelRequested: 'asked',
  model: 'answered', keyName: 'k', virtualKeyId: 'vk', status: 201, errorCode: 'e', attempts: 3, fallbacks: 4, latencyMs: 5.5,
  ttftMs: 6.5, upstreamMs: 7.5, overheadMs: 8.5, tokensIn: 9, tokensOut: 10, tokensCached: 11, tokensReasoning: 12,
  costUsd: 0.13, cache: 'hit', stream: true, cancelled: false,
});

describe('rowValues', () => {
  it('binds every meta column in META_COLUMNS order', () => {
    const expected = META_COLUMNS.map(([field]) => record[field]);
    expect(rowValues(record, 'postgres')).toEqual(expected);
    expect(rowValues(record, 'sqlite')).toEqual(expected.map((v) => (typeof v === 'boolean' ? Number(v) : v)));
  });

  it('replaces NUL characters in text (PostgreSQL refuses them), and binds absent values as null', () => {
    const row = rowValues(logRecord({ id: 'a\u0000b', model: 'm\u0000', ttftMs: null, cache: null }), 'sqlite');
    expect(row[0]).toBe('a\uFFFDb');
    expect(row[7]).toBe('m\uFFFD');
    expect(row[15]).toBeNull();
    expect(row[23]).toBeNull();
  });

  it('refills the array it is given', () => {
    const out: unknown[] = new Array(META_COLUMNS.length);
    expect(rowValues(record, 'sqlite', out)).toBe(out);
  });
});
