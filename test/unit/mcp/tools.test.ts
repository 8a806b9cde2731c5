import { describe, expect, it } from 'vitest';
import type { McpCatalog, McpTool, McpToolFilter } from '../../../src/mcp/catalog.js';
import { addedTools, McpTools } from '../../../src/mcp/tools.js';

const tool = (client: string, name: string, autoExecute = false): McpTool => ({
  name: `${client}_${name}`, client, tool: name, description: `${name} it`, inputSchema: { type: 'object' }, autoExecute,
});

/** A catalog that records the filters it was asked with. */
function catalogOf(tools: McpTool[]): McpCatalog & { asked: McpToolFilter[]; version: number } {
  const asked: McpToolFilter[] = [];
  return {
    version: 1,
    asked,
    tools(filter) {
      asked.push(filter ?? {});
      const byKey = filter?.keyTools;
      return tools.filter((t) => (!filter?.includeClients || filter.includeClients.includes(t.client)) &&
        (!filter?.includeTools || filter.includeTools.includes(t.name)) &&
        (!byKey || (byKey.has(t.client) && (byKey.get(t.client) === null || byKey.get(t.client)!.has(t.tool)))));
    },
    get: (name) => tools.find((t) => t.name === name),
    execute: () => Promise.reject(new Error('not here')),
  };
}

describe('McpTools.forRequest', () => {
  it("builds each filter's tool set once per catalog version, and its text once", () => {
    const catalog = catalogOf([tool('a', 'one'), tool('b', 'two', true)]);
    const tools = new McpTools(catalog);
    const first = tools.forRequest({})!;
    expect(tools.forRequest({})).toBe(first);
    expect(catalog.asked).toHaveLength(1);
    expect(first.anyAuto).toBe(true);
    expect(first.text('chat')).toBe(first.text('chat'));
    catalog.version = 2;
    expect(tools.forRequest({})).not.toBe(first);
    expect(catalog.asked).toHaveLength(2);
  });

  it('reads the include headers as trimmed comma-separated lists; blank is no filter', () => {
    const catalog = catalogOf([tool('a', 'one'), tool('b', 'two', true)]);
    const tools = new McpTools(catalog);
    const set = tools.forRequest({ 'x-bf-mcp-include-clients': ' a , ,b', 'x-bf-mcp-include-tools': 'a_one' });
    expect(catalog.asked[0]).toEqual({ includeClients: ['a', 'b'], includeTools: ['a_one'], keyTools: null });
    expect(set!.tools.map((t) => t.name)).toEqual(['a_one']);
    expect(set!.anyAuto).toBe(false);
    tools.forRequest({ 'x-bf-mcp-include-clients': ' ' });
    expect(catalog.asked[1]).toEqual({ includeClients: null, includeTools: null, keyTools: null });
    expect(tools.forRequest({ 'x-bf-mcp-include-clients': 'nobody' })).toBeNull();
  });

  it("starts its cache over past 64 filters, as the headers are the client's to vary", () => {
    const catalog = catalogOf([tool('a', 'one')]);
    const tools = new McpTools(catalog);
    for (let i = 0; i < 100; i++) tools.forRequest({ 'x-bf-mcp-include-tools': `a_one,x${i}` });
    const before = catalog.asked.length;
    tools.forRequest({ 'x-bf-mcp-include-tools': 'a_one,x99' });
    expect(catalog.asked.length).toBe(before);
    tools.forRequest({ 'x-bf-mcp-include-tools': 'a_one,x0' });
    expect(catalog.asked.length).toBe(before + 1);
  });
});

describe('McpTools.forRequest with a virtual key', () => {
  const key = (id: string, tools: [string, string[] | null][]) =>
    ({ id, mcpTools: new Map(tools.map(([client, names]) => [client, names && new Set(names)])) });

  it("narrows the tools to the key's mcp_configs, after the headers, and builds each key's set once per version", () => {
    const catalog = catalogOf([tool('a', 'one'), tool('a', 'two'), tool('b', 'three')]);
    const tools = new McpTools(catalog);
    const only = key('k1', [['a', ['one']]]);
    const all = key('k2', [['a', null], ['b', []]]);
    const first = tools.forRequest({}, only)!;
    expect(first.tools.map((t) => t.name)).toEqual(['a_one']);
    expect(tools.forRequest({}, only)).toBe(first);
    expect(tools.forRequest({}, all)!.tools.map((t) => t.name)).toEqual(['a_one', 'a_two']);
    expect(tools.forRequest({}, key('k3', []))).toBeNull();
    // The same headers with and without a key are different filters.
    expect(tools.forRequest({ 'x-bf-mcp-include-clients': 'a' })!.tools.map((t) => t.name)).toEqual(['a_one', 'a_two']);
    expect(tools.forRequest({ 'x-bf-mcp-include-clients': 'a' }, only)!.tools.map((t) => t.name)).toEqual(['a_one']);
    expect(tools.forRequest({ 'x-bf-mcp-include-tools': 'a_two' }, only)).toBeNull();
    const asked = catalog.asked.length;
    expect(tools.forRequest({}, only)).toBe(first);
    expect(tools.forRequest({ 'x-bf-mcp-include-clients': 'a' }, only)!.tools.map((t) => t.name)).toEqual(['a_one']);
    expect(catalog.asked.length).toBe(asked);
    catalog.version = 2;
    expect(tools.forRequest({}, only)).not.toBe(first);
  });

  it("keeps each key's set however many header filters clients send", () => {
    const catalog = catalogOf([tool('a', 'one')]);
    const tools = new McpTools(catalog);
    const only = key('k1', [['a', ['one']]]);
    const first = tools.forRequest({}, only);
    for (let i = 0; i < 100; i++) tools.forRequest({ 'x-bf-mcp-include-tools': `a_one,x${i}` }, only);
    expect(tools.forRequest({}, only)).toBe(first);
  });
});

describe('addedTools', () => {
  const set = new McpTools(catalogOf([tool('a', 'one'), tool('b', 'two')])).forRequest({})!;

  it('writes every tool in the shape asked for', () => {
    expect(JSON.parse(addedTools(set, 'chat', undefined)!.text)).toEqual([
      { type: 'function', function: { name: 'a_one', description: 'one it', parameters: { type: 'object' } } },
      { type: 'function', function: { name: 'b_two', description: 'two it', parameters: { type: 'object' } } }]);
    expect(JSON.parse(addedTools(set, 'responses', null)!.text)[0])
      .toEqual({ type: 'function', name: 'a_one', description: 'one it', parameters: { type: 'object' } });
    expect(JSON.parse(addedTools(set, 'messages', undefined)!.text)[1])
      .toEqual({ name: 'b_two', description: 'two it', input_schema: { type: 'object' } });
  });

  it('leaves out a tool the request sent under the same name, in any shape, and says which names were its own', () => {
    const one = addedTools(set, 'chat', [{ type: 'function', function: { name: 'b_two' } }, { type: 'web_search' }])!;
    expect(JSON.parse(one.text).map((t: { function: { name: string } }) => t.function.name)).toEqual(['a_one']);
    expect(one.theirs.has('b_two')).toBe(true);
    expect(addedTools(set, 'messages', [{ name: 'a_one' }, { name: 'b_two' }])).toBeNull();
  });

  it('adds nothing to a `tools` that is not an array, for the provider to refuse', () => {
    expect(addedTools(set, 'chat', 'nope')).toBeNull();
  });
});
