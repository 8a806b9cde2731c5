// What each thread role holds, for /metrics: the front thread's V8 heap read at scrape time, and each provider pool's
// threads' heaps as the workers last wrote them into shared memory (src/contract/worker-init.ts). No message and no
// timer: an idle pool's figures are the ones it wrote when it last settled a job, and a cold pool shows zeros.
// Also when each pool last started and how long that took, the price a request pays when its pool is cold.

import { getHeapStatistics } from 'node:v8';
import { MEMORY_EXTERNAL, MEMORY_HEAP_TOTAL, MEMORY_HEAP_USED } from '../contract/worker-init.js';
import type { ScrapeGauge } from './metrics.js';

export interface PoolMemoryView {
  readonly provider: { readonly name: string };
  threadMemory(): readonly Float64Array[];
  readonly starts: { readonly count: number; readonly lastMs: number };
}

const KINDS = [['heap_used', MEMORY_HEAP_USED], ['heap_total', MEMORY_HEAP_TOTAL], ['external', MEMORY_EXTERNAL]] as const;

export function memoryGauges(pools: () => Iterable<PoolMemoryView>): ScrapeGauge[] {
  return [
    {
      name: 'heimdall_front_memory_bytes',
      help: "The front thread's V8 heap: in use, committed, and memory outside it (buffers).",
      labelNames: ['kind'],
      aggregation: 'sum',
      read: () => {
        const heap = getHeapStatistics();
        return [{ labels: ['heap_used'], value: heap.used_heap_size }, { labels: ['heap_total'], value: heap.total_heap_size },
          { labels: ['external'], value: heap.external_memory }];
      },
    },
    {
      name: 'heimdall_pool_memory_bytes',
      help: "A provider pool's worker threads' V8 heaps, summed, as they last reported them; 0 while the pool is cold.",
      labelNames: ['provider', 'kind'],
      aggregation: 'sum',
      read: () => {
        const series: { labels: string[]; value: number }[] = [];
        for (const pool of pools()) {
          const threads = pool.threadMemory();
          for (const [kind, field] of KINDS) {
            series.push({ labels: [pool.provider.name, kind], value: threads.reduce((sum, memory) => sum + memory[field], 0) });
          }
        }
        return series;
      },
    },
    {
      name: 'heimdall_pool_starts',
      help: "How often the pool's threads were started since boot (on first use, or again after they retired idle).",
      labelNames: ['provider'],
      aggregation: 'sum',
      read: () => [...pools()].map((pool) => ({ labels: [pool.provider.name], value: pool.starts.count })),
    },
    {
      name: 'heimdall_pool_last_start_seconds',
      help: "How long the pool's last start took until every thread served: what a request waits on a cold pool.",
      labelNames: ['provider'],
      aggregation: 'max',
      read: () => [...pools()].map((pool) => ({ labels: [pool.provider.name], value: pool.starts.lastMs / 1000 })),
    },
  ];
}
