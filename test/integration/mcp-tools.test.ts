// MCP tools in requests through the real gateway, with the fake OpenAI server upstream and a catalog of tools in
// memory (test/fakes/mcp-catalog.ts): which tools the provider is given, the header filters, fallbacks, and the agent
// loop (a scripted model that calls a tool, then answers), streamed or not, its depth limit and mixed calls.

import type OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { FakeCatalog, type FakeTool } from '../fakes/mcp-catalog.js';
import { collect, newClient, openaiProvider, postChat, user } from './harness.js';

let fake: FakeOpenAI;
let catalog: FakeCatalog;
let gateway: Gateway;
let url: string;
let client: OpenAI;

const WEATHER_SCHEMA = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

const TOOLS: readonly FakeTool[] = [
  { client: 'weather', tool: 'forecast', inputSchema: WEATHER_SCHEMA, autoExecute: true,
    run: (args) => ({ content: `sunny in ${String(args.city)}`, isError: false }) },
  { client: 'weather', tool: 'alerts', autoExecute: true, run: () => ({ content: 'the alerts service is down', isError: true }) },
  { client: 'files', tool: 'delete', autoExecute: false },
];

/** Tools as the fake's chat request carried them: their names. */
const toolNames = (body: unknown): string[] =>
  ((body as { tools?: { function: { name: string } }[] }).tools ?? []).map((tool) => tool.function.name);

beforeAll(async () => {
  fake = await startFakeOpenAI();
  catalog = new FakeCatalog(TOOLS);
  const config = await loadConfig({
    raw: { providers: {
      openai: openaiProvider(fake.url),
      backup: openaiProvider(fake.url, { custom_provider_config: { base_provider_type: 'openai' } }),
    } },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  // A catalog object the test can swap tools in: the gateway holds this one for its life.
  gateway = await startGateway(config, { logger: pino({ level: 'silent' }), mcpCatalog: catalog, mcpAgentDepth: 3 });
  url = `http://127.0.0.1:${gateway.port}`;
  client = newClient(url);
});

afterAll(async () => {
  await gateway?.close(500);
  await fake?.close();
});

beforeEach(() => {
  fake.reset();
  catalog.calls.length = 0;
  catalog.peakRunning = 0;
});

describe('MCP tools in chat requests', () => {
  it('gives the provider every permitted tool in its format, named <client>_<tool>', async () => {
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('hi') });
    const body = fake.requests[0].body as { tools: unknown[] };
    expect(toolNames(body)).toEqual(['weather_forecast', 'weather_alerts', 'files_delete']);
    expect(body.tools[0]).toEqual({ type: 'function', function: { name: 'weather_forecast', description: 'forecast of weather',
      parameters: WEATHER_SCHEMA } });
  });

  it("keeps the client's own tools first and does not add an MCP tool of a name the client sent", async () => {
    const own = { type: 'function' as const, function: { name: 'weather_forecast', description: 'mine', parameters: { type: 'object' } } };
    const other = { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object' } } };
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('hi'), tools: [own, other] });
    const body = fake.requests[0].body as { tools: { function: { description?: string } }[] };
    expect(toolNames(body)).toEqual(['weather_forecast', 'lookup', 'weather_alerts', 'files_delete']);
    expect(body.tools[0].function.description).toBe('mine');
  });

  it('narrows the tools by x-bf-mcp-include-clients and x-bf-mcp-include-tools', async () => {
    await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('hi') }, { 'x-bf-mcp-include-clients': 'files' });
    expect(toolNames(fake.requests[0].body)).toEqual(['files_delete']);
    await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('hi') },
      { 'x-bf-mcp-include-clients': 'weather, files', 'x-bf-mcp-include-tools': 'weather_alerts' });
    expect(toolNames(fake.requests[1].body)).toEqual(['weather_alerts']);
    // A filter that leaves nothing: no `tools` at all, rather than an empty list some providers refuse.
    await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('hi') }, { 'x-bf-mcp-include-clients': 'nobody' });
    expect(fake.requests[2].body).not.toHaveProperty('tools');
  });

  it('gives the tools to a fallback too', async () => {
    fake.script('gpt-4o-mini', { error: { status: 500 } });
    const response = await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('hi'), fallbacks: ['backup/gpt-4o'] },
      { 'x-bf-mcp-include-clients': 'files' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
    expect(fake.requests.map((request) => toolNames(request.body))).toEqual([['files_delete'], ['files_delete']]);
  });

  it('follows the catalog when its tool list changes', async () => {
    try {
      catalog.setTools([{ client: 'math', tool: 'add' }]);
      await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('hi') });
      expect(toolNames(fake.requests[0].body)).toEqual(['math_add']);
    } finally {
      catalog.setTools(TOOLS);
    }
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('hi') });
    expect(toolNames(fake.requests[1].body)).toEqual(['weather_forecast', 'weather_alerts', 'files_delete']);
  });
});

describe('agent mode', () => {
  const forecastCall = (id: string, city: string) => ({ id, name: 'weather_forecast', arguments: JSON.stringify({ city }) });

  it('runs an auto-executed tool, gives the model its result, and answers with the final turn', async () => {
    fake.script('gpt-4o-mini', [
      { toolCalls: [forecastCall('call_1', 'Oslo')], usage: { prompt_tokens: 10, completion_tokens: 5 } },
      { content: 'It is sunny in Oslo.', usage: { prompt_tokens: 30, completion_tokens: 7 } },
    ]);
    const { data, response } = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: user('weather in Oslo?') }).withResponse();
    expect(data.choices[0].message.content).toBe('It is sunny in Oslo.');
    expect(data.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 });
    expect(response.headers.get('x-heimdall-mcp-tools-run')).toBe('weather_forecast');
    expect(response.headers.get('x-heimdall-mcp-agent-turns')).toBe('2');
    expect(catalog.calls).toEqual([{ name: 'weather_forecast', args: { city: 'Oslo' }, requestId: response.headers.get('x-request-id') }]);

    expect(fake.requests).toHaveLength(2);
    const second = fake.requests[1].body!.messages!;
    expect(second.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
        function: { name: 'weather_forecast', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny in Oslo' },
    ]);
    // The turns the gateway added, for a client that keeps the conversation.
    expect((data as unknown as { heimdall_mcp: unknown }).heimdall_mcp).toEqual({ tools_run: ['weather_forecast'], turns: 2,
      messages: second.slice(1) });
  });

  it('tells the model a tool that failed, and goes on', async () => {
    fake.script('gpt-4o-mini', [
      { toolCalls: [{ id: 'c1', name: 'weather_alerts', arguments: '{}' }, { id: 'c2', name: 'weather_forecast', arguments: '{"city":' }] },
      { content: 'No alerts available.' },
    ]);
    const data = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('alerts?') });
    expect(data.choices[0].message.content).toBe('No alerts available.');
    const results = fake.requests[1].body!.messages!.filter((message) => message.role === 'tool');
    expect(results[0]).toEqual({ role: 'tool', tool_call_id: 'c1', content: 'the alerts service is down' });
    expect(String(results[1].content)).toMatch(/^Error: the arguments are not valid JSON/);
  });

  it('streams the final turn, after the tools ran, with the usage of every turn', async () => {
    fake.script('gpt-4o-mini', [
      { toolCalls: [forecastCall('call_s', 'Rome')], usage: { prompt_tokens: 10, completion_tokens: 5 } },
      { chunks: ['Sunny ', 'in ', 'Rome.'], usage: { prompt_tokens: 30, completion_tokens: 3 } },
    ]);
    const { data: stream, response } = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('Rome?'),
      stream: true, stream_options: { include_usage: true } }).withResponse();
    const chunks = await collect(stream);
    expect(response.headers.get('x-heimdall-mcp-tools-run')).toBe('weather_forecast');
    expect(response.headers.get('x-heimdall-mcp-agent-turns')).toBe('2');
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('')).toBe('Sunny in Rome.');
    // No tool call of the first turn reached the client, and one role chunk opened the stream.
    expect(chunks.some((chunk) => chunk.choices[0]?.delta?.tool_calls)).toBe(false);
    expect(chunks.filter((chunk) => chunk.choices[0]?.delta?.role)).toHaveLength(1);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 8, total_tokens: 48 });
    const finish = chunks.find((chunk) => chunk.choices[0]?.finish_reason)!;
    expect(finish.choices[0].finish_reason).toBe('stop');
    expect((finish as unknown as { heimdall_mcp: object }).heimdall_mcp).toMatchObject({ tools_run: ['weather_forecast'], turns: 2 });
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1].body!.messages!.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_s', content: 'sunny in Rome' });
  });

  it('stops at mcp_agent_depth and answers with the calls the model still makes', async () => {
    fake.script('gpt-4o-mini', { toolCalls: [forecastCall('loop', 'Paris')] });
    const { data, response } = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: user('forever') }).withResponse();
    // mcpAgentDepth is 3: three rounds of tools, four model calls, and the fourth answer goes to the client.
    expect(fake.requests).toHaveLength(4);
    expect(catalog.calls).toHaveLength(3);
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    expect(data.choices[0].message.tool_calls![0]).toMatchObject({ function: { name: 'weather_forecast' } });
    expect(response.headers.get('x-heimdall-mcp-agent-turns')).toBe('4');
  });

  it('ends the loop on a turn that calls a tool the gateway may not run, and runs none of its calls', async () => {
    fake.script('gpt-4o-mini', [
      { toolCalls: [forecastCall('a1', 'Oslo')] },
      { toolCalls: [forecastCall('a2', 'Bergen'), { id: 'm1', name: 'files_delete', arguments: '{"path":"/tmp/x"}' }] },
    ]);
    const data = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('mixed') });
    expect(fake.requests).toHaveLength(2);
    // Only the first turn's call ran; the mixed turn goes to the client whole, for it to run.
    expect(catalog.calls.map((call) => call.args)).toEqual([{ city: 'Oslo' }]);
    expect(data.choices[0].message.tool_calls!.map((call) => call.id)).toEqual(['a2', 'm1']);
    const extension = (data as unknown as { heimdall_mcp: { messages: { role: string }[] } }).heimdall_mcp;
    expect(extension.messages.map((message) => message.role)).toEqual(['assistant', 'tool']);
  });

  it("ends the loop at once on the client's own tool, streamed", async () => {
    fake.script('gpt-4o-mini', { toolCalls: [{ id: 'own1', name: 'lookup', arguments: '{"q":"x"}' }] });
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('own'), stream: true,
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }] });
    const chunks = await collect(stream);
    const args = chunks.flatMap((chunk) => chunk.choices[0]?.delta?.tool_calls ?? []).map((call) => call.function?.arguments ?? '').join('');
    expect(args).toBe('{"q":"x"}');
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
    expect(catalog.calls).toHaveLength(0);
    expect(fake.requests).toHaveLength(1);
  });

  it('runs one turn of many calls at most 8 at once', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const calls = Array.from({ length: 12 }, (_, i) => forecastCall(`p${i}`, `city${i}`));
    fake.script('gpt-4o-mini', [{ toolCalls: calls }, { content: 'done' }]);
    const original = catalog.execute.bind(catalog);
    catalog.execute = async (name, args, ctx) => {
      const result = original(name, args, ctx);
      await gate;
      return result;
    };
    try {
      const pending = client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('many') });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(catalog.calls).toHaveLength(8);
      release();
      const data = await pending;
      expect(data.choices[0].message.content).toBe('done');
      expect(catalog.calls).toHaveLength(12);
      expect(fake.requests[1].body!.messages!.filter((message) => message.role === 'tool')).toHaveLength(12);
    } finally {
      catalog.execute = original;
    }
  });

  it('cancels the tools in flight when the client leaves', async () => {
    let seenSignal: AbortSignal | undefined;
    const original = catalog.execute.bind(catalog);
    catalog.execute = (_name, _args, ctx) => {
      seenSignal = ctx.signal;
      return new Promise((_resolve, reject) => ctx.signal!.addEventListener('abort', () => reject(new Error('aborted'))));
    };
    try {
      fake.script('gpt-4o-mini', [{ toolCalls: [forecastCall('h1', 'Nowhere')] }, { content: 'never' }]);
      const abort = new AbortController();
      const pending = client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: user('hang') }, { signal: abort.signal });
      await expect.poll(() => seenSignal !== undefined).toBe(true);
      abort.abort();
      await pending.catch(() => undefined);
      await expect.poll(() => seenSignal!.aborted).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(fake.requests).toHaveLength(1);
    } finally {
      catalog.execute = original;
    }
  });

  it('leaves a request whose tools may not run alone as it was: one call, the answer as the provider sent it', async () => {
    fake.script('gpt-4o-mini', { toolCalls: [{ id: 'd1', name: 'files_delete', arguments: '{}' }] });
    const response = await postChat(url, { model: 'openai/gpt-4o-mini', messages: user('delete') },
      { 'x-bf-mcp-include-clients': 'files' });
    const text = await response.text();
    expect(text).toBe(fake.requests[0].responseBody);
    expect(response.headers.get('x-heimdall-mcp-tools-run')).toBeNull();
  });
});
