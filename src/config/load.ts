import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import YAML from 'yaml';
import { PROVIDER_FACTS } from '../contract/providers.js';
import { ConfigError, type ConfigProblem, formatPath, hint, issuesToProblems } from './errors.js';
import {
  configSchema,
  DEFAULT_PLUGINS,
  IGNORED_KEYS,
  isPluginPath,
  KEY_CONFIG_FIELDS,
  mockConfigSchema,
  type RawConfig,
  type RawKey,
  type RawProvider,
} from './schema.js';
import type { GatewayConfig, KeyConfig, PluginConfig, ProviderConfig, ServerConfig } from './types.js';

export interface LoadConfigOptions {
  file?: string | null;
  /** An already-parsed config object (embedding, tests); takes the place of `file`. */
  raw?: unknown;
  env: Readonly<Record<string, string | undefined>>;
  overrides?: { port?: number; host?: string; logLevel?: string };
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

  const problems: ConfigProblem[] = [];
  const server = serverConfig(opts.overrides ?? {}, problems);
  const cfg = parsed.data;
  const providers = Object.entries(cfg.providers).map(([name, p]) => normalizeProvider(name, p, opts.env, problems));
  checkFallbacks(providers, problems);
  const aliases = modelAliases(cfg.model_aliases, providers, problems);
  if (problems.length) throw new ConfigError(problems, source);

  return deepFreeze({
    server,
    client: {
      dropExcessRequests: cfg.client.drop_excess_requests,
      maxRequestBodySizeMb: cfg.client.max_request_body_size_mb,
      shutdownGraceSeconds: cfg.client.shutdown_grace_seconds,
      accessLog: cfg.client.access_log,
      prometheusLabels: cfg.client.prometheus_labels,
    },
    providers,
    modelAliases: aliases,
    plugins: normalizePlugins(cfg.plugins, file),
    source,
    ignoredKeys: ignoredKeys(cfg),
  });
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

function serverConfig(o: NonNullable<LoadConfigOptions['overrides']>, problems: ConfigProblem[]): ServerConfig {
  const server = { host: o.host ?? '0.0.0.0', port: o.port ?? 8080, logLevel: o.logLevel ?? 'info' };
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

function normalizeProvider(
  name: string,
  p: RawProvider,
  env: LoadConfigOptions['env'],
  problems: ConfigProblem[],
): ProviderConfig {
  const at = (...rest: PropertyKey[]): string => formatPath(['providers', name, ...rest]);
  const adapter = resolveAdapter(name, p, at, problems);
  const facts = adapter ? PROVIDER_FACTS[adapter] : undefined;
  const keyless = Boolean(facts?.keyless || p.custom_provider_config?.is_key_less);
  const resolveEnv = (value: string, path: PropertyKey[]): string => resolveRef(value, env, at(...path), problems);

  const keys = p.keys.map((k, i) => normalizeKey(name, k, i, (v, path) => resolveEnv(v, ['keys', i, ...path])));
  checkKeys(keys, keyless, at, problems);

  const net = p.network_config;
  const baseUrl = net.base_url ? net.base_url.replace(/\/+$/, '') : null;
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
    },
    concurrency: {
      concurrency: p.concurrency_and_buffer_size.concurrency,
      bufferSize: p.concurrency_and_buffer_size.buffer_size,
      threads: p.concurrency_and_buffer_size.threads,
    },
    fallbacks: p.fallbacks,
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

/** Every default fallback is `provider/model` with a configured provider. */
/** A `provider/model` the config names (a fallback, an alias's target) must name a configured provider. */
function checkModelTarget(target: string, path: string, names: readonly string[], problems: ConfigProblem[]): void {
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1) {
    problems.push({ path, message: `'${target}' must be 'provider/model'` });
    return;
  }
  const provider = target.slice(0, slash);
  if (!names.includes(provider)) {
    problems.push({ path, message: `provider '${provider}' is not configured${hint(provider, names)}` });
  }
}

function checkFallbacks(providers: readonly ProviderConfig[], problems: ConfigProblem[]): void {
  const names = providers.map((provider) => provider.name);
  for (const provider of providers) {
    provider.fallbacks.forEach((fallback, i) => {
      checkModelTarget(fallback, formatPath(['providers', provider.name, 'fallbacks', i]), names, problems);
    });
  }
}

function modelAliases(aliases: Record<string, string>, providers: readonly ProviderConfig[],
  problems: ConfigProblem[]): Record<string, string> {
  const names = providers.map((provider) => provider.name);
  for (const [alias, target] of Object.entries(aliases)) {
    checkModelTarget(target, formatPath(['model_aliases', alias]), names, problems);
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
  if (Object.hasOwn(PROVIDER_FACTS, name)) {
    if (!custom) return name;
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
  const base = custom.base_provider_type;
  const bases = Object.keys(PROVIDER_FACTS).filter((id) => PROVIDER_FACTS[id].canBeBase);
  if (!bases.includes(base)) {
    const message = `'${base}' cannot be a base provider${hint(base, bases)} (valid: ${bases.join(', ')})`;
    problems.push({ path: at('custom_provider_config', 'base_provider_type'), message });
    return null;
  }
  return base;
}

type Resolver = (value: string, path: PropertyKey[]) => string;

function normalizeKey(provider: string, k: RawKey, index: number, resolveEnv: Resolver): KeyConfig {
  const providerConfigs: Record<string, unknown> = {};
  for (const field of KEY_CONFIG_FIELDS) {
    if (k[field]) providerConfigs[field] = resolveDeep(k[field], [field], resolveEnv);
  }
  const id = k.id ?? `${provider}-key-${index}`;
  const allModels = k.models === undefined || (k.models.length === 1 && k.models[0] === '*');
  return {
    id,
    name: k.name ?? id,
    value: resolveEnv(k.value, ['value']),
    models: allModels ? null : k.models!,
    blacklistedModels: k.blacklisted_models,
    weight: k.weight,
    enabled: k.enabled,
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

function resolveRef(value: string, env: LoadConfigOptions['env'], path: string, problems: ConfigProblem[]): string {
  if (!value.startsWith(ENV_PREFIX)) return value;
  const name = value.slice(ENV_PREFIX.length);
  const resolved = env[name];
  if (resolved === undefined) {
    problems.push({ path, message: `environment variable '${name}' is not set` });
    return '';
  }
  return resolved;
}

function normalizePlugins(plugins: RawConfig['plugins'], file: string | null): PluginConfig[] {
  const folder = file ? dirname(resolve(file)) : process.cwd();
  return (plugins ?? DEFAULT_PLUGINS).map((entry) => {
    if (typeof entry === 'string') {
      if (!isPluginPath(entry)) return { name: entry, path: null, enabled: true, config: {} };
      const path = resolve(folder, entry);
      return { name: basename(path, extname(path)), path, enabled: true, config: {} };
    }
    return {
      name: entry.name,
      path: 'path' in entry && entry.path ? resolve(folder, entry.path) : null,
      enabled: 'enabled' in entry ? entry.enabled : true,
      config: ('config' in entry && entry.config) || {},
    };
  });
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
  collect(cfg.client, IGNORED_KEYS.client, ['client']);
  for (const [name, p] of Object.entries(cfg.providers)) {
    collect(p, IGNORED_KEYS.provider, ['providers', name]);
    collect(p.network_config, IGNORED_KEYS.network, ['providers', name, 'network_config']);
    collect(p.custom_provider_config, IGNORED_KEYS.custom, ['providers', name, 'custom_provider_config']);
    p.keys.forEach((k, i) => collect(k, IGNORED_KEYS.key, ['providers', name, 'keys', i]));
  }
  cfg.plugins?.forEach((entry, i) => {
    if (typeof entry !== 'string') collect(entry, IGNORED_KEYS.plugin, ['plugins', i]);
  });
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
