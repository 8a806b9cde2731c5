// Contract tests for provider `anthropic` through the real, built gateway: the `openai` SDK is the client, the
// fake Anthropic Messages API (proved with Anthropic's SDK in test/fakes/anthropic-server.test.ts) the upstream.
// Each scenario checks both ends: what the client got, and what reached the upstream.

import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type AnthropicRecordedRequest, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { apiError, collect, collectUntilFailure, expectEnvelope, type Harness, postChat, sseData, startGatewayWith, user } from '../harness.js';

const KEY = 'sk-ant-test-upstream';
type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

let fake: FakeAnthropic;
let h: Harness<FakeAnthropic>;
let requestCounter = 0;

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: KEY });
  const provider = (extra: Record<string, unknown> = {}) => ({
    keys: [{ value: KEY, models: ['*'], weight: 1 }],
    network_config: { base_url: fake.url, default_request_timeout_in_seconds: 30 },
    concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 },
    ...extra,
  });
  h = await startGatewayWith(fake, () => ({ providers: {
    anthropic: provider(),
    // A custom provider on the anthropic adapter, as an Anthropic-compatible proxy would be configured.
    claudeproxy: provider({ custom_provider_config: { base_provider_type: 'anthropic' } }),
  } }));
});

afterAll(async () => {
  await h?.close();
});

const nextId = () => `anthropic-itest-${++requestCounter}`;
/** The one upstream request the gateway made for this request id. */
function upstreamOf(requestId: string): AnthropicRecordedRequest {
  const seen = fake.requestsWithId(requestId);
  expect(seen).toHaveLength(1);
  return seen[0];
}


const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};

describe('chat through provider anthropic', () => {
  it('answers a chat.completion converted from the Messages answer; the upstream got a Messages request', async () => {
    const requestId = nextId();
    const { data, response } = await h.client.chat.completions.create({
      model: 'anthropic/claude-sonnet-5',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'what is the capital of France?' }],
      temperature: 0.2, stop: ['STOP'],
    }, { headers: { 'x-request-id': requestId } }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('claude-sonnet-5');
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'Hello! You said: what is the capital of France?' });
    expect(data.choices[0].finish_reason).toBe('stop');

    const upstream = upstreamOf(requestId);
    expect(upstream.path).toBe('/v1/messages');
    expect(upstream.headers['x-api-key']).toBe(KEY);
    expect(upstream.headers.authorization).toBeUndefined();
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expect(upstream.body).toEqual({ model: 'claude-sonnet-5', max_tokens: 4096, system: 'Be brief.',
      messages: [{ role: 'user', content: 'what is the capital of France?' }], temperature: 0.2, stop_sequences: ['STOP'] });
    const usage = JSON.parse(upstream.responseBody!).usage;
    expect(data.usage).toMatchObject({ prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens,
      total_tokens: usage.input_tokens + usage.output_tokens });
  });

  it('serves a custom provider whose base_provider_type is anthropic', async () => {
    const data = await h.client.chat.completions.create({ model: 'claudeproxy/claude-haiku-5-5', messages: user('hi proxy') });
    expect(data.choices[0].message.content).toBe('Hello! You said: hi proxy');
  });

  it('counts cache reads and writes into prompt_tokens, reads as cached_tokens', async () => {
    const data = await h.client.chat.completions.create({ model: 'anthropic/claude-cache', messages: user('cached?') });
    const usage = data.usage!;
    expect(usage.prompt_tokens).toBe(12 + 2048 + 512);
    expect(usage.prompt_tokens_details?.cached_tokens).toBe(2048);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
  });

  it.each([
    ['max_tokens', { max_tokens: 2 }, 'length'],
    ['max_completion_tokens', { max_completion_tokens: 2 }, 'length'],
    ['a stop sequence', { stop: 'said' }, 'stop'],
    ['a refusal', { model: 'anthropic/claude-refusal' }, 'content_filter'],
  ])('maps the stop reason for %s to its finish_reason', async (_what, extra, finish) => {
    const data = await h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5', messages: user('one two three'), ...extra });
    expect(data.choices[0].finish_reason).toBe(finish);
  });

  it('reports the parameters Anthropic cannot take in x-heimdall-dropped-params, and does not send them', async () => {
    const requestId = nextId();
    const { response } = await h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5', messages: user('hi'),
      seed: 7, presence_penalty: 0.5, n: 1, logprobs: true, response_format: { type: 'json_object' } },
    { headers: { 'x-request-id': requestId } }).withResponse();
    expect(response.headers.get('x-heimdall-dropped-params')!.split(',').sort())
      .toEqual(['logprobs', 'presence_penalty', 'response_format', 'seed']);
    const body = upstreamOf(requestId).body!;
    for (const name of ['seed', 'presence_penalty', 'n', 'logprobs', 'response_format']) expect(body).not.toHaveProperty(name);
  });

  it('maps reasoning_effort and returns thinking as reasoning_content with signed thinking_blocks', async () => {
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: 'anthropic/claude-thinking', messages: user('hello'),
      reasoning_effort: 'high' }, { headers: { 'x-request-id': requestId } });
    expect(upstreamOf(requestId).body!.output_config).toEqual({ effort: 'high' });
    const message = data.choices[0].message as unknown as { content: string; reasoning_content: string;
      thinking_blocks: { type: string; thinking: string; signature: string }[] };
    expect(message.content).toBe('Hello! You said: hello');
    expect(message.reasoning_content).toContain('short, friendly answer');
    expect(message.thinking_blocks[0].signature.length).toBeGreaterThan(20);

    // Handed back on the next turn, the signed block reaches Anthropic as a thinking block.
    const nextRequest = nextId();
    await h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5', messages: [
      ...user('hello'), { role: 'assistant', content: message.content, thinking_blocks: message.thinking_blocks } as never, ...user('again'),
    ] }, { headers: { 'x-request-id': nextRequest } });
    expect(upstreamOf(nextRequest).body!.messages![1].content).toEqual([message.thinking_blocks[0], { type: 'text', text: message.content }]);
  });

  it('sends images as base64 and URL sources', async () => {
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5', messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is in these?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
    ] }] }, { headers: { 'x-request-id': requestId } });
    expect(data.choices[0].message.content).toContain('what is in these?');
    const content = upstreamOf(requestId).body!.messages![0].content as { type: string; source?: { type: string } }[];
    expect(content.map((block) => block.source?.type ?? block.type)).toEqual(['text', 'base64', 'url']);
  });

  it('refuses with 400 what it cannot convert, without calling the upstream', async () => {
    const before = fake.requests.length;
    const error = await apiError(h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5', messages: [{ role: 'user',
      content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }] }] }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain("anthropic: messages[0].content[0]: image type 'image/tiff'");
    expect(fake.requests.length).toBe(before);
  });

  it('refuses embeddings: Anthropic has none', async () => {
    const error = await apiError(h.client.embeddings.create({ model: 'anthropic/claude-sonnet-5', input: 'x' }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_capability');
  });
});

describe('tools through provider anthropic', () => {
  it('answers a tool call as OpenAI tool_calls, with the text said before it', async () => {
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: 'anthropic/claude-tools', messages: user('weather in Paris?'),
      tools: [weatherTool], tool_choice: 'required', parallel_tool_calls: false }, { headers: { 'x-request-id': requestId } });
    const choice = data.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe("I'll look that up.");
    const call = choice.message.tool_calls![0];
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.id).toMatch(/^toolu_/);
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(upstreamOf(requestId).body).toMatchObject({
      tools: [{ name: 'get_weather', description: 'Weather by city', input_schema: weatherTool.function.parameters }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
    });
  });

  it('sends the tool results back as tool_result blocks, which the upstream accepts', async () => {
    const first = await h.client.chat.completions.create({ model: 'anthropic/claude-tools', messages: user('weather?'), tools: [weatherTool] });
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5', tools: [weatherTool], messages: [
      ...user('weather?'),
      first.choices[0].message,
      { role: 'tool', tool_call_id: first.choices[0].message.tool_calls![0].id, content: '18°C and sunny' },
    ] }, { headers: { 'x-request-id': requestId } });
    expect(data.choices[0].finish_reason).toBe('stop');
    const messages = upstreamOf(requestId).body!.messages!;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[2].content).toEqual([{ type: 'tool_result', tool_use_id: first.choices[0].message.tool_calls![0].id, content: '18°C and sunny' }]);
  });

  it('streams tool calls as tool_calls deltas that the SDK reassembles', async () => {
    const requestId = nextId();
    const runner = h.client.chat.completions.stream({ model: 'anthropic/claude-tools', messages: user('weather?'), tools: [weatherTool] },
      { headers: { 'x-request-id': requestId } });
    const chunks: Chunk[] = [];
    runner.on('chunk', (chunk) => chunks.push(chunk));
    const final = await runner.finalChatCompletion();
    const choice = final.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe("I'll look that up.");
    const call = choice.message.tool_calls![0];
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    const fragments = chunks.filter((c) => c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments);
    expect(fragments.length).toBeGreaterThan(1);
    expect(chunks.find((c) => c.choices[0]?.delta.tool_calls)!.choices[0].delta.tool_calls![0]).toMatchObject({ index: 0, id: call.id,
      type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(upstreamOf(requestId).body!.stream).toBe(true);
  });
});

describe('streams through provider anthropic', () => {
  it('streams a role chunk, content deltas and a finish chunk, without usage unless asked', async () => {
    const requestId = nextId();
    const { data: stream, response } = await h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5',
      messages: user('stream me'), stream: true }, { headers: { 'x-request-id': requestId } }).withResponse();
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const chunks = await collect(stream);
    expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(upstreamOf(requestId).content);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.usage === undefined)).toBe(true);
  });

  it('ends with the usage chunk, cache tokens included, when include_usage is asked', async () => {
    const chunks = await collect(await h.client.chat.completions.create({ model: 'anthropic/claude-cache', messages: user('usage'),
      stream: true, stream_options: { include_usage: true } }));
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 12 + 2048 + 512, prompt_tokens_details: { cached_tokens: 2048 } });
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
  });

  it('streams thinking as reasoning_content deltas', async () => {
    const chunks = await collect(await h.client.chat.completions.create({ model: 'anthropic/claude-thinking', messages: user('think'),
      stream: true }));
    const reasoning = chunks.map((c) => (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '').join('');
    expect(reasoning).toBe('The user greets me; a short, friendly answer fits.');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello! You said: think');
  });

  it('reports dropped parameters on a stream too', async () => {
    const { data: stream, response } = await h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5',
      messages: user('hi'), stream: true, frequency_penalty: 1 }).withResponse();
    expect(response.headers.get('x-heimdall-dropped-params')).toBe('frequency_penalty');
    await collect(stream);
  });

  it.each([
    ['breaks off mid-stream', 'anthropic/claude-break-after-4'],
    ['ends without message_stop', 'anthropic/claude-no-stop'],
    ['sends an error event mid-stream', 'anthropic/claude-stream-error'],
  ])('turns an upstream that %s into an SSE error event the SDK throws', async (_what, model) => {
    const stream = await h.client.chat.completions.create({ model, messages: user('break please'), stream: true });
    const { received, failure } = await collectUntilFailure(stream);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('stream_interrupted');
    expect((failure as APIError).type).toBe('api_error');
    expect(received[0].choices[0].delta.role).toBe('assistant');
    expect(received.length).toBeGreaterThanOrEqual(2);
  });

  it('ends the connection cleanly after the error event (raw view)', async () => {
    const response = await postChat(h.url, { model: 'anthropic/claude-stream-error', messages: user('raw'), stream: true });
    expect(response.status).toBe(200);
    const body = await response.text();
    const events = sseData(body);
    const error = expectEnvelope(JSON.parse(events.at(-1)!), 'stream_interrupted');
    expect(error.message).toContain('anthropic: Overloaded');
    expect(body).not.toContain('[DONE]');
  });
});

describe('errors through provider anthropic', () => {
  it.each([
    [400, 400, OpenAI.BadRequestError, 'upstream_bad_request', 'invalid_request_error'],
    [401, 401, OpenAI.AuthenticationError, 'upstream_auth', 'authentication_error'],
    [403, 403, OpenAI.PermissionDeniedError, 'upstream_forbidden', 'permission_error'],
    [404, 404, OpenAI.NotFoundError, 'upstream_not_found', 'invalid_request_error'],
    [429, 429, OpenAI.RateLimitError, 'upstream_rate_limited', 'rate_limit_error'],
    [500, 502, OpenAI.InternalServerError, 'upstream_error', 'api_error'],
    [529, 503, OpenAI.InternalServerError, 'upstream_unavailable', 'api_error'],
  ])('upstream %i → %i in the OpenAI envelope', async (upstream, status, ErrorClass, code, type) => {
    const error = await apiError(h.client.chat.completions.create({ model: `anthropic/claude-error-${upstream}`, messages: user('fail') }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(error.type).toBe(type);
    expectEnvelope({ error: error.error }, code);
    // The provider's own message, read out of Anthropic's envelope.
    const upstreamError = JSON.parse(fake.requests.at(-1)!.responseBody!).error;
    expect(error.message).toBe(`${status} anthropic: ${upstreamError.message}`);
    if (upstream === 429) expect(error.headers?.get('retry-after')).toBe('1');
  });

  it("passes the upstream's 400 message through when Anthropic refuses the converted request", async () => {
    // Anthropic refuses temperatures over 1, which OpenAI allows: the gateway forwards the value and the refusal.
    const error = await apiError(h.client.chat.completions.create({ model: 'anthropic/claude-sonnet-5', messages: user('hot'), temperature: 1.5 }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('anthropic: temperature: Input should be less than or equal to 1');
  });
});
