// /metrics: prom-client formats, the shared memory holds the numbers. The shard families are read at scrape
// time (summing every thread's shard); the HTTP families from the front thread's own memory; pool gauges from the
// pools, also at scrape time. Node's default metrics keep their usual names (`process_cpu_seconds_total`,
// `nodejs_heap_size_used_bytes`) so stock Node.js dashboards work unchanged.

import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MetricFamily, MetricsLayout, MetricType } from '../contract/metrics-layout.js';
import type { PoolStats } from '../dispatch/pool.js';
import type { HttpMetrics, SparseFamily } from './http-metrics.js';

/** How often the event-loop delay histogram (prom-client's `nodejs_eventloop_lag_*`) takes a sample. */
const EVENT_LOOP_SAMPLE_MS = 100;

const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface FamilyValues {
  name: string;
  help: string;
  type: string;
  values: MetricValue[];
  aggregator: string;
}

/**
 * Appends one series' samples: a counter's value, or a histogram's cumulative buckets (stored non-cumulative),
 * sum and count. `read(i)` is the series' i-th float64.
 */
function pushSeries(values: MetricValue[], name: string, type: MetricType, buckets: readonly number[],
  labels: Record<string, string>, read: (i: number) => number): void {
  if (type === 'counter') {
    const value = read(0);
    if (value !== 0) values.push({ value, labels });
    return;
  }
  const bucketCount = buckets.length;
  const count = read(bucketCount + 2);
  if (count === 0) return;
  let cumulative = 0;
  for (let b = 0; b <= bucketCount; b++) {
    cumulative += read(b);
    const le = b === bucketCount ? '+Inf' : buckets[b];
    values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${name}_bucket` });
  }
  values.push({ value: read(bucketCount + 1), labels, metricName: `${name}_sum` });
  values.push({ value: count, labels, metricName: `${name}_count` });
}

/** A prom-client metric whose values are the sum of one family over every thread's shard. */
class SharedFamilyMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum';
  readonly #family: MetricFamily;
  readonly #shards: Float64Array[];

  constructor(family: MetricFamily, shards: Float64Array[]) {
    this.#family = family;
    this.#shards = shards;
    this.name = family.name;
    this.help = family.help;
    this.type = family.type;
  }

  get(): FamilyValues {
    const family = this.#family;
    const shards = this.#shards;
    const values: MetricValue[] = [];
    for (let series = 0; series < family.seriesCount; series++) {
      const base = family.offset + series * family.seriesWidth;
      const read = (i: number) => {
        let total = 0;
        for (const shard of shards) total += shard[base + i];
        return total;
      };
      // A series with nothing in it is left out: most model slots and error codes of most providers stay empty.
      if (read(family.type === 'counter' ? 0 : family.buckets.length + 2) === 0) continue;
      pushSeries(values, family.name, family.type, family.buckets, family.labelsOf(series), read);
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

/** A prom-client metric over one of the front thread's own HTTP families. */
class SparseFamilyMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum';
  readonly #family: SparseFamily;

  constructor(family: SparseFamily) {
    this.#family = family;
    this.name = family.name;
    this.help = family.help;
    this.type = family.type;
  }

  get(): FamilyValues {
    const family = this.#family;
    const values: MetricValue[] = [];
    for (const series of family.series()) {
      pushSeries(values, family.name, family.type, family.buckets, series.labels, (i) => series.values[i]);
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

export interface PoolView {
  readonly name: string;
  readonly concurrencyLimit: number;
  stats(): PoolStats;
}

/** One circuit breaker as the state gauge reads it: 0 closed, 1 half-open, 2 open. */
export interface BreakerView {
  readonly provider: string;
  readonly key: string;
  /** The model a key's breaker for one model guards; null for the key's own breaker. */
  readonly model?: string | null;
  readonly state: number;
}

export interface MetricsRegistryOptions {
  readonly layout: MetricsLayout;
  readonly buffer: SharedArrayBuffer;
  readonly shardCount: number;
  readonly pools: () => Iterable<PoolView>;
  readonly breakers?: () => Iterable<BreakerView>;
  /** The front thread's HTTP families; absent in tests of the shared families alone. */
  readonly http?: HttpMetrics;
}

let packageVersion: string | null = null;
/** Heimdall's version, from its package.json (two levels above this file, in src/ and in dist/src/ alike). */
export function heimdallVersion(): string {
  if (packageVersion === null) {
    try {
      const url = new URL(import.meta.url.includes('/dist/') ? '../../../package.json' : '../../package.json', import.meta.url);
      packageVersion = String((JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      packageVersion = 'unknown';
    }
  }
  return packageVersion;
}

type RegistrableMetric = Parameters<Registry['registerMetric']>[0];

export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const { layout, buffer, shardCount, pools } = options;
  const breakers = options.breakers ?? (() => []);
  const registry = new Registry();
  const shards = Array.from({ length: shardCount },
    (_, i) => new Float64Array(buffer, i * layout.shardLength * 8, layout.shardLength));
  if (options.http) {
    for (const family of [options.http.requests, options.http.duration]) {
      registry.registerMetric(new SparseFamilyMetric(family) as unknown as RegistrableMetric);
    }
  }
  for (const family of layout.families) {
    registry.registerMetric(new SharedFamilyMetric(family, shards) as unknown as RegistrableMetric);
  }

  const poolGauge = (name: string, help: string, read: (pool: PoolView) => number) => new Gauge({
    name, help, labelNames: ['provider'], registers: [registry],
    collect() {
      for (const pool of pools()) this.set({ provider: pool.name }, read(pool));
    },
  });
  poolGauge('heimdall_pool_threads', "Worker threads in the provider's pool.", (pool) => pool.stats().threads);
  poolGauge('heimdall_pool_in_flight', 'Requests dispatched to the workers and not yet answered.', (pool) => pool.stats().inFlight);
  poolGauge('heimdall_pool_queue_depth', 'Requests waiting behind the concurrency limit.', (pool) => pool.stats().queued);
  poolGauge('heimdall_pool_concurrency_limit', 'The configured concurrency of the pool.', (pool) => pool.concurrencyLimit);
  poolGauge('heimdall_pool_utilization', 'In-flight requests as a share of the concurrency limit.',
    (pool) => pool.stats().inFlight / pool.concurrencyLimit);
  poolGauge('heimdall_pool_ring_slots_in_use', 'Ring slots holding messages not yet consumed, both directions.',
    (pool) => pool.stats().slotsInUse);

  new Gauge({
    name: 'heimdall_circuit_breaker_state',
    help: "A key's circuit breaker (no model label), or the key's breaker for one model: 0 closed, 1 half-open, 2 open.",
    labelNames: ['provider', 'key', 'model'], registers: [registry],
    collect() {
      // A key keeps a bounded set of model breakers and may replace one: only the current ones are exported.
      this.reset();
      for (const breaker of breakers()) {
        const labels = breaker.model ? { provider: breaker.provider, key: breaker.key, model: breaker.model }
          : { provider: breaker.provider, key: breaker.key };
        this.set(labels, breaker.state);
      }
    },
  });

  new Gauge({
    name: 'heimdall_build_info', help: 'Always 1: the running version of Heimdall and of Node.js, as labels.',
    labelNames: ['version', 'node_version', 'platform', 'arch'], registers: [registry],
  }).set({ version: heimdallVersion(), node_version: process.version, platform: process.platform, arch: process.arch }, 1);

  // The event-loop delay histogram samples on a timer; at prom-client's default 10 ms that timer wakes an idle
  // front thread a hundred times a second, and on a VM each wake-up costs more CPU than the request it interrupts.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  // Gauges that prom-client names like counters, which `promtool check metrics` refuses; their per-type
  // breakdown (`nodejs_active_handles{type}`, ...) stays, and `sum()` over it is the same number.
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
  return registry;
}
