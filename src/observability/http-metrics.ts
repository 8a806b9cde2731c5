// The HTTP-level series: requests and their duration by route, method, status and the operator's own labels
// (`client.prometheus_labels`, from `x-bf-prom-<label>` headers). Only the front thread writes them, so they live in
// its memory rather than the shared shards, and only series that occurred take memory: the product of every label's
// slots (routes × methods × statuses × each custom label's values) would be megabytes per shard if laid out in full.

import { DURATION_BUCKETS, observeInto, type MetricType } from '../contract/metrics-layout.js';
import type { AccessRecord } from './access-log.js';
import { LabelTable } from './label-table.js';

export const METHOD_LABELS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const KNOWN_STATUSES = ['200', '204', '400', '401', '403', '404', '405', '408', '413', '415', '422', '429', '499',
  '500', '502', '503', '504'];
/** Room for statuses not listed above (a plugin's own), then `other`. */
const EXTRA_STATUS_SLOTS = 16;
/** Room for route labels: every route's is handed out at start-up; the rest is for per-request ones (GenAI actions). */
const ROUTE_SLOTS = 256;
/** Distinct values kept per custom label before `other`: a client-chosen header must not grow Prometheus at will. */
export const CUSTOM_LABEL_VALUES = 32;
/** The header a custom label's value comes from, as Bifrost names it. */
export const CUSTOM_LABEL_HEADER_PREFIX = 'x-bf-prom-';

/** A family whose series are made when first written: keyed by the mixed-radix number of their label slots. */
export class SparseFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  readonly tables: readonly LabelTable[];
  readonly buckets: readonly number[];
  readonly #width: number;
  readonly #series = new Map<number, Float64Array>();

  constructor(name: string, help: string, type: MetricType, labels: readonly [string, LabelTable][],
    buckets: readonly number[] = []) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.labelNames = labels.map(([labelName]) => labelName);
    this.tables = labels.map(([, table]) => table);
    this.buckets = buckets;
    this.#width = type === 'counter' ? 1 : buckets.length + 3;
  }

  #values(key: number): Float64Array {
    let values = this.#series.get(key);
    if (!values) this.#series.set(key, values = new Float64Array(this.#width));
    return values;
  }

  add(key: number, amount = 1): void {
    this.#values(key)[0] += amount;
  }

  observe(key: number, value: number): void {
    observeInto(this.#values(key), this.buckets, 0, value);
  }

  /** Every series written so far: its labels and its float64s (a counter's value; or buckets, +Inf, sum, count). */
  *series(): Generator<{ labels: Record<string, string>; values: Float64Array }> {
    for (const [key, values] of this.#series) {
      const slots: number[] = [];
      let rest = key;
      for (let i = this.tables.length - 1; i >= 0; i--) {
        const size = this.tables[i].size;
        slots.unshift(rest % size);
        rest = Math.floor(rest / size);
      }
      const labels: Record<string, string> = {};
      slots.forEach((slot, i) => {
        labels[this.labelNames[i]] = this.tables[i].values[slot];
      });
      yield { labels, values };
    }
  }
}

/** A custom label: its name in the series and the request header its value comes from. */
interface CustomLabel {
  readonly name: string;
  readonly header: string;
  readonly table: LabelTable;
}

export class HttpMetrics {
  readonly routes = new LabelTable([], ROUTE_SLOTS);
  readonly methods = new LabelTable(METHOD_LABELS, 0);
  readonly statuses = new LabelTable(KNOWN_STATUSES, EXTRA_STATUS_SLOTS);
  /** '' for a request no provider answered (a probe, a bad request); then the configured providers. */
  readonly providers: LabelTable;
  /** The front's model table, shared with the per-model shard series so a model has one slot everywhere. */
  readonly models: LabelTable;
  readonly custom: readonly CustomLabel[];
  readonly requests: SparseFamily;
  readonly duration: SparseFamily;
  readonly #customRadix: number;

  /** `customLabels`: `client.prometheus_labels`, already checked to be valid label names. */
  constructor(providers: readonly string[], models: LabelTable, customLabels: readonly string[]) {
    this.providers = new LabelTable(['', ...providers], 0);
    this.models = models;
    // An absent header is the value '', so a dashboard can tell untagged traffic from a team named "other".
    this.custom = customLabels.map((name) => ({ name, header: `${CUSTOM_LABEL_HEADER_PREFIX}${name.toLowerCase()}`,
      table: new LabelTable([''], CUSTOM_LABEL_VALUES) }));
    this.#customRadix = this.custom.reduce((n, label) => n * label.table.size, 1);
    const labels: [string, LabelTable][] = [['route', this.routes], ['method', this.methods], ['status', this.statuses],
      ['provider', this.providers], ['model', this.models], ...this.custom.map((label): [string, LabelTable] => [label.name, label.table])];
    if (labels.reduce((n, [, table]) => n * table.size, 1) > Number.MAX_SAFE_INTEGER) {
      throw new Error('too many label combinations for the HTTP series: fewer client.prometheus_labels');
    }
    this.requests = new SparseFamily('heimdall_http_requests_total',
      'HTTP requests answered, by route, method, status and the provider and model that answered last.', 'counter', labels);
    this.duration = new SparseFamily('heimdall_http_request_duration_seconds',
      'Time from request to last byte (a stream: to its end), by route, method, status, provider and model.', 'histogram',
      labels, DURATION_BUCKETS);
  }

  methodIndex(method: string): number {
    return this.methods.indexOf(method.toUpperCase());
  }

  /** The custom labels' slots as one number, from the request's headers (`header(name)` answers '' when absent). */
  customIndex(header: (name: string) => string): number {
    let index = 0;
    for (const label of this.custom) index = index * label.table.size + label.table.indexOf(header(label.header));
    return index;
  }

  record(access: AccessRecord, status: number, seconds: number): void {
    const answered = ((access.routeIndex * this.methods.size + access.methodIndex) * this.statuses.size
      + this.statuses.indexOf(String(status))) * this.providers.size + this.providers.indexOf(access.provider);
    const key = (answered * this.models.size + this.models.indexOf(access.model)) * this.#customRadix + access.customIndex;
    this.requests.add(key);
    this.duration.observe(key, seconds);
  }
}
