// Anthropic's Messages API on /anthropic, driven by the official `@anthropic-ai/sdk` against the real, built gateway:
// the fake Anthropic API behind it (same provider), and the fake OpenAI API and the built-in mock (cross-provider).
// Each case checks what the SDK got and, where it matters, what reached the upstream.

import { fileURLToPath } from 'node:url';
import Anthropic, { APIError, BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_ANTHROPIC_MODELS, startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { metricSum, openaiProvider, startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

const KEY = 'sk-ant-gateway-key';
/** Answers or refuses from its pre-hook when a request's headers ask it to (test/fakes/plugins/recorder.js). */
const RECORDER_PLUGIN = fileURLToPath(new URL('../../fakes/plugins/recorder.js', import.meta.url));

let openaiFake: FakeOpenAI;
let h: Harness<FakeAnthropic>;
let client: Anthropic;
let counter = 0;

beforeAll(async () => {
  openaiFake = await startFakeOpenAI();
  const anthropicFake = await startFakeAnthropic({ apiKey: KEY });
  h = await startGatewayWith(anthropicFake, (fakeUrl) => ({
    providers: {
      anthropic: {
        // The second key, the same secret, names a model so that the model list has one to show.
        keys: [{ value: KEY, models: ['*'], weight: 1 }, { value: KEY, models: ['claude-sonnet-5'], weight: 1 }],
        network_config: { base_url: fakeUrl, default_request_timeout_in_seconds: 30 },
      },
      openai: openaiProvider(openaiFake.url, { keys: [{ value: 'sk-openai', models: ['gpt-4o-mini', 'tools'], weight: 1 }] }),
      mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
    },
    model_aliases: { fast: 'mock/echo' },
    client: { max_request_body_size_mb: 1 },
    plugins: [{ name: 'cache', path: RECORDER_PLUGIN, config: { label: 'cache' } }],
  }));
  // The client's own key and version are the SDK's; the gateway uses its configured key upstream.
  client = new Anthropic({ baseURL: `${h.url}/anthropic`, apiKey: 'sk-ant-client-not-forwarded', maxRetries: 0, timeout: 15_000 });
});

afterAll(async () => {
  await h?.close();
  await openaiFake?.close();
});

const withId = () => {
  const id = `anthropic-dialect-${++counter}`;
  return { id, options: { headers: { 'x-request-id': id } } };
};
const hello: Anthropic.MessageParam[] = [{ role: 'user', content: 'hello gateway' }];
const weather: Anthropic.Tool = {
  name: 'get_weather', description: 'Weather by city',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};
const textOf = (message: Anthropic.Message) => message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');

const rejection = (promise: Promise<unknown>): Promise<APIError> => rejectionOf(promise, APIError);
/** The output tokens counted for anthropic, summed over every series (whatever other labels they carry). */
const outputTokens = async (): Promise<number> => {
  const exposition = await (await fetch(`${h.url}/metrics`)).text();
  let total = 0;
  for (const line of exposition.split('\n')) {
    if (/^heimdall_tokens_total\{/.test(line) && line.includes('provider="anthropic"') && line.includes('direction="output"')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
};
/** The output tokens once they moved past `before` (the workers' metrics shards are read as they are written). */
const outputTokensAfter = async (before: number): Promise<number> => {
  for (let i = 0; i < 100; i++) {
    const value = await outputTokens();
    if (value !== before) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return before;
};

describe('same provider: /anthropic → anthropic', () => {
  it('answers a message; the upstream got the request as sent, with the gateway\'s key', async () => {
    const { id, options } = withId();
    // This SDK's types follow an API version without sampling fields; the gateway pins 2023-06-01, which has them.
    const { data, response } = await client.messages.create({
      model: 'claude-sonnet-5', max_tokens: 256, system: 'Be brief.', messages: hello, temperature: 0.3, top_p: 0.9, top_k: 5,
      metadata: { user_id: 'user-7' },
    } as Anthropic.MessageCreateParamsNonStreaming, options).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('anthropic');
    expect(data).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-5', stop_reason: 'end_turn', stop_sequence: null });
    expect(data.id).toMatch(/^msg_/);
    expect(data.content).toEqual([{ type: 'text', text: 'Hello! You said: hello gateway' }]);
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect(data.usage).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
    const upstream = h.fake.requestsWithId(id)[0];
    expect(upstream.headers['x-api-key']).toBe(KEY);
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expect(upstream.body).toEqual({ model: 'claude-sonnet-5', max_tokens: 256, system: 'Be brief.', temperature: 0.3, top_p: 0.9,
      top_k: 5, metadata: { user_id: 'user-7' }, messages: [{ role: 'user', content: 'hello gateway' }] });
  });

  it('streams Anthropic\'s events; messages.stream() rebuilds the message', async () => {
    const stream = client.messages.stream({ model: 'claude-sonnet-5', max_tokens: 256, messages: hello });
    const texts: string[] = [];
    stream.on('text', (text) => texts.push(text));
    const final = await stream.finalMessage();
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.join('')).toBe('Hello! You said: hello gateway');
    expect(textOf(final)).toBe('Hello! You said: hello gateway');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it('reports cache reads and writes apart from input_tokens', async () => {
    const message = await client.messages.create({ model: 'claude-cache', max_tokens: 64, messages: hello });
    expect(message.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512 });
    const streamed = await client.messages.stream({ model: 'claude-cache', max_tokens: 64, messages: hello }).finalMessage();
    expect(streamed.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512 });
  });

  it.each([false, true])('maps stop_sequence and max_tokens (stream %s)', async (stream) => {
    const ask = (params: Anthropic.MessageCreateParamsNonStreaming) =>
      (stream ? client.messages.stream(params).finalMessage() : client.messages.create(params));
    const stopped = await ask({ model: 'claude-sonnet-5', max_tokens: 256, messages: hello, stop_sequences: ['said'] });
    expect(stopped).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'said' });
    expect(textOf(stopped)).toBe('Hello! You ');
    const cut = await ask({ model: 'claude-sonnet-5', max_tokens: 2, messages: hello });
    expect(cut).toMatchObject({ stop_reason: 'max_tokens', stop_sequence: null });
  });

  it.each([false, true])('calls a tool: tool_use block, stop_reason tool_use, tool_choice as sent (stream %s)', async (stream) => {
    const { id, options } = withId();
    const params: Anthropic.MessageCreateParamsNonStreaming = { model: 'claude-sonnet-5-tools', max_tokens: 256, messages: hello,
      tools: [weather], tool_choice: { type: 'any', disable_parallel_tool_use: true } };
    const message = stream ? await client.messages.stream(params, options).finalMessage() : await client.messages.create(params, options);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content[0]).toEqual({ type: 'text', text: "I'll look that up." });
    expect(message.content[1]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } });
    expect((message.content[1] as Anthropic.ToolUseBlock).id).toMatch(/^toolu_/);
    expect(h.fake.requestsWithId(id)[0].body).toMatchObject({ tools: [weather], tool_choice: { type: 'any', disable_parallel_tool_use: true } });
  });

  it('passes images (base64 and URL) through', async () => {
    const { id, options } = withId();
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const content: Anthropic.ContentBlockParam[] = [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'text', text: 'what is this?' },
    ];
    await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 64, messages: [{ role: 'user', content }] }, options);
    expect(h.fake.requestsWithId(id)[0].body!.messages).toEqual([{ role: 'user', content }]);
  });

  it.each([false, true])('thinking blocks round-trip with their signatures (stream %s)', async (stream) => {
    const params: Anthropic.MessageCreateParamsNonStreaming = { model: 'claude-thinking', max_tokens: 4096, messages: hello,
      thinking: { type: 'enabled', budget_tokens: 2048 } };
    const { id, options } = withId();
    const first = stream ? await client.messages.stream(params, options).finalMessage() : await client.messages.create(params, options);
    const sentByUpstream = h.fake.requestsWithId(id)[0];
    expect(sentByUpstream.body!.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    const thinking = first.content[0] as Anthropic.ThinkingBlock;
    expect(thinking.type).toBe('thinking');
    expect(thinking.thinking).toBe('The user greets me; a short, friendly answer fits.');
    const upstreamBlocks = stream
      ? sentByUpstream.events.filter((e) => e.data.includes('signature_delta')).map((e) => JSON.parse(e.data).delta.signature as string)
      : (JSON.parse(sentByUpstream.responseBody!).content as { signature?: string }[]).map((b) => b.signature).filter(Boolean);
    expect(thinking.signature).toBe(upstreamBlocks[0]);
    expect(first.content[1]).toMatchObject({ type: 'text' });

    const next = withId();
    await client.messages.create({ ...params, model: 'claude-sonnet-5', messages: [...hello,
      { role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] }, { role: 'user', content: 'and now?' }] }, next.options);
    const replayed = h.fake.requestsWithId(next.id)[0].body!.messages![1];
    expect(replayed).toEqual({ role: 'assistant', content: [
      { type: 'thinking', thinking: thinking.thinking, signature: thinking.signature }, { type: 'text', text: textOf(first) }] });
  });

  it('passes a redacted_thinking block back as it came', async () => {
    const { id, options } = withId();
    await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 64, messages: [...hello,
      { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'ZW5jcnlwdGVk' }, { type: 'text', text: 'Hi.' }] },
      { role: 'user', content: 'ok' }] }, options);
    expect(h.fake.requestsWithId(id)[0].body!.messages![1].content).toEqual([{ type: 'redacted_thinking', data: 'ZW5jcnlwdGVk' },
      { type: 'text', text: 'Hi.' }]);
  });
});

describe('cross-provider: /anthropic → openai and mock', () => {
  it('openai/gpt-4o-mini answers in Anthropic\'s shape, from an OpenAI request', async () => {
    const { id, options } = withId();
    const { data, response } = await client.messages.create({ model: 'openai/gpt-4o-mini', max_tokens: 100, system: 'Be brief.',
      messages: hello, stop_sequences: ['END'], metadata: { user_id: 'u1' } }, options).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
    expect(data).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' });
    expect(textOf(data)).not.toBe('');
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(openaiFake.requestsWithId(id)[0].body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 100, stop: ['END'], user: 'u1',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello gateway' }] });
  });

  it('streams from openai, with the usage in message_delta', async () => {
    const { id, options } = withId();
    const final = await client.messages.stream({ model: 'openai/gpt-4o-mini', max_tokens: 100, messages: hello }, options).finalMessage();
    expect(textOf(final)).not.toBe('');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(openaiFake.requestsWithId(id)[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it.each([false, true])('a tool call from openai is a tool_use block (stream %s)', async (stream) => {
    const params: Anthropic.MessageCreateParamsNonStreaming = { model: 'openai/tools', max_tokens: 100, messages: hello, tools: [weather],
      tool_choice: { type: 'tool', name: 'get_weather' } };
    const { id, options } = withId();
    const message = stream ? await client.messages.stream(params, options).finalMessage() : await client.messages.create(params, options);
    expect(message.stop_reason).toBe('tool_use');
    const use = message.content.find((block) => block.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(use.name).toBe('get_weather');
    expect(use.input).toBeTypeOf('object');
    expect(openaiFake.requestsWithId(id)[0].body).toMatchObject({
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: weather.input_schema } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  });

  it.each([false, true])('the built-in mock answers, through an alias too (stream %s)', async (stream) => {
    for (const model of ['mock/echo', 'fast']) {
      const params = { model, max_tokens: 100, messages: hello };
      const message = stream ? await client.messages.stream(params).finalMessage() : await client.messages.create(params);
      expect(textOf(message)).not.toBe('');
      expect(message.stop_reason).toBe('end_turn');
      expect(message.usage.output_tokens).toBeGreaterThan(0);
    }
  });
});

describe("today's Messages fields (Claude Code's output_config and the Anthropic-only settings)", () => {
  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
  const current = {
    max_tokens: 2048, messages: hello, thinking: { type: 'adaptive' },
    output_config: { effort: 'max', format: { type: 'json_schema', schema } },
    cache_control: { type: 'ephemeral', ttl: '1h' }, inference_geo: 'us', speed: 'fast',
    tools: [{ ...weather, defer_loading: true, eager_input_streaming: true, input_examples: [{ location: 'Oslo' }] }],
  };

  it('reach anthropic exactly as the client sent them', async () => {
    const { id, options } = withId();
    const { response } = await client.messages.create({ ...current, model: 'claude-sonnet-5' } as Anthropic.MessageCreateParamsNonStreaming,
      options).withResponse();
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    const upstream = h.fake.requestsWithId(id)[0].body!;
    expect(upstream).toEqual({ model: 'claude-sonnet-5', ...current });
  });

  it('reach openai as reasoning_effort and a strict json_schema response_format; the rest is dropped and reported', async () => {
    const { id, options } = withId();
    const { data, response } = await client.messages.create({ ...current, model: 'openai/gpt-4o-mini',
      output_config: { ...current.output_config, task_budget: { type: 'tokens', total: 400000 } } } as Anthropic.MessageCreateParamsNonStreaming,
    options).withResponse();
    expect(data.type).toBe('message');
    const upstream = openaiFake.requestsWithId(id)[0].body!;
    expect(upstream).toMatchObject({ reasoning_effort: 'xhigh',
      response_format: { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } } });
    expect(upstream.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather by city',
      parameters: weather.input_schema } }]);
    for (const field of ['output_config', 'thinking', 'cache_control', 'inference_geo', 'speed']) expect(upstream).not.toHaveProperty(field);
    expect(response.headers.get('x-heimdall-dropped-params')!.split(',').sort()).toEqual(['cache_control', 'inference_geo', 'output_config',
      'speed', 'thinking', 'tools[].defer_loading', 'tools[].eager_input_streaming', 'tools[].input_examples']);
  });

  it("the client's anthropic-beta flags reach anthropic as the header; openai drops and reports them", async () => {
    const betas = ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'];
    const { id, options } = withId();
    await client.beta.messages.create({ model: 'claude-sonnet-5', max_tokens: 64, messages: hello, betas }, options);
    const upstream = h.fake.requestsWithId(id)[0];
    expect(upstream.headers['anthropic-beta']).toBe(betas.join(','));
    expect(upstream.body).toEqual({ model: 'claude-sonnet-5', max_tokens: 64, messages: hello });
    const other = withId();
    const { response } = await client.beta.messages.create({ model: 'openai/gpt-4o-mini', max_tokens: 64, messages: hello, betas },
      other.options).withResponse();
    expect(openaiFake.requestsWithId(other.id)[0].body).not.toHaveProperty('anthropic_beta');
    expect(response.headers.get('x-heimdall-dropped-params')).toBe('anthropic_beta');
  });

  it('count_tokens takes output_config too', async () => {
    const counted = await client.messages.countTokens({ model: 'claude-sonnet-5', messages: hello,
      output_config: { effort: 'low', format: { type: 'json_schema', schema } } });
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  it('an output_config Anthropic would refuse is a 400 in its shape', async () => {
    const error = await rejection(client.messages.create({ model: 'claude-sonnet-5', max_tokens: 10, messages: hello,
      output_config: { effort: 'extreme' } } as unknown as Anthropic.MessageCreateParamsNonStreaming));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(error.message).toContain('output_config.effort');
  });
});

describe("Claude Code's cache breakpoints on tool blocks", () => {
  const cache = { type: 'ephemeral', ttl: '5m' };
  const conversation = [
    { role: 'user', content: 'check the build' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Oslo' }, cache_control: cache }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny', cache_control: cache }] },
  ];

  it('reach anthropic on the tool_use and tool_result blocks where the client put them', async () => {
    const { id, options } = withId();
    await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 64, tools: [weather], messages: conversation } as
      Anthropic.MessageCreateParamsNonStreaming, options);
    expect(h.fake.requestsWithId(id)[0].body!.messages).toEqual(conversation);
  });

  it('are dropped and reported for openai, which has no such field', async () => {
    const { id, options } = withId();
    const { response } = await client.messages.create({ model: 'openai/gpt-4o-mini', max_tokens: 64, tools: [weather],
      messages: conversation } as Anthropic.MessageCreateParamsNonStreaming, options).withResponse();
    const sent = openaiFake.requestsWithId(id)[0].body!;
    expect(JSON.stringify(sent.messages)).not.toContain('cache_control');
    expect(response.headers.get('x-heimdall-dropped-params')!.split(',').sort())
      .toEqual(['messages[].cache_control', 'messages[].tool_calls[].cache_control']);
  });
});

describe('what the chat translation cannot carry goes to anthropic as the client sent it', () => {
  const search = { type: 'web_search_20250305', name: 'web_search', max_uses: 3 };
  const searching = { max_tokens: 256, messages: [{ role: 'user', content: 'what is heimdall' }], tools: [search] };

  it("a server tool: the request reaches anthropic unchanged and the answer's server blocks and citations come back", async () => {
    const { id, options } = withId();
    const { data, response } = await client.messages.create({ ...searching, model: 'claude-sonnet-5' } as Anthropic.MessageCreateParamsNonStreaming,
      options).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('anthropic');
    const upstream = h.fake.requestsWithId(id)[0];
    expect(upstream.body).toEqual({ model: 'claude-sonnet-5', ...searching });
    // The answer is Anthropic's own, byte for byte.
    expect(data).toEqual(JSON.parse(upstream.responseBody!));
    expect(data.content.map((block) => block.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'text']);
    expect((data.content[2] as Anthropic.TextBlock).citations).toHaveLength(1);
  });

  it('streams Anthropic\'s own events, citations included, and counts the tokens', async () => {
    const { id, options } = withId();
    const before = await outputTokens();
    const final = await client.messages.stream({ ...searching, model: 'claude-sonnet-5' } as Anthropic.MessageCreateParamsStreaming,
      options).finalMessage();
    expect(final.content.map((block) => block.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'text']);
    expect((final.content[2] as Anthropic.TextBlock).citations).toHaveLength(1);
    const upstream = h.fake.requestsWithId(id)[0];
    expect(upstream.body).toMatchObject({ stream: true, tools: [search] });
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    const after = await outputTokensAfter(before);
    expect(after - before).toBe(final.usage.output_tokens);
  });

  it("a native stream the provider breaks off ends with the error event in Anthropic's shape", async () => {
    const response = await fetch(`${h.url}/anthropic/v1/messages`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...searching, model: 'claude-stream-error', stream: true }) });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('event: message_start');
    const last = text.trim().split('\n\n').at(-1)!;
    expect(last.split('\n')[0]).toBe('event: error');
    expect(JSON.parse(last.split('\n')[1].slice(6))).toMatchObject({ type: 'error', error: { message: expect.stringContaining('Overloaded') } });
  });

  it("beta fields with the client's anthropic-beta header (MCP servers, context management)", async () => {
    const { id, options } = withId();
    const params = { model: 'claude-sonnet-5', max_tokens: 64, messages: hello,
      mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'example' }],
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
      betas: ['mcp-client-2025-04-04', 'context-management-2025-06-27'] };
    const message = await client.beta.messages.create(params as unknown as Anthropic.Beta.MessageCreateParamsNonStreaming, options);
    expect(message.type).toBe('message');
    const upstream = h.fake.requestsWithId(id)[0];
    expect(upstream.headers['anthropic-beta']).toBe('mcp-client-2025-04-04,context-management-2025-06-27');
    const { betas: _betas, ...body } = params;
    expect(upstream.body).toEqual(body);
  });

  it('a document with citations goes as it is', async () => {
    const { id, options } = withId();
    const document = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The sky is blue.' },
      title: 'Sky', context: 'A note', citations: { enabled: true } };
    await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 64,
      messages: [{ role: 'user', content: [document, { type: 'text', text: 'What colour is the sky?' }] }] } as Anthropic.MessageCreateParamsNonStreaming,
    options);
    expect(h.fake.requestsWithId(id)[0].body!.messages).toEqual([{ role: 'user', content: [document, { type: 'text', text: 'What colour is the sky?' }] }]);
  });

  it('any other provider refuses it with a 400 that says why', async () => {
    const before = openaiFake.requests.length;
    for (const model of ['openai/gpt-4o-mini', 'mock/echo']) {
      const error = await rejection(client.messages.create({ ...searching, model } as Anthropic.MessageCreateParamsNonStreaming));
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error.message).toContain("server tool 'web_search_20250305'");
      expect(error.message).toContain("only the built-in 'anthropic' provider takes it");
    }
    expect(openaiFake.requests.length).toBe(before);
  });
});

describe('fallbacks', () => {
  it.each([false, true])('a failing anthropic falls back to openai, answered in Anthropic\'s shape (stream %s)', async (stream) => {
    const params = { model: 'claude-error-503', max_tokens: 50, messages: hello, fallbacks: ['openai/gpt-4o-mini'] } as
      Anthropic.MessageCreateParamsNonStreaming;
    const { data, response } = stream
      ? await client.messages.stream(params).withResponse().then(async ({ data: s, response: r }) => ({ data: await s.finalMessage(), response: r }))
      : await client.messages.create(params).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
    expect(data).toMatchObject({ type: 'message', stop_reason: 'end_turn' });
    expect(textOf(data)).not.toBe('');
  });
});

describe('a Claude Code style multi-turn tool conversation, streamed', () => {
  const system: Anthropic.TextBlockParam[] = [
    { type: 'text', text: 'You are Claude Code, a CLI for coding.' },
    { type: 'text', text: 'Project instructions: keep answers short.', cache_control: { type: 'ephemeral' } },
  ];
  const tools: Anthropic.Tool[] = [
    { name: 'Read', description: 'Reads a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } },
    { name: 'Bash', description: 'Runs a command', input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
      cache_control: { type: 'ephemeral' } },
  ];
  const conversation: Anthropic.MessageParam[] = [
    { role: 'user', content: [{ type: 'text', text: 'What is in package.json, and does the build pass?' }] },
    { role: 'assistant', content: [
      { type: 'text', text: 'Let me look.' },
      { type: 'tool_use', id: 'toolu_read1', name: 'Read', input: { file_path: '/repo/package.json' } },
      { type: 'tool_use', id: 'toolu_bash1', name: 'Bash', input: { command: 'npm run build' } },
    ] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 'toolu_read1', content: '{"name":"demo"}' },
      { type: 'tool_result', tool_use_id: 'toolu_bash1', content: [{ type: 'text', text: 'error TS2322' }], is_error: true },
      { type: 'text', text: 'Summarise.', cache_control: { type: 'ephemeral' } },
    ] },
  ];
  const params = { max_tokens: 1024, system, tools, messages: conversation, metadata: { user_id: 'session-1' } };

  it('reaches the anthropic fake as the same Messages request, and the answer streams back', async () => {
    const { id, options } = withId();
    const final = await client.messages.stream({ model: 'claude-sonnet-5', ...params }, options).finalMessage();
    expect(textOf(final)).toBe('Hello! You said: Summarise.');
    expect(final.stop_reason).toBe('end_turn');
    const sent = h.fake.requestsWithId(id)[0].body!;
    expect(sent.system).toEqual(system);
    expect(sent.tools).toEqual(tools);
    // The same request; a turn that is one plain text block is sent as a string, which Anthropic reads alike.
    expect(sent.messages).toEqual([{ role: 'user', content: 'What is in package.json, and does the build pass?' }, ...conversation.slice(1)]);
    expect(sent.metadata).toEqual({ user_id: 'session-1' });
    expect(sent.stream).toBe(true);
  });

  it('reaches the openai fake as OpenAI messages (tool calls, tool results) and streams back', async () => {
    const { id, options } = withId();
    const final = await client.messages.stream({ model: 'openai/gpt-4o-mini', ...params }, options).finalMessage();
    expect(textOf(final)).not.toBe('');
    expect(final.stop_reason).toBe('end_turn');
    const sent = openaiFake.requestsWithId(id)[0].body!;
    expect(sent.messages).toEqual([
      { role: 'system', content: [{ type: 'text', text: system[0].text }, { type: 'text', text: system[1].text, cache_control: { type: 'ephemeral' } }] },
      { role: 'user', content: [{ type: 'text', text: 'What is in package.json, and does the build pass?' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Let me look.' }], tool_calls: [
        { id: 'toolu_read1', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/repo/package.json"}' } },
        { id: 'toolu_bash1', type: 'function', function: { name: 'Bash', arguments: '{"command":"npm run build"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_read1', content: '{"name":"demo"}' },
      // OpenAI has no error flag on tool results: the failure is said in the text, and the flag reported dropped.
      { role: 'tool', tool_call_id: 'toolu_bash1', content: [{ type: 'text', text: 'Error:' }, { type: 'text', text: 'error TS2322' }] },
      { role: 'user', content: [{ type: 'text', text: 'Summarise.', cache_control: { type: 'ephemeral' } }] },
    ]);
    expect(sent).toMatchObject({ stream: true, user: 'session-1', max_tokens: 1024 });
  });
});

describe('errors in Anthropic\'s shape', () => {
  it('a missing max_tokens is a BadRequestError with invalid_request_error', async () => {
    const error = await rejection(client.messages.create({ model: 'claude-sonnet-5', messages: hello } as never));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
  });

  it('bad JSON and unknown fields are 400s in the same shape', async () => {
    const response = await fetch(`${h.url}/anthropic/v1/messages`, { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    // Invalid UTF-8 is refused as on /v1, never passed on as U+FFFD.
    const badUtf8 = await fetch(`${h.url}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"model":"claude-sonnet-5","max_tokens":5,"messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]) });
    expect(badUtf8.status).toBe(400);
    expect(await badUtf8.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('not valid UTF-8') } });
    const error = await rejection(client.messages.create({ model: 'claude-sonnet-5', max_tokens: 5, messages: hello, frequency_penalty: 1 } as never));
    expect(error.status).toBe(400);
    expect(error.message).toContain('frequency_penalty: Extra inputs are not permitted');
  });

  it('an unknown path or method under /anthropic is a not_found_error in Anthropic\'s shape, which the SDK raises', async () => {
    const unknown = await fetch(`${h.url}/anthropic/v1/organizations/me`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ type: 'error', error: { type: 'not_found_error',
      message: expect.stringContaining('GET /anthropic/v1/organizations/me') } });
    const skills = await rejection(client.beta.skills.list());
    expect(skills).toBeInstanceOf(NotFoundError);
    expect(skills.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const wrongMethod = await fetch(`${h.url}/anthropic/v1/messages`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ type: 'error', error: { message: expect.stringContaining('DELETE is not allowed') } });
  });

  it('a body over max_request_body_size_mb is a 413 request_too_large', async () => {
    const response = await fetch(`${h.url}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(1_200_000) }] }) });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ type: 'error', error: { type: 'request_too_large', message: expect.stringContaining('max_request_body_size_mb') } });
  });

  it('an upstream 404 is a NotFoundError; a 429 a RateLimitError', async () => {
    const missing = await rejection(client.messages.create({ model: 'claude-error-404', max_tokens: 5, messages: hello }));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('model') } });
    const limited = await rejection(client.messages.create({ model: 'claude-error-429', max_tokens: 5, messages: hello }));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(limited.headers?.get('retry-after')).toBe('1');
  });

  it('a model no key allows is a NotFoundError, cross-provider too', async () => {
    const error = await rejection(client.messages.create({ model: 'openai/gpt-5-not-allowed', max_tokens: 5, messages: hello }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('a failure mid-stream arrives as an `event: error` the SDK raises', async () => {
    const stream = client.messages.stream({ model: 'claude-stream-error', max_tokens: 256, messages: hello });
    const error = await rejection(stream.finalMessage());
    expect(error.error).toMatchObject({ type: 'error', error: { type: expect.stringMatching(/error$/), message: expect.stringContaining('Overloaded') } });
  });
});

describe('count_tokens', () => {
  it('anthropic counts with its own endpoint (the same count the answer reports)', async () => {
    const { id, options } = withId();
    const params = { model: 'claude-sonnet-5', system: 'Be brief.', messages: hello, tools: [weather] };
    const { data, response } = await client.messages.countTokens(params, options).withResponse();
    expect(response.headers.get('x-heimdall-token-count')).toBeNull();
    const upstream = h.fake.requestsWithId(id)[0];
    expect(upstream.path).toBe('/v1/messages/count_tokens');
    expect(upstream.headers['x-api-key']).toBe(KEY);
    expect(upstream.body).toEqual({ model: 'claude-sonnet-5', system: 'Be brief.', messages: [{ role: 'user', content: 'hello gateway' }], tools: [weather] });
    const answered = await client.messages.create({ ...params, max_tokens: 64 });
    expect(data.input_tokens).toBe(answered.usage.input_tokens);
  });

  it.each(['openai/gpt-4o-mini', 'mock/echo'])('%s gets a labelled estimate', async (model) => {
    const { data, response } = await client.messages.countTokens({ model, messages: hello }).withResponse();
    expect(response.headers.get('x-heimdall-token-count')).toBe('estimate');
    expect(data.input_tokens).toBeGreaterThan(0);
    const longer = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'hello gateway '.repeat(100) }] });
    expect(longer.input_tokens).toBeGreaterThan(data.input_tokens * 10);
  });

  it('refuses bad input in Anthropic\'s shape, and upstream errors keep their type', async () => {
    const bad = await rejection(client.messages.countTokens({ model: 'mock/echo', messages: [] }));
    expect(bad).toBeInstanceOf(BadRequestError);
    const missing = await rejection(client.messages.countTokens({ model: 'claude-error-404', messages: hello }));
    expect(missing).toBeInstanceOf(NotFoundError);
  });
});

describe('plugins', () => {
  it.each([false, true])('a plugin\'s short-circuit answer is an Anthropic message (stream %s)', async (stream) => {
    const params = { model: 'claude-sonnet-5', max_tokens: 50, messages: hello };
    const options = { headers: { 'x-short-circuit': 'cache' } };
    const message = stream ? await client.messages.stream(params, options).finalMessage() : await client.messages.create(params, options);
    expect(textOf(message)).toBe('cached answer from cache');
    expect(message).toMatchObject({ stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 4 } });
  });

  it('a plugin\'s refusal is a PermissionDeniedError in Anthropic\'s shape', async () => {
    const error = await rejection(client.messages.create({ model: 'claude-sonnet-5', max_tokens: 50, messages: hello },
      { headers: { 'x-reject': 'cache' } }));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.error).toEqual({ type: 'error', error: { type: 'permission_error', message: 'refused by plugin cache' } });
  });
});

describe('metrics', () => {
  it('count each Anthropic operation under its own route label', async () => {
    const read = async (route: string) => metricSum(await (await fetch(`${h.url}/metrics`)).text(),
      'heimdall_http_requests_total', { route, method: 'POST', status: '200' }) ?? 0;
    const before = [await read('/anthropic/v1/messages'), await read('/anthropic/v1/messages/count_tokens')];
    await client.messages.create({ model: 'mock/echo', max_tokens: 10, messages: hello });
    await client.messages.countTokens({ model: 'mock/echo', messages: hello });
    await client.messages.countTokens({ model: 'mock/echo', messages: hello });
    expect([await read('/anthropic/v1/messages'), await read('/anthropic/v1/messages/count_tokens')])
      .toEqual([before[0] + 1, before[1] + 2]);
  });
});

describe('GET /anthropic/v1/models', () => {
  it('lists the configured models and the provider\'s own list in Anthropic\'s page shape, the default provider\'s bare', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model.type).toBe('model');
      expect(model.display_name).toBe(model.id);
      expect(Number.isNaN(Date.parse(model.created_at))).toBe(false);
      ids.push(model.id);
    }
    // The anthropic provider's key that allows every model lets the gateway ask the fake for its list.
    expect(ids).toEqual(['claude-sonnet-5', ...FAKE_ANTHROPIC_MODELS, 'openai/gpt-4o-mini', 'openai/tools', 'mock/echo', 'fast']);
  });

  it('retrieves one model by id, a provider/model one too; an unknown id is a NotFoundError', async () => {
    expect(await client.models.retrieve('claude-sonnet-5')).toMatchObject({ type: 'model', id: 'claude-sonnet-5' });
    expect(await client.models.retrieve('openai/gpt-4o-mini')).toMatchObject({ type: 'model', id: 'openai/gpt-4o-mini' });
    const missing = await rejection(client.models.retrieve('claude-unknown'));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('pages with limit and after_id', async () => {
    const page = await (await fetch(`${h.url}/anthropic/v1/models?limit=2`)).json();
    expect(page).toMatchObject({ has_more: true, first_id: 'claude-sonnet-5', last_id: FAKE_ANTHROPIC_MODELS[0] });
    const next = await (await fetch(`${h.url}/anthropic/v1/models?limit=2&after_id=openai/tools`)).json();
    expect(next).toMatchObject({ has_more: false, first_id: 'mock/echo', last_id: 'fast' });
    const bad = await fetch(`${h.url}/anthropic/v1/models?limit=0`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
});
