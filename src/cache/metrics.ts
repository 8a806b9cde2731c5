// The cache's counters, kept on the front thread and read by /metrics at scrape time (src/gateway.ts).

import type { LabelledFamily } from '../observability/metrics.js';

export const LOOKUP_RESULTS = ['hit', 'semantic-hit', 'miss', 'bypass'] as const;
export type LookupResult = (typeof LOOKUP_RESULTS)[number];

export class CacheCounters {
  readonly lookups: Record<LookupResult, number> = { hit: 0, 'semantic-hit': 0, miss: 0, bypass: 0 };
  stores = 0;
  evictions = 0;
  /** Lookups and writes the shared store failed or did not answer in time: each one a request that went on without it. */
  storeErrors = 0;
  embeddingErrors = 0;
  /** Requests that waited for an identical request's answer instead of going upstream. */
  coalesced = 0;
}

export function cacheFamilies(counters: CacheCounters, size: () => { entries: number; bytes: number }): LabelledFamily[] {
  const { entries, bytes } = size();
  const counter = (name: string, help: string, value: number): LabelledFamily =>
    ({ name, help, type: 'counter', aggregation: 'sum', labelNames: [], labels: [[]], values: [value] });
  return [
    { name: 'heimdall_cache_lookups_total', help: 'Response cache lookups by result (hit, semantic-hit, miss, bypass).',
      type: 'counter', aggregation: 'sum', labelNames: ['result'], labels: LOOKUP_RESULTS.map((result) => [result]),
      values: LOOKUP_RESULTS.map((result) => counters.lookups[result]) },
    counter('heimdall_cache_stores_total', 'Answers stored in the response cache.', counters.stores),
    counter('heimdall_cache_evictions_total', 'Live entries the embedded store dropped to stay within max_entries and max_bytes.',
      counters.evictions),
    counter('heimdall_cache_store_errors_total', 'Shared-store operations that failed or timed out (the request went on without the cache).',
      counters.storeErrors),
    counter('heimdall_cache_embedding_errors_total', 'Embedding calls that failed (the request was looked up by its exact key only).',
      counters.embeddingErrors),
    counter('heimdall_cache_coalesced_total', 'Requests answered by waiting for an identical request in flight.', counters.coalesced),
    { name: 'heimdall_cache_entries', help: 'Entries in the embedded response cache store.', type: 'gauge', aggregation: 'sum',
      labelNames: [], labels: [[]], values: [entries] },
    { name: 'heimdall_cache_bytes', help: 'Approximate bytes held by the embedded response cache store.', type: 'gauge',
      aggregation: 'sum', labelNames: [], labels: [[]], values: [bytes] },
  ];
}
