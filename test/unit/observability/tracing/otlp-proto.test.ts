// The encoder against the test receiver's own protobuf reader (test/fakes/otlp-receiver.ts), which follows
// opentelemetry-proto's field numbers independently: every value type by each writer (the one-pass ones and the
// nested one they fall back to), lengths that need 1, 2 and 3 varint bytes, ids from words, timestamps to the
// nanosecond, and spans taken across several hand-offs.
import { describe, expect, it } from 'vitest';
import { attributeKey, encodeTraceRequest, SpanEncoder, type TraceIds } from '../../../../src/observability/tracing/otlp-proto.js';
import { decodeExportRequest } from '../../../fakes/otlp-receiver.js';

const TRACE: TraceIds = { t0: 0x4bf92f35, t1: 0x77b34da6, t2: 0xa3ce929d | 0, t3: 0x0e0e4736, traceState: '' };
const START = 1_765_000_000_123.4375;
const END = 1_765_000_000_124.5;

function exported(chunks: Uint8Array[]) {
  const body = encodeTraceRequest({ attributes: { 'service.name': 'svc', 'service.instance.id': 'é' }, scopeName: 'heimdall',
    scopeVersion: '1.2.3' }, chunks);
  const [request] = decodeExportRequest(body, 'http', {});
  return request;
}

describe('OTLP protobuf encoding', () => {
  it('writes every attribute type, events, status and ids as the proto defines them', () => {
    const encoder = new SpanEncoder();
    encoder.open({ ...TRACE, traceState: 'v=1' }, 0x00f067aa, 0x0ba902b7, 0x11111111, -1, 3, START, END, 'chat', 'gpt-4o');
    encoder.string(attributeKey('s'), 'text');
    encoder.string(attributeKey('empty'), '');
    encoder.string(attributeKey('unicode'), 'héllo 👋 你好');
    encoder.bool(attributeKey('t'), true);
    encoder.bool(attributeKey('f'), false);
    encoder.int(attributeKey('n'), 42);
    encoder.int(attributeKey('neg'), -7);
    encoder.int(attributeKey('big'), 2 ** 40);
    encoder.double(attributeKey('d'), 0.125);
    encoder.attributes({ loose: 'x', loosen: 3, loosef: 1.5, looseb: true });
    encoder.event('gen_ai.first_token', 1_765_000_000_124.25, { 'heimdall.ttft_ms': 12.5 });
    encoder.status(2, 'UPSTREAM_ERROR');
    encoder.close();
    expect(encoder.count).toBe(1);
    const got = exported([encoder.take().bytes]);
    expect(got.resource).toEqual({ 'service.name': 'svc', 'service.instance.id': 'é' });
    expect(got.scope).toEqual({ name: 'heimdall', version: '1.2.3' });
    const [s] = got.spans;
    expect(s).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '11111111ffffffff',
      traceState: 'v=1', name: 'chat gpt-4o', kind: 3, status: { code: 2, message: 'UPSTREAM_ERROR' } });
    expect(s.attributes).toEqual({ s: 'text', empty: '', unicode: 'héllo 👋 你好', t: true, f: false, n: 42, neg: -7, big: 2 ** 40, d: 0.125,
      loose: 'x', loosen: 3, loosef: 1.5, looseb: true });
    // A binary fraction, which the float holds exactly (an epoch in ms has about 0.24 µs of resolution).
    expect(s.start).toBe(1_765_000_000_123_437_500n);
    expect(s.end).toBe(1_765_000_000_124_500_000n);
    expect(s.events).toEqual([{ name: 'gen_ai.first_token', time: 1_765_000_000_124_250_000n, attributes: { 'heimdall.ttft_ms': 12.5 } }]);
  });

  it('leaves out a root span\'s parent and an unset status; joins a name with non-ASCII parts too', () => {
    const encoder = new SpanEncoder();
    encoder.open(TRACE, 1, 2, 0, 0, 2, START, END, 'POST', '/v1/ünïcode');
    encoder.status(0, '');
    encoder.close();
    const [s] = exported([encoder.take().bytes]).spans;
    expect(s).toMatchObject({ spanId: '0000000100000002', parentSpanId: '', name: 'POST /v1/ünïcode', status: { code: 0, message: '' } });
  });

  it('writes spans shorter than 128 bytes and longer than 16383, and keeps spans from several hand-offs in order', () => {
    const long = 'x'.repeat(20_000);
    const encoder = new SpanEncoder(64);
    const chunks: Uint8Array[] = [];
    encoder.open(TRACE, 1, 1, 0, 0, 1, START, END, 'first');
    encoder.string(attributeKey('medium'), 'y'.repeat(300));
    encoder.close();
    chunks.push(encoder.take().bytes);
    encoder.open(TRACE, 1, 2, 0, 0, 1, START, END, 'second');
    encoder.string(attributeKey('long'), long);
    encoder.close();
    encoder.open(TRACE, 1, 3, 0, 0, 1, START, END, 'tiny');
    encoder.close();
    const second = encoder.take();
    expect(second.count).toBe(2);
    chunks.push(second.bytes);
    const got = exported(chunks);
    expect(got.spans.map((s) => s.name)).toEqual(['first', 'second', 'tiny']);
    expect(got.spans[0].attributes.medium).toBe('y'.repeat(300));
    expect(got.spans[1].attributes.long).toBe(long);
    expect(got.spans[2].spanId).toBe('0000000100000003');
  });
});
