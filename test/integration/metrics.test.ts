// /metrics of a real gateway after real traffic: the series a dashboard needs, the exposition's rules, and
// `promtool check metrics` when promtool is installed.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expositionProblems, parseExposition } from '../unit/observability/exposition.js';
import { eventually, metricSum, metricValue, postChat } from './harness.js';
import { scrape, sendMixedTraffic, startMetricsGateway, type MetricsGateway } from './metrics-gateway.js';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const promtoolMissing = promtool.error ? `promtool is not installed (${(promtool.error as NodeJS.ErrnoException).code}); ` +
  'apt-get install prometheus provides it' : null;
if (promtoolMissing) console.log(`skipping the promtool check: ${promtoolMissing}`);

let g: MetricsGateway;
let exposition: string;

beforeAll(async () => {
  g = await startMetricsGateway();
  await sendMixedTraffic(g.url);
  // Workers count tokens as they settle a job, which may be just after the client got its answer.
  exposition = await eventually(() => scrape(g.url), (text) =>
    metricValue(text, 'heimdall_upstream_requests_total', { provider: 'mock', model: 'echo' }) === 4, 5_000, 50);
}, 60_000);
afterAll(() => g?.close());

describe('/metrics of a running gateway', () => {
  it('follows the exposition rules: HELP and TYPE once per family, counters in _total, cumulative buckets to +Inf', () => {
    expect(expositionProblems(exposition)).toEqual([]);
  });

  it('passes promtool check metrics', { skip: promtoolMissing !== null }, () => {
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
  });

  it('labels upstream series by model, and upstream errors by code: a 429 apart from a 5xx', () => {
    expect(metricValue(exposition, 'heimdall_upstream_errors_total', { provider: 'mock', model: 'error-429',
      code: 'upstream_rate_limited' })).toBe(1);
    expect(metricValue(exposition, 'heimdall_upstream_errors_total', { provider: 'mock', model: 'error-503',
      code: 'upstream_unavailable' })).toBe(1);
    expect(metricValue(exposition, 'heimdall_tokens_total', { provider: 'mock', model: 'echo', direction: 'output' }))
      .toBeGreaterThan(0);
    expect(metricValue(exposition, 'heimdall_upstream_latency_seconds_count', { provider: 'mock', model: 'echo' })).toBe(4);
    expect(metricValue(exposition, 'heimdall_time_to_first_token_seconds_count', { provider: 'mock', model: 'echo' })).toBe(1);
    expect(metricValue(exposition, 'heimdall_overhead_seconds_count', { provider: 'mock', model: 'echo' })).toBe(4);
  });

  it('names routes per operation, with the method and status', () => {
    const requests = (route: string, method: string, status: string) =>
      metricSum(exposition, 'heimdall_http_requests_total', { route, method, status });
    expect(requests('/v1/chat/completions', 'POST', '200')).toBe(2);
    expect(requests('/v1/chat/completions', 'POST', '429')).toBe(1);
    expect(requests('/v1/chat/completions', 'POST', '503')).toBe(1);
    expect(requests('/anthropic/v1/messages', 'POST', '200')).toBe(1);
    expect(requests('/genai/v1beta/models/{model}:generateContent', 'POST', '200')).toBe(1);
    expect(requests('/v1/models', 'GET', '200')).toBe(1);
    expect(requests('other', 'GET', '404')).toBe(1);
    // Which provider and model answered (or failed last); none for a request no provider saw.
    expect(metricValue(exposition, 'heimdall_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '429',
      provider: 'mock', model: 'error-429' })).toBe(1);
    expect(metricValue(exposition, 'heimdall_http_requests_total', { route: 'other', method: 'GET', status: '404',
      provider: '', model: '' })).toBe(1);
    expect(metricSum(exposition, 'heimdall_http_request_duration_seconds_count',
      { route: '/v1/chat/completions', method: 'POST', status: '200' })).toBe(2);
  });

  it('has duration buckets up to ten minutes, a build info and Node\'s default metrics under their usual names', () => {
    const families = parseExposition(exposition);
    for (const name of ['heimdall_upstream_latency_seconds', 'heimdall_http_request_duration_seconds', 'heimdall_time_to_first_token_seconds']) {
      const bounds = new Set(families.get(name)!.samples.map((sample) => sample.labels.le));
      for (const le of ['60', '120', '300', '600', '+Inf']) expect(bounds, `${name} le=${le}`).toContain(le);
    }
    const build = families.get('heimdall_build_info')!.samples[0];
    expect(build.value).toBe(1);
    expect(build.labels).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), node_version: process.version });
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds']) {
      expect(families.has(name), name).toBe(true);
    }
  });

  it('the exposition checker finds what it is there to find', () => {
    const broken = [
      '# HELP a_total x', '# TYPE a_total counter', 'a_total 1',
      '# HELP b x', '# TYPE b counter', 'b 1',
      '# HELP g_total x', '# TYPE g_total gauge', 'g_total 1',
      '# TYPE h histogram', 'h_bucket{le="1"} 2', 'h_bucket{le="2"} 1', 'h_sum 1', 'h_count 2',
    ].join('\n');
    expect(expositionProblems(broken)).toEqual([
      'counter b does not end in _total',
      'gauge g_total ends in _total',
      'h has no HELP',
      'h[]: buckets do not end with le="+Inf"',
      'h[]: bucket le=2 below the one before',
      'h[]: +Inf bucket differs from _count',
    ]);
  });
});

describe('client.prometheus_labels', () => {
  let labelled: MetricsGateway;
  beforeAll(async () => {
    labelled = await startMetricsGateway({ client: { prometheus_labels: ['team'] } });
  }, 30_000);
  afterAll(() => labelled?.close());

  it('labels the HTTP series from x-bf-prom-<label>, untagged as "", and folds values past the cap into other', async () => {
    const chat = (team?: string) => postChat(labelled.url, { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] },
      team === undefined ? {} : { 'x-bf-prom-team': team }).then((response) => response.text());
    await chat('search');
    await chat('search');
    await chat();
    for (let i = 0; i < 40; i++) await chat(`team-${i}`);
    const text = await scrape(labelled.url);
    const series = (team: string) => metricSum(text, 'heimdall_http_requests_total',
      { route: '/v1/chat/completions', method: 'POST', status: '200', team });
    expect(series('search')).toBe(2);
    expect(series('')).toBe(1);
    expect(series('team-0')).toBe(1);
    // 32 distinct values per label besides '': search and team-0 … team-30 have theirs; the last nine share `other`.
    expect(series('team-30')).toBe(1);
    expect(series('team-31')).toBeUndefined();
    expect(series('other')).toBe(9);
    expect(expositionProblems(text)).toEqual([]);
  });
});
