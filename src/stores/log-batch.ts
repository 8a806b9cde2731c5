// How request-log records travel from the front thread to the log writer: each is encoded (msgpack, its fields as a
// positional array) into the batch's buffer as it is pushed, and a whole batch crosses as that one buffer, transferred
// rather than copied, then handed back for the next batch. A batch of record objects would keep every request's
// content alive on the front's heap until the batch leaves (up to `flushIntervalMs`): long enough to survive young
// collections and be promoted, so each record's strings were copied by the scavenger and then marked by the major GC,
// and posting the batch cloned them once more. Encoded at push, the strings die young; the batch is off the heap.
import { Packr } from 'msgpackr';
import type { RequestLogRecord } from './log-record.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
/** The batch's bytes belong to the writer once transferred: strings are decoded from them, nothing keeps views. */
const unpackr = new Packr({ useRecords: false, moreTypes: false });

/** A batch closes at this size whatever its record count: large contents must not make one huge transfer. */
export const BATCH_BYTES_CAP = 4 * 1024 * 1024;
const FIRST_BUFFER_BYTES = 256 * 1024;
/** Buffers kept for reuse; a new one costs the page faults of its first fill. */
const SPARE_BUFFERS = 2;

type Row = [
  string, number, string, string, string, string | null, string | null, string | null, string | null, string | null,
  number, string | null, number, number, number, number | null, number | null, number | null, number | null,
  number | null, number | null, number | null, number | null, string | null, boolean, boolean, string | null, string | null,
];

// Written out field by field, in one order for both directions: the encoder's loads stay monomorphic, and the
// round-trip test (log-batch.test.ts) catches a field added to the record but not here.
const rowOf = (r: RequestLogRecord): Row => [
  r.id, r.timestamp, r.route, r.method, r.dialect, r.provider, r.modelRequested, r.model, r.keyName, r.virtualKeyId,
  r.status, r.errorCode, r.attempts, r.fallbacks, r.latencyMs, r.ttftMs, r.upstreamMs, r.overheadMs, r.tokensIn,
  r.tokensOut, r.tokensCached, r.tokensReasoning, r.costUsd, r.cache, r.stream, r.cancelled, r.request, r.response,
];

const recordOf = (w: Row): RequestLogRecord => ({
  id: w[0], timestamp: w[1], route: w[2], method: w[3], dialect: w[4], provider: w[5], modelRequested: w[6], model: w[7],
  keyName: w[8], virtualKeyId: w[9], status: w[10], errorCode: w[11], attempts: w[12], fallbacks: w[13], latencyMs: w[14],
  ttftMs: w[15], upstreamMs: w[16], overheadMs: w[17], tokensIn: w[18], tokensOut: w[19], tokensCached: w[20],
  tokensReasoning: w[21], costUsd: w[22], cache: w[23], stream: w[24], cancelled: w[25], request: w[26], response: w[27],
});

/** A batch as it crosses to the writer: `bytes` views the start of a buffer that is transferred with it. */
export interface EncodedBatch {
  bytes: Uint8Array;
  count: number;
}

/** The front thread's side: records encoded as they come, taken as one batch. */
export class RecordBatchEncoder {
  #buffer: Uint8Array | null = null;
  #used = 0;
  #count = 0;
  readonly #spares: ArrayBuffer[] = [];

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#used;
  }

  push(record: RequestLogRecord): void {
    const encoded = packr.pack(rowOf(record));
    const needed = this.#used + encoded.length;
    let buffer = this.#buffer ?? this.#fresh(needed);
    if (needed > buffer.length) {
      const larger = this.#fresh(Math.max(needed, buffer.length * 2));
      larger.set(buffer.subarray(0, this.#used));
      buffer = larger;
    }
    buffer.set(encoded, this.#used);
    this.#buffer = buffer;
    this.#used = needed;
    this.#count++;
  }

  /** The batch so far (its buffer goes with it: transfer `bytes.buffer`), or null when empty. */
  take(): EncodedBatch | null {
    if (this.#count === 0 || !this.#buffer) return null;
    const batch = { bytes: this.#buffer.subarray(0, this.#used), count: this.#count };
    this.#buffer = null;
    this.#used = 0;
    this.#count = 0;
    return batch;
  }

  /** A buffer the writer is done with, kept for a later batch. */
  recycle(buffer: ArrayBuffer): void {
    if (this.#spares.length < SPARE_BUFFERS && buffer.byteLength <= 2 * BATCH_BYTES_CAP) this.#spares.push(buffer);
  }

  #fresh(atLeast: number): Uint8Array {
    const index = this.#spares.findIndex((spare) => spare.byteLength >= atLeast);
    if (index >= 0) return new Uint8Array(this.#spares.splice(index, 1)[0]);
    return new Uint8Array(new ArrayBuffer(Math.max(FIRST_BUFFER_BYTES, atLeast)));
  }
}

/** The writer's side: the records of a batch, in the order they were pushed. */
export function decodeRecordBatch(bytes: Uint8Array): RequestLogRecord[] {
  return (unpackr.unpackMultiple(bytes) as Row[]).map(recordOf);
}
