import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { redactConfig } from '../../../src/config/redact.js';
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
      plugins: [{ name: 'maxim', config: { api_key: 'sk-secret-7', log_repo_id: 'repo-1' } }],
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
