// When and how long to wait before trying the same provider again. Pure functions: the caller (ProviderCall)
// owns the timer, the pool resubmission and the client's abort.

import { ERROR_CODES } from '../errors/codes.js';
import type { ErrorData } from '../errors/error-data.js';

/** Bifrost's jitter: each wait is the exponential value times a factor drawn from [0.8, 1.2). */
export const JITTER = 0.2;

/**
 * The wait before retry number `retry` (1 for the first retry): `initialMs × 2^(retry-1)`, capped at `maxMs`, times
 * a ±20 % jitter, and never above `maxMs` after the jitter either.
 */
export function backoffMs(retry: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, initialMs * 2 ** Math.max(0, retry - 1));
  const jittered = exponential * (1 - JITTER + 2 * JITTER * random());
  return Math.max(0, Math.min(maxMs, Math.round(jittered)));
}

/**
 * The wait before the next retry, or null when there must be none. `Retry-After` (seconds) is honoured: the wait is at
 * least that, capped by `maxMs`. If the wait would not end before the request's deadline (`remainingMs`), there is
 * no retry: the attempt could not finish in time anyway.
 */
export function retryDelayMs(retry: number, initialMs: number, maxMs: number, retryAfterSeconds: number | undefined,
  remainingMs: number, random: () => number = Math.random): number | null {
  let delay = backoffMs(retry, initialMs, maxMs, random);
  if (retryAfterSeconds !== undefined) delay = Math.max(delay, Math.min(retryAfterSeconds * 1000, maxMs));
  return delay < remainingMs ? delay : null;
}

/**
 * May this failure be retried on the same provider? Only codes the table marks retryable (429, 5xx, connection
 * failures, timeouts), plus a stream that broke before its first chunk reached the client; never once any byte of
 * the answer went out (`clientSawBytes`).
 */
export function isRetryable(error: ErrorData, clientSawBytes: boolean): boolean {
  // Retryable for the client, but the same pool will not take it back: the gateway is closing.
  if (clientSawBytes || error.code === 'PROVIDER_SHUTTING_DOWN') return false;
  return ERROR_CODES[error.code].retryable || error.code === 'STREAM_INTERRUPTED';
}

/** May the request move on to its next fallback after this failure? Never once the client saw bytes. */
export function mayFallBack(error: ErrorData, clientSawBytes: boolean): boolean {
  if (clientSawBytes) return false;
  return ERROR_CODES[error.code].mayFallBack || error.code === 'STREAM_INTERRUPTED';
}
