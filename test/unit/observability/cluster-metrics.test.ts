import { describe, expect, it } from 'vitest';
import { createMetricsBuffer, createMetricsLayout, DURATION_BUCKETS, errorCodeLabelIndex, MetricsShard }
  from '../../../src/contract/metrics-layout.js';
import { AccessRecord } from '../../../src/observability/access-log.js';
import { renderClusterMetrics, renderProcessMetrics, seriesKey, seriesLabels, type MetricsSnapshot, type SnapshotFamily } from '../../../src/observability/cluster-metrics.js';
import { HttpMetrics } from '../../../src/observability/http-metrics.js';
import { LabelTable } from '../../../src/observability/label-table.js';
import { createMetricsRegistry, createMetricsSnapshotter, type BreakerView } from '../../../src/observability/metrics.js';
import { metricValue } from '../../integration/harness.js';
import { expositionProblems, parseExposition } from './exposition.js';
import { Registry } from 'prom-client';

interface FakeProcess {
  readonly shards: MetricsShard[];
  readonly layout: ReturnType<typeof createMetricsLayout>;
  readonly models: LabelTable;
  readonly http: HttpMetrics;
  breakers: BreakerView[];
  inFlight: number;
  registry: Registry;
  snapshot(): Promise<MetricsSnapshot>;
}

/** One gateway process's metrics, built the way startGateway builds them, with a limit and start time of its own. */
function fakeProcess(options: { limit?: number; startedAt?: number } = {}): FakeProcess {
  const models = new LabelTable([''], 8);
  const layout = createMetricsLayout({ providers: ['openai', 'mock'], modelSlots: models.size }, models.values);
  const buffer = createMetricsBuffer(layout, 2);
  const http = new HttpMetrics(['openai', 'mock'], models, []);
  const process: FakeProcess = {
    shards: [0, 1].map((i) => new MetricsShard(buffer, layout, i)), layout, models, http, breakers: [], inFlight: 0,
    registry: new Registry(), snapshot: async () => { throw new Error('replaced below'); },
  };
  const registryOptions = { layout, buffer, shardCount: 2, http, breakers: () => process.breakers, pools: () => [
    { name: 'openai', concurrencyLimit: options.limit ?? 10,
      stats: () => ({ threads: 2, inFlight: process.inFlight, queued: 1, slotsInUse: 3 }) },
  ] };
  process.registry = createMetricsRegistry(registryOptions);
  process.snapshot = createMetricsSnapshotter(registryOptions, process.registry, options.startedAt);
  return process;
}

function request(process: FakeProcess, route: string, status: number, model: string, seconds: number): void {
  const access = new AccessRecord();
  access.routeIndex = process.http.routes.indexOf(route);
  access.methodIndex = process.http.methodIndex('POST');
  access.provider = 'openai';
  access.model = model;
  process.http.record(access, status, seconds);
}

const noCluster = { processes: 2, restarts: {} };

describe('renderClusterMetrics', () => {
  it('adds counters by label values, whatever slot each process gave a model', async () => {
    const a = fakeProcess();
    const b = fakeProcess();
    // a meets gpt-4o first, b meets o3 first: the same model sits in different slots.
    for (const model of ['gpt-4o', 'o3']) a.models.indexOf(model);
    for (const model of ['o3', 'gpt-4o']) b.models.indexOf(model);
    expect(a.models.indexOf('gpt-4o')).not.toBe(b.models.indexOf('gpt-4o'));
    a.shards[0].add(a.layout.upstreamRequests.seriesOffset(0, a.models.indexOf('gpt-4o')), 2);
    a.shards[1].add(a.layout.upstreamRequests.seriesOffset(0, a.models.indexOf('gpt-4o')), 3);
    b.shards[1].add(b.layout.upstreamRequests.seriesOffset(0, b.models.indexOf('gpt-4o')), 7);
    b.shards[0].add(b.layout.upstreamRequests.seriesOffset(0, b.models.indexOf('o3')), 1);
    b.shards[0].add(b.layout.upstreamErrors.seriesOffset(1, b.models.indexOf('o3'), errorCodeLabelIndex('UPSTREAM_TIMEOUT')));
    request(a, '/v1/chat/completions', 200, 'gpt-4o', 0.2);
    request(b, '/v1/chat/completions', 200, 'gpt-4o', 0.2);
    request(b, '/v1/embeddings', 200, 'o3', 0.2);

    const text = await renderClusterMetrics(await Promise.all([a.snapshot(), b.snapshot()]), noCluster);
    expect(metricValue(text, 'heimdall_upstream_requests_total', { provider: 'openai', model: 'gpt-4o' })).toBe(12);
    expect(metricValue(text, 'heimdall_upstream_requests_total', { provider: 'openai', model: 'o3' })).toBe(1);
    expect(metricValue(text, 'heimdall_upstream_errors_total', { provider: 'mock', model: 'o3', code: 'upstream_timeout' })).toBe(1);
    expect(metricValue(text, 'heimdall_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '200',
      provider: 'openai', model: 'gpt-4o' })).toBe(2);
    expect(metricValue(text, 'heimdall_http_requests_total', { route: '/v1/embeddings', method: 'POST', status: '200',
      provider: 'openai', model: 'o3' })).toBe(1);
    // Empty series stay out, as in one process's exposition.
    expect(text).not.toContain('heimdall_upstream_requests_total{provider="mock"');
    expect(expositionProblems(text)).toEqual([]);
  });

  it('adds histograms bucket by bucket, sum and count too', async () => {
    const a = fakeProcess();
    const b = fakeProcess();
    const latency = (p: FakeProcess, model: string, seconds: number) =>
      p.shards[1].observe(p.layout.upstreamLatency, p.layout.upstreamLatency.seriesOffset(0, p.models.indexOf(model)), seconds);
    b.models.indexOf('o3');
    latency(a, 'gpt-4o', 0.003);
    latency(a, 'gpt-4o', 4);
    latency(b, 'gpt-4o', 0.003);
    latency(b, 'gpt-4o', 250);
    const text = await renderClusterMetrics(await Promise.all([a.snapshot(), b.snapshot()]), noCluster);
    const bucket = (le: string) => metricValue(text, 'heimdall_upstream_latency_seconds_bucket', { provider: 'openai', model: 'gpt-4o', le });
    expect(bucket('0.005')).toBe(2);
    expect(bucket('2.5')).toBe(2);
    expect(bucket('5')).toBe(3);
    expect(bucket('120')).toBe(3);
    expect(bucket('300')).toBe(4);
    expect(bucket('+Inf')).toBe(4);
    expect(metricValue(text, 'heimdall_upstream_latency_seconds_count', { provider: 'openai', model: 'gpt-4o' })).toBe(4);
    expect(metricValue(text, 'heimdall_upstream_latency_seconds_sum', { provider: 'openai', model: 'gpt-4o' })).toBeCloseTo(254.006, 9);
    const lines = text.split('\n').filter((line) => line.startsWith('heimdall_upstream_latency_seconds_bucket'));
    expect(lines).toHaveLength(DURATION_BUCKETS.length + 1);
    expect(expositionProblems(text)).toEqual([]);
  });

  it('sums the pool gauges, keeps the newest process\'s configured limit, and recomputes utilization', async () => {
    const old = fakeProcess({ limit: 10, startedAt: 1_000 });
    const reloaded = fakeProcess({ limit: 20, startedAt: 2_000 });
    old.inFlight = 4;
    reloaded.inFlight = 6;
    // Order of the snapshots must not matter: the newest config wins either way.
    for (const order of [[old, reloaded], [reloaded, old]]) {
      const text = await renderClusterMetrics(await Promise.all(order.map((p) => p.snapshot())), noCluster);
      const gauge = (name: string) => metricValue(text, name, { provider: 'openai' });
      expect(gauge('heimdall_pool_threads')).toBe(4);
      expect(gauge('heimdall_pool_in_flight')).toBe(10);
      expect(gauge('heimdall_pool_queue_depth')).toBe(2);
      expect(gauge('heimdall_pool_ring_slots_in_use')).toBe(6);
      expect(gauge('heimdall_pool_concurrency_limit')).toBe(20);
      expect(gauge('heimdall_pool_utilization')).toBe(0.5);
    }
  });

  it('shows each breaker at the worst state any process sees, a key\'s own breaker apart from its per-model ones', async () => {
    const a = fakeProcess();
    const b = fakeProcess();
    a.breakers = [{ provider: 'openai', key: 'k1', model: null, state: 2 }, { provider: 'openai', key: 'k1', model: 'gpt-4o', state: 0 }];
    b.breakers = [{ provider: 'openai', key: 'k1', model: null, state: 0 }, { provider: 'openai', key: 'k1', model: 'gpt-4o', state: 1 },
      { provider: 'openai', key: 'k2', model: null, state: 0 }];
    const text = await renderClusterMetrics(await Promise.all([a.snapshot(), b.snapshot()]), noCluster);
    expect(metricValue(text, 'heimdall_circuit_breaker_state', { provider: 'openai', key: 'k1' })).toBe(2);
    expect(metricValue(text, 'heimdall_circuit_breaker_state', { provider: 'openai', key: 'k1', model: 'gpt-4o' })).toBe(1);
    expect(metricValue(text, 'heimdall_circuit_breaker_state', { provider: 'openai', key: 'k2' })).toBe(0);
    expect(text.match(/^heimdall_circuit_breaker_state\{/gm)).toHaveLength(3);
  });

  it('adds heimdall_processes and the restarts per process, and one build_info per running version', async () => {
    const text = await renderClusterMetrics(await Promise.all([fakeProcess().snapshot(), fakeProcess().snapshot()]),
      { processes: 2, restarts: { 0: 0, 1: 4 } });
    expect(text).toContain('# TYPE heimdall_processes gauge\nheimdall_processes 2\n');
    expect(text).toContain('# TYPE heimdall_process_restarts_total counter\n'
      + 'heimdall_process_restarts_total{process="0"} 0\nheimdall_process_restarts_total{process="1"} 4\n');
    expect(text.match(/^heimdall_build_info\{/gm)).toHaveLength(1);
    expect(expositionProblems(text)).toEqual([]);
  });

  it('merges Node\'s default metrics: CPU and memory summed, the start time the oldest process\'s', async () => {
    const [a, b] = await Promise.all([fakeProcess().snapshot(), fakeProcess().snapshot()]);
    const withValue = (snapshot: MetricsSnapshot, name: string, value: number): MetricsSnapshot => ({ ...snapshot,
      node: snapshot.node.map((metric) => metric.name === name ? { ...metric, values: [{ value, labels: {} }] } : metric) });
    const text = await renderClusterMetrics([
      withValue(withValue(a, 'process_cpu_seconds_total', 1.5), 'process_start_time_seconds', 200),
      withValue(withValue(b, 'process_cpu_seconds_total', 2.25), 'process_start_time_seconds', 100),
    ], noCluster);
    expect(metricValue(text, 'process_cpu_seconds_total')).toBe(3.75);
    expect(metricValue(text, 'process_start_time_seconds')).toBe(100);
    expect(text.match(/^# TYPE nodejs_heap_size_used_bytes gauge$/gm)).toHaveLength(1);
    expect(expositionProblems(text)).toEqual([]);
  });

  it('escapes label values as prom-client does, and tells an absent label from an empty one', async () => {
    const family = (labels: (string | null)[][], values: number[]): SnapshotFamily => ({ name: 'heimdall_test_total', help: 'A\\b\nc',
      type: 'counter', aggregation: 'sum', labelNames: ['x'], buckets: [], series: labels.map(seriesKey), values: Float64Array.from(values) });
    const snapshot = (f: SnapshotFamily): MetricsSnapshot => ({ pid: 1, startedAt: 0, families: [f], node: [] });
    const text = await renderClusterMetrics([snapshot(family([['a"b\\c\nd'], [''], [null]], [1, 2, 3])),
      snapshot(family([[null], ['']], [10, 20]))], { processes: 2, restarts: {} });
    expect(text).toContain('# HELP heimdall_test_total A\\\\b\\nc\n');
    expect(text).toContain('heimdall_test_total{x="a\\"b\\\\c\\nd"} 1\n');
    expect(text).toContain('heimdall_test_total{x=""} 22\n');
    expect(text).toContain('heimdall_test_total 13\n');
  });

  it('keys series so that they split back into the same labels, a client\'s control characters included', () => {
    for (const values of [['a', '', null], [null], [''], ['x\u0000y', '\u0001', 'ok']]) {
      expect(seriesLabels(seriesKey(values))).toEqual(values.map((value) => value?.replace(/[\u0000\u0001]/g, '\ufffd') ?? null));
    }
    expect(seriesKey([''])).not.toBe(seriesKey([null]));
  });

  it('takes snapshots that survive the structured clone of IPC unchanged', async () => {
    const p = fakeProcess();
    p.models.indexOf('gpt-4o');
    p.shards[0].add(p.layout.tokens.seriesOffset(0, 1, 1), 42);
    request(p, '/v1/chat/completions', 200, 'gpt-4o', 0.01);
    const snapshot = await p.snapshot();
    const cloned = structuredClone(snapshot);
    expect(await renderClusterMetrics([cloned], noCluster)).toBe(await renderClusterMetrics([snapshot], noCluster));
    expect(metricValue(await renderClusterMetrics([cloned], noCluster), 'heimdall_tokens_total',
      { provider: 'openai', model: 'gpt-4o', direction: 'output' })).toBe(42);
  });
});

describe('renderProcessMetrics', () => {
  it('writes what prom-client\'s registry writes for the same process, Heimdall\'s series line for line', async () => {
    const p = fakeProcess();
    p.models.indexOf('gpt-4o');
    p.shards[1].add(p.layout.upstreamRequests.seriesOffset(0, 1), 3);
    p.shards[1].observe(p.layout.upstreamLatency, p.layout.upstreamLatency.seriesOffset(0, 1), 0.7);
    p.shards[0].add(p.layout.breakerTransitions.seriesOffset(1, 2));
    p.breakers = [{ provider: 'openai', key: 'k1', model: null, state: 2 }, { provider: 'openai', key: 'k1', model: 'gpt-4o', state: 1 }];
    p.inFlight = 7;
    request(p, '/v1/chat/completions', 200, 'gpt-4o', 0.2);
    request(p, '/v1/chat/completions', 429, 'gpt-4o', 0.05);
    const [ours, theirs] = [await renderProcessMetrics(await p.snapshot()), await p.registry.metrics()];
    const heimdall = (text: string) => text.split('\n').filter((line) => /^(# (HELP|TYPE) )?heimdall_/.test(line));
    expect(heimdall(ours).length).toBeGreaterThan(60);
    expect(heimdall(ours)).toEqual(heimdall(theirs));
    // Node's metrics move between two reads; their families, HELP and TYPE do not.
    const families = (text: string) => [...parseExposition(text).values()].map(({ name, help, type }) => ({ name, help, type }));
    expect(families(ours)).toEqual(families(theirs));
    expect(ours).not.toContain('heimdall_processes');
  });
});
