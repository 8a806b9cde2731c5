// The Responses dialect's pure transforms: request → chat request, chat answer → response, chat chunks → events.

import { describe, expect, it } from 'vitest';
import { parseResponsesRequest } from '../../../src/dialects/responses-request.js';
import { responses, responseFromCompletion } from '../../../src/dialects/responses.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import type { IncomingRequest } from '../../../src/http/server.js';

const raw = (body: unknown) => Buffer.from(JSON.stringify(body));
const parse = (body: unknown) => parseResponsesRequest(raw(body));

function refusal(body: unknown): GatewayError {
  try {
    parse(body);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const request = (body: unknown): IncomingRequest => ({ method: 'POST', path: '/v1/responses', query: '', headers: {},
  requestId: 'r', receivedAt: 0, body: raw(body) });

/** The `data:` JSON of each SSE event, with its `event:` name checked against its `type`. */
function events(text: string): { type: string; [field: string]: unknown }[] {
  return text.split('\n\n').filter(Boolean).map((block) => {
    const [eventLine, dataLine] = block.split('\n');
    const data = JSON.parse(dataLine.slice('data: '.length)) as { type: string };
    expect(eventLine).toBe(`event: ${data.type}`);
    return data;
  });
}

describe('Responses request → chat request', () => {
  it('joins consecutive function calls into one assistant message and maps developer to system', () => {
    const { parsed } = parse({ model: 'm', input: [
      { role: 'developer', content: 'rules' },
      { type: 'message', role: 'user', content: 'two cities' },
      { type: 'function_call', call_id: 'c1', name: 'w', arguments: '{"city":"A"}' },
      { type: 'function_call', call_id: 'c2', name: 'w', arguments: '{"city":"B"}' },
      { type: 'function_call_output', call_id: 'c1', output: 'sun' },
      { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'rain' }] },
      { role: 'assistant', content: [{ type: 'output_text', text: 'A sun, ' }, { type: 'output_text', text: 'B rain' }] },
    ] });
    expect(parsed.body.messages).toEqual([
      { role: 'system', content: 'rules' },
      { role: 'user', content: 'two cities' },
      { role: 'assistant', content: null, tool_calls: [
        { id: 'c1', type: 'function', function: { name: 'w', arguments: '{"city":"A"}' } },
        { id: 'c2', type: 'function', function: { name: 'w', arguments: '{"city":"B"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'sun' },
      { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'rain' }] },
      { role: 'assistant', content: 'A sun, B rain' },
    ]);
    expect(parsed.kind).toBe('chat');
  });

  it('gives a reasoning item\'s thinking blocks to the assistant turn after it', () => {
    const blocks = [{ type: 'thinking', thinking: 't', signature: 's' }];
    const { parsed } = parse({ model: 'm', input: [
      { role: 'user', content: 'q' },
      { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 't' }], encrypted_content: JSON.stringify(blocks) },
      { type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' },
    ] });
    expect(parsed.body.messages[1]).toMatchObject({ role: 'assistant', reasoning_content: 't', thinking_blocks: blocks });
  });

  it('streams with usage, and maps the Responses-only fields', () => {
    const { parsed, echo } = parse({ model: 'm', input: 'x', stream: true, text: { format: { type: 'json_object' }, verbosity: 'low' },
      reasoning: { effort: 'high' }, max_output_tokens: 9, tool_choice: 'required', store: false, include: [], truncation: 'disabled' });
    expect(parsed).toMatchObject({ stream: true, includeUsage: true });
    expect(parsed.body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, tool_choice: 'required',
      max_completion_tokens: 9, response_format: { type: 'json_object' }, verbosity: 'low', reasoning_effort: 'high' });
    expect(echo.maxOutputTokens).toBe(9);
  });

  it("takes today's SDK fields: chat's own under the same names, compaction carried, stream_options as chat's", () => {
    const { parsed } = parse({ model: 'm', input: 'x', stream: true, prompt_cache_retention: '24h', prompt_cache_key: 'k',
      prompt_cache_options: { mode: 'auto' }, moderation: { model: 'omni-moderation-latest' }, safety_identifier: 'u',
      context_management: [{ type: 'compaction', compact_threshold: 1000 }], stream_options: { include_obfuscation: false } });
    expect(parsed.body).toMatchObject({ prompt_cache_retention: '24h', prompt_cache_key: 'k', prompt_cache_options: { mode: 'auto' },
      moderation: { model: 'omni-moderation-latest' }, safety_identifier: 'u',
      context_management: [{ type: 'compaction', compact_threshold: 1000 }],
      stream_options: { include_obfuscation: false, include_usage: true } });
    expect(parse({ model: 'm', input: 'x', stream_options: { include_obfuscation: false } }).parsed.body).not.toHaveProperty('stream_options');
    expect(refusal({ model: 'm', input: 'x', stream_options: 'no' }).data.param).toBe('stream_options');
  });

  it.each([
    [{ model: 'm', input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
    [{ model: 'm', input: 'x', conversation: 'conv_1' }, 'conversation'],
    [{ model: 'm', input: 'x', background: true }, 'background'],
    [{ model: 'm', input: 'x', frobnicate: 1 }, 'frobnicate'],
    [{ model: 'm', input: 'x', truncation: 'auto' }, 'truncation'],
    [{ model: 'm', input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]'],
    [{ model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }, 'input[0].content[0]'],
    [{ model: 'm', input: 'x', tools: [{ type: 'file_search' }] }, 'tools[0].type'],
    [{ model: 'm', input: 'x', max_output_tokens: 0 }, 'max_output_tokens'],
    [{ model: 'm', input: 'x', text: { format: { type: 'yaml' } } }, 'text.format.type'],
    [{ model: 'm', instructions: 'only this' }, 'input'],
    [{ model: 'm', input: [{ type: 'reasoning', summary: [], encrypted_content: 'opaque-from-openai' }, { role: 'user', content: 'x' }] },
      'input[0].encrypted_content'],
  ])('refuses %j naming %s', (body, param) => {
    const error = refusal(body);
    expect(error.data).toMatchObject({ code: 'INVALID_REQUEST', param });
  });
});

describe('chat answer → response', () => {
  it('puts reasoning, text and function calls in order, and maps usage', () => {
    const { echo } = parse({ model: 'm', input: 'x' });
    const response = JSON.parse(responseFromCompletion(JSON.stringify({ model: 'gpt', created: 5, choices: [{ finish_reason: 'tool_calls',
      message: { role: 'assistant', content: 'Looking.', reasoning_content: 'think',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] } }],
    usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, completion_tokens_details: { reasoning_tokens: 2 } } }), echo, 'm')) as Record<string, unknown>;
    expect(response).toMatchObject({ object: 'response', created_at: 5, model: 'gpt', status: 'completed', store: false,
      usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7, output_tokens_details: { reasoning_tokens: 2 } } });
    expect(response.output).toMatchObject([
      { type: 'reasoning', summary: [{ type: 'summary_text', text: 'think' }] },
      { type: 'message', content: [{ type: 'output_text', text: 'Looking.' }] },
      { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}', status: 'completed' },
    ]);
  });
});

describe('chat chunks → Responses events', () => {
  const chunk = (delta: object, finish: string | null = null) =>
    JSON.stringify({ model: 'gpt', choices: [{ index: 0, delta, finish_reason: finish }] });

  it('closes the text item before a tool call opens, and ends incomplete after a length finish', () => {
    const parsed = responses.parse(request({ model: 'm', input: 'x', stream: true }));
    const wire = responses.wire(parsed);
    const text = [chunk({ role: 'assistant', content: 'Hi' }), chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'f', arguments: '{"a"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }), chunk({}, 'length'),
      JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })]
      .map((c) => wire.chunk(c)).join('') + (wire.end() as string);
    const all = events(text);
    expect(all.map((event) => event.type)).toEqual([
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done',
      'response.incomplete',
    ]);
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, i) => i));
    expect(all.at(-1)!.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' },
      usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
      output: [{ type: 'message' }, { type: 'function_call', arguments: '{"a":1}', call_id: 'call_1' }] });
  });

  it('reports a failure after the start as an error event and response.failed', () => {
    const wire = responses.wire(responses.parse(request({ model: 'm', input: 'x', stream: true })));
    const all = events((wire.chunk(chunk({ content: 'a' })) as string) + (wire.streamError({ code: 'STREAM_INTERRUPTED', message: 'broke' }) as string));
    expect(all.slice(-2)).toMatchObject([
      { type: 'error', code: 'stream_interrupted', message: 'broke' },
      { type: 'response.failed', response: { status: 'failed', error: { code: 'stream_interrupted', message: 'broke' } } },
    ]);
  });
});
