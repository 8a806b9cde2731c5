// The response cache's config: Bifrost's `semantic_cache` plugin entry (`plugins[].config`), read in Bifrost's key
// names, plus Heimdall's own bounds and store. Validated once at boot like the rest of the config; the result is
// plain frozen data (src/cache/index.ts builds the cache from it).

import { z } from 'zod';
import { durationMs } from '../config/schema.js';

export const CACHE_PLUGIN = 'semantic_cache';

const redisStore = z.strictObject({
  type: z.literal('redis'),
  redis_url: z.string().regex(/^rediss?:\/\//, "a redis:// or rediss:// URL"),
  // Every key the cache writes starts with this, so several gateways (or tests) can share one server apart.
  key_prefix: z.string().min(1).max(128).default('heimdall:cache:'),
  // How long a lookup may wait on Redis before the request goes on as a miss: the store never delays a request more.
  timeout_ms: z.int().min(1).max(5000).default(50),
  // Semantic lookups score the vectors of one scope in the gateway: a scope keeps at most this many.
  max_vectors_per_scope: z.int().min(1).max(100_000).default(2000),
});

export const semanticCacheSchema = z.strictObject({
  // Bifrost's keys.
  provider: z.string().min(1).optional(),
  // Bifrost's own keys for the embedding provider; Heimdall calls it through its pool, with that provider's keys.
  keys: z.array(z.unknown()).optional(),
  embedding_model: z.string().min(1).optional(),
  cleanup_on_shutdown: z.boolean().default(false),
  // Seconds, or a duration such as '5m'.
  ttl: durationMs(1000).pipe(z.number().min(1000, 'at least 1 s').max(31_536_000_000)).default(300_000),
  threshold: z.number().min(0).max(1).default(0.8),
  vector_store_namespace: z.string().min(1).max(64).default('default'),
  // Bifrost's direct-only switch: 1 means no embeddings.
  dimension: z.int().min(1).max(16_384).optional(),
  // Used when a request names no `x-bf-cache-key`: set, every request is cached.
  default_cache_key: z.string().min(1).max(256).optional(),
  conversation_history_threshold: z.int().min(1).max(10_000).default(3),
  cache_by_model: z.boolean().default(true),
  cache_by_provider: z.boolean().default(true),
  exclude_system_prompt: z.boolean().default(false),
  // Heimdall's own.
  // Entries are never shared between virtual keys unless this is turned off.
  cache_by_virtual_key: z.boolean().default(true),
  // `n > 1`, or a `temperature` above 0 with no `seed`: the client asked for variety, so such requests bypass the
  // cache unless this is on.
  cache_non_deterministic: z.boolean().default(false),
  max_entries: z.int().min(1).max(10_000_000).default(10_000),
  max_bytes: z.int().min(1024).max(2 ** 40).default(256 * 1024 * 1024),
  // An answer larger than this is not stored (a stream stops being captured once it passes it).
  max_entry_bytes: z.int().min(256).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
  // Identical requests while the first is being answered wait for it at most this long, then go upstream themselves.
  coalesce_wait_ms: z.int().min(0).max(600_000).default(10_000),
  // The embedded vector index keeps at most this many vectors per scope (the oldest go first).
  max_vectors_per_scope: z.int().min(1).max(100_000).default(2000),
  store: z.discriminatedUnion('type', [z.strictObject({ type: z.literal('memory') }), redisStore]).default({ type: 'memory' }),
});

export type RawCacheConfig = z.output<typeof semanticCacheSchema>;

export interface CacheStoreConfig {
  readonly type: 'memory' | 'redis';
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly maxVectorsPerScope: number;
}

export interface CacheConfig {
  readonly ttlMs: number;
  readonly threshold: number;
  readonly namespace: string;
  readonly defaultCacheKey: string | null;
  /** Conversations with more messages than this are not cached. */
  readonly maxMessages: number;
  readonly byModel: boolean;
  readonly byProvider: boolean;
  readonly byVirtualKey: boolean;
  readonly excludeSystemPrompt: boolean;
  readonly nonDeterministic: boolean;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  readonly coalesceWaitMs: number;
  readonly maxVectorsPerScope: number;
  /** Delete every entry of the store (Redis: under the key prefix) when the gateway shuts down. */
  readonly cleanupOnShutdown: boolean;
  /** The embedding provider and model; null in direct-only mode. */
  readonly embedding: { readonly provider: string; readonly model: string } | null;
  readonly store: CacheStoreConfig;
}

export interface CacheConfigProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * The validated entry as Heimdall's config; `problems` gets what is wrong with it. `embeds(provider)` says whether a
 * configured provider can make embeddings.
 */
export function normalizeCacheConfig(raw: RawCacheConfig, base: string, providers: ReadonlySet<string>,
  embeds: (provider: string) => boolean, problems: CacheConfigProblem[]): CacheConfig {
  const directOnly = raw.dimension === 1 || (raw.provider === undefined && raw.embedding_model === undefined);
  let embedding: CacheConfig['embedding'] = null;
  if (!directOnly) {
    if (raw.provider === undefined || raw.embedding_model === undefined) {
      problems.push({ path: `${base}.${raw.provider === undefined ? 'provider' : 'embedding_model'}`,
        message: 'provider and embedding_model go together (leave both out, or set dimension: 1, for direct-only caching)' });
    } else if (!providers.has(raw.provider)) {
      problems.push({ path: `${base}.provider`, message: `'${raw.provider}' is not a configured provider (configured: ${[...providers].join(', ')})` });
    } else if (!embeds(raw.provider)) {
      problems.push({ path: `${base}.provider`, message: `provider '${raw.provider}' cannot make embeddings` });
    } else {
      embedding = { provider: raw.provider, model: raw.embedding_model };
    }
  }
  const store = raw.store;
  return {
    ttlMs: raw.ttl,
    threshold: raw.threshold,
    namespace: raw.vector_store_namespace,
    defaultCacheKey: raw.default_cache_key ?? null,
    maxMessages: raw.conversation_history_threshold,
    byModel: raw.cache_by_model,
    byProvider: raw.cache_by_provider,
    byVirtualKey: raw.cache_by_virtual_key,
    excludeSystemPrompt: raw.exclude_system_prompt,
    nonDeterministic: raw.cache_non_deterministic,
    maxEntries: raw.max_entries,
    maxBytes: raw.max_bytes,
    maxEntryBytes: raw.max_entry_bytes,
    coalesceWaitMs: raw.coalesce_wait_ms,
    cleanupOnShutdown: raw.cleanup_on_shutdown,
    maxVectorsPerScope: store.type === 'redis' ? store.max_vectors_per_scope : raw.max_vectors_per_scope,
    embedding,
    store: store.type === 'redis'
      ? { type: 'redis', redisUrl: store.redis_url, keyPrefix: store.key_prefix, timeoutMs: store.timeout_ms, maxVectorsPerScope: store.max_vectors_per_scope }
      : { type: 'memory', redisUrl: '', keyPrefix: '', timeoutMs: 0, maxVectorsPerScope: raw.max_vectors_per_scope },
  };
}
