// The raw config file: Bifrost's config.json shape plus Heimdall's own keys. Every object is strict so a typo
// fails loudly. Keys that load but that Heimdall does not act on live in the `*Ignored` shapes below; their names
// are what `load.ts` reports as `ignoredKeys`.
import { z } from 'zod';
import { governanceSchema } from '../governance/schema.js';
import { PRICING_REQUEST_TYPES, patternProblem } from '../pricing/overrides.js';

const looseObject = z.record(z.string(), z.unknown());
const stringList = z.array(z.string());
const nonNegInt = z.int().min(0);
const posInt = z.int().min(1);

export const PLUGIN_PATH_EXTENSIONS = ['.js', '.mjs', '.ts', '.mts'] as const;
export const isPluginPath = (s: string): boolean => PLUGIN_PATH_EXTENSIONS.some((ext) => s.endsWith(ext));
const looksLikePath = (s: string): boolean => /[/\\]/.test(s) || s.startsWith('.');
const pluginPathMessage = `a plugin path must end in ${PLUGIN_PATH_EXTENSIONS.slice(0, -1).join(', ')} or ${PLUGIN_PATH_EXTENSIONS.at(-1)}`;

// Bifrost's blocks that Heimdall has no counterpart for. The settings among them that would restrict traffic
// (auth) are refused at load by `security.ts`, so their shapes stay loose here.
const topIgnored = {
  encryption_key: z.string().optional(),
  auth_config: z.unknown().optional(),
  server: z.unknown().optional(),
  source_of_truth: z.unknown().optional(),
  env_label: z.unknown().optional(),
  alerting: z.unknown().optional(),
  webhooks: z.unknown().optional(),
  skills_registry: z.unknown().optional(),
  config_store: z.unknown().optional(),
  vector_store: z.unknown().optional(),
  framework: z.unknown().optional(),
  websocket: z.unknown().optional(),
  // Enterprise-only blocks in Bifrost's schema.
  cluster_config: z.unknown().optional(),
  saml_config: z.unknown().optional(),
  load_balancer_config: z.unknown().optional(),
  guardrails_config: z.unknown().optional(),
  audit_logs: z.unknown().optional(),
  scim_config: z.unknown().optional(),
  access_profiles: z.unknown().optional(),
  feature_flags: z.unknown().optional(),
  circuit_breaker_config: z.unknown().optional(),
};

const clientIgnored = {
  initial_pool_size: posInt.optional(),
  disable_db_pings_in_health: z.boolean().optional(),
  // The pre-1.5 switch of the governance plugin, which restricts nothing by itself.
  enable_governance: z.boolean().optional(),
  enable_litellm_fallbacks: z.boolean().optional(),
  allow_direct_keys: z.boolean().optional(),
  allow_per_request_content_storage_override: z.boolean().optional(),
  allow_per_request_raw_override: z.boolean().optional(),
  dump_errors_in_console_logs: z.boolean().optional(),
  webhook_config: looseObject.optional(),
  dual_credential_conflict_behavior: z.string().optional(),
  compat: looseObject.optional(),
  whitelisted_routes: stringList.optional(),
  hide_deleted_virtual_keys_in_filters: z.boolean().optional(),
  allowed_headers: stringList.optional(),
  routing_chain_max_depth: posInt.optional(),
  mcp_disable_auto_tool_inject: z.boolean().optional(),
  mcp_enable_temp_token_auth: z.boolean().optional(),
  mcp_external_client_url: z.unknown().optional(),
  mcp_server_auth_mode: z.string().optional(),
  oauth2_server_config: looseObject.optional(),
  logging_headers: stringList.optional(),
  header_filter_config: z.strictObject({ allowlist: stringList.optional(), denylist: stringList.optional() }).optional(),
  mcp_code_mode_binding_level: z.enum(['server', 'tool']).optional(),
};

// Every inference request needs a virtual key (src/governance).
const clientAuth = {
  enforce_auth_on_inference: z.boolean().default(false),
  // Bifrost's deprecated spelling of enforce_auth_on_inference.
  enforce_governance_header: z.boolean().optional(),
};

// Settings that restrict who may call: refused by `security.ts` when set, so neither acted on nor ignored.
const clientRefusedWhenSet = {
  enforce_scim_auth: z.boolean().optional(),
  required_headers: stringList.optional(),
};

// A browser origin as the Origin header carries it (scheme://host[:port], no path), `*` for any, or Bifrost's
// subdomain wildcard (`https://*.example.com`, `*.example.com`).
const SUBDOMAIN_WILDCARD = /^(?:https?:\/\/)?\*\.[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?\/?$/i;
const allowedOrigin = z.string().refine((s) => {
  if (s === '*' || SUBDOMAIN_WILDCARD.test(s)) return true;
  try {
    const url = new URL(s);
    return ['http:', 'https:'].includes(url.protocol) && url.origin === s.replace(/\/+$/, '').toLowerCase();
  } catch {
    return false;
  }
}, "expected '*', an origin such as 'https://app.example.com' (scheme, host and port only), or 'https://*.example.com'");

const clientSchema = z.strictObject({
  drop_excess_requests: z.boolean().default(false),
  allowed_origins: z.array(allowedOrigin).default([]),
  max_request_body_size_mb: posInt.default(10),
  shutdown_grace_seconds: z.number().min(0).default(30),
  ...clientAuth,
  ...clientRefusedWhenSet,
  access_log: z.boolean().default(true),
  // The request log (docs/logs.md): on by default, to an SQLite file in the data directory.
  enable_logging: z.boolean().default(true),
  disable_content_logging: z.boolean().default(false),
  // 0 keeps records forever; `logs_store.retention_days` wins when both are given.
  log_retention_days: nonNegInt.optional(),
  // Bifrost's `extra_fields` object on /v1 answers and chat chunks (provider, model_requested, request_type, latency).
  // Off by default: it adds ~165 bytes to every streamed chunk (a typical one is ~230), and /v1 answers would no
  // longer be the provider's bytes as they came; clients written against Bifrost that read it turn it on.
  extra_fields: z.boolean().default(false),
  // Seconds a `/v1/async/*` job's result is kept for polling (Bifrost's default: one hour).
  async_job_result_ttl: posInt.default(3600),
  // Label names of the HTTP metrics, valued per request by `x-bf-prom-<label>` headers (as in Bifrost).
  prometheus_labels: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a Prometheus label name: letters, digits, _')
    .refine((name) => !name.startsWith('__') && !['route', 'method', 'status', 'le'].includes(name),
      'a label of its own, not route, method, status, le or __*'))
    // Each label multiplies the HTTP series' label combinations, which must stay countable.
    .max(4).refine((names) => new Set(names).size === names.length, 'duplicate label').default([]),
  // MCP (docs/mcp.md): agent-mode turns, one tool call's time limit (seconds), tool list re-sync (minutes, 0: off).
  mcp_agent_depth: posInt.max(100).optional(),
  mcp_tool_execution_timeout: z.number().positive().max(3600).optional(),
  mcp_tool_sync_interval: z.number().min(0).optional(),
  ...clientIgnored,
});

const modelList = z.array(z.string().min(1)).superRefine((models, ctx) => {
  if (models.includes('*') && models.length > 1) {
    ctx.addIssue({ code: 'custom', message: `'*' (all models) cannot be mixed with model names` });
  }
  const seen = new Set<string>();
  for (const m of models) {
    if (seen.has(m)) ctx.addIssue({ code: 'custom', message: `duplicate model '${m}'` });
    seen.add(m);
  }
});

const keyIgnored = {
  aliases: looseObject.optional(),
};
/**
 * Per-key provider settings (endpoints, deployments, cloud credentials). Their strings may be `env.VAR`
 * references; the adapter that needs one reads and checks it, so here they are only objects.
 */
const envOr = (check: (s: string) => boolean, message: string) =>
  z.string().min(1).refine((s) => s.startsWith('env.') || check(s), message);
/**
 * Bifrost's `batch_s3_config` (its `buckets`), where OpenAI's files and batches on Bedrock live: uploads go to the
 * bucket marked `is_default` (else the first), under its `prefix`; `role_arn`, Heimdall's, is the service role
 * Bedrock's batch jobs run as (Bifrost takes it per call, as a batch's `role_arn`, which Heimdall also accepts).
 */
const batchS3Config = z.strictObject({
  buckets: z.array(z.strictObject({
    bucket_name: envOr((s) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s), 'an S3 bucket name: 3-63 of a-z 0-9 . -'),
    prefix: z.string().optional(),
    is_default: z.boolean().optional(),
  })).min(1).refine((buckets) => buckets.filter((bucket) => bucket.is_default === true).length <= 1, 'at most one bucket with is_default'),
  role_arn: envOr((s) => /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(s), 'an IAM role ARN: arn:aws:iam::{account}:role/{name}').optional(),
});

const keyProviderConfigs = {
  azure_key_config: looseObject.optional(),
  vertex_key_config: looseObject.optional(),
  // Its credentials and deployments are the adapter's to read; its batch settings are checked here, at boot.
  bedrock_key_config: z.looseObject({ batch_s3_config: batchS3Config.optional() }).optional(),
  vllm_key_config: looseObject.optional(),
  replicate_key_config: looseObject.optional(),
  ollama_key_config: looseObject.optional(),
  sgl_key_config: looseObject.optional(),
  bedrock_mantle_key_config: looseObject.optional(),
};
export const KEY_CONFIG_FIELDS = Object.keys(keyProviderConfigs) as (keyof typeof keyProviderConfigs)[];

const keySchema = z.strictObject({
  id: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  value: z.string().default(''),
  models: modelList.optional(),
  blacklisted_models: z.array(z.string().min(1)).default([]),
  weight: z.number().min(0).default(1),
  enabled: z.boolean().default(true),
  description: z.string().optional(),
  // Keys that serve files and batches (docs/files-and-batches.md): when any key of a provider is flagged, only those.
  use_for_batch_api: z.boolean().optional(),
  ...keyIgnored,
  ...keyProviderConfigs,
});

// PEM text, or an `env.VAR` reference to it (checked once resolved).
const pemOrEnvRef = z.string().refine((s) => s.startsWith('env.') || s.includes('-----BEGIN CERTIFICATE-----'),
  "expected PEM text with '-----BEGIN CERTIFICATE-----', or 'env.VAR'");

const networkIgnored = {
  enforce_http2: z.boolean().optional(),
  beta_header_overrides: looseObject.optional(),
  keep_alive_timeout_in_seconds: posInt.optional(),
  allow_private_network: z.boolean().optional(),
};

const httpUrl = z.string().refine((s) => {
  if (s === '') return true;
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, 'expected an http(s) URL');

const networkSchema = z
  .strictObject({
    base_url: httpUrl.optional(),
    extra_headers: z.record(z.string(), z.string()).default({}),
    default_request_timeout_in_seconds: posInt.default(30),
    // Heimdall's own: a stream's time to first chunk, so a stuck upstream fails over before the total is spent.
    first_token_timeout_in_seconds: posInt.optional(),
    stream_idle_timeout_in_seconds: posInt.default(60),
    max_retries: nonNegInt.default(0),
    // Bifrost's Go struct reads the bare names while its docs use the `_ms` ones; accept both.
    retry_backoff_initial: nonNegInt.optional(),
    retry_backoff_initial_ms: nonNegInt.optional(),
    retry_backoff_max: nonNegInt.optional(),
    retry_backoff_max_ms: nonNegInt.optional(),
    max_conns_per_host: posInt.max(10000).default(5000),
    insecure_skip_verify: z.boolean().default(false),
    ca_cert_pem: pemOrEnvRef.optional(),
    ...networkIgnored,
  })
  .superRefine((n, ctx) => {
    if (n.first_token_timeout_in_seconds !== undefined && n.first_token_timeout_in_seconds > n.default_request_timeout_in_seconds) {
      ctx.addIssue({ code: 'custom', path: ['first_token_timeout_in_seconds'], message: `first_token_timeout_in_seconds `
        + `(${n.first_token_timeout_in_seconds}) exceeds default_request_timeout_in_seconds (${n.default_request_timeout_in_seconds}): it would never fire` });
    }
    for (const name of ['retry_backoff_initial', 'retry_backoff_max'] as const) {
      if (n[name] !== undefined && n[`${name}_ms`] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [`${name}_ms`], message: `give either '${name}' or '${name}_ms', not both` });
      }
    }
    const initial = n.retry_backoff_initial ?? n.retry_backoff_initial_ms ?? 500;
    const max = n.retry_backoff_max ?? n.retry_backoff_max_ms ?? 5000;
    if (initial > max) ctx.addIssue({ code: 'custom', message: `retry backoff initial (${initial} ms) exceeds its max (${max} ms)` });
  })
  .transform(({ retry_backoff_initial_ms, retry_backoff_max_ms, ...n }) => ({
    ...n,
    retry_backoff_initial: n.retry_backoff_initial ?? retry_backoff_initial_ms ?? 500,
    retry_backoff_max: n.retry_backoff_max ?? retry_backoff_max_ms ?? 5000,
  }));

const concurrencySchema = z
  .strictObject({
    concurrency: posInt.default(1000),
    buffer_size: nonNegInt.default(5000),
    threads: posInt.max(64).default(1),
    // Heimdall's own: pools start on first use and retire when idle (docs/memory.md).
    warm: z.boolean().default(false),
    idle_timeout_seconds: z.number().positive().max(86_400).default(300),
    resource_limits: z.strictObject({
      max_old_generation_size_mb: posInt.optional(),
      max_young_generation_size_mb: posInt.optional(),
      stack_size_mb: posInt.max(64).optional(),
      // Heimdall's own: each thread's two rings (docs/memory.md); messages of 128 KiB and more skip them anyway.
      ring_slots: posInt.min(2).max(4096).refine((n) => (n & (n - 1)) === 0, 'must be a power of two (2, 4, … 4096)').optional(),
      ring_slot_size_kb: posInt.max(1024).optional(),
    }).prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.buffer_size < c.concurrency) {
      ctx.addIssue({
        code: 'custom',
        path: ['buffer_size'],
        message: `buffer_size (${c.buffer_size}) must be >= concurrency (${c.concurrency})`,
      });
    }
  });

// Heimdall's own (Bifrost has no per-key breaker). Lenient defaults: a key must fail five times in a row, or half
// of at least twenty tries in a minute, before it is skipped for ten seconds.
const circuitBreakerSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    consecutive_failures: posInt.default(5),
    error_rate_threshold: z.number().gt(0).max(1).default(0.5),
    window_seconds: z.number().positive().default(60),
    min_requests: posInt.default(20),
    cooldown_seconds: z.number().positive().default(10),
    max_cooldown_seconds: z.number().positive().default(300),
    half_open_probes: posInt.default(1),
  })
  .superRefine((b, ctx) => {
    if (b.cooldown_seconds > b.max_cooldown_seconds) {
      ctx.addIssue({ code: 'custom', path: ['max_cooldown_seconds'],
        message: `max_cooldown_seconds (${b.max_cooldown_seconds}) must be >= cooldown_seconds (${b.cooldown_seconds})` });
    }
  });

const customIgnored = {
  allowed_requests: z.record(z.string(), z.boolean()).optional(),
  request_path_overrides: z.record(z.string(), z.string()).optional(),
};

const customProviderSchema = z.strictObject({
  base_provider_type: z.string().min(1),
  is_key_less: z.boolean().default(false),
  ...customIgnored,
});

export const mockConfigSchema = z.strictObject({
  latency_ms: nonNegInt.default(0),
  chunk_count: posInt.default(5),
  chunk_interval_ms: nonNegInt.default(0),
  prompt_tokens: nonNegInt.optional(),
  completion_tokens: nonNegInt.optional(),
});

// Bifrost's shape. `environment` takes HTTPS_PROXY / HTTP_PROXY / NO_PROXY; strings may be `env.VAR` references.
const proxySchema = z
  .strictObject({
    type: z.enum(['none', 'http', 'socks5', 'environment']),
    url: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    ca_cert_pem: pemOrEnvRef.optional(),
  })
  .superRefine((proxy, ctx) => {
    if ((proxy.type === 'http' || proxy.type === 'socks5') && !proxy.url) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: `required for a proxy of type '${proxy.type}'` });
    }
  });

const providerIgnored = {
  send_back_raw_request: z.boolean().optional(),
  send_back_raw_response: z.boolean().optional(),
  store_raw_request_response: z.boolean().optional(),
  openai_config: looseObject.optional(),
};

// Bifrost's `pricing_overrides` entry (core/schemas ProviderPricingOverride): USD per token, per second, per
// character or per image. The fields priced by what Heimdall does not serve (batches, video, image tokens, pixel
// tiers) load and are reported as ignored.
const costField = z.number().min(0).optional();
const pricingOverrideIgnored = {
  input_cost_per_video_per_second: costField,
  input_cost_per_image_above_128k_tokens: costField,
  input_cost_per_video_per_second_above_128k_tokens: costField,
  input_cost_per_audio_per_second_above_128k_tokens: costField,
  input_cost_per_token_batches: costField,
  output_cost_per_token_batches: costField,
  input_cost_per_image_token: costField,
  output_cost_per_image_token: costField,
  input_cost_per_image: costField,
  output_cost_per_image_above_1024_and_1024_pixels: costField,
  output_cost_per_image_above_1024_and_1024_pixels_and_premium_image: costField,
  output_cost_per_image_above_2048_and_2048_pixels: costField,
  output_cost_per_image_above_4096_and_4096_pixels: costField,
  cache_read_input_image_token_cost: costField,
};
export const pricingOverrideSchema = z
  .strictObject({
    model_pattern: z.string().min(1),
    match_type: z.enum(['exact', 'wildcard', 'regex']),
    request_types: z.array(z.enum(PRICING_REQUEST_TYPES)).default([]),
    input_cost_per_token: costField,
    output_cost_per_token: costField,
    cache_read_input_token_cost: costField,
    cache_creation_input_token_cost: costField,
    input_cost_per_token_above_128k_tokens: costField,
    output_cost_per_token_above_128k_tokens: costField,
    input_cost_per_token_above_200k_tokens: costField,
    output_cost_per_token_above_200k_tokens: costField,
    cache_read_input_token_cost_above_200k_tokens: costField,
    cache_creation_input_token_cost_above_200k_tokens: costField,
    input_cost_per_audio_per_second: costField,
    input_cost_per_character: costField,
    output_cost_per_image: costField,
    output_cost_per_image_low_quality: costField,
    output_cost_per_image_medium_quality: costField,
    output_cost_per_image_high_quality: costField,
    output_cost_per_image_auto_quality: costField,
    // Heimdall's own: the model's output limit, which budgets reserve when a request names none.
    max_output_tokens: posInt.optional(),
    ...pricingOverrideIgnored,
  })
  .superRefine((o, ctx) => {
    const problem = patternProblem(o.match_type, o.model_pattern);
    if (problem) ctx.addIssue({ code: 'custom', path: ['model_pattern'], message: problem });
    const tier128 = o.input_cost_per_token_above_128k_tokens !== undefined || o.output_cost_per_token_above_128k_tokens !== undefined;
    const tier200 = o.input_cost_per_token_above_200k_tokens !== undefined || o.output_cost_per_token_above_200k_tokens !== undefined;
    if (tier128 && tier200) {
      ctx.addIssue({ code: 'custom', path: ['input_cost_per_token_above_200k_tokens'],
        message: 'one long-context tier per override: the above_128k or the above_200k prices, not both' });
    }
  });
export type RawPricingOverride = z.output<typeof pricingOverrideSchema>;

const providerSchema = z.strictObject({
  keys: z.array(keySchema).default([]),
  network_config: networkSchema.prefault({}),
  concurrency_and_buffer_size: concurrencySchema.prefault({}),
  custom_provider_config: customProviderSchema.optional(),
  mock_config: mockConfigSchema.optional(),
  // Heimdall's own: the fallbacks of a request to this provider that names none itself.
  fallbacks: z.array(z.string().min(1)).max(10).default([]),
  circuit_breaker: circuitBreakerSchema.prefault({}),
  proxy_config: proxySchema.optional(),
  pricing_overrides: z.array(pricingOverrideSchema).default([]),
  ...providerIgnored,
});

const pluginIgnored = {
  version: z.union([z.string(), z.number()]).optional(),
  placement: z.string().optional(),
  order: z.number().optional(),
};

const pluginObjectSchema = z.strictObject({
  name: z.string().min(1),
  enabled: z.boolean().default(true),
  path: z.string().refine(isPluginPath, pluginPathMessage).optional(),
  config: looseObject.nullable().optional(),
  ...pluginIgnored,
});

// A bare string is a built-in plugin's name, or the path of a user's module.
const pluginStringSchema = z
  .string()
  .min(1)
  .refine((s) => isPluginPath(s) || !looksLikePath(s), pluginPathMessage);


// `mcp`, in Bifrost's shape (docs/mcp.md). A client's name prefixes its tools' names as models see them
// (`<client>_<tool>`), which function names limit to letters, digits, `_` and `-`; `-` is left out, as Bifrost does,
// because the `x-bf-mcp-include-tools` header writes `<client>-<tool>`.
export const MCP_CLIENT_NAME = /^[A-Za-z0-9_]{1,40}$/;
const GO_DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** A number in `unitMs` units, or a Go duration string as Bifrost writes some of these (`"10m"`, `"30s"`); to ms. */
export const durationMs = (unitMs: number) => z.union([z.number().min(0), z.string().regex(GO_DURATION, "a number, or a duration such as '30s' or '10m'")])
  .transform((v) => {
    if (typeof v === 'number') return v * unitMs;
    const [, amount, unit] = GO_DURATION.exec(v)!;
    return Number(amount) * DURATION_UNIT_MS[unit];
  });
const toolNameList = z.array(z.string().min(1)).superRefine((names, ctx) => {
  if (names.includes('*') && names.length > 1) ctx.addIssue({ code: 'custom', message: `'*' (every tool) cannot be mixed with tool names` });
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) ctx.addIssue({ code: 'custom', message: `duplicate tool '${name}'` });
    seen.add(name);
  }
});
const mcpClientIgnored = {
  client_id: z.string().optional(),
  is_code_mode_client: z.boolean().optional(),
  oauth_config_id: z.string().optional(),
  http_config: looseObject.optional(),
  tool_pricing: z.record(z.string(), z.number()).optional(),
};
const mcpClientSchema = z
  .strictObject({
    name: z.string().regex(MCP_CLIENT_NAME, 'letters, digits and _ only (1 to 40): it prefixes the tool names models see'),
    connection_type: z.enum(['stdio', 'http', 'sse']),
    connection_string: z.string().min(1).optional(),
    stdio_config: z.strictObject({
      command: z.string().min(1),
      args: z.array(z.string()).default([]),
      // Names of the gateway's environment variables the server process gets, besides a safe default set.
      envs: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')).default([]),
    }).optional(),
    // Bifrost's `auth_type`: `headers` sends `headers`; OAuth is not supported.
    auth_type: z.enum(['none', 'headers']).optional(),
    headers: z.record(z.string(), z.string()).default({}),
    tools_to_execute: toolNameList.default([]),
    tools_to_auto_execute: toolNameList.default([]),
    is_ping_available: z.boolean().default(true),
    // Minutes, as Bifrost's; absent: the client-level `mcp_tool_sync_interval`.
    tool_sync_interval: durationMs(60_000).optional(),
    ...mcpClientIgnored,
  })
  .superRefine((c, ctx) => {
    if (c.connection_type === 'stdio') {
      if (!c.stdio_config) ctx.addIssue({ code: 'custom', path: ['stdio_config'], message: 'required for connection_type stdio' });
      if (c.connection_string) ctx.addIssue({ code: 'custom', path: ['connection_string'], message: 'a stdio client has stdio_config, not a URL' });
    } else {
      if (!c.connection_string) ctx.addIssue({ code: 'custom', path: ['connection_string'], message: `required for connection_type ${c.connection_type} (the server's URL)` });
      if (c.stdio_config) ctx.addIssue({ code: 'custom', path: ['stdio_config'], message: `only for connection_type stdio` });
    }
    const all = c.tools_to_execute.includes('*');
    for (const tool of c.tools_to_auto_execute) {
      if (tool !== '*' && !all && !c.tools_to_execute.includes(tool)) {
        ctx.addIssue({ code: 'custom', path: ['tools_to_auto_execute'], message: `'${tool}' is not in tools_to_execute: a tool may auto-execute only if it may execute` });
      }
    }
  });
const mcpSchema = z
  .strictObject({
    client_configs: z.array(mcpClientSchema).default([]),
    // Bifrost's older spellings of the client-level settings; the client-level ones win.
    tool_manager_config: z.strictObject({
      tool_execution_timeout: durationMs(1000).optional(),
      max_agent_depth: posInt.optional(),
      code_mode_binding_level: z.enum(['server', 'tool']).optional(),
    }).optional(),
    tool_sync_interval: durationMs(60_000).optional(),
    tool_groups: z.array(z.unknown()).optional(),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.client_configs.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['client_configs', i, 'name'], message: `duplicate MCP client name '${c.name}'` });
      seen.add(c.name);
    });
  });
export type RawMcp = z.output<typeof mcpSchema>;
export type RawMcpClient = z.output<typeof mcpClientSchema>;

// Heimdall's own process settings. `processes`: how many gateway processes share the port under one supervisor;
// `auto` is every core this process may use. The command line (`--processes`, HEIMDALL_PROCESSES) wins over it.
export const MAX_PROCESSES = 256;
const isProcesses = (v: unknown): v is number | 'auto' => v === 'auto' || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_PROCESSES);
export const processesSchema = z.unknown().refine(isProcesses, `expected 'auto' or a whole number from 1 to ${MAX_PROCESSES}`)
  .transform((v) => v as number | 'auto');
const heimdallSchema = z.strictObject({
  processes: processesSchema.optional(),
  // A port for HTTP/2 cleartext clients (the AWS SDK's default handler); the command line's --h2c-port wins.
  h2c_port: z.int().min(0).max(65535).optional(),
});

// A database-backed store in Bifrost's shape (`logs_store`, `config_store`): `{ enabled, type, config }`, `config`
// per type. Strings of the PostgreSQL connection may be `env.VAR` references, resolved by the loader.
const sqliteStoreConfig = z.strictObject({
  /** Relative to the data directory (HEIMDALL_DATA_DIR, else ./data), or absolute. */
  path: z.string().min(1).optional(),
});
const portSchema = z.union([z.int().min(1).max(65535), z.string().min(1)]);
const postgresStoreConfig = z
  .strictObject({
    // Heimdall's own: one URL in place of the parts (postgres://user:password@host:5432/db?sslmode=require).
    connection_string: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    port: portSchema.optional(),
    user: z.string().min(1).optional(),
    password: z.string().optional(),
    db_name: z.string().min(1).optional(),
    ssl_mode: z.string().min(1).optional(),
    max_open_conns: posInt.max(1000).optional(),
    max_idle_conns: nonNegInt.optional(),
    conn_max_lifetime: z.string().min(1).optional(),
    // Heimdall's own: the schema the tables live in (default: the server's search_path, usually public).
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL name: letters, digits, _').optional(),
  })
  .superRefine((c, ctx) => {
    const parts = (['host', 'port', 'user', 'password', 'db_name', 'ssl_mode'] as const).filter((k) => c[k] !== undefined);
    if (c.connection_string !== undefined && parts.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['connection_string'], message: `give connection_string or its parts (${parts.join(', ')}), not both` });
    }
    if (c.connection_string === undefined && (c.host === undefined || c.db_name === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs connection_string, or host and db_name (with user, password, port, ssl_mode as needed)' });
    }
  });

const storeWriterSchema = z.strictObject({
  max_batch_size: posInt.max(2000).optional(),
  write_queue_capacity: posInt.max(1_000_000).optional(),
  batch_interval: z.string().min(1).optional(),
  // Bifrost's, with no counterpart here: accepted, reported as not acted on.
  max_batch_bytes: posInt.optional(),
  deferred_usage_concurrency: posInt.optional(),
});

const logsStoreIgnored = {
  object_storage: looseObject.optional(),
  object_storage_exclude_fields: stringList.optional(),
  content_addressed: looseObject.optional(),
};

const storeCommon = {
  enabled: z.boolean().default(true),
  retention_days: nonNegInt.optional(),
  writer: storeWriterSchema.optional(),
  // Heimdall's own: a trigram index of the request log's content for text search (it costs the writer; default per engine).
  search_index: z.boolean().optional(),
  ...logsStoreIgnored,
};

// `{ "enabled": false }` alone is Bifrost's way to turn a store off: no type needed then.
const storeSchema = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>).enabled === false
    && (v as Record<string, unknown>).type === undefined ? { ...v, type: 'sqlite' } : v),
  z.discriminatedUnion('type', [
    z.strictObject({ ...storeCommon, type: z.literal('sqlite'), config: sqliteStoreConfig.prefault({}) }),
    z.strictObject({ ...storeCommon, type: z.literal('postgres'), config: postgresStoreConfig }),
  ]),
);
export type RawStore = z.output<typeof storeSchema>;
export type RawPostgresStoreConfig = z.output<typeof postgresStoreConfig>;

export const DEFAULT_PLUGINS: readonly string[] = ['metrics'];

// Bifrost's large-payload block (an enterprise one). Heimdall moves every large message between threads by transfer
// rather than through the rings' slots (src/contract/large-messages.ts); enabled, the block sets from how many
// bytes each way, and caps a request's body. Bifrost's log truncation and its prefetch of a streamed body's first
// bytes load and are reported as ignored.
// Bifrost stores an unset size as 0: 0 keeps Heimdall's default here too.
const largePayloadSchema = z.strictObject({
  enabled: z.boolean().default(false),
  request_threshold_bytes: nonNegInt.optional(),
  response_threshold_bytes: nonNegInt.optional(),
  max_payload_bytes: nonNegInt.optional(),
  prefetch_size_bytes: nonNegInt.optional(),
  truncated_log_bytes: nonNegInt.optional(),
});
export const LARGE_PAYLOAD_IGNORED = ['prefetch_size_bytes', 'truncated_log_bytes'] as const;

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  // Bifrost's allow-list semantics: 2 (the default) reads a key's `"models": []` as no model, 1 as every model.
  version: z.union([z.literal(1), z.literal(2)]).optional(),
  client: clientSchema.prefault({}),
  providers: z.record(z.string(), providerSchema).default({}),
  // Heimdall's own: a model name clients may use in place of `provider/model` (`"fast": "groq/llama-3.1-8b-instant"`).
  model_aliases: z.record(z.string().min(1), z.string().min(1)).default({}),
  plugins: z.array(z.union([pluginStringSchema, pluginObjectSchema])).optional(),
  heimdall: heimdallSchema.optional(),
  mcp: mcpSchema.optional(),
  governance: governanceSchema.optional(),
  logs_store: storeSchema.optional(),
  large_payload_optimization: largePayloadSchema.optional(),
  ...topIgnored,
});

export type RawConfig = z.output<typeof configSchema>;
export type RawProvider = z.output<typeof providerSchema>;
export type RawKey = z.output<typeof keySchema>;

/** Accepted keys that Heimdall does not act on yet, by where they sit; `load.ts` reports those present. */
export const IGNORED_KEYS = {
  top: Object.keys(topIgnored),
  client: Object.keys(clientIgnored),
  provider: Object.keys(providerIgnored),
  network: Object.keys(networkIgnored),
  custom: Object.keys(customIgnored),
  key: Object.keys(keyIgnored),
  plugin: Object.keys(pluginIgnored),
  mcpClient: Object.keys(mcpClientIgnored),
  logsStore: Object.keys(logsStoreIgnored),
  storeWriter: ['max_batch_bytes', 'deferred_usage_concurrency'],
  pricingOverride: Object.keys(pricingOverrideIgnored),
} as const;
