// OTLP/protobuf encoding of ExportTraceServiceRequest (opentelemetry-proto, trace/v1), written out by hand: the
// handful of messages a trace export needs is smaller than a protobuf runtime, and this runs on the exporter thread
// only. Field numbers follow opentelemetry/proto/{collector/trace,trace,common,resource}/v1/*.proto.

import type { AttributeValue, Attributes, SpanRecord } from './spans.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;

/** A hex digit's value by its character code (ids are lower-case hex, as trace-context.ts makes and checks them). */
const HEX = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;
for (let i = 10; i < 16; i++) HEX['ABCDEF'.charCodeAt(i - 10)] = i;

/**
 * A growable byte buffer with the protobuf primitives, written in one pass: a nested message's length is reserved as
 * one byte before its content and, in the rare case the content passes 127 bytes, the content is moved up to make
 * room for the longer varint (one memmove), so no message is ever encoded twice or copied out of a buffer of its own.
 */
class ProtoWriter {
  // allocUnsafeSlow: an ArrayBuffer of its own, never a slice of Node's shared pool (detach() hands it over whole).
  #buf: Buffer;
  #pos = 0;
  readonly #open: number[] = [];

  constructor(size = 64 * 1024) {
    this.#buf = Buffer.allocUnsafeSlow(size);
  }

  get length(): number {
    return this.#pos;
  }

  /** A length-delimited field's tag and length, its content to follow. */
  lengthPrefix(field: number, length: number): void {
    this.tag(field, WIRE_BYTES);
    this.varint(length);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#pos + n));
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

  /** Opens a length-delimited field; `end()` closes it. */
  begin(field: number): void {
    this.tag(field, WIRE_BYTES);
    this.#room(1);
    this.#open.push(this.#pos);
    this.#pos += 1;
  }

  end(): void {
    const at = this.#open.pop()!;
    const length = this.#pos - at - 1;
    if (length < 0x80) {
      this.#buf[at] = length;
      return;
    }
    let extra = 0;
    for (let v = length >>> 7; v > 0; v >>>= 7) extra++;
    this.#room(extra);
    this.#buf.copyWithin(at + 1 + extra, at + 1, this.#pos);
    let v = length;
    let p = at;
    while (v > 0x7f) {
      this.#buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#buf[p] = v;
    this.#pos += extra;
  }

  /**
   * Attribute keys, names and ids are short ASCII: copied byte by byte here behind a one-byte length written up
   * front, which costs less than a call into Buffer.write and than the begin()/end() bookkeeping of a nested field
   * (about a third of a span's encoding went there). Anything longer or wider goes through Buffer.write.
   */
  #text(field: number, value: string): void {
    const length = value.length;
    if (length < 0x80) {
      this.#room(2 + length);
      const buf = this.#buf;
      const start = this.#pos;
      // A one-byte tag: every string field number here is below 16.
      buf[start] = (field << 3) | WIRE_BYTES;
      buf[start + 1] = length;
      const at = start + 2;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buf[at + i] = code;
      }
      if (i === length) {
        this.#pos = at + length;
        return;
      }
    }
    this.begin(field);
    this.#room(length * 3);
    this.#pos += this.#buf.write(value, this.#pos, 'utf8');
    this.end();
  }

  string(field: number, value: string): void {
    if (value !== '') this.#text(field, value);
  }

  /** A string field written even when empty (an AnyValue's string_value: '' is a value). */
  stringAlways(field: number, value: string): void {
    this.#text(field, value);
  }

  hexBytes(field: number, hex: string): void {
    if (hex === '') return;
    // Ids are 8 or 16 bytes: the length fits one byte, so no begin()/end().
    const length = hex.length >>> 1;
    this.#room(2 + length);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = (field << 3) | WIRE_BYTES;
    buf[pos++] = length;
    for (let i = 0; i < length; i++) buf[pos + i] = (HEX[hex.charCodeAt(2 * i)] << 4) | HEX[hex.charCodeAt(2 * i + 1)];
    this.#pos = pos + length;
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

  /** Epoch milliseconds (fractional) as fixed64 nanoseconds, as two 32-bit halves (no BigInt per timestamp). */
  nanos(field: number, epochMs: number): void {
    this.tag(field, WIRE_FIXED64);
    this.#room(8);
    const whole = Math.floor(epochMs);
    // whole ms × 1e6 split so that each part stays exact in a double: ms = hiMs × 2^32/1e6-free arithmetic below.
    const msHigh = Math.floor(whole / 4294967296);
    const msLow = whole - msHigh * 4294967296;
    const sub = Math.round((epochMs - whole) * 1e6);
    // ns = (msHigh × 2^32 + msLow) × 1e6 + sub, carried through 32-bit limbs.
    const lowProduct = msLow * 1e6 + sub;
    const low = lowProduct % 4294967296;
    const high = msHigh * 1e6 + Math.floor(lowProduct / 4294967296);
    // Byte by byte: writeUInt32LE's argument checks cost more than the stores, twice a timestamp.
    const buf = this.#buf;
    const pos = this.#pos;
    const lo = low >>> 0;
    const hi = high >>> 0;
    buf[pos] = lo;
    buf[pos + 1] = lo >>> 8;
    buf[pos + 2] = lo >>> 16;
    buf[pos + 3] = lo >>> 24;
    buf[pos + 4] = hi;
    buf[pos + 5] = hi >>> 8;
    buf[pos + 6] = hi >>> 16;
    buf[pos + 7] = hi >>> 24;
    this.#pos = pos + 8;
  }

  bool(field: number, value: boolean): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value ? 1 : 0);
  }

  /** Bytes already encoded as fields of the open message. */
  raw(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** The bytes written; valid until the writer is used again. */
  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  reset(): void {
    this.#pos = 0;
    this.#open.length = 0;
  }

  /**
   * The bytes written, in a buffer the caller now owns (its ArrayBuffer holds nothing else, so it can be
   * transferred); the writer starts over in a fresh buffer of the same size. Copying out instead cost a zeroed
   * allocation and a copy of the whole batch on the front thread.
   */
  detach(): Uint8Array {
    const bytes = new Uint8Array(this.#buf.buffer, this.#buf.byteOffset, this.#pos);
    this.#buf = Buffer.allocUnsafeSlow(this.#buf.length);
    this.reset();
    return bytes;
  }
}

function anyValue(w: ProtoWriter, value: AttributeValue): void {
  if (typeof value === 'string') w.stringAlways(1, value);
  else if (typeof value === 'boolean') w.bool(2, value);
  else if (Number.isSafeInteger(value)) w.int64(3, value);
  else w.double(4, value);
}

function keyValues(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    w.begin(field);
    w.string(1, key);
    w.begin(2);
    anyValue(w, attributes[key]);
    w.end();
    w.end();
  }
}

function span(w: ProtoWriter, record: SpanRecord): void {
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
    w.begin(11);
    w.nanos(1, event.time);
    w.string(2, event.name);
    if (event.attributes) keyValues(w, 3, event.attributes);
    w.end();
  }
  w.begin(15);
  w.string(2, record.statusMessage);
  w.uint(3, record.status);
  w.end();
}

export interface ExportResource {
  readonly attributes: Attributes;
  readonly scopeName: string;
  readonly scopeVersion: string;
}

/**
 * Spans encoded as they finish, each as a `ScopeSpans.spans` field (field 2, length-delimited): concatenated, they
 * are the body of a ScopeSpans message, which `encodeTraceRequest` wraps once per export. Encoding here, on the front
 * thread, costs about what structured-cloning the same records for another thread would, and spares that thread
 * decoding the clone and encoding it again (see docs/tracing.md, "Cost").
 */
export class SpanEncoder {
  readonly #writer = new ProtoWriter();
  #count = 0;

  get count(): number {
    return this.#count;
  }

  append(spans: readonly SpanRecord[]): void {
    const w = this.#writer;
    for (const record of spans) {
      w.begin(2);
      span(w, record);
      w.end();
    }
    this.#count += spans.length;
  }

  /** The encoded spans in a buffer of their own (to transfer to another thread), and how many they are. */
  take(): { bytes: Uint8Array; count: number } {
    const bytes = this.#writer.detach();
    const count = this.#count;
    this.#count = 0;
    return { bytes, count };
  }
}

/**
 * One ExportTraceServiceRequest: the resource, the instrumentation scope, and the spans `SpanEncoder` encoded, as one
 * ResourceSpans with one ScopeSpans. The bytes are a copy the caller owns.
 */
export function encodeTraceRequest(resource: ExportResource, encodedSpans: readonly Uint8Array[]): Buffer {
  return Buffer.concat(encodeTraceRequestParts(resource, encodedSpans));
}

/**
 * The same request as pieces to write one after the other: the envelope up to the first span (lengths computed from
 * the spans' sizes), then the spans' own buffers as they came. Copying a batch (about 150 KiB for 512 spans) into
 * one body and that body out again cost the exporter thread as much as the HTTP round trip's JavaScript.
 */
export function encodeTraceRequestParts(resource: ExportResource, encodedSpans: readonly Uint8Array[]): Uint8Array[] {
  const head = new ProtoWriter(1024);
  head.begin(1); // resource
  keyValues(head, 1, resource.attributes);
  head.end();
  const resourceField = head.length;
  head.begin(1); // scope
  head.string(1, resource.scopeName);
  head.string(2, resource.scopeVersion);
  head.end();
  const scopeField = head.length - resourceField;
  let spans = 0;
  for (const bytes of encodedSpans) spans += bytes.length;
  const scopeSpans = scopeField + spans;
  const resourceSpans = resourceField + tagged(2, scopeSpans) + scopeSpans;
  const envelope = new ProtoWriter(32 + head.length);
  envelope.lengthPrefix(1, resourceSpans); // resource_spans
  envelope.raw(head.finish().subarray(0, resourceField));
  envelope.lengthPrefix(2, scopeSpans); // scope_spans
  envelope.raw(head.finish().subarray(resourceField));
  return [envelope.finish(), ...encodedSpans];
}

/** Bytes of a length-delimited field's tag and length before `length` bytes of content (field numbers below 16). */
function tagged(field: number, length: number): number {
  let bytes = 2;
  for (let v = length >>> 7; v > 0; v >>>= 7) bytes++;
  return bytes + (field < 16 ? 0 : 1);
}
