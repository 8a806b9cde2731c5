import { describe, expect, it } from 'vitest';
import { formatTraceparent, hexOfWords, parseTraceparent, randomWord, wordOfHex } from '../../../../src/observability/tracing/trace-context.js';

describe('W3C trace context', () => {
  it('reads a traceparent and its tracestate', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'a=1,b=2')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true, traceState: 'a=1,b=2' });
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', undefined)?.sampled).toBe(false);
    // A later version may append fields.
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', undefined)?.sampled).toBe(true);
  });

  it('ignores a malformed or invalid one (a new trace starts)', () => {
    for (const bad of ['', 'garbage', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x']) {
      expect(parseTraceparent(bad, undefined)).toBeNull();
    }
  });

  it('draws random id words past a pool refill, writes them as hex and reads them back, and writes traceparent', () => {
    // 1024 words to a pool: 3000 span ids cross two refills.
    const ids = new Set(Array.from({ length: 3000 }, () => hexOfWords(randomWord(), randomWord())));
    expect(ids.size).toBe(3000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(hexOfWords(0, -1, 0x0a, 0x7fffffff)).toBe('00000000ffffffff0000000a7fffffff');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(hexOfWords(...[0, 1, 2, 3].map((i) => wordOfHex(traceId, i)))).toBe(traceId);
    expect(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', true))
      .toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  });
});
