// A virtual key's `mcp_configs` through the real gateway: the tools the provider fake is given for each key (after
// the config's tools_to_execute and the request's x-bf-mcp-include-* headers), /v1/mcp/tool/execute refusing a tool
// the key may not use with 403, and /mcp listing and calling only the key's tools for the SDK's own client.
// One streamable HTTP test server serves two MCP clients of the gateway (it is stateless). Built JS (dist/).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../../dist/src/gateway.js';
import { startStreamableServer, httpClient, type FakeMcpServer } from '../../fakes/mcp/index.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { eventually, expectEnvelope, openaiProvider, postChat, user } from '../harness.js';

const ECHO_ONLY = 'sk-bf-mcp-echo-only-0001';
const WIDE = 'sk-bf-mcp-wide-key-0002';
const NO_MCP = 'sk-bf-mcp-no-configs-0003';

let mcpServer: FakeMcpServer;
let fake: FakeOpenAI;
let gateway: Gateway;
let url: string;

const grant = [{ provider: 'openai', allowed_models: ['*'] }];

beforeAll(async () => {
  [mcpServer, fake] = await Promise.all([startStreamableServer('shared'), startFakeOpenAI()]);
  const config = await loadConfig({
    raw: {
      providers: { openai: openaiProvider(fake.url) },
      mcp: { client_configs: [
        httpClient('alpha', mcpServer.url, { tools_to_execute: ['echo', 'add'], tools_to_auto_execute: ['echo', 'add'] }),
        httpClient('beta', mcpServer.url, { client_id: 'beta-id', tools_to_execute: ['echo', 'add', 'stats'] }),
      ] },
      governance: { virtual_keys: [
        { id: 'vk-echo', name: 'echo only', value: ECHO_ONLY, provider_configs: grant,
          mcp_configs: [{ mcp_client_name: 'alpha', tools_to_execute: ['echo'] }] },
        // `*` on alpha still means alpha's tools_to_execute; beta named by its client_id.
        { id: 'vk-wide', name: 'wide', value: WIDE, provider_configs: grant,
          mcp_configs: [{ mcp_client_name: 'alpha', tools_to_execute: ['*'] }, { mcp_client_id: 'beta-id', tools_to_execute: ['add', 'crash'] }] },
        { id: 'vk-none', name: 'no MCP', value: NO_MCP, provider_configs: grant },
      ] },
    },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
  url = `http://127.0.0.1:${gateway.port}`;
  await eventually(async () => (await (await fetch(`${url}/health`)).json() as { mcp: { clients: { state: string }[] } }).mcp.clients,
    (clients) => clients.every((c) => c.state === 'connected'), 30_000, 100);
}, 60_000);

afterAll(async () => {
  await gateway?.close(500);
  await Promise.all([mcpServer?.close(), fake?.close()]);
});

beforeEach(() => fake.reset());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** The tool names the provider fake was given for one chat request. */
async function toolsGiven(headers: Record<string, string>): Promise<string[]> {
  fake.reset();
  const response = await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('hi') }, headers);
  expect(response.status).toBe(200);
  const body = fake.requests[0].body as { tools?: { function: { name: string } }[] };
  return (body.tools ?? []).map((tool) => tool.function.name);
}

describe('MCP tools per virtual key in chat requests', () => {
  it("gives the provider only the key's tools; a request without a key gets every permitted tool", async () => {
    expect(await toolsGiven({})).toEqual(['alpha_echo', 'alpha_add', 'beta_echo', 'beta_add', 'beta_stats']);
    expect(await toolsGiven(bearer(ECHO_ONLY))).toEqual(['alpha_echo']);
    // `crash` is in the key's list but not in beta's tools_to_execute: the config's filter comes first.
    expect(await toolsGiven(bearer(WIDE))).toEqual(['alpha_echo', 'alpha_add', 'beta_add']);
    // A key without mcp_configs gets none (Bifrost's rule), sent in any of the key headers.
    expect(await toolsGiven({ 'x-bf-vk': NO_MCP })).toEqual([]);
    expect(fake.requests[0].body).not.toHaveProperty('tools');
  });

  it('stacks the x-bf-mcp-include-* headers and the key: a tool must pass both', async () => {
    expect(await toolsGiven({ ...bearer(WIDE), 'x-bf-mcp-include-clients': 'beta' })).toEqual(['beta_add']);
    expect(await toolsGiven({ ...bearer(WIDE), 'x-bf-mcp-include-tools': 'alpha-*,beta-stats' })).toEqual(['alpha_echo', 'alpha_add']);
    // The headers cannot widen what the key allows.
    expect(await toolsGiven({ ...bearer(ECHO_ONLY), 'x-bf-mcp-include-tools': 'alpha-add' })).toEqual([]);
  });
});

const toolCall = (name: string, args: string) => ({ id: 'call_1', type: 'function', function: { name, arguments: args } });
const execute = async (name: string, args: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${url}/v1/mcp/tool/execute`, { method: 'POST',
    headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(toolCall(name, args)) });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
};

describe('agent mode with a virtual key', () => {
  const addCall = { id: 'call_add', name: 'alpha_add', arguments: '{"a":2,"b":3}' };

  it("runs a tool the key may use, and hands one it may not back to the client unrun", async () => {
    fake.script('gpt-4o-mini', [{ toolCalls: [addCall] }, { content: 'five' }]);
    const wide = await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('2+3?') }, bearer(WIDE));
    expect(((await wide.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe('five');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1].body!.messages!.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_add', content: '5' });

    fake.reset();
    // A model may name a tool it was not given: for this key alpha_add is not the gateway's to run.
    fake.script('gpt-4o-mini', [{ toolCalls: [addCall] }, { content: 'never' }]);
    const narrow = await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('2+3?') }, bearer(ECHO_ONLY));
    const body = (await narrow.json()) as { choices: { message: { tool_calls: { id: string }[] } }[] };
    expect(body.choices[0].message.tool_calls.map((call) => call.id)).toEqual(['call_add']);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('POST /v1/mcp/tool/execute with a virtual key', () => {
  it("runs the key's tools and refuses the others with 403", async () => {
    expect(await execute('alpha_echo', '{"text":"hi"}', bearer(ECHO_ONLY)))
      .toEqual({ status: 200, body: { role: 'tool', tool_call_id: 'call_1', content: 'hi' } });
    for (const [name, key] of [['alpha_add', ECHO_ONLY], ['beta_echo', ECHO_ONLY], ['beta_echo', WIDE], ['alpha_echo', NO_MCP]] as const) {
      const refused = await execute(name, '{"text":"hi","a":1,"b":2}', bearer(key));
      expect(refused.status, `${name} with ${key}`).toBe(403);
      expect(expectEnvelope(refused.body, 'mcp_tool_not_permitted').message).toMatch(/^virtual key 'vk-[a-z]+' may not use MCP tool/);
    }
    expect((await execute('beta_add', '{"a":2,"b":3}', bearer(WIDE))).body.content).toBe('5');
    // Without a key (none is required here), every permitted tool runs.
    expect((await execute('beta_echo', '{"text":"open"}')).status).toBe(200);
  });

  it('keeps 404 for an unknown tool and 401 for a key that is not one', async () => {
    expect((await execute('alpha_nope', '{}', bearer(ECHO_ONLY))).status).toBe(404);
    const invalid = await execute('alpha_echo', '{"text":"hi"}', { 'x-bf-vk': 'sk-bf-not-a-key-of-ours' });
    expect(invalid.status).toBe(401);
    expectEnvelope(invalid.body, 'virtual_key_invalid');
  });
});

describe('/mcp with a virtual key', () => {
  async function connect(headers: Record<string, string>): Promise<Client> {
    const client = new Client({ name: 'vk-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
    return client;
  }

  it("lists and calls only the key's tools", async () => {
    const client = await connect(bearer(ECHO_ONLY));
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['alpha_echo']);
      expect(await client.callTool({ name: 'alpha_echo', arguments: { text: 'via mcp' } }))
        .toMatchObject({ content: [{ type: 'text', text: 'via mcp' }], isError: false });
      await expect(client.callTool({ name: 'alpha_add', arguments: { a: 1, b: 2 } })).rejects.toThrow(/virtual key 'vk-echo' may not use/);
    } finally {
      await client.close();
    }
    const open = await connect({});
    try {
      expect((await open.listTools()).tools).toHaveLength(5);
    } finally {
      await open.close();
    }
  });

  it('refuses a key that is not one before the MCP session starts', async () => {
    const response = await fetch(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', authorization: 'Bearer sk-bf-not-a-key-of-ours' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(response.status).toBe(401);
    expectEnvelope(await response.json(), 'virtual_key_invalid');
  });
});
