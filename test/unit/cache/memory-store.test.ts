// The embedded store: least recently used first out, within max_entries and max_bytes; expired entries are gone.
import { describe, expect, it } from 'vitest';
import { CacheCounters } from '../../../src/cache/metrics.js';
import { MemoryStore } from '../../../src/cache/memory-store.js';
import { entryBytes, type CacheEntry } from '../../../src/cache/entry.js';

const entry = (body: string, storedAt = Date.now()): CacheEntry => ({ body, chunks: null, convertible: true, usage: null, storedAt });

describe('MemoryStore', () => {
  it('evicts the least recently used entry past max_entries, and counts it', () => {
    const counters = new CacheCounters();
    const store = new MemoryStore(2, 1 << 20, counters);
    store.set('a', entry('A'), 60_000);
    store.set('b', entry('B'), 60_000);
    expect(store.get('a')?.body).toBe('A');
    store.set('c', entry('C'), 60_000);
    expect(store.get('b')).toBeNull();
    expect(store.get('a')?.body).toBe('A');
    expect(store.get('c')?.body).toBe('C');
    expect(counters.evictions).toBe(1);
  });

  it('stays within max_bytes, and refuses an entry larger than the whole store', () => {
    const counters = new CacheCounters();
    const one = entryBytes(entry('x'.repeat(100)));
    const store = new MemoryStore(100, one * 2, counters);
    for (const key of ['a', 'b', 'c']) store.set(key, entry('x'.repeat(100)), 60_000);
    expect(store.size).toBe(2);
    expect(store.bytes).toBeLessThanOrEqual(one * 2);
    store.set('huge', entry('x'.repeat(1000)), 60_000);
    expect(store.get('huge')).toBeNull();
    expect(store.size).toBe(2);
  });

  it('forgets an entry once its TTL passed, without counting an eviction', () => {
    const counters = new CacheCounters();
    const store = new MemoryStore(10, 1 << 20, counters);
    store.set('old', entry('O', Date.now() - 2_000), 1_000);
    expect(store.get('old')).toBeNull();
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(counters.evictions).toBe(0);
  });
});
