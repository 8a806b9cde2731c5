// The `governance` block: Bifrost's shape, strict, every cross-reference checked, every problem reported at once.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from '../config/helpers.js';

const base = (governance: Record<string, unknown>, client: Record<string, unknown> = {}) =>
  ({ providers: { mock: {}, openai: { keys: [{ name: 'main', value: 'sk-x', models: ['*'] }] } }, client, governance });
const vk = (extra: Record<string, unknown> = {}) => ({ id: 'vk-1', name: 'one', value: 'sk-bf-0123456789abcdef',
  provider_configs: [{ provider: 'mock', allowed_models: ['*'] }], ...extra });

describe('the governance block', () => {
  it('loads keys, teams, customers, budgets and rate limits, and enforce_auth_on_inference', async () => {
    const cfg = await loadConfig({ env: {}, raw: base({
      budgets: [{ id: 'b', max_limit: 10, reset_duration: '1M', calendar_aligned: true }],
      rate_limits: [{ id: 'r', request_max_limit: 60, request_reset_duration: '1m', token_max_limit: 1000, token_reset_duration: '1h' }],
      customers: [{ id: 'c', name: 'Acme', budget_id: 'b', budgets: [{ id: 'own', max_limit: 1, reset_duration: '1d' }] }],
      teams: [{ id: 't', name: 'Platform', customer_id: 'c', rate_limit_id: 'r' }],
      virtual_keys: [vk({ team_id: 't', provider_configs: [{ provider: 'openai', allowed_models: ['gpt-4o'], key_ids: ['main'] }] })],
    }, { enforce_auth_on_inference: true }) });
    expect(cfg.governance.enforceAuth).toBe(true);
    expect(cfg.governance.raw.virtual_keys[0].provider_configs[0]).toMatchObject({ keys: ['main'], weight: 1 });
  });

  it('reports every broken reference and mistake together, by path', async () => {
    const err = await configError(() => loadConfig({ env: {}, raw: base({
      budgets: [{ id: 'b', max_limit: 1, reset_duration: '1d' }, { id: 'b', max_limit: 2, reset_duration: '1d' }],
      teams: [{ id: 't', name: 't', customer_id: 'nobody' }],
      virtual_keys: [
        vk({ budget_id: 'missing', rate_limit_id: 'gone', team_id: 'nope' }),
        vk({ id: 'vk-2', provider_configs: [{ provider: 'azure', allowed_models: ['*'] }, { provider: 'openai', allowed_models: ['*'], keys: ['other'] }] }),
      ],
    }) }));
    expect(err.problems.map((p) => p.path)).toEqual([
      'governance.budgets.1.id', 'governance.teams.0.customer_id', 'governance.virtual_keys.0.team_id',
      'governance.virtual_keys.0.budget_id', 'governance.virtual_keys.0.rate_limit_id',
      'governance.virtual_keys.1.provider_configs.0.provider', 'governance.virtual_keys.1.provider_configs.1.keys',
      'governance.virtual_keys.1.value',
    ]);
    expect(err.message).toContain("no budget has id 'missing'");
    expect(err.message).toContain("provider 'azure' is not configured");
    expect(err.message).toContain("the same value as virtual key 'vk-1'");
    // A key's value is never quoted back.
    expect(err.message).not.toContain('sk-bf-0123456789abcdef');
  });

  it('refuses what it cannot enforce or read: bad durations, a limit without its duration, unknown keys', async () => {
    const err = await configError(() => loadConfig({ env: {}, raw: base({
      budgets: [{ id: 'b', max_limit: 1, reset_duration: '1 day' }],
      rate_limits: [{ id: 'r', request_max_limit: 5 }],
      model_configs: [{ id: 'm', model_name: 'gpt-4o', budget_id: 'b' }],
      virtual_keys: [vk({ value: 'short', mcp_configs: [{ mcp_client_id: 'x' }] }), vk({ id: 'vk-2', team_id: 't', customer_id: 'c' })],
      vitual_keys: [],
    }) }));
    const paths = err.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['governance.budgets[0].reset_duration',
      'governance.rate_limits[0].request_reset_duration', 'governance.model_configs[0].budget_id',
      'governance.virtual_keys[0].value', 'governance.virtual_keys[0].mcp_configs', 'governance.virtual_keys[1]',
      'governance.vitual_keys']));
    expect(err.message).toContain('vitual_keys');
    expect(err.message).toContain('a per-model budget is not enforced by Heimdall yet');
  });
});

describe('governance with several processes', () => {
  it('takes budgets and rate limits without Redis: the supervisor counts them for every process', async () => {
    const raw = { ...base({ rate_limits: [{ id: 'r', request_max_limit: 5, request_reset_duration: '1m' }],
      virtual_keys: [vk({ rate_limit_id: 'r' })] }), heimdall: { processes: 2 } };
    const local = await loadConfig({ env: {}, raw });
    expect(local.processes.count).toBe(2);
    expect(local.governance.raw.state).toBeUndefined();
    const shared = await loadConfig({ env: {}, raw: { ...raw, governance: { ...raw.governance, state: { redis_url: 'redis://127.0.0.1:6379' } } } });
    expect(shared.governance.raw.state?.redis_url).toBe('redis://127.0.0.1:6379');
  });
});
