import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { describe, expect, it } from 'vitest';
import { bedrockConverse } from '../../../src/dialects/bedrock.js';
import { BedrockWire, converseAnswer } from '../../../src/dialects/bedrock-wire.js';
import type { ErrorData } from '../../../src/errors/error-data.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import type { IncomingRequest } from '../../../src/http/server.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

function request(body: unknown, path = '/bedrock/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse'): IncomingRequest {
  return { method: 'POST', path, query: '', headers: {}, requestId: 'r', receivedAt: 0,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) };
}

const parse = (body: unknown, path?: string) => bedrockConverse.parse(request(body, path));

function refusal(body: unknown, path?: string): GatewayError['data'] {
  try {
    parse(body, path);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return (error as GatewayError).data;
  }
  throw new Error('expected the request to be refused');
}

const hello = [{ role: 'user', content: [{ text: 'hi' }] }];

describe('a Converse request read as an OpenAI chat request', () => {
  it('takes the model id from the path, decoded, and the stream from the operation', () => {
    expect(parse({ messages: hello })).toMatchObject({ kind: 'chat', stream: false, includeUsage: false,
      body: { model: 'anthropic.claude-3-haiku-20240307-v1:0' } });
    const streamed = parse({ messages: hello }, '/bedrock/model/openai%2Fgpt-4o-mini/converse-stream');
    expect(streamed).toMatchObject({ stream: true, includeUsage: true, body: { model: 'openai/gpt-4o-mini', stream: true } });
  });

  it('maps system, inference settings, tools and tool choice', () => {
    const { body } = parse({
      system: [{ text: 'Be brief.' }, { cachePoint: { type: 'default' } }, { text: 'Answer in French.' }],
      messages: hello,
      inferenceConfig: { maxTokens: 64, temperature: 0.5, topP: 0.8, stopSequences: ['END'] },
      toolConfig: { tools: [{ toolSpec: { name: 'f', description: 'does f', inputSchema: { json: { type: 'object' } } } }],
        toolChoice: { tool: { name: 'f' } } },
      requestMetadata: { team: 'a' },
    });
    expect(body).toEqual({
      model: 'anthropic.claude-3-haiku-20240307-v1:0',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'hi' }],
      max_tokens: 64, temperature: 0.5, top_p: 0.8, stop: ['END'],
      tools: [{ type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      metadata: { team: 'a' },
    });
    const choice = (toolChoice: unknown) => parse({ messages: hello, toolConfig: { tools: [], toolChoice } }).body.tool_choice;
    expect(choice({ auto: {} })).toBe('auto');
    expect(choice({ any: {} })).toBe('required');
  });

  it('maps images and documents to data: URLs, and tool results to tool messages before the rest of the turn', () => {
    const { body } = parse({ messages: [
      { role: 'user', content: [{ text: 'look' }, { image: { format: 'png', source: { bytes: PNG } } },
        { document: { format: 'pdf', name: 'report', source: { bytes: 'JVBERi0=' } } }] },
      { role: 'assistant', content: [{ text: 'calling' }, { toolUse: { toolUseId: 't1', name: 'f', input: { a: 1 } } },
        { toolUse: { toolUseId: 't2', name: 'g', input: {} } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: 'one' }, { json: { b: 2 } }] } },
        { toolResult: { toolUseId: 't2', status: 'error', content: [{ text: 'no such city' }] } }, { text: 'so?' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 't3', name: 'h', input: {} } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 't3', status: 'success', content: [{ text: 'done' }] } }] },
    ] });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        { type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }] },
      { role: 'assistant', content: 'calling', tool_calls: [
        { id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
        { id: 't2', type: 'function', function: { name: 'g', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't1', content: [{ type: 'text', text: 'one' }, { type: 'text', text: '{"b":2}' }] },
      // The chat shape's one flag for a tool result's outcome; each adapter renders it as its API can.
      { role: 'tool', tool_call_id: 't2', content: 'no such city', is_error: true },
      { role: 'user', content: 'so?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't3', type: 'function', function: { name: 'h', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't3', content: 'done', is_error: false },
    ]);
  });

  it('refuses a tool result status Converse does not have', () => {
    expect(refusal({ messages: [{ role: 'user', content: [{ toolResult: { toolUseId: 't', status: 'failed', content: [] } }] }] }))
      .toMatchObject({ code: 'INVALID_REQUEST', param: 'messages[0].content[0].toolResult.status' });
  });

  it('hands reasoning back with its signature as thinking_blocks', () => {
    const { body } = parse({ messages: [...hello, { role: 'assistant', content: [
      { reasoningContent: { reasoningText: { text: 'hmm', signature: 'sig' } } },
      { reasoningContent: { redactedContent: 'b3BhcXVl' } },
      { toolUse: { toolUseId: 't1', name: 'f', input: {} } }] }] });
    expect(body.messages[1]).toEqual({ role: 'assistant', content: null, reasoning_content: 'hmm',
      thinking_blocks: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'redacted_thinking', data: 'b3BhcXVl' }],
      tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] });
  });

  it('passes additionalModelRequestFields through as fields of the request, and refuses one that overrides', () => {
    expect(parse({ messages: hello, additionalModelRequestFields: { top_k: 5, thinking: { type: 'enabled', budget_tokens: 1024 } } }).body)
      .toMatchObject({ top_k: 5, thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(refusal({ messages: hello, inferenceConfig: { maxTokens: 5 }, additionalModelRequestFields: { max_tokens: 9 } }))
      .toMatchObject({ code: 'INVALID_REQUEST', param: 'additionalModelRequestFields.max_tokens' });
    expect(refusal({ messages: hello, additionalModelRequestFields: { stream: true } }).code).toBe('INVALID_REQUEST');
  });

  it('refuses what it cannot carry, naming it', () => {
    expect(refusal({ messages: hello, guardrailConfig: {} }).message).toContain('guardrails');
    expect(refusal({ messages: hello, promptVariables: {} }).param).toBe('promptVariables');
    expect(refusal({ messages: hello, modelIdTypo: 1 }).message).toBe("'modelIdTypo' is not a Converse request field");
    expect(refusal({ messages: [{ role: 'user', content: [{ video: {} }] }] }).param).toBe('messages[0].content[0]');
    expect(refusal({ messages: [{ role: 'user', content: [{ text: 'a', image: {} }] }] }).message).toContain('exactly one member');
    expect(refusal({ messages: [{ role: 'system', content: [{ text: 'a' }] }] }).param).toBe('messages[0].role');
    expect(refusal({ messages: [{ role: 'user', content: [{ image: { format: 'bmp', source: { bytes: PNG } } }] }] }).message)
      .toContain('png, jpeg, gif, webp');
    expect(refusal({ messages: hello, inferenceConfig: { maxTokens: 1.5 } }).param).toBe('inferenceConfig.maxTokens');
    expect(refusal({ messages: hello, inferenceConfig: { topK: 3 } }).param).toBe('inferenceConfig.topK');
    expect(refusal({ messages: hello, toolConfig: { tools: [], toolChoice: { none: {} } } }).param).toBe('toolConfig.toolChoice');
    expect(refusal({ messages: [] }).param).toBe('messages');
    expect(refusal('{not json').code).toBe('INVALID_JSON');
    expect(refusal({ messages: hello }, '/bedrock/model/%E0%A4%A/converse').param).toBe('modelId');
  });
});

describe('errors in Bedrock\'s shape', () => {
  const wire = bedrockConverse.wire(parse({ messages: hello }));
  const error = (code: ErrorData['code'], status?: number): ErrorData => ({ code, message: 'm', ...(status ? { status } : {}) });

  it('name the exception the SDK raises in x-amzn-errortype, with the message as the body', () => {
    const names = (['INVALID_REQUEST', 'UPSTREAM_FORBIDDEN', 'UPSTREAM_AUTH', 'UNKNOWN_PROVIDER', 'QUEUE_FULL', 'UPSTREAM_UNAVAILABLE',
      'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR', 'INTERNAL'] as const).map((code) => wire.errorHeaders!(error(code))['x-amzn-errortype']);
    expect(names).toEqual(['ValidationException', 'AccessDeniedException', 'AccessDeniedException', 'ResourceNotFoundException',
      'ThrottlingException', 'ServiceUnavailableException', 'ModelTimeoutException', 'InternalServerException', 'InternalServerException']);
    expect(wire.errorHeaders!(error('UPSTREAM_BAD_REQUEST', 422))['x-amzn-errortype']).toBe('ValidationException');
    expect(JSON.parse(wire.errorBody(error('INVALID_REQUEST')))).toEqual({ message: 'm' });
    expect(bedrockConverse.errorHeaders!(error('INVALID_JSON'))).toEqual({ 'x-amzn-errortype': 'ValidationException' });
  });
});

describe('an OpenAI answer written as Converse\'s', () => {
  it('puts reasoning (signed when the provider gave signatures), text and tool use in order, with the usage apart from cached reads', () => {
    const answer = JSON.parse(converseAnswer(JSON.stringify({
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'let me look',
        reasoning_content: 'thinking', thinking_blocks: [{ type: 'thinking', thinking: 'thinking', signature: 'sig' }],
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
          { id: 't2', type: 'function', function: { name: 'g', arguments: 'not json' } }] } }],
      usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14, prompt_tokens_details: { cached_tokens: 6 } },
    }), 12));
    expect(answer).toEqual({
      output: { message: { role: 'assistant', content: [
        { reasoningContent: { reasoningText: { text: 'thinking', signature: 'sig' } } },
        { text: 'let me look' },
        { toolUse: { toolUseId: 't1', name: 'f', input: { a: 1 } } },
        { toolUse: { toolUseId: 't2', name: 'g', input: 'not json' } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 4, outputTokens: 4, totalTokens: 14, cacheReadInputTokens: 6 },
      metrics: { latencyMs: 12 },
    });
  });

  it('counts cache writes apart from the input too, as cacheWriteInputTokens', () => {
    const answer = JSON.parse(converseAnswer(JSON.stringify({
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'ok' } }],
      usage: { prompt_tokens: 110, completion_tokens: 5, total_tokens: 115, prompt_tokens_details: { cached_tokens: 60, cache_creation_tokens: 40 } },
    }), 1));
    expect(answer.usage).toEqual({ inputTokens: 10, outputTokens: 5, totalTokens: 115, cacheReadInputTokens: 60, cacheWriteInputTokens: 40 });
  });

  it('maps finish reasons to stop reasons', () => {
    const stop = (finish: unknown) => JSON.parse(converseAnswer(JSON.stringify({ choices: [{ message: { content: 'x' }, finish_reason: finish }] }), 0)).stopReason;
    expect(['stop', 'length', 'content_filter', null].map(stop)).toEqual(['end_turn', 'max_tokens', 'content_filtered', 'end_turn']);
  });
});

describe('an OpenAI stream written as ConverseStream frames', () => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);

  /** The frames in bytes, decoded back as `type: payload`. */
  function decode(bytes: Uint8Array[]): { type: string; payload: Record<string, unknown> }[] {
    const joined = Buffer.concat(bytes);
    const out: { type: string; payload: Record<string, unknown> }[] = [];
    for (let at = 0; at < joined.byteLength;) {
      const length = joined.readUInt32BE(at);
      const message = codec.decode(joined.subarray(at, at + length));
      const kind = message.headers[':message-type'].value;
      const type = String(message.headers[kind === 'exception' ? ':exception-type' : ':event-type'].value);
      out.push({ type: kind === 'exception' ? `!${type}` : type, payload: JSON.parse(toUtf8(message.body)) });
      at += length;
    }
    return out;
  }

  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });

  it('opens a block per kind of content, a tool block with its start, and ends with messageStop and metadata', () => {
    const wire = new BedrockWire();
    const frames = decode([
      wire.chunk(chunk({ role: 'assistant', reasoning_content: 'hm' })),
      wire.chunk(chunk({ thinking_blocks: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }] })),
      wire.chunk(chunk({ content: 'Hi' })),
      wire.chunk(chunk({ content: '' })),
      wire.chunk(chunk({ tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '' } }] })),
      wire.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] })),
      wire.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] })),
      wire.chunk(chunk({}, 'tool_calls')),
      wire.chunk(JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })),
      wire.end(),
    ]);
    expect(frames.map((frame) => [frame.type, frame.payload])).toEqual([
      ['messageStart', { role: 'assistant' }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'hm' } } }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig' } } }],
      ['contentBlockStop', { contentBlockIndex: 0 }],
      ['contentBlockDelta', { contentBlockIndex: 1, delta: { text: 'Hi' } }],
      ['contentBlockStop', { contentBlockIndex: 1 }],
      ['contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: 't1', name: 'f' } } }],
      ['contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '{"a":' } } }],
      ['contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '1}' } } }],
      ['contentBlockStop', { contentBlockIndex: 2 }],
      ['messageStop', { stopReason: 'tool_use' }],
      ['metadata', { usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 }, metrics: { latencyMs: expect.any(Number) } }],
    ]);
  });

  it('closes a stream that ended without a finish reason, and writes a failure as an exception frame', () => {
    const ended = new BedrockWire();
    expect(decode([ended.chunk(chunk({ content: 'x' })), ended.end()]).map((frame) => frame.type))
      .toEqual(['messageStart', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
    const failed = new BedrockWire();
    const frames = decode([failed.chunk(chunk({ content: 'x' })),
      failed.streamError({ code: 'STREAM_INTERRUPTED', message: 'openai: the stream broke off' })]);
    expect(frames.at(-1)).toEqual({ type: '!modelStreamErrorException', payload: { message: 'openai: the stream broke off' } });
    const throttled = decode([new BedrockWire().streamError({ code: 'UPSTREAM_RATE_LIMITED', message: 'slow down' })]);
    expect(throttled[0].type).toBe('!throttlingException');
  });
});
