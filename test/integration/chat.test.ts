// Non-streamed chat through the real gateway: provider `openai`, a custom OpenAI-compatible provider and the
// built-in mock, with the official SDK as the client; what the upstream saw; request ids; the side routes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, openaiProvider, postChat, startHarness, user, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      providers: {
        openai: openaiProvider(fakeUrl, { network_config: { extra_headers: { 'x-extra-tenant': 'acme', 'openai-organization': 'org-heimdall' } } }),
        myvllm: openaiProvider(`${fakeUrl}/v1`, {
          keys: [{ value: 'vllm-key-1', models: ['*'], weight: 1 }],
          custom_provider_config: { base_provider_type: 'openai' },
        }),
        mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
      },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

describe('chat through provider openai', () => {
  it('answers with the upstream completion and sends the upstream the bare model, the key and extra_headers', async () => {
    const { data, response } = await h.client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: user('what is the capital of France?'), temperature: 0, seed: 7 })
      .withResponse();
    expect(response.status).toBe(200);

    const seen = h.fake.requestsWithId(response.headers.get('x-request-id')!);
    expect(seen).toHaveLength(1);
    const upstream = seen[0];
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.body!.model).toBe('gpt-4o-mini');
    expect(upstream.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(upstream.headers['x-extra-tenant']).toBe('acme');
    expect(upstream.headers['openai-organization']).toBe('org-heimdall');
    // Fields the gateway does not read travel on untouched.
    expect(upstream.body).toMatchObject({ temperature: 0, seed: 7, messages: user('what is the capital of France?') });

    // The answer is the upstream's, byte for byte.
    expect(JSON.stringify(data)).toBe(upstream.responseBody);
    expect(data.choices[0].message.content).toBe(upstream.content);
    expect(data.usage!.total_tokens).toBeGreaterThan(0);
  });

  it('echoes a given x-request-id to the client and passes it to the upstream', async () => {
    const requestId = 'itest-chat-0001';
    const { response, request_id } = await h.client.chat.completions
      .create({ model: 'openai/gpt-4o', messages: user('id please') }, { headers: { 'x-request-id': requestId } })
      .withResponse();
    expect(response.headers.get('x-request-id')).toBe(requestId);
    expect(request_id).toBe(requestId);
    const seen = h.fake.requestsWithId(requestId);
    expect(seen).toHaveLength(1);
    expect(seen[0].body!.model).toBe('gpt-4o');
  });

  it('replaces an x-request-id that is not a plain token (it is echoed in a header)', async () => {
    const response = await postChat(h.url, { model: 'openai/gpt-4o', messages: user('odd id') },
      { 'x-request-id': 'has spaces and "quotes"' });
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id')!;
    expect(id).toMatch(/^[A-Za-z0-9._:@-]{8,128}$/);
    expect(h.fake.requestsWithId(id)).toHaveLength(1);
  });

  it('generates a fresh x-request-id when none is given, and the upstream gets the same one', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const { response } = await h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user(`n${i}`) }).withResponse();
      const id = response.headers.get('x-request-id');
      expect(id).toMatch(/^[A-Za-z0-9._:@-]{8,128}$/);
      expect(h.fake.requestsWithId(id!)).toHaveLength(1);
      ids.add(id!);
    }
    expect(ids.size).toBe(2);
  });

  it('answers a tool call: the SDK gets the function name and arguments', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_stock_price', parameters: { type: 'object', properties: {} } } }];
    const { data, response } = await h.client.chat.completions
      .create({ model: 'openai/gpt-4o-tools', messages: user('price of ACME?'), tools, tool_choice: 'auto' }).withResponse();
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    const call = data.choices[0].message.tool_calls![0];
    if (call.type !== 'function') throw new Error(`expected a function call, got ${call.type}`);
    expect(call.function.name).toBe('get_stock_price');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    const upstream = h.fake.requestsWithId(response.headers.get('x-request-id')!)[0];
    expect(upstream.body!.tools).toEqual(tools);
    expect(upstream.body!.tool_choice).toBe('auto');
  });

  it('carries a 200 KB request, larger than a ring slot, to the upstream intact', async () => {
    // Varied text, so a bug that drops or reorders a slot's worth of bytes cannot go unseen.
    const big = Array.from({ length: 4000 }, (_, i) => `line ${i}: ${'abcdefghij'.repeat(4)}`).join('\n');
    const messages = [
      { role: 'system' as const, content: big.slice(0, 60_000) },
      { role: 'user' as const, content: big },
    ];
    expect(JSON.stringify(messages).length).toBeGreaterThan(200_000);
    const { data, response } = await h.client.chat.completions
      .create({ model: 'openai/gpt-4o', messages }).withResponse();
    const upstream = h.fake.requestsWithId(response.headers.get('x-request-id')!)[0];
    expect(upstream.body!.messages).toEqual(messages);
    // And a reply larger than a slot comes back intact too (the fake echoes the user's text).
    expect(data.choices[0].message.content).toBe(upstream.content);
    expect(data.choices[0].message.content!.length).toBeGreaterThan(200_000);
    expect(h.gateway.pools.get('openai')!.stats()).toMatchObject({ inFlight: 0, slotsInUse: 0 });
  });
});

describe('chat through a custom OpenAI-compatible provider', () => {
  it('routes myvllm/<model> to its base URL with its own key and the bare model name', async () => {
    const { data, response } = await h.client.chat.completions
      .create({ model: 'myvllm/meta-llama/Llama-3.1-8B-Instruct', messages: user('hello vllm') }).withResponse();
    expect(response.status).toBe(200);
    const upstream = h.fake.requestsWithId(response.headers.get('x-request-id')!);
    expect(upstream).toHaveLength(1);
    // A base URL ending in /v1 is not doubled.
    expect(upstream[0].path).toBe('/v1/chat/completions');
    // Only the provider prefix goes: the rest of the name may itself contain '/'.
    expect(upstream[0].body!.model).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(upstream[0].headers.authorization).toBe('Bearer vllm-key-1');
    expect(upstream[0].headers['x-extra-tenant']).toBeUndefined();
    expect(data.choices[0].message.content).toBe(upstream[0].content);
  });
});

describe('the built-in mock provider', () => {
  it('echoes the last user message with no keys configured, and never calls the network', async () => {
    const before = h.fake.requests.length;
    const data = await h.client.chat.completions.create({
      model: 'mock/echo',
      messages: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'ping pong' }],
    });
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'Echo: ping pong' });
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(h.fake.requests.length).toBe(before);
  });

  it('streams the echo in chunks that join back to the reply, ending with [DONE]', async () => {
    const stream = await h.client.chat.completions.create({
      model: 'mock/echo', messages: user('one two three four five six'), stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Echo: one two three four five six');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
  });
});

describe('side routes', () => {
  it('GET /health answers 200 ok', async () => {
    const response = await fetch(`${h.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('GET /v1/models lists mock/echo in OpenAI\'s list shape', async () => {
    const page = await h.client.models.list();
    const ids = page.data.map((model) => model.id);
    expect(ids).toContain('mock/echo');
    for (const model of page.data) expect(model.object).toBe('model');
    expect(page.data.find((model) => model.id === 'mock/echo')!.owned_by).toBe('mock');
  });
});
