// The AWS event-stream framing (`application/vnd.amazon.eventstream`), for adapters that declare the stream
// format 'aws-eventstream'. Each message is a binary frame: total length and headers length (uint32 big-endian),
// a CRC32 of those, the headers, the payload, and a CRC32 of the whole. This file only finds frame boundaries in
// body chunks split anywhere; checking and parsing a frame is the AWS SDK's own codec (@smithy/eventstream-codec).
//
// A frame becomes one StreamEvent:
//   ':message-type' event      → { event: ':event-type',     data: the payload (JSON) }
//   ':message-type' exception  → { event: ':exception-type', data: the payload (JSON, `{"message": …}`) }
//   ':message-type' error      → { event: ':error-code',     data: `{"message": ':error-message'}` }

import { EventStreamCodec, type Message, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { StreamEvent } from '../providers/types.js';
import { registerDecoder, type StreamDecoder } from './decoders.js';

/** The prelude (two lengths and their CRC) and the message CRC. */
const FRAME_OVERHEAD = 16;
/** A sanity bound: a length beyond this means the bytes are not event-stream framing. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

// Decoding keeps no state between frames, so one codec serves every stream.
const codec = new EventStreamCodec(toUtf8, fromUtf8);

function headerText(headers: MessageHeaders, name: string): string | null {
  const header = headers[name];
  return header && header.type === 'string' ? header.value : null;
}

export function eventOf(message: Message): StreamEvent | null {
  const headers = message.headers;
  const type = headerText(headers, ':message-type') ?? 'event';
  if (type === 'error') {
    const code = headerText(headers, ':error-code') ?? 'UnknownError';
    return { event: code, data: JSON.stringify({ message: headerText(headers, ':error-message') ?? code }) };
  }
  const name = headerText(headers, type === 'exception' ? ':exception-type' : ':event-type');
  // A frame with no name (the SDK skips these too) carries nothing an adapter could act on.
  if (name === null) return null;
  return { event: name, data: toUtf8(message.body) };
}

export class AwsEventStreamDecoder implements StreamDecoder {
  #parts: Uint8Array[] = [];
  #size = 0;

  push(chunk: Uint8Array): StreamEvent[] {
    if (chunk.byteLength === 0) return [];
    this.#parts.push(chunk);
    this.#size += chunk.byteLength;
    const events: StreamEvent[] = [];
    for (;;) {
      const length = this.#frameLength();
      if (length === null || this.#size < length) break;
      const whole = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#size);
      let at = 0;
      // Take every complete frame in the joined bytes at once; the rest waits for the next chunk.
      for (let next = length; next !== 0 && at + next <= whole.byteLength;) {
        const event = eventOf(codec.decode(whole.subarray(at, at + next)));
        if (event) events.push(event);
        at += next;
        next = whole.byteLength - at >= 4 ? checkedLength(whole, at) : 0;
      }
      const rest = whole.subarray(at);
      this.#parts = rest.byteLength > 0 ? [rest] : [];
      this.#size = rest.byteLength;
    }
    return events;
  }

  get hasPartialEvent(): boolean {
    return this.#size > 0;
  }

  /** The length of the frame the buffered bytes start with, once its first four bytes are in. */
  #frameLength(): number | null {
    if (this.#size < 4) return null;
    const first = this.#parts[0];
    return checkedLength(first.byteLength >= 4 ? first : Buffer.concat(this.#parts, this.#size), 0);
  }
}

function checkedLength(bytes: Uint8Array, at: number): number {
  const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, false);
  if (length < FRAME_OVERHEAD || length > MAX_FRAME_BYTES) {
    throw new Error(`event-stream frame length ${length} is out of range: not an AWS event stream`);
  }
  return length;
}

registerDecoder('aws-eventstream', () => new AwsEventStreamDecoder());
