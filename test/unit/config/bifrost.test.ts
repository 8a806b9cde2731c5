// Bifrost-shaped configs (test/fixtures/bifrost/, written after Bifrost's root config.json, its withvirtualkeys
// example and every block of its config.schema.json) load as they are: what Heimdall does not act on is warned
// about, what it cannot enforce is refused.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from './helpers.js';

const FIXTURES = new URL('../../fixtures/bifrost/', import.meta.url).pathname;
const fixture = (name: string): string => join(FIXTURES, name);
const readFixture = async (name: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(fixture(name), 'utf8')) as Record<string, unknown>;

// Every `env.` reference of root-config.json but ELEVENLABS_API_KEY: a provider that is not served needs no key.
const rootEnv = Object.fromEntries(['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY',
  'AZURE_OPENAI_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS', 'GEMINI_API_KEY', 'NEBIUS_API_KEY', 'XAI_API_KEY',
  'HUGGING_FACE_API_KEY', 'COHERE_API_KEY', 'MISTRAL_API_KEY', 'GROQ_API_KEY', 'OPENROUTER_API_KEY', 'CEREBRAS_API_KEY',
  'PERPLEXITY_API_KEY', 'PARASAIL_API_KEY'].map((name) => [name, `value-of-${name}`]));

describe("Bifrost's root config.json", () => {
  it('loads: elevenlabs is loaded but not served, and the keys whose "models": [] allows nothing are named', async () => {
    const cfg = await loadConfig({ file: fixture('root-config.json'), env: rootEnv });
    expect(cfg.providers.map((p) => p.name)).toEqual(['openai', 'anthropic', 'bedrock', 'azure', 'vertex', 'gemini', 'nebius',
      'xai', 'huggingface', 'cohere', 'mistral', 'groq', 'openrouter', 'cerebras', 'perplexity', 'parasail']);
    expect(cfg.unsupportedProviders).toEqual(['elevenlabs']);
    expect(cfg.warnings).toContainEqual(expect.stringMatching(/^providers\.elevenlabs: Heimdall has no adapter .* not served/));

    // Bifrost 1.5 reads [] as "no model": the keys stay that way, and one warning names all sixteen.
    expect(cfg.providers.every((p) => p.keys.every((k) => k.models !== null && k.models.length === 0))).toBe(true);
    const empty = cfg.warnings.find((w) => w.includes('"models": [] allows no model'));
    expect(empty).toContain('providers.openai.keys[0], providers.anthropic.keys[0]');
    expect(empty).toContain('"version": 1');
    expect(empty?.match(/providers\.[\w-]+\.keys\[0\]/g)).toHaveLength(16);

    // enforce_governance_header is false: nothing to enforce, so it is neither refused nor reported.
    expect(cfg.ignoredKeys).not.toContain('client.enforce_governance_header');
    expect(cfg.ignoredKeys).toEqual(expect.arrayContaining(['client.enable_governance', 'client.allow_direct_keys', 'client.initial_pool_size',
      'governance.routing_rules', 'config_store', 'vector_store']));
    // Acted on: only the flagged keys serve files and batches.
    expect(cfg.ignoredKeys).not.toContain('providers.bedrock.keys[0].use_for_batch_api');
    // The `mcp` block is acted on: its stdio server, and tool_manager_config's settings in the absence of client ones.
    expect(cfg.ignoredKeys).not.toContain('mcp');
    expect(cfg.mcp).toMatchObject({ agentDepth: 5, toolTimeoutMs: 20_000,
      clients: [{ name: 'files', connectionType: 'stdio', command: 'npx', args: ['-y', 'example-mcp-files'], toolsToExecute: [] }] });
    expect(cfg.warnings).toContainEqual(expect.stringMatching(/^mcp\.client_configs\[0\]\.tools_to_execute: .* none of 'files's tools may run/));
    // The request log is acted on: Bifrost's SQLite file, content logging off.
    expect(cfg.ignoredKeys).not.toEqual(expect.arrayContaining(['logs_store', 'client.enable_logging']));
    expect(cfg.requestLog).toMatchObject({ enabled: true, content: false, target: { type: 'sqlite' } });
    expect(cfg.requestLog.target).toMatchObject({ path: expect.stringMatching(/\/logs\.db$/) });
  });

  it('with "version": 1 at the top, reads a key\'s "models": [] as every model, as before Bifrost 1.5', async () => {
    const raw = { ...await readFixture('root-config.json'), version: 1 };
    const cfg = await loadConfig({ raw, env: rootEnv });
    expect(cfg.providers.every((p) => p.keys.every((k) => k.models === null))).toBe(true);
    expect(cfg.warnings.some((w) => w.includes('"models": []'))).toBe(false);
  });
});

describe("Bifrost's withvirtualkeys example", () => {
  it('loads and is enforced: a virtual key is mandatory, its key_ids restrict the provider keys', async () => {
    const cfg = await loadConfig({ file: fixture('withvirtualkeys.json'),
      env: { OPENAI_API_KEY: 'sk', VK_TEAM_A: 'sk-bf-team-a-value' } });
    expect(cfg.governance.enforceAuth).toBe(true);
    const [teamA, retired] = cfg.governance.raw.virtual_keys;
    expect(teamA).toMatchObject({ id: 'vk-team-a', value: 'sk-bf-team-a-value', is_active: true });
    expect(teamA.provider_configs[0].keys).toEqual(['key-openai-1']);
    expect(retired.is_active).toBe(false);
    // The governance plugin is built in: no warning that it will not run.
    expect(cfg.warnings.join('\n')).not.toContain('governance');
    expect(cfg.ignoredKeys).toEqual(expect.arrayContaining(['client.enable_litellm_fallbacks', 'governance.auth_config', 'framework']));
    expect(cfg.plugins).toEqual([]);
  });

  it('names the variable a virtual key reads when it is not set', async () => {
    const err = await configError(() => loadConfig({ file: fixture('withvirtualkeys.json'), env: { OPENAI_API_KEY: 'sk' } }));
    expect(err.problems.map((p) => p.path)).toEqual(['governance.virtual_keys.0.value']);
    expect(err.message).toContain("environment variable 'VK_TEAM_A' is not set");
  });
});

describe('a config with every block of Bifrost\'s schema', () => {
  const env = { ENCRYPTION_PASSPHRASE: 'p', ADMIN_PASSWORD: 'p', PROXY_PASSWORD: 'p', WEBHOOK_SECRET: 'p',
    REDIS_PASSWORD: 'p', PG_PASSWORD: 'p', MAXIM_API_KEY: 'p' };

  it('loads, acting on what Heimdall can and listing every other key as not acted on', async () => {
    const raw = await readFixture('every-block.json') as Record<string, Record<string, unknown>>;
    const cfg = await loadConfig({ file: fixture('every-block.json'), env });

    const actedOnTop = ['$schema', 'version', 'client', 'providers', 'plugins', 'mcp', 'logs_store', 'governance',
      'large_payload_optimization'];
    for (const block of Object.keys(raw).filter((k) => !actedOnTop.includes(k))) expect(cfg.ignoredKeys).toContain(block);
    // The switches that would restrict callers are false or empty here: nothing to enforce, nothing to report.
    const actedOnClient = ['drop_excess_requests', 'max_request_body_size_mb', 'enforce_auth_on_inference',
      'enforce_governance_header', 'enforce_scim_auth', 'required_headers', 'allowed_origins', 'access_log',
      'prometheus_labels', 'mcp_agent_depth', 'mcp_tool_execution_timeout', 'mcp_tool_sync_interval',
      'enable_logging', 'disable_content_logging', 'log_retention_days', 'async_job_result_ttl'];
    expect(cfg.client.asyncJobResultTtlSeconds).toBe(raw.client.async_job_result_ttl);
    for (const key of Object.keys(raw.client).filter((k) => !actedOnClient.includes(k))) {
      expect(cfg.ignoredKeys).toContain(`client.${key}`);
    }
    const network = (raw.providers.openai as { network_config: Record<string, unknown> }).network_config;
    const actedOnNetwork = ['base_url', 'extra_headers', 'default_request_timeout_in_seconds', 'max_retries',
      'retry_backoff_initial', 'retry_backoff_max', 'stream_idle_timeout_in_seconds', 'max_conns_per_host',
      'insecure_skip_verify', 'ca_cert_pem'];
    for (const key of Object.keys(network).filter((k) => !actedOnNetwork.includes(k))) {
      expect(cfg.ignoredKeys).toContain(`providers.openai.network_config.${key}`);
    }
    expect(cfg.ignoredKeys).not.toContain('providers.openai.proxy_config');
    // Both retentions are set and differ: the store's wins, and a warning says so.
    expect(cfg.requestLog).toMatchObject({ retentionDays: 14, batchSize: 500, content: false });
    expect(cfg.warnings).toContainEqual(expect.stringContaining('logs_store.retention_days (14) and client.log_retention_days (30) differ'));
    expect(cfg.ignoredKeys).toEqual(expect.arrayContaining(['providers.openai.openai_config',
      'providers.openai.keys[0].aliases', 'providers.team-gateway.custom_provider_config.allowed_requests',
      'plugins[0].config.custom_labels', 'plugins[0].config.push_gateway']));

    const byName = new Map(cfg.providers.map((p) => [p.name, p]));
    expect([...byName.keys()]).toEqual(['openai', 'bedrock', 'sgl', 'ollama', 'vllm', 'azure', 'vertex', 'team-gateway']);
    // Bifrost's `sgl` is SGLang; its per-key server URL (Bifrost 1.5) is the provider's base URL.
    expect(byName.get('sgl')).toMatchObject({ adapter: 'sglang', network: { baseUrl: 'http://sglang.internal:30000' } });
    expect(byName.get('ollama')?.network.baseUrl).toBe('http://ollama.internal:11434');
    expect(byName.get('vllm')?.network.baseUrl).toBe('http://vllm.internal:8000');
    expect(byName.get('team-gateway')?.adapter).toBe('openai');
    expect(cfg.unsupportedProviders).toEqual(['replicate', 'voice', 'bedrock_mantle']);
    expect(cfg.warnings).toContain("providers.voice: Heimdall cannot base a custom provider on 'elevenlabs' yet; "
      + 'it loads but is not served (a request for voice/… gets 404)');

    // `telemetry` runs as Heimdall's metrics; the enabled plugins Heimdall lacks are named, the disabled ones not.
    expect(cfg.plugins).toEqual([{ name: 'metrics', path: null, enabled: true, config: {} }]);
    expect(cfg.warnings).toContain("plugins: Bifrost's built-in plugins logging, maxim, datadog are not "
      + 'acted on by Heimdall yet and will not run');
    // `otel` is Heimdall's tracing, in Bifrost's shape (docs/tracing.md).
    expect(cfg.tracing).toMatchObject({ protocol: 'http', endpoint: 'http://otel.internal:4318/v1/traces',
      resource: { 'service.name': 'gateway' }, sampleRate: 1 });
    // Governance is acted on; its blocks that steer or describe rather than restrict are reported.
    expect(cfg.ignoredKeys).toEqual(expect.arrayContaining(['governance.routing_rules', 'governance.business_units',
      'governance.roles', 'governance.model_configs', 'governance.providers', 'governance.auth_config']));
  });

  it('is refused, each setting by its path, when it asks for every protection Heimdall lacks', async () => {
    const err = await configError(() => loadConfig({ file: fixture('every-restriction.json'), env: {} }));
    // Virtual keys, budgets, rate limits and the mandatory key are enforced (src/governance), both auth_config blocks
    // on /api/* (src/config/admin.ts): not refused.
    expect(err.problems.map((p) => p.path)).toEqual([
      'client.enforce_scim_auth', 'client.required_headers', 'access_profiles', 'scim_config.enabled',
      'guardrails_config.guardrail_rules', 'plugins[0].config.required_headers',
    ]);
    expect(err.message).toContain('client.required_headers: requires the headers x-tenant on every request: Heimdall does not enforce this yet');
  });
});

describe('a provider loaded but not served', () => {
  it('cannot be a fallback or an alias target, and the error says why', async () => {
    const err = await configError(() => loadConfig({ raw: {
      providers: { mock: { fallbacks: ['elevenlabs/eleven_v3'] }, elevenlabs: { keys: [{ value: 'k' }] } },
      model_aliases: { voice: 'elevenlabs/eleven_v3' },
    }, env: {} }));
    expect(err.problems).toEqual([
      { path: 'providers.mock.fallbacks[0]', message: "provider 'elevenlabs' is not served (Heimdall has no adapter for it yet)" },
      { path: 'model_aliases.voice', message: "provider 'elevenlabs' is not served (Heimdall has no adapter for it yet)" },
    ]);
  });
});

describe('self-hosted providers with per-key servers', () => {
  it('refuses keys that name different servers, since a provider has one base URL', async () => {
    const raw = { providers: { sgl: { keys: [
      { name: 'a', value: '', weight: 1, sgl_key_config: { url: 'http://sgl-a:30000' } },
      { name: 'b', value: '', weight: 1, sgl_key_config: { url: 'http://sgl-b:30000' } },
    ] } } };
    const err = await configError(() => loadConfig({ raw, env: {} }));
    expect(err.message).toContain('providers.sgl.keys: the keys name 2 different sgl_key_config.url servers');
  });

  it('takes sgl as a base type for SGLang, and an explicit base_url over the keys\' URL', async () => {
    const cfg = await loadConfig({ raw: { providers: {
      sgl: { keys: [{ name: 'a', value: '', weight: 1, sgl_key_config: { url: 'http://from-key:1' } }],
        network_config: { base_url: 'http://explicit:2' } },
    } }, env: {} });
    expect(cfg.providers[0]).toMatchObject({ name: 'sgl', adapter: 'sglang', network: { baseUrl: 'http://explicit:2' } });
  });
});
