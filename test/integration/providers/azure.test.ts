// Azure OpenAI through the real gateway: the `openai` SDK as the client, the faithful Azure fake as the upstream
// (network_config.base_url points at it; the key's azure_key_config maps models to deployments). `npx tsc -b`
// must have run first.

import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAzure, type FakeAzure } from '../../fakes/azure-server.js';
import { apiError, azureProvider, collect, collectUntilFailure, expectEnvelope, type Harness, postChat, sseData, startGatewayWith, user } from '../harness.js';


const UPSTREAM_KEY = 'azure-upstream-key';
let fake: FakeAzure;
let h: Harness<FakeAzure>;
let url: string;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeAzure({ apiKey: UPSTREAM_KEY, deployments: { 'prod-gpt4o': 'gpt-4o-2024-08-06', 'emb-small': 'text-embedding-3-small' } });
  h = await startGatewayWith(fake, (fakeUrl) => ({
    providers: {
      azure: azureProvider(fakeUrl, UPSTREAM_KEY),
    },
  }));
  ({ url, client } = h);
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => fake.reset());


const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: { name: 'lookup_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};

describe('azure: chat', () => {
  it('answers on the mapped deployment with the api-key header, no model in the body, and usage', async () => {
    const { data, response } = await client.chat.completions.create(
      { model: 'azure/gpt-4o', messages: user('hello azure'), temperature: 0.3, seed: 4, user: 'u-1' }).withResponse();
    expect(data.choices[0].message.content).toBe('You said: hello azure');
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.model).toBe('gpt-4o-2024-08-06');
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    // Azure takes every OpenAI parameter: nothing dropped, no header.
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    const upstream = fake.requests[0];
    expect(upstream.path).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    expect(upstream.headers['api-key']).toBe(UPSTREAM_KEY);
    expect(upstream.headers.authorization).toBeUndefined();
    expect(upstream.body).toEqual({ messages: user('hello azure'), temperature: 0.3, seed: 4, user: 'u-1' });
  });

  it('uses the model name as the deployment when the map does not list it', async () => {
    await client.chat.completions.create({ model: 'azure/gpt-4o-mini', messages: user('hi') });
    expect(fake.requests[0].deployment).toBe('gpt-4o-mini');
  });

  it('passes images through as OpenAI parts (data: and http URLs)', async () => {
    const content: OpenAI.Chat.Completions.ChatCompletionContentPart[] = [
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
    ];
    await client.chat.completions.create({ model: 'azure/gpt-4o', messages: [{ role: 'user', content }] });
    expect((fake.requests[0].body!.messages as { content: unknown }[])[0].content).toEqual(content);
  });

  it('keeps finish_reason content_filter', async () => {
    const data = await client.chat.completions.create({ model: 'azure/gpt-4o-filtered', messages: user('hi') });
    expect(data.choices[0].finish_reason).toBe('content_filter');
  });
});

describe('azure: streams', () => {
  it('keeps the prompt annotation (empty choices) from the client, relays the chunks, and no usage chunk unless asked', async () => {
    const chunks = await collect(await client.chat.completions.create({ model: 'azure/gpt-4o', messages: user('stream me'), stream: true }));
    const upstream = fake.requests[0];
    expect(upstream.body!.stream_options).toEqual({ include_usage: true });
    expect(JSON.parse(upstream.events[0]).prompt_filter_results).toBeDefined();
    expect(chunks.every((c) => c.choices.length === 1 && c.choices[0].delta !== undefined)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(upstream.content);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
    // Every upstream event but the prompt annotation, the usage chunk and [DONE] reached the client.
    expect(chunks).toHaveLength(upstream.events.length - 3);
  });

  it('sends the usage chunk last when include_usage was asked', async () => {
    const chunks = await collect(await client.chat.completions.create({ model: 'azure/gpt-4o', messages: user('count'), stream: true,
      stream_options: { include_usage: true } }));
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + last.usage!.completion_tokens);
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('ends the raw SSE with data: [DONE] and no annotation frame', async () => {
    const response = await postChat(url, { model: 'azure/gpt-4o', messages: user('raw'), stream: true });
    expect(response.status).toBe(200);
    const events = sseData(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.join('\n')).not.toContain('prompt_filter_results');
    expect(events.join('\n')).not.toContain('"object":""');
  });

  it('drops the asynchronous filter\'s annotation frames and delivers its content_filter finish as a real chunk', async () => {
    fake.script('gpt-4o-async-filter', { asyncFilter: true, completionFiltered: true });
    const chunks = await collect(await client.chat.completions.create({ model: 'azure/gpt-4o-async-filter', messages: user('hi'), stream: true }));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.choices[0].delta !== undefined)).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.choices[0].finish_reason).toBe('content_filter');
    expect(last.id).toBe(chunks[0].id);
    expect(last.id).toMatch(/^chatcmpl-/);
  });

  it('turns a stream that breaks off into an SSE error event the SDK throws', async () => {
    const stream = await client.chat.completions.create({ model: 'azure/gpt-4o-break-after-4', messages: user('break'), stream: true });
    const { received, failure } = await collectUntilFailure(stream);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('stream_interrupted');
    // The prompt annotation was one of the four events; the other three reached the client first.
    expect(received).toHaveLength(3);
  });
});

describe('azure: tools', () => {
  it('answers a tool call, non-streamed and streamed', async () => {
    const data = await client.chat.completions.create({ model: 'azure/gpt-4o-tools', messages: user('weather?'), tools: [weatherTool],
      tool_choice: 'auto' });
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    const call = data.choices[0].message.tool_calls![0];
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('lookup_weather');
    expect(fake.requests[0].body!.tools).toEqual([weatherTool]);

    const final = await client.chat.completions.stream({ model: 'azure/gpt-4o-tools', messages: user('weather?'), tools: [weatherTool] })
      .finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const streamed = final.choices[0].message.tool_calls![0];
    if (streamed.type !== 'function') throw new Error('expected a function call');
    expect(streamed.function.name).toBe('lookup_weather');
    expect(JSON.parse(streamed.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
  });
});

describe('azure: errors', () => {
  it.each([
    ['gpt-4o-error-400', 400, OpenAI.BadRequestError, 'upstream_bad_request', "Invalid value for 'messages'"],
    ['gpt-4o-content-filter', 400, OpenAI.BadRequestError, 'upstream_bad_request', "triggering Azure OpenAI's content management policy"],
    ['gpt-4o-error-401', 401, OpenAI.AuthenticationError, 'upstream_auth', 'Access denied due to invalid subscription key'],
    ['gpt-4o-error-404', 404, OpenAI.NotFoundError, 'upstream_not_found', 'The API deployment for this resource does not exist'],
    ['gpt-4o-error-429', 429, OpenAI.RateLimitError, 'upstream_rate_limited', 'exceeded token rate limit'],
    ['gpt-4o-error-500', 502, OpenAI.InternalServerError, 'upstream_error', 'The server had an error processing your request'],
  ])('%s → %i %s in the OpenAI envelope, with Azure\'s message', async (model, status, ErrorClass, code, message) => {
    for (const stream of [false, true]) {
      const error = await apiError(client.chat.completions.create({ model: `azure/${model}`, messages: user('hi'), stream }));
      expect(error).toBeInstanceOf(ErrorClass);
      expect(error.status).toBe(status);
      expectEnvelope({ error: error.error }, code);
      expect(error.message).toContain(message);
      if (status === 429) expect(error.headers?.get('retry-after')).toBe('1');
    }
  });
});

describe('azure: embeddings', () => {
  it('embeds on the mapped deployment, base64 by the SDK\'s default, floats on request', async () => {
    const result = await client.embeddings.create({ model: 'azure/text-embedding-3-small', input: ['first', 'second'] });
    expect(result.data.map((item) => item.index)).toEqual([0, 1]);
    expect(result.data[0].embedding).toHaveLength(8);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    const upstream = fake.requests[0];
    expect(upstream.path).toBe('/openai/deployments/emb-small/embeddings?api-version=2024-10-21');
    expect(upstream.body).toEqual({ input: ['first', 'second'], encoding_format: 'base64' });
    const floats = await client.embeddings.create({ model: 'azure/text-embedding-3-small', input: 'first', encoding_format: 'float' });
    expect(floats.data[0].embedding.map((v) => Math.fround(v))).toEqual(result.data[0].embedding);
  });
});
