// The catalog over an owner's view: tools_to_execute and tools_to_auto_execute applied once per change, the filter
// headers' forms, the version bump, schema checks before the call. The owner here is a stand-in for the servers
// (the integration tests run the real connections).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { McpClientConfig } from '../../../src/config/types.js';
import type { McpOwner, McpView, RawToolResult } from '../../../src/mcp/connections.js';
import { headerList, McpToolCatalog } from '../../../src/mcp/tool-catalog.js';
import { PluginRunner } from '../../../src/plugins/runner.js';

const logger = pino({ level: 'silent' });
const schema = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] };
const tools = (...names: string[]) => names.map((tool) => ({ tool, description: `${tool}!`, inputSchema: schema }));

class Owner implements McpOwner {
  listeners: ((view: McpView) => void)[] = [];
  calls: [string, string, Record<string, unknown>][] = [];
  constructor(public current: McpView) {}
  view() { return this.current; }
  onChange(listener: (view: McpView) => void) { this.listeners.push(listener); }
  set(view: McpView) {
    this.current = view;
    for (const listener of this.listeners) listener(view);
  }
  async call(client: string, tool: string, args: Record<string, unknown>): Promise<RawToolResult> {
    this.calls.push([client, tool, args]);
    return { content: `${client}.${tool}`, isError: false };
  }
  async close() {}
}

const client = (name: string, toolsToExecute: string[] | null, toolsToAutoExecute: string[] | null = []): McpClientConfig => ({
  name, connectionType: 'http', command: null, args: [], env: {}, url: 'http://x', headers: {}, toolsToExecute, toolsToAutoExecute,
  ping: true, syncIntervalMs: 0 });
const view = (version: number, ...clients: [string, string[]][]): McpView => ({ version,
  clients: clients.map(([name, names]) => ({ name, state: 'connected', tools: tools(...names), lastError: null, reconnects: 0 })) });

function catalog(owner: Owner) {
  return new McpToolCatalog(owner, { agentDepth: 10, toolTimeoutMs: 1000,
    clients: [client('fs', ['read', 'write'], ['read']), client('web', null, null)] }, { plugins: new PluginRunner([], logger), logger });
}

describe('McpToolCatalog', () => {
  it('names tools <client>_<tool>, permits tools_to_execute, marks tools_to_auto_execute, and rebuilds on change', () => {
    const owner = new Owner(view(1, ['fs', ['read', 'write', 'delete']], ['web', ['search']]));
    const c = catalog(owner);
    expect(c.tools().map((t) => [t.name, t.client, t.tool, t.autoExecute])).toEqual([
      ['fs_read', 'fs', 'read', true], ['fs_write', 'fs', 'write', false], ['web_search', 'web', 'search', true]]);
    expect(c.get('fs_delete')).toBeUndefined();
    expect(c.exists('fs_delete')).toBe(true);
    // The same array while nothing changed: callers may cache what they derive from it by `version`.
    expect(c.tools()).toBe(c.tools());
    const before = c.version;
    owner.set(view(2, ['fs', ['read']], ['web', ['search', 'fetch']]));
    expect(c.version).toBeGreaterThan(before);
    expect(c.tools().map((t) => t.name)).toEqual(['fs_read', 'web_search', 'web_fetch']);
    // A server that is down: its tools are not offered, but stay known and permitted (a call gets 503, not 404).
    owner.set({ version: 3, clients: [{ ...view(3, ['fs', ['read']]).clients[0], state: 'disconnected' }, view(3, ['web', ['search']]).clients[0]] });
    expect(c.tools().map((t) => t.name)).toEqual(['web_search']);
    expect(c.get('fs_read')?.name).toBe('fs_read');
    expect(c.permits('fs_read', {})).toBe(true);
    expect(c.permits('fs_read', { includeClients: ['web'] })).toBe(false);
  });

  it('filters by the x-bf-mcp-include-* headers in each of their forms', () => {
    const c = catalog(new Owner(view(1, ['fs', ['read', 'write']], ['web', ['search', 'fetch']])));
    const names = (includeClients: string | undefined, includeTools: string | undefined) =>
      c.tools({ includeClients: headerList(includeClients), includeTools: headerList(includeTools) }).map((t) => t.name);
    expect(names('web', undefined)).toEqual(['web_search', 'web_fetch']);
    expect(names(undefined, 'fs-read, web-*')).toEqual(['fs_read', 'web_search', 'web_fetch']);
    expect(names(undefined, 'web_fetch')).toEqual(['web_fetch']);
    expect(names('fs', 'web-*')).toEqual([]);
    expect(names('', undefined)).toEqual([]);
  });

  it("filters by a virtual key's mcp_configs: its clients' listed tools, all with null, none for a client left out", () => {
    const c = catalog(new Owner(view(1, ['fs', ['read', 'write']], ['web', ['search', 'fetch']])));
    const keyTools = new Map<string, ReadonlySet<string> | null>([['fs', new Set(['write', 'nope'])], ['web', null]]);
    expect(c.tools({ keyTools }).map((t) => t.name)).toEqual(['fs_write', 'web_search', 'web_fetch']);
    expect(c.tools({ keyTools: new Map([['fs', new Set<string>()]]) })).toEqual([]);
    expect(c.tools({ keyTools: new Map() })).toEqual([]);
    // The key and the headers stack: a tool must pass both.
    expect(c.tools({ keyTools, includeClients: ['fs'] }).map((t) => t.name)).toEqual(['fs_write']);
    expect(c.permits('fs_read', { keyTools })).toBe(false);
    expect(c.permits('web_fetch', { keyTools })).toBe(true);
  });

  it('checks arguments against the input schema before calling the server, and rejects unknown and unpermitted tools', async () => {
    const owner = new Owner(view(1, ['fs', ['read', 'delete']]));
    const c = catalog(owner);
    const ctx = { requestId: 'r1' };
    expect(await c.execute('fs_read', { q: 'x' }, ctx)).toEqual({ content: 'fs.read', isError: false });
    await expect(c.execute('fs_read', { q: 1 }, ctx)).rejects.toMatchObject({ data: { code: 'MCP_INVALID_ARGUMENTS' } });
    await expect(c.execute('fs_delete', { q: 'x' }, ctx)).rejects.toMatchObject({ data: { code: 'MCP_TOOL_NOT_PERMITTED' } });
    await expect(c.execute('fs_nope', {}, ctx)).rejects.toMatchObject({ data: { code: 'MCP_UNKNOWN_TOOL' } });
    expect(owner.calls).toEqual([['fs', 'read', { q: 'x' }]]);
  });
});
