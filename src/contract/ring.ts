// A single-producer, single-consumer ring of fixed-size message slots in a SharedArrayBuffer.
// Each thread pair gets two rings (jobs one way, results and stream chunks the other), so no slot is ever
// contended. Counters are free-running int32s; a slot is `counter & mask`. A message larger than a slot is
// split over consecutive slots flagged MORE (the overflow path); a backlog holds what does not fit yet and is
// flushed as the consumer frees room, so a payload larger than the whole ring still gets through.

import { availableParallelism } from 'node:os';
import {
  RING_CLOSED,
  RING_CONSUMER_SLEEPING,
  RING_PRODUCER_WAITING,
  RING_READ,
  RING_WRITE,
  RING_HEADER_BYTES,
  SLOT_FLAG_MORE,
  SLOT_FLAGS_OFFSET,
  SLOT_HEADER_BYTES,
  SLOT_LENGTH_OFFSET,
  type RingShape,
  assertRingShape,
  ringByteLength,
} from './ring-layout.js';

/**
 * With two or more cores to run on, the consumer is woken as soon as a message is waiting, so both threads work
 * side by side; waiting for the end of a long event-loop turn (a burst of requests parsed in one poll phase)
 * would make them take turns. Confined to one core (taskset, a one-CPU container), waking per turn is cheaper.
 * One notify per sleep either way: a consumer already awake is not notified again.
 */
const EAGER_WAKE = availableParallelism() > 1;

export function createRingBuffer(shape: RingShape): SharedArrayBuffer {
  assertRingShape(shape);
  return new SharedArrayBuffer(ringByteLength(shape));
}

class RingView {
  readonly buffer: SharedArrayBuffer;
  protected readonly header: Int32Array;
  protected readonly bytes: Uint8Array;
  protected readonly lengths: DataView;
  protected readonly mask: number;
  protected readonly slotSize: number;
  protected readonly payloadCapacity: number;
  readonly slotCount: number;

  constructor(buffer: SharedArrayBuffer, shape: RingShape) {
    assertRingShape(shape);
    if (buffer.byteLength !== ringByteLength(shape)) throw new RangeError('ring buffer does not match its shape');
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, RING_HEADER_BYTES / 4);
    this.bytes = new Uint8Array(buffer, RING_HEADER_BYTES);
    this.lengths = new DataView(buffer, RING_HEADER_BYTES);
    this.mask = shape.slotCount - 1;
    this.slotCount = shape.slotCount;
    this.slotSize = shape.slotSize;
    this.payloadCapacity = shape.slotSize - SLOT_HEADER_BYTES;
  }

  /** Slots published and not yet released by the consumer. */
  get usedSlots(): number {
    return (Atomics.load(this.header, RING_WRITE) - Atomics.load(this.header, RING_READ)) | 0;
  }

  get closed(): boolean {
    return Atomics.load(this.header, RING_CLOSED) === 1;
  }

  /**
   * Parks until `header[valueIndex]` moves off `expected`, then calls `resume`. The other side notifies only
   * when it finds `flagIndex` set, and clears it as it does. A notify meant for an earlier state can land
   * between our raising the flag and the wait being registered, clearing the flag for nothing; so the flag is
   * raised again once the waiter exists, and a change that slipped in meanwhile wakes the waiter ourselves.
   * A close moves neither counter and notifies only the waiters that exist as it does: one that slipped in
   * before this waiter was registered is caught here too, or the thread would sleep through its own shutdown.
   */
  protected park(valueIndex: number, expected: number, flagIndex: number, resume: () => void): void {
    const waited = Atomics.waitAsync(this.header, valueIndex, expected);
    if (!waited.async) {
      setImmediate(resume);
      return;
    }
    void waited.value.then(resume);
    Atomics.store(this.header, flagIndex, 1);
    if (this.closed) {
      Atomics.notify(this.header, valueIndex, 1);
      return;
    }
    if (Atomics.load(this.header, valueIndex) !== expected && Atomics.exchange(this.header, flagIndex, 0) === 1) {
      Atomics.notify(this.header, valueIndex, 1);
    }
  }

  /** Wakes whichever side is parked so it sees the close. */
  close(): void {
    Atomics.store(this.header, RING_CLOSED, 1);
    Atomics.notify(this.header, RING_WRITE);
    Atomics.notify(this.header, RING_READ);
  }
}

export class RingWriter extends RingView {
  #write: number;
  readonly #backlog: Uint8Array[] = [];
  /** Bytes of backlog[0] already written as fragments. */
  #backlogOffset = 0;
  #parked = false;
  /** Called once the backlog is flushed: producers that held back while it was not. */
  #drainWaiters: (() => void)[] = [];

  constructor(buffer: SharedArrayBuffer, shape: RingShape) {
    super(buffer, shape);
    this.#write = Atomics.load(this.header, RING_WRITE);
  }

  /** Messages waiting for room, not yet (fully) in the ring. */
  get backlogLength(): number {
    return this.#backlog.length;
  }

  /**
   * True while messages wait for room: the consumer is behind. A producer that can hold back (a stream read from a
   * socket) should, until `whenDrained`, or the backlog grows as fast as it produces and nothing bounds it.
   */
  get congested(): boolean {
    return this.#backlog.length > 0;
  }

  /** Calls `drained` once the backlog is flushed (at once when there is none); never once the ring is closed. */
  whenDrained(drained: () => void): void {
    if (this.closed) return;
    if (this.#backlog.length === 0) drained();
    else this.#drainWaiters.push(drained);
  }

  /** Queues the message; it is in the ring at once when there is room, else as soon as the consumer frees some. */
  send(message: Uint8Array): void {
    if (this.closed) return;
    if (this.#backlog.length === 0 && this.#slotsFor(message.byteLength) <= this.#freeSlots()) {
      this.#writeFragments(message, 0, message.byteLength);
      this.#publish();
      return;
    }
    this.#backlog.push(message);
    // Parked, the consumer's next release runs the flush; flushing now would park a second waiter, and a burst
    // would leave one per message, each a pending promise and a spurious flush when woken.
    if (!this.#parked) this.#flushBacklog();
  }

  #slotsFor(length: number): number {
    return length === 0 ? 1 : Math.ceil(length / this.payloadCapacity);
  }

  #freeSlots(): number {
    return this.slotCount - ((this.#write - Atomics.load(this.header, RING_READ)) | 0);
  }

  /** Writes message[from, to) into as many slots as it needs; the caller has checked there is room. */
  #writeFragments(message: Uint8Array, from: number, to: number): void {
    let offset = from;
    do {
      const length = Math.min(this.payloadCapacity, to - offset);
      const slotStart = (this.#write & this.mask) * this.slotSize;
      this.lengths.setUint32(slotStart + SLOT_LENGTH_OFFSET, length, true);
      this.bytes[slotStart + SLOT_FLAGS_OFFSET] = offset + length < message.byteLength ? SLOT_FLAG_MORE : 0;
      this.bytes.set(message.subarray(offset, offset + length), slotStart + SLOT_HEADER_BYTES);
      offset += length;
      this.#write = (this.#write + 1) | 0;
    } while (offset < to);
  }

  #publish(): void {
    Atomics.store(this.header, RING_WRITE, this.#write);
    if (EAGER_WAKE) {
      this.#wakeConsumer();
      return;
    }
    // On one core a wake-up is a futex syscall plus a context switch that preempts the producer: batch them.
    // Everything published in this turn of the event loop is announced by one notify, from its check phase.
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      setImmediate(this.#wakeConsumer);
    }
  }

  #wakeScheduled = false;

  #wakeConsumer = (): void => {
    this.#wakeScheduled = false;
    // One notify per sleep of the consumer: whoever flips SLEEPING back to 0 owns the wake-up.
    if (Atomics.load(this.header, RING_CONSUMER_SLEEPING) === 1 &&
        Atomics.exchange(this.header, RING_CONSUMER_SLEEPING, 0) === 1) {
      Atomics.notify(this.header, RING_WRITE, 1);
    }
  };

  #flushBacklog = (): void => {
    this.#parked = false;
    if (this.closed) {
      this.#backlog.length = 0;
      this.#drainWaiters = [];
      return;
    }
    let wrote = false;
    while (this.#backlog.length > 0) {
      const free = this.#freeSlots();
      if (free === 0) break;
      const message = this.#backlog[0];
      const remaining = message.byteLength - this.#backlogOffset;
      const fits = Math.min(remaining, free * this.payloadCapacity);
      if (remaining > 0 || this.#backlogOffset === 0) {
        this.#writeFragments(message, this.#backlogOffset, this.#backlogOffset + fits);
        wrote = true;
      }
      if (fits < remaining) {
        this.#backlogOffset += fits;
        break;
      }
      this.#backlog.shift();
      this.#backlogOffset = 0;
    }
    if (wrote) this.#publish();
    if (this.#backlog.length > 0) {
      this.#parkUntilRoom();
      return;
    }
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const drained of waiters) drained();
  };

  #parkUntilRoom(): void {
    if (this.#parked) return;
    this.#parked = true;
    const seenRead = Atomics.load(this.header, RING_READ);
    Atomics.store(this.header, RING_PRODUCER_WAITING, 1);
    if (((this.#write - seenRead) | 0) < this.slotCount || this.closed) {
      Atomics.store(this.header, RING_PRODUCER_WAITING, 0);
      setImmediate(this.#flushBacklog);
      return;
    }
    this.park(RING_READ, seenRead, RING_PRODUCER_WAITING, this.#flushBacklog);
  }

}

export type RingMessageHandler = (message: Uint8Array) => void;

export interface RingReaderOptions {
  /** A handler threw; the reader has already moved past that message. */
  onHandlerError?: (error: unknown) => void;
  /** The producer (or owner) closed the ring; called once, after the last messages were delivered. */
  onClosed?: () => void;
  /**
   * The handler is done with a message when it returns (it decodes it, and keeps no view of it): a message that
   * fits one slot is then copied into a buffer the reader reuses, rather than into a new ArrayBuffer each time,
   * whose allocation and later collection cost more than the copy.
   */
  transient?: boolean;
}

export class RingReader extends RingView {
  #read: number;
  readonly #fragments: Uint8Array[] = [];
  #running = false;
  readonly #onMessage: RingMessageHandler;
  readonly #options: RingReaderOptions;
  /** Where a transient reader copies a one-slot message; null when the handler may keep what it is given. */
  readonly #scratch: Uint8Array | null;

  constructor(buffer: SharedArrayBuffer, shape: RingShape, onMessage: RingMessageHandler,
    options: RingReaderOptions = {}) {
    super(buffer, shape);
    this.#read = Atomics.load(this.header, RING_READ);
    this.#onMessage = onMessage;
    this.#options = options;
    this.#scratch = options.transient ? new Uint8Array(this.payloadCapacity) : null;
  }

  /** Starts consuming: drains what is there, then parks on `Atomics.waitAsync` until the producer publishes. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#pump();
  }

  stop(): void {
    this.#running = false;
  }

  /**
   * Delivers every complete message published so far and releases their slots. Each payload is copied out of
   * shared memory first: decoding straight from a SharedArrayBuffer is an order of magnitude slower.
   */
  drain(): number {
    const write = Atomics.load(this.header, RING_WRITE);
    let delivered = 0;
    while (this.#read !== write) {
      const slotStart = (this.#read & this.mask) * this.slotSize;
      const length = this.lengths.getUint32(slotStart + SLOT_LENGTH_OFFSET, true);
      const more = (this.bytes[slotStart + SLOT_FLAGS_OFFSET] & SLOT_FLAG_MORE) !== 0;
      const payloadStart = slotStart + SLOT_HEADER_BYTES;
      const payload = this.bytes.subarray(payloadStart, payloadStart + length);
      this.#read = (this.#read + 1) | 0;
      if (more) {
        this.#fragments.push(payload.slice());
        continue;
      }
      const message = this.#fragments.length > 0 ? this.#joinFragments(payload) : this.#copyOut(payload);
      delivered++;
      try {
        this.#onMessage(message);
      } catch (error) {
        // One bad message must not stop the ring: report it and go on with the next.
        if (this.#options.onHandlerError) this.#options.onHandlerError(error);
        else queueMicrotask(() => { throw error; });
      }
    }
    this.#release();
    return delivered;
  }

  #release(): void {
    Atomics.store(this.header, RING_READ, this.#read);
    if (Atomics.load(this.header, RING_PRODUCER_WAITING) === 1 &&
        Atomics.exchange(this.header, RING_PRODUCER_WAITING, 0) === 1) {
      Atomics.notify(this.header, RING_READ, 1);
    }
  }

  #copyOut(payload: Uint8Array): Uint8Array {
    const scratch = this.#scratch;
    if (!scratch) return payload.slice();
    scratch.set(payload);
    return scratch.subarray(0, payload.byteLength);
  }

  #joinFragments(last: Uint8Array): Uint8Array {
    this.#fragments.push(last);
    let total = 0;
    for (const fragment of this.#fragments) total += fragment.byteLength;
    const joined = new Uint8Array(total);
    let offset = 0;
    for (const fragment of this.#fragments) {
      joined.set(fragment, offset);
      offset += fragment.byteLength;
    }
    this.#fragments.length = 0;
    return joined;
  }

  #pump = (): void => {
    if (!this.#running) return;
    if (this.closed) {
      this.drain();
      this.#running = false;
      this.#options.onClosed?.();
      return;
    }
    this.drain();
    Atomics.store(this.header, RING_CONSUMER_SLEEPING, 1);
    // Re-check after announcing sleep: a publish that raced the store above must not be missed.
    if (Atomics.load(this.header, RING_WRITE) !== this.#read || this.closed) {
      Atomics.store(this.header, RING_CONSUMER_SLEEPING, 0);
      setImmediate(this.#pump);
      return;
    }
    this.park(RING_WRITE, this.#read, RING_CONSUMER_SLEEPING, this.#pump);
  };
}
