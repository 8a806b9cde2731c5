// The response cache (docs/cache.md): answers a repeated request from a store instead of the provider. The pipeline
// asks `plan` whether a request may use the cache and under which keys, `lookup` for an entry (exact key first, then
// the nearest stored request in its semantic scope), and on a miss fills the entry from the provider's answer
// through a CacheFill. A hit on the embedded store is answered synchronously, on the front thread, without a worker.
//
// Identical requests arriving while the first is still being answered wait for its entry (at most
// `coalesce_wait_ms`, then they go upstream themselves): a burst of the same prompt costs one provider call. Only
// this process's requests are coalesced; across processes the shared store serves each once it is filled.

import type { Logger } from 'pino';
import type { UsageData } from '../contract/messages.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { CacheConfig } from './config.js';
import type { CacheEntry } from './entry.js';
import { cacheKeys, type CacheKeys } from './key.js';
import { MemoryStore } from './memory-store.js';
import { CacheCounters, cacheFamilies, type LookupResult } from './metrics.js';
import { RedisStore } from './redis-store.js';
import { MemoryVectors, nearest, type StoredVector } from './vectors.js';
import type { LabelledFamily } from '../observability/metrics.js';

export { CacheCounters } from './metrics.js';
export type { CacheEntry } from './entry.js';

/** Bifrost's request headers for the cache. */
export const CACHE_HEADERS = {
  key: 'x-bf-cache-key',
  ttl: 'x-bf-cache-ttl',
  threshold: 'x-bf-cache-threshold',
  type: 'x-bf-cache-type',
  noStore: 'x-bf-cache-no-store',
} as const;

export interface CacheDirectives {
  readonly cacheKey: string | null;
  readonly ttlMs: number | null;
  readonly threshold: number | null;
  /** `direct`: the exact layer only; `semantic`: the semantic layer only; null: both. */
  readonly type: 'direct' | 'semantic' | null;
  readonly noStore: boolean;
}

const NO_DIRECTIVES: CacheDirectives = Object.freeze({ cacheKey: null, ttlMs: null, threshold: null, type: null, noStore: false });
const TTL = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const TTL_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const MAX_TTL_MS = 31_536_000_000;
const CACHE_KEY = /^[\x21-\x7e]{1,256}$/;

function badHeader(name: string, message: string): never {
  throw new GatewayError('INVALID_REQUEST', `${name}: ${message}`, { param: name });
}

/** The request's cache headers, checked: a value that cannot mean anything is a 400, not silently ignored. */
export function cacheDirectives(headers: Readonly<Record<string, string>>): CacheDirectives {
  const key = headers[CACHE_HEADERS.key];
  const ttl = headers[CACHE_HEADERS.ttl];
  const threshold = headers[CACHE_HEADERS.threshold];
  const type = headers[CACHE_HEADERS.type];
  const noStore = headers[CACHE_HEADERS.noStore];
  if (key === undefined && ttl === undefined && threshold === undefined && type === undefined && noStore === undefined) return NO_DIRECTIVES;
  if (key !== undefined && !CACHE_KEY.test(key)) badHeader(CACHE_HEADERS.key, 'expected 1 to 256 visible ASCII characters');
  let ttlMs: number | null = null;
  if (ttl !== undefined) {
    const match = TTL.exec(ttl.trim());
    ttlMs = match ? Number(match[1]) * TTL_UNIT_MS[match[2] ?? 's'] : NaN;
    if (!(ttlMs >= 1 && ttlMs <= MAX_TTL_MS)) badHeader(CACHE_HEADERS.ttl, "expected seconds or a duration such as '30s', '5m' or '1h' (at most a year)");
  }
  let similarity: number | null = null;
  if (threshold !== undefined) {
    similarity = threshold.trim() === '' ? NaN : Number(threshold);
    if (!(similarity >= 0 && similarity <= 1)) badHeader(CACHE_HEADERS.threshold, 'expected a number from 0 to 1');
  }
  if (type !== undefined && type !== 'direct' && type !== 'semantic') badHeader(CACHE_HEADERS.type, "expected 'direct' or 'semantic'");
  if (noStore !== undefined && noStore !== 'true' && noStore !== 'false') badHeader(CACHE_HEADERS.noStore, "expected 'true' or 'false'");
  return { cacheKey: key ?? null, ttlMs, threshold: similarity, type: (type as CacheDirectives['type']) ?? null, noStore: noStore === 'true' };
}

/** What the pipeline knows of a request when it asks the cache. */
export interface CacheRequest {
  readonly directives: CacheDirectives;
  readonly dialect: string;
  readonly kind: string;
  readonly native: boolean;
  readonly stream: boolean;
  readonly provider: string;
  readonly model: string;
  readonly virtualKey: string | null;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface CachePlan {
  readonly keys: CacheKeys;
  readonly ttlMs: number;
  readonly threshold: number;
  readonly exact: boolean;
  readonly semantic: boolean;
  readonly noStore: boolean;
  /** A chat answer, which a stream and a JSON answer can be made from each other; a native API's cannot. */
  readonly convertible: boolean;
}

export interface EmbeddingResult {
  readonly vector: Float32Array;
  readonly ms: number;
  readonly costUsd: number | null;
}

export type Embedder = (text: string, requestId: string) => Promise<EmbeddingResult>;

export interface CacheHit {
  readonly result: 'hit' | 'semantic-hit';
  readonly entry: CacheEntry;
  readonly similarity: number | null;
  readonly embedding: EmbeddingResult | null;
}

export interface CacheMiss {
  readonly result: 'miss';
  /** Null when the answer must not be stored (`x-bf-cache-no-store`). */
  readonly fill: CacheFill | null;
  readonly embedding: EmbeddingResult | null;
}

export type CacheAnswer = CacheHit | CacheMiss;

/** Kinds whose answer is text the cache can keep; media, counts and file calls always go to the provider. */
const CACHEABLE_KINDS = new Set(['chat', 'embeddings', 'responses', 'messages']);

type Store = MemoryStore | RedisStore;

interface InFlight {
  readonly done: Promise<CacheEntry | null>;
  settle(entry: CacheEntry | null): void;
}

export class ResponseCache {
  readonly config: CacheConfig;
  readonly counters: CacheCounters;
  readonly #store: Store;
  readonly #memory: MemoryStore | null;
  readonly #vectors: MemoryVectors | null;
  readonly #embed: Embedder | null;
  readonly #logger: Logger;
  readonly #inFlight = new Map<string, InFlight>();

  private constructor(config: CacheConfig, store: Store, counters: CacheCounters, embed: Embedder | null, logger: Logger) {
    this.config = config;
    this.counters = counters;
    this.#store = store;
    this.#memory = store instanceof MemoryStore ? store : null;
    this.#vectors = this.#memory && embed ? new MemoryVectors(config.maxVectorsPerScope, config.maxEntries) : null;
    this.#embed = embed;
    this.#logger = logger;
  }

  static async create(config: CacheConfig, embed: Embedder | null, logger: Logger): Promise<ResponseCache> {
    const counters = new CacheCounters();
    const store = config.store.type === 'redis'
      ? await RedisStore.connect(config.store, counters, logger)
      : new MemoryStore(config.maxEntries, config.maxBytes, counters);
    return new ResponseCache(config, store, counters, config.embedding ? embed : null, logger);
  }

  families(): LabelledFamily[] {
    return cacheFamilies(this.counters, () => ({ entries: this.#memory?.size ?? 0, bytes: this.#memory?.bytes ?? 0 }));
  }

  /** Counts a request that does not use the cache. */
  bypassed(): void {
    this.counters.lookups.bypass++;
  }

  /** The request's keys and settings, or null when it does not use the cache (not asked, or not cacheable). */
  plan(request: CacheRequest): CachePlan | null {
    const config = this.config;
    const { directives, body } = request;
    const cacheKey = directives.cacheKey ?? config.defaultCacheKey;
    if (cacheKey === null || !CACHEABLE_KINDS.has(request.kind)) return null;
    const messages = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) && request.kind === 'responses' ? body.input : null;
    if (messages && messages.length > config.maxMessages) return null;
    if (!config.nonDeterministic && isNonDeterministic(body)) return null;
    const keys = cacheKeys({
      namespace: config.namespace, cacheKey, dialect: request.dialect, kind: request.kind, native: request.native,
      stream: request.stream, provider: config.byProvider ? request.provider : '', model: config.byModel ? request.model : '',
      virtualKey: config.byVirtualKey ? request.virtualKey ?? '' : '', body, excludeSystemPrompt: config.excludeSystemPrompt,
    });
    return { keys, ttlMs: directives.ttlMs ?? config.ttlMs, threshold: directives.threshold ?? config.threshold,
      exact: directives.type !== 'semantic', semantic: this.#embed !== null && keys.scope !== null && directives.type !== 'direct',
      noStore: directives.noStore, convertible: request.kind === 'chat' && !request.native };
  }

  /** The stored answer for the plan, or a miss with the fill that stores the provider's answer. */
  lookup(plan: CachePlan, requestId: string): CacheAnswer | Promise<CacheAnswer> {
    const key = plan.keys.exact;
    if (plan.exact && this.#memory) {
      const entry = this.#memory.get(key);
      if (entry) return this.#hit('hit', entry, null, null);
      if (!plan.semantic && !this.#inFlight.has(key)) return this.#miss(plan, null);
    }
    return this.#lookupAsync(plan, requestId);
  }

  async #lookupAsync(plan: CachePlan, requestId: string): Promise<CacheAnswer> {
    const key = plan.keys.exact;
    if (plan.exact) {
      if (!this.#memory) {
        const entry = await this.#store.get(key);
        if (entry) return this.#hit('hit', entry, null, null);
      }
      const pending = this.#inFlight.get(key);
      if (pending && this.config.coalesceWaitMs > 0) {
        const entry = await waitFor(pending.done, this.config.coalesceWaitMs);
        if (entry) {
          this.counters.coalesced++;
          return this.#hit('hit', entry, null, null);
        }
      }
    }
    let embedding: EmbeddingResult | null = null;
    if (plan.semantic) {
      try {
        embedding = await this.#embed!(plan.keys.text!, requestId);
      } catch (error) {
        this.counters.embeddingErrors++;
        this.#logger.warn({ requestId, err: { message: (error as Error).message } },
          'cache: the embedding call failed; this request is looked up by its exact key only');
      }
      if (embedding) {
        const found = nearest(await this.#vectorsOf(plan.keys.scope!), embedding.vector, plan.threshold);
        const entry = found ? await this.#store.get(found.key) : null;
        if (entry && found) return this.#hit('semantic-hit', entry, found.similarity, embedding);
      }
    }
    return this.#miss(plan, embedding);
  }

  #vectorsOf(scope: string): Iterable<StoredVector> | Promise<StoredVector[]> {
    return this.#vectors ? this.#vectors.vectors(scope) : (this.#store as RedisStore).vectors(scope);
  }

  #hit(result: 'hit' | 'semantic-hit', entry: CacheEntry, similarity: number | null, embedding: EmbeddingResult | null): CacheHit {
    this.counters.lookups[result]++;
    return { result, entry, similarity, embedding };
  }

  #miss(plan: CachePlan, embedding: EmbeddingResult | null): CacheMiss {
    this.counters.lookups.miss++;
    if (plan.noStore) return { result: 'miss', fill: null, embedding };
    const key = plan.keys.exact;
    // The first of identical requests fills; one that waited for it in vain fills too, without making others wait.
    let flight: InFlight | null = null;
    if (!this.#inFlight.has(key)) {
      let settle!: (entry: CacheEntry | null) => void;
      const done = new Promise<CacheEntry | null>((resolve) => {
        settle = resolve;
      });
      flight = { done, settle };
      this.#inFlight.set(key, flight);
    }
    const vector = embedding && plan.keys.scope ? { scope: plan.keys.scope, vector: embedding.vector } : null;
    return { result: 'miss', fill: new CacheFill(this, key, plan.ttlMs, plan.convertible, vector, flight), embedding };
  }

  /** Called by a fill when its answer is complete (entry) or will not be stored (null). */
  settleFill(key: string, ttlMs: number, entry: CacheEntry | null, vector: { scope: string; vector: Float32Array } | null,
    flight: InFlight | null): void {
    if (flight) {
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
      flight.settle(entry);
    }
    if (!entry) return;
    this.counters.stores++;
    this.#store.set(key, entry, ttlMs);
    if (!vector) return;
    const expiresAt = entry.storedAt + ttlMs;
    if (this.#vectors) this.#vectors.add(vector.scope, key, vector.vector, expiresAt);
    else (this.#store as RedisStore).addVector(vector.scope, key, vector.vector, expiresAt, ttlMs);
  }

  async close(): Promise<void> {
    for (const flight of this.#inFlight.values()) flight.settle(null);
    this.#inFlight.clear();
    if (this.#store instanceof RedisStore) {
      if (this.config.cleanupOnShutdown) await this.#store.clear();
      await this.#store.close();
    } else {
      this.#store.clear();
    }
    this.#vectors?.clear();
  }
}

/** `n > 1`, or sampling with a temperature and no seed: the client asked for answers that differ. */
function isNonDeterministic(body: Readonly<Record<string, unknown>>): boolean {
  if (typeof body.n === 'number' && body.n > 1) return true;
  return typeof body.temperature === 'number' && body.temperature > 0 && body.seed === undefined;
}

function waitFor<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    void promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Collects one provider answer on a miss and stores it when it completed successfully. */
export class CacheFill {
  readonly #cache: ResponseCache;
  readonly #key: string;
  readonly #ttlMs: number;
  readonly #convertible: boolean;
  readonly #vector: { scope: string; vector: Float32Array } | null;
  readonly #flight: InFlight | null;
  #chunks: string[] | null = [];
  #bytes = 0;
  #settled = false;

  constructor(cache: ResponseCache, key: string, ttlMs: number, convertible: boolean,
    vector: { scope: string; vector: Float32Array } | null, flight: InFlight | null) {
    this.#cache = cache;
    this.#key = key;
    this.#ttlMs = ttlMs;
    this.#convertible = convertible;
    this.#vector = vector;
    this.#flight = flight;
  }

  /** A JSON answer with status 200. */
  answer(body: string, usage: UsageData | null): void {
    if (body.length * 2 > this.#cache.config.maxEntryBytes) {
      this.abandon();
      return;
    }
    this.#settle({ body, chunks: null, convertible: this.#convertible, usage, storedAt: Date.now() });
  }

  /** A stream's chunks, in order, as the client's wire gets them. */
  chunks(chunks: readonly string[]): void {
    if (!this.#chunks) return;
    for (const chunk of chunks) this.#bytes += chunk.length * 2;
    if (this.#bytes > this.#cache.config.maxEntryBytes) {
      this.abandon();
      return;
    }
    this.#chunks.push(...chunks);
  }

  /** The stream ended as the provider meant it to. */
  end(usage: UsageData | null): void {
    const chunks = this.#chunks;
    if (!chunks || chunks.length === 0) {
      this.abandon();
      return;
    }
    this.#settle({ body: null, chunks, convertible: this.#convertible, usage, storedAt: Date.now() });
  }

  /** Failed, cut short, too large or the client left: nothing is stored, and whoever waited goes upstream. */
  abandon(): void {
    this.#chunks = null;
    if (!this.#settled) {
      this.#settled = true;
      this.#cache.settleFill(this.#key, this.#ttlMs, null, null, this.#flight);
    }
  }

  #settle(entry: CacheEntry): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#chunks = null;
    this.#cache.settleFill(this.#key, this.#ttlMs, entry, this.#vector, this.#flight);
  }
}

export type { LookupResult };
