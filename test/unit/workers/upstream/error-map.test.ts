import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../../src/errors/codes.js';
import { statusOf } from '../../../../src/errors/gateway-error.js';
import { droppedIdleConnection, errorForTransportFailure, errorForUpstreamStatus, parseRetryAfter } from '../../../../workers/upstream/error-map.js';
import { joinUrl, splitUrl } from '../../../../workers/upstream/url.js';

describe('upstream error mapping', () => {
  it.each([
    [400, 'UPSTREAM_BAD_REQUEST', 400], [422, 'UPSTREAM_BAD_REQUEST', 422], [401, 'UPSTREAM_AUTH', 401],
    [403, 'UPSTREAM_FORBIDDEN', 403], [404, 'UPSTREAM_NOT_FOUND', 404], [429, 'UPSTREAM_RATE_LIMITED', 429],
    [500, 'UPSTREAM_ERROR', 502], [502, 'UPSTREAM_ERROR', 502], [503, 'UPSTREAM_UNAVAILABLE', 503], [504, 'UPSTREAM_TIMEOUT', 504],
  ])('maps status %i to %s answering %i', (upstream, code, status) => {
    const error = errorForUpstreamStatus('openai', upstream, 'nope');
    expect(error.code).toBe(code);
    expect(statusOf(error)).toBe(status);
    expect(error.upstreamStatus).toBe(upstream);
  });

  it('keeps Retry-After, in seconds or as a date', () => {
    expect(errorForUpstreamStatus('openai', 429, 'slow', 7).retryAfter).toBe(7);
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThanOrEqual(9);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('tells a refused connection, a timeout and a broken stream apart', () => {
    expect(errorForTransportFailure('x', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), false).code)
      .toBe('UPSTREAM_UNREACHABLE');
    expect(errorForTransportFailure('x', Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), false).code)
      .toBe('UPSTREAM_TIMEOUT');
    expect(errorForTransportFailure('x', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), true).code)
      .toBe('STREAM_INTERRUPTED');
    expect(ERROR_CODES.STREAM_INTERRUPTED.retryable).toBe(false);
  });
});

describe('a kept-alive connection the upstream dropped', () => {
  const socketClosed = (bytesRead: number) => Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', socket: { bytesRead } });
  it('is a close on a connection that had read an answer before, or a reset or broken pipe', () => {
    expect(droppedIdleConnection(socketClosed(333))).toBe(true);
    expect(droppedIdleConnection(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(droppedIdleConnection(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe(true);
  });
  it('is not a close on a new connection, a refusal, a timeout or anything else', () => {
    expect(droppedIdleConnection(socketClosed(0))).toBe(false);
    expect(droppedIdleConnection(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))).toBe(false);
    expect(droppedIdleConnection(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(droppedIdleConnection(Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toBe(false);
    expect(droppedIdleConnection(new Error('boom'))).toBe(false);
    expect(droppedIdleConnection(null)).toBe(false);
  });
});

describe('base URL joining', () => {
  it('accepts base URLs with and without /v1', () => {
    expect(joinUrl('http://h:8000', '/v1/chat/completions')).toBe('http://h:8000/v1/chat/completions');
    expect(joinUrl('http://h:8000/v1/', '/v1/chat/completions')).toBe('http://h:8000/v1/chat/completions');
    expect(joinUrl('https://h/openai/v1?x=1', '/v1/chat/completions')).toBe('https://h/openai/v1/chat/completions?x=1');
    expect(joinUrl('https://h/base?api-version=1', '/m:generate?alt=sse')).toBe('https://h/base/m:generate?api-version=1&alt=sse');
    expect(splitUrl('http://h:8000/a/b?c=1')).toEqual({ origin: 'http://h:8000', path: '/a/b?c=1' });
  });
});

describe('provider-specific statuses', () => {
  it("treats Anthropic's 529 overloaded like a 503", () => {
    const error = errorForUpstreamStatus('anthropic', 529, 'Overloaded');
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(statusOf(error)).toBe(503);
  });
});

describe('more provider-specific statuses', () => {
  it("blames the provider for Bedrock's 424 and the key for Cohere's 498", () => {
    expect(statusOf(errorForUpstreamStatus('bedrock', 424, 'model failed'))).toBe(502);
    expect(errorForUpstreamStatus('cohere', 498, 'invalid token').code).toBe('UPSTREAM_AUTH');
  });
});
