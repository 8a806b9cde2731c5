import { describe, expect, it } from 'vitest';
import { RING_READ, RING_WRITE, RING_HEADER_BYTES, type RingShape } from '../../../src/contract/ring-layout.js';
import { createRingBuffer, RingReader, RingWriter, type RingReaderOptions } from '../../../src/contract/ring.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** A writer and a reader on one ring; the reader keeps each message's text and the view it was handed. */
function pair(shape: RingShape, options?: RingReaderOptions) {
  const buffer = createRingBuffer(shape);
  const received: string[] = [];
  const views: Uint8Array[] = [];
  const writer = new RingWriter(buffer, shape);
  const reader = new RingReader(buffer, shape, (message) => {
    views.push(message);
    received.push(text(message));
  }, options);
  return { buffer, writer, reader, received, views };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('slot ring', () => {
  it('delivers messages in order and releases their slots', () => {
    const { writer, reader, received } = pair({ slotCount: 8, slotSize: 64 });
    for (const message of ['a', 'bb', '', 'dddd']) writer.send(bytes(message));
    expect(writer.usedSlots).toBe(4);
    expect(reader.drain()).toBe(4);
    expect(received).toEqual(['a', 'bb', '', 'dddd']);
    expect(reader.usedSlots).toBe(0);
  });

  it('wraps around the end of the ring many times', () => {
    const { writer, reader, received } = pair({ slotCount: 4, slotSize: 32 });
    const sent: string[] = [];
    for (let i = 0; i < 50; i++) {
      const message = `message-${i}`;
      sent.push(message);
      writer.send(bytes(message));
      if (i % 3 === 2) reader.drain();
    }
    reader.drain();
    expect(received).toEqual(sent);
  });

  it('keeps working when the free-running int32 counters overflow', () => {
    const shape = { slotCount: 4, slotSize: 32 };
    const buffer = createRingBuffer(shape);
    const header = new Int32Array(buffer, 0, RING_HEADER_BYTES / 4);
    Atomics.store(header, RING_WRITE, 0x7ffffffe);
    Atomics.store(header, RING_READ, 0x7ffffffe);
    const received: string[] = [];
    const writer = new RingWriter(buffer, shape);
    const reader = new RingReader(buffer, shape, (message) => received.push(text(message)));
    for (let i = 0; i < 10; i++) {
      writer.send(bytes(`m${i}`));
      reader.drain();
    }
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(Atomics.load(header, RING_WRITE)).toBeLessThan(0);
    expect(writer.usedSlots).toBe(0);
  });

  it('holds what does not fit in a backlog and flushes it as the consumer frees slots', async () => {
    const { writer, reader, received } = pair({ slotCount: 4, slotSize: 32 });
    for (let i = 0; i < 10; i++) writer.send(bytes(`full-${i}`));
    expect(writer.usedSlots).toBe(4);
    expect(writer.backlogLength).toBe(6);
    reader.start();
    await until(() => received.length === 10, 'all ten messages');
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => `full-${i}`));
    expect(writer.backlogLength).toBe(0);
    reader.stop();
  });

  it('says it is congested while a backlog waits, and calls back once when the consumer has taken it all', async () => {
    const { writer, reader, received } = pair({ slotCount: 4, slotSize: 32 });
    let drained = 0;
    writer.whenDrained(() => drained++);
    expect(drained).toBe(1);
    for (let i = 0; i < 4; i++) writer.send(bytes(`fits-${i}`));
    expect(writer.congested).toBe(false);
    writer.send(bytes('waits'));
    expect(writer.congested).toBe(true);
    writer.whenDrained(() => drained++);
    writer.whenDrained(() => drained++);
    expect(drained).toBe(1);
    reader.start();
    await until(() => received.length === 5, 'all five messages');
    await until(() => drained === 3, 'both drained callbacks');
    expect(writer.congested).toBe(false);
    reader.stop();
  });

  it('waits for room with one waiter however many messages pile up behind a full ring', async () => {
    const { buffer, writer, reader, received } = pair({ slotCount: 4, slotSize: 32 });
    for (let i = 0; i < 50; i++) writer.send(bytes(`burst-${i}`));
    expect(writer.backlogLength).toBe(46);
    // Every waiter left pending is memory and a spurious flush later; a burst of requests must not leave one each.
    await new Promise((resolve) => setImmediate(resolve));
    expect(Atomics.notify(new Int32Array(buffer, 0, RING_HEADER_BYTES / 4), RING_READ)).toBe(1);
    reader.start();
    await until(() => received.length === 50, 'all fifty messages');
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => `burst-${i}`));
    reader.stop();
  });

  it('carries a message larger than the whole ring over the overflow path, intact', async () => {
    const shape = { slotCount: 4, slotSize: 64 };
    const buffer = createRingBuffer(shape);
    const received: Uint8Array[] = [];
    const writer = new RingWriter(buffer, shape);
    const reader = new RingReader(buffer, shape, (message) => received.push(message));
    const big = new Uint8Array(100_000).map((_, i) => (i * 31) % 251);
    writer.send(bytes('before'));
    writer.send(big);
    writer.send(bytes('after'));
    reader.start();
    await until(() => received.length === 3, 'three messages');
    expect(text(received[0])).toBe('before');
    expect(received[1].byteLength).toBe(big.byteLength);
    expect(Buffer.compare(Buffer.from(received[1]), Buffer.from(big))).toBe(0);
    expect(text(received[2])).toBe('after');
    expect(writer.usedSlots).toBe(0);
    reader.stop();
  });

  it('hands a transient handler its one-slot messages in one reused buffer, and overflow messages whole', () => {
    const { writer, reader, received, views } = pair({ slotCount: 8, slotSize: 32 }, { transient: true });
    const long = 'x'.repeat(100);
    for (const message of ['first', long, 'second', '']) writer.send(bytes(message));
    expect(reader.drain()).toBe(4);
    expect(received).toEqual(['first', long, 'second', '']);
    // No new ArrayBuffer per one-slot message: both are views of the same one, so the first now reads as the second.
    expect(views[0].buffer).toBe(views[2].buffer);
    expect(views[0].buffer).not.toBeInstanceOf(SharedArrayBuffer);
    expect(text(views[0])).toBe('secon');
    expect(views[1].buffer).not.toBe(views[0].buffer);
    expect(reader.usedSlots).toBe(0);
  });

  it('delivers what was published before a close, then reports the close once', async () => {
    const { writer, reader, received } = pair({ slotCount: 8, slotSize: 32 });
    let closes = 0;
    const closing = new RingReader(createRingBuffer({ slotCount: 2, slotSize: 16 }), { slotCount: 2, slotSize: 16 }, () => {},
      { onClosed: () => closes++ });
    writer.send(bytes('last words'));
    writer.close();
    reader.start();
    await until(() => received.length === 1, 'the message sent before close');
    expect(received).toEqual(['last words']);
    expect(reader.usedSlots).toBe(0);
    closing.start();
    closing.close();
    await until(() => closes === 1, 'onClosed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closes).toBe(1);
  });

  it('wakes for a close that lands between its last check and its wait (no notify reaches it)', async () => {
    const shape = { slotCount: 2, slotSize: 16 };
    const buffer = createRingBuffer(shape);
    // The close is stored before the reader parks and its notify is lost: the reader's own checks before the wait
    // are made to miss it, as they do when the other thread closes in that window.
    new RingWriter(buffer, shape).close();
    let checks = 0;
    let closes = 0;
    class LateSeeingReader extends RingReader {
      override get closed(): boolean {
        return ++checks > 2 && super.closed;
      }
    }
    new LateSeeingReader(buffer, shape, () => {}, { onClosed: () => closes++ }).start();
    await until(() => closes === 1, 'onClosed', 1_000);
  });

  it('never calls back a producer waiting for a closed ring to drain', async () => {
    const { writer } = pair({ slotCount: 2, slotSize: 16 });
    for (let i = 0; i < 3; i++) writer.send(bytes(`x${i}`));
    let drained = false;
    writer.whenDrained(() => (drained = true));
    writer.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    writer.whenDrained(() => (drained = true));
    expect(drained).toBe(false);
  });

  it('drops an abandoned backlog when the ring is closed instead of waiting forever', () => {
    const { writer } = pair({ slotCount: 2, slotSize: 16 });
    for (let i = 0; i < 5; i++) writer.send(bytes(`x${i}`));
    expect(writer.backlogLength).toBe(3);
    writer.close();
    writer.send(bytes('ignored'));
    expect(writer.usedSlots).toBe(2);
  });

  it('keeps going after a handler throws on one message', () => {
    const shape = { slotCount: 4, slotSize: 32 };
    const buffer = createRingBuffer(shape);
    const seen: string[] = [];
    const errors: unknown[] = [];
    const writer = new RingWriter(buffer, shape);
    const reader = new RingReader(buffer, shape, (message) => {
      if (text(message) === 'bad') throw new Error('boom');
      seen.push(text(message));
    }, { onHandlerError: (error) => errors.push(error) });
    for (const message of ['ok1', 'bad', 'ok2']) writer.send(bytes(message));
    reader.drain();
    expect(seen).toEqual(['ok1', 'ok2']);
    expect(errors).toHaveLength(1);
  });

  it('refuses shapes the masks cannot serve', () => {
    expect(() => createRingBuffer({ slotCount: 3, slotSize: 64 })).toThrow(/power of two/);
    expect(() => createRingBuffer({ slotCount: 4, slotSize: 12 })).toThrow(/multiple of 8/);
  });
});
