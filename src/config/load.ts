import { configFolder, OTEL_IGNORED_KEYS, tracingConfig } from './tracing.js';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, resolve } from 'node:path';
import YAML from 'yaml';
import { adapterOf, PROVIDER_FACTS } from '../contract/providers.js';
import { DEFAULT_PORTED_BYTES, DEFAULT_RING_SHAPE, type RingShape } from '../contract/ring-layout.js';
import { CACHE_PLUGIN, normalizeCacheConfig, semanticCacheSchema, type CacheConfig } from '../cache/config.js';
import { BIFROST_BASE_TYPES, BIFROST_ONLY_PROVIDERS, BIFROST_PLUGINS } from './bifrost.js';
import { ConfigError, type ConfigProblem, formatPath, hint, issuesToProblems } from './errors.js';
import { rememberEnvValues } from './redact.js';
import {
  configSchema,
  DEFAULT_PLUGINS,
  IGNORED_KEYS,
  isPluginPath,
  KEY_CONFIG_FIELDS,
  LARGE_PAYLOAD_IGNORED,
  MAX_PROCESSES,
  mockConfigSchema,
  processesSchema,
  type RawConfig,
  type RawKey,
  type RawProvider,
} from './schema.js';
import { adminConfig } from './admin.js';
import { unenforcedSettings } from './security.js';
import { compileGovernance, mcpClientNames } from '../governance/model.js';
import { GOVERNANCE_IGNORED, governanceSchema, isKeyValue, KEY_VALUE_RULE } from '../governance/schema.js';
import { overrideFromBifrost } from '../pricing/overrides.js';
import { requestLogConfig } from './stores.js';
import type { GatewayConfig, KeyConfig, McpClientConfig, McpConfig, PluginConfig, ProcessesConfig, ProviderConfig, ProxyConfig, ServerConfig } from './types.js';

export interface LoadConfigOptions {
  file?: string | null;
  /** An already-parsed config object (embedding, tests); takes the place of `file`. */
  raw?: unknown;
  env: Readonly<Record<string, string | undefined>>;
  overrides?: { port?: number; host?: string; logLevel?: string; processes?: string; h2cPort?: number };
}

export const EMBEDDED_SOURCE = 'embedded default';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ENV_PREFIX = 'env.';

export async function loadConfig(opts: LoadConfigOptions): Promise<GatewayConfig> {
  const file = opts.raw === undefined ? opts.file ?? null : null;
  const source = file ?? (opts.raw === undefined ? EMBEDDED_SOURCE : 'inline config');
  const raw = opts.raw !== undefined ? opts.raw : file ? await readConfigFile(file) : embeddedDefault(opts.env);

  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new ConfigError(issuesToProblems(parsed.error.issues, configSchema), source);

  const cfg = parsed.data;
  const ctx: LoadContext = { env: opts.env, problems: unenforcedSettings(cfg), warnings: [], envValues: new Set(),
    emptyModelsMeanAll: cfg.version === 1, emptyModelKeys: [] };
  const server = serverConfig(opts.overrides ?? {}, cfg.heimdall?.h2c_port, ctx.problems);
  const processes = processesConfig(opts.overrides?.processes, cfg.heimdall?.processes, ctx.problems);
  const providers: ProviderConfig[] = [];
  const unsupportedProviders: string[] = [];
  for (const [name, p] of Object.entries(cfg.providers)) {
    const unserved = unservedReason(name, p);
    if (unserved === null) {
      providers.push(normalizeProvider(name, p, ctx));
      continue;
    }
    unsupportedProviders.push(name);
    ctx.warnings.push(`providers.${name}: ${unserved}; it loads but is not served (a request for ${name}/… gets 404)`);
  }
  const targets = { served: providers.map((p) => p.name), unsupported: unsupportedProviders };
  checkFallbacks(providers, targets, ctx.problems);
  const aliases = modelAliases(cfg.model_aliases, targets, ctx.problems);
  const governance = governanceConfig(cfg, providers, ctx);
  const admin = adminConfig(cfg, opts.env, (value, path) => resolveRef(value, ctx, path), ctx.problems);
  if (ctx.problems.length) throw new ConfigError(ctx.problems, source);
  if (ctx.emptyModelKeys.length > 0) {
    ctx.warnings.push(`${ctx.emptyModelKeys.join(', ')}: "models": [] allows no model, so ${ctx.emptyModelKeys.length === 1
      ? 'this key serves' : 'these keys serve'} nothing (Bifrost 1.5 reads [] so; before 1.5 it meant every model): `
      + 'write ["*"] for every model, or set "version": 1 at the top for the old meaning');
  }
  const plugins = normalizePlugins(cfg.plugins, file);
  const cache = cacheConfig(cfg, providers, ctx);
  const tracing = tracingFromConfig(cfg, file, opts.env, ctx);
  const mcp = mcpConfig(cfg, ctx);
  const requestLog = requestLogConfig(cfg, { env: opts.env, problems: ctx.problems, warnings: ctx.warnings,
    resolveEnv: (value, path) => resolveRef(value, ctx, path) });
  if (ctx.problems.length) throw new ConfigError(ctx.problems, source);

  const config = deepFreeze({
    server,
    processes,
    client: {
      dropExcessRequests: cfg.client.drop_excess_requests,
      allowedOrigins: cfg.client.allowed_origins,
      maxRequestBodySizeMb: cfg.client.max_request_body_size_mb,
      ...bodyLimit(cfg),
      shutdownGraceSeconds: cfg.client.shutdown_grace_seconds,
      accessLog: cfg.client.access_log,
      extraFields: cfg.client.extra_fields,
      asyncJobResultTtlSeconds: cfg.client.async_job_result_ttl,
      prometheusLabels: cfg.client.prometheus_labels,
    },
    providers,
    unsupportedProviders,
    modelAliases: aliases,
    plugins: plugins.plugins,
    cache,
    mcp,
    governance,
    admin,
    requestLog,
    largeMessageBytes: largeMessageBytes(cfg, ctx.warnings),
    tracing: tracing.config,
    source,
    // A top-level `auth_config` that is enabled is acted on (src/config/admin.ts).
    ignoredKeys: [...ignoredKeys(cfg).filter((key) => key !== 'auth_config' || !admin.basic), ...plugins.ignored, ...tracing.ignored],
    warnings: [...ctx.warnings, ...plugins.warnings],
  });
  rememberEnvValues(config, ctx.envValues);
  return config;
}

/** The enabled `semantic_cache` plugin entry as the response cache's config; null when there is none. */
function cacheConfig(cfg: RawConfig, providers: readonly ProviderConfig[], ctx: LoadContext): CacheConfig | null {
  const entries = (cfg.plugins ?? []).map((entry, i) => [entry, i] as const)
    .filter(([entry]) => typeof entry !== 'string' ? entry.name === CACHE_PLUGIN && !entry.path : entry === CACHE_PLUGIN);
  if (entries.length > 1) ctx.problems.push({ path: `plugins.${entries[1][1]}`, message: `${CACHE_PLUGIN} is listed twice` });
  const [entry, index] = entries[0] ?? [];
  if (entry === undefined || index === undefined || (typeof entry !== 'string' && !entry.enabled)) return null;
  const base = ['plugins', index, 'config'];
  const parsed = semanticCacheSchema.safeParse(typeof entry === 'string' ? {} : entry.config ?? {});
  if (!parsed.success) {
    // Relative to the entry's config, so that an unknown key is matched against the cache's own keys for its hint.
    for (const problem of issuesToProblems(parsed.error.issues, semanticCacheSchema)) {
      ctx.problems.push({ ...problem, path: problem.path ? `${formatPath(base)}.${problem.path}` : formatPath(base) });
    }
    return null;
  }
  if (parsed.data.keys !== undefined) ctx.warnings.push(`${formatPath([...base, 'keys'])}: the embedding provider is called `
    + 'through its own pool with its configured keys; these keys are not used');
  const served = new Set(providers.map((p) => p.name));
  const embeds = (name: string) => {
    const provider = providers.find((p) => p.name === name);
    return provider !== undefined && PROVIDER_FACTS[provider.adapter]?.capabilities.embeddings === true;
  };
  return normalizeCacheConfig(parsed.data, formatPath(base), served, embeds, ctx.problems);
}

/** The `otel` plugin entry (the last one, if several) and the OTEL_* variables; see src/config/tracing.ts. */
function tracingFromConfig(cfg: RawConfig, file: string | null, env: Readonly<Record<string, string | undefined>>, ctx: LoadContext) {
  let entry: { enabled: boolean; config: unknown; at: string } | null = null;
  cfg.plugins?.forEach((plugin, i) => {
    if (plugin === 'otel') entry = { enabled: true, config: {}, at: `plugins.${i}` };
    else if (typeof plugin !== 'string' && plugin.name === 'otel' && !plugin.path) {
      entry = { enabled: plugin.enabled, config: plugin.config ?? {}, at: `plugins.${i}` };
    }
  });
  const found = entry as { enabled: boolean; config: unknown; at: string } | null;
  const config = tracingConfig(found, { env, problems: ctx.problems, folder: configFolder(file),
    resolveEnv: (value, path) => resolveRef(value, ctx, path) });
  const given = (found?.config ?? {}) as Record<string, unknown>;
  const ignored = found ? OTEL_IGNORED_KEYS.filter((key) => given[key] !== undefined).map((key) => `${found.at}.config.${key}`) : [];
  return { config, ignored };
}

function governanceConfig(cfg: RawConfig, providers: readonly ProviderConfig[], ctx: LoadContext) {
  const given = cfg.governance ?? governanceSchema.parse({});
  const named = mcpClientNames(given, cfg.mcp?.client_configs ?? []);
  const raw = { ...named, virtual_keys: named.virtual_keys.map((vk, i) => {
    const path = `governance.virtual_keys.${i}.value`;
    const value = resolveRef(vk.value, ctx, path);
    if (value !== vk.value && value !== '' && !isKeyValue(value)) ctx.problems.push({ path, message: `expected ${KEY_VALUE_RULE}` });
    return { ...vk, value };
  }) };
  // A `governance` plugin entry's `is_vk_mandatory` is Bifrost's older switch for the same thing.
  const vkMandatory = cfg.plugins?.some((entry) => typeof entry !== 'string' && entry.name === 'governance'
    && entry.enabled !== false && !entry.path && (entry.config as Record<string, unknown> | null | undefined)?.is_vk_mandatory === true);
  const enforceAuth = cfg.client.enforce_auth_on_inference || cfg.client.enforce_governance_header === true || vkMandatory === true;
  compileGovernance(raw, providers, Date.now(), ctx.problems, new Map(), (cfg.mcp?.client_configs ?? []).map((c) => c.name));
  for (const vk of raw.virtual_keys) ctx.envValues.add(vk.value);
  const bare = cfg.mcp?.client_configs?.length ? raw.virtual_keys.filter((vk) => vk.mcp_configs.length === 0) : [];
  if (bare.length > 0) {
    ctx.warnings.push(`virtual key${bare.length > 1 ? 's' : ''} ${bare.map((vk) => `'${vk.id}'`).join(', ')} ha${bare.length > 1 ? 've' : 's'} `
      + 'no mcp_configs: requests presenting them get no MCP tools (add {"mcp_client_name": …, "tools_to_execute": ["*"]} to allow some)');
  }
  if (enforceAuth && !raw.virtual_keys.some((vk) => vk.is_active)) {
    ctx.warnings.push('client.enforce_auth_on_inference is on and no virtual key is active: every inference request is refused');
  }
  return { enforceAuth, raw };
}

interface LoadContext {
  readonly env: LoadConfigOptions['env'];
  readonly problems: ConfigProblem[];
  readonly warnings: string[];
  /** Every value read from an `env.VAR` reference, so the start-up dump can mask it wherever it lands. */
  readonly envValues: Set<string>;
  /** Bifrost's top-level `"version": 1`: a key's `"models": []` keeps its pre-1.5 meaning, every model. */
  readonly emptyModelsMeanAll: boolean;
  /** Paths of keys whose `"models": []` allows nothing, reported in one warning. */
  readonly emptyModelKeys: string[];
}

/** Why a provider Bifrost knows is loaded but not served, or null when Heimdall serves it (or it is a mistake). */
function unservedReason(name: string, p: RawProvider): string | null {
  const base = p.custom_provider_config?.base_provider_type;
  if (base === undefined) {
    return BIFROST_ONLY_PROVIDERS.has(name) ? `Heimdall has no adapter for Bifrost's provider '${name}' yet` : null;
  }
  const adapter = adapterOf(base);
  if ((adapter && PROVIDER_FACTS[adapter].canBeBase) || !BIFROST_BASE_TYPES.has(base)) return null;
  return `Heimdall cannot base a custom provider on '${base}' yet`;
}

async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError([{ path: '', message: `cannot read config file (${code})` }], file);
  }
  const ext = extname(file).toLowerCase();
  let data: unknown;
  try {
    data = parseText(text, ext);
  } catch (err) {
    const kind = ext === '.json' ? 'JSON' : 'YAML';
    throw new ConfigError([{ path: '', message: `not valid ${kind}: ${(err as Error).message}` }], file);
  }
  if (data === null || data === undefined) throw new ConfigError([{ path: '', message: 'the file is empty' }], file);
  return data;
}

function parseText(text: string, ext: string): unknown {
  if (ext === '.json') return JSON.parse(text);
  if (ext === '.yaml' || ext === '.yml') return YAML.parse(text);
  try {
    return JSON.parse(text);
  } catch {
    return YAML.parse(text);
  }
}

/** No file: the keyless mock so a first request works, plus every provider whose standard key variable is set. */
function embeddedDefault(env: LoadConfigOptions['env']): unknown {
  const providers: Record<string, unknown> = { mock: {} };
  for (const [name, facts] of Object.entries(PROVIDER_FACTS)) {
    if (facts.envKey && env[facts.envKey]) providers[name] = { keys: [{ value: `${ENV_PREFIX}${facts.envKey}` }] };
  }
  return { providers };
}

/** The command line's `--h2c-port` (or HEIMDALL_H2C_PORT) wins over the file's `heimdall.h2c_port`; none by default. */
function serverConfig(o: NonNullable<LoadConfigOptions['overrides']>, h2cFromFile: number | undefined, problems: ConfigProblem[]): ServerConfig {
  const server = { host: o.host ?? '0.0.0.0', port: o.port ?? 8080, logLevel: o.logLevel ?? 'info', h2cPort: o.h2cPort ?? h2cFromFile ?? null };
  if (server.h2cPort !== null && (!Number.isInteger(server.h2cPort) || server.h2cPort < 0 || server.h2cPort > 65535)) {
    problems.push({ path: 'heimdall.h2c_port', message: `expected an integer from 0 to 65535, got ${server.h2cPort}` });
  }
  if (server.h2cPort !== null && server.h2cPort !== 0 && server.h2cPort === server.port) {
    problems.push({ path: 'heimdall.h2c_port', message: `must differ from the HTTP/1.1 port (${server.port}): uWebSockets.js owns that one` });
  }
  if (!Number.isInteger(server.port) || server.port < 0 || server.port > 65535) {
    problems.push({ path: 'server.port', message: `expected an integer from 0 to 65535, got ${server.port}` });
  }
  if (!server.host) problems.push({ path: 'server.host', message: 'must not be empty' });
  if (!LOG_LEVELS.includes(server.logLevel)) {
    const msg = `unknown log level '${server.logLevel}'${hint(server.logLevel, LOG_LEVELS)} (one of ${LOG_LEVELS.join(', ')})`;
    problems.push({ path: 'server.logLevel', message: msg });
  }
  return server;
}

/** The command line's `--processes` (or HEIMDALL_PROCESSES) wins over the file's `heimdall.processes`; default 1. */
function processesConfig(override: string | undefined, fromFile: number | 'auto' | undefined,
  problems: ConfigProblem[]): ProcessesConfig {
  let setting: number | 'auto' = fromFile ?? 1;
  if (override !== undefined && override !== '') {
    const parsed = processesSchema.safeParse(/^\d+$/.test(override) ? Number(override) : override);
    if (parsed.success) setting = parsed.data;
    else problems.push({ path: '--processes', message: `expected 'auto' or a whole number from 1 to ${MAX_PROCESSES}, got '${override}'` });
  }
  const count = setting === 'auto' ? availableParallelism() : setting;
  return { setting, count, supervised: setting !== 1 };
}

function normalizeProvider(name: string, p: RawProvider, ctx: LoadContext): ProviderConfig {
  const { problems } = ctx;
  const at = (...rest: PropertyKey[]): string => formatPath(['providers', name, ...rest]);
  const adapter = resolveAdapter(name, p, at, problems);
  const facts = adapter ? PROVIDER_FACTS[adapter] : undefined;
  const keyless = Boolean(facts?.keyless || p.custom_provider_config?.is_key_less);
  const resolveEnv = (value: string, path: PropertyKey[]): string => resolveRef(value, ctx, at(...path));

  const keys = p.keys.map((k, i) => normalizeKey(name, k, i, (v, path) => resolveEnv(v, ['keys', i, ...path]),
    ctx.emptyModelsMeanAll));
  p.keys.forEach((k, i) => {
    if (k.models?.length === 0 && !ctx.emptyModelsMeanAll) ctx.emptyModelKeys.push(at('keys', i));
  });
  checkKeys(keys, keyless, at, problems);

  const net = p.network_config;
  const configuredUrl = net.base_url || (facts?.keyUrlConfig ? keyUrl(keys, facts.keyUrlConfig, at, problems) : null);
  const baseUrl = configuredUrl ? configuredUrl.replace(/\/+$/, '') : null;
  // A custom provider is by definition some other server than the base type's default; some adapters have no default.
  if (facts && !baseUrl && (p.custom_provider_config || facts.needsBaseUrl)) {
    const why = p.custom_provider_config ? `a custom provider based on '${adapter}'` : `provider '${adapter}'`;
    problems.push({ path: at('network_config', 'base_url'), message: `required for ${why}` });
  }
  if (p.mock_config && adapter !== 'mock') {
    problems.push({ path: at('mock_config'), message: 'only the mock provider takes mock_config' });
  }
  const mock = adapter === 'mock' ? (p.mock_config ?? mockConfigSchema.parse({})) : null;

  return {
    name,
    adapter: adapter ?? name,
    keyless,
    keys,
    network: {
      baseUrl,
      extraHeaders: Object.fromEntries(
        Object.entries(net.extra_headers).map(([h, v]) => [h, resolveEnv(v, ['network_config', 'extra_headers', h])]),
      ),
      requestTimeoutSeconds: net.default_request_timeout_in_seconds,
      firstTokenTimeoutSeconds: net.first_token_timeout_in_seconds ?? null,
      streamIdleTimeoutSeconds: net.stream_idle_timeout_in_seconds,
      maxRetries: net.max_retries,
      retryBackoffInitialMs: net.retry_backoff_initial,
      retryBackoffMaxMs: net.retry_backoff_max,
      maxConnsPerHost: net.max_conns_per_host,
      insecureSkipVerify: net.insecure_skip_verify,
      caCertPem: pemFrom(net.ca_cert_pem, ['network_config', 'ca_cert_pem'], resolveEnv, at, problems),
    },
    proxy: proxyConfig(p.proxy_config, ctx.env, resolveEnv, at, problems),
    concurrency: {
      concurrency: p.concurrency_and_buffer_size.concurrency,
      bufferSize: p.concurrency_and_buffer_size.buffer_size,
      threads: p.concurrency_and_buffer_size.threads,
      warm: p.concurrency_and_buffer_size.warm,
      idleTimeoutMs: p.concurrency_and_buffer_size.idle_timeout_seconds * 1000,
      resourceLimits: resourceLimits(p.concurrency_and_buffer_size.resource_limits),
      ring: ringShape(p.concurrency_and_buffer_size.resource_limits),
    },
    fallbacks: p.fallbacks,
    pricingOverrides: p.pricing_overrides.map(overrideFromBifrost),
    passthrough: !p.custom_provider_config || p.custom_provider_config.allowed_requests?.passthrough === true,
    passthroughStream: !p.custom_provider_config || p.custom_provider_config.allowed_requests?.passthrough_stream === true,
    circuitBreaker: {
      enabled: p.circuit_breaker.enabled,
      consecutiveFailures: p.circuit_breaker.consecutive_failures,
      errorRateThreshold: p.circuit_breaker.error_rate_threshold,
      windowSeconds: p.circuit_breaker.window_seconds,
      minRequests: p.circuit_breaker.min_requests,
      cooldownSeconds: p.circuit_breaker.cooldown_seconds,
      maxCooldownSeconds: p.circuit_breaker.max_cooldown_seconds,
      halfOpenProbes: p.circuit_breaker.half_open_probes,
    },
    mock: mock && {
      latencyMs: mock.latency_ms,
      chunkCount: mock.chunk_count,
      chunkIntervalMs: mock.chunk_interval_ms,
      promptTokens: mock.prompt_tokens ?? null,
      completionTokens: mock.completion_tokens ?? null,
    },
  };
}

/** PEM text from the config, or from the variable it names, which must hold PEM text too. */
function pemFrom(value: string | undefined, path: PropertyKey[], resolveEnv: Resolver,
  at: (...rest: PropertyKey[]) => string, problems: ConfigProblem[]): string | null {
  if (value === undefined) return null;
  const pem = resolveEnv(value, path);
  if (value.startsWith(ENV_PREFIX) && pem !== '' && !pem.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push({ path: at(...path), message: `the variable '${value.slice(ENV_PREFIX.length)}' does not hold a PEM certificate` });
  }
  return pem || null;
}

const PROXY_SCHEMES: Readonly<Record<'http' | 'socks5', readonly string[]>> = { http: ['http:', 'https:'], socks5: ['socks5:', 'socks:'] };

const protocolOf = (url: string): string => {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
};

/**
 * HTTPS_PROXY, HTTP_PROXY and NO_PROXY as curl and undici read them (the lower-case spelling first), read once at
 * start-up like every other setting; a proxy URL that would fail on the first request fails here instead.
 */
function environmentProxy(env: LoadConfigOptions['env'], problems: ConfigProblem[]): NonNullable<ProxyConfig['environment']> {
  const read = (name: string): string | null => env[name.toLowerCase()] || env[name] || null;
  const found = { httpProxy: read('HTTP_PROXY'), httpsProxy: read('HTTPS_PROXY'), noProxy: read('NO_PROXY') };
  for (const [name, url] of [['HTTP_PROXY', found.httpProxy], ['HTTPS_PROXY', found.httpsProxy]] as const) {
    if (url && ![...PROXY_SCHEMES.http, ...PROXY_SCHEMES.socks5].includes(protocolOf(url))) {
      problems.push({ path: `environment ${name}`, message: 'expected an http://, https:// or socks5:// proxy URL' });
    }
  }
  return found;
}

/**
 * Absent: the proxy the environment names, if it names one, as curl and most HTTP clients do. `type: "none"` is
 * how a provider opts out of it.
 */
function proxyConfig(raw: RawProvider['proxy_config'], env: LoadConfigOptions['env'], resolveEnv: Resolver,
  at: (...rest: PropertyKey[]) => string, problems: ConfigProblem[]): ProxyConfig | null {
  const none = { url: null, username: null, password: null, caCertPem: null, environment: null };
  if (!raw) {
    const environment = environmentProxy(env, problems);
    return environment.httpProxy || environment.httpsProxy ? { ...none, type: 'environment', environment } : null;
  }
  if (raw.type === 'none') return null;
  const optional = (value: string | undefined, field: string) => (value ? resolveEnv(value, ['proxy_config', field]) || null : null);
  const caCertPem = pemFrom(raw.ca_cert_pem, ['proxy_config', 'ca_cert_pem'], resolveEnv, at, problems);
  if (raw.type === 'environment') return { ...none, type: 'environment', caCertPem, environment: environmentProxy(env, problems) };
  const url = resolveEnv(raw.url ?? '', ['proxy_config', 'url']);
  if (!PROXY_SCHEMES[raw.type].includes(protocolOf(url))) {
    problems.push({ path: at('proxy_config', 'url'), message: `a proxy of type '${raw.type}' needs a ${raw.type === 'http'
      ? 'http:// or https://' : 'socks5://'} URL` });
  }
  return { type: raw.type, url, username: optional(raw.username, 'username'), password: optional(raw.password, 'password'), caCertPem,
    environment: null };
}

/** The providers a `provider/model` in the config may name, and those it names in vain (loaded, not served). */
interface Targets {
  readonly served: readonly string[];
  readonly unsupported: readonly string[];
}

/** A `provider/model` the config names (a fallback, an alias's target) must name a served provider. */
function checkModelTarget(target: string, path: string, targets: Targets, problems: ConfigProblem[]): void {
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1) {
    problems.push({ path, message: `'${target}' must be 'provider/model'` });
    return;
  }
  const provider = target.slice(0, slash);
  if (targets.unsupported.includes(provider)) {
    problems.push({ path, message: `provider '${provider}' is not served (Heimdall has no adapter for it yet)` });
  } else if (!targets.served.includes(provider)) {
    problems.push({ path, message: `provider '${provider}' is not configured${hint(provider, targets.served)}` });
  }
}

function checkFallbacks(providers: readonly ProviderConfig[], targets: Targets, problems: ConfigProblem[]): void {
  for (const provider of providers) {
    provider.fallbacks.forEach((fallback, i) => {
      checkModelTarget(fallback, formatPath(['providers', provider.name, 'fallbacks', i]), targets, problems);
    });
  }
}

function modelAliases(aliases: Record<string, string>, targets: Targets, problems: ConfigProblem[]): Record<string, string> {
  for (const [alias, target] of Object.entries(aliases)) {
    checkModelTarget(target, formatPath(['model_aliases', alias]), targets, problems);
  }
  return { ...aliases };
}

function resolveAdapter(
  name: string,
  p: RawProvider,
  at: (...rest: PropertyKey[]) => string,
  problems: ConfigProblem[],
): string | null {
  const custom = p.custom_provider_config;
  const builtin = adapterOf(name);
  if (builtin) {
    if (!custom) return builtin;
    problems.push({ path: at('custom_provider_config'), message: `'${name}' is a built-in provider; pick another name for a custom one` });
    return null;
  }
  if (!custom) {
    const message = `unknown provider '${name}'${hint(name, Object.keys(PROVIDER_FACTS))} (a custom provider needs custom_provider_config.base_provider_type)`;
    problems.push({ path: at(), message });
    return null;
  }
  if (/[/\s]/.test(name)) {
    problems.push({ path: at(), message: `provider name '${name}' must not contain '/' or spaces (it prefixes model names)` });
  }
  const base = adapterOf(custom.base_provider_type) ?? custom.base_provider_type;
  const bases = Object.keys(PROVIDER_FACTS).filter((id) => PROVIDER_FACTS[id].canBeBase);
  if (!bases.includes(base)) {
    const message = `'${base}' cannot be a base provider${hint(base, bases)} (valid: ${bases.join(', ')})`;
    problems.push({ path: at('custom_provider_config', 'base_provider_type'), message });
    return null;
  }
  return base;
}

type Resolver = (value: string, path: PropertyKey[]) => string;

/**
 * Bifrost ≥ 1.5 gives each key of a self-hosted provider its own server (`sgl_key_config.url`). Heimdall sends a
 * provider's requests to one base URL, so the keys' URL serves as that when they all agree.
 */
function keyUrl(keys: readonly KeyConfig[], field: string, at: (...rest: PropertyKey[]) => string,
  problems: ConfigProblem[]): string | null {
  const urls = [...new Set(keys.map((k) => (k.providerConfigs[field] as { url?: unknown } | undefined)?.url)
    .filter((url): url is string => typeof url === 'string' && url !== ''))];
  if (urls.length <= 1) return urls[0] ?? null;
  problems.push({ path: at('keys'), message: `the keys name ${urls.length} different ${field}.url servers; Heimdall sends a `
    + 'provider\'s requests to one base URL: configure one provider per server (custom providers), or set network_config.base_url' });
  return null;
}

function normalizeKey(provider: string, k: RawKey, index: number, resolveEnv: Resolver, emptyMeansAll = false): KeyConfig {
  const providerConfigs: Record<string, unknown> = {};
  for (const field of KEY_CONFIG_FIELDS) {
    if (k[field]) providerConfigs[field] = resolveDeep(k[field], [field], resolveEnv);
  }
  const id = k.id ?? `${provider}-key-${index}`;
  const allModels = k.models === undefined || (k.models.length === 1 && k.models[0] === '*')
    || (emptyMeansAll && k.models.length === 0);
  return {
    id,
    name: k.name ?? id,
    value: resolveEnv(k.value, ['value']),
    models: allModels ? null : k.models!,
    blacklistedModels: k.blacklisted_models,
    weight: k.weight,
    enabled: k.enabled,
    ...(k.use_for_batch_api === undefined ? {} : { useForBatchApi: k.use_for_batch_api }),
    providerConfigs,
  };
}

/** A copy of `v` with every `env.VAR` string replaced by the variable's value. */
function resolveDeep(v: unknown, path: PropertyKey[], resolveEnv: Resolver): unknown {
  if (typeof v === 'string') return resolveEnv(v, path);
  if (Array.isArray(v)) return v.map((item, i) => resolveDeep(item, [...path, i], resolveEnv));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([key, item]) => [key, resolveDeep(item, [...path, key], resolveEnv)]));
  }
  return v;
}

function checkKeys(
  keys: readonly KeyConfig[],
  keyless: boolean,
  at: (...rest: PropertyKey[]) => string,
  problems: ConfigProblem[],
): void {
  // A key authenticates by its value, or by cloud credentials in its *_key_config block (Bedrock, Vertex).
  const usable = (k: KeyConfig) => k.enabled && (k.value !== '' || Object.keys(k.providerConfigs).length > 0);
  if (!keyless && !keys.some(usable)) {
    problems.push({ path: at('keys'), message: 'needs at least one enabled key with a non-empty value or a *_key_config block' });
  }
  for (const field of ['id', 'name'] as const) {
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      if (seen.has(k[field])) problems.push({ path: at('keys', i, field), message: `duplicate key ${field} '${k[field]}'` });
      seen.add(k[field]);
    });
  }
}

function resolveRef(value: string, ctx: LoadContext, path: string): string {
  if (!value.startsWith(ENV_PREFIX)) return value;
  const name = value.slice(ENV_PREFIX.length);
  const resolved = ctx.env[name];
  if (resolved === undefined) {
    ctx.problems.push({ path, message: `environment variable '${name}' is not set` });
    return '';
  }
  if (resolved !== '') ctx.envValues.add(resolved);
  return resolved;
}

const MINUTE_MS = 60_000;

/** The `mcp` block and the client-level MCP settings; null when no client is configured. */
function mcpConfig(cfg: RawConfig, ctx: LoadContext): McpConfig | null {
  const raw = cfg.mcp;
  if (!raw || raw.client_configs.length === 0) return null;
  const syncMs = cfg.client.mcp_tool_sync_interval !== undefined ? cfg.client.mcp_tool_sync_interval * MINUTE_MS
    : raw.tool_sync_interval ?? 10 * MINUTE_MS;
  const clients = raw.client_configs.map((c, i): McpClientConfig => {
    const at = (...rest: PropertyKey[]) => formatPath(['mcp', 'client_configs', i, ...rest]);
    const resolveEnv = (value: string, path: PropertyKey[]) => resolveRef(value, ctx, at(...path));
    const env: Record<string, string> = {};
    for (const name of c.stdio_config?.envs ?? []) {
      const value = ctx.env[name];
      if (value === undefined) ctx.warnings.push(`${at('stdio_config', 'envs')}: '${name}' is not set; the server starts without it`);
      else env[name] = value;
    }
    if (c.tools_to_execute.length === 0) {
      ctx.warnings.push(`${at('tools_to_execute')}: empty or absent, so none of '${c.name}'s tools may run (["*"] allows every tool)`);
    }
    return {
      name: c.name,
      connectionType: c.connection_type,
      command: c.stdio_config?.command ?? null,
      args: c.stdio_config?.args ?? [],
      env,
      url: c.connection_string ? resolveEnv(c.connection_string, ['connection_string']) : null,
      headers: Object.fromEntries(Object.entries(c.headers).map(([name, value]) => [name, resolveEnv(value, ['headers', name])])),
      toolsToExecute: c.tools_to_execute.includes('*') ? null : c.tools_to_execute,
      toolsToAutoExecute: c.tools_to_auto_execute.includes('*') ? null : c.tools_to_auto_execute,
      ping: c.is_ping_available,
      syncIntervalMs: c.tool_sync_interval ?? syncMs,
    };
  });
  clients.forEach((c, i) => {
    if (c.url === null || c.url === '') return; // '': an env.VAR that is not set, reported already
    try {
      if (!['http:', 'https:'].includes(new URL(c.url).protocol)) throw new Error('not http');
    } catch {
      ctx.problems.push({ path: formatPath(['mcp', 'client_configs', i, 'connection_string']), message: 'expected an http(s) URL' });
    }
  });
  const manager = raw.tool_manager_config;
  return {
    clients,
    agentDepth: cfg.client.mcp_agent_depth ?? manager?.max_agent_depth ?? 10,
    toolTimeoutMs: cfg.client.mcp_tool_execution_timeout !== undefined ? cfg.client.mcp_tool_execution_timeout * 1000
      : manager?.tool_execution_timeout || 30_000,
  };
}

interface NormalizedPlugins {
  plugins: PluginConfig[];
  ignored: string[];
  warnings: string[];
}

function normalizePlugins(entries: RawConfig['plugins'], file: string | null): NormalizedPlugins {
  const folder = file ? dirname(resolve(file)) : process.cwd();
  const out: NormalizedPlugins = { plugins: [], ignored: [], warnings: [] };
  const notActedOn: string[] = [];
  (entries ?? DEFAULT_PLUGINS).forEach((entry, i) => {
    if (typeof entry === 'string' && isPluginPath(entry)) {
      const path = resolve(folder, entry);
      out.plugins.push({ name: basename(path, extname(path)), path, enabled: true, config: {} });
      return;
    }
    const plugin: PluginConfig = typeof entry === 'string'
      ? { name: entry, path: null, enabled: true, config: {} }
      : { name: entry.name, path: entry.path ? resolve(folder, entry.path) : null, enabled: entry.enabled, config: entry.config ?? {} };
    if (plugin.path !== null || !Object.hasOwn(BIFROST_PLUGINS, plugin.name)) {
      out.plugins.push(plugin);
      return;
    }
    // Bifrost's governance plugin is built into Heimdall's request path (src/governance); its `is_vk_mandatory` is
    // read with the governance block, its other settings are refused or reported by `security.ts`.
    if (plugin.name === 'governance') return;
    // Bifrost's semantic_cache is Heimdall's response cache (src/cache), validated on its own by `cacheConfig`.
    if (plugin.name === CACHE_PLUGIN) return;
    // Bifrost's otel plugin is Heimdall's tracing (src/config/tracing.ts), read apart from the plugins.
    if (plugin.name === 'otel') return;
    const builtin = BIFROST_PLUGINS[plugin.name];
    if (builtin === null) {
      if (plugin.enabled) notActedOn.push(plugin.name);
      return;
    }
    // Bifrost's plugin maps onto Heimdall's own; its settings are Bifrost's, not the built-in's.
    for (const key of Object.keys(plugin.config)) out.ignored.push(formatPath(['plugins', i, 'config', key]));
    out.plugins.push({ name: builtin, path: null, enabled: plugin.enabled, config: {} });
  });
  // `telemetry` beside `metrics` (a Bifrost list with Heimdall's name added) would count every request twice.
  out.plugins = out.plugins.filter((p, i) => p.path !== null || out.plugins.findIndex((q) => q.path === null && q.name === p.name) === i);
  if (notActedOn.length > 0) {
    out.warnings.push(`plugins: Bifrost's built-in plugin${notActedOn.length === 1 ? '' : 's'} ${notActedOn.join(', ')} `
      + `${notActedOn.length === 1 ? 'is' : 'are'} not acted on by Heimdall yet and will not run`);
  }
  return out;
}

/** The body limit: the client's, or a smaller `max_payload_bytes` of an enabled large_payload_optimization. */
function bodyLimit(cfg: RawConfig): { maxRequestBodyBytes: number; maxRequestBodySetting: string } {
  const client = Math.floor(cfg.client.max_request_body_size_mb * 1024 * 1024);
  const payload = cfg.large_payload_optimization;
  return payload?.enabled && payload.max_payload_bytes && payload.max_payload_bytes < client
    ? { maxRequestBodyBytes: payload.max_payload_bytes, maxRequestBodySetting: 'large_payload_optimization.max_payload_bytes' }
    : { maxRequestBodyBytes: client, maxRequestBodySetting: 'client.max_request_body_size_mb' };
}

/** large_payload_optimization's thresholds when it is enabled, else the defaults; a block set but off is pointed out. */
function largeMessageBytes(cfg: RawConfig, warnings: string[]): { toWorker: number; toFront: number } {
  const payload = cfg.large_payload_optimization;
  if (!payload?.enabled) {
    const set = Object.entries(payload ?? {}).filter(([key, value]) => key !== 'enabled' && value !== 0
      && !(LARGE_PAYLOAD_IGNORED as readonly string[]).includes(key)).map(([key]) => key);
    if (set.length > 0) {
      warnings.push(`large_payload_optimization: ${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} not applied while "enabled" is false`);
    }
    return { toWorker: DEFAULT_PORTED_BYTES, toFront: DEFAULT_PORTED_BYTES };
  }
  return { toWorker: payload.request_threshold_bytes || DEFAULT_PORTED_BYTES, toFront: payload.response_threshold_bytes || DEFAULT_PORTED_BYTES };
}

function ignoredKeys(cfg: RawConfig): string[] {
  const out: string[] = [];
  const collect = (obj: object | undefined, names: readonly string[], path: PropertyKey[]): void => {
    if (!obj) return;
    for (const name of names) {
      if ((obj as Record<string, unknown>)[name] !== undefined) out.push(formatPath([...path, name]));
    }
  };
  collect(cfg, IGNORED_KEYS.top, []);
  collect(cfg.large_payload_optimization, LARGE_PAYLOAD_IGNORED, ['large_payload_optimization']);
  collect(cfg.client, IGNORED_KEYS.client, ['client']);
  collect(cfg.logs_store, IGNORED_KEYS.logsStore, ['logs_store']);
  collect(cfg.logs_store?.writer, IGNORED_KEYS.storeWriter, ['logs_store', 'writer']);
  for (const [name, p] of Object.entries(cfg.providers)) {
    collect(p, IGNORED_KEYS.provider, ['providers', name]);
    collect(p.network_config, IGNORED_KEYS.network, ['providers', name, 'network_config']);
    // Of allowed_requests only the passthrough flags are honoured (the passthrough routes' gating).
    const custom = p.custom_provider_config;
    const onlyPassthrough = Object.keys(custom?.allowed_requests ?? {}).every((flag) => flag === 'passthrough' || flag === 'passthrough_stream');
    collect(onlyPassthrough ? { ...custom, allowed_requests: undefined } : custom, IGNORED_KEYS.custom, ['providers', name, 'custom_provider_config']);
    p.keys.forEach((k, i) => collect(k, IGNORED_KEYS.key, ['providers', name, 'keys', i]));
    p.pricing_overrides.forEach((o, i) => collect(o, IGNORED_KEYS.pricingOverride, ['providers', name, 'pricing_overrides', i]));
  }
  cfg.plugins?.forEach((entry, i) => {
    if (typeof entry !== 'string') collect(entry, IGNORED_KEYS.plugin, ['plugins', i]);
  });
  cfg.mcp?.client_configs.forEach((c, i) => collect(c, IGNORED_KEYS.mcpClient, ['mcp', 'client_configs', i]));
  if (cfg.mcp?.tool_manager_config?.code_mode_binding_level !== undefined) out.push('mcp.tool_manager_config.code_mode_binding_level');
  if (cfg.mcp?.tool_groups !== undefined) out.push('mcp.tool_groups');
  collect(cfg.governance, GOVERNANCE_IGNORED, ['governance']);
  cfg.governance?.teams.forEach((team, i) => collect(team, ['profile', 'config', 'claims'], ['governance', 'teams', i]));
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The rings' shape when either key is set, the other keeping its default (DEFAULT_RING_SHAPE). */
function ringShape(limits: { ring_slots?: number; ring_slot_size_kb?: number }): RingShape | null {
  if (limits.ring_slots === undefined && limits.ring_slot_size_kb === undefined) return null;
  return { slotCount: limits.ring_slots ?? DEFAULT_RING_SHAPE.slotCount,
    slotSize: limits.ring_slot_size_kb === undefined ? DEFAULT_RING_SHAPE.slotSize : limits.ring_slot_size_kb * 1024 };
}

function resourceLimits(limits: { max_old_generation_size_mb?: number; max_young_generation_size_mb?: number; stack_size_mb?: number }):
  ProviderConfig['concurrency']['resourceLimits'] {
  return {
    ...(limits.max_old_generation_size_mb !== undefined ? { maxOldGenerationSizeMb: limits.max_old_generation_size_mb } : {}),
    ...(limits.max_young_generation_size_mb !== undefined ? { maxYoungGenerationSizeMb: limits.max_young_generation_size_mb } : {}),
    ...(limits.stack_size_mb !== undefined ? { stackSizeMb: limits.stack_size_mb } : {}),
  };
}
