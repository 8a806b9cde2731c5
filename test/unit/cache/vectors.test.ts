// The semantic index: nearest live vector at or above the threshold; the embedded index's bounds.
import { describe, expect, it } from 'vitest';
import { cosine, MemoryVectors, nearest } from '../../../src/cache/vectors.js';

const v = (...xs: number[]) => Float32Array.from(xs);
const later = Date.now() + 60_000;

describe('nearest', () => {
  it('takes the most similar live vector at or above the threshold', () => {
    const stored = [{ key: 'a', vector: v(1, 0), expiresAt: later }, { key: 'b', vector: v(1, 0.1), expiresAt: later },
      { key: 'gone', vector: v(1, 0.05), expiresAt: Date.now() - 1 }];
    expect(nearest(stored, v(1, 0.12), 0.9)?.key).toBe('b');
    expect(nearest(stored, v(0, 1), 0.5)).toBeNull();
    expect(nearest(stored, v(1, 0.05), 0.99)?.key).not.toBe('gone');
    expect(cosine(v(1, 2), v(1, 2, 3))).toBe(-1);
  });
});

describe('MemoryVectors', () => {
  it('keeps at most perScope vectors per scope, the newest', () => {
    const index = new MemoryVectors(2, 100);
    for (const key of ['a', 'b', 'c']) index.add('s', key, v(1), later);
    expect(index.vectors('s').map((x) => x.key)).toEqual(['b', 'c']);
  });

  it('holds all scopes together to maxVectors, dropping the scopes longest without a new vector', () => {
    const index = new MemoryVectors(10, 3);
    index.add('old', 'a', v(1), later);
    index.add('mid', 'b', v(1), later);
    index.add('new', 'c', v(1), later);
    index.add('old', 'd', v(1), later);
    expect(index.size).toBeLessThanOrEqual(3);
    expect(index.vectors('mid')).toEqual([]);
    expect(index.vectors('old').map((x) => x.key)).toEqual(['a', 'd']);
  });
});
