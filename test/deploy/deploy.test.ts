// deploy/: the compose file, Prometheus' scrape config and Grafana's provisioning must point at each other, and
// every query of the shipped dashboard must name metrics and labels that a running gateway exports. Docker cannot
// run here, so the files are read as YAML and JSON, and the queries checked against a real gateway's /metrics.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { eventually, metricSum, metricValue, postChat } from '../integration/harness.js';
import { scrape, sendMixedTraffic, startMetricsGateway, type MetricsGateway } from '../integration/metrics-gateway.js';
import { exportedLabels, queryNames, unknownNames } from './promql.js';

const DEPLOY = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy');
const read = (path: string) => readFileSync(join(DEPLOY, path), 'utf8');
const yaml = (path: string) => YAML.parse(read(path)) as Record<string, never>;

interface Service {
  build?: { context: string; dockerfile?: string };
  image?: string;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: string[];
}
interface Panel { type: string; title: string; targets?: { expr: string }[]; panels?: Panel[] }
interface Dashboard { uid: string; panels: Panel[]; templating: { list: { name: string; type: string; query: unknown }[] } }

const compose = yaml('docker-compose.yml') as unknown as { services: Record<string, Service> };
const dashboard = JSON.parse(read('grafana/dashboards/heimdall.json')) as Dashboard;

/** A bind mount of the compose file: its source on the host (relative to deploy/) and its target in the container. */
function mounts(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).filter((volume) => volume.startsWith('.')).map((volume) => {
    const [source, target] = volume.split(':');
    return { source, target };
  });
}

/** The host file that the container sees at `path`, through the service's bind mounts. */
function hostPathOf(service: Service, path: string): string | null {
  for (const { source, target } of mounts(service)) {
    if (path === target) return join(DEPLOY, source);
    if (path.startsWith(`${target}/`)) return join(DEPLOY, source, path.slice(target.length + 1));
  }
  return null;
}

const containerPort = (service: Service) => Number(service.ports![0].split(':').at(-1));

describe('docker-compose, Prometheus and Grafana provisioning', () => {
  it('runs Heimdall from this repository\'s Dockerfile, with Prometheus and Grafana beside it', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'heimdall', 'prometheus']);
    const heimdall = compose.services.heimdall;
    expect(existsSync(join(DEPLOY, heimdall.build!.context, heimdall.build!.dockerfile ?? 'Dockerfile'))).toBe(true);
    expect(readFileSync(join(DEPLOY, heimdall.build!.context, 'Dockerfile'), 'utf8')).toContain(`EXPOSE ${containerPort(heimdall)}`);
    expect(heimdall.environment!.PORT).toBe(String(containerPort(heimdall)));
  });

  it('has Prometheus read the shipped prometheus.yml, which scrapes the heimdall service on its port at /metrics', () => {
    const prometheus = compose.services.prometheus;
    const configFlag = prometheus.command!.find((flag) => flag.startsWith('--config.file='))!;
    const configFile = hostPathOf(prometheus, configFlag.slice('--config.file='.length));
    expect(configFile).toBe(join(DEPLOY, 'prometheus/prometheus.yml'));
    const scrape = (YAML.parse(readFileSync(configFile!, 'utf8')) as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[] }).scrape_configs;
    const job = scrape.find((config) => config.job_name === 'heimdall')!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job.static_configs.flatMap((config) => config.targets)).toEqual([`heimdall:${containerPort(compose.services.heimdall)}`]);
    expect(prometheus.depends_on).toContain('heimdall');
  });

  const promtool = spawnSync('promtool', ['--version']);
  it('passes promtool check config', { skip: promtool.error !== undefined }, () => {
    const checked = spawnSync('promtool', ['check', 'config', join(DEPLOY, 'prometheus/prometheus.yml')], { encoding: 'utf8' });
    expect(checked.stdout + checked.stderr).toContain('SUCCESS');
    expect(checked.status).toBe(0);
  });

  it('provisions Grafana with that Prometheus as its data source and the shipped dashboard', () => {
    const grafana = compose.services.grafana;
    const provisioning = hostPathOf(grafana, '/etc/grafana/provisioning');
    expect(provisioning).toBe(join(DEPLOY, 'grafana/provisioning'));
    const datasources = (YAML.parse(readFileSync(join(provisioning!, 'datasources/prometheus.yml'), 'utf8')) as {
      datasources: { type: string; url: string; isDefault?: boolean }[] }).datasources;
    expect(datasources).toEqual([expect.objectContaining({ type: 'prometheus', isDefault: true,
      url: `http://prometheus:${containerPort(compose.services.prometheus)}` })]);
    const providers = (YAML.parse(readFileSync(join(provisioning!, 'dashboards/heimdall.yml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[] }).providers;
    const dashboards = hostPathOf(grafana, providers[0].options.path);
    expect(dashboards).toBe(join(DEPLOY, 'grafana/dashboards'));
    expect(existsSync(join(dashboards!, 'heimdall.json'))).toBe(true);
    expect(hostPathOf(grafana, grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH))
      .toBe(join(DEPLOY, 'grafana/dashboards/heimdall.json'));
  });
});

describe('the dashboard\'s queries against a running gateway', () => {
  let g: MetricsGateway;
  let exported: Map<string, Set<string>>;
  let scraped: string;
  beforeAll(async () => {
    g = await startMetricsGateway({
      mockProvider: { network_config: { max_retries: 1, retry_backoff_initial_ms: 1, retry_backoff_max_ms: 5 } } });
    await sendMixedTraffic(g.url);
    const fellBack = await postChat(g.url, { model: 'mock/error-503', fallbacks: ['mock/echo'], messages: [{ role: 'user', content: 'hi' }] });
    expect(fellBack.status).toBe(200);
    await fellBack.text();
    const text = await eventually(() => scrape(g.url),
      (exposition) => (metricSum(exposition, 'heimdall_fallbacks_total', { provider: 'mock' }) ?? 0) > 0, 5_000, 50);
    exported = exportedLabels(text);
    scraped = text;
  }, 60_000);
  afterAll(() => g?.close());

  const panels = (list: Panel[]): Panel[] => list.flatMap((panel) => [panel, ...panels(panel.panels ?? [])]);
  const queries = (): { where: string; expr: string }[] => [
    ...panels(dashboard.panels).flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: panel.title, expr: target.expr }))),
    ...dashboard.templating.list.filter((variable) => variable.type === 'query')
      .map((variable) => ({ where: `$${variable.name}`, expr: (variable.query as { query: string }).query })),
  ];

  it('names only metrics and labels the gateway exports', () => {
    expect(queries().length).toBeGreaterThan(20);
    const problems = queries().flatMap(({ where, expr }) => unknownNames(expr, exported).map((problem) => `${where}: ${problem}`));
    expect(problems).toEqual([]);
  });

  it('reads queries well enough to catch a wrong name', () => {
    expect(queryNames('sum by (le, model) (rate(heimdall_upstream_latency_seconds_bucket{provider=~"$provider"}[$__rate_interval]))'))
      .toEqual({ selectors: [{ metric: 'heimdall_upstream_latency_seconds_bucket', labels: ['provider'] }], groupingLabels: ['le', 'model'] });
    expect(unknownNames('sum by (route) (rate(heimdall_http_requests[5m]))', exported)).toEqual([
      'heimdall_http_requests is not exported', 'no metric of the query has label route: sum by (route) (rate(heimdall_http_requests[5m]))']);
    expect(unknownNames('sum by (team) (rate(heimdall_http_requests_total{path="/v1"}[5m]))', exported)).toEqual([
      'heimdall_http_requests_total has no label path',
      'no metric of the query has label team: sum by (team) (rate(heimdall_http_requests_total{path="/v1"}[5m]))']);
    expect(unknownNames('label_values(heimdall_pool_threads, model)', exported)).toHaveLength(1);
  });

  it('counts retries and fallbacks under the provider and model that failed', () => {
    // error-503 was retried once in each of its two requests, then fell back once to mock/echo.
    expect(metricValue(scraped, 'heimdall_retries_total', { provider: 'mock', model: 'error-503' })).toBe(2);
    expect(metricValue(scraped, 'heimdall_fallbacks_total', { provider: 'mock', model: 'error-503' })).toBe(1);
  });

  it('covers the series a dashboard is for: per-model latency, TTFT, tokens and errors by code', () => {
    const used = new Set(queries().flatMap(({ expr }) => queryNames(expr).selectors.map((selector) => selector.metric)));
    for (const metric of ['heimdall_upstream_latency_seconds_bucket', 'heimdall_time_to_first_token_seconds_bucket',
      'heimdall_tokens_total', 'heimdall_upstream_errors_total', 'heimdall_http_requests_total', 'process_cpu_seconds_total',
      'heimdall_build_info']) {
      expect(used, metric).toContain(metric);
    }
  });
});
