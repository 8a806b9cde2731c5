import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from './helpers.js';

const PROVIDERS = { mock: {} };
const load = (plugins: unknown[] | undefined, env: Record<string, string> = {}) =>
  loadConfig({ raw: { providers: PROVIDERS, ...(plugins ? { plugins } : {}) }, env });

describe('tracing config', () => {
  it('is off without an otel entry or OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    expect((await load(undefined)).tracing).toBeNull();
    expect((await load(undefined, { OTEL_SERVICE_NAME: 'x' })).tracing).toBeNull();
  });

  it("reads Bifrost's otel entry, with env.VAR header values and the defaults spelled out", async () => {
    const cfg = await load(['metrics', { name: 'otel', config: { service_name: 'gw', collector_url: 'http://c:4318',
      headers: { 'X-Api-Key': 'env.COLLECTOR_KEY' }, metrics_enabled: true } }], { COLLECTOR_KEY: 'k1' });
    expect(cfg.tracing).toEqual({ protocol: 'http', endpoint: 'http://c:4318/v1/traces', headers: { 'x-api-key': 'k1' },
      resource: { 'service.name': 'gw' }, tlsCa: null, sampleRate: 1, propagateTraceparent: false, captureContent: false,
      maxQueueSpans: 32_768, maxBatchSpans: 8192, exportTimeoutMs: 10_000, scheduleDelayMs: 1000 });
    // Bifrost's OTLP metrics push is not done here, and says so.
    expect(cfg.ignoredKeys).toContain('plugins.1.config.metrics_enabled');
    expect(cfg.plugins.map((p) => p.name)).toEqual(['metrics']);
  });

  it('keeps a path the collector URL gives, and takes gRPC targets as host:port', async () => {
    expect((await load([{ name: 'otel', config: { collector_url: 'https://c/otlp/v1/traces' } }])).tracing?.endpoint)
      .toBe('https://c/otlp/v1/traces');
    expect((await load([{ name: 'otel', config: { collector_url: 'c:4317', protocol: 'grpc' } }])).tracing?.endpoint).toBe('https://c:4317');
    expect((await load([{ name: 'otel', config: { collector_url: 'c:4317', protocol: 'grpc', insecure: true } }])).tracing?.endpoint)
      .toBe('http://c:4317');
  });

  it('is turned on and filled by the standard OTEL_* variables', async () => {
    const cfg = await load(undefined, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/base',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-team=ml',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.version=1.2',
      OTEL_SERVICE_NAME: 'edge-gw',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
    });
    expect(cfg.tracing).toMatchObject({ protocol: 'http', endpoint: 'http://collector:4318/base/v1/traces',
      headers: { authorization: 'Bearer abc', 'x-team': 'ml' }, sampleRate: 0.25, exportTimeoutMs: 3000,
      resource: { 'service.name': 'edge-gw', 'deployment.environment': 'prod', 'service.version': '1.2' } });
    const grpc = await load(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(grpc.tracing).toMatchObject({ protocol: 'grpc', endpoint: 'http://c:4317' });
    // The signal-specific endpoint is used as it is.
    expect((await load(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' })).tracing?.endpoint)
      .toBe('http://c:4318/custom');
  });

  it('stays off when the entry is disabled, the SDK is disabled, or the exporter is none', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect((await load([{ name: 'otel', enabled: false, config: { collector_url: 'http://c' } }], env)).tracing).toBeNull();
    expect((await load(undefined, { ...env, OTEL_SDK_DISABLED: 'true' })).tracing).toBeNull();
    expect((await load(undefined, { ...env, OTEL_TRACES_EXPORTER: 'none' })).tracing).toBeNull();
  });

  it('refuses unknown keys, bad values and a missing collector with their paths', async () => {
    const unknown = await configError(() => load([{ name: 'otel', config: { collector_url: 'http://c', sample_ratio: 0.5 } }]));
    expect(unknown.message).toContain('plugins.0.config');
    expect(unknown.message).toContain('sample_ratio');
    expect(unknown.message).toContain('sample_rate');
    const rate = await configError(() => load([{ name: 'otel', config: { collector_url: 'http://c', sample_rate: 2 } }]));
    expect(rate.message).toContain('plugins.0.config.sample_rate');
    const missing = await configError(() => load([{ name: 'otel', config: {} }]));
    expect(missing.message).toContain('plugins.0.config.collector_url');
    const scheme = await configError(() => load([{ name: 'otel', config: { collector_url: 'c:4318' } }]));
    expect(scheme.message).toContain('expected an http:// or https:// URL');
    const protocol = await configError(() => load(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }));
    expect(protocol.message).toContain('OTEL_EXPORTER_OTLP_PROTOCOL');
    const unset = await configError(() => load([{ name: 'otel', config: { collector_url: 'http://c', headers: { a: 'env.NOPE' } } }]));
    expect(unset.message).toContain("environment variable 'NOPE' is not set");
  });
});
