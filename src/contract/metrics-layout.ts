// The fixed layout of the shared metrics memory. Every thread owns one shard (a run of float64s) and is its
// only writer, so increments are plain stores with no Atomics and no contention; `/metrics` sums the shards at
// scrape time. Both threads build the same layout from the same spec (sent to workers at start), so offsets agree.
// Label values are fixed in number at boot, which keeps cardinality bounded: the `model` label has a fixed count of
// slots whose names only the front thread knows (it hands out the slot and sends its index with each job).
// HTTP-level series are written by the front thread alone and live outside this memory (src/observability/).

import { ERROR_CODES } from '../errors/codes.js';

export const TOKEN_DIRECTIONS = ['input', 'output'] as const;
/** Why an answered request has no cost: its model has no price, or its provider reported no usage to price. */
export const UNPRICED_REASONS = ['no_price', 'no_usage'] as const;
/** The states a key's circuit breaker enters, in the front thread's numbering (0 closed, 1 half-open, 2 open). */
export const BREAKER_STATES = ['closed', 'half_open', 'open'] as const;
/** Every error code, lower case as in error bodies: the upstream error series tells a 429 from a 5xx or a timeout. */
export const ERROR_CODE_LABELS: readonly string[] = Object.keys(ERROR_CODES).map((code) => code.toLowerCase());

/**
 * Upstream calls, streams and request durations run from milliseconds to many minutes (reasoning models, long
 * generations): the buckets reach ten minutes so a slow tail is not all in +Inf.
 */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60,
  120, 300, 600];
// Overhead is the gateway's own time, tens of microseconds to a few milliseconds.
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export type MetricType = 'counter' | 'histogram';

export class MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Per label, its values by index. A list may be filled in later (the model slots), never resized. */
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

  /** The number of one label combination, given each label's index in its value list. */
  seriesNumber(...labelIndexes: number[]): number {
    let series = 0;
    for (let i = 0; i < labelIndexes.length; i++) series = series * this.labelValues[i].length + labelIndexes[i];
    return series;
  }

  /** The shard offset of one label combination, given each label's index in its value list. */
  seriesOffset(...labelIndexes: number[]): number {
    return this.offset + this.seriesNumber(...labelIndexes) * this.seriesWidth;
  }

  /** Label values of series number `series`, the inverse of seriesNumber. */
  labelsOf(series: number): Record<string, string> {
    const slots: number[] = [];
    for (let i = this.labelNames.length - 1; i >= 0; i--) {
      slots.unshift(series % this.labelValues[i].length);
      series = Math.floor(series / this.labelValues[i].length);
    }
    const labels: Record<string, string> = {};
    slots.forEach((slot, i) => {
      labels[this.labelNames[i]] = this.labelValues[i][slot];
    });
    return labels;
  }
}

/** The model label's first slot, '': a call that is about no model (listing a provider's models). */
export const NO_MODEL_SLOT = 0;

/** What both threads build the layout from: sent to every worker in its WorkerInit. */
export interface MetricsSpec {
  /** Provider names in config order. */
  readonly providers: readonly string[];
  /** How many values the `model` label can take, its last slot being `other`. */
  readonly modelSlots: number;
}

export interface MetricsLayout {
  readonly providers: readonly string[];
  readonly overhead: MetricFamily;
  readonly timeToFirstToken: MetricFamily;
  readonly tokens: MetricFamily;
  readonly upstreamRequests: MetricFamily;
  readonly upstreamErrors: MetricFamily;
  readonly upstreamLatency: MetricFamily;
  readonly retries: MetricFamily;
  readonly fallbacks: MetricFamily;
  readonly breakerTransitions: MetricFamily;
  readonly cost: MetricFamily;
  readonly unpriced: MetricFamily;
  readonly streamHolds: MetricFamily;
  readonly families: readonly MetricFamily[];
  /** Float64s per shard. */
  readonly shardLength: number;
}

/**
 * `modelNames` is the front thread's live table of model label values (length `spec.modelSlots`), read at scrape
 * time; a worker, which only counts by index, leaves it out.
 */
export function createMetricsLayout(spec: MetricsSpec, modelNames?: readonly string[]): MetricsLayout {
  if (modelNames && modelNames.length !== spec.modelSlots) throw new Error('the model table must have modelSlots entries');
  const families: MetricFamily[] = [];
  let offset = 0;
  const add = (name: string, help: string, type: MetricType, labels: Record<string, readonly string[]>,
    buckets: readonly number[] = []): MetricFamily => {
    const family = new MetricFamily(name, help, type, labels, buckets, offset);
    offset += family.width;
    families.push(family);
    return family;
  };
  const provider = { provider: spec.providers };
  const model = { ...provider, model: modelNames ?? Array.from({ length: spec.modelSlots }, () => '') };
  const layout = {
    providers: spec.providers,
    overhead: add('heimdall_overhead_seconds', "The gateway's own time: total minus time waiting on the provider.",
      'histogram', model, OVERHEAD_BUCKETS),
    timeToFirstToken: add('heimdall_time_to_first_token_seconds', 'Time from request to the first streamed chunk.',
      'histogram', model, DURATION_BUCKETS),
    tokens: add('heimdall_tokens_total', 'Tokens reported by providers, input (prompt) and output (completion).',
      'counter', { ...model, direction: TOKEN_DIRECTIONS }),
    upstreamRequests: add('heimdall_upstream_requests_total', 'Calls sent to providers, retries included.', 'counter', model),
    upstreamErrors: add('heimdall_upstream_errors_total',
      'Provider calls that failed, by error code (upstream_rate_limited is a 429, upstream_error a 5xx, ...).',
      'counter', { ...model, code: ERROR_CODE_LABELS }),
    upstreamLatency: add('heimdall_upstream_latency_seconds', 'Time waiting on the provider, per call.',
      'histogram', model, DURATION_BUCKETS),
    retries: add('heimdall_retries_total', 'Retries of a failed call on the same provider and model (front thread).',
      'counter', model),
    fallbacks: add('heimdall_fallbacks_total', 'Requests that moved on to their next fallback after this provider and model failed.',
      'counter', model),
    breakerTransitions: add('heimdall_circuit_breaker_transitions_total',
      "Times one of the provider's key breakers entered a state.", 'counter', { ...provider, state: BREAKER_STATES }),
    // Written by the front thread, which prices each answer when it settles (src/pricing/).
    cost: add('heimdall_cost_usd_total', 'USD spent at providers, priced from the price table and pricing_overrides.',
      'counter', model),
    unpriced: add('heimdall_cost_unpriced_requests_total',
      'Answered requests left without a cost: the model has no price (no_price) or the provider reported no usage (no_usage).',
      'counter', { ...model, reason: UNPRICED_REASONS }),
    // Written by a provider worker when a stream's read waits for the front to take its backlog (workers/job.ts).
    streamHolds: add('heimdall_stream_holds_total',
      "Times a stream stopped reading its provider until the front thread caught up with the worker's messages.",
      'counter', provider),
  };
  return { ...layout, families, shardLength: offset };
}

export function errorCodeLabelIndex(code: string): number {
  return ERROR_CODE_LABELS.indexOf(code.toLowerCase());
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
    observeInto(this.#values, family.buckets, seriesOffset, value);
  }
}

/** A histogram observation into `values` at `at`: buckets (non-cumulative; summed at scrape time), +Inf, sum, count. */
export function observeInto(values: Float64Array, buckets: readonly number[], at: number, value: number): void {
  let bucket = 0;
  while (bucket < buckets.length && value > buckets[bucket]) bucket++;
  values[at + bucket] += 1;
  values[at + buckets.length + 1] += value;
  values[at + buckets.length + 2] += 1;
}

export function createMetricsBuffer(layout: MetricsLayout, shardCount: number): SharedArrayBuffer {
  return new SharedArrayBuffer(layout.shardLength * shardCount * 8);
}
