import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorCode } from '../../../src/errors/codes.js';
import { openAIErrorBody, statusOf, toErrorData, GatewayError } from '../../../src/errors/gateway-error.js';

describe('error table', () => {
  it('is documented row for row in docs/api.md', () => {
    const readme = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    const rows = new Map<string, string[]>();
    for (const line of readme.split('\n')) {
      const match = /^\| `([a-z_]+)` \| (\d{3}) \| `([a-z_]+)` \| (yes|no) \| (yes|no) \|/.exec(line);
      if (match) rows.set(match[1], match.slice(2));
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_CODES).map((code) => code.toLowerCase()).sort());
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(rows.get(code.toLowerCase()), code).toEqual([String(spec.status), spec.type, spec.retryable ? 'yes' : 'no',
        spec.mayFallBack ? 'yes' : 'no']);
    }
  });

  it("answers in OpenAI's envelope with exactly its four fields", () => {
    const body = JSON.parse(openAIErrorBody({ code: 'QUEUE_FULL', message: 'full', provider: 'openai', retryAfter: 1 }));
    expect(body).toEqual({ error: { message: 'full', type: 'rate_limit_error', param: null, code: 'queue_full' } });
  });

  it('keeps an upstream status when the error carries one, and hides unexpected exceptions', () => {
    expect(statusOf({ code: 'UPSTREAM_BAD_REQUEST', message: 'x', status: 422 })).toBe(422);
    expect(statusOf({ code: 'UPSTREAM_ERROR', message: 'x' })).toBe(502);
    expect(toErrorData(new TypeError('secret stack detail'))).toEqual({ code: 'INTERNAL', message: 'internal error' });
    expect(toErrorData(new GatewayError('INVALID_JSON', 'bad')).code).toBe('INVALID_JSON');
    expect(isErrorCode('QUEUE_FULL')).toBe(true);
    expect(isErrorCode('NOPE')).toBe(false);
  });
});

describe('error type for an overridden status', () => {
  it('follows the status a plugin or provider chose', () => {
    const type = (status: number) => JSON.parse(openAIErrorBody({ code: 'PLUGIN_REJECTED', message: 'no', status })).error.type;
    expect(type(403)).toBe('permission_error');
    expect(type(401)).toBe('authentication_error');
    expect(type(429)).toBe('rate_limit_error');
    expect(type(400)).toBe('invalid_request_error');
    expect(type(503)).toBe('api_error');
  });
});
