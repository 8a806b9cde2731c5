// The `mcp` block: Bifrost's shape validated strictly, defaults and the client-level settings, env references, and
// the start-up dump masking what is secret.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { redactConfig } from '../../../src/config/redact.js';
import { configError } from './helpers.js';

const load = (mcp: unknown, client: Record<string, unknown> = {}, env: Record<string, string> = {}) =>
  loadConfig({ raw: { providers: { mock: {} }, client, mcp }, env });
const problems = async (mcp: unknown, client: Record<string, unknown> = {}) =>
  (await configError(() => load(mcp, client))).problems.map((p) => `${p.path}: ${p.message}`);

const stdio = { name: 'files', connection_type: 'stdio', stdio_config: { command: 'node', args: ['server.js'] }, tools_to_execute: ['*'] };

describe('the mcp block', () => {
  it('is null with no client, and the request path then has no MCP at all', async () => {
    expect((await load(undefined)).mcp).toBeNull();
    expect((await load({ client_configs: [] })).mcp).toBeNull();
  });

  it('normalizes each connection type, with the defaults and the client-level settings', async () => {
    const cfg = await load({ client_configs: [
      stdio,
      { name: 'web', connection_type: 'http', connection_string: 'env.MCP_URL', headers: { Authorization: 'env.MCP_TOKEN' },
        tools_to_execute: ['search', 'fetch'], tools_to_auto_execute: ['search'], tool_sync_interval: '30s', is_ping_available: false },
      { name: 'old_sse', connection_type: 'sse', connection_string: 'https://mcp.example.com/sse' },
    ] }, { mcp_agent_depth: 4, mcp_tool_execution_timeout: 12, mcp_tool_sync_interval: 2 },
    { MCP_URL: 'https://mcp.example.com/mcp', MCP_TOKEN: 'Bearer t0ken' });
    expect(cfg.mcp).toEqual({
      agentDepth: 4,
      toolTimeoutMs: 12_000,
      clients: [
        { name: 'files', connectionType: 'stdio', command: 'node', args: ['server.js'], env: {}, url: null, headers: {},
          toolsToExecute: null, toolsToAutoExecute: [], ping: true, syncIntervalMs: 120_000 },
        { name: 'web', connectionType: 'http', command: null, args: [], env: {}, url: 'https://mcp.example.com/mcp',
          headers: { Authorization: 'Bearer t0ken' }, toolsToExecute: ['search', 'fetch'], toolsToAutoExecute: ['search'], ping: false,
          syncIntervalMs: 30_000 },
        { name: 'old_sse', connectionType: 'sse', command: null, args: [], env: {}, url: 'https://mcp.example.com/sse', headers: {},
          toolsToExecute: [], toolsToAutoExecute: [], ping: true, syncIntervalMs: 120_000 },
      ],
    });
    expect(cfg.warnings).toContainEqual(expect.stringContaining("none of 'old_sse's tools may run"));
    // Secrets never reach the start-up dump: the header read from env, and a stdio server's environment values.
    const dumped = JSON.stringify(redactConfig(cfg));
    expect(dumped).not.toContain('t0ken');
  });

  it("takes Bifrost's defaults and its older tool_manager_config spellings", async () => {
    const defaults = await load({ client_configs: [stdio] });
    expect(defaults.mcp).toMatchObject({ agentDepth: 10, toolTimeoutMs: 30_000, clients: [{ syncIntervalMs: 600_000 }] });
    const older = await load({ client_configs: [stdio], tool_manager_config: { max_agent_depth: 3, tool_execution_timeout: '45s' }, tool_sync_interval: '1h' });
    expect(older.mcp).toMatchObject({ agentDepth: 3, toolTimeoutMs: 45_000, clients: [{ syncIntervalMs: 3_600_000 }] });
  });

  it("passes only the allow-listed variables to a stdio server, and masks their values in the dump", async () => {
    const cfg = await load({ client_configs: [{ ...stdio, stdio_config: { command: 'node', envs: ['GITHUB_PAT', 'MISSING'] } }] }, {},
      { GITHUB_PAT: 'ghp_secretvalue', OTHER: 'x' });
    expect(cfg.mcp?.clients[0].env).toEqual({ GITHUB_PAT: 'ghp_secretvalue' });
    expect(cfg.warnings).toContainEqual(expect.stringContaining("'MISSING' is not set"));
    expect(JSON.stringify(redactConfig(cfg))).not.toContain('ghp_secretvalue');
  });

  it('refuses mistakes with their path and a hint', async () => {
    expect(await problems({ client_configs: [{ ...stdio, tools_to_exec: ['*'] }] }))
      .toEqual(["mcp.client_configs[0].tools_to_exec: unknown key 'tools_to_exec' — did you mean 'tools_to_execute'?"]);
    expect(await problems({ client_configs: [{ ...stdio, connection_type: 'websocket' }] }))
      .toEqual([expect.stringMatching(/^mcp\.client_configs\[0\]\.connection_type: .*stdio.*http.*sse/)]);
    expect(await problems({ client_configs: [{ name: 'x', connection_type: 'stdio' }] }))
      .toEqual(['mcp.client_configs[0].stdio_config: required for connection_type stdio']);
    expect(await problems({ client_configs: [{ name: 'x', connection_type: 'http' }] }))
      .toEqual(["mcp.client_configs[0].connection_string: required for connection_type http (the server's URL)"]);
    expect(await problems({ client_configs: [{ name: 'x', connection_type: 'http', connection_string: 'ftp://a' }] }))
      .toEqual(['mcp.client_configs[0].connection_string: expected an http(s) URL']);
    expect(await problems({ client_configs: [{ ...stdio, name: 'my-tools' }] }))
      .toEqual([expect.stringMatching(/^mcp\.client_configs\[0\]\.name: letters, digits and _ only/)]);
    expect(await problems({ client_configs: [stdio, stdio] })).toEqual(["mcp.client_configs[1].name: duplicate MCP client name 'files'"]);
    expect(await problems({ client_configs: [{ ...stdio, tools_to_execute: ['a'], tools_to_auto_execute: ['b'] }] }))
      .toEqual([expect.stringMatching(/^mcp\.client_configs\[0\]\.tools_to_auto_execute: 'b' is not in tools_to_execute/)]);
    expect(await problems({ client_configs: [{ ...stdio, tools_to_execute: ['*', 'a'] }] }))
      .toEqual([expect.stringContaining("'*' (every tool) cannot be mixed")]);
    expect(await problems({ client_configs: [{ ...stdio, auth_type: 'oauth' }] }))
      .toEqual([expect.stringMatching(/^mcp\.client_configs\[0\]\.auth_type: /)]);
    expect(await problems({ client_configs: [{ name: 'x', connection_type: 'http', connection_string: 'env.NOPE' }] }))
      .toEqual(["mcp.client_configs[0].connection_string: environment variable 'NOPE' is not set"]);
    expect(await problems({ client_configs: [stdio] }, { mcp_agent_depth: 0 })).toEqual([expect.stringMatching(/^client\.mcp_agent_depth: /)]);
    expect(await problems({ client_configs: [stdio], tool_sync_interval: '10 minutes' }))
      .toEqual([expect.stringMatching(/^mcp\.tool_sync_interval: .*'30s' or '10m'/)]);
  });

  it('lists the Bifrost keys it does not act on', async () => {
    const cfg = await load({ client_configs: [{ ...stdio, client_id: 'abc', is_code_mode_client: false, tool_pricing: { read: 0.01 } }],
      tool_groups: [] });
    expect(cfg.ignoredKeys).toEqual(expect.arrayContaining(['mcp.client_configs[0].client_id', 'mcp.client_configs[0].is_code_mode_client',
      'mcp.client_configs[0].tool_pricing', 'mcp.tool_groups']));
  });
});
