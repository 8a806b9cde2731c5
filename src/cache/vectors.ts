// The semantic layer's index: per scope, the vectors of the entries stored in it, scored by cosine similarity on the
// front thread. A scope holds what one conversation prefix asked of one model (src/cache/key.ts), so a lookup scores
// at most `max_vectors_per_scope` vectors.

export interface StoredVector {
  readonly key: string;
  readonly vector: Float32Array;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length || a.length === 0) return -1;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? -1 : dot / Math.sqrt(na * nb);
}

/** The most similar live vector at or above `threshold`, or null. */
export function nearest(vectors: Iterable<StoredVector>, query: Float32Array, threshold: number,
  now = Date.now()): { key: string; similarity: number } | null {
  let best: { key: string; similarity: number } | null = null;
  for (const stored of vectors) {
    if (stored.expiresAt <= now) continue;
    const similarity = cosine(stored.vector, query);
    if (similarity >= threshold && (!best || similarity > best.similarity)) best = { key: stored.key, similarity };
  }
  return best;
}

/**
 * The embedded index: scopes in memory, each bounded (the oldest vector goes first), and all of them together held to
 * `maxVectors` (the store's max_entries: a vector per entry at most) by dropping the least recently added scopes.
 */
export class MemoryVectors {
  readonly #scopes = new Map<string, StoredVector[]>();
  readonly #perScope: number;
  readonly #maxVectors: number;
  #count = 0;

  constructor(perScope: number, maxVectors: number) {
    this.#perScope = perScope;
    this.#maxVectors = maxVectors;
  }

  get size(): number {
    return this.#count;
  }

  vectors(scope: string): readonly StoredVector[] {
    return this.#scopes.get(scope) ?? [];
  }

  add(scope: string, key: string, vector: Float32Array, expiresAt: number): void {
    const now = Date.now();
    const list = this.#scopes.get(scope) ?? [];
    this.#scopes.delete(scope);
    this.#count -= list.length;
    const live = list.filter((stored) => stored.expiresAt > now && stored.key !== key);
    live.push({ key, vector, expiresAt });
    if (live.length > this.#perScope) live.splice(0, live.length - this.#perScope);
    // Re-inserted last: the scopes at the front are the ones longest without a new vector.
    this.#scopes.set(scope, live);
    this.#count += live.length;
    for (const [oldest, vectors] of this.#scopes) {
      if (this.#count <= this.#maxVectors || oldest === scope) break;
      this.#scopes.delete(oldest);
      this.#count -= vectors.length;
    }
  }

  clear(): void {
    this.#scopes.clear();
    this.#count = 0;
  }
}
