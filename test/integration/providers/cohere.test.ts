// Cohere through the real gateway: the `openai` SDK as the client, the faithful Cohere v2 fake as the upstream.
// `npx tsc -b` must have run first.

import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeCohere, type FakeCohere } from '../../fakes/cohere-server.js';
import { apiError, collect, collectUntilFailure, expectEnvelope, type Harness, postChat, sseData, startGatewayWith, user } from '../harness.js';

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

const UPSTREAM_KEY = 'co-upstream-key';
let fake: FakeCohere;
let h: Harness<FakeCohere>;
let url: string;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeCohere({ apiKey: UPSTREAM_KEY });
  const provider = (extra: Record<string, unknown> = {}) => ({
    keys: [{ value: UPSTREAM_KEY, models: ['*'], weight: 1 }],
    network_config: { base_url: fake.url, default_request_timeout_in_seconds: 30 },
    concurrency_and_buffer_size: { concurrency: 100, buffer_size: 100, threads: 1 },
    // This suite fails its one key on purpose, case after case: an open breaker would answer circuit_open instead.
    circuit_breaker: { enabled: false },
    ...extra,
  });
  h = await startGatewayWith(fake, () => ({
    providers: {
      cohere: provider(),
      // Cohere is a base type: a custom provider may speak its API.
      'my-cohere': provider({ custom_provider_config: { base_provider_type: 'cohere' } }),
    },
  }));
  ({ url, client } = h);
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => fake.reset());


async function streamFailure(stream: AsyncIterable<Chunk>): Promise<{ received: Chunk[]; error: APIError }> {
  const { received, failure } = await collectUntilFailure(stream);
  expect(failure).toBeInstanceOf(APIError);
  return { received, error: failure as APIError };
}

const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: { name: 'lookup_weather', description: 'Weather by city', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};

describe('cohere: chat', () => {
  it('sends Cohere\'s v2 request with bearer auth and answers a chat.completion with billed usage', async () => {
    const { data, response } = await client.chat.completions.create({
      model: 'cohere/command-r-plus',
      messages: [{ role: 'system', content: 'be brief' }, ...user('hello cohere')],
      temperature: 0.3, top_p: 0.8, max_tokens: 64, stop: ['\n\n'], seed: 3,
    }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('command-r-plus');
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'You said: hello cohere' });
    expect(data.choices[0].finish_reason).toBe('stop');
    const upstream = fake.requests[0];
    const billed = JSON.parse(upstream.responseBody!).usage.billed_units;
    expect(data.usage).toMatchObject({ prompt_tokens: billed.input_tokens, completion_tokens: billed.output_tokens,
      total_tokens: billed.input_tokens + billed.output_tokens });
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    expect(upstream.path).toBe('/v2/chat');
    expect(upstream.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(upstream.body).toEqual({ model: 'command-r-plus', messages: [{ role: 'system', content: 'be brief' }, ...user('hello cohere')],
      temperature: 0.3, p: 0.8, max_tokens: 64, stop_sequences: ['\n\n'], seed: 3 });
  });

  it('drops what Cohere cannot take and says so in x-heimdall-dropped-params', async () => {
    const { response } = await client.chat.completions.create({ model: 'cohere/command-r-plus', messages: user('hi'),
      user: 'u-1', logit_bias: { 42: 1 } }).withResponse();
    expect(response.headers.get('x-heimdall-dropped-params')!.split(',').sort()).toEqual(['logit_bias', 'user']);
    expect(fake.requests[0].body).not.toHaveProperty('user');
    expect(fake.requests[0].body).not.toHaveProperty('logit_bias');
  });

  it('sends images as Cohere image_url parts (data: and http URLs)', async () => {
    await client.chat.completions.create({ model: 'cohere/command-a-vision', messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
    ] }] });
    expect((fake.requests[0].body!.messages as { content: unknown }[])[0].content).toEqual([
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
    ]);
  });

  it('maps MAX_TOKENS to finish_reason length, and serves a custom provider based on cohere', async () => {
    const data = await client.chat.completions.create({ model: 'cohere/command-r-max-tokens', messages: user('long') });
    expect(data.choices[0].finish_reason).toBe('length');
    const custom = await client.chat.completions.create({ model: 'my-cohere/command-r', messages: user('custom') });
    expect(custom.choices[0].message.content).toBe('You said: custom');
    expect(fake.requests.at(-1)!.path).toBe('/v2/chat');
  });

  it('refuses content Cohere cannot take with a 400 before calling it', async () => {
    const error = await apiError(client.chat.completions.create({ model: 'cohere/command-r', messages: [{ role: 'user',
      content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }));
    expect(error.status).toBe(400);
    expect(error.message).toContain("cannot take 'input_audio' content parts");
    expect(fake.requests).toHaveLength(0);
  });
});

describe('cohere: streams', () => {
  it('turns Cohere\'s typed events into OpenAI chunks: role, content, finish; no usage chunk unless asked', async () => {
    const chunks = await collect(await client.chat.completions.create({ model: 'cohere/command-r-plus', messages: user('stream me'),
      stream: true }));
    const upstream = fake.requests[0];
    expect(upstream.body!.stream).toBe(true);
    expect(upstream.body).not.toHaveProperty('stream_options');
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('You said: stream me');
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
    const messageStart = JSON.parse(upstream.events[0][1]) as { id: string };
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set([messageStart.id]));
  });

  it('sends the usage chunk (billed units) last when include_usage was asked, and [DONE] after it', async () => {
    const response = await postChat(url, { model: 'cohere/command-r-plus', messages: user('count'), stream: true,
      stream_options: { include_usage: true } });
    const events = sseData(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    const last = JSON.parse(events.at(-2)!) as Chunk;
    const end = JSON.parse(fake.requests[0].events.at(-1)![1]) as { delta: { usage: { billed_units: { input_tokens: number; output_tokens: number } } } };
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: end.delta.usage.billed_units.input_tokens,
      completion_tokens: end.delta.usage.billed_units.output_tokens });
  });

  it('streams a tool call as OpenAI tool_calls deltas the SDK reassembles, the tool plan as content', async () => {
    const runner = client.chat.completions.stream({ model: 'cohere/command-r-plus-tools', messages: user('weather?'), tools: [weatherTool] });
    const final = await runner.finalChatCompletion();
    const choice = final.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('I will look up the weather.');
    const call = choice.message.tool_calls![0];
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.id).toMatch(/^lookup_weather_/);
    expect(call.function.name).toBe('lookup_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(fake.requests[0].body!.tools).toEqual([{ type: 'function', function: weatherTool.function }]);
  });

  it.each([
    ['command-r-break-after-3', 'stream_interrupted', 2],
    ['command-r-no-end', 'stream_interrupted', null],
    ['command-r-gen-error', 'stream_interrupted', null],
  ])('%s → the content sent so far, then an SSE error event (%s)', async (model, code, count) => {
    const { received, error } = await streamFailure(await client.chat.completions.create({ model: `cohere/${model}`,
      messages: user('break'), stream: true }));
    expect(error.code).toBe(code);
    expect(received.length).toBeGreaterThan(0);
    expect(received[0].choices[0].delta.role).toBe('assistant');
    if (count !== null) expect(received).toHaveLength(count);
    if (model.endsWith('gen-error')) expect(error.message).toContain('the model failed to generate a response');
  });
});

describe('cohere: tools', () => {
  it('answers a tool call and takes the tool result back in Cohere\'s shape', async () => {
    const data = await client.chat.completions.create({ model: 'cohere/command-r-plus-tools', messages: user('weather?'),
      tools: [weatherTool], tool_choice: 'required' });
    expect(fake.requests[0].body!.tool_choice).toBe('REQUIRED');
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    const call = data.choices[0].message.tool_calls![0];
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('lookup_weather');

    const followUp = await client.chat.completions.create({ model: 'cohere/command-r-plus', tools: [weatherTool], messages: [
      ...user('weather?'),
      data.choices[0].message,
      { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' },
    ] });
    expect(followUp.choices[0].finish_reason).toBe('stop');
    expect((fake.requests[1].body!.messages as unknown[]).slice(1)).toEqual([
      { role: 'assistant', tool_plan: 'I will look up the weather.', tool_calls: [{ id: call.id, type: 'function',
        function: { name: 'lookup_weather', arguments: call.function.arguments } }] },
      { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' },
    ]);
  });
});

describe('cohere: errors', () => {
  it.each([
    [400, OpenAI.BadRequestError, 'upstream_bad_request', 'invalid request'],
    [401, OpenAI.AuthenticationError, 'upstream_auth', 'invalid api token'],
    [429, OpenAI.RateLimitError, 'upstream_rate_limited', 'Trial key'],
    [500, OpenAI.InternalServerError, 'upstream_error', 'internal server error'],
  ])('Cohere %i → the mapped status in the OpenAI envelope with Cohere\'s message', async (status, ErrorClass, code, message) => {
    for (const stream of [false, true]) {
      const error = await apiError(client.chat.completions.create({ model: `cohere/command-r-error-${status}`,
        messages: user('hi'), stream }));
      expect(error).toBeInstanceOf(ErrorClass);
      expect(error.status).toBe(status === 500 ? 502 : status);
      expectEnvelope({ error: error.error }, code);
      expect(error.message).toContain(message);
      if (status === 429) expect(error.headers?.get('retry-after')).toBe('1');
    }
  });
});

describe('cohere: embeddings', () => {
  it('embeds through /v2/embed and answers an OpenAI list, base64 by the SDK\'s default, floats on request', async () => {
    const result = await client.embeddings.create({ model: 'cohere/embed-english-v3.0', input: ['first', 'second'] });
    expect(result.data.map((item) => item.index)).toEqual([0, 1]);
    expect(result.data[0].embedding).toHaveLength(8);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    const upstream = fake.requests[0];
    expect(upstream.path).toBe('/v2/embed');
    expect(upstream.body).toEqual({ model: 'embed-english-v3.0', texts: ['first', 'second'], input_type: 'search_document',
      embedding_types: ['float'] });
    const vectors = JSON.parse(upstream.responseBody!).embeddings.float as number[][];
    expect(result.data[1].embedding).toEqual(vectors[1].map((v) => Math.fround(v)));
    const floats = await client.embeddings.create({ model: 'cohere/embed-english-v3.0', input: 'first', encoding_format: 'float' });
    expect(floats.data[0].embedding).toEqual(vectors[0]);
  });
});
