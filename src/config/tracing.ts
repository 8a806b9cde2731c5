// Tracing's settings: Bifrost's `otel` plugin entry (`plugins: [{ "name": "otel", "config": { … } }]`), with the
// standard OTEL_* environment variables filling what the entry leaves out, and turning tracing on by themselves
// when no entry says otherwise (OTEL_EXPORTER_OTLP_ENDPOINT set, as every OpenTelemetry SDK reads it).
// Validated here once; the result is plain data the exporter thread gets as it is.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { ConfigProblem } from './errors.js';
import type { TracingConfig } from './types.js';

type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_SERVICE_NAME = 'heimdall';
// Sixteen times OpenTelemetry's 512 and 2048: each export costs the exporter thread about a millisecond whatever its
// size (its HTTP code runs too rarely to be optimised, and every export wakes it twice), which at 512 spans was 9 µs
// of a request's CPU, at 2048 about 2.7 and at 8192 (in practice a 2 MiB hand-off, about 7,000 spans) 1.4–2.0
// (bench/tracing-export.ts). The exporter also caps an export at 3 MiB (export-thread.ts), under a collector's 4 MiB
// message limit. The queue holds four such batches (about 10 MB without content) while the collector is slow.
const DEFAULT_MAX_QUEUE_SPANS = 32_768;
const DEFAULT_MAX_BATCH_SPANS = 8192;
const DEFAULT_EXPORT_TIMEOUT_MS = 10_000;
const DEFAULT_SCHEDULE_DELAY_MS = 1000;

/** Bifrost's keys, then Heimdall's. */
export const otelPluginSchema = z.strictObject({
  service_name: z.string().min(1).optional(),
  collector_url: z.string().min(1).optional(),
  // Bifrost's only implemented kind; its others ("vercel", "open_inference") are "coming soon" there too.
  trace_type: z.literal('genai_extension').optional(),
  protocol: z.enum(['http', 'grpc']).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  tls_ca_cert: z.string().min(1).optional(),
  insecure: z.boolean().optional(),
  // Bifrost exports its Prometheus metric set through OTLP as well; Heimdall's metrics are on /metrics only.
  metrics_enabled: z.boolean().optional(),
  metrics_endpoint: z.string().optional(),
  metrics_push_interval: z.number().optional(),
  sample_rate: z.number().min(0).max(1).optional(),
  propagate_traceparent: z.boolean().optional(),
  capture_content: z.boolean().optional(),
  max_queue_size: z.number().int().min(1).max(1_000_000).optional(),
  max_export_batch_size: z.number().int().min(1).max(10_000).optional(),
  export_timeout_ms: z.number().int().min(100).max(120_000).optional(),
  schedule_delay_ms: z.number().int().min(10).max(60_000).optional(),
});

export type RawOtelPlugin = z.infer<typeof otelPluginSchema>;

/** Bifrost keys that load but do nothing here: reported once at start. */
export const OTEL_IGNORED_KEYS = ['metrics_enabled', 'metrics_endpoint', 'metrics_push_interval'] as const;

export interface TracingContext {
  readonly env: Env;
  readonly problems: ConfigProblem[];
  readonly resolveEnv: (value: string, path: string) => string;
  /** The config file's folder, against which `tls_ca_cert` is read. */
  readonly folder: string;
}

/** `k=v,k2=v2` with percent-encoded values, as OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS write them. */
export function parseKeyValueList(text: string, name: string, problems: ConfigProblem[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) {
      problems.push({ path: name, message: `expected key=value pairs separated by commas, got '${item.trim()}'` });
      continue;
    }
    try {
      out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      problems.push({ path: name, message: `'${item.slice(0, eq).trim()}' has a malformed percent-encoding` });
    }
  }
  return out;
}

const envOf = (env: Env, name: string): string | undefined => {
  const value = env[`OTEL_EXPORTER_OTLP_TRACES_${name}`] ?? env[`OTEL_EXPORTER_OTLP_${name}`];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
};

/**
 * The collector's URL as the exporter calls it. HTTP: a URL without a path gets `/v1/traces` (as the base
 * OTEL_EXPORTER_OTLP_ENDPOINT always does); gRPC: `host:port` or a URL, the path ignored.
 */
function endpointOf(raw: string, protocol: 'http' | 'grpc', isBase: boolean, insecure: boolean, path: string,
  problems: ConfigProblem[]): string | null {
  let text = raw;
  if (!/^[a-z]+:\/\//i.test(text)) {
    if (protocol === 'http') {
      problems.push({ path, message: `expected an http:// or https:// URL, got '${raw}'` });
      return null;
    }
    text = `${insecure ? 'http' : 'https'}://${text}`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push({ path, message: `not a URL: '${raw}'` });
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push({ path, message: `expected http:// or https://, got '${url.protocol}'` });
    return null;
  }
  if (protocol === 'grpc') return `${url.protocol}//${url.host}`;
  if (isBase) url.pathname = `${url.pathname.replace(/\/$/, '')}/v1/traces`;
  else if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.href;
}

function samplerRatio(env: Env, problems: ConfigProblem[]): number | undefined {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim();
  if (!sampler) return undefined;
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') return 1;
  if (sampler === 'always_off' || sampler === 'parentbased_always_off') return 0;
  if (sampler === 'traceidratio' || sampler === 'parentbased_traceidratio') {
    const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
    if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
    problems.push({ path: 'OTEL_TRACES_SAMPLER_ARG', message: `expected a ratio from 0 to 1, got '${env.OTEL_TRACES_SAMPLER_ARG}'` });
    return undefined;
  }
  problems.push({ path: 'OTEL_TRACES_SAMPLER', message: `'${sampler}' is not supported: use always_on, always_off, `
    + 'traceidratio or their parentbased_ forms (Heimdall always follows a sampled caller)' });
  return undefined;
}

/**
 * Tracing's settings, or null when it is off. `entry` is the `otel` plugin entry when the config has one (its
 * `enabled` and raw `config`), `at` its path for problems.
 */
export function tracingConfig(entry: { enabled: boolean; config: unknown; at: string } | null, ctx: TracingContext): TracingConfig | null {
  const { env, problems } = ctx;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  if (entry && !entry.enabled) return null;
  let raw: RawOtelPlugin = {};
  if (entry) {
    const parsed = otelPluginSchema.safeParse(entry.config ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')}; known: ${Object.keys(otelPluginSchema.shape).join(', ')})` : '';
        problems.push({ path: [entry.at, 'config', ...issue.path.map(String)].join('.'), message: issue.message + keys });
      }
      return null;
    }
    raw = parsed.data;
  }
  const envEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || undefined;
  const envBase = envEndpoint ? undefined : env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
  // Without an entry, the environment alone turns tracing on, unless it names no exporter.
  if (!entry && (!(envEndpoint ?? envBase) || env.OTEL_TRACES_EXPORTER?.trim() === 'none')) return null;
  const at = (key: string) => entry ? `${entry.at}.config.${key}` : key;

  let protocol: 'http' | 'grpc' = raw.protocol ?? 'http';
  if (!raw.protocol) {
    const envProtocol = envOf(env, 'PROTOCOL');
    if (envProtocol === 'grpc') protocol = 'grpc';
    else if (envProtocol !== undefined && envProtocol !== 'http/protobuf') {
      problems.push({ path: 'OTEL_EXPORTER_OTLP_PROTOCOL', message: `'${envProtocol}' is not supported: use http/protobuf or grpc` });
    }
  }
  const insecure = raw.insecure ?? false;
  const given = raw.collector_url !== undefined ? ctx.resolveEnv(raw.collector_url, at('collector_url')) : envEndpoint ?? envBase;
  if (!given) {
    problems.push({ path: at('collector_url'), message: 'required: the collector\'s URL (or set OTEL_EXPORTER_OTLP_ENDPOINT)' });
    return null;
  }
  const endpoint = endpointOf(given, protocol, raw.collector_url === undefined && envBase !== undefined, insecure,
    raw.collector_url !== undefined ? at('collector_url') : envEndpoint ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT', problems);

  const headers: Record<string, string> = {};
  const envHeaders = envOf(env, 'HEADERS');
  if (envHeaders) Object.assign(headers, parseKeyValueList(envHeaders, 'OTEL_EXPORTER_OTLP_HEADERS', problems));
  for (const [name, value] of Object.entries(raw.headers ?? {})) headers[name.toLowerCase()] = ctx.resolveEnv(value, at(`headers.${name}`));

  const resource: Record<string, string> = {};
  if (env.OTEL_RESOURCE_ATTRIBUTES) Object.assign(resource, parseKeyValueList(env.OTEL_RESOURCE_ATTRIBUTES, 'OTEL_RESOURCE_ATTRIBUTES', problems));
  resource['service.name'] = raw.service_name ?? env.OTEL_SERVICE_NAME?.trim() ?? resource['service.name'] ?? DEFAULT_SERVICE_NAME;

  let tlsCa: string | null = null;
  const caPath = raw.tls_ca_cert ?? envOf(env, 'CERTIFICATE');
  if (caPath) {
    const file = resolve(ctx.folder, caPath);
    try {
      tlsCa = readFileSync(file, 'utf8');
    } catch (error) {
      problems.push({ path: raw.tls_ca_cert ? at('tls_ca_cert') : 'OTEL_EXPORTER_OTLP_CERTIFICATE',
        message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    }
  }
  const envTimeout = envOf(env, 'TIMEOUT');
  const timeout = raw.export_timeout_ms ?? (envTimeout !== undefined && Number(envTimeout) > 0 ? Number(envTimeout) : DEFAULT_EXPORT_TIMEOUT_MS);
  const sampleRate = raw.sample_rate ?? samplerRatio(env, problems) ?? 1;
  if (endpoint === null) return null;
  return {
    protocol,
    endpoint,
    headers,
    resource,
    tlsCa,
    sampleRate,
    propagateTraceparent: raw.propagate_traceparent ?? false,
    captureContent: raw.capture_content ?? false,
    maxQueueSpans: raw.max_queue_size ?? DEFAULT_MAX_QUEUE_SPANS,
    maxBatchSpans: raw.max_export_batch_size ?? DEFAULT_MAX_BATCH_SPANS,
    exportTimeoutMs: timeout,
    scheduleDelayMs: raw.schedule_delay_ms ?? DEFAULT_SCHEDULE_DELAY_MS,
  };
}

export const configFolder = (file: string | null): string => file ? dirname(resolve(file)) : process.cwd();
