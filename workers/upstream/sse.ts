// One incremental Server-Sent Events reader for every provider that streams SSE. It takes raw body chunks
// (split anywhere, even inside a UTF-8 character or a CRLF) and yields complete events.

import type { StreamEvent } from '../providers/types.js';
import type { StreamDecoder } from './decoders.js';

export class SseDecoder implements StreamDecoder {
  #pending = '';
  /** The first bytes of a UTF-8 character the last chunk cut in two. */
  #carry: Buffer | null = null;

  /**
   * Feeds one body chunk; returns the events it completed. Decoded with Buffer's UTF-8 slice, several times cheaper
   * per chunk than a streaming TextDecoder; only a character cut at the chunk's end is held back for the next.
   */
  push(chunk: Uint8Array): StreamEvent[] {
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#carry) {
      bytes = Buffer.concat([this.#carry, bytes]);
      this.#carry = null;
    }
    const whole = completeUtf8Length(bytes);
    if (whole < bytes.length) this.#carry = Buffer.from(bytes.subarray(whole));
    this.#pending += bytes.toString('utf8', 0, whole);
    return this.#takeEvents();
  }

  /** True when bytes of an unfinished event are left over: at the end of a body this means truncation. */
  get hasPartialEvent(): boolean {
    return this.#carry !== null || this.#pending.trim().length > 0;
  }

  #takeEvents(): StreamEvent[] {
    if (this.#pending.includes('\r')) this.#pending = this.#pending.replace(/\r\n?/g, '\n');
    const events: StreamEvent[] = [];
    let start = 0;
    for (let end = this.#pending.indexOf('\n\n'); end !== -1; end = this.#pending.indexOf('\n\n', start)) {
      const event = parseBlock(this.#pending.slice(start, end));
      if (event) events.push(event);
      start = end + 2;
    }
    if (start > 0) this.#pending = this.#pending.slice(start);
    // A lone '\r' at the end may be the first half of a CRLF: leave it, the next chunk completes it.
    return events;
  }
}

/** How many of `bytes` end on a character boundary: a character cut at the end is left out, whole. */
function completeUtf8Length(bytes: Uint8Array): number {
  const length = bytes.length;
  for (let i = length - 1; i >= 0 && i >= length - 3; i--) {
    const byte = bytes[i];
    if ((byte & 0xc0) === 0x80) continue;
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length - i < needs ? i : length;
  }
  return length;
}

function parseBlock(block: string): StreamEvent | null {
  // Most blocks are one `data: ` line (every OpenAI-compatible chunk): no split, no array.
  if (block.startsWith('data: ') && !block.includes('\n', 6)) return { event: null, data: block.slice(6) };
  let event: string | null = null;
  let data: string | null = null;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data = data === null ? value : `${data}\n${value}`;
    else if (field === 'event') event = value;
  }
  return data === null ? null : { event, data };
}
