// The gateway with real MCP servers behind it (the SDK-written test servers over stdio, streamable HTTP and SSE):
// the execute endpoint with the tool-call shapes the openai SDK produces, its bad input, the plugin tool hooks, /mcp
// through the SDK's own client, /health and /metrics. Built JS (dist/) as everywhere in test/integration.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../../dist/src/gateway.js';
import { httpClient, sseClient, startSseServer, startStreamableServer, stdioClient, type FakeMcpServer } from '../../fakes/mcp/index.js';
import { eventually, expectEnvelope } from '../harness.js';

const TOOL_HOOKS = new URL('../../fakes/plugins/tool-hooks.ts', import.meta.url).pathname;

let gateway: Gateway;
let url: string;
let httpServer: FakeMcpServer;
let sseServer: FakeMcpServer;

async function start(raw: Record<string, unknown>, env: Record<string, string> = {}): Promise<Gateway> {
  const config = await loadConfig({ raw, env, overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' } });
  return startGateway(config, { logger: pino({ level: 'silent' }) });
}

beforeAll(async () => {
  [httpServer, sseServer] = await Promise.all([startStreamableServer('remote'), startSseServer('legacy')]);
  gateway = await start({
    providers: { mock: {} },
    plugins: ['metrics', TOOL_HOOKS],
    client: { mcp_tool_execution_timeout: 1 },
    mcp: { client_configs: [
      stdioClient('local', { tools_to_execute: ['echo', 'add', 'fail', 'hang', 'large', 'stats'], tools_to_auto_execute: ['echo'] }),
      httpClient('remote', httpServer.url, { headers: { authorization: 'env.MCP_TEST_TOKEN' } }),
      sseClient('legacy', sseServer.url),
    ] },
  }, { MCP_TEST_TOKEN: 'Bearer secret-token' });
  url = `http://127.0.0.1:${gateway.port}`;
  // Start-up waits 10 s for the servers; on a loaded machine the stdio one (spawned through tsx) may take longer.
  await eventually(async () => (await (await fetch(`${url}/health`)).json() as { mcp: { clients: { state: string }[] } }).mcp.clients,
    (clients) => clients.every((c) => c.state === 'connected'), 60_000, 200);
}, 90_000);

afterAll(async () => {
  await gateway?.close(500);
  await Promise.all([httpServer?.close(), sseServer?.close()]);
});

const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: await response.json() as Record<string, unknown> };
};

/** A tool call exactly as the openai SDK types it in `choices[0].message.tool_calls`. */
const toolCall = (name: string, args: string, id = 'call_abc123'): OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall =>
  ({ id, type: 'function', function: { name, arguments: args } });

describe('POST /v1/mcp/tool/execute', () => {
  it('runs a tool of each transport and answers the role: tool message', async () => {
    for (const client of ['local', 'remote', 'legacy']) {
      const { status, body } = await post('/v1/mcp/tool/execute', toolCall(`${client}_echo`, '{"text":"hello"}'));
      expect(status, client).toBe(200);
      expect(body).toEqual({ role: 'tool', tool_call_id: 'call_abc123', content: 'hello' });
    }
    // The HTTP server got the header from env.MCP_TEST_TOKEN.
    expect(httpServer.seen.headers.authorization).toBe('Bearer secret-token');
  });

  it('takes a Responses function_call item with ?format=responses', async () => {
    const item: OpenAI.Responses.ResponseFunctionToolCall = { type: 'function_call', call_id: 'call_1', name: 'local_add', arguments: '{"a":2,"b":3}' };
    const { status, body } = await post('/v1/mcp/tool/execute?format=responses', item);
    expect(status).toBe(200);
    expect(body).toEqual({ type: 'function_call_output', call_id: 'call_1', output: '5' });
  });

  it('answers a tool that reports an error with a tool message carrying it, not a 5xx', async () => {
    const { status, headers, body } = await post('/v1/mcp/tool/execute', toolCall('local_fail', '{}'));
    expect(status).toBe(200);
    expect(headers.get('x-heimdall-tool-error')).toBe('true');
    expect(body).toEqual({ role: 'tool', tool_call_id: 'call_abc123', content: 'the tool failed on purpose' });
  });

  it('returns large output whole', async () => {
    const { status, body } = await post('/v1/mcp/tool/execute', toolCall('local_large', '{"bytes":1000000}'));
    expect(status).toBe(200);
    expect((body.content as string).length).toBe(1_000_000);
  });

  it('answers 504 for a tool past its timeout, and cancels the call on the server', async () => {
    const before = JSON.parse((await post('/v1/mcp/tool/execute', toolCall('local_stats', '{}'))).body.content as string) as { cancelled: number };
    const started = performance.now();
    const { status, body } = await post('/v1/mcp/tool/execute', toolCall('local_hang', '{}'));
    expect(status).toBe(504);
    expectEnvelope(body, 'mcp_tool_timeout');
    expect(performance.now() - started).toBeLessThan(3_000);
    await eventually(async () => JSON.parse((await post('/v1/mcp/tool/execute', toolCall('local_stats', '{}'))).body.content as string) as { cancelled: number },
      (stats) => stats.cancelled === before.cancelled + 1);
  });

  it('refuses bad input of every kind with the right status and code', async () => {
    const cases: [string, unknown, number, string, Record<string, string>?][] = [
      ['/v1/mcp/tool/execute', toolCall('local_nope', '{}'), 404, 'mcp_unknown_tool'],
      ['/v1/mcp/tool/execute', toolCall('nobody_echo', '{}'), 404, 'mcp_unknown_tool'],
      // `crash` is served by the stdio server but not in its tools_to_execute.
      ['/v1/mcp/tool/execute', toolCall('local_crash', '{}'), 403, 'mcp_tool_not_permitted'],
      ['/v1/mcp/tool/execute', toolCall('local_echo', '{"text":'), 400, 'mcp_invalid_arguments'],
      ['/v1/mcp/tool/execute', toolCall('local_echo', '[1]'), 400, 'mcp_invalid_arguments'],
      ['/v1/mcp/tool/execute', toolCall('local_echo', '{"text":5}'), 400, 'mcp_invalid_arguments'],
      ['/v1/mcp/tool/execute', toolCall('local_add', '{"a":1}'), 400, 'mcp_invalid_arguments'],
      ['/v1/mcp/tool/execute', '{not json', 400, 'invalid_json'],
      ['/v1/mcp/tool/execute', [1, 2], 400, 'invalid_request'],
      ['/v1/mcp/tool/execute', { id: 'x', type: 'function' }, 400, 'invalid_request'],
      ['/v1/mcp/tool/execute', { id: 'x', function: { arguments: '{}' } }, 400, 'invalid_request'],
      ['/v1/mcp/tool/execute', { id: 7, function: { name: 'local_echo', arguments: '{"text":"a"}' } }, 400, 'invalid_request'],
      ['/v1/mcp/tool/execute?format=responses', toolCall('local_echo', '{}'), 400, 'invalid_request'],
      ['/v1/mcp/tool/execute?format=xml', toolCall('local_echo', '{}'), 400, 'invalid_request'],
      // The request's own filter headers: a tool they leave out may not run.
      ['/v1/mcp/tool/execute', toolCall('local_echo', '{"text":"a"}'), 403, 'mcp_tool_not_permitted', { 'x-bf-mcp-include-clients': 'remote' }],
      ['/v1/mcp/tool/execute', toolCall('local_echo', '{"text":"a"}'), 403, 'mcp_tool_not_permitted', { 'x-bf-mcp-include-tools': 'local-add' }],
    ];
    for (const [path, body, status, code, headers] of cases) {
      const answer = await post(path, body, headers);
      expect([answer.status, (answer.body.error as { code?: string } | undefined)?.code], JSON.stringify(body)).toEqual([status, code]);
      expectEnvelope(answer.body, code);
    }
    // The same filters let through what they name: Bifrost's `client-tool` and `client-*` forms.
    for (const filter of ['local-echo', 'local-*', 'local_echo']) {
      expect((await post('/v1/mcp/tool/execute', toolCall('local_echo', '{"text":"a"}'), { 'x-bf-mcp-include-tools': filter })).status).toBe(200);
    }
  });

  it('runs the plugin tool hooks: answer in place, refuse, change arguments, change the result', async () => {
    const calls = ((globalThis as { __toolHookCalls?: string[] }).__toolHookCalls ??= []);
    calls.length = 0;
    expect((await post('/v1/mcp/tool/execute', toolCall('local_echo', '{"text":"cached"}'))).body.content).toBe('from the plugin');
    const refused = await post('/v1/mcp/tool/execute', toolCall('local_echo', '{"text":"forbidden"}'));
    expect(refused.status).toBe(403);
    expectEnvelope(refused.body, 'plugin_rejected');
    expect((await post('/v1/mcp/tool/execute', toolCall('remote_echo', '{"text":"rewrite"}'))).body.content).toBe('rewritten');
    expect((await post('/v1/mcp/tool/execute', toolCall('legacy_echo', '{"text":"shout"}'))).body.content).toBe('SHOUT');
    expect(calls).toEqual(['pre local_echo local echo', 'post local_echo', 'pre local_echo local echo',
      'pre remote_echo remote echo', 'post remote_echo', 'pre legacy_echo legacy echo', 'post legacy_echo']);
  });
});

describe('/mcp: Heimdall as an MCP server', () => {
  const connect = async (headers: Record<string, string> = {}) => {
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
    return client;
  };

  it('lists the permitted tools of every server under their prefixed names, and calls them', async () => {
    const client = await connect();
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(['local_echo', 'remote_echo', 'legacy_echo', 'remote_crash']));
      expect(names).not.toContain('local_crash');
      const echo = (await client.listTools()).tools.find((tool) => tool.name === 'local_echo');
      expect(echo?.inputSchema).toMatchObject({ type: 'object', properties: { text: { type: 'string' } }, required: ['text'] });
      expect(await client.callTool({ name: 'remote_add', arguments: { a: 1, b: 2 } })).toMatchObject({ content: [{ type: 'text', text: '3' }], isError: false });
      expect(await client.callTool({ name: 'local_fail', arguments: {} })).toMatchObject({ isError: true, content: [{ text: 'the tool failed on purpose' }] });
      await expect(client.callTool({ name: 'local_crash', arguments: {} })).rejects.toThrow(/may not run/);
      await expect(client.callTool({ name: 'local_add', arguments: { a: 'x' } })).rejects.toThrow(/input schema/);
    } finally {
      await client.close();
    }
  });

  it('applies the x-bf-mcp-include-* headers of the connection', async () => {
    const client = await connect({ 'x-bf-mcp-include-clients': 'legacy' });
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names.length).toBeGreaterThan(0);
      expect(names.every((name) => name.startsWith('legacy_'))).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe('health and metrics', () => {
  it('/health shows each MCP server connected with its tools', async () => {
    const health = await (await fetch(`${url}/health`)).json() as { mcp: { clients: { name: string; state: string; tools: number }[] } };
    expect(health.mcp.clients.map((c) => [c.name, c.state])).toEqual([['local', 'connected'], ['remote', 'connected'], ['legacy', 'connected']]);
    expect(health.mcp.clients.every((c) => c.tools >= 8)).toBe(true);
  });

  it('/metrics counts tool calls by client, tool and outcome, their latency, and the connected clients', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^heimdall_mcp_tool_calls_total\{client="local",tool="echo",outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^heimdall_mcp_tool_calls_total\{client="local",tool="fail",outcome="tool_error"\} [1-9]/m);
    expect(text).toMatch(/^heimdall_mcp_tool_calls_total\{client="local",tool="hang",outcome="mcp_tool_timeout"\} 1$/m);
    expect(text).toMatch(/^heimdall_mcp_tool_calls_total\{client="local",tool="crash",outcome="mcp_tool_not_permitted"\} [1-9]/m);
    expect(text).toMatch(/^heimdall_mcp_tool_duration_seconds_count\{client="remote",tool="echo"\} [1-9]/m);
    for (const client of ['local', 'remote', 'legacy']) expect(text).toContain(`heimdall_mcp_client_connected{client="${client}"} 1`);
  });
});

describe('a gateway without MCP', () => {
  it('answers the MCP routes with mcp_not_configured and shows no mcp in /health', async () => {
    const plain = await start({ providers: { mock: {} } });
    try {
      const base = `http://127.0.0.1:${plain.port}`;
      const answer = await fetch(`${base}/v1/mcp/tool/execute`, { method: 'POST', body: JSON.stringify(toolCall('a_b', '{}')) });
      expect(answer.status).toBe(404);
      expectEnvelope(await answer.json(), 'mcp_not_configured');
      expect(await (await fetch(`${base}/health`)).json()).not.toHaveProperty('mcp');
      expect(await (await fetch(`${base}/metrics`)).text()).not.toContain('heimdall_mcp_');
    } finally {
      await plain.close(500);
    }
  });
});
