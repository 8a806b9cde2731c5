import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { PROVIDER_FACTS } from '../../../../src/contract/providers.js';
import { cohere } from '../../../../workers/providers/cohere.js';
import type { StreamState, StreamStep } from '../../../../workers/providers/types.js';

const job = (body: Record<string, unknown>, extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r', model: 'command-r-plus', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'cohere/command-r-plus', messages: [{ role: 'user', content: 'hi' }], ...body }, ...extra,
});
const target = (baseUrl: string | null = null) => ({ baseUrl, key: { value: 'co-key', configs: {} } });
const call = (body: Record<string, unknown>, extra: Partial<JobData> = {}) => cohere.chatCall(job(body, extra), target());
const sent = (body: Record<string, unknown>, extra: Partial<JobData> = {}) => JSON.parse(call(body, extra).body) as Record<string, unknown>;
const state = (includeUsage = false): StreamState => ({ includeUsage, model: 'command-r-plus', usage: null, scratch: {} });

const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const timeTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

describe('cohere adapter: declarations and facts', () => {
  it('uses bearer auth and SSE; COHERE_API_KEY, a base type, everything supported', () => {
    expect(cohere.auth).toEqual({ kind: 'bearer' });
    expect(cohere.streamFormat).toBe('sse');
    expect(PROVIDER_FACTS.cohere).toMatchObject({ envKey: 'COHERE_API_KEY', canBeBase: true, keyless: false, needsBaseUrl: false,
      capabilities: { chat: true, stream: true, tools: true, vision: true, embeddings: true } });
  });
});

describe('cohere adapter: the chat call', () => {
  it('posts to /v2/chat on api.cohere.com or the configured base URL', () => {
    expect(call({}).url).toBe('https://api.cohere.com/v2/chat');
    expect(cohere.chatCall(job({}), target('http://127.0.0.1:8123')).url).toBe('http://127.0.0.1:8123/v2/chat');
  });

  it('maps the sampling parameters to Cohere\'s names', () => {
    expect(sent({ temperature: 0.2, top_p: 0.9, top_k: 40, max_tokens: 100, stop: 'END', seed: 7, frequency_penalty: 0.1,
      presence_penalty: 0.2 })).toEqual({
      model: 'command-r-plus', messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.2, p: 0.9, k: 40, max_tokens: 100, stop_sequences: ['END'], seed: 7, frequency_penalty: 0.1, presence_penalty: 0.2,
    });
    expect(sent({ max_tokens: 10, max_completion_tokens: 20, stop: ['a', 'b'] })).toMatchObject({ max_tokens: 20, stop_sequences: ['a', 'b'] });
    expect(sent({}, { stream: true })).toMatchObject({ stream: true });
    expect(sent({ stream: true, stream_options: { include_usage: true } }, { stream: true })).not.toHaveProperty('stream_options');
  });

  it('drops and reports what Cohere cannot take, but not values that are what Cohere does anyway', () => {
    const result = call({ user: 'u1', logit_bias: { 1: 2 }, n: 2, parallel_tool_calls: false, service_tier: 'auto', logprobs: true });
    expect(result.droppedParams.sort()).toEqual(['logit_bias', 'logprobs', 'n', 'parallel_tool_calls', 'service_tier', 'user']);
    const body = JSON.parse(result.body);
    for (const name of result.droppedParams) expect(body).not.toHaveProperty(name);
    expect(call({ n: 1, parallel_tool_calls: true, logprobs: false, user: null }).droppedParams).toEqual([]);
  });

  it('maps every role, content parts and images (data: and http URLs), tool calls and tool results', () => {
    const body = sent({ messages: [
      { role: 'system', content: 'be brief' },
      { role: 'developer', content: [{ type: 'text', text: 'and kind' }] },
      { role: 'user', content: [
        { type: 'text', text: 'what is this?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
      ] },
      { role: 'assistant', content: 'Let me check the weather.', tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'assistant', content: [{ type: 'text', text: 'It is 21.' }] },
    ] });
    expect(body.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'system', content: 'and kind' },
      { role: 'user', content: [
        { type: 'text', text: 'what is this?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
      ] },
      { role: 'assistant', tool_plan: 'Let me check the weather.', tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'assistant', content: 'It is 21.' },
    ]);
  });

  it('tells Cohere of a failed tool result (is_error) in its text, having no flag for it', () => {
    const body = sent({ messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } },
        { id: 'c2', type: 'function', function: { name: 'w', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'no such city', is_error: true },
      { role: 'tool', tool_call_id: 'c2', content: 'sunny', is_error: false },
    ] });
    expect((body.messages as unknown[]).slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'c1', content: 'Error: no such city' },
      { role: 'tool', tool_call_id: 'c2', content: 'sunny' },
    ]);
  });

  it.each([
    [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }, /cannot take 'input_audio' content parts/],
    [{ role: 'function', name: 'f', content: 'x' }, /cannot take messages with role 'function'/],
    [{ role: 'tool', content: 'x' }, /needs tool_call_id/],
    [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'x' } }] }, /system messages take text parts only/],
  ])('refuses a message it cannot map (%j) rather than lose it', (message, error) => {
    expect(() => call({ messages: [message] })).toThrow(error);
  });

  it('maps function tools and tool_choice (auto, none, required, a named function)', () => {
    const tools = [weatherTool, timeTool];
    expect(sent({ tools })).toMatchObject({ tools: [
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weatherTool.function.parameters } },
      { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
    ] });
    expect(sent({ tools, tool_choice: 'auto' })).not.toHaveProperty('tool_choice');
    expect(sent({ tools, tool_choice: 'none' })).toMatchObject({ tool_choice: 'NONE' });
    expect(sent({ tools, tool_choice: 'required' })).toMatchObject({ tool_choice: 'REQUIRED' });
    const named = sent({ tools, tool_choice: { type: 'function', function: { name: 'get_time' } } });
    expect(named.tool_choice).toBe('REQUIRED');
    expect((named.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['get_time']);
    expect(() => call({ tools, tool_choice: { type: 'function', function: { name: 'nope' } } })).toThrow(/not among the tools/);
  });

  it('turns strict on only when every tool asked for it, and reports a mix', () => {
    const strict = (tool: typeof weatherTool) => ({ ...tool, function: { ...tool.function, strict: true } });
    expect(sent({ tools: [strict(weatherTool)] })).toMatchObject({ strict_tools: true });
    const mixed = call({ tools: [strict(weatherTool), timeTool] });
    expect(JSON.parse(mixed.body)).not.toHaveProperty('strict_tools');
    expect(mixed.droppedParams).toEqual(['tools.function.strict']);
  });

  it('maps response_format to Cohere\'s json_object (with the schema) or text', () => {
    expect(sent({ response_format: { type: 'json_object' } })).toMatchObject({ response_format: { type: 'json_object' } });
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    expect(sent({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } }))
      .toMatchObject({ response_format: { type: 'json_object', json_schema: schema } });
    expect(sent({ response_format: { type: 'text' } })).toMatchObject({ response_format: { type: 'text' } });
  });
});

describe('cohere adapter: the answer', () => {
  const answer = (body: object) => cohere.chatAnswer(JSON.stringify(body), job({}));

  it('maps content, finish reason and usage (billed units first) to a chat.completion', () => {
    const { body, usage } = answer({ id: 'a1b2', finish_reason: 'COMPLETE',
      message: { role: 'assistant', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] },
      usage: { billed_units: { input_tokens: 5, output_tokens: 2 }, tokens: { input_tokens: 70, output_tokens: 2 }, cached_tokens: 3 } });
    const parsed = JSON.parse(body);
    expect(parsed).toMatchObject({ id: 'a1b2', object: 'chat.completion', model: 'command-r-plus',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_tokens_details: { cached_tokens: 3 } } });
    expect(parsed.created).toBeTypeOf('number');
    expect(usage).toEqual({ promptTokens: 5, completionTokens: 2, totalTokens: 7, cachedTokens: 3 });
    expect(answer({ id: 'x', finish_reason: 'COMPLETE', message: { role: 'assistant', content: [] },
      usage: { tokens: { input_tokens: 9, output_tokens: 4 } } }).usage).toEqual({ promptTokens: 9, completionTokens: 4, totalTokens: 13 });
  });

  it('maps tool calls, with the tool plan as content', () => {
    const parsed = JSON.parse(answer({ id: 'x', finish_reason: 'TOOL_CALL', message: { role: 'assistant', tool_plan: 'I will check.',
      tool_calls: [{ id: 'get_weather_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }).body);
    expect(parsed.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { content: 'I will check.',
      tool_calls: [{ id: 'get_weather_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } });
    const bare = JSON.parse(answer({ id: 'x', finish_reason: 'TOOL_CALL', message: { role: 'assistant',
      tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] } }).body);
    expect(bare.choices[0].message.content).toBeNull();
  });

  it.each([
    ['COMPLETE', 'stop'], ['STOP_SEQUENCE', 'stop'], ['MAX_TOKENS', 'length'], ['TOOL_CALL', 'tool_calls'],
    ['ERROR_TOXIC', 'content_filter'], ['ERROR_LIMIT', 'length'],
  ])('maps finish reason %s to %s', (cohereReason, openaiReason) => {
    const parsed = JSON.parse(answer({ id: 'x', finish_reason: cohereReason, message: { role: 'assistant', content: [] } }).body);
    expect(parsed.choices[0].finish_reason).toBe(openaiReason);
  });

  it('treats a generation that ended in ERROR as a failure, and a body without message as unreadable', () => {
    expect(() => answer({ id: 'x', finish_reason: 'ERROR', message: { role: 'assistant' } })).toThrow(/ERROR/);
    expect(() => answer({ id: 'x' })).toThrow(/no message/);
  });

  it('reads the message of Cohere\'s error bodies', () => {
    expect(cohere.errorMessage('{"id":"5b2c","message":"invalid api token"}')).toBe('invalid api token');
    expect(cohere.errorMessage('{"message":"too many tokens"}')).toBe('too many tokens');
    expect(cohere.errorMessage('<html>bad gateway</html>')).toBeNull();
  });
});

describe('cohere adapter: streams', () => {
  const run = (events: object[], s: StreamState) => {
    const steps: StreamStep[] = [];
    for (const event of events) steps.push(cohere.streamEvent({ event: (event as { type: string }).type, data: JSON.stringify(event) }, s));
    return { steps, chunks: steps.flatMap((step) => step.chunks).map((chunk) => JSON.parse(chunk)) };
  };
  const usage = { billed_units: { input_tokens: 4, output_tokens: 3 }, tokens: { input_tokens: 60, output_tokens: 3 } };
  const textEvents = [
    { type: 'message-start', id: 'm-1', delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } },
    { type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } },
    { type: 'content-delta', index: 0, delta: { message: { content: { text: 'Hel' } } } },
    { type: 'content-delta', index: 0, delta: { message: { content: { text: 'lo' } } } },
    { type: 'content-end', index: 0 },
    { type: 'message-end', delta: { finish_reason: 'COMPLETE', usage } },
  ];

  it('turns a text stream into a role chunk, content deltas and a finish chunk, done at message-end', () => {
    const s = state(false);
    const { steps, chunks } = run(textEvents, s);
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hel' }, { content: 'lo' }, {}]);
    expect(chunks.map((c) => c.choices[0].finish_reason)).toEqual([null, null, null, 'stop']);
    for (const chunk of chunks) expect(chunk).toMatchObject({ id: 'm-1', object: 'chat.completion.chunk', model: 'command-r-plus' });
    expect(steps.map((step) => step.done)).toEqual([false, false, false, false, false, true]);
    expect(s.usage).toEqual({ promptTokens: 4, completionTokens: 3, totalTokens: 7 });
  });

  it('adds the usage chunk for clients that asked', () => {
    const { chunks } = run(textEvents, state(true));
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } });
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
  });

  it('turns tool-plan and tool-call events into content and OpenAI tool_calls deltas (index, id, name, then arguments)', () => {
    const toolCall = (index: number, id: string, name: string) => ({ type: 'tool-call-start', index,
      delta: { message: { tool_calls: { id, type: 'function', function: { name, arguments: '' } } } } });
    const args = (index: number, text: string) => ({ type: 'tool-call-delta', index, delta: { message: { tool_calls: { function: { arguments: text } } } } });
    const { chunks } = run([
      textEvents[0],
      { type: 'tool-plan-delta', delta: { message: { tool_plan: 'I will check.' } } },
      toolCall(0, 'get_weather_a', 'get_weather'), args(0, '{"city":'), args(0, '"Paris"}'), { type: 'tool-call-end', index: 0 },
      toolCall(1, 'get_time_b', 'get_time'), args(1, '{}'), { type: 'tool-call-end', index: 1 },
      { type: 'message-end', delta: { finish_reason: 'TOOL_CALL', usage } },
    ], state());
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'I will check.' },
      { tool_calls: [{ index: 0, id: 'get_weather_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
      { tool_calls: [{ index: 1, id: 'get_time_b', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
    ]);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
  });

  it('reports a generation that ends in ERROR as a stream error with Cohere\'s message', () => {
    const s = state();
    const step = cohere.streamEvent({ event: 'message-end', data: JSON.stringify({ type: 'message-end',
      delta: { finish_reason: 'ERROR', error: 'the model failed', usage } }) }, s);
    expect(step).toEqual({ chunks: [], done: false, error: { status: 500, message: 'the model failed' } });
    expect(s.usage).toEqual({ promptTokens: 4, completionTokens: 3, totalTokens: 7 });
    expect(cohere.streamEvent({ event: null, data: '{"type":"message-end","delta":{"finish_reason":"TIMEOUT"}}' }, state()).error)
      .toEqual({ status: 504, message: 'Cohere ended the generation with TIMEOUT' });
  });

  it('maps MAX_TOKENS to length, ignores citation and debug events, and treats a bare message as an error', () => {
    const end = cohere.streamEvent({ event: null, data: '{"type":"message-end","delta":{"finish_reason":"MAX_TOKENS"}}' }, state());
    expect(JSON.parse(end.chunks[0]).choices[0].finish_reason).toBe('length');
    expect(cohere.streamEvent({ event: null, data: '{"type":"citation-start","index":0,"delta":{}}' }, state())).toEqual({ chunks: [], done: false });
    expect(cohere.streamEvent({ event: null, data: '{"message":"internal error"}' }, state()).error).toEqual({ status: 500, message: 'internal error' });
  });
});

describe('cohere adapter: embeddings', () => {
  const embedJob = (body: Record<string, unknown>) => job({}, { kind: 'embeddings', model: 'embed-english-v3.0',
    body: { model: 'cohere/embed-english-v3.0', ...body } });

  it('posts texts to /v2/embed as search documents with float embeddings, reporting what it drops', () => {
    const result = cohere.embeddingsCall!(embedJob({ input: 'one', dimensions: 256, user: 'u' }), target());
    expect(result.url).toBe('https://api.cohere.com/v2/embed');
    expect(JSON.parse(result.body)).toEqual({ model: 'embed-english-v3.0', texts: ['one'], input_type: 'search_document',
      embedding_types: ['float'], output_dimension: 256 });
    expect(result.droppedParams).toEqual(['user']);
    expect(JSON.parse(cohere.embeddingsCall!(embedJob({ input: ['a', 'b'], input_type: 'search_query' }), target()).body))
      .toMatchObject({ texts: ['a', 'b'], input_type: 'search_query' });
    expect(() => cohere.embeddingsCall!(embedJob({ input: [1, 2, 3] }), target())).toThrow(/input must be a string or an array of strings/);
  });

  it('answers an OpenAI embeddings list, in floats or in base64 float32 as asked', () => {
    const text = JSON.stringify({ id: 'e', embeddings: { float: [[0.5, -1], [0.25, 2]] }, texts: ['a', 'b'],
      meta: { api_version: { version: '2' }, billed_units: { input_tokens: 6 } }, response_type: 'embeddings_by_type' });
    const floats = cohere.embeddingsAnswer!(text, embedJob({ input: ['a', 'b'] }));
    expect(JSON.parse(floats.body)).toEqual({ object: 'list', model: 'embed-english-v3.0', usage: { prompt_tokens: 6, total_tokens: 6 },
      data: [{ object: 'embedding', index: 0, embedding: [0.5, -1] }, { object: 'embedding', index: 1, embedding: [0.25, 2] }] });
    expect(floats.usage).toEqual({ promptTokens: 6, completionTokens: 0, totalTokens: 6 });
    const encoded = JSON.parse(cohere.embeddingsAnswer!(text, embedJob({ input: ['a', 'b'], encoding_format: 'base64' })).body);
    const decoded = new Float32Array(Uint8Array.from(Buffer.from(encoded.data[1].embedding, 'base64')).buffer);
    expect(Array.from(decoded)).toEqual([0.25, 2]);
    expect(() => cohere.embeddingsAnswer!('{"id":"e"}', embedJob({ input: 'a' }))).toThrow(/embeddings.float/);
  });
});
