// Messages too large for a ring's slots cross through a MessagePort beside the rings, their buffer transferred:
// no copy into and out of shared memory slot by slot (the overflow path), no backlog holding the encoded message
// while the consumer frees room, and no reassembly on the other side. A stub takes the message's place in the ring,
// so the receiver takes it off the port (synchronously, `receiveMessageOnPort`) in the ring's order: a cancel
// written after a large job still comes after it.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import {
  decodeMessage, decodeOwnedMessage, encodeMessage, MSG_PORTED, takeEncoded, type FrontToWorker, type WorkerToFront,
} from './messages.js';
import type { RingWriter } from './ring.js';

/** `[MSG_PORTED, 0]` as msgpack: a fixarray of two positive fixints. */
const PORTED_STUB = new Uint8Array([0x92, MSG_PORTED, 0x00]);

/** One direction's sending end: the ring, and the port for what is `threshold` bytes or more. */
export class MessageSender {
  readonly #ring: RingWriter;
  readonly #port: MessagePort;
  readonly #threshold: number;

  constructor(ring: RingWriter, port: MessagePort, threshold: number) {
    this.#ring = ring;
    this.#port = port;
    this.#threshold = threshold;
  }

  /** The ring's consumer is behind (RingWriter.congested). */
  get congested(): boolean {
    return this.#ring.congested;
  }

  whenDrained(drained: () => void): void {
    this.#ring.whenDrained(drained);
  }

  send(message: FrontToWorker | WorkerToFront): void {
    const bytes = encodeMessage(message);
    if (bytes.byteLength < this.#threshold) {
      this.#ring.send(bytes);
      return;
    }
    if (this.#ring.closed) return;
    const owned = takeEncoded(bytes);
    // Posted before the stub is written: by the time the receiver reads the stub, the message waits on its port.
    this.#port.postMessage(owned, [owned.buffer as ArrayBuffer]);
    this.#ring.send(PORTED_STUB);
  }
}

/** A message read from the ring, or the one its stub stands for, taken off `port`. */
export function receiveMessage<T extends FrontToWorker | WorkerToFront>(bytes: Uint8Array, port: MessagePort): T {
  if (bytes.byteLength !== PORTED_STUB.byteLength || bytes[0] !== PORTED_STUB[0] || bytes[1] !== MSG_PORTED || bytes[2] !== 0) {
    return decodeMessage<T>(bytes);
  }
  const ported = receiveMessageOnPort(port);
  if (!ported) throw new Error('a message announced on the ring is missing from the port');
  return decodeOwnedMessage<T>(ported.message as Uint8Array);
}
