import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { maskUrlCredentials, redactConfig } from '../../../src/config/redact.js';
import { writeConfig } from './helpers.js';

describe('redactConfig', () => {
  it('masks key values and auth-like headers, and keeps the rest', async () => {
    const file = await writeConfig('c.json', {
      providers: {
        openai: {
          keys: [{ value: 'sk-secret-1' }, { value: 'env.OPENAI_API_KEY' }],
          network_config: {
            extra_headers: {
              Authorization: 'Bearer sk-secret-2',
              'api-key': 'sk-secret-3',
              'X-API-Key': 'sk-secret-4',
              'x-session-token': 'sk-secret-5',
              'x-client-secret': 'sk-secret-6',
              'x-team': 'core',
            },
          },
        },
      },
      plugins: [{ name: 'tracer', path: './tracer.mjs', config: { api_key: 'sk-secret-7', log_repo_id: 'repo-1' } }],
    });
    const cfg = await loadConfig({ file, env: { OPENAI_API_KEY: 'sk-secret-8' } });
    const view = redactConfig(cfg);
    const text = JSON.stringify(view);

    expect(text).not.toMatch(/sk-secret/);
    const p = (view as { providers: { keys: { value: string; id: string }[]; network: { extraHeaders: Record<string, string> } }[] })
      .providers[0];
    expect(p.keys.map((k) => k.value)).toEqual(['***', '***']);
    expect(p.keys[0].id).toBe('openai-key-0');
    expect(p.network.extraHeaders['x-team']).toBe('core');
    expect(p.network.extraHeaders.Authorization).toBe('***');
    expect(text).toContain('"log_repo_id":"repo-1"');
    // The live config is untouched.
    expect(cfg.providers[0].keys[0].value).toBe('sk-secret-1');
  });
});

describe('redaction of provider key blocks', () => {
  it('masks cloud credentials inside *_key_config but keeps endpoints and regions readable', async () => {
    const config = await loadConfig({
      raw: { providers: { custom: { custom_provider_config: { base_provider_type: 'openai' }, network_config: { base_url: 'http://h' },
        keys: [{ value: 'k', bedrock_key_config: { access_key: 'AKIA-SECRET', secret_key: 'env.AWS_SECRET', region: 'us-east-1' } }] } } },
      env: { AWS_SECRET: 'very-secret' },
    });
    expect(config.providers[0].keys[0].providerConfigs).toEqual({
      bedrock_key_config: { access_key: 'AKIA-SECRET', secret_key: 'very-secret', region: 'us-east-1' },
    });
    const text = JSON.stringify(redactConfig(config));
    expect(text).not.toContain('AKIA-SECRET');
    expect(text).not.toContain('very-secret');
    expect(text).toContain('us-east-1');
  });
});

describe('redaction of every secret the start-up dump could carry', () => {
  const load = (raw: unknown, env: Record<string, string> = {}) => loadConfig({ raw, env });
  const dump = async (raw: unknown, env: Record<string, string> = {}) => JSON.stringify(redactConfig(await load(raw, env)));

  it('masks a header value read from env. even when the header name looks harmless', async () => {
    const text = await dump({ providers: { mock: { network_config: { extra_headers: { 'x-team': 'env.TEAM_HEADER', 'x-region': 'eu' } } } } },
      { TEAM_HEADER: 'team-secret-4711' });
    expect(text).not.toContain('team-secret-4711');
    expect(text).toContain('"x-team":"***"');
    expect(text).toContain('"x-region":"eu"');
  });

  it("masks every header of the trace collector, from the otel entry or OTEL_EXPORTER_OTLP_HEADERS", async () => {
    const text = await dump({ providers: { mock: {} }, plugins: [{ name: 'otel', config: { collector_url: 'http://c:4318',
      headers: { 'x-honeycomb-team': 'hc-team-secret-1' } } }] }, { OTEL_EXPORTER_OTLP_HEADERS: 'x-scope-orgid=tenant-secret-2' });
    expect(text).not.toContain('hc-team-secret-1');
    expect(text).not.toContain('tenant-secret-2');
    expect(text).toContain('"x-honeycomb-team":"***"');
    expect(text).toContain('"endpoint":"http://c:4318/v1/traces"');
  });

  it('masks Cookie, Set-Cookie and Proxy-Authorization headers', async () => {
    const text = await dump({ providers: { mock: { network_config: { extra_headers: {
      Cookie: 'session=abc123', 'Set-Cookie': 'sid=def456', 'Proxy-Authorization': 'Basic Z3c6cHc=' } } } } });
    for (const secret of ['abc123', 'def456', 'Z3c6cHc=']) expect(text).not.toContain(secret);
  });

  it("masks a URL's password in base_url, and a lone user part that may be a token", async () => {
    const cfg = await load({ providers: {
      a: { custom_provider_config: { base_provider_type: 'openai', is_key_less: true }, network_config: { base_url: 'http://gw:s3cr3t-pw@llm.internal:8000/v1' } },
      b: { custom_provider_config: { base_provider_type: 'openai', is_key_less: true }, network_config: { base_url: 'https://ghp_tokenvalue@llm.example.com' } },
    } });
    const view = redactConfig(cfg) as { providers: { network: { baseUrl: string } }[] };
    expect(view.providers.map((p) => p.network.baseUrl)).toEqual(['http://gw:***@llm.internal:8000/v1', 'https://***@llm.example.com']);
    expect(cfg.providers[0].network.baseUrl).toBe('http://gw:s3cr3t-pw@llm.internal:8000/v1');
  });

  it('masks a value read from env. inside a key config even under a harmless name', async () => {
    const text = await dump({ providers: { azure: { keys: [{ value: 'k', azure_key_config: { endpoint: 'env.AZURE_ENDPOINT', api_version: '2025-01-01' } }] } } },
      { AZURE_ENDPOINT: 'https://private-resource.openai.azure.com' });
    expect(text).not.toContain('private-resource');
    expect(text).toContain('"api_version":"2025-01-01"');
  });

  it("masks a plugin config's DSN, webhook URL, password, token and auth headers, and keeps its harmless settings", async () => {
    const text = await dump({ providers: { mock: {} }, plugins: [{ name: 'audit', path: './audit.mjs', config: {
      dsn: 'postgres://audit:db-pass-1@db.internal/audit',
      webhook_url: 'https://hooks.slack.com/services/T000/B000/hook-secret-2',
      smtp: { password: 'mail-pass-3', host: 'smtp.internal' },
      accessToken: 'tok-4',
      serviceAccountKey: 'sa-key-5',
      headers: { Authorization: 'Bearer bearer-6', 'x-source': 'gateway' },
      collector_url: 'http://collector:collector-pass-7@otel.internal:4318',
      service_name: 'gateway',
      sample_rate: 0.5,
      enabled_for_streams: true,
    } }] });
    for (const secret of ['db-pass-1', 'hook-secret-2', 'mail-pass-3', 'tok-4', 'sa-key-5', 'bearer-6', 'collector-pass-7']) {
      expect(text).not.toContain(secret);
    }
    for (const kept of ['"host":"smtp.internal"', '"x-source":"gateway"', '"collector_url":"http://collector:***@otel.internal:4318"',
      '"service_name":"gateway"', '"sample_rate":0.5', '"enabled_for_streams":true']) {
      expect(text).toContain(kept);
    }
  });
});

describe('maskUrlCredentials', () => {
  it('masks userinfo wherever a URL sits in a string and leaves other text alone', () => {
    expect(maskUrlCredentials('primary redis://default:pw1@cache:6379 then amqp://guest:pw2@mq/vh'))
      .toBe('primary redis://default:***@cache:6379 then amqp://guest:***@mq/vh');
    expect(maskUrlCredentials('https://api.example.com/v1?user=a@b.c')).toBe('https://api.example.com/v1?user=a@b.c');
    expect(maskUrlCredentials('ops@example.com')).toBe('ops@example.com');
  });
});
