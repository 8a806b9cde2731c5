// How request-log records cross from the front thread to the log worker: written one after the other into a buffer
// of the batch's own, whose memory is then transferred with the batch (not copied). A structured clone of the records
// as objects cost more than their insert did: it spells out all 28 keys of every record on the front, and the worker
// reads them back one by one into objects of a fresh shape; and a record kept as an object until its batch leaves
// lives long enough to be copied by the young generation's collections, its content with it. Written at `add`, a
// record is bytes outside the heap from then on (bench/README.md, "Request log CPU cut").
//
// A record: a flags byte (stream, cancelled, and which nullable numbers are present), the numbers as float64, then
// each text field as a uint32 byte length (NULL_TEXT for null) and its UTF-8 bytes. The layout is private to this
// file: both ends are the same build.
import type { RequestLogRecord } from './log-record.js';

const NULL_TEXT = 0xffff_ffff;
const STREAM = 1;
const CANCELLED = 2;
// The nullable numbers (ttftMs, upstreamMs, overheadMs, tokensIn, tokensOut, tokensCached, tokensReasoning, costUsd)
// each have a presence bit in the flags, from bit 2 up, in that order.
/** Flags (2 bytes), then float64s: five numbers always there and the eight nullable ones at most. */
const FIXED_BYTES = 2 + 8 * 13;
const TEXT_FIELDS = 13;
/** Shorter texts are written by a loop here; a longer one by Buffer's native UTF-8 writer. */
const SHORT_TEXT = 48;

/** What a batch starts with; it grows by doubling, and the next batch starts from the size the last one took. */
const INITIAL_BYTES = 64 * 1024;

/**
 * Buffer's native UTF-8 methods, without the argument checks of `write` and `toString` around them (a call per text
 * field of every record). Node has had them on every Buffer since its first versions; msgpackr calls them too.
 */
interface NativeUtf8 {
  utf8Write(text: string, offset: number): number;
  utf8Slice(start: number, end: number): string;
}

// Not zeroed: every byte of a batch that is sent was written first.
const bytesOf = (size: number): Buffer & NativeUtf8 => Buffer.allocUnsafeSlow(size) as Buffer & NativeUtf8;

/** Records written as they come, until `take` hands their bytes over. */
export class LogBatchEncoder {
  #bytes = bytesOf(INITIAL_BYTES);
  #view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);
  #length = 0;
  #count = 0;

  /** Records written and not yet taken. */
  get count(): number {
    return this.#count;
  }

  /** Throws on a record with a field of the wrong type (none of it is kept then). */
  add(r: RequestLogRecord): void {
    const start = this.#length;
    try {
      this.#write(r);
    } catch (error) {
      this.#length = start;
      throw error;
    }
    this.#count++;
  }

  #write(r: RequestLogRecord): void {
    // Field by field, here and in decodeLogBatch: a loop over the names would read each through a lookup by a key
    // known only at run time. Room for the worst case (3 bytes per UTF-16 unit) first, so nothing below checks again.
    const long = (r.request?.length ?? 0) + (r.response?.length ?? 0) + (r.id?.length ?? 0) + (r.route?.length ?? 0)
      + (r.method?.length ?? 0) + (r.dialect?.length ?? 0) + (r.provider?.length ?? 0) + (r.modelRequested?.length ?? 0) + (r.model?.length ?? 0)
      + (r.keyName?.length ?? 0) + (r.virtualKeyId?.length ?? 0) + (r.errorCode?.length ?? 0) + (r.cache?.length ?? 0);
    this.#reserve(FIXED_BYTES + 4 * TEXT_FIELDS + 3 * long);
    // `== null` here and below: a field left undefined (a caller outside TypeScript) is stored as null.
    const flags = (r.stream ? STREAM : 0) | (r.cancelled ? CANCELLED : 0) | (r.ttftMs == null ? 0 : 4)
      | (r.upstreamMs == null ? 0 : 8) | (r.overheadMs == null ? 0 : 16) | (r.tokensIn == null ? 0 : 32)
      | (r.tokensOut == null ? 0 : 64) | (r.tokensCached == null ? 0 : 128) | (r.tokensReasoning == null ? 0 : 256)
      | (r.costUsd == null ? 0 : 512);
    this.#view.setUint16(this.#length, flags, true);
    this.#length += 2;
    this.#number(r.timestamp);
    this.#number(r.status);
    this.#number(r.attempts);
    this.#number(r.fallbacks);
    this.#number(r.latencyMs);
    this.#number(r.ttftMs);
    this.#number(r.upstreamMs);
    this.#number(r.overheadMs);
    this.#number(r.tokensIn);
    this.#number(r.tokensOut);
    this.#number(r.tokensCached);
    this.#number(r.tokensReasoning);
    this.#number(r.costUsd);
    this.#text(r.id);
    this.#text(r.route);
    this.#text(r.method);
    this.#text(r.dialect);
    this.#text(r.provider);
    this.#text(r.modelRequested);
    this.#text(r.model);
    this.#text(r.keyName);
    this.#text(r.virtualKeyId);
    this.#text(r.errorCode);
    this.#text(r.cache);
    this.#text(r.request);
    this.#text(r.response);
  }

  /** The written records, in a buffer of their own (transfer it), and their count; the encoder starts a new batch. */
  take(): { bytes: Uint8Array; count: number } {
    const taken = { bytes: this.#bytes.subarray(0, this.#length), count: this.#count };
    // Room for a batch a little larger than this one: growing copies what is written.
    this.#bytes = bytesOf(Math.max(INITIAL_BYTES, Math.ceil(this.#length * 1.5)));
    this.#view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);
    this.#length = 0;
    this.#count = 0;
    return taken;
  }

  #reserve(more: number): void {
    const end = this.#length + more;
    if (end <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < end) size *= 2;
    const grown = bytesOf(size);
    this.#bytes.copy(grown, 0, 0, this.#length);
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  /** A null is not written: the flags say which are there. */
  #number(value: number | null): void {
    if (value == null) return;
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  #text(text: string | null): void {
    const view = this.#view;
    const at = this.#length;
    if (text == null) {
      view.setUint32(at, NULL_TEXT, true);
      this.#length = at + 4;
      return;
    }
    const bytes = this.#bytes;
    const start = at + 4;
    let end = start;
    if (text.length < SHORT_TEXT) {
      // Most of a record's texts are short ASCII (ids, names, routes): a native call each would cost more than this.
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) {
          end = -1;
          break;
        }
        bytes[end++] = c;
      }
    } else {
      end = -1;
    }
    if (end < 0) end = start + bytes.utf8Write(text, start);
    view.setUint32(at, end - start, true);
    this.#length = end;
  }
}

/** The records of a batch `LogBatchEncoder.take` made, in the order they were added. */
export function decodeLogBatch(bytes: Uint8Array): RequestLogRecord[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Buffer & NativeUtf8;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: RequestLogRecord[] = [];
  let at = 0;
  const number = () => {
    const value = view.getFloat64(at, true);
    at += 8;
    return value;
  };
  const text = (): string | null => {
    const length = view.getUint32(at, true);
    at += 4;
    if (length === NULL_TEXT) return null;
    at += length;
    return buffer.utf8Slice(at - length, at);
  };
  while (at < bytes.byteLength) {
    const flags = view.getUint16(at, true);
    at += 2;
    const timestamp = number();
    const status = number();
    const attempts = number();
    const fallbacks = number();
    const latencyMs = number();
    const ttftMs = (flags & 4) === 0 ? null : number();
    const upstreamMs = (flags & 8) === 0 ? null : number();
    const overheadMs = (flags & 16) === 0 ? null : number();
    const tokensIn = (flags & 32) === 0 ? null : number();
    const tokensOut = (flags & 64) === 0 ? null : number();
    const tokensCached = (flags & 128) === 0 ? null : number();
    const tokensReasoning = (flags & 256) === 0 ? null : number();
    const costUsd = (flags & 512) === 0 ? null : number();
    // Texts in the order they were written: an object literal's values are evaluated in order.
    records.push({
      id: text() as string, timestamp, route: text() as string, method: text() as string, dialect: text() as string,
      provider: text(), modelRequested: text(), model: text(), keyName: text(), virtualKeyId: text(), status,
      errorCode: text(), attempts, fallbacks, latencyMs, ttftMs, upstreamMs, overheadMs, tokensIn, tokensOut, tokensCached,
      tokensReasoning, costUsd, cache: text(), stream: (flags & STREAM) !== 0, cancelled: (flags & CANCELLED) !== 0,
      request: text(), response: text(),
    });
  }
  return records;
}
