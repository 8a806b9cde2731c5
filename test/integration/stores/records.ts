// Request-log records for the store tests: a complete record with every field set, changed where a test says.
import type { RequestLogRecord } from '../../../src/stores/log-record.js';

let next = 0;

export function logRecord(overrides: Partial<RequestLogRecord> = {}): RequestLogRecord {
  next++;
  return {
    id: `req-${process.pid}-${next}`,
    timestamp: 1_750_000_000_000 + next,
    route: '/v1/chat/completions',
    method: 'POST',
    dialect: 'openai',
    provider: 'openai',
    modelRequested: 'gpt-4o-mini',
    model: 'gpt-4o-mini-2024-07-18',
    keyName: 'primary',
    virtualKeyId: null,
    status: 200,
    errorCode: null,
    attempts: 1,
    fallbacks: 0,
    latencyMs: 120.5,
    ttftMs: null,
    upstreamMs: 118,
    overheadMs: 2.5,
    tokensIn: 10,
    tokensOut: 20,
    tokensCached: 0,
    tokensReasoning: 0,
    costUsd: 0.0001,
    cache: null,
    stream: false,
    cancelled: false,
    request: '{"messages":[{"role":"user","content":"hello"}]}',
    response: '{"choices":[{"message":{"content":"hi there"}}]}',
    ...overrides,
  };
}
