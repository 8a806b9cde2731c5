// OTLP/protobuf encoding of ExportTraceServiceRequest (opentelemetry-proto, trace/v1), written out by hand: the
// handful of messages a trace export needs is smaller than a protobuf runtime, and this runs on the exporter thread
// only. Field numbers follow opentelemetry/proto/{collector/trace,trace,common,resource}/v1/*.proto.

/** An attribute's value: OTLP's string, bool, int64 (a safe integer) or double. */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;

function putWord(buf: Uint8Array, at: number, word: number): void {
  buf[at] = word >>> 24;
  buf[at + 1] = word >>> 16;
  buf[at + 2] = word >>> 8;
  buf[at + 3] = word;
}

// A double's bytes through a scratch Float64Array, copied in little-endian order (protobuf's fixed64): Buffer's
// writeDoubleLE validates its arguments through wrapped helpers that cost more than the eight stores.
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const BIG_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 0;

function putDouble(buf: Uint8Array, at: number, value: number): void {
  F64[0] = value;
  if (BIG_ENDIAN) for (let i = 0; i < 8; i++) buf[at + i] = F64_BYTES[7 - i];
  else for (let i = 0; i < 8; i++) buf[at + i] = F64_BYTES[i];
}

/** Copies `text` to `buf` at `at` when it is all ASCII; false (with some bytes written) when it is not. */
function ascii(buf: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return false;
    buf[at + i] = code;
  }
  return true;
}

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
    this.#patchLength(at, 1, length);
  }

  /**
   * Writes `length` as a varint at `at`, where `reserved` bytes were left for it, moving what follows when the varint
   * needs more or fewer bytes than that.
   */
  #patchLength(at: number, reserved: number, length: number): void {
    let size = 1;
    for (let v = length >>> 7; v > 0; v >>>= 7) size++;
    const shift = size - reserved;
    if (shift !== 0) {
      if (shift > 0) this.#room(shift);
      this.#buf.copyWithin(at + size, at + reserved, this.#pos);
      this.#pos += shift;
    }
    let v = length;
    let p = at;
    while (v > 0x7f) {
      this.#buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#buf[p] = v;
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

  /** A trace id (16 bytes) from four words, big-endian (trace-context.ts). */
  traceId(field: number, w0: number, w1: number, w2: number, w3: number): void {
    this.#room(18);
    const buf = this.#buf;
    const p = this.#pos;
    buf[p] = (field << 3) | WIRE_BYTES;
    buf[p + 1] = 16;
    putWord(buf, p + 2, w0);
    putWord(buf, p + 6, w1);
    putWord(buf, p + 10, w2);
    putWord(buf, p + 14, w3);
    this.#pos = p + 18;
  }

  /** A span id (8 bytes) from two words; nothing for 0, 0 (no parent). */
  spanId(field: number, hi: number, lo: number): void {
    if (hi === 0 && lo === 0) return;
    this.#room(10);
    const buf = this.#buf;
    const p = this.#pos;
    buf[p] = (field << 3) | WIRE_BYTES;
    buf[p + 1] = 8;
    putWord(buf, p + 2, hi);
    putWord(buf, p + 6, lo);
    this.#pos = p + 10;
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
    putDouble(this.#buf, this.#pos, value);
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

  /**
   * Opens a length-delimited field expected to hold 128 to 16383 bytes (a span): its length gets two bytes up front,
   * so that the usual span closes without moving its content (a one-byte reservation moved every span once).
   * Returns where the length goes, for endSpan().
   */
  beginSpan(field: number): number {
    this.tag(field, WIRE_BYTES);
    this.#room(2);
    const at = this.#pos;
    this.#pos += 2;
    return at;
  }

  endSpan(at: number): void {
    const length = this.#pos - at - 2;
    const buf = this.#buf;
    if (length >= 0x80 && length < 0x4000) {
      buf[at] = (length & 0x7f) | 0x80;
      buf[at + 1] = length >>> 7;
      return;
    }
    this.#patchLength(at, 2, length);
  }

  /** A string field of `a`, a space and `b`, written without making that string when all of it is short ASCII. */
  joined(field: number, a: string, b: string): void {
    const length = a.length + 1 + b.length;
    if (length < 0x80) {
      this.#room(2 + length);
      const buf = this.#buf;
      const start = this.#pos;
      buf[start] = (field << 3) | WIRE_BYTES;
      buf[start + 1] = length;
      if (ascii(buf, start + 2, a) && ascii(buf, start + 3 + a.length, b)) {
        buf[start + 2 + a.length] = 0x20;
        this.#pos = start + 2 + length;
        return;
      }
    }
    this.#text(field, `${a} ${b}`);
  }

  /** A KeyValue whose key is from attributeKey() and whose value is a string: short ASCII in one pass, else nested. */
  attrString(field: number, key: Uint8Array, value: string): void {
    const n = value.length;
    const size = key.length + 4 + n;
    if (size < 0x80) {
      this.#room(2 + size);
      const buf = this.#buf;
      const start = this.#pos;
      let p = this.#head(field, key, size, n + 2);
      buf[p] = 0x0a; // AnyValue.string_value
      buf[p + 1] = n;
      p += 2;
      if (ascii(buf, p, value)) {
        this.#pos = p + n;
        return;
      }
      this.#pos = start;
    }
    this.begin(field);
    this.raw(key);
    this.begin(2);
    this.stringAlways(1, value);
    this.end();
    this.end();
  }

  /** A KeyValue with an int64 value: one pass for the usual small non-negative one. */
  attrInt(field: number, key: Uint8Array, value: number): void {
    if (value < 0 || value >= 0x10000000 || !Number.isInteger(value) || key.length > 0x70) {
      this.attrAny(field, key, value);
      return;
    }
    let bytes = 1;
    for (let v = value >>> 7; v > 0; v >>>= 7) bytes++;
    this.#room(4 + key.length + 1 + bytes);
    let p = this.#head(field, key, key.length + 3 + bytes, 1 + bytes);
    const buf = this.#buf;
    buf[p++] = 0x18; // AnyValue.int_value
    let v = value;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.#pos = p;
  }

  attrBool(field: number, key: Uint8Array, value: boolean): void {
    const p = this.#fixedHead(field, key, 2);
    if (p < 0) {
      this.attrAny(field, key, value);
      return;
    }
    this.#buf[p] = 0x10; // AnyValue.bool_value
    this.#buf[p + 1] = value ? 1 : 0;
    this.#pos = p + 2;
  }

  /** A KeyValue with a double value: its size is fixed, so one pass. */
  attrDouble(field: number, key: Uint8Array, value: number): void {
    const p = this.#fixedHead(field, key, 9);
    if (p < 0) {
      this.attrAny(field, key, value);
      return;
    }
    this.#buf[p] = 0x21; // AnyValue.double_value, fixed64
    putDouble(this.#buf, p + 1, value);
    this.#pos = p + 9;
  }

  /**
   * Room for a KeyValue whose AnyValue takes `size` bytes (its tag included), and its head (#head); returns where the
   * value goes, or -1 for a key too long for one-byte lengths.
   */
  #fixedHead(field: number, key: Uint8Array, size: number): number {
    if (key.length > 0x70) return -1;
    this.#room(4 + key.length + size);
    return this.#head(field, key, key.length + 2 + size, size);
  }

  /** A KeyValue of any value type, nested the general way. */
  attrAny(field: number, key: Uint8Array, value: AttributeValue): void {
    this.begin(field);
    this.raw(key);
    this.begin(2);
    anyValue(this, value);
    this.end();
    this.end();
  }

  /** A short KeyValue's tag and length, its key, and its value's tag and length; returns where the value goes. */
  #head(field: number, key: Uint8Array, size: number, valueSize: number): number {
    const buf = this.#buf;
    let p = this.#pos;
    buf[p] = (field << 3) | WIRE_BYTES;
    buf[p + 1] = size;
    p += 2;
    for (let i = 0; i < key.length; i++) buf[p + i] = key[i];
    p += key.length;
    buf[p] = 0x12; // KeyValue.value
    buf[p + 1] = valueSize;
    return p + 2;
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
   * transferred); the writer starts over in `spare` (a buffer an earlier detach() gave out, back from its export) or
   * in a fresh one of the same size. Copying out instead cost a zeroed allocation and a copy of the whole batch on
   * the front thread; a fresh buffer of megabytes costs its pages' first writes (page faults) on the front thread.
   */
  detach(spare: ArrayBuffer | null = null): Uint8Array {
    const bytes = new Uint8Array(this.#buf.buffer, this.#buf.byteOffset, this.#pos);
    this.#buf = spare && spare.byteLength > 0 ? Buffer.from(spare) : Buffer.allocUnsafeSlow(this.#buf.length);
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

export interface ExportResource {
  readonly attributes: Attributes;
  readonly scopeName: string;
  readonly scopeVersion: string;
}

/** An attribute's key as a KeyValue's first field (tag, length, bytes), made once per key, not per span. */
export function attributeKey(name: string): Uint8Array {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length >= 0x80) throw new Error(`attribute key '${name.slice(0, 40)}…' is longer than 127 bytes`);
  return Uint8Array.of(0x0a, bytes.length, ...bytes);
}

const KEYS = new Map<string, Uint8Array>();
const keyOf = (name: string): Uint8Array => {
  let key = KEYS.get(name);
  if (!key) KEYS.set(name, key = attributeKey(name));
  return key;
};

/** A trace's id as four words (trace-context.ts), and the tracestate its spans carry. */
export interface TraceIds {
  readonly t0: number;
  readonly t1: number;
  readonly t2: number;
  readonly t3: number;
  readonly traceState: string;
}

/**
 * Spans written as they finish, each as a `ScopeSpans.spans` field (field 2, length-delimited), straight from the
 * values the caller has: no span objects, no attribute objects, keys copied from bytes made once. Concatenated, the
 * spans are the body of a ScopeSpans message, which `encodeTraceRequestParts` wraps once per export. A span is
 * `open`, given its attributes (then its events and status), and `close`d; one span at a time.
 */
export class SpanEncoder {
  readonly #w: ProtoWriter;
  #count = 0;
  #at = -1;

  constructor(size = 64 * 1024) {
    this.#w = new ProtoWriter(size);
  }

  /** Spans written since the last take(). */
  get count(): number {
    return this.#count;
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.#w.length;
  }

  /**
   * Opens a span of `trace` (its id and tracestate), its id and its parent's as words (parent 0, 0: a root span); its
   * name is `name`, or `name` and `suffix` joined by a space (no string made for it).
   */
  open(trace: TraceIds, spanHi: number, spanLo: number, parentHi: number, parentLo: number, kind: number, start: number,
    end: number, name: string, suffix = ''): void {
    this.#ids(trace, spanHi, spanLo, parentHi, parentLo, start, end);
    this.#head(this.#w, kind, name, suffix);
  }

  /**
   * Opens a span as open() does, with its name, kind and first attributes from a block() made once for every span
   * of that sort: the usual span's constant part costs one copy instead of a dozen fields' encoding.
   */
  openBlock(trace: TraceIds, spanHi: number, spanLo: number, parentHi: number, parentLo: number, start: number, end: number,
    block: Uint8Array): void {
    this.#ids(trace, spanHi, spanLo, parentHi, parentLo, start, end);
    this.#w.raw(block);
  }

  #ids(trace: TraceIds, spanHi: number, spanLo: number, parentHi: number, parentLo: number, start: number, end: number): void {
    const w = this.#w;
    this.#at = w.beginSpan(2);
    w.traceId(1, trace.t0, trace.t1, trace.t2, trace.t3);
    w.spanId(2, spanHi, spanLo);
    w.string(3, trace.traceState);
    w.spanId(4, parentHi, parentLo);
    w.nanos(7, start);
    w.nanos(8, Math.max(end, start));
  }

  #head(w: ProtoWriter, kind: number, name: string, suffix: string): void {
    if (suffix === '') w.string(5, name);
    else w.joined(5, name, suffix);
    w.uint(6, kind);
  }

  /**
   * A span's name (`name`, or `name` and `suffix` joined by a space), kind and the attributes `attributes` writes,
   * as bytes for openBlock(). Protobuf readers take a message's fields in any order, so these may follow the times.
   */
  static block(kind: number, name: string, suffix: string, attributes: (span: SpanEncoder) => void): Uint8Array {
    const scratch = new SpanEncoder(256);
    scratch.#head(scratch.#w, kind, name, suffix);
    attributes(scratch);
    return Uint8Array.from(scratch.#w.finish());
  }

  string(key: Uint8Array, value: string): void {
    this.#w.attrString(9, key, value);
  }

  int(key: Uint8Array, value: number): void {
    this.#w.attrInt(9, key, value);
  }

  bool(key: Uint8Array, value: boolean): void {
    this.#w.attrBool(9, key, value);
  }

  double(key: Uint8Array, value: number): void {
    this.#w.attrDouble(9, key, value);
  }

  /** Attributes of any type from an object (keys made on first sight): for the rare span with ad hoc attributes. */
  attributes(attributes: Attributes): void {
    for (const name in attributes) this.#w.attrAny(9, keyOf(name), attributes[name]);
  }

  /** An event with attributes of its own. */
  event(name: string, time: number, attributes: Attributes | null): void {
    const w = this.#w;
    w.begin(11);
    w.nanos(1, time);
    w.string(2, name);
    if (attributes) for (const key in attributes) w.attrAny(3, keyOf(key), attributes[key]);
    w.end();
  }

  /** The span's status; an unset one without a message is left out (it is the default). */
  status(code: number, message: string): void {
    if (code === 0 && message === '') return;
    const w = this.#w;
    w.begin(15);
    w.string(2, message);
    w.uint(3, code);
    w.end();
  }

  close(): void {
    this.#w.endSpan(this.#at);
    this.#at = -1;
    this.#count++;
  }

  /**
   * The encoded spans in a buffer of their own (to transfer to another thread), and how many they are; writing goes
   * on in `spare` when given (ProtoWriter.detach()).
   */
  take(spare: ArrayBuffer | null = null): { bytes: Uint8Array; count: number } {
    const bytes = this.#w.detach(spare);
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
