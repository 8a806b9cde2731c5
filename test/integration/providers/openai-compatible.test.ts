// The OpenAI-compatible family through the real gateway: one gateway with every provider of the family, each
// pointed (network_config.base_url) at its own path prefix on one fake OpenAI server, and the same scenarios
// for each — chat, streams with and without usage, tools, errors, a broken stream, dropped parameters,
// embeddings and images where the provider has them, one clear 400 where it does not. The fake records what
// each provider's adapter sent: the path, the key (none for keyless servers) and the bare model name.

import OpenAI, { APIError } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openaiRoute, type FakeRoute, type RecordedRequest } from '../../fakes/openai-server.js';
import { apiError, collect, collectUntilFailure, type Harness, startHarness, user } from '../harness.js';

interface Case {
  id: string;
  /** A model name as the provider spells it (some contain a '/'). */
  model: string;
  /** Where the provider's chat endpoint is, under its base URL. */
  chatPath: string;
  /** The configured key; null for a keyless server configured without one. */
  key: string | null;
  /** False when the provider refuses stream_options and sends the usage on its last chunk unasked. */
  streamOptions: boolean;
  tools: boolean;
  vision: boolean;
  embeddings: boolean;
  /** A request field this provider cannot take (with the model to send it to), or null when it takes everything. */
  drop: { model?: string; body: Record<string, unknown>; param: string } | null;
}

const CASES: Case[] = [
  { id: 'mistral', model: 'mistral-small-latest', chatPath: '/v1/chat/completions', key: 'sk-mistral', streamOptions: false,
    tools: true, vision: true, embeddings: true, drop: { body: { user: 'end-user-1' }, param: 'user' } },
  { id: 'groq', model: 'llama-3.3-70b-versatile', chatPath: '/v1/chat/completions', key: 'gsk-groq', streamOptions: true,
    tools: true, vision: true, embeddings: false, drop: { body: { logprobs: true }, param: 'logprobs' } },
  { id: 'ollama', model: 'llama3.2', chatPath: '/v1/chat/completions', key: null, streamOptions: true,
    tools: true, vision: true, embeddings: true, drop: { body: { logit_bias: { 50256: -100 } }, param: 'logit_bias' } },
  { id: 'openrouter', model: 'openai/gpt-4o-mini', chatPath: '/v1/chat/completions', key: 'sk-or-router', streamOptions: true,
    tools: true, vision: true, embeddings: true, drop: null },
  { id: 'xai', model: 'grok-3', chatPath: '/v1/chat/completions', key: 'xai-key', streamOptions: true,
    tools: true, vision: true, embeddings: false, drop: { model: 'grok-3-mini', body: { stop: ['END'] }, param: 'stop' } },
  { id: 'deepseek', model: 'deepseek-chat', chatPath: '/v1/chat/completions', key: 'sk-deepseek', streamOptions: true,
    tools: true, vision: false, embeddings: false, drop: { model: 'deepseek-reasoner', body: { temperature: 0.3 }, param: 'temperature' } },
  { id: 'cerebras', model: 'llama-3.3-70b', chatPath: '/v1/chat/completions', key: 'csk-cerebras', streamOptions: false,
    tools: true, vision: false, embeddings: false, drop: { body: { presence_penalty: 0.5 }, param: 'presence_penalty' } },
  { id: 'perplexity', model: 'sonar', chatPath: '/chat/completions', key: 'pplx-key', streamOptions: true,
    tools: false, vision: true, embeddings: false, drop: { body: { n: 2 }, param: 'n' } },
  { id: 'together', model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', chatPath: '/v1/chat/completions', key: 'tg-key', streamOptions: true,
    tools: true, vision: true, embeddings: true, drop: null },
  { id: 'fireworks', model: 'accounts/fireworks/models/llama-v3p1-8b-instruct', chatPath: '/v1/chat/completions', key: 'fw-key',
    streamOptions: true, tools: true, vision: true, embeddings: true, drop: null },
  { id: 'vllm', model: 'Qwen/Qwen2.5-7B-Instruct', chatPath: '/v1/chat/completions', key: null, streamOptions: true,
    tools: true, vision: true, embeddings: true, drop: null },
  // Keyless too, but configured with a key: it is sent.
  { id: 'sglang', model: 'meta-llama/Llama-3.1-8B-Instruct', chatPath: '/v1/chat/completions', key: 'sk-sglang', streamOptions: true,
    tools: true, vision: true, embeddings: true, drop: null },
  { id: 'huggingface', model: 'meta-llama/Llama-3.1-8B-Instruct:novita', chatPath: '/v1/chat/completions', key: 'hf_token',
    streamOptions: true, tools: true, vision: true, embeddings: false, drop: null },
  { id: 'parasail', model: 'parasail-llama-33-70b-fp8', chatPath: '/v1/chat/completions', key: 'ps-key', streamOptions: true,
    tools: true, vision: true, embeddings: false, drop: { body: { service_tier: 'auto' }, param: 'service_tier' } },
  { id: 'nebius', model: 'meta-llama/Meta-Llama-3.1-70B-Instruct', chatPath: '/v1/chat/completions', key: 'nb-key', streamOptions: true,
    tools: true, vision: true, embeddings: true, drop: null },
];

const byId = new Map(CASES.map((c) => [c.id, c]));

/** Each provider is a server of its own under `/<id>`: only its real paths exist there. */
function route(path: string): FakeRoute | null {
  const slash = path.indexOf('/', 1);
  const c = slash > 0 ? byId.get(path.slice(1, slash)) : undefined;
  if (!c) return openaiRoute(path);
  const rest = path.slice(slash);
  const keyless = c.key === null;
  if (rest === c.chatPath) return { endpoint: 'chat', keyless, ...(c.streamOptions ? {} : { scenario: { usageUnasked: true } }) };
  if (c.embeddings && rest === '/v1/embeddings') return { endpoint: 'embeddings', keyless };
  return null;
}

let h: Harness;
let client: OpenAI;

beforeAll(async () => {
  h = await startHarness({
    fake: { route },
    config: (fakeUrl) => ({
      providers: Object.fromEntries(CASES.map((c) => [c.id, {
        ...(c.key ? { keys: [{ value: c.key, models: ['*'], weight: 1 }] } : {}),
        network_config: { base_url: `${fakeUrl}/${c.id}`, default_request_timeout_in_seconds: 10 },
        concurrency_and_buffer_size: { concurrency: 20, buffer_size: 20, threads: 1 },
      }])),
    }),
  });
  client = h.client;
});

afterAll(async () => {
  await h?.close();
});

let sequence = 0;
/** A request id to find the upstream call by. */
const nextId = (c: Case) => `${c.id}-${++sequence}`;

/** The one request the fake got for this request id. */
function upstream(requestId: string): RecordedRequest {
  const seen = h.fake.requestsWithId(requestId);
  expect(seen).toHaveLength(1);
  return seen[0];
}

/** What every call of the case must look like upstream: its path, its key (or none), the bare model. */
function expectCall(c: Case, seen: RecordedRequest, path: string, model = c.model): void {
  expect(seen.path).toBe(`/${c.id}${path}`);
  expect(seen.headers.authorization).toBe(c.key === null ? undefined : `Bearer ${c.key}`);
  expect(seen.body?.model).toBe(model);
}


const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};

const image = [{ role: 'user' as const, content: [
  { type: 'text' as const, text: 'What is in this picture?' },
  { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==' } },
] }];

describe.each(CASES)('$id', (c) => {
  const model = (suffix = '') => `${c.id}/${c.model}${suffix}`;

  it('chat: answers with usage; the fake saw its path, its key and the bare model', async () => {
    const requestId = nextId(c);
    const answer = await client.chat.completions.create({ model: model(), messages: user(`hello ${c.id}`) },
      { headers: { 'x-request-id': requestId } });
    expect(answer.choices[0].message.content).toContain(`hello ${c.id}`);
    expect(answer.choices[0].finish_reason).toBe('stop');
    expect(answer.usage!.total_tokens).toBeGreaterThan(0);
    expectCall(c, upstream(requestId), c.chatPath);
  });

  it('stream with include_usage: the content, then one usage chunk with no choices', async () => {
    const requestId = nextId(c);
    const chunks = await collect(await client.chat.completions.create(
      { model: model(), messages: user('stream please'), stream: true, stream_options: { include_usage: true } },
      { headers: { 'x-request-id': requestId } }));
    const seen = upstream(requestId);
    expectCall(c, seen, c.chatPath);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(seen.content);
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.total_tokens).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((chunk) => !chunk.usage)).toBe(true);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
    // Asked for unless the provider refuses the field.
    expect(seen.body?.stream_options).toEqual(c.streamOptions ? { include_usage: true } : undefined);
  });

  it('stream without include_usage: no usage reaches the client', async () => {
    const requestId = nextId(c);
    const response = await client.chat.completions.create({ model: model(), messages: user('withoutusage'), stream: true },
      { headers: { 'x-request-id': requestId } }).asResponse();
    const text = await response.text();
    expect(text).toContain('withoutusage');
    expect(text).not.toContain('"usage"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expectCall(c, upstream(requestId), c.chatPath);
  });

  if (c.tools) {
    it('tools: the call comes back as OpenAI tool_calls', async () => {
      const requestId = nextId(c);
      const answer = await client.chat.completions.create(
        { model: model('-tools'), messages: user('weather in Paris?'), tools: [weatherTool] },
        { headers: { 'x-request-id': requestId } });
      const seen = upstream(requestId);
      expectCall(c, seen, c.chatPath, `${c.model}-tools`);
      expect(seen.body?.tools).toEqual([weatherTool]);
      expect(answer.choices[0].finish_reason).toBe('tool_calls');
      const call = answer.choices[0].message.tool_calls![0];
      expect(call.type === 'function' && call.function.name).toBe('get_weather');
      expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    });

    it('streamed tools: id and name first, then the arguments in pieces', async () => {
      const chunks = await collect(await client.chat.completions.create(
        { model: model('-tools'), messages: user('weather?'), tools: [weatherTool], stream: true }));
      const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      expect(deltas[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), function: { name: 'get_weather' } });
      expect(deltas.length).toBeGreaterThan(2);
      expect(JSON.parse(deltas.map((delta) => delta.function?.arguments ?? '').join(''))).toEqual({ location: 'Paris', unit: 'celsius' });
      expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
    });
  } else {
    it('tools: refused with one clear 400 before any call', async () => {
      const before = h.fake.requests.length;
      const error = await apiError(client.chat.completions.create({ model: model(), messages: user('hi'), tools: [weatherTool] }));
      expect(error.status).toBe(400);
      expect(error.code).toBe('unsupported_capability');
      expect(error.message).toContain(`provider '${c.id}' does not support tools`);
      expect(h.fake.requests.length).toBe(before);
    });
  }

  it.each([
    [400, OpenAI.BadRequestError, 400, 'upstream_bad_request'],
    [401, OpenAI.AuthenticationError, 401, 'upstream_auth'],
    [429, OpenAI.RateLimitError, 429, 'upstream_rate_limited'],
    [500, OpenAI.InternalServerError, 502, 'upstream_error'],
  ])('upstream %i → %o status %i %s, with the provider\'s message', async (status, ErrorClass, expected, code) => {
    const error = await apiError(client.chat.completions.create({ model: model(`-error-${status}`), messages: user('hi') }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.status).toBe(expected);
    expect(error.code).toBe(code);
    expect(error.message).toContain(`${c.id}: `);
    if (status === 429) expect(error.headers?.get('retry-after')).toBe('1');
  });

  it('a stream that breaks off after it started → an SSE error event the SDK throws', async () => {
    const stream = await client.chat.completions.create({ model: model('-break-after-2'), messages: user('break'), stream: true });
    const { received, failure } = await collectUntilFailure(stream);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('stream_interrupted');
    expect(received).toHaveLength(2);
  });

  if (c.drop) {
    const drop = c.drop;
    it(`drops ${drop.param}, which it cannot take, and says so in x-heimdall-dropped-params`, async () => {
      const requestId = nextId(c);
      const body = { model: `${c.id}/${drop.model ?? c.model}`, messages: user('drop it'), ...drop.body } as ChatCompletionCreateParamsNonStreaming;
      const { response } = await client.chat.completions.create(body, { headers: { 'x-request-id': requestId } }).withResponse();
      expect(response.headers.get('x-heimdall-dropped-params')).toBe(drop.param);
      const seen = upstream(requestId);
      expectCall(c, seen, c.chatPath, drop.model ?? c.model);
      expect(seen.body).not.toHaveProperty(drop.param);
    });
  } else {
    it('takes every OpenAI parameter: nothing is dropped', async () => {
      const requestId = nextId(c);
      const { response } = await client.chat.completions.create(
        { model: model(), messages: user('keep it'), logit_bias: { 50256: -100 }, n: 1, seed: 7, user: 'u-1' },
        { headers: { 'x-request-id': requestId } }).withResponse();
      expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
      expect(upstream(requestId).body).toMatchObject({ logit_bias: { 50256: -100 }, n: 1, seed: 7, user: 'u-1' });
    });
  }

  if (c.embeddings) {
    it('embeddings: one vector per input, from its embeddings path', async () => {
      const requestId = nextId(c);
      const result = await client.embeddings.create({ model: `${c.id}/embed-model`, input: ['first', 'second'] },
        { headers: { 'x-request-id': requestId } });
      expect(result.data.map((item) => item.embedding.length)).toEqual([8, 8]);
      expect(result.usage.prompt_tokens).toBeGreaterThan(0);
      const seen = upstream(requestId);
      expectCall(c, seen, '/v1/embeddings', 'embed-model');
      expect(seen.body).toMatchObject({ input: ['first', 'second'] });
    });
  } else {
    it('embeddings: refused with one clear 400 before any call', async () => {
      const before = h.fake.requests.length;
      const error = await apiError(client.embeddings.create({ model: `${c.id}/embed-model`, input: 'x' }));
      expect(error.status).toBe(400);
      expect(error.code).toBe('unsupported_capability');
      expect(error.message).toContain(`provider '${c.id}' does not support embeddings`);
      expect(h.fake.requests.length).toBe(before);
    });
  }

  if (c.vision) {
    it('images: the content parts go through as sent', async () => {
      const requestId = nextId(c);
      await client.chat.completions.create({ model: model(), messages: image }, { headers: { 'x-request-id': requestId } });
      expect(upstream(requestId).body?.messages).toEqual(image);
    });
  } else {
    it('images: refused with one clear 400 before any call', async () => {
      const before = h.fake.requests.length;
      const error = await apiError(client.chat.completions.create({ model: model(), messages: image }));
      expect(error.status).toBe(400);
      expect(error.code).toBe('unsupported_capability');
      expect(error.message).toContain(`provider '${c.id}' does not support image inputs`);
      expect(h.fake.requests.length).toBe(before);
    });
  }
});
