// POST /v1/responses (and the drop-in /openai/v1/responses) through the real gateway, with the `openai` SDK's
// `client.responses.create` as the client: the openai fake, the built-in mock and the fake Anthropic API behind it.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { apiError, collect, metricSum, openaiProvider, startGatewayWith, startHarness, type Harness } from '../harness.js';

type Event = OpenAI.Responses.ResponseStreamEvent;

let h: Harness;
let ha: Harness<FakeAnthropic>;

beforeAll(async () => {
  // `compat` is the openai fake as a custom OpenAI-compatible provider: without the native Responses API, it gets the
  // translation through chat; `openai` itself gets the request as it came (test/integration/dialects/responses-native.test.ts).
  h = await startHarness({ config: (url) => ({ providers: {
    openai: openaiProvider(url),
    compat: openaiProvider(url, { custom_provider_config: { base_provider_type: 'openai' } }),
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }) });
  ha = await startGatewayWith(await startFakeAnthropic({ apiKey: 'sk-ant' }), (url) => ({ providers: {
    anthropic: { keys: [{ value: 'sk-ant', models: ['*'], weight: 1 }], network_config: { base_url: url } },
  } }));
});

afterAll(async () => {
  await h?.close();
  await ha?.close();
});

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function', name: 'get_weather', description: 'Weather by city', strict: true,
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false },
};

/** The upstream chat request the openai fake got for the last response. */
function upstreamBody(requestId: string | null) {
  const seen = h.fake.requestsWithId(requestId!);
  expect(seen).toHaveLength(1);
  return seen[0].body!;
}

describe('POST /v1/responses to an OpenAI-compatible provider, through chat', () => {
  it('answers a response object, and sends a faithful chat request upstream', async () => {
    const { data, response } = await h.client.responses.create({
      model: 'compat/gpt-4o-mini',
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'hello' },
        { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'low' }] }],
      max_output_tokens: 50,
      temperature: 0.2,
      reasoning: { effort: 'low' },
      text: { format: { type: 'json_schema', name: 'reply', schema: { type: 'object' }, strict: true } },
      tools: [weather],
      tool_choice: { type: 'function', name: 'get_weather' },
      metadata: { team: 'a' },
      store: false,
    }).withResponse();
    expect(data.object).toBe('response');
    expect(data.id).toMatch(/^resp_/);
    expect(data.status).toBe('completed');
    expect(data.output_text).toContain('quick brown fox');
    expect(data.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(data.usage!.total_tokens).toBe(data.usage!.input_tokens + data.usage!.output_tokens);
    expect(data.usage!.input_tokens).toBeGreaterThan(0);
    expect(data.metadata).toEqual({ team: 'a' });
    expect(data.tools).toEqual([weather]);
    const sent = upstreamBody(response.headers.get('x-request-id'));
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'hello' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } }] },
    ]);
    expect(sent).toMatchObject({
      max_completion_tokens: 50, temperature: 0.2, reasoning_effort: 'low',
      response_format: { type: 'json_schema', json_schema: { name: 'reply', schema: { type: 'object' }, strict: true } },
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: weather.parameters, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    expect(sent).not.toHaveProperty('metadata');
    expect(sent).not.toHaveProperty('store');
  });

  it("passes today's chat fields on under their names; compaction, which chat servers lack, is dropped and reported", async () => {
    const { response } = await h.client.responses.create({ model: 'compat/gpt-4o-mini', input: 'hello', prompt_cache_key: 'k-1',
      prompt_cache_retention: '24h', safety_identifier: 'user-1', context_management: [{ type: 'compaction', compact_threshold: 1000 }],
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming).withResponse();
    const sent = upstreamBody(response.headers.get('x-request-id'));
    expect(sent).toMatchObject({ prompt_cache_key: 'k-1', prompt_cache_retention: '24h', safety_identifier: 'user-1' });
    expect(sent).not.toHaveProperty('context_management');
    expect(response.headers.get('x-heimdall-dropped-params')).toBe('context_management');
  });

  it('streams the typed events, in order, with sequence numbers', async () => {
    const events = await collect(await h.client.responses.create({ model: 'compat/gpt-4o-mini', input: 'stream me', stream: true }));
    const types = events.map((event) => event.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
    const deltas = events.filter((event): event is OpenAI.Responses.ResponseTextDeltaEvent => event.type === 'response.output_text.delta');
    expect(deltas.length).toBeGreaterThan(1);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    const message = completed.response.output[0] as OpenAI.Responses.ResponseOutputMessage;
    expect((message.content[0] as OpenAI.Responses.ResponseOutputText).text).toBe(deltas.map((delta) => delta.delta).join(''));
    expect(completed.response.usage!.output_tokens).toBeGreaterThan(0);
    expect(completed.response.id).toBe((events[0] as OpenAI.Responses.ResponseCreatedEvent).response.id);
  });

  it('round-trips a streamed tool call: function_call out, function_call_output back in', async () => {
    const events: Event[] = await collect(await h.client.responses.create({
      model: 'compat/gpt-4o-mini-tools', input: 'weather in Paris?', tools: [weather], stream: true,
    }));
    const added = events.find((event) => event.type === 'response.output_item.added')! as OpenAI.Responses.ResponseOutputItemAddedEvent;
    expect(added.item).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'in_progress' });
    const argsDone = events.find((event) => event.type === 'response.function_call_arguments.done') as
      OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
    expect(JSON.parse(argsDone.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    const call = completed.response.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: argsDone.arguments, status: 'completed' });
    expect(call.call_id).toMatch(/^call_/);

    const { data, response } = await h.client.responses.create({
      model: 'compat/gpt-4o-mini',
      tools: [weather],
      input: [
        { role: 'user', content: 'weather in Paris?' },
        ...completed.response.output as OpenAI.Responses.ResponseInputItem[],
        { type: 'function_call_output', call_id: call.call_id, output: '{"celsius":21}' },
      ],
    }).withResponse();
    expect(data.status).toBe('completed');
    expect(upstreamBody(response.headers.get('x-request-id')).messages).toEqual([
      { role: 'user', content: 'weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: call.call_id, type: 'function', function: { name: 'get_weather', arguments: call.arguments } }] },
      { role: 'tool', tool_call_id: call.call_id, content: '{"celsius":21}' },
    ]);
  });

  it('marks a response cut by max_output_tokens incomplete', async () => {
    const data = await h.client.responses.create({ model: 'mock/echo', input: 'one two three four five', max_output_tokens: 2 });
    expect(data.status).toBe('incomplete');
    expect(data.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });

  it('takes Heimdall\'s fallbacks, and counts under its own route label', async () => {
    const { response } = await h.client.responses.create({ model: 'openai/gpt-4o-mini-error-500', input: 'hi',
      fallbacks: ['mock/echo'] } as never).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metricSum(metrics, 'heimdall_http_requests_total', { route: '/v1/responses', method: 'POST', status: '200' })).toBeGreaterThan(0);
  });

  it('is reachable at the drop-in prefixes with a bare model name', async () => {
    for (const prefix of ['/openai/v1', '/openai']) {
      const client = new OpenAI({ baseURL: `${h.url}${prefix}`, apiKey: 'x', maxRetries: 0 });
      const { data, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi' }).withResponse();
      expect(response.headers.get('x-heimdall-provider')).toBe('openai');
      expect(data.output_text).toContain('hi');
    }
  });
});

describe('POST /v1/responses to the mock provider', () => {
  it('answers and streams', async () => {
    const data = await h.client.responses.create({ model: 'mock/echo', input: 'ping pong' });
    expect(data.output_text).toBe('Echo: ping pong');
    const events = await collect(await h.client.responses.create({ model: 'mock/echo', input: 'ping pong', stream: true }));
    const done = events.find((event) => event.type === 'response.output_text.done') as OpenAI.Responses.ResponseTextDoneEvent;
    expect(done.text).toBe('Echo: ping pong');
    expect(events.at(-1)!.type).toBe('response.completed');
  });
});

describe('POST /v1/responses to the anthropic provider', () => {
  it('answers text, tool calls and reasoning, and takes the reasoning back', async () => {
    const data = await ha.client.responses.create({ model: 'anthropic/claude-tools', input: 'weather?', tools: [weather] });
    expect(data.output.map((item) => item.type)).toEqual(['message', 'function_call']);
    expect(data.output_text).toBe("I'll look that up.");
    const thought = await ha.client.responses.create({ model: 'anthropic/claude-thinking', input: 'hello' });
    const reasoning = thought.output[0] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.type).toBe('reasoning');
    expect(reasoning.summary[0].text).toContain('short, friendly answer');
    expect(JSON.parse(reasoning.encrypted_content!)[0]).toMatchObject({ type: 'thinking', signature: expect.any(String) });
    const { response } = await ha.client.responses.create({ model: 'anthropic/claude-sonnet',
      input: [{ role: 'user', content: 'hello' }, ...thought.output as OpenAI.Responses.ResponseInputItem[], { role: 'user', content: 'again' }],
    }).withResponse();
    const sent = ha.fake.requestsWithId(response.headers.get('x-request-id')!)[0].body!;
    expect(sent.messages![1]).toMatchObject({ role: 'assistant', content: [{ type: 'thinking', signature: expect.any(String) }, { type: 'text' }] });
  });

  it('streams a tool call and reasoning as their own items', async () => {
    const events = await collect(await ha.client.responses.create({ model: 'anthropic/claude-tools', input: 'weather?', tools: [weather], stream: true }));
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.type).toBe('response.completed');
    expect(completed.response.output.map((item) => item.type)).toEqual(['message', 'function_call']);
    expect(events.some((event) => event.type === 'response.function_call_arguments.delta')).toBe(true);
    const thinking = await collect(await ha.client.responses.create({ model: 'anthropic/claude-thinking', input: 'hello', stream: true }));
    expect(thinking.some((event) => event.type === 'response.reasoning_summary_text.delta')).toBe(true);
    const final = (thinking.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
    expect(final.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
    expect(final.usage!.input_tokens).toBeGreaterThan(0);
  });
});

describe('POST /v1/responses errors', () => {
  it('refuses previous_response_id with a clear 400: responses are not stored', async () => {
    const error = await apiError(h.client.responses.create({ model: 'mock/echo', input: 'hi', previous_response_id: 'resp_1' }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('does not store responses');
    expect(error.param).toBe('previous_response_id');
  });

  it('refuses built-in tools and bad input in OpenAI\'s error shape', async () => {
    const tool = await apiError(h.client.responses.create({ model: 'mock/echo', input: 'hi',
      tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }));
    expect(tool.status).toBe(400);
    expect(tool.param).toBe('tools[0].type');
    // Web search reaches the providers with a search of their own (web-search.test.ts); mock has none.
    const search = await apiError(h.client.responses.create({ model: 'mock/echo', input: 'hi', tools: [{ type: 'web_search' }] }));
    expect(search.status).toBe(400);
    expect(search.param).toBe('tools');
    expect(search.message).toContain('web search (web_search)');
    const empty = await apiError(h.client.responses.create({ model: 'mock/echo', input: [] }));
    expect(empty.status).toBe(400);
    expect(empty.param).toBe('input');
  });

  it('passes an upstream status on as the SDK\'s typed error', async () => {
    const error = await apiError(h.client.responses.create({ model: 'compat/gpt-4o-mini-error-429', input: 'hi' }));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.status).toBe(429);
  });

  it('ends a stream that broke mid-way with an error event and response.failed', async () => {
    const events = await collect(await h.client.responses.create({ model: 'compat/gpt-4o-mini-break-after-3', input: 'hi', stream: true }));
    const error = events.find((event) => event.type === 'error') as OpenAI.Responses.ResponseErrorEvent;
    expect(error.code).toBe('stream_interrupted');
    const failed = events.at(-1) as OpenAI.Responses.ResponseFailedEvent;
    expect(failed.type).toBe('response.failed');
    expect(failed.response.error).toMatchObject({ code: 'stream_interrupted' });
  });
});
