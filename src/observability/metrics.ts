// /metrics: prom-client formats, the shared memory holds the numbers. The shard families are read at scrape
// time (summing every thread's shard); pool gauges are read from the pools, also at scrape time.

import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MetricFamily, MetricsLayout } from '../contract/metrics-layout.js';
import type { PoolStats } from '../dispatch/pool.js';

/** How often the event-loop delay histogram (prom-client's `nodejs_eventloop_lag_*`) takes a sample. */
const EVENT_LOOP_SAMPLE_MS = 100;

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A prom-client metric whose values are the sum of one family over every thread's shard. */
class SharedFamilyMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
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

  #sum(offset: number): number {
    let total = 0;
    for (const shard of this.#shards) total += shard[offset];
    return total;
  }

  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    const family = this.#family;
    const values: MetricValue[] = [];
    for (let series = 0; series < family.seriesCount; series++) {
      const base = family.offset + series * family.seriesWidth;
      if (family.type === 'counter') {
        const value = this.#sum(base);
        if (value !== 0) values.push({ value, labels: family.labelsOf(series) });
        continue;
      }
      const bucketCount = family.buckets.length;
      const count = this.#sum(base + bucketCount + 2);
      if (count === 0) continue;
      const labels = family.labelsOf(series);
      let cumulative = 0;
      for (let b = 0; b <= bucketCount; b++) {
        cumulative += this.#sum(base + b);
        const le = b === bucketCount ? '+Inf' : family.buckets[b];
        values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${family.name}_bucket` });
      }
      values.push({ value: this.#sum(base + bucketCount + 1), labels, metricName: `${family.name}_sum` });
      values.push({ value: count, labels, metricName: `${family.name}_count` });
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

export function createMetricsRegistry(layout: MetricsLayout, buffer: SharedArrayBuffer, shardCount: number,
  pools: () => Iterable<PoolView>, breakers: () => Iterable<BreakerView> = () => []): Registry {
  const registry = new Registry();
  const shards = Array.from({ length: shardCount },
    (_, i) => new Float64Array(buffer, i * layout.shardLength * 8, layout.shardLength));
  for (const family of layout.families) {
    registry.registerMetric(new SharedFamilyMetric(family, shards) as unknown as Parameters<Registry['registerMetric']>[0]);
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

  // The event-loop delay histogram samples on a timer; at prom-client's default 10 ms that timer wakes an idle
  // front thread a hundred times a second, and on a VM each wake-up costs more CPU than the request it interrupts.
  collectDefaultMetrics({ register: registry, prefix: 'heimdall_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}
