import { describe, expect, it } from 'vitest';
import { estimateInputTokens } from '../../../src/dialects/anthropic-routes.js';
import { anthropicCountTokens, anthropicMessages, toOpenAIRequest } from '../../../src/dialects/anthropic.js';
import { anthropicErrorBody, anthropicMessage, anthropicStop, anthropicUsage, createAnthropicWire } from '../../../src/dialects/anthropic-wire.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import type { IncomingRequest } from '../../../src/http/server.js';
import type { ParsedRequest } from '../../../src/pipeline/parse.js';

type Json = Record<string, unknown>;

const base = { model: 'claude-sonnet-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };
const parse = (request: Json, counting = false) => toOpenAIRequest(request, counting);
/** The HTTP request a body (and headers) arrives as. */
const incoming = (body: Json, headers: Record<string, string> = {}) => ({ body: Buffer.from(JSON.stringify(body)), headers }) as IncomingRequest;
/** The GatewayError a request is refused with. */
function refusal(request: Json, counting = false): GatewayError {
  try {
    parse(request, counting);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('the request was accepted');
}

describe('Anthropic dialect: the request as an OpenAI chat request', () => {
  it('maps the sampling fields, stop sequences, metadata, service tier and thinking', () => {
    const parsed = parse({ ...base, max_tokens: 2048, system: 'Be brief.', temperature: 0.5, top_p: 0.9, top_k: 3, stop_sequences: ['END'],
      metadata: { user_id: 'u1' }, service_tier: 'standard_only', thinking: { type: 'enabled', budget_tokens: 1024 }, stream: true });
    expect(parsed).toEqual({ kind: 'chat', stream: true, includeUsage: true, body: {
      model: 'claude-sonnet-5', max_tokens: 2048, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }],
      temperature: 0.5, top_p: 0.9, top_k: 3, stop: ['END'], user: 'u1', service_tier: 'default',
      thinking: { type: 'enabled', budget_tokens: 1024 } } });
  });

  it('keeps cache_control on system blocks, content blocks and tools', () => {
    const cache = { type: 'ephemeral' };
    const { body } = parse({ ...base, system: [{ type: 'text', text: 'S', cache_control: cache }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'U', cache_control: cache }] }],
      tools: [{ name: 't', input_schema: { type: 'object' }, cache_control: cache }] });
    expect(body.messages).toEqual([{ role: 'system', content: [{ type: 'text', text: 'S', cache_control: cache }] },
      { role: 'user', content: [{ type: 'text', text: 'U', cache_control: cache }] }]);
    expect(body.tools).toEqual([{ type: 'function', function: { name: 't', parameters: { type: 'object' } }, cache_control: cache }]);
  });

  it.each([
    [{ type: 'auto' }, 'auto', undefined],
    [{ type: 'any' }, 'required', undefined],
    [{ type: 'none' }, 'none', undefined],
    [{ type: 'tool', name: 't', disable_parallel_tool_use: true }, { type: 'function', function: { name: 't' } }, false],
  ])('maps tool_choice %j', (choice, expected, parallel) => {
    const { body } = parse({ ...base, tools: [{ name: 't', input_schema: { type: 'object' } }], tool_choice: choice });
    expect(body.tool_choice).toEqual(expected);
    expect(body.parallel_tool_calls).toBe(parallel);
  });

  it('splits a user turn into tool messages (is_error kept) and the rest; images and documents become parts', () => {
    const { body } = parse({ ...base, messages: [
      { role: 'user', content: 'run it' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }, { type: 'text', text: 'ok' },
        { type: 'tool_use', id: 't1', name: 'run', input: { a: 1 } }] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'failed' }], is_error: true },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
        { type: 'image', source: { type: 'url', url: 'https://x.test/a.png' } },
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' }, title: 'a.pdf' },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain' } },
      ] },
    ] });
    expect(body.messages).toEqual([
      { role: 'user', content: 'run it' },
      { role: 'assistant', content: [{ type: 'text', text: 'ok' }], reasoning_content: 'hm',
        thinking_blocks: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }],
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'run', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 't1', content: [{ type: 'text', text: 'failed' }], is_error: true },
      { role: 'user', content: [
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        { type: 'image_url', image_url: { url: 'https://x.test/a.png' } },
        { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' } },
        { type: 'text', text: 'plain' },
      ] },
    ]);
  });

  it('count_tokens takes no max_tokens and no sampling fields', () => {
    const { max_tokens: _max, ...counted } = base;
    expect(parse(counted, true)).toMatchObject({ kind: 'count_tokens', stream: false, body: { model: 'claude-sonnet-5' } });
    expect(refusal({ ...counted, temperature: 0.2 }, true).message).toBe('temperature: Extra inputs are not permitted');
  });

  it.each([
    [{ ...base, max_tokens: undefined }, /max_tokens: Field required/],
    [{ ...base, messages: [] }, /messages: Field required/],
    [{ ...base, model: '' }, /model: Field required/],
    [{ ...base, frequency_penalty: 1 }, /frequency_penalty: Extra inputs/],
    [{ ...base, temperature: 2 }, /temperature: Input should be a number between 0 and 1/],
    [{ ...base, stop_sequences: 'END' }, /stop_sequences/],
    [{ ...base, metadata: { user_id: 'u', other: 1 } }, /metadata/],
    [{ ...base, tool_choice: { type: 'auto' } }, /tool_choice: may only be specified while providing tools/],
    [{ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, /server tool 'web_search_20250305'/],
    [{ ...base, thinking: { type: 'enabled', budget_tokens: 100 } }, /budget_tokens/],
    [{ ...base, thinking: { type: 'enabled', budget_tokens: 2000 } }, /greater than `thinking.budget_tokens`/],
    [{ ...base, messages: [{ role: 'system', content: 'x' }] }, /messages.0.role/],
    [{ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'tool_result', tool_use_id: 't' }] }] },
      /tool_result blocks must come first/],
    [{ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'A' } }] }] },
      /media_type/],
    [{ ...base, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://x.test/a.pdf' } }] }] },
      /only base64 PDF and plain-text documents/],
    [{ ...base, messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 'x' }] }] }, /signature/],
  ])('refuses %j with a 400', (request, message) => {
    const error = refusal(request as Json);
    expect(error.data.code).toBe('INVALID_REQUEST');
    expect(error.message).toMatch(message);
  });

  it('refuses bad JSON and an empty body through the dialect', () => {
    const request = (body: string | null) => ({ body: body === null ? null : Buffer.from(body) }) as IncomingRequest;
    expect(() => anthropicMessages.parse(request('{x'))).toThrow(expect.objectContaining({ data: expect.objectContaining({ code: 'INVALID_JSON' }) }));
    expect(() => anthropicMessages.parse(request(null))).toThrow(/empty/);
    expect(() => anthropicMessages.parse(request('[1]'))).toThrow(/JSON object/);
  });

  it('takes output_config: effort as reasoning_effort, a JSON-schema format as a strict response_format, the rest kept', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const { body } = parse({ ...base, output_config: { effort: 'max', format: { type: 'json_schema', schema },
      task_budget: { type: 'tokens', total: 400000 } } });
    expect(body.reasoning_effort).toBe('max');
    expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
    expect(body.output_config).toEqual({ task_budget: { type: 'tokens', total: 400000 } });
    // Only what has no OpenAI field stays under output_config.
    expect(parse({ ...base, output_config: { effort: 'low' } }).body).not.toHaveProperty('output_config');
    expect(parse({ model: base.model, messages: base.messages, output_config: { effort: 'low' } }, true).body.reasoning_effort).toBe('low');
  });

  it('refuses an output_config Anthropic would refuse', () => {
    expect(refusal({ ...base, output_config: 'high' }).message).toMatch(/^output_config: Input should be a valid dictionary/);
    expect(refusal({ ...base, output_config: { effort: 'extreme' } }).message).toMatch(/^output_config\.effort: Input should be 'low'/);
    expect(refusal({ ...base, output_config: { format: { type: 'json_schema' } } }).message).toMatch(/^output_config\.format:/);
    expect(refusal({ ...base, output_config: { format: { type: 'regex', schema: {} } } }).data.param).toBe('output_config');
  });

  it("carries the Anthropic-only top-level fields and a tool's Anthropic-only fields as they are", () => {
    const only = { cache_control: { type: 'ephemeral', ttl: '1h' }, container: 'container_1', diagnostics: { previous_message_id: 'msg_1' },
      inference_geo: 'us', speed: 'fast', user_profile_id: 'up_1', workspace_id: 'wrk_1' };
    const tool = { name: 't', input_schema: { type: 'object' }, defer_loading: true, eager_input_streaming: true,
      input_examples: [{ a: 1 }], allowed_callers: ['direct'] };
    const { body } = parse({ ...base, ...only, tools: [tool], thinking: { type: 'adaptive' } });
    expect(body).toMatchObject({ ...only, thinking: { type: 'adaptive' } });
    expect(body.tools).toEqual([{ type: 'function', function: { name: 't', parameters: { type: 'object' } }, defer_loading: true,
      eager_input_streaming: true, input_examples: [{ a: 1 }], allowed_callers: ['direct'] }]);
    // count_tokens takes the prompt-caching and speed settings, not the sampling-side ones.
    const counted = { model: base.model, messages: base.messages };
    expect(parse({ ...counted, cache_control: { type: 'ephemeral' }, speed: 'fast' }, true).body)
      .toMatchObject({ cache_control: { type: 'ephemeral' }, speed: 'fast' });
    expect(refusal({ ...counted, inference_geo: 'us' }, true).message).toBe('inference_geo: Extra inputs are not permitted');
  });


  it("carries the client's anthropic-beta flags as anthropic_beta, counting too", () => {
    const betas = { 'anthropic-beta': 'interleaved-thinking-2025-05-14, context-1m-2025-08-07' };
    expect(anthropicMessages.parse(incoming(base, betas)).body.anthropic_beta).toEqual(['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07']);
    expect(anthropicCountTokens.parse(incoming({ model: base.model, messages: base.messages }, betas)).body.anthropic_beta).toHaveLength(2);
    expect(anthropicMessages.parse(incoming(base, { 'anthropic-beta': ' , ' })).body).not.toHaveProperty('anthropic_beta');
  });

  it("keeps a tool_use's and a tool_result's cache breakpoint; a tool_use's caller goes natively", () => {
    const cache = { type: 'ephemeral' };
    const { body } = parse({ ...base, messages: [{ role: 'user', content: 'q' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {}, cache_control: cache }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok', cache_control: cache }] }] });
    expect(body.messages).toEqual([{ role: 'user', content: 'q' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' }, cache_control: cache }] },
      { role: 'tool', tool_call_id: 't1', content: 'ok', cache_control: cache }]);
    const caller = { ...base, messages: [{ role: 'user', content: 'q' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {}, caller: { type: 'direct' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] }] };
    expect(anthropicMessages.parse(incoming(caller)).native?.kind).toBe('messages');
  });

  it('sends what the translation cannot carry natively, with the client\'s beta flags; plugins see the model only', () => {
    const tools = [{ type: 'web_search_20250305', name: 'web_search' }];
    const parsed = anthropicMessages.parse(incoming({ ...base, tools, stream: true, fallbacks: ['mock/echo'] }, { 'anthropic-beta': 'a-1, b-2' }));
    expect(parsed).toMatchObject({ kind: 'chat', stream: true, includeUsage: true,
      body: { model: base.model, messages: [], fallbacks: ['mock/echo'] } });
    expect(parsed.native).toMatchObject({ kind: 'messages', body: { ...base, tools, stream: true, anthropic_beta: ['a-1', 'b-2'] } });
    expect(parsed.native!.body).not.toHaveProperty('fallbacks');
    expect(parsed.native!.untranslatable).toMatchObject({ code: 'INVALID_REQUEST',
      message: expect.stringContaining("only the built-in 'anthropic' provider takes it") });
    // Each of these is valid for Anthropic and beyond the translation.
    for (const request of [
      { ...base, mcp_servers: [{ type: 'url', url: 'https://mcp.test', name: 'm' }] },
      { ...base, context_management: { edits: [] } },
      { ...base, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://x.test/a.pdf' } }] }] },
      { ...base, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' },
        citations: { enabled: true } }] }] },
      { ...base, messages: [{ role: 'user', content: [{ type: 'search_result', source: 's', title: 't', content: [] }] }] },
      { ...base, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'server_tool_use', id: 's', name: 'web_search', input: {} }] }] },
    ]) expect(anthropicMessages.parse(incoming(request)).native?.kind, JSON.stringify(request)).toBe('messages');
    // Invalid requests are still refused by the gateway, and a translatable one has no native body.
    expect(() => anthropicMessages.parse(incoming({ ...base, max_tokens: 0 }))).toThrow(/max_tokens/);
    expect(() => anthropicMessages.parse(incoming({ ...base, tools, model: 7 }))).toThrow(/model: Field required/);
    expect(anthropicMessages.parse(incoming(base)).native).toBeUndefined();
  });
});

describe('Anthropic dialect: errors', () => {
  it.each([
    [400, 'invalid_request_error'], [401, 'authentication_error'], [403, 'permission_error'], [404, 'not_found_error'],
    [413, 'request_too_large'], [429, 'rate_limit_error'], [500, 'api_error'], [502, 'api_error'], [503, 'overloaded_error'],
    [529, 'overloaded_error'], [504, 'api_error'], [405, 'invalid_request_error'],
  ])('status %i is %s', (status, type) => {
    expect(JSON.parse(anthropicErrorBody({ code: 'UPSTREAM_ERROR', message: 'm', status }))).toEqual({ type: 'error', error: { type, message: 'm' } });
  });

  it('takes the status from the error table, and lists the tries when there were several', () => {
    const attempts = [{ provider: 'a', model: 'm', status: 429, code: 'UPSTREAM_RATE_LIMITED', message: 'x' },
      { provider: 'b', model: 'n', status: 502, code: 'UPSTREAM_ERROR', message: 'y' }];
    expect(JSON.parse(anthropicErrorBody({ code: 'QUEUE_FULL', message: 'full' }, attempts)))
      .toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'full', attempts } });
  });
});

describe('Anthropic dialect: the answer', () => {
  const completion = (message: Json, extra: Json = {}) => JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-x',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: 'stop', ...extra }],
    usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35 } });

  it('is a message with thinking, text and tool_use blocks, the stop reason and usage', () => {
    const answer = JSON.parse(anthropicMessage(completion({ content: 'Sure.', reasoning_content: 'hm',
      thinking_blocks: [{ type: 'thinking', thinking: 'hm', signature: 's1' }, { type: 'redacted_thinking', data: 'r' }],
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }] }, { finish_reason: 'tool_calls' }), 'm'));
    expect(answer).toEqual({ id: 'msg_chatcmpl-1', type: 'message', role: 'assistant', model: 'gpt-x', content: [
      { type: 'thinking', thinking: 'hm', signature: 's1' }, { type: 'redacted_thinking', data: 'r' }, { type: 'text', text: 'Sure.' },
      { type: 'tool_use', id: 'call_1', name: 'f', input: { x: 1 } }], stop_reason: 'tool_use', stop_sequence: null,
    usage: { input_tokens: 30, output_tokens: 5 } });
  });

  it('gives reasoning without signed blocks an empty signature, and keeps malformed tool arguments', () => {
    const answer = JSON.parse(anthropicMessage(completion({ content: null, reasoning_content: 'why',
      tool_calls: [{ function: { name: 'f', arguments: '{broken' } }] }), 'm'));
    expect(answer.content[0]).toEqual({ type: 'thinking', thinking: 'why', signature: '' });
    expect(answer.content[1]).toMatchObject({ type: 'tool_use', name: 'f', input: { arguments: '{broken' } });
    expect(answer.content[1].id).toMatch(/^toolu_/);
  });

  it.each([
    ['stop', undefined, 'end_turn', null], ['stop', 'END', 'stop_sequence', 'END'], ['length', undefined, 'max_tokens', null],
    ['tool_calls', undefined, 'tool_use', null], ['content_filter', undefined, 'refusal', null],
  ])('finish_reason %s (stop_reason %s) is %s', (finish, matched, reason, sequence) => {
    expect(anthropicStop(finish, matched)).toEqual({ stop_reason: reason, stop_sequence: sequence });
  });

  it('splits cache reads and writes out of the prompt tokens', () => {
    expect(anthropicUsage({ prompt_tokens: 1000, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 600, cache_creation_tokens: 300 } }))
      .toEqual({ input_tokens: 100, output_tokens: 9, cache_read_input_tokens: 600, cache_creation_input_tokens: 300 });
    expect(anthropicUsage({ prompt_tokens: 10, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 4 } }))
      .toEqual({ input_tokens: 6, output_tokens: 2, cache_read_input_tokens: 4 });
  });

  it('makes an empty message of an answer that is not a chat.completion (a plugin\'s)', () => {
    for (const body of ['null', '{"ok":true}', '{"choices":"x"}']) {
      expect(JSON.parse(anthropicMessage(body, 'claude-x'))).toMatchObject({ type: 'message', model: 'claude-x', content: [],
        stop_reason: 'end_turn', usage: { input_tokens: 0, output_tokens: 0 } });
    }
  });

  it('passes a count_tokens answer as it is', () => {
    const wire = createAnthropicWire({ kind: 'count_tokens', body: { model: 'm', messages: [] }, stream: false, includeUsage: false });
    expect(wire.answer('{"input_tokens":7}')).toBe('{"input_tokens":7}');
  });
});

describe('Anthropic dialect: the stream', () => {
  const streamed: ParsedRequest = { kind: 'chat', body: { model: 'anthropic/claude-sonnet-5', messages: [] }, stream: true, includeUsage: true };
  const chunk = (delta: Json, finish: string | null = null, extra: Json = {}) =>
    JSON.stringify({ id: 'msg_1', object: 'chat.completion.chunk', model: 'claude-sonnet-5', choices: [{ index: 0, delta, finish_reason: finish, ...extra }] });
  const usageChunk = JSON.stringify({ id: 'msg_1', object: 'chat.completion.chunk', model: 'claude-sonnet-5', choices: [],
    usage: { prompt_tokens: 20, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 5, cache_creation_tokens: 0 } } });
  /** The events written for these chunks, parsed; each event's name must equal its payload's type. */
  function events(chunks: string[]): Json[] {
    const wire = createAnthropicWire(streamed);
    const text = chunks.map((c) => wire.chunk(c)).join('') + (wire.end() as string);
    return text.split('\n\n').filter(Boolean).map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      const payload = JSON.parse(dataLine.slice('data: '.length)) as Json;
      expect(eventLine).toBe(`event: ${payload.type as string}`);
      return payload;
    });
  }

  it('writes thinking, text and tool_use blocks in order, then message_delta with the usage and message_stop', () => {
    const written = events([
      chunk({ role: 'assistant', content: '' }),
      chunk({ reasoning_content: 'Let ' }), chunk({ reasoning_content: 'me.' }),
      chunk({ thinking_blocks: [{ type: 'thinking', thinking: 'Let me.', signature: 'sig' }] }),
      chunk({ content: 'On it.' }),
      chunk({ tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'toolu_2', type: 'function', function: { name: 'g', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      usageChunk,
    ]);
    expect(written).toEqual([
      { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-5', content: [],
        stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } } },
      { type: 'ping' },
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'me.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'On it.' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"a":' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '1}' } },
      { type: 'content_block_stop', index: 2 },
      { type: 'content_block_start', index: 3, content_block: { type: 'tool_use', id: 'toolu_2', name: 'g', input: {} } },
      { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '{}' } },
      { type: 'content_block_stop', index: 3 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { input_tokens: 15, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 5 } },
      { type: 'message_stop' },
    ]);
  });

  it('writes a redacted_thinking block whole, and a signed block that came without deltas', () => {
    const written = events([
      chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: 'enc' }] }),
      chunk({ thinking_blocks: [{ type: 'thinking', thinking: 'all at once', signature: 's' }] }),
      chunk({}, 'stop', { stop_reason: 'END' }),
    ]);
    expect(written.slice(2, -2)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking', data: 'enc' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'thinking_delta', thinking: 'all at once' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 's' } },
      { type: 'content_block_stop', index: 1 },
    ]);
    expect(written.at(-2)).toMatchObject({ delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' } });
  });

  it('still opens and closes the message when the provider sent nothing', () => {
    expect(events([]).map((e) => e.type)).toEqual(['message_start', 'ping', 'message_delta', 'message_stop']);
  });

  it('writes a failure as `event: error` in the error envelope', () => {
    const wire = createAnthropicWire(streamed);
    expect(wire.streamError({ code: 'STREAM_INTERRUPTED', message: 'gone' }))
      .toBe('event: error\ndata: {"type":"error","error":{"type":"api_error","message":"gone"}}\n\n');
  });
});

describe('count_tokens estimate', () => {
  it('counts text at 3.5 characters a token, plus message and documented fixed costs', () => {
    expect(estimateInputTokens({ messages: [{ role: 'user', content: 'x'.repeat(35) }] })).toBe(10 + 3);
    expect(estimateInputTokens({ system: [{ type: 'text', text: 'x'.repeat(7) }],
      messages: [{ role: 'user', content: [{ type: 'image', source: {} }, { type: 'text', text: 'x'.repeat(7) }] }] })).toBe(4 + 1600 + 3);
  });

  it('counts tools (with Anthropic\'s tool system prompt), tool calls and results, not earlier thinking', () => {
    const tool = { name: 'f', input_schema: { type: 'object' } };
    const withTools = estimateInputTokens({ messages: [], tools: [{ ...tool, cache_control: { type: 'ephemeral' } }] });
    expect(withTools).toBe(346 + Math.ceil(JSON.stringify(tool).length / 3.5));
    const thinking = estimateInputTokens({ messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 'x'.repeat(700), signature: 's' }] }] });
    expect(thinking).toBe(3);
    const results = estimateInputTokens({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'x'.repeat(70) }] }] });
    expect(results).toBe(20 + 3);
  });

  it('counts a PDF by its pages', () => {
    const pdf = Buffer.from('%PDF-1.4 /Type /Pages /Type /Page x /Type /Page y').toString('base64');
    expect(estimateInputTokens({ messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', data: pdf } }] }] }))
      .toBe(6000 + 3);
  });
});
