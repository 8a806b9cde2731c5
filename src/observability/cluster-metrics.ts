// One /metrics for many gateway processes. Each process hands the supervisor a MetricsSnapshot: its series as plain
// data with every label value already a string (the model label's slots are handed out per process in order of
// first sight, so slot numbers mean nothing across processes), numbers in one flat Float64Array per family.
// renderClusterMetrics sums them and writes the exposition a single process writes, with the same names, labels,
// HELP and TYPE, plus the cluster's own two families. Node's default metrics are merged by prom-client's own
// aggregators (the ones its AggregatorRegistry applies), since prom-client defines them.

import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/**
 * How one family's series combine over processes:
 * - `sum`: counters, histograms (bucket-wise) and additive gauges (threads, in flight, queue depth).
 * - `max`: the worst of the processes' values (a breaker's state: open anywhere is open), or "present anywhere"
 *   for info gauges whose value is always 1.
 * - `newest`: the value of the most recently started process, for what is configured rather than measured: during a
 *   rolling reload the newest process runs the newest config.
 * - `ratio`: recomputed from two merged families, never averaged (utilization = in flight / limit).
 */
export type SnapshotAggregation = 'sum' | 'max' | 'newest' | { readonly ratio: readonly [numerator: string, denominator: string] };

export interface SnapshotFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram' | 'gauge';
  readonly aggregation: SnapshotAggregation;
  readonly labelNames: readonly string[];
  /** A histogram's upper bounds (without +Inf); empty otherwise. */
  readonly buckets: readonly number[];
  /**
   * Per series, its label values in labelNames' order joined into one key (seriesKey): one string per series is
   * what the primary looks up as it sums, and what a structured clone copies fastest.
   */
  readonly series: readonly string[];
  /**
   * Per series `width` float64s, series after series: a counter's or gauge's value; a histogram's buckets
   * (non-cumulative), +Inf, sum and count.
   */
  readonly values: Float64Array;
}

export interface MetricsSnapshot {
  readonly pid: number;
  /** When this process's gateway started (ms since the epoch): picks the newest config for `newest` families. */
  readonly startedAt: number;
  /** Heimdall's own families, in exposition order. */
  readonly families: readonly SnapshotFamily[];
  /** Node's default metrics (process_*, nodejs_*) as prom-client's getMetricsAsJSON gives them. */
  readonly node: readonly MetricObjectWithValues<MetricValue<string>>[];
}

export interface ClusterInfo {
  /** Processes serving now. */
  readonly processes: number;
  /** Restarts so far per process slot (the supervisor's name for it: "0", "1", ...). */
  readonly restarts: Readonly<Record<string, number>>;
}

const SEPARATOR = '\u0000';
/** Stands for a label the series does not carry (a key's own breaker has no model), which differs from ''. */
const ABSENT = '\u0001';
const HAS_CONTROL = /[\u0000\u0001]/;
const CONTROLS = /[\u0000\u0001]/g;

/**
 * One series' key from its label values (null: the label is absent). A value's own NUL or SOH, which only a
 * client's made-up model name could hold, becomes U+FFFD so that keys split back into the same labels.
 */
export function seriesKey(values: readonly (string | null)[]): string {
  let key = '';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) key += SEPARATOR;
    key += value === null ? ABSENT : HAS_CONTROL.test(value) ? value.replace(CONTROLS, '\ufffd') : value;
  }
  return key;
}

/** The label values of a key made by seriesKey, null where the series does not carry the label. */
export function seriesLabels(key: string): (string | null)[] {
  return key.split(SEPARATOR).map((value) => value === ABSENT ? null : value);
}

/** Float64s per series of a family. */
function seriesWidth(family: Pick<SnapshotFamily, 'type' | 'buckets'>): number {
  return family.type === 'histogram' ? family.buckets.length + 3 : 1;
}

/** The same escaping prom-client applies, so a merged scrape reads byte for byte like a single process's. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(value: string): string {
  return escapeHelp(value).replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

interface MergedFamily {
  readonly first: SnapshotFamily;
  readonly width: number;
  readonly keys: Map<string, number>;
  readonly series: string[];
  readonly values: number[];
  /** For `newest`: the startedAt each series' value came from. */
  readonly seenAt: number[];
}

function mergeFamilies(snapshots: readonly MetricsSnapshot[]): Map<string, MergedFamily> {
  const merged = new Map<string, MergedFamily>();
  for (const snapshot of snapshots) {
    for (const family of snapshot.families) {
      let target = merged.get(family.name);
      const width = seriesWidth(family);
      if (!target) {
        merged.set(family.name, target = { first: family, width, keys: new Map(), series: [], values: [], seenAt: [] });
      } else if (target.width !== width || target.first.type !== family.type) {
        // Only two versions of Heimdall with different buckets, mid rolling reload, could disagree: the series of
        // the family's first layout are kept rather than adding unlike numbers.
        continue;
      }
      const aggregation = target.first.aggregation;
      const keys = family.series;
      for (let series = 0; series < keys.length; series++) {
        const key = keys[series];
        let index = target.keys.get(key);
        const from = series * width;
        if (index === undefined) {
          index = target.series.length;
          target.keys.set(key, index);
          target.series.push(key);
          for (let i = 0; i < width; i++) target.values.push(family.values[from + i]);
          target.seenAt.push(snapshot.startedAt);
          continue;
        }
        const at = index * width;
        if (aggregation === 'max') {
          for (let i = 0; i < width; i++) target.values[at + i] = Math.max(target.values[at + i], family.values[from + i]);
        } else if (aggregation === 'newest') {
          if (snapshot.startedAt >= target.seenAt[index]) {
            for (let i = 0; i < width; i++) target.values[at + i] = family.values[from + i];
            target.seenAt[index] = snapshot.startedAt;
          }
        } else {
          for (let i = 0; i < width; i++) target.values[at + i] += family.values[from + i];
        }
      }
    }
  }
  return merged;
}

/** A ratio family's values from the merged numerator and denominator, series matched by label values. */
function recomputeRatio(family: MergedFamily, merged: Map<string, MergedFamily>, [numeratorName, denominatorName]: readonly [string, string]): void {
  const numerator = merged.get(numeratorName);
  const denominator = merged.get(denominatorName);
  for (const [key, index] of family.keys) {
    const top = numerator?.keys.get(key);
    const bottom = denominator?.keys.get(key);
    const over = bottom === undefined ? 0 : denominator!.values[bottom];
    family.values[index] = top === undefined || over === 0 ? 0 : numerator!.values[top] / over;
  }
}

const NEEDS_ESCAPE = /[\\\n"]/;

/** `a="x",b="y"` of one series, without braces; labels the series does not carry are left out. */
function labelPairs(names: readonly string[], values: readonly (string | null)[]): string {
  let pairs = '';
  for (let i = 0; i < names.length; i++) {
    const value = values[i];
    if (value === null) continue;
    pairs += `${pairs === '' ? '' : ','}${names[i]}="${NEEDS_ESCAPE.test(value) ? escapeLabel(value) : value}"`;
  }
  return pairs;
}

function renderFamily(family: MergedFamily): string {
  const { name, help, type, labelNames, buckets } = family.first;
  // One string grown by += (a rope in V8) costs less than an array of lines joined: no array, one flattening.
  let text = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}`;
  const { width, values } = family;
  const bounds = [...buckets.map((bound) => `le="${formatValue(bound)}"} `), 'le="+Inf"} '];
  const series = family.series.length;
  for (let s = 0; s < series; s++) {
    const at = s * width;
    const pairs = labelPairs(labelNames, seriesLabels(family.series[s]));
    const braced = pairs === '' ? ' ' : `{${pairs}} `;
    if (type !== 'histogram') {
      text += `\n${name}${braced}${formatValue(values[at])}`;
      continue;
    }
    const bucketPrefix = `\n${name}_bucket{${pairs}${pairs === '' ? '' : ','}`;
    let cumulative = 0;
    for (let b = 0; b <= buckets.length; b++) {
      cumulative += values[at + b];
      text += `${bucketPrefix}${bounds[b]}${formatValue(cumulative)}`;
    }
    text += `\n${name}_sum${braced}${formatValue(values[at + buckets.length + 1])}\n${name}_count${braced}${formatValue(values[at + buckets.length + 2])}`;
  }
  return text;
}

/** Node's default metrics whose prom-client aggregator would drop them: the cluster's start is its oldest process's. */
const NODE_AGGREGATOR_OVERRIDES: Readonly<Record<string, string>> = { process_start_time_seconds: 'min' };

async function renderNodeMetrics(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  const perProcess = snapshots.map((snapshot) => snapshot.node.map((metric) => {
    const aggregator = NODE_AGGREGATOR_OVERRIDES[metric.name];
    return aggregator ? { ...metric, aggregator } : metric;
  }));
  const text = await AggregatorRegistry.aggregate(perProcess as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  return text.trimEnd();
}

/**
 * The exposition of the sum over every process's snapshot, in the layout of one process's `/metrics`, with
 * `heimdall_processes` and `heimdall_process_restarts_total{process}` from the supervisor's `cluster`.
 */
export function renderClusterMetrics(snapshots: readonly MetricsSnapshot[], cluster: ClusterInfo): Promise<string> {
  return render(snapshots, cluster);
}

/**
 * One process's own exposition from its snapshot: the text prom-client's registry writes for the same series, at
 * a fraction of its cost on the front thread (a scrape stalls every request behind it).
 */
export function renderProcessMetrics(snapshot: MetricsSnapshot): Promise<string> {
  return render([snapshot], null);
}

async function render(snapshots: readonly MetricsSnapshot[], cluster: ClusterInfo | null): Promise<string> {
  const merged = mergeFamilies(snapshots);
  const blocks: string[] = [];
  for (const family of merged.values()) {
    const aggregation = family.first.aggregation;
    if (typeof aggregation === 'object') recomputeRatio(family, merged, aggregation.ratio);
  }
  for (const family of merged.values()) blocks.push(renderFamily(family));
  if (cluster) {
    blocks.push([
      '# HELP heimdall_processes Gateway processes serving behind the one port.',
      '# TYPE heimdall_processes gauge',
      `heimdall_processes ${formatValue(cluster.processes)}`,
    ].join('\n'));
    const restarts = Object.entries(cluster.restarts).map(([process, count]) =>
      `heimdall_process_restarts_total{process="${escapeLabel(process)}"} ${formatValue(count)}`);
    blocks.push(['# HELP heimdall_process_restarts_total Times the supervisor restarted a gateway process, by process slot.',
      '# TYPE heimdall_process_restarts_total counter', ...restarts].join('\n'));
  }
  const node = await renderNodeMetrics(snapshots);
  if (node !== '') blocks.push(node);
  return `${blocks.join('\n\n')}\n`;
}
