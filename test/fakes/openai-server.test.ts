// The fake is only worth something if the official SDK takes its answers for OpenAI's: point the `openai` SDK
// straight at it (no gateway) for chat, stream, tool calls and errors.

import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from './openai-server.js';
import { rejectionOf } from '../rejection.js';

let fake: FakeOpenAI;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: 'sk-fake' });
  client = new OpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'sk-fake', maxRetries: 0, timeout: 10_000 });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => fake.reset());

const messages = [{ role: 'user' as const, content: 'hello fake' }];

/** Awaits a promise that must reject with the SDK's APIError, and returns that error. */
const apiError = (promise: Promise<unknown>): Promise<APIError> => rejectionOf(promise, APIError);

describe('fake OpenAI, read by the official SDK', () => {
  it('answers a chat completion the SDK parses, with usage, and records the request', async () => {
    const { data, response, request_id } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages, temperature: 0.2 }).withResponse();
    expect(response.status).toBe(200);
    expect(request_id).toMatch(/^req_/);
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('gpt-4o-mini');
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: expect.stringContaining('hello fake') });
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);

    expect(fake.requests).toHaveLength(1);
    const seen = fake.requests[0];
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.headers.authorization).toBe('Bearer sk-fake');
    expect(seen.body).toMatchObject({ model: 'gpt-4o-mini', messages, temperature: 0.2 });
    expect(seen.content).toBe(data.choices[0].message.content);
    await seen.closed;
    expect(seen.completed).toBe(true);
    expect(seen.clientAborted).toBe(false);
  });

  it('streams role delta, content deltas, a finish chunk, the usage chunk when asked, then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const seen = fake.requests[0];
    expect(seen.events.at(-1)).toBe('[DONE]');
    // Every event but [DONE] reached the SDK as a chunk.
    expect(chunks).toHaveLength(seen.events.length - 1);
    expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant', content: '' });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(seen.content);
    expect(text.length).toBeGreaterThan(0);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0].finish_reason).toBe('stop');
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.completion_tokens).toBeGreaterThan(0);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
  });

  it('sends no usage chunk when include_usage was not asked', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
  });

  it('answers a tool call, non-streamed and streamed, as the SDK expects', async () => {
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{
      type: 'function',
      function: { name: 'lookup_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
    }];
    const data = await client.chat.completions.create({ model: 'gpt-4o-tools', messages, tools });
    const message = data.choices[0].message;
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    expect(message.content).toBeNull();
    expect(message.tool_calls).toHaveLength(1);
    const call = message.tool_calls![0];
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('unreachable');
    expect(call.id).toMatch(/^call_/);
    expect(call.function.name).toBe('lookup_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });

    // The SDK's stream helper reassembles the streamed tool-call deltas into a message.
    const runner = client.chat.completions.stream({ model: 'gpt-4o-tools', messages, tools });
    const final = await runner.finalChatCompletion();
    const streamed = final.choices[0];
    expect(streamed.finish_reason).toBe('tool_calls');
    const streamedCall = streamed.message.tool_calls![0];
    if (streamedCall.type !== 'function') throw new Error('expected a function call');
    expect(streamedCall.function.name).toBe('lookup_weather');
    expect(JSON.parse(streamedCall.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    // The arguments came in more than one delta.
    expect(fake.requests[1].events.filter((e) => e.includes('"arguments"')).length).toBeGreaterThan(2);
  });

  it.each([
    [400, OpenAI.BadRequestError, 'invalid_request_error'],
    [401, OpenAI.AuthenticationError, 'invalid_request_error'],
    [429, OpenAI.RateLimitError, 'requests'],
    [500, OpenAI.InternalServerError, 'server_error'],
  ])('fails with %i in the error envelope, read as the SDK error class', async (status, ErrorClass, type) => {
    const error = await apiError(client.chat.completions.create({ model: `gpt-4o-error-${status}`, messages }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.status).toBe(status);
    expect(error.type).toBe(type);
    expect(error.message).toContain(String(status));
    expect(Object.keys(error.error as object).sort()).toEqual(['code', 'message', 'param', 'type']);
    if (status === 429) expect(error.headers?.get('retry-after')).toBe('1');
  });

  it('keeps a scripted Retry-After and message', async () => {
    fake.script('gpt-limited', { error: { status: 429, retryAfter: '7', message: 'slow down' } });
    const error = await apiError(client.chat.completions.create({ model: 'gpt-limited', messages }));
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('7');
    expect(error.message).toBe('429 slow down');
  });

  it('refuses a wrong key with 401 invalid_api_key', async () => {
    const stranger = new OpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    const error = await apiError(stranger.chat.completions.create({ model: 'gpt-4o', messages }));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.code).toBe('invalid_api_key');
  });

  it('picks the scenario from the x-fake-scenario header', async () => {
    const data = await client.chat.completions.create({ model: 'gpt-4o', messages },
      { headers: { 'x-fake-scenario': JSON.stringify({ content: 'scripted by header' }) } });
    expect(data.choices[0].message.content).toBe('scripted by header');
  });

  it('breaks a stream off after N chunks: the SDK sees a connection error, not a clean end', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-break-after-2', messages, stream: true });
    const got: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) got.push(chunk.choices[0]?.delta.content ?? '');
    })().then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(got.length).toBeLessThanOrEqual(2);
    const seen = fake.requests[0];
    await seen.closed;
    expect(seen.events).toHaveLength(2);
    expect(seen.brokenOff).toBe(true);
    expect(seen.clientAborted).toBe(false);
  });

  it('ends a no-done stream without [DONE]', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-no-done', messages, stream: true });
    const chunks: unknown[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const seen = fake.requests[0];
    expect(chunks.length).toBeGreaterThan(2);
    expect(seen.events).not.toContain('[DONE]');
    await seen.closed;
    expect(seen.completed).toBe(true);
  });

  it('can speak Python-style spaced JSON, which the SDK reads just the same', async () => {
    fake.script('py-model', { spacedJson: true });
    const data = await client.chat.completions.create({ model: 'py-model', messages });
    expect(fake.requests[0].responseBody).toMatch(/^\{"id": "chatcmpl-/);
    expect(data.choices[0].message.content).toContain('hello fake');
    const stream = await client.chat.completions.create({ model: 'py-model', messages, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(fake.requests[1].events[0]).toContain('"object": "chat.completion.chunk"');
    expect(chunks.at(-1)!.usage!.total_tokens).toBeGreaterThan(0);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(fake.requests[1].content);
  });

  it('waits out the latency before answering', async () => {
    const started = performance.now();
    await client.chat.completions.create({ model: 'gpt-4o-latency-300', messages });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('streams endlessly until the client aborts, and records that the client went away', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'gpt-4o-endless-20', messages, stream: true },
      { signal: controller.signal });
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (received === 3) controller.abort();
    }
    const seen = fake.requests[0];
    await seen.closed;
    expect(seen.clientAborted).toBe(true);
    expect(seen.completed).toBe(false);
    expect(seen.events.length).toBeGreaterThanOrEqual(4);
    expect(seen.events).not.toContain('[DONE]');
  });
});
