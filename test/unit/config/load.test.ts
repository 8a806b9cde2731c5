import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError, writeConfig } from './helpers.js';

const env = { OPENAI_API_KEY: 'sk-openai', VLLM_KEY: 'sk-vllm', TRACE_TOKEN: 'tok-1' };

// Shaped like a real Bifrost config.json, including blocks Heimdall does not act on.
const bifrostConfig = {
  $schema: 'https://www.getbifrost.ai/schema',
  encryption_key: 'env.BIFROST_ENCRYPTION_KEY',
  client: {
    drop_excess_requests: true,
    initial_pool_size: 300,
    prometheus_labels: ['team'],
    allowed_origins: ['*'],
    enable_logging: true,
    disable_content_logging: false,
    log_retention_days: 30,
    enforce_auth_on_inference: false,
    allow_direct_keys: false,
    max_request_body_size_mb: 25,
    required_headers: [],
    logging_headers: ['x-team'],
    header_filter_config: { allowlist: [], denylist: ['x-internal'] },
    async_job_result_ttl: 3600,
    mcp_agent_depth: 10,
    mcp_tool_execution_timeout: 30,
    mcp_code_mode_binding_level: 'server',
    mcp_tool_sync_interval: 10,
  },
  providers: {
    openai: {
      keys: [
        { name: 'primary', value: 'env.OPENAI_API_KEY', models: ['gpt-4o', 'gpt-4o-mini'], weight: 0.7 },
        { id: 'backup', value: 'sk-literal', models: ['*'], weight: 0.3, use_for_batch_api: true, description: 'spare' },
      ],
      network_config: {
        base_url: 'https://api.openai.com/',
        extra_headers: { 'x-trace-token': 'env.TRACE_TOKEN', 'x-team': 'core' },
        default_request_timeout_in_seconds: 45,
        first_token_timeout_in_seconds: 10,
        max_retries: 2,
        retry_backoff_initial: 200,
        retry_backoff_max: 2000,
        stream_idle_timeout_in_seconds: 90,
        max_conns_per_host: 100,
        insecure_skip_verify: false,
      },
      concurrency_and_buffer_size: { concurrency: 100, buffer_size: 500, threads: 4 },
      proxy_config: { type: 'none' },
      send_back_raw_response: false,
      openai_config: { disable_store: true },
    },
    'my-vllm': {
      keys: [{ value: 'env.VLLM_KEY' }],
      network_config: { base_url: 'http://vllm.internal:8000' },
      custom_provider_config: {
        base_provider_type: 'openai',
        is_key_less: false,
        allowed_requests: { chat_completion: true },
      },
    },
  },
  plugins: [
    { enabled: true, name: 'telemetry', config: {} },
    { enabled: false, name: 'audit', path: './plugins/audit.mjs', placement: 'post_builtin', order: 2 },
    'metrics',
  ],
  mcp: { client_configs: [] },
  governance: { virtual_keys: [] },
  config_store: { enabled: true, type: 'sqlite', config: { path: './config.db' } },
  logs_store: { enabled: true, type: 'sqlite', config: { path: './logs.db' } },
  vector_store: { enabled: false },
  framework: { pricing: { pricing_sync_interval: 3600 } },
  websocket: {},
};

const minimal = (provider: Record<string, unknown> = {}) => ({
  providers: { openai: { keys: [{ value: 'sk-1' }], ...provider } },
});

describe('loadConfig with a Bifrost config.json', () => {
  it('loads it unchanged and normalizes every section', async () => {
    const file = await writeConfig('config.json', bifrostConfig);
    const cfg = await loadConfig({ file, env: { ...env, BIFROST_ENCRYPTION_KEY: 'x' } });

    expect(cfg.source).toBe(file);
    expect(cfg.server).toEqual({ host: '0.0.0.0', port: 8080, logLevel: 'info', h2cPort: null });
    expect(cfg.client).toEqual({ dropExcessRequests: true, allowedOrigins: ['*'], maxRequestBodySizeMb: 25,
      maxRequestBodyBytes: 25 * 1024 * 1024, maxRequestBodySetting: 'client.max_request_body_size_mb', shutdownGraceSeconds: 30, accessLog: true, extraFields: false,
      prometheusLabels: ['team'], asyncJobResultTtlSeconds: 3600 });
    expect(cfg.providers.map((p) => p.name)).toEqual(['openai', 'my-vllm']);

    const [openai, vllm] = cfg.providers;
    expect(openai.adapter).toBe('openai');
    expect(openai.keyless).toBe(false);
    expect(openai.keys).toEqual([
      { id: 'openai-key-0', name: 'primary', value: 'sk-openai', models: ['gpt-4o', 'gpt-4o-mini'], blacklistedModels: [], weight: 0.7, enabled: true, providerConfigs: {} },
      { id: 'backup', name: 'backup', value: 'sk-literal', models: null, blacklistedModels: [], weight: 0.3, enabled: true, useForBatchApi: true, providerConfigs: {} },
    ]);
    expect(openai.network).toEqual({
      baseUrl: 'https://api.openai.com',
      extraHeaders: { 'x-trace-token': 'tok-1', 'x-team': 'core' },
      requestTimeoutSeconds: 45,
      firstTokenTimeoutSeconds: 10,
      streamIdleTimeoutSeconds: 90,
      maxRetries: 2,
      retryBackoffInitialMs: 200,
      retryBackoffMaxMs: 2000,
      maxConnsPerHost: 100,
      insecureSkipVerify: false,
      caCertPem: null,
    });
    expect(openai.concurrency).toMatchObject({ concurrency: 100, bufferSize: 500, threads: 4 });
    expect(openai.mock).toBeNull();

    expect(vllm.adapter).toBe('openai');
    expect(vllm.network.baseUrl).toBe('http://vllm.internal:8000');
    expect(vllm.keys[0].value).toBe('sk-vllm');

    // Bifrost's `telemetry` is Heimdall's `metrics`, listed once even when both are named.
    expect(cfg.plugins).toEqual([
      { name: 'metrics', path: null, enabled: true, config: {} },
      { name: 'audit', path: join(dirname(file), 'plugins', 'audit.mjs'), enabled: false, config: {} },
    ]);

    expect(cfg.ignoredKeys).toEqual(
      expect.arrayContaining([
        'encryption_key',
        'config_store',
        'vector_store',
        'framework',
        'websocket',
        'client.initial_pool_size',
        'client.header_filter_config',
        'providers.openai.openai_config',
        'providers.openai.send_back_raw_response',
        'providers.my-vllm.custom_provider_config.allowed_requests',
        'plugins[1].placement',
        'plugins[1].order',
      ]),
    );
    expect(cfg.ignoredKeys).not.toContain('$schema');
    expect(cfg.ignoredKeys).not.toContain('client.drop_excess_requests');
    expect(cfg.ignoredKeys).not.toContain('client.prometheus_labels');
    expect(cfg.ignoredKeys).not.toContain('providers.openai.keys[1].use_for_batch_api');
    expect(cfg.providers.find((p) => p.name === 'openai')?.keys[1].useForBatchApi).toBe(true);
    // Retries are acted on now: a non-zero max_retries is no longer reported as ignored.
    expect(cfg.ignoredKeys).not.toContain('providers.openai.network_config.max_retries');
  });

  it('fills Bifrost defaults for what the file leaves out', async () => {
    const cfg = await loadConfig({ file: await writeConfig('c.json', minimal()), env: {} });
    const [p] = cfg.providers;
    expect(p.network).toEqual({
      baseUrl: null,
      extraHeaders: {},
      requestTimeoutSeconds: 30,
      firstTokenTimeoutSeconds: null,
      streamIdleTimeoutSeconds: 60,
      maxRetries: 0,
      retryBackoffInitialMs: 500,
      retryBackoffMaxMs: 5000,
      maxConnsPerHost: 5000,
      insecureSkipVerify: false,
      caCertPem: null,
    });
    expect(p.concurrency).toEqual({ concurrency: 1000, bufferSize: 5000, threads: 1, warm: false, idleTimeoutMs: 300_000, resourceLimits: {},
      ring: null });
    expect(cfg.client).toEqual({ dropExcessRequests: false, allowedOrigins: [], maxRequestBodySizeMb: 10,
      maxRequestBodyBytes: 10 * 1024 * 1024, maxRequestBodySetting: 'client.max_request_body_size_mb', shutdownGraceSeconds: 30, accessLog: true, extraFields: false,
      prometheusLabels: [], asyncJobResultTtlSeconds: 3600 });
    expect(cfg.plugins).toEqual([{ name: 'metrics', path: null, enabled: true, config: {} }]);
    expect(cfg.ignoredKeys).toEqual([]);
  });

  it('uses a given plugins list as is, even an empty one', async () => {
    const cfg = await loadConfig({ file: await writeConfig('c.json', { ...minimal(), plugins: [] }), env: {} });
    expect(cfg.plugins).toEqual([]);
  });

  it('applies server overrides and rejects a bad log level with a hint', async () => {
    const file = await writeConfig('c.json', minimal());
    const cfg = await loadConfig({ file, env: {}, overrides: { port: 9000, host: '127.0.0.1', logLevel: 'debug' } });
    expect(cfg.server).toEqual({ host: '127.0.0.1', port: 9000, logLevel: 'debug', h2cPort: null });

    const err = await configError(() => loadConfig({ file, env: {}, overrides: { logLevel: 'inf' } }));
    expect(err.message).toContain("server.logLevel: unknown log level 'inf' — did you mean 'info'?");
  });
});

describe('file formats', () => {
  const yaml = [
    'client:',
    '  drop_excess_requests: true',
    'providers:',
    '  openai:',
    '    keys:',
    '      - value: env.OPENAI_API_KEY',
    '        models: [gpt-4o]',
    '    concurrency_and_buffer_size: { concurrency: 8, buffer_size: 8, threads: 2 }',
    '',
  ].join('\n');

  it('loads YAML by extension', async () => {
    for (const name of ['c.yaml', 'c.yml']) {
      const cfg = await loadConfig({ file: await writeConfig(name, yaml), env });
      expect(cfg.client.dropExcessRequests).toBe(true);
      expect(cfg.providers[0].keys[0]).toMatchObject({ value: 'sk-openai', models: ['gpt-4o'] });
      expect(cfg.providers[0].concurrency).toMatchObject({ concurrency: 8, bufferSize: 8, threads: 2 });
    }
  });

  it('tries JSON then YAML for other extensions', async () => {
    const fromJson = await loadConfig({ file: await writeConfig('heimdall.conf', minimal()), env });
    expect(fromJson.providers[0].keys[0].value).toBe('sk-1');
    const fromYaml = await loadConfig({ file: await writeConfig('heimdall.conf', yaml), env });
    expect(fromYaml.providers[0].keys[0].value).toBe('sk-openai');
  });

  it('reports a syntax error and a missing file without a stack trace', async () => {
    const bad = await configError(async () => loadConfig({ file: await writeConfig('c.json', '{"providers": '), env }));
    expect(bad.message).toMatch(/not valid JSON/);
    expect(bad.message).not.toMatch(/\n\s+at /);

    const empty = await configError(async () => loadConfig({ file: await writeConfig('c.yaml', ''), env }));
    expect(empty.message).toContain('the file is empty');

    const missing = await configError(() => loadConfig({ file: '/nonexistent/heimdall.json', env }));
    expect(missing.message).toContain('cannot read config file (ENOENT)');
  });
});

describe('env references', () => {
  it('resolves key values, header values and *_key_config strings', async () => {
    const file = await writeConfig('c.json', {
      providers: {
        openai: {
          keys: [{ value: 'env.OPENAI_API_KEY', vllm_key_config: { url: 'env.VLLM_URL', model_name: 'm' } }],
          network_config: { extra_headers: { 'x-trace-token': 'env.TRACE_TOKEN' } },
        },
      },
    });
    const cfg = await loadConfig({ file, env: { ...env, VLLM_URL: 'http://x' } });
    expect(cfg.providers[0].keys[0].value).toBe('sk-openai');
    expect(cfg.providers[0].network.extraHeaders['x-trace-token']).toBe('tok-1');
  });

  it('names the missing variable and where it was referenced', async () => {
    const file = await writeConfig('c.json', {
      providers: {
        openai: {
          keys: [{ value: 'env.NOPE_KEY', azure_key_config: { client_secret: 'env.NOPE_SECRET' } }],
          network_config: { extra_headers: { 'x-auth': 'env.NOPE_HEADER' } },
        },
      },
    });
    const err = await configError(() => loadConfig({ file, env: {} }));
    expect(err.message).toContain("providers.openai.keys[0].value: environment variable 'NOPE_KEY' is not set");
    expect(err.message).toContain(
      "providers.openai.keys[0].azure_key_config.client_secret: environment variable 'NOPE_SECRET' is not set",
    );
    expect(err.message).toContain(
      "providers.openai.network_config.extra_headers.x-auth: environment variable 'NOPE_HEADER' is not set",
    );
  });
});

describe('unknown keys', () => {
  const cases: [string, unknown, string][] = [
    ['top level', { ...minimal(), provders: {} }, "provders: unknown key 'provders' — did you mean 'providers'?"],
    [
      'client',
      { ...minimal(), client: { drop_excess_request: true } },
      "client.drop_excess_request: unknown key 'drop_excess_request' — did you mean 'drop_excess_requests'?",
    ],
    [
      'network_config',
      minimal({ network_config: { base_urll: 'http://x' } }),
      "providers.openai.network_config.base_urll: unknown key 'base_urll' — did you mean 'base_url'?",
    ],
    [
      'a key',
      { providers: { openai: { keys: [{ value: 'sk', modles: ['a'] }] } } },
      "providers.openai.keys[0].modles: unknown key 'modles' — did you mean 'models'?",
    ],
    [
      'a plugin object',
      { ...minimal(), plugins: [{ name: 'x', enabeld: true }] },
      "plugins[0].enabeld: unknown key 'enabeld' — did you mean 'enabled'?",
    ],
  ];
  for (const [where, content, expected] of cases) {
    it(`in ${where} gives the path and a did-you-mean`, async () => {
      const err = await configError(async () => loadConfig({ file: await writeConfig('c.json', content), env }));
      expect(err.message).toContain(expected);
    });
  }

  it("checks a bedrock key's batch_s3_config, and leaves the rest of bedrock_key_config to the adapter", async () => {
    const bedrock = (batch: unknown) => ({ providers: { bedrock: { keys: [{ name: 'aws', bedrock_key_config: { access_key: 'A', secret_key: 'S',
      region: 'us-east-1', session_name: 'Bifrost-only', batch_s3_config: batch } }] } } });
    const at = 'providers.bedrock.keys[0].bedrock_key_config.batch_s3_config';
    const err = await configError(async () => loadConfig({ file: await writeConfig('c.json', bedrock({ bucket: [{ bucket_name: 'Not_A_Bucket' }],
      role_arn: 'role/x' })), env }));
    expect(err.problems).toEqual(expect.arrayContaining([
      { path: `${at}.bucket`, message: "unknown key 'bucket' — did you mean 'buckets'?" },
      { path: `${at}.buckets`, message: 'required (expected array)' },
      { path: `${at}.role_arn`, message: 'an IAM role ARN: arn:aws:iam::{account}:role/{name}' },
    ]));
    const inBucket = await configError(async () => loadConfig({ file: await writeConfig('c.json', bedrock({ buckets: [{ bucket_name: 'Not_A_Bucket',
      prefx: 'p' }, { bucket_name: 'b-one', is_default: true }, { bucket_name: 'b-two', is_default: true }] })), env }));
    expect(inBucket.problems).toEqual(expect.arrayContaining([
      { path: `${at}.buckets[0].bucket_name`, message: 'an S3 bucket name: 3-63 of a-z 0-9 . -' },
      { path: `${at}.buckets[0].prefx`, message: "unknown key 'prefx' — did you mean 'prefix'?" },
      { path: `${at}.buckets`, message: 'at most one bucket with is_default' },
    ]));
    const loaded = await loadConfig({ file: await writeConfig('c.json', bedrock({ buckets: [{ bucket_name: 'env.BUCKET', prefix: 'p' }],
      role_arn: 'arn:aws:iam::123456789012:role/batch' })), env: { ...env, BUCKET: 'my-bucket' } });
    expect(loaded.providers[0].keys[0].providerConfigs.bedrock_key_config).toMatchObject({ session_name: 'Bifrost-only',
      batch_s3_config: { buckets: [{ bucket_name: 'my-bucket', prefix: 'p' }] } });
  });

  it('gives no hint when nothing is close', async () => {
    const file = await writeConfig('c.json', { ...minimal(), zzzzqqq: 1 });
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.problems).toEqual([{ path: 'zzzzqqq', message: "unknown key 'zzzzqqq'" }]);
  });

  it('reports a wrong type with what it got', async () => {
    const file = await writeConfig('c.json', minimal({ network_config: { max_retries: '3', max_conns_per_host: 1.5 } }));
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain('providers.openai.network_config.max_retries: expected number, got string');
    expect(err.message).toContain('providers.openai.network_config.max_conns_per_host: expected integer, got number 1.5');
  });
});

describe('network_config and concurrency', () => {
  it('accepts the _ms spellings of the backoff keys', async () => {
    const file = await writeConfig('c.json', minimal({ network_config: { retry_backoff_initial_ms: 100, retry_backoff_max_ms: 900 } }));
    const cfg = await loadConfig({ file, env });
    expect(cfg.providers[0].network).toMatchObject({ retryBackoffInitialMs: 100, retryBackoffMaxMs: 900 });
  });

  it('rejects both spellings of one backoff key', async () => {
    const file = await writeConfig('c.json', minimal({ network_config: { retry_backoff_initial: 100, retry_backoff_initial_ms: 100 } }));
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain('providers.openai.network_config.retry_backoff_initial_ms: give either');
  });

  it('rejects a first_token_timeout_in_seconds above the total, which could never fire', async () => {
    const file = await writeConfig('c.json', minimal({ network_config: { default_request_timeout_in_seconds: 20,
      first_token_timeout_in_seconds: 25 } }));
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain('providers.openai.network_config.first_token_timeout_in_seconds: first_token_timeout_in_seconds (25) '
      + 'exceeds default_request_timeout_in_seconds (20)');
  });

  it('rejects buffer_size below concurrency', async () => {
    const file = await writeConfig('c.json', minimal({ concurrency_and_buffer_size: { concurrency: 10, buffer_size: 5 } }));
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain('providers.openai.concurrency_and_buffer_size.buffer_size: buffer_size (5) must be >= concurrency (10)');
  });

  it('reads when a pool starts and retires and its threads\' V8 limits, refusing what cannot work', async () => {
    const file = await writeConfig('c.json', minimal({ concurrency_and_buffer_size: { warm: true, idle_timeout_seconds: 0.5,
      resource_limits: { max_old_generation_size_mb: 64, max_young_generation_size_mb: 4 } } }));
    const cfg = await loadConfig({ file, env });
    expect(cfg.providers[0].concurrency).toMatchObject({ warm: true, idleTimeoutMs: 500,
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 }, ring: null });
    const rings = await writeConfig('c.json', minimal({ concurrency_and_buffer_size: { resource_limits: { ring_slots: 16 } } }));
    expect((await loadConfig({ file: rings, env })).providers[0].concurrency.ring).toEqual({ slotCount: 16, slotSize: 8192 });
    const sized = await writeConfig('c.json', minimal({ concurrency_and_buffer_size: { resource_limits: { ring_slots: 8, ring_slot_size_kb: 2 } } }));
    expect((await loadConfig({ file: sized, env })).providers[0].concurrency.ring).toEqual({ slotCount: 8, slotSize: 2048 });
    const odd = await writeConfig('c.json', minimal({ concurrency_and_buffer_size: { resource_limits: { ring_slots: 24, ring_slot_size_kb: 0 } } }));
    const oddError = await configError(() => loadConfig({ file: odd, env }));
    expect(oddError.message).toContain('resource_limits.ring_slots: must be a power of two');
    expect(oddError.message).toContain('resource_limits.ring_slot_size_kb');
    const bad = await writeConfig('c.json', minimal({ concurrency_and_buffer_size: { warm: 'yes', idle_timeout_seconds: 0,
      resource_limits: { max_old_generation_size_mb: 0, max_young_generation_mb: 4 } } }));
    const err = await configError(() => loadConfig({ file: bad, env }));
    expect(err.message).toContain('providers.openai.concurrency_and_buffer_size.warm');
    expect(err.message).toContain('providers.openai.concurrency_and_buffer_size.idle_timeout_seconds');
    expect(err.message).toContain('providers.openai.concurrency_and_buffer_size.resource_limits.max_old_generation_size_mb');
    expect(err.message).toMatch(/unknown key 'max_young_generation_mb'.*max_young_generation_size_mb/);
  });

  it('bounds threads and max_conns_per_host', async () => {
    const file = await writeConfig(
      'c.json',
      minimal({ concurrency_and_buffer_size: { threads: 65 }, network_config: { max_conns_per_host: 10001 } }),
    );
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain('providers.openai.concurrency_and_buffer_size.threads: must be <= 64');
    expect(err.message).toContain('providers.openai.network_config.max_conns_per_host: must be <= 10000');
  });
});

describe('large_payload_optimization', () => {
  it('sets the transfer thresholds and caps the body when enabled, the smaller limit winning', async () => {
    const file = await writeConfig('c.json', { ...minimal(), client: { max_request_body_size_mb: 20 },
      large_payload_optimization: { enabled: true, request_threshold_bytes: 65536, response_threshold_bytes: 1048576,
        max_payload_bytes: 5_000_000, prefetch_size_bytes: 4096, truncated_log_bytes: 1024 } });
    const cfg = await loadConfig({ file, env });
    expect(cfg.largeMessageBytes).toEqual({ toWorker: 65536, toFront: 1048576 });
    expect(cfg.client).toMatchObject({ maxRequestBodyBytes: 5_000_000, maxRequestBodySetting: 'large_payload_optimization.max_payload_bytes' });
    expect(cfg.ignoredKeys).toEqual(expect.arrayContaining(['large_payload_optimization.prefetch_size_bytes',
      'large_payload_optimization.truncated_log_bytes']));
    const larger = await writeConfig('c.json', { ...minimal(), client: { max_request_body_size_mb: 1 },
      large_payload_optimization: { enabled: true, max_payload_bytes: 50_000_000 } });
    expect((await loadConfig({ file: larger, env })).client)
      .toMatchObject({ maxRequestBodyBytes: 1024 * 1024, maxRequestBodySetting: 'client.max_request_body_size_mb' });
  });

  it('keeps the defaults when absent, disabled or 0 (Bifrost\'s unset), and says that settings of a disabled block do nothing', async () => {
    const plain = await loadConfig({ file: await writeConfig('c.json', minimal()), env });
    expect(plain.largeMessageBytes).toEqual({ toWorker: 128 * 1024, toFront: 128 * 1024 });
    const zeros = await writeConfig('c.json', { ...minimal(), large_payload_optimization: { enabled: true, request_threshold_bytes: 0,
      response_threshold_bytes: 0, max_payload_bytes: 0 } });
    const unset = await loadConfig({ file: zeros, env });
    expect(unset.largeMessageBytes).toEqual({ toWorker: 128 * 1024, toFront: 128 * 1024 });
    expect(unset.client.maxRequestBodySetting).toBe('client.max_request_body_size_mb');
    const off = await writeConfig('c.json', { ...minimal(), large_payload_optimization: { enabled: false, max_payload_bytes: 10 } });
    const cfg = await loadConfig({ file: off, env });
    expect(cfg.largeMessageBytes).toEqual({ toWorker: 128 * 1024, toFront: 128 * 1024 });
    expect(cfg.client.maxRequestBodyBytes).toBe(10 * 1024 * 1024);
    expect(cfg.warnings).toContain('large_payload_optimization: max_payload_bytes is not applied while "enabled" is false');
  });

  it('rejects an unknown key with a hint, and a threshold that is not a positive integer', async () => {
    const file = await writeConfig('c.json', { ...minimal(), large_payload_optimization: { enabled: true, request_treshold_bytes: 5,
      response_threshold_bytes: -1 } });
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toMatch(/unknown key 'request_treshold_bytes'.*request_threshold_bytes/);
    expect(err.message).toContain('large_payload_optimization.response_threshold_bytes');
  });
});

describe('providers', () => {
  it('maps a custom provider onto its base adapter', async () => {
    const file = await writeConfig('c.json', {
      providers: {
        local: {
          network_config: { base_url: 'http://localhost:11434' },
          custom_provider_config: { base_provider_type: 'openai', is_key_less: true },
        },
      },
    });
    const [local] = (await loadConfig({ file, env })).providers;
    expect(local).toMatchObject({ name: 'local', adapter: 'openai', keyless: true, keys: [] });
    expect(local.network.baseUrl).toBe('http://localhost:11434');
  });

  it('requires base_url for a custom openai-type provider', async () => {
    const file = await writeConfig('c.json', {
      providers: { local: { keys: [{ value: 'k' }], custom_provider_config: { base_provider_type: 'openai' } } },
    });
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain("providers.local.network_config.base_url: required for a custom provider based on 'openai'");
  });

  it('rejects a base type that cannot be a base, listing the valid ones', async () => {
    const file = await writeConfig('c.json', { providers: { fake: { custom_provider_config: { base_provider_type: 'mock' } } } });
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain("providers.fake.custom_provider_config.base_provider_type: 'mock' cannot be a base provider");
    const valid = /\(valid: ([^)]*)\)/.exec(err.message)?.[1].split(', ') ?? [];
    const { PROVIDER_FACTS } = await import('../../../src/contract/providers.js');
    expect(valid.sort()).toEqual(Object.keys(PROVIDER_FACTS).filter((id) => PROVIDER_FACTS[id].canBeBase).sort());
    expect(valid).toContain('openai');
    expect(valid).not.toContain('mock');
  });

  it('rejects an unknown provider with a hint', async () => {
    const file = await writeConfig('c.json', { providers: { opnai: { keys: [{ value: 'k' }] } } });
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain("providers.opnai: unknown provider 'opnai' — did you mean 'openai'?");
  });

  it('requires an enabled key with a value unless keyless', async () => {
    const file = await writeConfig('c.json', { providers: { openai: { keys: [{ value: 'k', enabled: false }, { value: '' }] } } });
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain('providers.openai.keys: needs at least one enabled key with a non-empty value');
  });

  it('rejects duplicate key ids and negative weights', async () => {
    const dup = await writeConfig('c.json', { providers: { openai: { keys: [{ id: 'a', value: 'k' }, { id: 'a', value: 'k' }] } } });
    expect((await configError(() => loadConfig({ file: dup, env }))).message).toContain("providers.openai.keys[1].id: duplicate key id 'a'");

    const neg = await writeConfig('c.json', { providers: { openai: { keys: [{ value: 'k', weight: -1 }] } } });
    expect((await configError(() => loadConfig({ file: neg, env }))).message).toContain('providers.openai.keys[0].weight: must be >= 0');
  });

  it('takes mock_config only on the mock provider', async () => {
    const mockFile = await writeConfig('c.json', { providers: { mock: { mock_config: { latency_ms: 20, prompt_tokens: 7 } } } });
    const [mock] = (await loadConfig({ file: mockFile, env })).providers;
    expect(mock.mock).toEqual({ latencyMs: 20, chunkCount: 5, chunkIntervalMs: 0, promptTokens: 7, completionTokens: null });

    const bad = await writeConfig('c.json', minimal({ mock_config: { latency_ms: 1 } }));
    expect((await configError(() => loadConfig({ file: bad, env }))).message).toContain(
      'providers.openai.mock_config: only the mock provider takes mock_config',
    );
  });

  it('reads models: absent or ["*"] is all, [] is none, and * cannot be mixed', async () => {
    const file = await writeConfig('c.json', {
      providers: { openai: { keys: [{ value: 'a' }, { value: 'b', models: ['*'] }, { value: 'c', models: [] }] } },
    });
    const keys = (await loadConfig({ file, env })).providers[0].keys;
    expect(keys.map((k) => k.models)).toEqual([null, null, []]);

    const mixed = await writeConfig('c.json', { providers: { openai: { keys: [{ value: 'a', models: ['*', 'gpt-4o'] }] } } });
    expect((await configError(() => loadConfig({ file: mixed, env }))).message).toContain(
      "providers.openai.keys[0].models: '*' (all models) cannot be mixed with model names",
    );
  });

  it('rejects a plugin path with the wrong extension', async () => {
    const file = await writeConfig('c.json', { ...minimal(), plugins: ['./plugins/thing.so'] });
    const err = await configError(() => loadConfig({ file, env }));
    expect(err.message).toContain('plugins[0]: a plugin path must end in .js, .mjs, .ts or .mts');
  });
});

describe('embedded default config', () => {
  it('has only the keyless mock without provider keys in the environment', async () => {
    const cfg = await loadConfig({ env: {} });
    expect(cfg.source).toBe('embedded default');
    expect(cfg.providers.map((p) => p.name)).toEqual(['mock']);
    expect(cfg.providers[0]).toMatchObject({ adapter: 'mock', keyless: true, keys: [] });
    expect(cfg.providers[0].mock).toMatchObject({ chunkCount: 5, latencyMs: 0 });
    expect(cfg.plugins.map((p) => p.name)).toEqual(['metrics']);
  });

  it('adds openai when OPENAI_API_KEY is set', async () => {
    const cfg = await loadConfig({ file: null, env: { OPENAI_API_KEY: 'sk-env' } });
    expect(cfg.providers.map((p) => p.name)).toEqual(['mock', 'openai']);
    expect(cfg.providers[1].keys).toEqual([
      { id: 'openai-key-0', name: 'openai-key-0', value: 'sk-env', models: null, blacklistedModels: [], weight: 1, enabled: true, providerConfigs: {} },
    ]);
  });
});

describe('the result', () => {
  it('is deeply frozen', async () => {
    const cfg = await loadConfig({ env: { OPENAI_API_KEY: 'sk-env' } });
    expect(() => {
      (cfg.server as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (cfg.providers[1].keys[0] as { value: string }).value = 'stolen';
    }).toThrow(TypeError);
    expect(() => (cfg.providers as unknown[]).push({})).toThrow(TypeError);
    expect(cfg.providers[1].keys[0].value).toBe('sk-env');
  });
});

describe('providers.<name>.fallbacks', () => {
  it('loads a valid list, and defaults to none', async () => {
    const cfg = await loadConfig({ raw: { providers: { openai: { keys: [{ value: 'sk-1' }], fallbacks: ['mock/echo'] }, mock: {} } }, env: {} });
    expect(cfg.providers.find((p) => p.name === 'openai')!.fallbacks).toEqual(['mock/echo']);
    expect(cfg.providers.find((p) => p.name === 'mock')!.fallbacks).toEqual([]);
  });

  it('refuses an entry that is not provider/model, or names a provider not configured, with a hint', async () => {
    const err = await configError(() => loadConfig({
      raw: { providers: { openai: { keys: [{ value: 'sk-1' }], fallbacks: ['gpt-4o', 'mocc/echo'] }, mock: {} } }, env: {},
    }));
    expect(err.problems).toEqual([
      { path: 'providers.openai.fallbacks[0]', message: "'gpt-4o' must be 'provider/model'" },
      { path: 'providers.openai.fallbacks[1]', message: expect.stringContaining("provider 'mocc' is not configured") },
    ]);
    expect(err.problems[1].message).toContain('mock');
  });
});

describe('model_aliases', () => {
  it('loads aliases to provider/model, frozen, and defaults to none', async () => {
    const cfg = await loadConfig({ raw: { providers: { mock: {} }, model_aliases: { fast: 'mock/echo' } }, env: {} });
    expect(cfg.modelAliases).toEqual({ fast: 'mock/echo' });
    expect(Object.isFrozen(cfg.modelAliases)).toBe(true);
    expect((await loadConfig({ raw: { providers: { mock: {} } }, env: {} })).modelAliases).toEqual({});
  });

  it('refuses a target that is not provider/model, or names a provider not configured, with a hint', async () => {
    const err = await configError(() => loadConfig({
      raw: { providers: { mock: {} }, model_aliases: { a: 'echo', b: 'mokc/echo' } }, env: {},
    }));
    expect(err.problems).toEqual([
      { path: 'model_aliases.a', message: "'echo' must be 'provider/model'" },
      { path: 'model_aliases.b', message: expect.stringContaining("provider 'mokc' is not configured") },
    ]);
    expect(err.problems[1].message).toContain('mock');
  });
});

describe('providers.<name>.circuit_breaker', () => {
  const load = (circuitBreaker: unknown) => loadConfig({
    raw: { providers: { openai: { keys: [{ value: 'sk-1' }], circuit_breaker: circuitBreaker } } }, env: {},
  });

  it('is on with lenient defaults, and takes every setting', async () => {
    expect((await loadConfig({ raw: { providers: { mock: {} } }, env: {} })).providers[0].circuitBreaker).toEqual({
      enabled: true, consecutiveFailures: 5, errorRateThreshold: 0.5, windowSeconds: 60, minRequests: 20,
      cooldownSeconds: 10, maxCooldownSeconds: 300, halfOpenProbes: 1,
    });
    const cfg = await load({ enabled: false, consecutive_failures: 2, error_rate_threshold: 0.9, window_seconds: 30,
      min_requests: 4, cooldown_seconds: 1.5, max_cooldown_seconds: 6, half_open_probes: 3 });
    expect(cfg.providers[0].circuitBreaker).toEqual({ enabled: false, consecutiveFailures: 2, errorRateThreshold: 0.9,
      windowSeconds: 30, minRequests: 4, cooldownSeconds: 1.5, maxCooldownSeconds: 6, halfOpenProbes: 3 });
  });

  it('refuses an error rate outside (0, 1], a max cool-down below the cool-down, and a misspelt key', async () => {
    const rate = await configError(() => load({ error_rate_threshold: 50 }));
    expect(rate.problems[0].path).toBe('providers.openai.circuit_breaker.error_rate_threshold');
    const cooldown = await configError(() => load({ cooldown_seconds: 60, max_cooldown_seconds: 30 }));
    expect(cooldown.problems).toEqual([{ path: 'providers.openai.circuit_breaker.max_cooldown_seconds',
      message: 'max_cooldown_seconds (30) must be >= cooldown_seconds (60)' }]);
    const typo = await configError(() => load({ cooldown_second: 5 }));
    expect(typo.problems[0].path).toBe('providers.openai.circuit_breaker.cooldown_second');
    expect(typo.problems[0].message).toContain('cooldown_seconds');
  });
});

describe('client.access_log and client.prometheus_labels', () => {
  it('takes access_log as a boolean, on by default', async () => {
    expect((await loadConfig({ raw: { client: { access_log: false } }, env: {} })).client.accessLog).toBe(false);
    expect((await loadConfig({ raw: {}, env: {} })).client.accessLog).toBe(true);
    expect((await loadConfig({ raw: { client: { extra_fields: true } }, env: {} })).client.extraFields).toBe(true);
    const err = await configError(() => loadConfig({ raw: { client: { access_log: 'yes' } }, env: {} }));
    expect(err.problems[0].path).toBe('client.access_log');
  });

  it('refuses label names Prometheus or the gateway\'s own series cannot take, and duplicates', async () => {
    for (const bad of [['team-name'], ['1team'], ['route'], ['__name'], ['team', 'team']]) {
      const err = await configError(() => loadConfig({ raw: { client: { prometheus_labels: bad } }, env: {} }));
      expect(err.problems[0].path).toMatch(/^client\.prometheus_labels/);
    }
    expect((await loadConfig({ raw: { client: { prometheus_labels: ['team', 'env_name'] } }, env: {} })).client.prometheusLabels)
      .toEqual(['team', 'env_name']);
  });
});
