import { describe, expect, it } from 'vitest';
import type { GatewayError } from '../../../src/errors/gateway-error.js';
import { parseChatRequest } from '../../../src/pipeline/parse.js';

const failure = (body: string | null) => {
  try {
    parseChatRequest(body === null ? null : Buffer.from(body));
  } catch (error) {
    return (error as GatewayError).data;
  }
  throw new Error('expected a failure');
};

describe('chat request parsing', () => {
  it('reads model, stream and include_usage and keeps every other field', () => {
    const parsed = parseChatRequest(Buffer.from(JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }],
      stream: true, stream_options: { include_usage: true }, temperature: 0.3, tools: [] })));
    expect(parsed.stream).toBe(true);
    expect(parsed.includeUsage).toBe(true);
    expect(parsed.body.temperature).toBe(0.3);
    expect(parsed.body.tools).toEqual([]);
  });

  it.each([
    [null, 'INVALID_REQUEST', undefined],
    ['{"model":', 'INVALID_JSON', undefined],
    ['[1,2]', 'INVALID_REQUEST', undefined],
    ['{"messages":[{"role":"user"}]}', 'INVALID_REQUEST', 'model'],
    ['{"model":7,"messages":[{"role":"user"}]}', 'INVALID_REQUEST', 'model'],
    ['{"model":"m/x","messages":[]}', 'INVALID_REQUEST', 'messages'],
    ['{"model":"m/x","messages":[1]}', 'INVALID_REQUEST', 'messages[0]'],
    ['{"model":"m/x","messages":[{"role":"user"}],"stream":"yes"}', 'INVALID_REQUEST', 'stream'],
    ['{"model":"m/x","messages":[{"role":"user"}],"stream_options":3}', 'INVALID_REQUEST', 'stream_options'],
  ])('refuses %s with %s', (body, code, param) => {
    const error = failure(body);
    expect(error.code).toBe(code);
    if (param) expect(error.param).toBe(param);
  });
});
