import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { anthropic } from '../../../../workers/providers/anthropic.js';
import { toAnthropicRequest } from '../../../../workers/providers/anthropic-shared.js';
import type { StreamState } from '../../../../workers/providers/types.js';
import { SseDecoder } from '../../../../workers/upstream/sse.js';

const target = { baseUrl: null, key: { value: 'sk-ant-1', configs: {} } };
const user = (content: unknown) => ({ role: 'user', content });

const job = (body: Record<string, unknown>, extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r', model: 'claude-sonnet-5', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'anthropic/claude-sonnet-5', ...body }, ...extra,
});

/** The body the adapter would send, parsed. */
const sent = (body: Record<string, unknown>, extra: Partial<JobData> = {}) => {
  const call = anthropic.chatCall(job(body, extra), target);
  return { call, body: JSON.parse(call.body) as Record<string, unknown> };
};

describe('Anthropic adapter: the request', () => {
  it('posts to /v1/messages with the pinned API version, the bare model and a default max_tokens', () => {
    const { call, body } = sent({ messages: [user('hi')] });
    expect(call.url).toBe('https://api.anthropic.com/v1/messages');
    expect(call.headers).toEqual({ 'anthropic-version': '2023-06-01' });
    expect(anthropic.auth).toEqual({ kind: 'header', name: 'x-api-key' });
    expect(body).toEqual({ model: 'claude-sonnet-5', max_tokens: 4096, messages: [{ role: 'user', content: 'hi' }] });
    expect(call.droppedParams).toEqual([]);
    const custom = anthropic.chatCall(job({ messages: [user('hi')] }), { ...target, baseUrl: 'http://127.0.0.1:9/v1' });
    expect(custom.url).toBe('http://127.0.0.1:9/v1/messages');
  });

  it('maps sampling fields, and asks for a stream only when the client did', () => {
    const { body } = sent({ messages: [user('hi')], max_tokens: 50, max_completion_tokens: 70, temperature: 0.3, top_p: 0.9,
      stop: 'END', user: 'u-42', stream: true, stream_options: { include_usage: true } }, { stream: true });
    expect(body).toMatchObject({ max_tokens: 70, temperature: 0.3, top_p: 0.9, stop_sequences: ['END'], metadata: { user_id: 'u-42' },
      stream: true });
    expect(body).not.toHaveProperty('stream_options');
    expect(sent({ messages: [user('hi')], stop: ['a', 'b'], max_tokens: 5 }).body).toMatchObject({ stop_sequences: ['a', 'b'], max_tokens: 5 });
  });

  it('moves system and developer messages to the top-level system prompt', () => {
    expect(sent({ messages: [{ role: 'system', content: 'Be brief.' }, user('hi')] }).body.system).toBe('Be brief.');
    const { body } = sent({ messages: [
      { role: 'developer', content: [{ type: 'text', text: 'Rule one.', cache_control: { type: 'ephemeral' } }] },
      user('hi'),
      { role: 'system', content: 'Rule two.' },
    ] });
    expect(body.system).toEqual([
      { type: 'text', text: 'Rule one.', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Rule two.' },
    ]);
    expect(body.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('turns image parts into base64 or URL image blocks, and reports the detail hint it cannot keep', () => {
    const { body, call } = sent({ messages: [user([
      { type: 'text', text: 'compare' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
    ])] });
    expect(body.messages).toEqual([{ role: 'user', content: [
      { type: 'text', text: 'compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ] }]);
    expect(call.droppedParams).toEqual(['image_url.detail']);
  });

  it('sends inline PDFs as documents and refuses what it cannot convert', () => {
    const { body } = sent({ messages: [user([{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } }])] });
    expect(body.messages).toEqual([{ role: 'user', content: [
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'a.pdf' },
    ] }]);
    const refuse = (content: unknown) => () => anthropic.chatCall(job({ messages: [user(content)] }), target);
    expect(refuse([{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }])).toThrow(/image type 'image\/tiff'/);
    expect(refuse([{ type: 'image_url', image_url: { url: 'data:image/png,rawbytes' } }])).toThrow(/base64/);
    expect(refuse([{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }])).toThrow(/http\(s\) or data:/);
    expect(refuse([{ type: 'file', file: { file_id: 'file-1' } }])).toThrow(/file_id/);
    expect(refuse([{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }])).toThrow(/audio/);
    expect(() => anthropic.chatCall(job({ messages: [{ role: 'function', name: 'f', content: 'x' }] }), target)).toThrow(/role 'function'/);
  });

  it('converts function tools and every tool_choice form', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', strict: true,
      parameters: { type: 'object', properties: { city: { type: 'string' } } } } }, { type: 'function', function: { name: 'now' } }];
    const base = { messages: [user('hi')], tools };
    expect(sent(base).body.tools).toEqual([
      { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, strict: true },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(sent(base).body).not.toHaveProperty('tool_choice');
    expect(sent({ ...base, tool_choice: 'auto' }).body.tool_choice).toEqual({ type: 'auto' });
    expect(sent({ ...base, tool_choice: 'none' }).body.tool_choice).toEqual({ type: 'none' });
    expect(sent({ ...base, tool_choice: 'required' }).body.tool_choice).toEqual({ type: 'any' });
    expect(sent({ ...base, tool_choice: { type: 'function', function: { name: 'now' } } }).body.tool_choice).toEqual({ type: 'tool', name: 'now' });
    expect(sent({ ...base, parallel_tool_calls: false }).body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(sent({ ...base, tool_choice: 'required', parallel_tool_calls: false }).body.tool_choice)
      .toEqual({ type: 'any', disable_parallel_tool_use: true });
    const allowed = sent({ ...base, tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } } });
    expect(allowed.body).not.toHaveProperty('tool_choice');
    expect(allowed.call.droppedParams).toEqual(['tool_choice']);
    expect(() => anthropic.chatCall(job({ ...base, tools: [{ type: 'custom', custom: { name: 'x' } }] }), target)).toThrow(/function tools/);
    // No tools: tool_choice has no effect at OpenAI either, and Anthropic refuses it alone.
    expect(sent({ messages: [user('hi')], tools: [], tool_choice: 'auto' }).body).not.toHaveProperty('tool_choice');
  });

  it('turns assistant tool calls into tool_use blocks and tool messages into one user turn of tool_result blocks', () => {
    const { body } = sent({ messages: [
      user('weather in Paris and Rome?'),
      { role: 'assistant', content: '', tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '' } },
      ] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18°C' },
      { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '21°C' }] },
      user('thanks, and tomorrow?'),
    ] });
    expect(body.messages).toEqual([
      { role: 'user', content: 'weather in Paris and Rome?' },
      { role: 'assistant', content: [
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} },
      ] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: '18°C' },
        { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '21°C' }] },
        { type: 'text', text: 'thanks, and tomorrow?' },
      ] },
    ]);
    expect(() => anthropic.chatCall(job({ messages: [user('x'), { role: 'assistant', tool_calls: [
      { id: 't', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }), target)).toThrow(/not valid JSON/);
    expect(() => anthropic.chatCall(job({ messages: [{ role: 'tool', content: 'x' }] }), target)).toThrow(/tool_call_id/);
  });

  it('hands thinking_blocks back as thinking blocks; reasoning_content alone is reported, not sent', () => {
    const blocks = [{ type: 'thinking', thinking: 'hmm', signature: 'sig==' }, { type: 'redacted_thinking', data: 'xyz' }];
    const { body } = sent({ messages: [user('a'), { role: 'assistant', content: 'b', reasoning_content: 'hmm', thinking_blocks: blocks }, user('c')] });
    expect((body.messages as { content: unknown }[])[1].content).toEqual([...blocks, { type: 'text', text: 'b' }]);
    const bare = sent({ messages: [user('a'), { role: 'assistant', content: 'b', reasoning_content: 'hmm' }, user('c')] });
    expect((bare.body.messages as { content: unknown }[])[1].content).toBe('b');
    expect(bare.call.droppedParams).toEqual(['reasoning_content']);
  });

  it('maps reasoning_effort and json_schema response_format to output_config, passes Anthropic-native fields through', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const { body, call } = sent({ messages: [user('hi')], reasoning_effort: 'high',
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } },
      thinking: { type: 'enabled', budget_tokens: 8000 }, top_k: 5, service_tier: 'default' });
    expect(body.output_config).toEqual({ effort: 'high', format: { type: 'json_schema', schema } });
    expect(body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 8000 }, top_k: 5, service_tier: 'standard_only' });
    // Thinking tokens count toward max_tokens, which must exceed the budget.
    expect(body.max_tokens).toBe(8000 + 4096);
    expect(call.droppedParams).toEqual([]);
    expect(sent({ messages: [user('hi')], response_format: { type: 'text' } }).body).not.toHaveProperty('output_config');
  });

  it("sends the /anthropic route's output_config back as the client wrote it, and its Anthropic-only fields", () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false };
    const only = { cache_control: { type: 'ephemeral', ttl: '1h' }, container: 'container_1', inference_geo: 'us', speed: 'fast',
      diagnostics: { previous_message_id: 'msg_1' }, user_profile_id: 'up_1', workspace_id: 'wrk_1' };
    const tool = { type: 'function', function: { name: 't', parameters: { type: 'object' } }, defer_loading: true,
      eager_input_streaming: true, input_examples: [{ a: 1 }], allowed_callers: ['direct'] };
    const { body, call } = sent({ messages: [user('hi')], reasoning_effort: 'max',
      response_format: { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } },
      output_config: { task_budget: { type: 'tokens', total: 1000 } }, tools: [tool], ...only });
    expect(body.output_config).toEqual({ task_budget: { type: 'tokens', total: 1000 }, effort: 'max', format: { type: 'json_schema', schema } });
    expect(body).toMatchObject(only);
    expect(body.tools).toEqual([{ name: 't', input_schema: { type: 'object' }, defer_loading: true, eager_input_streaming: true,
      input_examples: [{ a: 1 }], allowed_callers: ['direct'] }]);
    expect(call.droppedParams).toEqual([]);
    expect(sent({ messages: [user('hi')], output_config: 'high' }).call.droppedParams).toEqual(['output_config']);
    const cache = { type: 'ephemeral', ttl: '1h' };
    const tooled = sent({ messages: [user('q'), { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function',
      function: { name: 'f', arguments: '{}' }, cache_control: cache }] }, { role: 'tool', tool_call_id: 't1', content: 'ok', cache_control: cache }] });
    expect(tooled.body.messages).toEqual([{ role: 'user', content: 'q' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {}, cache_control: cache }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok', cache_control: cache }] }]);
  });

  it('drops and reports every parameter Anthropic cannot take, but not harmless defaults', () => {
    const { body, call } = sent({ messages: [user('hi')], n: 2, logprobs: true, top_logprobs: 2, presence_penalty: 0.5,
      frequency_penalty: 0.1, seed: 7, logit_bias: { 1: 2 }, response_format: { type: 'json_object' }, reasoning_effort: 'minimal',
      store: true, metadata: { a: 'b' }, service_tier: 'flex', modalities: ['text'], functions: [], function_call: 'auto' });
    expect(call.droppedParams.sort()).toEqual(['frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs', 'metadata',
      'modalities', 'n', 'presence_penalty', 'reasoning_effort', 'response_format', 'seed', 'service_tier', 'store', 'top_logprobs']);
    expect(Object.keys(body).sort()).toEqual(['max_tokens', 'messages', 'model']);
    const harmless = sent({ messages: [user('hi')], n: 1, logprobs: false, parallel_tool_calls: true, seed: null, stream: false });
    expect(harmless.call.droppedParams).toEqual([]);
    expect(sent({ messages: [{ role: 'user', content: 'hi', name: 'bob' }] }).call.droppedParams).toEqual(['name']);
  });
});

describe('Anthropic adapter: the answer', () => {
  const answer = (message: Record<string, unknown>) => {
    const result = anthropic.chatAnswer(JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-5-20260101',
      stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 5 }, ...message }), job({}));
    return { ...result, parsed: JSON.parse(result.body) };
  };

  it('is a chat.completion with the text, the finish reason and the usage', () => {
    const { parsed, usage } = answer({ content: [{ type: 'text', text: 'Hello' }, { type: 'text', text: ' there' }] });
    expect(parsed).toMatchObject({ id: 'msg_1', object: 'chat.completion', model: 'claude-sonnet-5-20260101' });
    expect(parsed.created).toBeTypeOf('number');
    expect(parsed.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'Hello there', refusal: null },
      logprobs: null, finish_reason: 'stop' }]);
    expect(parsed.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15,
      prompt_tokens_details: { cached_tokens: 0, cache_creation_tokens: 0 } });
    expect(usage).toEqual({ promptTokens: 10, completionTokens: 5, totalTokens: 15, cachedTokens: 0, cacheWriteTokens: 0 });
  });

  it('counts cache reads and writes into prompt_tokens, reads as cached_tokens', () => {
    const { parsed, usage } = answer({ content: [{ type: 'text', text: 'x' }], usage: { input_tokens: 10, output_tokens: 5,
      cache_read_input_tokens: 1000, cache_creation_input_tokens: 200, output_tokens_details: { thinking_tokens: 3 } } });
    expect(parsed.usage).toEqual({ prompt_tokens: 1210, completion_tokens: 5, total_tokens: 1215,
      prompt_tokens_details: { cached_tokens: 1000, cache_creation_tokens: 200 }, completion_tokens_details: { reasoning_tokens: 3 } });
    expect(usage).toEqual({ promptTokens: 1210, completionTokens: 5, totalTokens: 1215, cachedTokens: 1000, cacheWriteTokens: 200,
      reasoningTokens: 3 });
  });

  it('turns tool_use blocks into tool_calls with JSON arguments', () => {
    const { parsed } = answer({ stop_reason: 'tool_use', content: [{ type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: { city: 'Oslo' } }] });
    expect(parsed.choices[0].finish_reason).toBe('tool_calls');
    expect(parsed.choices[0].message).toEqual({ role: 'assistant', content: null, refusal: null,
      tool_calls: [{ id: 'toolu_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] });
  });

  it('returns thinking as reasoning_content plus the signed thinking_blocks', () => {
    const { parsed } = answer({ content: [{ type: 'thinking', thinking: 'Let me see.', signature: 'sig' },
      { type: 'redacted_thinking', data: 'enc' }, { type: 'text', text: 'Done.' }] });
    expect(parsed.choices[0].message).toMatchObject({ content: 'Done.', reasoning_content: 'Let me see.',
      thinking_blocks: [{ type: 'thinking', thinking: 'Let me see.', signature: 'sig' }, { type: 'redacted_thinking', data: 'enc' }] });
  });

  it.each([
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['pause_turn', 'stop'], ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'],
  ])('maps stop_reason %s to finish_reason %s', (stopReason, finish) => {
    expect(answer({ stop_reason: stopReason, content: [] }).parsed.choices[0].finish_reason).toBe(finish);
  });

  it('refuses an answer with no content array', () => {
    expect(() => anthropic.chatAnswer('{"type":"message"}', job({}))).toThrow(/content/);
  });

  it('reads the message out of the error envelope', () => {
    expect(anthropic.errorMessage('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"r"}'))
      .toBe('Overloaded');
    expect(anthropic.errorMessage('<html>bad gateway</html>')).toBeNull();
  });
});

describe('Anthropic adapter: the stream', () => {
  const sse = (events: Record<string, unknown>[]) =>
    events.map((payload) => `event: ${payload.type as string}\ndata: ${JSON.stringify(payload)}\n\n`).join('');
  const usage = { input_tokens: 20, cache_read_input_tokens: 100, cache_creation_input_tokens: 0, output_tokens: 1 };
  const start = { type: 'message_start', message: { id: 'msg_s', type: 'message', role: 'assistant', model: 'claude-sonnet-5-x',
    content: [], stop_reason: null, stop_sequence: null, usage } };

  /** Feeds a raw SSE body, split into small pieces, through the decoder and the adapter. */
  function run(body: string, includeUsage: boolean) {
    const state: StreamState = { includeUsage, model: 'claude-sonnet-5', usage: null, scratch: {} };
    const decoder = new SseDecoder();
    const chunks: Record<string, unknown>[] = [];
    let done = false;
    let error: { status: number; message: string } | undefined;
    const bytes = Buffer.from(body);
    for (let at = 0; at < bytes.length && !done && !error; at += 7) {
      for (const event of decoder.push(bytes.subarray(at, at + 7))) {
        const step = anthropic.streamEvent(event, state);
        chunks.push(...step.chunks.map((c) => JSON.parse(c) as Record<string, unknown>));
        if (step.error) error = step.error;
        if (step.done) done = true;
        if (done || error) break;
      }
    }
    const deltas = chunks.map((c) => (c.choices as { delta: Record<string, unknown> }[])[0]?.delta);
    return { state, chunks, deltas, done, error };
  }

  const textStream = sse([
    start, { type: 'ping' },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' world' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } },
    { type: 'message_stop' },
  ]);

  it('emits the role chunk, content deltas, the finish chunk and the usage chunk when asked', () => {
    const { chunks, deltas, done, state } = run(textStream, true);
    expect(done).toBe(true);
    expect(deltas[0]).toEqual({ role: 'assistant', content: '' });
    expect(deltas.slice(1, 3)).toEqual([{ content: 'Hello' }, { content: ' world' }]);
    expect(chunks[3].choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(chunks[4]).toMatchObject({ id: 'msg_s', object: 'chat.completion.chunk', model: 'claude-sonnet-5-x', choices: [],
      usage: { prompt_tokens: 120, completion_tokens: 7, total_tokens: 127, prompt_tokens_details: { cached_tokens: 100 } } });
    expect(chunks).toHaveLength(5);
    for (const c of chunks) expect(c).toMatchObject({ id: 'msg_s', object: 'chat.completion.chunk' });
    expect(state.usage).toEqual({ promptTokens: 120, completionTokens: 7, totalTokens: 127, cachedTokens: 100, cacheWriteTokens: 0 });
  });

  it('withholds the usage chunk from clients that did not ask, but still records the usage', () => {
    const { chunks, state } = run(textStream, false);
    expect(chunks).toHaveLength(4);
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(state.usage).toEqual({ promptTokens: 120, completionTokens: 7, totalTokens: 127, cachedTokens: 100, cacheWriteTokens: 0 });
  });

  it('streams tool calls as OpenAI tool_calls deltas: index, id and name first, then argument fragments', () => {
    const { deltas, chunks } = run(sse([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Oslo"}' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_b', name: 'now', input: {} } },
      { type: 'content_block_stop', index: 2 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 30 } },
      { type: 'message_stop' },
    ]), false);
    expect(deltas.slice(1)).toEqual([
      { content: 'Checking.' },
      { tool_calls: [{ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] },
      { tool_calls: [{ index: 1, id: 'toolu_b', type: 'function', function: { name: 'now', arguments: '' } }] },
      {},
    ]);
    expect((chunks.at(-1)!.choices as { finish_reason: string }[])[0].finish_reason).toBe('tool_calls');
  });

  it('streams thinking as reasoning_content, then the signed block in thinking_blocks', () => {
    const { deltas } = run(sse([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'think.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'c2ln' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'enc' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } },
      { type: 'message_stop' },
    ]), false);
    expect(deltas.slice(1)).toEqual([
      { reasoning_content: 'Let me ' },
      { reasoning_content: 'think.' },
      { thinking_blocks: [{ type: 'thinking', thinking: 'Let me think.', signature: 'c2ln' }] },
      { thinking_blocks: [{ type: 'redacted_thinking', data: 'enc' }] },
      {},
    ]);
  });

  it('maps max_tokens and refusal stops, and takes cumulative input usage from message_delta', () => {
    const { chunks, state } = run(sse([start,
      { type: 'message_delta', delta: { stop_reason: 'max_tokens' }, usage: { input_tokens: 25, cache_read_input_tokens: null, output_tokens: 3 } },
      { type: 'message_stop' }]), true);
    expect((chunks[1].choices as { finish_reason: string }[])[0].finish_reason).toBe('length');
    expect(state.usage).toEqual({ promptTokens: 125, completionTokens: 3, totalTokens: 128, cachedTokens: 100, cacheWriteTokens: 0 });
    const refused = run(sse([start, { type: 'message_delta', delta: { stop_reason: 'refusal' }, usage: { output_tokens: 1 } },
      { type: 'message_stop' }]), false);
    expect((refused.chunks[1].choices as { finish_reason: string }[])[0].finish_reason).toBe('content_filter');
  });

  it('reports an error event with the status its type implies', () => {
    const overloaded = run(sse([start, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]), false);
    expect(overloaded.error).toEqual({ status: 529, message: 'Overloaded' });
    const limited = run(sse([{ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }]), false);
    expect(limited.error).toEqual({ status: 429, message: 'slow down' });
  });

  it('ignores pings, block stops and event types it does not know', () => {
    const { chunks, done } = run(sse([start, { type: 'ping' }, { type: 'some_future_event', x: 1 },
      { type: 'content_block_start', index: 0, content_block: { type: 'server_tool_use', id: 's', name: 'web_search', input: {} } },
      { type: 'content_block_stop', index: 0 }, { type: 'message_stop' }]), false);
    expect(done).toBe(true);
    expect(chunks).toHaveLength(1);
  });
});

describe('toAnthropicRequest (shared with hosts of Claude)', () => {
  it('leaves model and stream to the caller', () => {
    const { body } = toAnthropicRequest({ model: 'x', messages: [user('hi')], stream: true });
    expect(body).not.toHaveProperty('model');
    expect(body).not.toHaveProperty('stream');
  });
});

describe('Anthropic adapter: extensions the Messages route relies on', () => {
  it('names the matched stop sequence in the choice, as stop_reason (vLLM\'s field)', () => {
    const answer = JSON.parse(anthropic.chatAnswer(JSON.stringify({ id: 'msg_1', model: 'm', content: [{ type: 'text', text: 'a' }],
      stop_reason: 'stop_sequence', stop_sequence: 'END', usage: {} }), job({})).body);
    expect(answer.choices[0]).toMatchObject({ finish_reason: 'stop', stop_reason: 'END' });
    const state: StreamState = { includeUsage: false, model: 'm', usage: null, scratch: {} };
    const step = anthropic.streamEvent({ event: 'message_delta', data: JSON.stringify({ type: 'message_delta',
      delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' }, usage: { output_tokens: 1 } }) }, state);
    expect(JSON.parse(step.chunks[0]).choices[0]).toMatchObject({ finish_reason: 'stop', stop_reason: 'END' });
  });

  it('keeps is_error on a tool message as the tool_result flag', () => {
    const { body } = sent({ messages: [user('hi'),
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't1', content: 'boom', is_error: true }] });
    expect((body.messages as { content: unknown }[])[2].content).toEqual([{ type: 'tool_result', tool_use_id: 't1', content: 'boom', is_error: true }]);
  });
});

describe('Anthropic adapter: list_models', () => {
  it('gets /v1/models with the pinned version and reads the ids', () => {
    const call = anthropic.listModelsCall!(job({}, { kind: 'list_models' }), target);
    expect(call).toMatchObject({ method: 'GET', url: 'https://api.anthropic.com/v1/models?limit=1000', headers: { 'anthropic-version': '2023-06-01' } });
    const page = '{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5"}],"has_more":false}';
    expect(anthropic.listModelsAnswer!(page, job({}))).toEqual({ body: '{"models":["claude-sonnet-4-5"]}', usage: null });
    expect(() => anthropic.listModelsAnswer!('{"models":[]}', job({}))).toThrow(/data array/);
  });
});

describe('Anthropic adapter: count_tokens', () => {
  it('posts the conversation, system and tools to /v1/messages/count_tokens, without max_tokens or sampling fields', () => {
    const call = anthropic.countTokensCall!(job({ messages: [{ role: 'system', content: 'Be brief.' }, user('hi')], temperature: 0.2,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }, { kind: 'count_tokens' }), target);
    expect(call.url).toBe('https://api.anthropic.com/v1/messages/count_tokens');
    expect(call.headers).toEqual({ 'anthropic-version': '2023-06-01' });
    expect(JSON.parse(call.body)).toEqual({ model: 'claude-sonnet-5', system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'f', input_schema: { type: 'object' } }] });
  });

  it('answers {"input_tokens": N} and records no usage; an answer without a count is refused', () => {
    expect(anthropic.countTokensAnswer!('{"input_tokens":42,"extra":1}', job({}))).toEqual({ body: '{"input_tokens":42}', usage: null });
    expect(() => anthropic.countTokensAnswer!('{"tokens":42}', job({}))).toThrow(/input_tokens/);
  });
});

describe("Anthropic adapter: the client's beta flags", () => {
  it('sends anthropic_beta as the anthropic-beta header, joined with the configured flags, on chats and counts', () => {
    const body = { messages: [user('hi')], anthropic_beta: ['context-1m-2025-08-07'] };
    const call = anthropic.chatCall(job(body), { ...target, extraHeaders: { 'anthropic-beta': 'files-api-2025-04-14, context-1m-2025-08-07' } });
    expect(call.headers).toEqual({ 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14,context-1m-2025-08-07' });
    expect(JSON.parse(call.body)).not.toHaveProperty('anthropic_beta');
    expect(call.droppedParams).toEqual([]);
    expect(anthropic.countTokensCall!(job(body, { kind: 'count_tokens' }), target).headers)
      .toEqual({ 'anthropic-version': '2023-06-01', 'anthropic-beta': 'context-1m-2025-08-07' });
    // With no client flags the configured header is left to the worker's extra_headers.
    expect(anthropic.chatCall(job({ messages: [user('hi')] }), { ...target, extraHeaders: { 'anthropic-beta': 'x' } }).headers)
      .toEqual({ 'anthropic-version': '2023-06-01' });
  });
});

describe('Anthropic adapter: the Messages API natively (messages jobs)', () => {
  const native = (body: Record<string, unknown>) => job(body, { kind: 'messages' });

  it("sends the client's request as it came, with the bare model, and its beta flags as the header", () => {
    const body = { model: 'anthropic/claude-sonnet-5', max_tokens: 10, messages: [user('hi')], tools: [{ type: 'web_search_20250305', name: 'web_search' }] };
    const call = anthropic.messagesCall!(native({ ...body, anthropic_beta: ['mcp-client-2025-04-04', 'b'] }), target);
    expect(call.url).toBe('https://api.anthropic.com/v1/messages');
    expect(call.headers).toEqual({ 'anthropic-version': '2023-06-01', 'anthropic-beta': 'mcp-client-2025-04-04,b' });
    expect(JSON.parse(call.body)).toEqual({ ...body, model: 'claude-sonnet-5' });
    expect(call.droppedParams).toEqual([]);
    expect(anthropic.messagesCall!(native(body), target).headers).toEqual({ 'anthropic-version': '2023-06-01' });
  });

  it('answers the message as it came, with the usage read (cache reads and writes as input)', () => {
    const text = JSON.stringify({ id: 'msg_1', type: 'message', content: [{ type: 'server_tool_use', id: 's', name: 'web_search', input: {} }],
      usage: { input_tokens: 10, cache_read_input_tokens: 5, cache_creation_input_tokens: 1, output_tokens: 7 } });
    expect(anthropic.messagesAnswer!(text)).toEqual({ body: text, usage: { promptTokens: 16, completionTokens: 7, totalTokens: 23,
      cachedTokens: 5, cacheWriteTokens: 1 } });
    expect(() => anthropic.messagesAnswer!('[1]')).toThrow();
  });

  it('streams the events as whole SSE blocks, keeps the usage, and ends at message_stop; an error event is a failure', () => {
    const state: StreamState = { includeUsage: false, model: 'claude-sonnet-5', usage: null, scratch: {} };
    const step = (type: string, payload: Record<string, unknown> = {}) =>
      anthropic.messagesEvent!({ event: type, data: JSON.stringify({ type, ...payload }) }, state);
    const start = step('message_start', { message: { usage: { input_tokens: 12, output_tokens: 1 } } });
    expect(start).toEqual({ chunks: [`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 12,
      output_tokens: 1 } } })}\n\n`], done: false });
    expect(step('content_block_delta', { index: 0, delta: { type: 'citations_delta', citation: {} } }).done).toBe(false);
    step('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 30 } });
    expect(state.usage).toEqual({ promptTokens: 12, completionTokens: 30, totalTokens: 42, cachedTokens: 0, cacheWriteTokens: 0 });
    expect(step('message_stop').done).toBe(true);
    expect(step('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }))
      .toEqual({ chunks: [], done: false, error: { status: 529, message: 'Overloaded' } });
  });
});

