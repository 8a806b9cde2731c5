import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageSender, receiveMessage } from '../../../src/contract/large-messages.js';
import { encodeMessage, MSG_CANCEL, MSG_JOB, MSG_RESULT, takeEncoded, type FrontToWorker, type JobData, type WorkerToFront }
  from '../../../src/contract/messages.js';
import { createRingBuffer, RingReader, RingWriter } from '../../../src/contract/ring.js';

const SHAPE = { slotCount: 16, slotSize: 1024 };
const THRESHOLD = 4096;
const ports: MessagePort[] = [];

afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

/** A sender and a receiver over one ring and one port, in this thread; the receiver keeps what it decoded. */
function link<T extends FrontToWorker | WorkerToFront>() {
  const buffer = createRingBuffer(SHAPE);
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  const writer = new RingWriter(buffer, SHAPE);
  const sender = new MessageSender(writer, port1, THRESHOLD);
  const received: T[] = [];
  const reader = new RingReader(buffer, SHAPE, (bytes) => received.push(receiveMessage<T>(bytes, port2)), { transient: true });
  return { writer, sender, reader, received };
}

const job = (id: number, content: string): FrontToWorker => [MSG_JOB, id, {
  kind: 'chat', requestId: `req-${id}`, model: 'gpt-4o', keyIndex: 0, stream: false, includeUsage: false, modelLabel: 0,
  body: { model: 'openai/gpt-4o', messages: [{ role: 'user', content }] },
} satisfies JobData, 1000];

describe('messages too large for the ring', () => {
  it('cross by the port with only a stub in the ring, and arrive in the ring\'s order', () => {
    const { writer, sender, reader, received } = link<FrontToWorker>();
    const large = `${'ü'.repeat(200_000)} 👋 end`;
    sender.send(job(1, 'small'));
    sender.send(job(2, large));
    sender.send([MSG_CANCEL, 2]);
    // One slot each: a 400 KB job would have needed about 400 slots of this ring, more than it has.
    expect(writer.usedSlots).toBe(3);
    expect(writer.backlogLength).toBe(0);
    reader.drain();
    expect(received).toEqual([job(1, 'small'), job(2, large), [MSG_CANCEL, 2]]);
  });

  it('hand a large answer\'s bytes over as views into the transferred buffer, not copies', () => {
    const { sender, reader, received } = link<WorkerToFront>();
    const audio = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
    sender.send([MSG_RESULT, 7, 200, audio, { upstreamMs: 1, usage: null, droppedParams: null, contentType: 'audio/mpeg' }]);
    reader.drain();
    const [result] = received;
    expect(result[0]).toBe(MSG_RESULT);
    const body = result[0] === MSG_RESULT ? result[3] as Uint8Array : new Uint8Array(0);
    expect(body).toEqual(audio);
    // The decoded bytes sit inside the message's own buffer, which came over whole.
    expect(body.buffer.byteLength).toBeGreaterThan(body.byteLength);
  });

  it('take a grown arena from msgpackr without a copy, and copy a message that shares the arena with others', () => {
    encodeMessage([MSG_CANCEL, 1]);
    const grown = encodeMessage(job(3, 'x'.repeat(100_000)));
    expect(grown.byteOffset).toBe(0);
    const taken = takeEncoded(grown);
    expect(taken.buffer).toBe(grown.buffer);
    // msgpackr has a fresh arena: the next message does not write into the one taken.
    const next = encodeMessage(job(4, 'next'));
    expect(next.buffer).not.toBe(taken.buffer);
    const shared = encodeMessage(job(5, 'shares the arena'));
    expect(shared.byteOffset).toBeGreaterThan(0);
    const copied = takeEncoded(shared);
    expect(copied.buffer).not.toBe(shared.buffer);
    expect(Buffer.compare(copied, shared)).toBe(0);
  });

  it('is refused clearly when a stub has no message on the port', () => {
    const { port1 } = new MessageChannel();
    ports.push(port1);
    expect(() => receiveMessage(Uint8Array.of(0x92, 15, 0), port1)).toThrow(/missing from the port/);
  });
});
