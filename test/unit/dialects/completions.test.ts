// The legacy completions dialect's pure transforms.

import { describe, expect, it } from 'vitest';
import { completions, parseCompletionsRequest } from '../../../src/dialects/completions.js';
import type { IncomingRequest } from '../../../src/http/server.js';

const request = (body: unknown): IncomingRequest => ({ method: 'POST', path: '/v1/completions', query: '', headers: {},
  requestId: 'r', receivedAt: 0, body: Buffer.from(JSON.stringify(body)) });

describe('completions request → chat request', () => {
  it('takes one prompt and the fields chat shares, and refuses unknown ones', () => {
    const { parsed, echo } = parseCompletionsRequest(Buffer.from(JSON.stringify({ model: 'm', prompt: ['p'], n: 2, stop: ['\n'],
      stream: true, stream_options: { include_usage: true }, echo: false, logprobs: null, best_of: 1, suffix: '' })));
    expect(parsed).toMatchObject({ kind: 'chat', stream: true, includeUsage: true });
    expect(parsed.body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'p' }], n: 2, stop: ['\n'], stream: true,
      stream_options: { include_usage: true } });
    expect(echo).toBeNull();
    expect(() => parseCompletionsRequest(Buffer.from(JSON.stringify({ model: 'm', prompt: 'p', functions: [] }))))
      .toThrow(/'functions' is not supported/);
  });
});

describe('chat chunks → text_completion chunks', () => {
  it('echoes the prompt once per choice, skips text-less chunks, and keeps choice indexes', () => {
    const wire = completions.wire(completions.parse(request({ model: 'm', prompt: 'P:', echo: true, n: 2, stream: true })));
    const chunk = (choices: object[]) => JSON.stringify({ id: 'chatcmpl-abc', created: 1, model: 'x', choices });
    const out = [
      chunk([{ index: 0, delta: { role: 'assistant' }, finish_reason: null }]),
      chunk([{ index: 1, delta: { content: 'b' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]),
      chunk([{ index: 1, delta: { content: '' }, finish_reason: null }]),
    ].map((c) => wire.chunk(c));
    expect(out[3]).toBe('');
    const data = out.filter(Boolean).map((piece) => JSON.parse((piece as string).slice('data: '.length)) as { id: string; choices: unknown[] });
    expect(data.map((item) => item.choices)).toEqual([
      [{ text: 'P:', index: 0, logprobs: null, finish_reason: null }],
      [{ text: 'P:b', index: 1, logprobs: null, finish_reason: null }],
      [{ text: 'a', index: 0, logprobs: null, finish_reason: 'stop' }],
    ]);
    expect(data[0].id).toBe('cmpl-abc');
    expect(wire.end()).toBe('data: [DONE]\n\n');
  });
});
