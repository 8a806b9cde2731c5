// The Cohere fake is only worth something if Cohere's official SDK reads its answers: point `cohere-ai`'s
// CohereClientV2 straight at it (no gateway) for chat, chatStream, tool calls, errors and embed. The SDK turns
// snake_case wire names into camelCase through its schema, so a field the fake misnamed comes out missing.

import { Cohere, CohereClientV2, CohereError } from 'cohere-ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeCohere, type FakeCohere } from './cohere-server.js';
import { rejectionOf } from '../rejection.js';

let fake: FakeCohere;
let client: CohereClientV2;

beforeAll(async () => {
  fake = await startFakeCohere({ apiKey: 'co-fake' });
  client = new CohereClientV2({ token: 'co-fake', environment: fake.url, maxRetries: 0, timeoutInSeconds: 10 });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => fake.reset());

const messages = [{ role: 'user' as const, content: 'hello cohere fake' }];
const tools: Cohere.ToolV2[] = [{
  type: 'function',
  function: { name: 'lookup_weather', description: 'Weather by city', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
}];

const sdkError = (promise: Promise<unknown>): Promise<CohereError> => rejectionOf(promise, CohereError);

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const events: T[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('fake Cohere, read by the official SDK', () => {
  it('answers chat with content parts, finish reason and both usage counts, and records the request', async () => {
    const answer = await client.chat({ model: 'command-r-plus', messages, temperature: 0.3, p: 0.9, maxTokens: 50 });
    expect(answer.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.finishReason).toBe('COMPLETE');
    expect(answer.message.role).toBe('assistant');
    expect(answer.message.content).toEqual([{ type: 'text', text: 'You said: hello cohere fake' }]);
    expect(answer.usage?.billedUnits?.inputTokens).toBeGreaterThan(0);
    expect(answer.usage?.billedUnits?.outputTokens).toBeGreaterThan(0);
    expect(answer.usage?.tokens?.inputTokens).toBeGreaterThan(answer.usage!.billedUnits!.inputTokens!);

    const seen = fake.requests[0];
    expect(seen.path).toBe('/v2/chat');
    expect(seen.headers.authorization).toBe('Bearer co-fake');
    expect(seen.body).toMatchObject({ model: 'command-r-plus', messages, temperature: 0.3, p: 0.9, max_tokens: 50, stream: false });
  });

  it('streams typed events from message-start to message-end that the SDK parses', async () => {
    const events = await collect(await client.chatStream({ model: 'command-r-plus', messages }));
    const types = events.map((event) => event.type);
    expect(types[0]).toBe('message-start');
    expect(types[1]).toBe('content-start');
    expect(types.at(-2)).toBe('content-end');
    expect(types.at(-1)).toBe('message-end');
    const text = events.map((event) => (event.type === 'content-delta' ? event.delta?.message?.content?.text ?? '' : '')).join('');
    expect(text).toBe('You said: hello cohere fake');
    expect(text).toBe(fake.requests[0].content);
    const end = events.at(-1)!;
    if (end.type !== 'message-end') throw new Error('expected message-end');
    expect(end.delta?.finishReason).toBe('COMPLETE');
    expect(end.delta?.usage?.billedUnits?.outputTokens).toBeGreaterThan(0);
    expect(end.delta?.usage?.tokens?.inputTokens).toBeGreaterThan(0);
    expect(fake.requests[0].body!.stream).toBe(true);
  });

  it('calls the request\'s tool, non-streamed and streamed, with a tool plan', async () => {
    const answer = await client.chat({ model: 'command-r-plus-tools', messages, tools });
    expect(answer.finishReason).toBe('TOOL_CALL');
    expect(answer.message.toolPlan).toBe('I will look up the weather.');
    expect(answer.message.toolCalls).toHaveLength(1);
    const call = answer.message.toolCalls![0];
    expect(call.type).toBe('function');
    expect(call.id).toMatch(/^lookup_weather_/);
    expect(call.function?.name).toBe('lookup_weather');
    expect(JSON.parse(call.function!.arguments!)).toEqual({ location: 'Paris', unit: 'celsius' });

    const events = await collect(await client.chatStream({ model: 'command-r-plus-tools', messages, tools }));
    const plan = events.map((event) => (event.type === 'tool-plan-delta' ? event.delta?.message?.toolPlan ?? '' : '')).join('');
    expect(plan).toBe('I will look up the weather.');
    const start = events.find((event) => event.type === 'tool-call-start');
    if (start?.type !== 'tool-call-start') throw new Error('no tool-call-start');
    expect(start.delta?.message?.toolCalls?.function?.name).toBe('lookup_weather');
    expect(start.delta?.message?.toolCalls?.id).toMatch(/^lookup_weather_/);
    const deltas = events.filter((event) => event.type === 'tool-call-delta');
    expect(deltas.length).toBeGreaterThan(1);
    const args = deltas.map((event) => (event.type === 'tool-call-delta' ? event.delta?.message?.toolCalls?.function?.arguments ?? '' : '')).join('');
    expect(JSON.parse(args)).toEqual({ location: 'Paris', unit: 'celsius' });
    const end = events.at(-1)!;
    if (end.type !== 'message-end') throw new Error('expected message-end');
    expect(end.delta?.finishReason).toBe('TOOL_CALL');
  });

  it.each([
    [400, Cohere.BadRequestError],
    [401, Cohere.UnauthorizedError],
    [429, Cohere.TooManyRequestsError],
    [500, Cohere.InternalServerError],
  ])('fails with %i and Cohere\'s {id, message} body, as the SDK error class', async (status, ErrorClass) => {
    const error = await sdkError(client.chat({ model: `command-r-error-${status}`, messages }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.statusCode).toBe(status);
    const body = error.body as { id: string; message: string };
    expect(Object.keys(body).sort()).toEqual(['id', 'message']);
    expect(body.message.length).toBeGreaterThan(0);
    if (status === 429) expect(error.rawResponse?.headers.get('retry-after')).toBe('1');
  });

  it('refuses a wrong token with 401 "invalid api token"', async () => {
    const stranger = new CohereClientV2({ token: 'co-wrong', environment: fake.url, maxRetries: 0 });
    const error = await sdkError(stranger.chat({ model: 'command-r-plus', messages }));
    expect(error).toBeInstanceOf(Cohere.UnauthorizedError);
    expect((error.body as { message: string }).message).toBe('invalid api token');
  });

  it('breaks a stream off after n events (the SDK sees the connection fail)', async () => {
    const stream = await client.chatStream({ model: 'command-r-break-after-3', messages });
    const received: unknown[] = [];
    const failure = await (async () => {
      for await (const event of stream) received.push(event);
    })().then(() => null, (e: unknown) => e);
    expect(received).toHaveLength(3);
    expect(failure).toBeInstanceOf(Error);
  });

  it('reports a generation error in message-end', async () => {
    const events = await collect(await client.chatStream({ model: 'command-r-gen-error', messages }));
    const end = events.at(-1)!;
    if (end.type !== 'message-end') throw new Error('expected message-end');
    expect(end.delta?.finishReason).toBe('ERROR');
    expect(end.delta?.error).toContain('failed');
  });

  it('embeds texts by type, with billed units', async () => {
    const answer = await client.embed({ model: 'embed-english-v3.0', texts: ['first', 'second'], inputType: 'search_document',
      embeddingTypes: ['float'] });
    expect(answer.embeddings.float).toHaveLength(2);
    expect(answer.embeddings.float![0]).toHaveLength(8);
    expect(answer.texts).toEqual(['first', 'second']);
    expect(answer.meta?.billedUnits?.inputTokens).toBeGreaterThan(0);
    expect(answer.meta?.apiVersion?.version).toBe('2');
    expect(fake.requests[0].path).toBe('/v2/embed');
    expect(fake.requests[0].body).toMatchObject({ input_type: 'search_document', embedding_types: ['float'] });
  });

  it('picks the scenario from the x-fake-scenario header', async () => {
    const answer = await client.chat({ model: 'command-r', messages },
      { headers: { 'x-fake-scenario': JSON.stringify({ content: 'scripted', finishReason: 'MAX_TOKENS' }) } });
    expect(answer.message.content).toEqual([{ type: 'text', text: 'scripted' }]);
    expect(answer.finishReason).toBe('MAX_TOKENS');
  });
});
