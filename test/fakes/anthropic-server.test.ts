// The fake is only worth something if Anthropic's official SDK takes its answers for the real API's: point
// `@anthropic-ai/sdk` straight at it (no gateway) for messages, streams (the SDK's own MessageStream
// accumulator checks the event order and rebuilds tool input from input_json_delta), tool use, thinking,
// errors and broken streams. The SDK speaks API version 2026-10-21 by default; the gateway pins 2023-06-01.

import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from './anthropic-server.js';
import { rejectionOf } from '../rejection.js';

let fake: FakeAnthropic;
let client: Anthropic;

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: 'sk-ant-fake' });
  client = new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-fake', maxRetries: 0, timeout: 10_000 });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => fake.reset());

const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'hello fake' }];
const tools: Anthropic.Tool[] = [{
  name: 'lookup_weather', description: 'Weather by city',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
}];

const apiError = (promise: Promise<unknown>): Promise<APIError> => rejectionOf(promise, APIError);

describe('fake Anthropic, read by the official SDK', () => {
  it('answers a message the SDK parses, with usage, and records the request', async () => {
    const { data, response } = await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 256, messages,
      system: 'Be brief.' }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(data.type).toBe('message');
    expect(data.id).toMatch(/^msg_/);
    expect(data.role).toBe('assistant');
    expect(data.model).toBe('claude-sonnet-5');
    expect(data.stop_reason).toBe('end_turn');
    expect(data.content).toEqual([{ type: 'text', text: 'Hello! You said: hello fake' }]);
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    const seen = fake.requests[0];
    expect(seen.path).toBe('/v1/messages');
    expect(seen.headers['anthropic-version']).toBeTruthy();
    expect(seen.body).toMatchObject({ model: 'claude-sonnet-5', max_tokens: 256, system: 'Be brief.' });
  });

  it('counts tokens at /v1/messages/count_tokens: the count the answer reports as input_tokens', async () => {
    const counted = await client.messages.countTokens({ model: 'claude-sonnet-5', messages, system: 'Be brief.', tools });
    expect(counted.input_tokens).toBeGreaterThan(0);
    const answered = await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 256, messages, system: 'Be brief.', tools });
    expect(answered.usage.input_tokens).toBe(counted.input_tokens);
    expect(fake.requests[0].path).toBe('/v1/messages/count_tokens');
    // Like the real endpoint: no max_tokens needed, sampling fields refused.
    const refused = await apiError(client.messages.countTokens({ model: 'claude-sonnet-5', messages, temperature: 0.5 } as never));
    expect(refused.status).toBe(400);
    expect(refused.message).toContain('temperature: Extra inputs are not permitted');
  });

  it('streams the named events in order; MessageStream rebuilds the same message', async () => {
    const stream = client.messages.stream({ model: 'claude-sonnet-5', max_tokens: 256, messages });
    const texts: string[] = [];
    stream.on('text', (text) => texts.push(text));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'Hello! You said: hello fake' }]);
    expect(texts.join('')).toBe('Hello! You said: hello fake');
    expect(texts.length).toBeGreaterThan(1);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(1);
    const names = fake.requests[0].events.map((e) => e.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'ping', 'content_block_start']);
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('calls a tool, non-streamed and streamed (input rebuilt from input_json_delta fragments)', async () => {
    const data = await client.messages.create({ model: 'claude-tools', max_tokens: 256, messages, tools });
    expect(data.stop_reason).toBe('tool_use');
    expect(data.content[0]).toEqual({ type: 'text', text: "I'll look that up." });
    const use = data.content[1];
    if (use.type !== 'tool_use') throw new Error('expected a tool_use block');
    expect(use.id).toMatch(/^toolu_/);
    expect(use.name).toBe('lookup_weather');
    expect(use.input).toEqual({ location: 'Paris', unit: 'celsius' });

    const final = await client.messages.stream({ model: 'claude-tools', max_tokens: 256, messages, tools }).finalMessage();
    const streamed = final.content.find((block) => block.type === 'tool_use');
    if (streamed?.type !== 'tool_use') throw new Error('expected a streamed tool_use block');
    expect(streamed.input).toEqual({ location: 'Paris', unit: 'celsius' });
    const fragments = fake.requests[1].events.filter((e) => e.data.includes('input_json_delta'));
    expect(fragments.length).toBeGreaterThan(2);
  });

  it('takes the tool result back, and refuses a tool_use left without its tool_result', async () => {
    const first = await client.messages.create({ model: 'claude-tools', max_tokens: 256, messages, tools });
    const use = first.content.find((block) => block.type === 'tool_use')!;
    if (use.type !== 'tool_use') throw new Error('expected a tool_use block');
    const next = await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 256, tools, messages: [
      ...messages,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C' }, { type: 'text', text: 'thanks' }] },
    ] });
    expect(next.stop_reason).toBe('end_turn');

    const error = await apiError(client.messages.create({ model: 'claude-sonnet-5', max_tokens: 256, tools, messages: [
      ...messages, { role: 'assistant', content: first.content }, { role: 'user', content: 'and?' },
    ] }));
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.message).toContain('tool_use');
  });

  it('streams a thinking block with its signature before the text', async () => {
    const final = await client.messages.stream({ model: 'claude-thinking', max_tokens: 4096, messages,
      thinking: { type: 'enabled', budget_tokens: 1024 } }).finalMessage();
    const [thinking, text] = final.content;
    if (thinking.type !== 'thinking') throw new Error('expected a thinking block first');
    expect(thinking.thinking).toContain('short, friendly answer');
    expect(thinking.signature.length).toBeGreaterThan(20);
    expect(text.type).toBe('text');
  });

  it('cuts at max_tokens and at a stop sequence, with the matching stop_reason', async () => {
    const cut = await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 2, messages });
    expect(cut.stop_reason).toBe('max_tokens');
    expect(cut.content).toEqual([{ type: 'text', text: 'Hello! You ' }]);
    const stopped = await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 100, messages, stop_sequences: ['said'] });
    expect(stopped.stop_reason).toBe('stop_sequence');
    expect(stopped.stop_sequence).toBe('said');
  });

  it('reports cache reads and writes in usage', async () => {
    const data = await client.messages.create({ model: 'claude-cache', max_tokens: 100, messages });
    expect(data.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512 });
  });

  it('takes base64 and URL images, and refuses an unsupported media type', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const data = await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 100, messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'text', text: 'what is this?' },
    ] }] });
    expect(data.content[0]).toMatchObject({ type: 'text' });
    const error = await apiError(client.messages.create({ model: 'claude-sonnet-5', max_tokens: 100, messages: [{ role: 'user',
      content: [{ type: 'image', source: { type: 'base64', media_type: 'image/tiff' as 'image/png', data: png } }] }] }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('media_type');
  });

  it('refuses unknown fields, and sampling fields under API version 2026-10-21 only', async () => {
    const unknown = await apiError(client.messages.create({ model: 'claude-sonnet-5', max_tokens: 10, messages,
      presence_penalty: 1 } as never));
    expect(unknown.message).toContain('presence_penalty: Extra inputs are not permitted');
    const sampled = { model: 'claude-sonnet-5', max_tokens: 10, messages, temperature: 0.5 } as never;
    expect((await apiError(client.messages.create(sampled))).message).toContain('temperature');
    const legacy = new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-fake', maxRetries: 0,
      defaultHeaders: { 'anthropic-version': '2023-06-01', authorization: null, 'x-api-key': 'sk-ant-fake' } });
    const ok = await legacy.messages.create(sampled) as Anthropic.Message;
    expect(ok.stop_reason).toBe('end_turn');
    expect(fake.requests.at(-1)!.headers['x-api-key']).toBe('sk-ant-fake');
  });

  it.each([
    [400, Anthropic.BadRequestError, 'invalid_request_error'],
    [401, Anthropic.AuthenticationError, 'authentication_error'],
    [429, Anthropic.RateLimitError, 'rate_limit_error'],
    [500, Anthropic.InternalServerError, 'api_error'],
    [529, Anthropic.OverloadedError, 'overloaded_error'],
  ])('fails with %i in the error envelope, read as the SDK error class', async (status, ErrorClass, type) => {
    const error = await apiError(client.messages.create({ model: `claude-error-${status}`, max_tokens: 10, messages }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.status).toBe(status);
    expect(error.type).toBe(type);
    expect(error.apiMessage).toBeTruthy();
    expect(error.requestID).toMatch(/^req_/);
    expect(Object.keys(error.error as object).sort()).toEqual(['error', 'request_id', 'type']);
    if (status === 429 || status === 529) expect(error.headers?.get('retry-after')).toBe('1');
  });

  it('refuses a wrong key with 401', async () => {
    const stranger = new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-wrong', maxRetries: 0 });
    const error = await apiError(stranger.messages.create({ model: 'claude-sonnet-5', max_tokens: 10, messages }));
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it('picks the scenario from the x-fake-scenario header', async () => {
    const data = await client.messages.create({ model: 'claude-sonnet-5', max_tokens: 10, messages },
      { headers: { 'x-fake-scenario': JSON.stringify({ content: 'scripted' }) } });
    expect(data.content).toEqual([{ type: 'text', text: 'scripted' }]);
  });

  it('sends an error event inside a stream, which the SDK throws as an APIError of that type', async () => {
    const stream = client.messages.stream({ model: 'claude-stream-error', max_tokens: 100, messages });
    const error = await apiError(stream.finalMessage());
    expect(error.type).toBe('overloaded_error');
    expect(fake.requests[0].events.at(-1)!.event).toBe('error');
  });

  it('breaks a stream off after N events: the SDK sees a failure, not a message', async () => {
    const stream = await client.messages.create({ model: 'claude-break-after-3', max_tokens: 100, messages, stream: true });
    const types: string[] = [];
    const failure = await (async () => {
      for await (const event of stream) types.push(event.type);
    })().then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(types.length).toBeLessThanOrEqual(2);
    await fake.requests[0].closed;
    expect(fake.requests[0].brokenOff).toBe(true);
    expect(fake.requests[0].events).toHaveLength(3);
  });

  it('ends a no-stop stream without message_stop', async () => {
    const stream = await client.messages.create({ model: 'claude-no-stop', max_tokens: 100, messages, stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe('message_delta');
    expect(types).not.toContain('message_stop');
  });
});
