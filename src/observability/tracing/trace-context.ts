// W3C Trace Context (https://www.w3.org/TR/trace-context/): reading a caller's `traceparent`/`tracestate`, writing
// ours, and making ids.

import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** tracestate: at most 32 list members, 512 characters kept (the spec lets a vendor truncate past that). */
const MAX_TRACESTATE = 512;

export interface ParentContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  readonly traceState: string;
}

/** The caller's context, or null when `traceparent` is absent or malformed (then a new trace starts, as the spec says). */
export function parseTraceparent(header: string | undefined, traceState: string | undefined): ParentContext | null {
  if (!header) return null;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return null;
  const [, version, traceId, spanId, flags] = match;
  // Version ff is invalid; a future version may append fields, which the regex allows after a dash.
  if (version === 'ff' || (version === '00' && header.trim().length !== 55)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  const state = traceState && traceState.length <= MAX_TRACESTATE ? traceState.trim() : '';
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1, traceState: state };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

// Ids are 32-bit words drawn from a pool of random bytes refilled 4 KiB at a time, kept as signed integers (which V8
// holds without allocating) and written to the spans' bytes as they are: a trace id is four words, a span id two, in
// big-endian order, so that an id's hex (for traceparent) reads as its bytes do. Hex strings per id, sliced from a
// pool and decoded back into bytes for every span, were a sixth of a traced request's cost on the front thread.
const POOL_WORDS = 1024;
const pool = new Int32Array(POOL_WORDS);
let next = POOL_WORDS;

export function randomWord(): number {
  if (next === POOL_WORDS) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++];
}

/** The hex of id words (each as 8 digits), as traceparent writes ids. */
export function hexOfWords(...words: number[]): string {
  let hex = '';
  for (const word of words) hex += (word >>> 0).toString(16).padStart(8, '0');
  return hex;
}

/** Word `index` of a hex id (8 digits each). */
export const wordOfHex = (hex: string, index: number): number => parseInt(hex.slice(index * 8, index * 8 + 8), 16) | 0;
