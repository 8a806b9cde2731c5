// Never less safe than asked: each setting that would restrict callers stops loading on its own, with its path
// and the reason, while the same setting switched off (or empty) loads.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from './helpers.js';

const base = () => ({ providers: { mock: {} } });
const governancePlugin = (config: Record<string, unknown>, enabled = true) => ({ plugins: [{ name: 'governance', enabled, config }] });

// [what, the setting, its path in the error, the same block asking for nothing]
const cases: [string, Record<string, unknown>, string, Record<string, unknown>][] = [
  ['the deprecated SCIM auth', { client: { enforce_scim_auth: true } }, 'client.enforce_scim_auth', { client: { enforce_scim_auth: false } }],
  ['required headers', { client: { required_headers: ['x-tenant'] } }, 'client.required_headers', { client: { required_headers: [] } }],
  ['an access profile', { access_profiles: [{ name: 'p' }] }, 'access_profiles', { access_profiles: [] }],
  ['single sign-on', { scim_config: { enabled: true, provider: 'okta' } }, 'scim_config.enabled', { scim_config: { enabled: false } }],
  ['an enabled guardrail rule', { guardrails_config: { guardrail_rules: [{ id: 1, enabled: true }] } }, 'guardrails_config.guardrail_rules',
    { guardrails_config: { guardrail_rules: [{ id: 1, enabled: false }] } }],
  ["the governance plugin's required headers", governancePlugin({ required_headers: ['x-tenant'] }), 'plugins[0].config.required_headers',
    governancePlugin({ required_headers: [] })],
];

describe('settings Heimdall cannot enforce yet', () => {
  // Virtual keys, budgets, rate limits and enforce_auth_on_inference are enforced now: test/unit/governance/config.test.ts.
  it.each(cases)('refuses %s, naming the setting', async (_what, setting, path) => {
    const err = await configError(() => loadConfig({ raw: { ...base(), ...setting }, env: {} }));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0].path).toBe(path);
    expect(err.message).toContain(`${path}: `);
    expect(err.message).toContain('Heimdall does not enforce this yet');
  });

  it.each(cases)('loads %s when it asks for nothing', async (_what, _setting, _path, off) => {
    const cfg = await loadConfig({ raw: { ...base(), ...off }, env: {} });
    expect(cfg.providers.map((p) => p.name)).toEqual(['mock']);
  });

  // Admin credentials are enforced on /api/* now (test/unit/config/admin.test.ts): they load.
  it.each([[{ auth_config: { is_enabled: true, admin_username: 'a', admin_password: 'b' } }],
    [{ governance: { auth_config: { is_enabled: true, admin_username: 'a', admin_password: 'b' } } }]])(
    'loads enabled admin credentials (%j), which /api/* enforces', async (setting) => {
      const cfg = await loadConfig({ raw: { ...base(), ...setting }, env: {} });
      expect(cfg.admin.basic).toEqual({ username: 'a', password: 'b' });
    });

  it('reports every such setting of one config together, with the other problems', async () => {
    const err = await configError(() => loadConfig({
      raw: { providers: { openai: { keys: [{ value: 'env.MISSING' }] } }, client: { enforce_scim_auth: true, required_headers: ['x-a', 'x-b'] } },
      env: {},
    }));
    expect(err.problems.map((p) => p.path)).toEqual(['client.enforce_scim_auth', 'client.required_headers',
      'providers.openai.keys[0].value', 'providers.openai.keys']);
    expect(err.message).toContain('requires the headers x-a, x-b on every request');
  });
});
