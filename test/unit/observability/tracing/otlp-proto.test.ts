// The encoder against the test receiver's own protobuf reader (test/fakes/otlp-receiver.ts), which follows
// opentelemetry-proto's field numbers independently: every value type, lengths that need 1, 2 and 3 varint bytes,
// timestamps to the nanosecond, and spans appended across several hand-offs.
import { describe, expect, it } from 'vitest';
import { encodeTraceRequest, SpanEncoder } from '../../../../src/observability/tracing/otlp-proto.js';
import type { SpanRecord } from '../../../../src/observability/tracing/spans.js';
import { decodeExportRequest } from '../../../fakes/otlp-receiver.js';

const span = (overrides: Partial<SpanRecord>): SpanRecord => ({
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '', traceState: '', name: 'a', kind: 1,
  start: 1_765_000_000_123.4375, end: 1_765_000_000_124.5, attributes: {}, status: 0, statusMessage: '', events: null, ...overrides,
});

function roundTrip(batches: SpanRecord[][]) {
  const encoder = new SpanEncoder();
  const chunks: Uint8Array[] = [];
  for (const batch of batches) {
    encoder.append(batch);
    chunks.push(encoder.take().bytes);
  }
  const body = encodeTraceRequest({ attributes: { 'service.name': 'svc', 'service.instance.id': 'é' }, scopeName: 'heimdall',
    scopeVersion: '1.2.3' }, chunks);
  const [exported] = decodeExportRequest(body, 'http', {});
  return exported;
}

describe('OTLP protobuf encoding', () => {
  it('writes every attribute type, events, status and ids as the proto defines them', () => {
    const got = roundTrip([[span({
      parentSpanId: '1111111111111111', traceState: 'v=1', name: 'chat gpt-4o', kind: 3, status: 2, statusMessage: 'UPSTREAM_ERROR',
      attributes: { s: 'text', empty: '', unicode: 'héllo 👋 你好', t: true, f: false, n: 42, neg: -7, big: 2 ** 40, d: 0.125 },
      events: [{ name: 'gen_ai.first_token', time: 1_765_000_000_124.25, attributes: { 'heimdall.ttft_ms': 12.5 } }],
    })]]);
    expect(got.resource).toEqual({ 'service.name': 'svc', 'service.instance.id': 'é' });
    expect(got.scope).toEqual({ name: 'heimdall', version: '1.2.3' });
    const [s] = got.spans;
    expect(s).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '1111111111111111',
      traceState: 'v=1', name: 'chat gpt-4o', kind: 3, status: { code: 2, message: 'UPSTREAM_ERROR' } });
    expect(s.attributes).toEqual({ s: 'text', empty: '', unicode: 'héllo 👋 你好', t: true, f: false, n: 42, neg: -7, big: 2 ** 40, d: 0.125 });
    // A binary fraction, which the float holds exactly (an epoch in ms has about 0.24 µs of resolution).
    expect(s.start).toBe(1_765_000_000_123_437_500n);
    expect(s.end).toBe(1_765_000_000_124_500_000n);
    expect(s.events).toEqual([{ name: 'gen_ai.first_token', time: 1_765_000_000_124_250_000n, attributes: { 'heimdall.ttft_ms': 12.5 } }]);
  });

  it('writes lengths past 127 and 16383 bytes, and keeps spans from several hand-offs in order', () => {
    const long = 'x'.repeat(20_000);
    const got = roundTrip([[span({ name: 'first', attributes: { medium: 'y'.repeat(300) } })],
      [span({ name: 'second', attributes: { long } }), span({ name: 'third' })]]);
    expect(got.spans.map((s) => s.name)).toEqual(['first', 'second', 'third']);
    expect(got.spans[0].attributes.medium).toBe('y'.repeat(300));
    expect(got.spans[1].attributes.long).toBe(long);
  });
});
