// /metrics: prom-client formats, the shared memory holds the numbers. The shard families are read at scrape
// time (summing every thread's shard); the HTTP families from the front thread's own memory; pool gauges from the
// pools, also at scrape time. Node's default metrics keep their usual names (`process_cpu_seconds_total`,
// `nodejs_heap_size_used_bytes`) so stock Node.js dashboards work unchanged.

import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MetricFamily, MetricsLayout, MetricType } from '../contract/metrics-layout.js';
import type { PoolStats } from '../dispatch/pool.js';
import { seriesKey, type MetricsSnapshot, type SnapshotAggregation, type SnapshotFamily } from './cluster-metrics.js';
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
  /** Front-thread families of optional features (MCP), exported after the HTTP ones. */
  readonly extraFamilies?: readonly SparseFamily[];
  /** Gauges read at scrape time from a feature's state (whether each MCP client is connected). */
  readonly extraGauges?: readonly ScrapeGauge[];
  /** Unlabelled counters kept elsewhere (the request log's), read at each scrape. */
  readonly counters?: () => readonly { readonly name: string; readonly help: string; readonly value: number }[];
  /** Labelled families kept elsewhere (governance's, per virtual key), read at each scrape. */
  readonly labelled?: () => readonly LabelledFamily[];
}

/** A family another module keeps: its series' label values and values, in the same order. */
export interface LabelledFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly aggregation: SnapshotAggregation;
  readonly labelNames: readonly string[];
  readonly labels: (string | null)[][];
  readonly values: number[];
}

/** A gauge whose series are read when scraped: label values in `labelNames`' order, and the value. */
export interface ScrapeGauge {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly aggregation: SnapshotAggregation;
  read(): readonly { readonly labels: readonly string[]; readonly value: number }[];
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

interface PoolGaugeSpec {
  readonly name: string;
  readonly help: string;
  /** How the cluster combines it (see SnapshotAggregation); one process reads `read`. */
  readonly aggregation: SnapshotAggregation;
  read(pool: PoolView, stats: PoolStats): number;
}

const POOL_GAUGES: readonly PoolGaugeSpec[] = [
  { name: 'heimdall_pool_threads', help: "Worker threads in the provider's pool.", aggregation: 'sum',
    read: (_pool, stats) => stats.threads },
  { name: 'heimdall_pool_in_flight', help: 'Requests dispatched to the workers and not yet answered.', aggregation: 'sum',
    read: (_pool, stats) => stats.inFlight },
  { name: 'heimdall_pool_queue_depth', help: 'Requests waiting behind the concurrency limit.', aggregation: 'sum',
    read: (_pool, stats) => stats.queued },
  // The configured limit, not a sum: with limits held gateway-wide, N processes share one `concurrency`.
  { name: 'heimdall_pool_concurrency_limit', help: 'The configured concurrency of the pool.', aggregation: 'newest',
    read: (pool) => pool.concurrencyLimit },
  { name: 'heimdall_pool_utilization', help: 'In-flight requests as a share of the concurrency limit.',
    aggregation: { ratio: ['heimdall_pool_in_flight', 'heimdall_pool_concurrency_limit'] },
    read: (pool, stats) => stats.inFlight / pool.concurrencyLimit },
  { name: 'heimdall_pool_ring_slots_in_use', help: 'Ring slots holding messages not yet consumed, both directions.',
    aggregation: 'sum', read: (_pool, stats) => stats.slotsInUse },
];

const BREAKER_GAUGE = {
  name: 'heimdall_circuit_breaker_state',
  help: "A key's circuit breaker (no model label), or the key's breaker for one model: 0 closed, 1 half-open, 2 open.",
  labelNames: ['provider', 'key', 'model'],
} as const;

const BUILD_INFO = {
  name: 'heimdall_build_info',
  help: 'Always 1: the running version of Heimdall and of Node.js, as labels.',
  labelNames: ['version', 'node_version', 'platform', 'arch'],
} as const;

function buildInfoLabels(): [string, string, string, string] {
  return [heimdallVersion(), process.version, process.platform, process.arch];
}

export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const { layout, buffer, shardCount, pools } = options;
  const breakers = options.breakers ?? (() => []);
  const registry = new Registry();
  const shards = Array.from({ length: shardCount },
    (_, i) => new Float64Array(buffer, i * layout.shardLength * 8, layout.shardLength));
  const sparseFamilies = [...(options.http ? [options.http.requests, options.http.duration] : []), ...options.extraFamilies ?? []];
  for (const family of sparseFamilies) registry.registerMetric(new SparseFamilyMetric(family) as unknown as RegistrableMetric);
  for (const spec of options.extraGauges ?? []) {
    new Gauge({
      name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry],
      collect() {
        this.reset();
        for (const { labels, value } of spec.read()) {
          this.set(Object.fromEntries(spec.labelNames.map((name, i) => [name, labels[i]])), value);
        }
      },
    });
  }
  for (const family of layout.families) {
    registry.registerMetric(new SharedFamilyMetric(family, shards) as unknown as RegistrableMetric);
  }

  for (const spec of POOL_GAUGES) {
    new Gauge({
      name: spec.name, help: spec.help, labelNames: ['provider'], registers: [registry],
      collect() {
        for (const pool of pools()) this.set({ provider: pool.name }, spec.read(pool, pool.stats()));
      },
    });
  }

  new Gauge({
    name: BREAKER_GAUGE.name, help: BREAKER_GAUGE.help, labelNames: BREAKER_GAUGE.labelNames, registers: [registry],
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

  const [version, nodeVersion, platform, arch] = buildInfoLabels();
  new Gauge({ name: BUILD_INFO.name, help: BUILD_INFO.help, labelNames: BUILD_INFO.labelNames, registers: [registry] })
    .set({ version, node_version: nodeVersion, platform, arch }, 1);

  // The event-loop delay histogram samples on a timer; at prom-client's default 10 ms that timer wakes an idle
  // front thread a hundred times a second, and on a VM each wake-up costs more CPU than the request it interrupts.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  // Gauges that prom-client names like counters, which `promtool check metrics` refuses; their per-type
  // breakdown (`nodejs_active_handles{type}`, ...) stays, and `sum()` over it is the same number.
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
  return registry;
}

interface NodeMetric {
  readonly name: string;
  get(): Promise<MetricsSnapshot['node'][number]> | MetricsSnapshot['node'][number];
}

/** A snapshot family from label values and float64s gathered series by series. */
function snapshotFamily(name: string, help: string, type: SnapshotFamily['type'], aggregation: SnapshotAggregation,
  labelNames: readonly string[], buckets: readonly number[], labels: (string | null)[][], values: number[] | Float64Array): SnapshotFamily {
  return { name, help, type, aggregation, labelNames, buckets, series: labels.map(seriesKey),
    values: values instanceof Float64Array ? values : Float64Array.from(values) };
}

/**
 * What this process's /metrics exposes, as plain data for renderClusterMetrics: the same series (empty shard
 * series left out alike), label values as strings. `registry` is this process's, for Node's default metrics.
 */
export function createMetricsSnapshotter(options: MetricsRegistryOptions, registry: Registry, startedAt = Date.now()): () => Promise<MetricsSnapshot> {
  const { layout, buffer, shardCount, pools } = options;
  const breakers = options.breakers ?? (() => []);
  const whole = new Float64Array(buffer, 0, layout.shardLength * shardCount);
  // getMetricsAsArray's type says MetricObject; the registry holds prom-client's metric instances.
  const nodeMetrics = (registry.getMetricsAsArray() as unknown as NodeMetric[]).filter((metric) => !metric.name.startsWith('heimdall_'));

  const sparse = (family: SparseFamily): SnapshotFamily => {
    const labels: (string | null)[][] = [];
    const values: number[] = [];
    for (const series of family.series()) {
      labels.push(family.labelNames.map((name) => series.labels[name]));
      for (const value of series.values) values.push(value);
    }
    return snapshotFamily(family.name, family.help, family.type, 'sum', family.labelNames, family.buckets, labels, values);
  };

  const shared = (family: MetricFamily): SnapshotFamily => {
    const width = family.seriesWidth;
    const emptyAt = family.type === 'counter' ? 0 : family.buckets.length + 2;
    const labels: (string | null)[][] = [];
    const values: number[] = [];
    const sum = new Float64Array(width);
    for (let series = 0; series < family.seriesCount; series++) {
      const base = family.offset + series * width;
      sum.fill(0);
      for (let shard = 0; shard < shardCount; shard++) {
        const at = shard * layout.shardLength + base;
        for (let i = 0; i < width; i++) sum[i] += whole[at + i];
      }
      if (sum[emptyAt] === 0) continue;
      const named = family.labelsOf(series);
      labels.push(family.labelNames.map((name) => named[name]));
      for (let i = 0; i < width; i++) values.push(sum[i]);
    }
    return snapshotFamily(family.name, family.help, family.type, 'sum', family.labelNames, family.buckets, labels, values);
  };

  return async () => {
    const families: SnapshotFamily[] = [];
    if (options.http) families.push(sparse(options.http.requests), sparse(options.http.duration));
    for (const family of options.extraFamilies ?? []) families.push(sparse(family));
    for (const family of layout.families) families.push(shared(family));

    const poolList = [...pools()];
    const stats = poolList.map((pool) => pool.stats());
    const poolLabels = poolList.map((pool) => [pool.name]);
    for (const spec of POOL_GAUGES) {
      families.push(snapshotFamily(spec.name, spec.help, 'gauge', spec.aggregation, ['provider'], [], poolLabels,
        poolList.map((pool, i) => spec.read(pool, stats[i]))));
    }
    const breakerLabels: (string | null)[][] = [];
    const breakerStates: number[] = [];
    for (const breaker of breakers()) {
      breakerLabels.push([breaker.provider, breaker.key, breaker.model ? breaker.model : null]);
      breakerStates.push(breaker.state);
    }
    // The worst state any process sees: a key that is open in one process is failing for the traffic sent there.
    families.push(snapshotFamily(BREAKER_GAUGE.name, BREAKER_GAUGE.help, 'gauge', 'max', BREAKER_GAUGE.labelNames, [],
      breakerLabels, breakerStates));
    for (const spec of options.extraGauges ?? []) {
      const series = spec.read();
      families.push(snapshotFamily(spec.name, spec.help, 'gauge', spec.aggregation, spec.labelNames, [],
        series.map((s) => [...s.labels]), series.map((s) => s.value)));
    }
    for (const counter of options.counters?.() ?? []) {
      families.push(snapshotFamily(counter.name, counter.help, 'counter', 'sum', [], [], [[]], [counter.value]));
    }
    for (const f of options.labelled?.() ?? []) {
      families.push(snapshotFamily(f.name, f.help, f.type, f.aggregation, f.labelNames, [], f.labels, f.values));
    }
    // Every version running (two during a rolling upgrade) shows, each as 1.
    families.push(snapshotFamily(BUILD_INFO.name, BUILD_INFO.help, 'gauge', 'max', BUILD_INFO.labelNames, [],
      [buildInfoLabels()], [1]));

    const node = await Promise.all(nodeMetrics.map((metric) => metric.get()));
    return { pid: process.pid, startedAt, families, node };
  };
}
