// The fixed layout of the shared metrics memory. Every thread owns one shard (a run of float64s) and is its
// only writer, so increments are plain stores with no Atomics and no contention; `/metrics` sums the shards at
// scrape time. Both threads build the same layout from the same provider list, so offsets agree without
// being sent. Label values are fixed at boot, which also keeps cardinality bounded.

/** Native routes are counted by their prefix (`/anthropic`, …), so the label set stays small and fixed. */
export const ROUTE_LABELS = ['/v1/chat/completions', '/v1/embeddings', '/v1/completions', '/v1/responses', '/v1/models',
  '/v1/audio', '/v1/images', '/openai', '/anthropic', '/genai', '/bedrock', '/health', '/metrics', 'other'] as const;
export const STATUS_LABELS = ['200', '400', '401', '403', '404', '405', '413', '415', '429', '499', '500', '502',
  '503', '504', 'other'] as const;
export const TOKEN_DIRECTIONS = ['input', 'output'] as const;
/** The states a key's circuit breaker enters, in the front thread's numbering (0 closed, 1 half-open, 2 open). */
export const BREAKER_STATES = ['closed', 'half_open', 'open'] as const;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// Overhead is the gateway's own time, tens of microseconds to a few milliseconds.
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export type MetricType = 'counter' | 'histogram';

export class MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  readonly labelValues: readonly (readonly string[])[];
  readonly buckets: readonly number[];
  /** Float64s per label combination: 1 for a counter; buckets, +Inf, sum and count for a histogram. */
  readonly seriesWidth: number;
  readonly offset: number;
  readonly seriesCount: number;

  constructor(name: string, help: string, type: MetricType, labels: Record<string, readonly string[]>,
    buckets: readonly number[], offset: number) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.labelNames = Object.keys(labels);
    this.labelValues = Object.values(labels);
    this.buckets = buckets;
    this.seriesWidth = type === 'counter' ? 1 : buckets.length + 3;
    this.seriesCount = this.labelValues.reduce((n, values) => n * values.length, 1);
    this.offset = offset;
  }

  get width(): number {
    return this.seriesWidth * this.seriesCount;
  }

  /** The shard offset of one label combination, given each label's index in its value list. */
  seriesOffset(...labelIndexes: number[]): number {
    let series = 0;
    for (let i = 0; i < labelIndexes.length; i++) series = series * this.labelValues[i].length + labelIndexes[i];
    return this.offset + series * this.seriesWidth;
  }

  /** Label values of series number `series`, the inverse of seriesOffset. */
  labelsOf(series: number): Record<string, string> {
    const labels: Record<string, string> = {};
    for (let i = this.labelNames.length - 1; i >= 0; i--) {
      const values = this.labelValues[i];
      labels[this.labelNames[i]] = values[series % values.length];
      series = Math.floor(series / values.length);
    }
    return labels;
  }
}

export interface MetricsLayout {
  readonly providers: readonly string[];
  readonly httpRequests: MetricFamily;
  readonly httpDuration: MetricFamily;
  readonly overhead: MetricFamily;
  readonly timeToFirstToken: MetricFamily;
  readonly tokens: MetricFamily;
  readonly upstreamRequests: MetricFamily;
  readonly upstreamErrors: MetricFamily;
  readonly upstreamLatency: MetricFamily;
  readonly retries: MetricFamily;
  readonly fallbacks: MetricFamily;
  readonly breakerTransitions: MetricFamily;
  readonly families: readonly MetricFamily[];
  /** Float64s per shard. */
  readonly shardLength: number;
}

export function createMetricsLayout(providers: readonly string[]): MetricsLayout {
  const families: MetricFamily[] = [];
  let offset = 0;
  const add = (name: string, help: string, type: MetricType, labels: Record<string, readonly string[]>,
    buckets: readonly number[] = []): MetricFamily => {
    const family = new MetricFamily(name, help, type, labels, buckets, offset);
    offset += family.width;
    families.push(family);
    return family;
  };
  const provider = { provider: providers };
  const layout = {
    providers,
    httpRequests: add('heimdall_http_requests_total', 'HTTP requests answered, by route and status.', 'counter',
      { route: ROUTE_LABELS, status: STATUS_LABELS }),
    httpDuration: add('heimdall_http_request_duration_seconds', 'Time from request to last byte, by route.',
      'histogram', { route: ROUTE_LABELS }, DURATION_BUCKETS),
    overhead: add('heimdall_overhead_seconds', "The gateway's own time: total minus time waiting on the provider.",
      'histogram', provider, OVERHEAD_BUCKETS),
    timeToFirstToken: add('heimdall_time_to_first_token_seconds', 'Time from request to the first streamed chunk.',
      'histogram', provider, DURATION_BUCKETS),
    tokens: add('heimdall_tokens_total', 'Tokens reported by providers, input (prompt) and output (completion).',
      'counter', { ...provider, direction: TOKEN_DIRECTIONS }),
    upstreamRequests: add('heimdall_upstream_requests_total', 'Requests sent to providers.', 'counter', provider),
    upstreamErrors: add('heimdall_upstream_errors_total', 'Provider calls that failed (status, network, timeout).',
      'counter', provider),
    upstreamLatency: add('heimdall_upstream_latency_seconds', 'Time waiting on the provider, per call.',
      'histogram', provider, DURATION_BUCKETS),
    retries: add('heimdall_retries_total', 'Retries of a failed call on the same provider (front thread).',
      'counter', provider),
    fallbacks: add('heimdall_fallbacks_total', 'Requests that moved on to their next fallback after this provider failed.',
      'counter', provider),
    breakerTransitions: add('heimdall_circuit_breaker_transitions_total',
      "Times one of the provider's key breakers entered a state.", 'counter', { ...provider, state: BREAKER_STATES }),
  };
  return { ...layout, families, shardLength: offset };
}

export function statusLabelIndex(status: number): number {
  const index = STATUS_LABELS.indexOf(String(status) as (typeof STATUS_LABELS)[number]);
  return index === -1 ? STATUS_LABELS.length - 1 : index;
}

export function routeLabelIndex(route: string): number {
  const index = ROUTE_LABELS.indexOf(route as (typeof ROUTE_LABELS)[number]);
  return index === -1 ? ROUTE_LABELS.length - 1 : index;
}

/** One thread's view of its own shard: the only writer of these float64s. */
export class MetricsShard {
  readonly #values: Float64Array;

  constructor(buffer: SharedArrayBuffer, layout: MetricsLayout, shardIndex: number) {
    this.#values = new Float64Array(buffer, shardIndex * layout.shardLength * 8, layout.shardLength);
  }

  add(seriesOffset: number, amount = 1): void {
    this.#values[seriesOffset] += amount;
  }

  observe(family: MetricFamily, seriesOffset: number, value: number): void {
    const buckets = family.buckets;
    let bucket = 0;
    while (bucket < buckets.length && value > buckets[bucket]) bucket++;
    // Buckets are stored non-cumulative; the reader accumulates them at scrape time.
    this.#values[seriesOffset + bucket] += 1;
    this.#values[seriesOffset + buckets.length + 1] += value;
    this.#values[seriesOffset + buckets.length + 2] += 1;
  }
}

export function createMetricsBuffer(layout: MetricsLayout, shardCount: number): SharedArrayBuffer {
  return new SharedArrayBuffer(layout.shardLength * shardCount * 8);
}
