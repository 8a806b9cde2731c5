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
      virtual_keys: [vk({ value: 'short', mcp_configs: [{ mcp_client_id: 'x', mcp_client_name: 'x' }] }), vk({ id: 'vk-2', team_id: 't', customer_id: 'c' })],
      vitual_keys: [],
    }) }));
    const paths = err.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['governance.budgets[0].reset_duration',
      'governance.rate_limits[0].request_reset_duration', 'governance.model_configs[0].budget_id',
      'governance.virtual_keys[0].value', 'governance.virtual_keys[0].mcp_configs[0]', 'governance.virtual_keys[1]',
      'governance.vitual_keys']));
    expect(err.message).toContain('vitual_keys');
    expect(err.message).toContain('a per-model budget is not enforced by Heimdall yet');
  });
});

describe("a virtual key's mcp_configs", () => {
  const mcp = { client_configs: [
    { name: 'fs', client_id: 'c-123', connection_type: 'stdio', stdio_config: { command: 'node' }, tools_to_execute: ['*'] },
    { name: 'web', connection_type: 'stdio', stdio_config: { command: 'node' }, tools_to_execute: ['*'] },
  ] };

  it('names a client by mcp_client_name, or by mcp_client_id (its client_id, else its name)', async () => {
    const cfg = await loadConfig({ env: {}, raw: { ...base({ virtual_keys: [vk({ mcp_configs: [
      { mcp_client_id: 'c-123', tools_to_execute: ['read_file'] }, { mcp_client_name: 'web', tools_to_execute: ['*'] }] })] }), mcp } });
    expect(cfg.governance.raw.virtual_keys[0].mcp_configs.map((mc) => mc.mcp_client_name)).toEqual(['fs', 'web']);
    const byId = await loadConfig({ env: {}, raw: { ...base({ virtual_keys: [vk({ mcp_configs: [{ mcp_client_id: 'web' }] })] }), mcp } });
    expect(byId.governance.raw.virtual_keys[0].mcp_configs[0]).toMatchObject({ mcp_client_name: 'web', tools_to_execute: [] });
  });

  it('refuses a client that is not configured, one named twice, and neither or both names', async () => {
    const err = await configError(() => loadConfig({ env: {}, raw: { ...base({ virtual_keys: [vk({ mcp_configs: [
      { mcp_client_name: 'nobody', tools_to_execute: ['*'] }, { mcp_client_name: 'fs' }, { mcp_client_id: 'c-123' }] })] }), mcp } }));
    expect(err.problems.map((p) => p.path)).toEqual(['governance.virtual_keys.0.mcp_configs.0.mcp_client_name',
      'governance.virtual_keys.0.mcp_configs.2']);
    expect(err.message).toContain("no MCP client 'nobody' in mcp.client_configs; configured: fs, web");
    expect(err.message).toContain("MCP client 'fs' is configured twice for this key");
    const neither = await configError(() => loadConfig({ env: {}, raw: { ...base({ virtual_keys: [vk({ mcp_configs: [{ tools_to_execute: ['*'] }] })] }), mcp } }));
    expect(neither.message).toContain("name the MCP client with 'mcp_client_name' or 'mcp_client_id'");
    const noMcp = await configError(() => loadConfig({ env: {}, raw: base({ virtual_keys: [vk({ mcp_configs: [{ mcp_client_name: 'fs' }] })] }) }));
    expect(noMcp.message).toContain("no MCP client 'fs' in mcp.client_configs; configured: none");
  });

  it('warns that a key without mcp_configs gets no MCP tools, when MCP is configured', async () => {
    const warned = await loadConfig({ env: {}, raw: { ...base({ virtual_keys: [vk(), vk({ id: 'vk-2', value: 'sk-bf-another-key-0001',
      mcp_configs: [{ mcp_client_name: 'fs', tools_to_execute: ['*'] }] })] }), mcp } });
    expect(warned.warnings.join('\n')).toContain("virtual key 'vk-1' has no mcp_configs: requests presenting them get no MCP tools");
    const quiet = await loadConfig({ env: {}, raw: base({ virtual_keys: [vk()] }) });
    expect(quiet.warnings.join('\n')).not.toContain('mcp_configs');
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
