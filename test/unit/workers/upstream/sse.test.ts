import { describe, expect, it } from 'vitest';
import { SseDecoder } from '../../../../workers/upstream/sse.js';

const stream = 'event: message_start\ndata: {"a":1}\n\n: a comment\n\ndata: line one\ndata: line two\n\ndata: héllo 👋\r\n\r\ndata: [DONE]\n\n';
const expected = [
  { event: 'message_start', data: '{"a":1}' },
  { event: null, data: 'line one\nline two' },
  { event: null, data: 'héllo 👋' },
  { event: null, data: '[DONE]' },
];

describe('SSE decoder', () => {
  it('decodes a whole body', () => {
    expect(new SseDecoder().push(new TextEncoder().encode(stream))).toEqual(expected);
  });

  it('gives the same events however the body is split, even inside a UTF-8 character or a CRLF', () => {
    const bytes = new TextEncoder().encode(stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new SseDecoder();
      const events = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(events, `split at byte ${cut}`).toEqual(expected);
      expect(decoder.hasPartialEvent).toBe(false);
    }
  });

  it('gives the same events when the body comes a byte at a time, and a character cut at the very end counts as unfinished', () => {
    const bytes = new TextEncoder().encode(stream);
    const decoder = new SseDecoder();
    const events = [];
    for (let i = 0; i < bytes.length; i++) events.push(...decoder.push(bytes.subarray(i, i + 1)));
    expect(events).toEqual(expected);
    const cut = new SseDecoder();
    cut.push(new TextEncoder().encode('data: {"a":1}\n\n'));
    cut.push(new TextEncoder().encode('👋').subarray(0, 2));
    expect(cut.hasPartialEvent).toBe(true);
  });

  it('replaces invalid UTF-8 as a TextDecoder would, and goes on', () => {
    const decoder = new SseDecoder();
    const events = decoder.push(Uint8Array.from([...new TextEncoder().encode('data: a'), 0xff, ...new TextEncoder().encode('b\n\n')]));
    expect(events).toEqual([{ event: null, data: 'a\ufffdb' }]);
  });

  it('reports an unfinished event left at the end of a body', () => {
    const decoder = new SseDecoder();
    decoder.push(new TextEncoder().encode('data: {"a":1}\n\ndata: {"trunc'));
    expect(decoder.hasPartialEvent).toBe(true);
  });
});
