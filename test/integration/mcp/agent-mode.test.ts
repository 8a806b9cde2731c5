// Tools in requests and agent mode against real MCP servers, configured as users configure them: the SDK-written
// stdio server (`local`, some tools auto-executed) and the streamable HTTP one (`remote`, none), the fake OpenAI
// server scripted as the model, the official `openai` SDK as the client.
import type OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { httpClient, startStreamableServer, stdioClient, type FakeMcpServer } from '../../fakes/mcp/index.js';
import { collect, eventually, newClient, openaiProvider, startGatewayWith, type Harness } from '../harness.js';

let h: Harness<FakeOpenAI>;
let fake: FakeOpenAI;
let remote: FakeMcpServer;
let client: OpenAI;

beforeAll(async () => {
  remote = await startStreamableServer('remote');
  h = await startGatewayWith(await startFakeOpenAI(), (fakeUrl) => ({
    providers: { openai: openaiProvider(fakeUrl), mock: { mock_config: { latency_ms: 0, chunk_count: 2, chunk_interval_ms: 0 } } },
    client: { mcp_agent_depth: 2, mcp_tool_execution_timeout: 1 },
    mcp: { client_configs: [
      stdioClient('local', { tools_to_execute: ['echo', 'add', 'hang'], tools_to_auto_execute: ['add', 'hang'] }),
      httpClient('remote', remote.url, { tools_to_execute: ['echo'] }),
    ] },
  }));
  fake = h.fake;
  client = newClient(h.url);
  // The servers are listed once connected.
  await eventually(async () => (await (await fetch(`${h.url}/health`)).json()) as { mcp: { clients: { tools: number }[] } },
    (health) => health.mcp.clients.every((c) => c.tools > 0), 15_000);
}, 30_000);

afterAll(async () => {
  await h?.close();
  await remote?.close();
});

beforeEach(() => fake.reset());

const names = (body: unknown) => ((body as { tools?: { function: { name: string } }[] }).tools ?? []).map((t) => t.function.name);
const add = (id: string, a: number, b: number) => ({ id, name: 'local_add', arguments: JSON.stringify({ a, b }) });

describe('MCP tools from real servers', () => {
  it("gives the model every permitted tool with its server's input schema", async () => {
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const body = fake.requests[0].body as unknown as { tools: { function: { name: string; parameters: unknown } }[] };
    expect(names(body).sort()).toEqual(['local_add', 'local_echo', 'local_hang', 'remote_echo']);
    expect(body.tools.find((t) => t.function.name === 'local_add')!.function.parameters)
      .toMatchObject({ type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } });
  });

  it('narrows them by Bifrost headers', async () => {
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-bf-mcp-include-clients': 'remote' } });
    expect(names(fake.requests[0].body)).toEqual(['remote_echo']);
  });
});

describe('agent mode with real servers', () => {
  it('runs the stdio server\'s tool and answers with the final turn', async () => {
    fake.script('gpt-4o-mini', [{ toolCalls: [add('c1', 2, 3)] }, { content: 'It is 5.' }]);
    const { data, response } = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: '2+3?' }] }).withResponse();
    expect(data.choices[0].message.content).toBe('It is 5.');
    expect(response.headers.get('x-heimdall-mcp-tools-run')).toBe('local_add');
    expect(fake.requests[1].body!.messages!.at(-1)).toEqual({ role: 'tool', tool_call_id: 'c1', content: '5' });
  });

  it('streams the final turn', async () => {
    fake.script('gpt-4o-mini', [{ toolCalls: [add('s1', 20, 22)] }, { chunks: ['The answer ', 'is 42.'] }]);
    const chunks = await collect(await client.chat.completions.create({ model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: '20+22?' }], stream: true }));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('The answer is 42.');
    expect(fake.requests[1].body!.messages!.at(-1)).toMatchObject({ role: 'tool', content: '42' });
  });

  it('tells the model a tool that timed out (mcp_tool_execution_timeout), and goes on', async () => {
    fake.script('gpt-4o-mini', [{ toolCalls: [{ id: 'h1', name: 'local_hang', arguments: '{}' }] }, { content: 'The tool was slow.' }]);
    const data = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hang' }] });
    expect(data.choices[0].message.content).toBe('The tool was slow.');
    expect(String(fake.requests[1].body!.messages!.at(-1)!.content)).toMatch(/^Error: .*(time|timed out)/i);
  });

  it('stops after mcp_agent_depth rounds of tools', async () => {
    fake.script('gpt-4o-mini', { toolCalls: [add('d', 1, 1)] });
    const data = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'loop' }] });
    expect(fake.requests).toHaveLength(3);
    expect(data.choices[0].finish_reason).toBe('tool_calls');
  });

  it('hands a turn with a tool that may not run alone back to the client, none of its calls run', async () => {
    fake.script('gpt-4o-mini', [{ toolCalls: [add('m1', 1, 2), { id: 'm2', name: 'remote_echo', arguments: '{"text":"x"}' }] }]);
    const data = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'mixed' }] });
    expect(fake.requests).toHaveLength(1);
    expect(data.choices[0].message.tool_calls!.map((call) => call.id)).toEqual(['m1', 'm2']);
    // The client runs them itself, the MCP ones through the execute endpoint.
    const executed = await fetch(`${h.url}/v1/mcp/tool/execute`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(data.choices[0].message.tool_calls![1]) });
    expect(await executed.json()).toEqual({ role: 'tool', tool_call_id: 'm2', content: 'x' });
  });
});

describe('the mock provider as a tool-calling model (mock/tool-call)', () => {
  const ask = { model: 'mock/tool-call', messages: [{ role: 'user' as const, content: 'Use local_add with {"a":2,"b":3}' }] };

  it('calls the tool the message names, with its JSON, and answers with the result', async () => {
    const { data, response } = await client.chat.completions.create(ask).withResponse();
    expect(data.choices[0].message.content).toBe('Tool results: 5');
    expect(response.headers.get('x-heimdall-mcp-tools-run')).toBe('local_add');
    expect(data.usage!.total_tokens).toBeGreaterThan(0);
  });

  it('streamed', async () => {
    const chunks = await collect(await client.chat.completions.create({ ...ask, stream: true }));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Tool results: 5');
  });

  it('hands a call of a tool that may not run alone to the client', async () => {
    const data = await client.chat.completions.create({ ...ask, messages: [{ role: 'user', content: 'Use local_echo with {"text":"hi"}' }] });
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    expect(data.choices[0].message.tool_calls![0]).toMatchObject({ function: { name: 'local_echo', arguments: '{"text":"hi"}' } });
  });
});
