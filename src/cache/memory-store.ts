// The embedded store: entries in this process's memory, least recently used first out, bounded by a count and by
// bytes. Only the front thread touches it, so a hit is a Map lookup on the thread that answers.

import { entryBytes, type CacheEntry } from './entry.js';
import type { CacheCounters } from './metrics.js';

interface Slot {
  readonly entry: CacheEntry;
  readonly bytes: number;
  readonly expiresAt: number;
}

export class MemoryStore {
  /** Map iteration order is insertion order: re-inserting on a hit makes the first key the least recently used. */
  readonly #slots = new Map<string, Slot>();
  #bytes = 0;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #counters: CacheCounters;

  constructor(maxEntries: number, maxBytes: number, counters: CacheCounters) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#counters = counters;
  }

  get size(): number {
    return this.#slots.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string, now = Date.now()): CacheEntry | null {
    const slot = this.#slots.get(key);
    if (!slot) return null;
    this.#slots.delete(key);
    if (slot.expiresAt <= now) {
      this.#bytes -= slot.bytes;
      return null;
    }
    this.#slots.set(key, slot);
    return slot.entry;
  }

  set(key: string, entry: CacheEntry, ttlMs: number): void {
    const bytes = entryBytes(entry);
    if (bytes > this.#maxBytes) return;
    this.delete(key);
    this.#slots.set(key, { entry, bytes, expiresAt: entry.storedAt + ttlMs });
    this.#bytes += bytes;
    for (const [oldest, slot] of this.#slots) {
      if (this.#slots.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#slots.delete(oldest);
      this.#bytes -= slot.bytes;
      // An expired entry leaving is not an eviction: nothing usable was pushed out.
      if (slot.expiresAt > Date.now()) this.#counters.evictions++;
    }
  }

  delete(key: string): void {
    const slot = this.#slots.get(key);
    if (!slot) return;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
  }

  clear(): void {
    this.#slots.clear();
    this.#bytes = 0;
  }
}
