// A stream's chunks made into the one message the request log keeps, for each kind of stream.
import { describe, expect, it } from 'vitest';
import {
  AnthropicMessageAnswer, ChatCompletionAnswer, chatCompletionOf, EventListAnswer, ResponsesObjectAnswer, type StreamAnswer, type TextBudget,
} from '../../../src/observability/stream-content.js';
import { ContentCapture, CONTENT_CAP, TRUNCATION_MARK } from '../../../src/observability/request-log.js';

/** Every block given to `answer` at once, as a stream's end sees them. */
function answerOf(answer: StreamAnswer, blocks: readonly string[]): string {
  for (const block of blocks) answer.add(block);
  return answer.text();
}

const sse = (event: string, data: object) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe('chatCompletionOf', () => {
  it('joins content, reasoning and tool-call arguments per choice, and keeps the usage and finish reason', () => {
    const chunks = [
      { id: 'c1', model: 'gpt-4o', created: 1, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' } }] },
      { id: 'c1', choices: [{ index: 0, delta: { content: 'lo', reasoning_content: 'think' } }] },
      { id: 'c1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 't1', function: { name: 'get_', arguments: '{"a"' } }] } }] },
      { id: 'c1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: 'weather', arguments: ':1}' } }] }, finish_reason: 'tool_calls' }] },
      { id: 'c1', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
      'not json',
    ].map((c) => (typeof c === 'string' ? c : JSON.stringify(c)));
    expect(JSON.parse(chatCompletionOf(chunks))).toEqual({
      id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-4o',
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'Hello', reasoning_content: 'think',
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{"a":1}' } }] } }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
  });
});

describe('chatCompletionOf on text-only chunks (matched, not parsed)', () => {
  // Pretty-printed JSON never matches the scan, so it is always parsed: the reference the scan must agree with.
  const both = (chunks: object[]) => [chunks.map((c) => JSON.stringify(c)), chunks.map((c) => JSON.stringify(c, null, 1))];
  const head = { id: 'c9', object: 'chat.completion.chunk', created: 5, model: 'm' };
  const text = (content: string, index = 0, extra: object = {}) =>
    ({ ...head, choices: [{ index, delta: { content }, logprobs: null, finish_reason: null }], ...extra });
  const args = (piece: string, call = 0) =>
    ({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: call, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }] });
  const cases: Record<string, object[]> = {
    'escapes, unicode and key-like text': [{ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] },
      text('a "quoted" \\ back\nslash '), text('é ✓ \u0001 😀'), text('"usage":{"x":1}, "finish_reason":"stop", "index":3'),
      text('end'), { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }],
    'two choices interleaved': [{ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: 'A' } }, { index: 1, delta: { role: 'assistant', content: 'B' } }] },
      text('a', 1), text('b', 0), text('c', 1), { ...head, choices: [{ index: 0, delta: { content: 'x' } }, { index: 1, delta: { content: 'y' } }] }],
    'a text chunk that also ends the stream or carries usage': [text('first'), { ...head, choices: [{ index: 0, delta: { content: ' last' }, finish_reason: 'length' }] },
      text('', 0, { usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })],
    'other delta fields beside the text': [text('x'), { ...head, choices: [{ index: 0, delta: { content: 'y', refusal: 'no' } }] },
      { ...head, choices: [{ index: 0, delta: { reasoning: 'r', content: 'z' } }] }],
    'tool-call arguments, two calls, escaped': [{ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [
      { index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } }] }, logprobs: null, finish_reason: null }] },
      args('{"city":'), args('"Paris \\"Nord\\""}'), { ...head, choices: [{ index: 0, delta: { tool_calls: [
        { index: 1, id: 'call_b', type: 'function', function: { name: 'g', arguments: '' } }] }, logprobs: null, finish_reason: null }] },
      args('{}', 1), args('', 0), { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }] }],
    'obfuscation and usage null, as OpenAI sends them': [text('p', 0, { usage: null, obfuscation: 'ab' }), text('q', 0, { usage: null, obfuscation: 'cd' })],
  };
  for (const [name, chunks] of Object.entries(cases)) {
    it(`agrees with a full parse: ${name}`, () => {
      const [compact, pretty] = both(chunks);
      expect(JSON.parse(chatCompletionOf(compact))).toEqual(JSON.parse(chatCompletionOf(pretty)));
    });
  }

  it('keeps every text of a long answer in order', () => {
    const chunks = [text('0'), ...Array.from({ length: 500 }, (_, i) => text(` ${i + 1}`))].map((c) => JSON.stringify(c));
    const answer = JSON.parse(chatCompletionOf(chunks)) as { id: string; choices: { message: { content: string } }[] };
    expect(answer.id).toBe('c9');
    expect(answer.choices[0].message.content).toBe(Array.from({ length: 501 }, (_, i) => String(i)).join(' '));
  });
});

describe('accumulated as the chunks come, within a budget of characters', () => {
  const head = { id: 'c7', object: 'chat.completion.chunk', created: 9, model: 'm' };
  const args = (piece: string) =>
    JSON.stringify({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }] });

  it('keeps every piece of a long tool call in order, pieces long enough to be slices of their chunks among them', () => {
    const pieces = Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? `"key_${i}_with_a_long_name":` : `${i},`));
    const answer = new ChatCompletionAnswer();
    answer.add(JSON.stringify({ ...head, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [
      { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{' } }] }, logprobs: null, finish_reason: null }] }));
    for (const piece of pieces) answer.add(args(piece));
    const message = (JSON.parse(answer.text()) as { choices: { message: { tool_calls: { id: string; function: { arguments: string } }[] } }[] })
      .choices[0].message;
    expect(message.tool_calls[0]).toMatchObject({ id: 'call_1', function: { name: 'f', arguments: `{${pieces.join('')}` } });
  });

  it('stops adding text at the budget, notes the cut, and still takes the finish reason and usage after it', () => {
    const budget: TextBudget = { left: 12, cut: false };
    const answer = new ChatCompletionAnswer(budget);
    const text = (content: string) => JSON.stringify({ ...head, choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] });
    for (const piece of ['Hello', ' there,', ' how are', ' you?']) answer.add(text(piece));
    answer.add(JSON.stringify({ ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { total_tokens: 8 } }));
    expect(budget).toEqual({ left: 0, cut: true });
    expect(JSON.parse(answer.text())).toMatchObject({ choices: [{ message: { content: 'Hello there,' }, finish_reason: 'stop' }],
      usage: { total_tokens: 8 } });
  });

  it('shares one budget across the texts of an Anthropic message', () => {
    const budget: TextBudget = { left: 6, cut: false };
    const answer = new AnthropicMessageAnswer(budget);
    answer.add(sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'abcd' } }));
    answer.add(sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'efgh' } }));
    expect(budget.cut).toBe(true);
    expect((JSON.parse(answer.text()) as { content: { thinking?: string; text?: string }[] }).content)
      .toEqual([{ type: 'text', text: '', thinking: 'abcd' }, { type: 'text', text: 'ef' }]);
  });

  it('keeps whole events of a list, and none past the budget', () => {
    const budget: TextBudget = { left: 30, cut: false };
    const answer = new EventListAnswer(budget);
    for (const event of ['{"generation":"one"}', '{"generation":"two"}']) answer.add(event);
    expect(JSON.parse(answer.text())).toEqual([{ generation: 'one' }]);
    expect(budget.cut).toBe(true);
  });
});

describe('AnthropicMessageAnswer', () => {
  it("builds Anthropic's Message from its native events: text, thinking, tool input, stop reason and usage", () => {
    const blocks = [
      sse('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude',
        content: [], usage: { input_tokens: 5, output_tokens: 1 } } }),
      sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } })
        + sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }),
      sse('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
      sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hi ' } }),
      sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'there' } }),
      sse('content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'tu', name: 'f', input: {} } }),
      sse('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"x":' } }),
      sse('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '2}' } }),
      sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }),
      sse('message_stop', { type: 'message_stop' }),
    ];
    expect(JSON.parse(answerOf(new AnthropicMessageAnswer(), blocks))).toEqual({
      id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', stop_reason: 'tool_use',
      usage: { input_tokens: 5, output_tokens: 9 },
      content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'Hi there' }, { type: 'tool_use', id: 'tu', name: 'f', input: { x: 2 } }],
    });
  });
});

describe('ResponsesObjectAnswer', () => {
  it("takes the final response of response.completed", () => {
    const final = { id: 'resp_1', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'Yes' }] }] };
    const blocks = [sse('response.created', { type: 'response.created', response: { id: 'resp_1', status: 'in_progress', output: [] } }),
      sse('response.output_text.delta', { type: 'response.output_text.delta', delta: 'Yes' }),
      sse('response.completed', { type: 'response.completed', response: final })];
    expect(JSON.parse(answerOf(new ResponsesObjectAnswer(), blocks))).toEqual(final);
  });

  it('keeps the text streamed so far when the stream was cut before its end', () => {
    const blocks = [sse('response.created', { type: 'response.created', response: { id: 'resp_2', status: 'in_progress', output: [] } }),
      sse('response.output_text.delta', { type: 'response.output_text.delta', delta: 'Par' }),
      sse('response.output_text.delta', { type: 'response.output_text.delta', delta: 'tial' })];
    expect(JSON.parse(answerOf(new ResponsesObjectAnswer(), blocks))).toMatchObject({ id: 'resp_2', output_text: 'Partial' });
  });
});

describe('ContentCapture', () => {
  it('describes an upload, never keeping its bytes', () => {
    const capture = new ContentCapture(Buffer.from('RIFF....secret audio'), 'multipart/form-data; boundary=x');
    expect(JSON.parse(capture.requestText()!)).toEqual({ media: 'multipart/form-data', bytes: 20 });
  });

  it('caps an answer with the mark, and a stream longer than it keeps says so', () => {
    const capture = new ContentCapture(null, undefined);
    capture.answer('y'.repeat(CONTENT_CAP + 10), 'application/json');
    expect(capture.answerText()).toBe(`${'y'.repeat(CONTENT_CAP)}${TRUNCATION_MARK} 10 more characters]`);
    const stream = new ContentCapture(null, undefined);
    const chunk = JSON.stringify({ choices: [{ index: 0, delta: { content: 'z'.repeat(10_000) } }] });
    for (let i = 0; i < 40; i++) stream.chunk(chunk);
    expect(stream.answerText()).toContain(`${TRUNCATION_MARK} the stream was longer than the log keeps]`);
  });

  it('keeps a native InvokeModel stream as the list of its family\'s events', () => {
    const capture = new ContentCapture(null, undefined);
    capture.attempt('invoke', true);
    capture.chunk('{"generation":"he"}');
    capture.chunk('{"generation":"llo","stop_reason":"stop"}');
    expect(JSON.parse(capture.answerText()!)).toEqual([{ generation: 'he' }, { generation: 'llo', stop_reason: 'stop' }]);
  });
});
