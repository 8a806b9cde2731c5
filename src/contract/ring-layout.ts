// Field offsets of a slot ring's SharedArrayBuffer, shared by the front thread and the workers.
// The producer's and the consumer's words sit 64 bytes apart so the two threads never write one cache line.

/** Int32 index: slots published by the producer (free-running, wraps as int32). */
export const RING_WRITE = 0;
/** Int32 index: 1 while the consumer is parked in `Atomics.waitAsync` on RING_WRITE. */
export const RING_CONSUMER_SLEEPING = 1;
/** Int32 index: slots released by the consumer (free-running, wraps as int32). */
export const RING_READ = 16;
/** Int32 index: 1 while the producer has a backlog and waits on RING_READ for room. */
export const RING_PRODUCER_WAITING = 17;
/** Int32 index: set to 1 by either side to tell the other the ring is closed. */
export const RING_CLOSED = 32;

export const RING_HEADER_BYTES = 192;

/** Per slot: uint32 payload length, uint8 flags, 3 bytes padding, then the payload. */
export const SLOT_LENGTH_OFFSET = 0;
export const SLOT_FLAGS_OFFSET = 4;
export const SLOT_HEADER_BYTES = 8;

/** The message continues in the next slot: the overflow path for payloads larger than one slot. */
export const SLOT_FLAG_MORE = 1;

export interface RingShape {
  /** A power of two, so that free-running counters map to slots with a mask. */
  readonly slotCount: number;
  /** Bytes per slot including its 8-byte header; a multiple of 8. */
  readonly slotSize: number;
}

/** 64 slots of 8 KiB per direction and worker: a typical chat job fits one slot, bigger ones overflow. */
export const DEFAULT_RING_SHAPE: RingShape = Object.freeze({ slotCount: 64, slotSize: 8192 });

/**
 * Encoded bytes from which a message crosses by transfer rather than the ring (src/contract/large-messages.ts): a
 * quarter of the default ring, so a message that could fill it and wait in a backlog for room never does.
 */
export const DEFAULT_PORTED_BYTES = 128 * 1024;

export function ringByteLength(shape: RingShape): number {
  return RING_HEADER_BYTES + shape.slotCount * shape.slotSize;
}

export function assertRingShape(shape: RingShape): void {
  const { slotCount, slotSize } = shape;
  if (!Number.isInteger(slotCount) || slotCount < 2 || (slotCount & (slotCount - 1)) !== 0) {
    throw new RangeError(`slotCount must be a power of two >= 2, got ${slotCount}`);
  }
  if (!Number.isInteger(slotSize) || slotSize < 16 || slotSize % 8 !== 0) {
    throw new RangeError(`slotSize must be a multiple of 8 >= 16, got ${slotSize}`);
  }
}
