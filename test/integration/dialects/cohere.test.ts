// Cohere's drop-in `/cohere` through the real, built gateway, with `cohere-ai`'s CohereClientV2 as the client
// (`environment` at `${gateway}/cohere`): chat, chat streams and tool calls to the cohere provider (the faithful
// Cohere fake) and across providers (the built-in mock), embed, tokenize, and errors as the SDK's typed errors.

import { Cohere, CohereClient, CohereClientV2, CohereError } from 'cohere-ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeCohere, type FakeCohere } from '../../fakes/cohere-server.js';
import { collect, startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

const COHERE_KEY = 'co-upstream';
let h: Harness<FakeCohere>;
let client: CohereClientV2;

beforeAll(async () => {
  const fake = await startFakeCohere({ apiKey: COHERE_KEY });
  const pool = { concurrency: 20, buffer_size: 20, threads: 1 };
  h = await startGatewayWith(fake, (fakeUrl) => ({ providers: {
    cohere: { keys: [{ value: COHERE_KEY, models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl },
      concurrency_and_buffer_size: pool, circuit_breaker: { enabled: false } },
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }));
  client = new CohereClientV2({ token: 'client-token-not-checked', environment: `${h.url}/cohere`, maxRetries: 0, timeoutInSeconds: 10 });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => h.fake.reset());

const messages = [{ role: 'system' as const, content: 'be brief' }, { role: 'user' as const, content: 'hello gateway' }];
const tools: Cohere.ToolV2[] = [{ type: 'function', function: { name: 'lookup_weather', description: 'Weather by city',
  parameters: { type: 'object', properties: { location: { type: 'string' } } } } }];
const sdkError = (promise: Promise<unknown>): Promise<CohereError> => rejectionOf(promise, CohereError);

describe('/cohere/v2/chat', () => {
  it('reaches the cohere provider with Cohere\'s parameters, and answers in Cohere\'s shape', async () => {
    const answer = await client.chat({ model: 'command-a-03-2025', messages, temperature: 0.2, p: 0.8, k: 5, maxTokens: 40,
      stopSequences: ['END'] });
    expect(h.fake.requests[0].body).toMatchObject({ model: 'command-a-03-2025', temperature: 0.2, p: 0.8, k: 5, max_tokens: 40,
      stop_sequences: ['END'], messages });
    expect(answer.finishReason).toBe('COMPLETE');
    expect(answer.message.content).toEqual([{ type: 'text', text: 'You said: hello gateway' }]);
    expect(answer.usage?.billedUnits?.inputTokens).toBeGreaterThan(0);
    expect(answer.usage?.billedUnits?.outputTokens).toBeGreaterThan(0);
  });

  it('reaches another provider with provider/model, and streams Cohere\'s typed events', async () => {
    const answer = await client.chat({ model: 'mock/echo', messages });
    expect(answer.message.content).toEqual([{ type: 'text', text: 'Echo: hello gateway' }]);
    const events = await collect(await client.chatStream({ model: 'mock/echo', messages }));
    expect(events.map((event) => event.type)).toEqual(['message-start', 'content-start', 'content-delta', 'content-delta',
      'content-delta', 'content-end', 'message-end']);
    const text = events.map((event) => (event.type === 'content-delta' ? event.delta?.message?.content?.text ?? '' : '')).join('');
    expect(text).toBe('Echo: hello gateway');
    const end = events.at(-1)!;
    if (end.type !== 'message-end') throw new Error('expected message-end');
    expect(end.delta?.finishReason).toBe('COMPLETE');
    expect(end.delta?.usage?.billedUnits?.outputTokens).toBeGreaterThan(0);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('calls tools, answered and streamed, and takes the tool result back', async () => {
    const answer = await client.chat({ model: 'command-r-plus-tools', messages, tools });
    expect(answer.finishReason).toBe('TOOL_CALL');
    const call = answer.message.toolCalls![0];
    expect(call.function?.name).toBe('lookup_weather');
    expect(answer.message.toolPlan).toBe('I will look up the weather.');
    const events = await collect(await client.chatStream({ model: 'command-r-plus-tools', messages, tools }));
    const start = events.find((event) => event.type === 'tool-call-start');
    if (start?.type !== 'tool-call-start') throw new Error('no tool-call-start');
    expect(start.delta?.message?.toolCalls?.function?.name).toBe('lookup_weather');
    const args = events.map((event) => (event.type === 'tool-call-delta' ? event.delta?.message?.toolCalls?.function?.arguments ?? '' : '')).join('');
    expect(JSON.parse(args)).toEqual({ location: 'Paris', unit: 'celsius' });
    const end = events.at(-1)!;
    if (end.type !== 'message-end') throw new Error('expected message-end');
    expect(end.delta?.finishReason).toBe('TOOL_CALL');

    h.fake.reset();
    await client.chat({ model: 'command-r-plus', tools, messages: [...messages,
      { role: 'assistant', toolPlan: 'looking', toolCalls: [{ id: call.id!, type: 'function', function: call.function }] },
      { role: 'tool', toolCallId: call.id!, content: [{ type: 'text', text: '{"temp": 21}' }] }] });
    const sent = h.fake.requests[0].body!.messages as Record<string, unknown>[];
    expect(sent.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ id: call.id, function: { name: 'lookup_weather' } }] });
    expect(sent.at(-1)).toEqual({ role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' });
  });

  it('fails as the SDK\'s typed errors, in Cohere\'s {message} body, and names a dropped field', async () => {
    expect(await sdkError(client.chat({ model: 'command-error-429', messages }))).toBeInstanceOf(Cohere.TooManyRequestsError);
    const bad = await sdkError(client.chat({ model: 'command-a', messages: [] }));
    expect(bad).toBeInstanceOf(Cohere.BadRequestError);
    expect((bad.body as { message: string }).message).toMatch(/'messages' must be a non-empty array/);
    const response = await fetch(`${h.url}/cohere/v2/chat`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', messages, safety_mode: 'OFF' }) });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-dropped-params')).toBe('safety_mode');
    const unknown = await fetch(`${h.url}/cohere/v2/classify`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/\/cohere\/v2\/chat, \/v2\/embed, \/v2\/rerank and \/v1\/tokenize/);
  });
});

describe('/cohere/v2/embed and /cohere/v1/tokenize', () => {
  it('embeds with Cohere\'s input_type, answering float embeddings by type', async () => {
    const answer = await client.embed({ model: 'embed-v4.0', texts: ['one', 'two'], inputType: 'search_query', embeddingTypes: ['float'] });
    expect(h.fake.requests[0].body).toMatchObject({ model: 'embed-v4.0', texts: ['one', 'two'], input_type: 'search_query' });
    expect(answer.embeddings.float).toHaveLength(2);
    expect(answer.embeddings.float![0]).toHaveLength(8);
    expect(answer.meta?.billedUnits?.inputTokens).toBeGreaterThan(0);
    const refused = await sdkError(client.embed({ model: 'embed-v4.0', texts: ['x'], inputType: 'search_query', embeddingTypes: ['int8'] }));
    expect(refused).toBeInstanceOf(Cohere.BadRequestError);
  });

  it('tokenizes with the cohere provider\'s tokenizer, and refuses a provider without one, naming it', async () => {
    // CohereClientV2's tokenize is not bound in cohere-ai 8.1 (`this.__tokenize is not a function`): v1's client sends it.
    const v1 = new CohereClient({ token: 'client-token-not-checked', environment: `${h.url}/cohere`, maxRetries: 0 });
    const answer = await v1.tokenize({ model: 'command-a-03-2025', text: 'three short words' });
    expect(h.fake.requests[0]).toMatchObject({ path: '/v1/tokenize', body: { model: 'command-a-03-2025', text: 'three short words' } });
    expect(answer.tokenStrings).toEqual(['three', 'short', 'words']);
    expect(answer.tokens).toEqual([5000, 5001, 5002]);
    const refused = await sdkError(v1.tokenize({ model: 'mock/echo', text: 'x' }));
    expect(refused).toBeInstanceOf(Cohere.BadRequestError);
    expect((refused.body as { message: string }).message).toMatch(/provider 'mock' does not support Cohere's tokenizer/);
  });
});
