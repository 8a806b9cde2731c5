// The Azure fake is only worth something if the official client for Azure takes its answers for Azure's: point
// the `openai` SDK's AzureOpenAI (endpoint, apiVersion, deployment) straight at it for chat, stream, tool
// calls, content filtering, errors and embeddings.

import OpenAI, { APIError, AzureOpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAzure, type FakeAzure } from './azure-server.js';
import { rejectionOf } from '../rejection.js';

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

const API_VERSION = '2024-10-21';
let fake: FakeAzure;

beforeAll(async () => {
  fake = await startFakeAzure({ apiKey: 'azure-fake-key', deployments: { 'prod-gpt4o': 'gpt-4o-2024-08-06' } });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => fake.reset());

const client = (deployment: string, apiKey = 'azure-fake-key') =>
  new AzureOpenAI({ endpoint: fake.url, apiKey, apiVersion: API_VERSION, deployment, maxRetries: 0, timeout: 10_000 });

const messages = [{ role: 'user' as const, content: 'hello azure fake' }];
const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{
  type: 'function',
  function: { name: 'lookup_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
}];

const apiError = (promise: Promise<unknown>): Promise<APIError> => rejectionOf(promise, APIError);

async function collect(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('fake Azure OpenAI, read by the official AzureOpenAI client', () => {
  it('answers a chat completion on the deployment\'s path, with filter annotations and usage', async () => {
    const data = await client('prod-gpt4o').chat.completions.create({ model: 'ignored-by-azure', messages, temperature: 0.2 });
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('gpt-4o-2024-08-06');
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'You said: hello azure fake' });
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    const annotated = data as unknown as { prompt_filter_results: unknown[]; choices: { content_filter_results: object }[] };
    expect(annotated.prompt_filter_results).toHaveLength(1);
    expect(annotated.choices[0].content_filter_results).toHaveProperty('violence');

    const seen = fake.requests[0];
    expect(seen.path).toBe(`/openai/deployments/prod-gpt4o/chat/completions?api-version=${API_VERSION}`);
    expect(seen.deployment).toBe('prod-gpt4o');
    expect(seen.headers['api-key']).toBe('azure-fake-key');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.body).toMatchObject({ messages, temperature: 0.2 });
  });

  it('streams a prompt annotation with empty choices first, then OpenAI chunks, the usage chunk and [DONE]', async () => {
    const chunks = await collect(await client('prod-gpt4o').chat.completions.create({
      model: 'x', messages, stream: true, stream_options: { include_usage: true },
    }));
    const seen = fake.requests[0];
    expect(seen.events.at(-1)).toBe('[DONE]');
    expect(chunks).toHaveLength(seen.events.length - 1);
    expect(chunks[0].choices).toEqual([]);
    expect(chunks[0].id).toBe('');
    expect((chunks[0] as unknown as { prompt_filter_results: unknown[] }).prompt_filter_results).toHaveLength(1);
    expect(chunks[1].choices[0].delta).toMatchObject({ role: 'assistant', content: '' });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('You said: hello azure fake');
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('answers a tool call, non-streamed and streamed (the SDK stream helper reassembles it)', async () => {
    const data = await client('gpt-4o-tools').chat.completions.create({ model: 'x', messages, tools });
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    const call = data.choices[0].message.tool_calls![0];
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.id).toMatch(/^call_/);
    expect(call.function.name).toBe('lookup_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });

    const final = await client('gpt-4o-tools').chat.completions.stream({ model: 'x', messages, tools }).finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const streamed = final.choices[0].message.tool_calls![0];
    if (streamed.type !== 'function') throw new Error('expected a function call');
    expect(streamed.function.name).toBe('lookup_weather');
    expect(JSON.parse(streamed.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
  });

  it('ends a filtered completion with finish_reason content_filter', async () => {
    const data = await client('gpt-4o-filtered').chat.completions.create({ model: 'x', messages });
    expect(data.choices[0].finish_reason).toBe('content_filter');
    const chunks = await collect(await client('gpt-4o-filtered').chat.completions.create({ model: 'x', messages, stream: true }));
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('content_filter');
  });

  it('sends the asynchronous filter\'s annotation frames without delta, and its content_filter finish as one', async () => {
    const chunks = await collect(await client('gpt-4o-async-filter').chat.completions.create({ model: 'x', messages, stream: true }));
    const annotations = chunks.filter((c) => c.object === ('' as never) && c.choices.length > 0);
    expect(annotations.length).toBeGreaterThan(0);
    expect(annotations.every((c) => c.choices[0].delta === undefined)).toBe(true);
    fake.script('gpt-4o-async-filter', { asyncFilter: true, completionFiltered: true });
    const filtered = await collect(await client('gpt-4o-async-filter').chat.completions.create({ model: 'x', messages, stream: true }));
    const last = filtered.at(-1)!;
    expect(last.id).toBe('');
    expect(last.choices[0].finish_reason).toBe('content_filter');
    expect(last.choices[0].delta).toBeUndefined();
  });

  it('refuses a filtered prompt with 400 content_filter and its innererror', async () => {
    const error = await apiError(client('gpt-4o-content-filter').chat.completions.create({ model: 'x', messages }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('content_filter');
    expect(error.param).toBe('prompt');
    expect((error.error as { innererror: { code: string } }).innererror.code).toBe('ResponsibleAIPolicyViolation');
  });

  it.each([
    [400, OpenAI.BadRequestError, null],
    [401, OpenAI.AuthenticationError, '401'],
    [404, OpenAI.NotFoundError, 'DeploymentNotFound'],
    [429, OpenAI.RateLimitError, '429'],
    [500, OpenAI.InternalServerError, null],
  ])('fails with %i in Azure\'s error body, read as the SDK error class', async (status, ErrorClass, code) => {
    const error = await apiError(client(`gpt-4o-error-${status}`).chat.completions.create({ model: 'x', messages }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.status).toBe(status);
    expect(error.code ?? null).toBe(code);
    expect(error.message.length).toBeGreaterThan(10);
    if (status === 429) expect(error.headers?.get('retry-after')).toBe('1');
  });

  it('refuses a wrong api-key with Azure\'s 401', async () => {
    const error = await apiError(client('prod-gpt4o', 'wrong').chat.completions.create({ model: 'x', messages }));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.message).toContain('Access denied due to invalid subscription key');
  });

  it('breaks a stream off after n events', async () => {
    const stream = await client('gpt-4o-break-after-3').chat.completions.create({ model: 'x', messages, stream: true });
    const received: Chunk[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) received.push(chunk);
    })().then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(received).toHaveLength(3);
  });

  it('answers embeddings on the deployment, base64 by the SDK\'s default and floats on request', async () => {
    const encoded = await client('embed-small').embeddings.create({ model: 'x', input: ['first', 'second'] });
    expect(encoded.data).toHaveLength(2);
    expect(encoded.data[0].embedding).toHaveLength(8);
    expect(fake.requests[0].path).toBe(`/openai/deployments/embed-small/embeddings?api-version=${API_VERSION}`);
    expect(fake.requests[0].body!.encoding_format).toBe('base64');
    const floats = await client('embed-small').embeddings.create({ model: 'x', input: 'first', encoding_format: 'float' });
    expect(floats.data[0].embedding.map((v) => Math.fround(v))).toEqual(encoded.data[0].embedding);
  });

  it('answers 404 Resource not found without api-version', async () => {
    const response = await fetch(`${fake.url}/openai/deployments/prod-gpt4o/chat/completions`, {
      method: 'POST', headers: { 'api-key': 'azure-fake-key' }, body: JSON.stringify({ messages }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
  });
});
