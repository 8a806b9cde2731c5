// One /metrics over several gateway processes: two real gateways in this test process stand for two children. The
// merged exposition of their snapshots must equal the sum of their own /metrics scrapes for every counter and
// histogram series, although each gateway handed out its model label slots in a different order.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderClusterMetrics, seriesLabels } from '../../dist/src/observability/cluster-metrics.js';
import { expositionProblems, parseExposition, type Sample } from '../unit/observability/exposition.js';
import { eventually, metricValue, postChat } from './harness.js';
import { scrape, sendMixedTraffic, startMetricsGateway, type MetricsGateway } from './metrics-gateway.js';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const promtoolMissing = promtool.error !== undefined;

let first: MetricsGateway;
let second: MetricsGateway;
let front: MetricsGateway;
let failClusterScrape = false;
let scrapes: [string, string];
let merged: string;

const chat = async (url: string, model: string, status: number) => {
  const response = await postChat(url, { model, messages: [{ role: 'user', content: 'hi' }] });
  await response.text();
  if (response.status !== status) throw new Error(`${model}: expected ${status}, got ${response.status}`);
};

const cluster = { processes: 2, restarts: { 0: 0, 1: 3 } };

beforeAll(async () => {
  [first, second] = await Promise.all([startMetricsGateway(), startMetricsGateway()]);
  front = await startMetricsGateway({ gateway: { clusterMetrics: async () => {
    if (failClusterScrape) throw new Error('a child did not answer');
    return renderClusterMetrics(await Promise.all([first.gateway.metricsSnapshot(), second.gateway.metricsSnapshot()]), cluster);
  } } });
  await sendMixedTraffic(first.url);
  // The second process meets the models in another order, so its model slots differ from the first's.
  await chat(second.url, 'mock/error-503', 503);
  await chat(second.url, 'mock/error-429', 429);
  await chat(second.url, 'mock/another-model', 200);
  await chat(second.url, 'mock/echo', 200);
  await chat(second.url, 'mock/echo', 200);
  // Workers count as they settle a job, which may be just after the client got its answer.
  const settled = (text: string, echo: number) =>
    metricValue(text, 'heimdall_upstream_requests_total', { provider: 'mock', model: 'echo' }) === echo;
  scrapes = [await eventually(() => scrape(first.url), (text) => settled(text, 4), 5_000, 50),
    await eventually(() => scrape(second.url), (text) => settled(text, 2), 5_000, 50)];
  merged = await renderClusterMetrics(await Promise.all([first.gateway.metricsSnapshot(), second.gateway.metricsSnapshot()]), cluster);
}, 60_000);
afterAll(() => Promise.all([first?.close(), second?.close(), front?.close()]));

const sampleKey = (sample: Sample) => `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;

function samplesByKey(text: string, type: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const family of parseExposition(text).values()) {
    if (family.type !== type || !family.name.startsWith('heimdall_') || family.name === 'heimdall_process_restarts_total') continue;
    // A scrape is counted once answered, so each scrape's own request is in the later snapshot and not in itself.
    for (const sample of family.samples) if (sample.labels.route !== '/metrics') samples.set(sampleKey(sample), sample.value);
  }
  return samples;
}

describe('renderClusterMetrics over two real gateways', () => {
  it('the model slots really differ between the two processes', async () => {
    const [a, b] = await Promise.all([first.gateway.metricsSnapshot(), second.gateway.metricsSnapshot()]);
    const models = (series: readonly string[]) => series.map((key) => seriesLabels(key)[1]);
    const upstream = (snapshot: typeof a) => snapshot.families.find((family) => family.name === 'heimdall_upstream_requests_total')!;
    expect(models(upstream(a).series)[0]).toBe('echo');
    expect(models(upstream(b).series)[0]).toBe('error-503');
  });

  it.each(['counter', 'histogram'])('every %s series is the sum of the two scrapes, and no series is missing', (type) => {
    const [a, b] = scrapes.map((text) => samplesByKey(text, type));
    const expected = new Map(a);
    for (const [key, value] of b) expected.set(key, (expected.get(key) ?? 0) + value);
    const got = samplesByKey(merged, type);
    expect(expected.size).toBeGreaterThan(type === 'counter' ? 10 : 30);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
  });

  it('writes every family of a single process, with the same HELP and TYPE', () => {
    const own = parseExposition(scrapes[0]);
    const all = parseExposition(merged);
    for (const family of own.values()) {
      expect(all.get(family.name), family.name).toMatchObject({ help: family.help, type: family.type });
    }
    expect([...all.keys()].filter((name) => !own.has(name))).toEqual(['heimdall_processes', 'heimdall_process_restarts_total']);
  });

  it('sums the pools, keeps the configured limit, and recomputes utilization from the sums', () => {
    const threads = (text: string) => metricValue(text, 'heimdall_pool_threads', { provider: 'mock' })!;
    expect(threads(merged)).toBe(threads(scrapes[0]) + threads(scrapes[1]));
    const limit = metricValue(scrapes[0], 'heimdall_pool_concurrency_limit', { provider: 'mock' });
    expect(limit).toBeGreaterThan(0);
    expect(metricValue(merged, 'heimdall_pool_concurrency_limit', { provider: 'mock' })).toBe(limit);
    expect(metricValue(merged, 'heimdall_pool_utilization', { provider: 'mock' })).toBe(0);
  });

  it('adds the processes gauge and the restarts per process, and Node\'s metrics summed', () => {
    expect(metricValue(merged, 'heimdall_processes')).toBe(2);
    expect(metricValue(merged, 'heimdall_process_restarts_total', { process: '1' })).toBe(3);
    expect(metricValue(merged, 'heimdall_process_restarts_total', { process: '0' })).toBe(0);
    const families = parseExposition(merged);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds',
      'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_version_info']) {
      expect(families.get(name)?.samples.length, name).toBeGreaterThan(0);
    }
    expect(families.get('heimdall_build_info')!.samples).toHaveLength(1);
  });

  it('follows the exposition rules', () => {
    expect(expositionProblems(merged)).toEqual([]);
  });

  it('passes promtool check metrics', { skip: promtoolMissing }, () => {
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: merged, encoding: 'utf8' });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
  });
});

describe('GatewayOptions.clusterMetrics', () => {
  it('answers /metrics with the cluster-wide exposition', async () => {
    const response = await fetch(`${front.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(metricValue(text, 'heimdall_processes')).toBe(2);
    expect(metricValue(text, 'heimdall_upstream_requests_total', { provider: 'mock', model: 'echo' })).toBe(6);
  });

  it('answers 503 in OpenAI\'s error shape when the processes cannot be gathered', async () => {
    failClusterScrape = true;
    try {
      const response = await fetch(`${front.url}/metrics`);
      expect(response.status).toBe(503);
      const body = await response.json() as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ type: 'api_error', code: 'internal', param: null, message: 'the metrics could not be gathered; retry the scrape' });
    } finally {
      failClusterScrape = false;
    }
  });
});
