// OTLP/protobuf encoding of ExportTraceServiceRequest (opentelemetry-proto, trace/v1), written out by hand: the
// handful of messages a trace export needs is smaller than a protobuf runtime, and this runs on the exporter thread
// only. Field numbers follow opentelemetry/proto/{collector/trace,trace,common,resource}/v1/*.proto.

import type { AttributeValue, Attributes, SpanRecord } from './spans.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;

/** A growable byte buffer with the protobuf primitives; nested messages are written into their own and copied. */
class ProtoWriter {
  #buf = Buffer.allocUnsafe(256);
  #pos = 0;

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  varint(value: number): void {
    this.#room(10);
    let v = value;
    while (v > 0x7f) {
      this.#buf[this.#pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#pos++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_BYTES);
    this.varint(value.length);
    this.#room(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
  }

  string(field: number, value: string): void {
    if (value === '') return;
    this.bytes(field, Buffer.from(value, 'utf8'));
  }

  hexBytes(field: number, hex: string): void {
    if (hex === '') return;
    this.bytes(field, Buffer.from(hex, 'hex'));
  }

  message(field: number, inner: ProtoWriter): void {
    this.bytes(field, inner.finish());
  }

  uint(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** int64 as a varint: negatives take ten bytes, two's complement. */
  int64(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    if (value >= 0) {
      this.varint(value);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    this.#room(10);
    while (v > 0x7fn) {
      this.#buf[this.#pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#pos++] = Number(v);
  }

  double(field: number, value: number): void {
    this.tag(field, WIRE_FIXED64);
    this.#room(8);
    this.#buf.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
  }

  /** Epoch milliseconds (fractional) as fixed64 nanoseconds, exact to the nanosecond the float holds. */
  nanos(field: number, epochMs: number): void {
    this.tag(field, WIRE_FIXED64);
    this.#room(8);
    const whole = Math.floor(epochMs);
    const ns = BigInt(whole) * 1_000_000n + BigInt(Math.round((epochMs - whole) * 1e6));
    this.#buf.writeBigUInt64LE(ns, this.#pos);
    this.#pos += 8;
  }

  bool(field: number, value: boolean): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value ? 1 : 0);
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

function anyValue(value: AttributeValue): ProtoWriter {
  const w = new ProtoWriter();
  if (typeof value === 'string') w.bytes(1, Buffer.from(value, 'utf8'));
  else if (typeof value === 'boolean') w.bool(2, value);
  else if (Number.isSafeInteger(value)) w.int64(3, value);
  else w.double(4, value);
  return w;
}

function keyValues(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key of Object.keys(attributes)) {
    const kv = new ProtoWriter();
    kv.string(1, key);
    kv.message(2, anyValue(attributes[key]));
    w.message(field, kv);
  }
}

function span(record: SpanRecord): ProtoWriter {
  const w = new ProtoWriter();
  w.hexBytes(1, record.traceId);
  w.hexBytes(2, record.spanId);
  w.string(3, record.traceState);
  w.hexBytes(4, record.parentSpanId);
  w.string(5, record.name);
  w.uint(6, record.kind);
  w.nanos(7, record.start);
  w.nanos(8, Math.max(record.end, record.start));
  keyValues(w, 9, record.attributes);
  for (const event of record.events ?? []) {
    const e = new ProtoWriter();
    e.nanos(1, event.time);
    e.string(2, event.name);
    if (event.attributes) keyValues(e, 3, event.attributes);
    w.message(11, e);
  }
  const status = new ProtoWriter();
  status.string(2, record.statusMessage);
  status.uint(3, record.status);
  w.message(15, status);
  return w;
}

export interface ExportResource {
  readonly attributes: Attributes;
  readonly scopeName: string;
  readonly scopeVersion: string;
}

/** One ExportTraceServiceRequest holding `spans`, all under one resource and one instrumentation scope. */
export function encodeTraceRequest(resource: ExportResource, spans: readonly SpanRecord[]): Buffer {
  const res = new ProtoWriter();
  keyValues(res, 1, resource.attributes);
  const scope = new ProtoWriter();
  scope.string(1, resource.scopeName);
  scope.string(2, resource.scopeVersion);
  const scopeSpans = new ProtoWriter();
  scopeSpans.message(1, scope);
  for (const record of spans) scopeSpans.message(2, span(record));
  const resourceSpans = new ProtoWriter();
  resourceSpans.message(1, res);
  resourceSpans.message(2, scopeSpans);
  const request = new ProtoWriter();
  request.message(1, resourceSpans);
  return request.finish();
}
