import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { takeFallbacks } from '../../../src/pipeline/fallbacks.js';
import { backoffMs, isRetryable, mayFallBack, retryDelayMs } from '../../../src/pipeline/retry.js';

const mid = () => 0.5;
const low = () => 0;
const high = () => 0.999999;

describe('backoffMs', () => {
  it('doubles from the initial value per retry, without jitter at the midpoint', () => {
    expect([1, 2, 3, 4].map((retry) => backoffMs(retry, 100, 10_000, mid))).toEqual([100, 200, 400, 800]);
  });

  it('caps at the max, also after the jitter', () => {
    expect(backoffMs(10, 100, 1_000, mid)).toBe(1_000);
    expect(backoffMs(10, 100, 1_000, high)).toBe(1_000);
    expect(backoffMs(10, 100, 1_000, low)).toBe(800);
  });

  it('jitters by ±20 %', () => {
    expect(backoffMs(1, 500, 5_000, low)).toBe(400);
    expect(backoffMs(1, 500, 5_000, high)).toBe(600);
    for (let i = 0; i < 200; i++) {
      const wait = backoffMs(2, 500, 5_000);
      expect(wait).toBeGreaterThanOrEqual(800);
      expect(wait).toBeLessThanOrEqual(1_200);
    }
  });

  it('is zero with a zero initial value', () => {
    expect(backoffMs(3, 0, 5_000, high)).toBe(0);
  });
});

describe('retryDelayMs', () => {
  it('is the backoff when there is no Retry-After', () => {
    expect(retryDelayMs(2, 100, 5_000, undefined, 30_000, mid)).toBe(200);
  });

  it('waits at least Retry-After, capped by the backoff max', () => {
    expect(retryDelayMs(1, 100, 5_000, 2, 30_000, mid)).toBe(2_000);
    expect(retryDelayMs(1, 100, 5_000, 60, 30_000, mid)).toBe(5_000);
    // A backoff already longer than Retry-After stays.
    expect(retryDelayMs(4, 1_000, 10_000, 1, 30_000, mid)).toBe(8_000);
  });

  it('gives no retry when the wait would not end before the request deadline', () => {
    expect(retryDelayMs(1, 100, 5_000, 2, 1_500, mid)).toBeNull();
    expect(retryDelayMs(1, 100, 5_000, undefined, 100, mid)).toBeNull();
    expect(retryDelayMs(1, 100, 5_000, undefined, 101, mid)).toBe(100);
  });
});

describe('isRetryable and mayFallBack', () => {
  const error = (code: 'UPSTREAM_ERROR' | 'UPSTREAM_BAD_REQUEST' | 'STREAM_INTERRUPTED' | 'UPSTREAM_RATE_LIMITED' | 'UPSTREAM_AUTH') =>
    ({ code, message: 'x' });

  it('follows the error table', () => {
    expect(isRetryable(error('UPSTREAM_ERROR'), false)).toBe(true);
    expect(isRetryable(error('UPSTREAM_RATE_LIMITED'), false)).toBe(true);
    expect(isRetryable(error('UPSTREAM_BAD_REQUEST'), false)).toBe(false);
    expect(isRetryable(error('UPSTREAM_AUTH'), false)).toBe(false);
    expect(mayFallBack(error('UPSTREAM_AUTH'), false)).toBe(true);
    expect(mayFallBack(error('UPSTREAM_BAD_REQUEST'), false)).toBe(false);
    // The pool that said so is closing: no retry on it.
    expect(isRetryable({ code: 'PROVIDER_SHUTTING_DOWN', message: 'x' }, false)).toBe(false);
  });

  it('retries a broken stream only while the client has seen nothing', () => {
    expect(isRetryable(error('STREAM_INTERRUPTED'), false)).toBe(true);
    expect(isRetryable(error('STREAM_INTERRUPTED'), true)).toBe(false);
    expect(isRetryable(error('UPSTREAM_ERROR'), true)).toBe(false);
    expect(mayFallBack(error('UPSTREAM_ERROR'), true)).toBe(false);
  });
});

describe('takeFallbacks', () => {
  it('reads and strips the list', () => {
    const body = { model: 'openai/gpt-4o', messages: [], fallbacks: ['mock/echo', 'anthropic/claude'] };
    expect(takeFallbacks(body as never)).toEqual(['mock/echo', 'anthropic/claude']);
    expect('fallbacks' in body).toBe(false);
  });

  it('is null without the field (the configured defaults apply), and [] when the client turns them off', () => {
    expect(takeFallbacks({ model: 'openai/gpt-4o', messages: [] } as never)).toBeNull();
    const body = { model: 'openai/gpt-4o', messages: [], fallbacks: null };
    expect(takeFallbacks(body as never)).toBeNull();
    expect('fallbacks' in body).toBe(false);
    expect(takeFallbacks({ model: 'openai/gpt-4o', messages: [], fallbacks: [] } as never)).toEqual([]);
  });

  it('refuses what is not a list of strings, or too long a list', () => {
    for (const fallbacks of ['mock/echo', [1], [''], Array.from({ length: 11 }, () => 'mock/echo')]) {
      expect(() => takeFallbacks({ model: 'm', messages: [], fallbacks } as never)).toThrow(GatewayError);
    }
  });
});
