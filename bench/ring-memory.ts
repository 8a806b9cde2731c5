/**
 * What a worker thread's two rings hold in RSS once traffic has gone round them, for the default shape and a small
 * one (`concurrency_and_buffer_size.resource_limits.ring_slots`, `ring_slot_size_kb`): `--rings` rings of each
 * shape get `--messages` messages of `--message-bytes` each (a chat job or chunk, under the 128 KiB from which
 * messages skip the ring), and the growth of this process's RSS is divided by the rings.
 *
 *   node dist/bench/ring-memory.js [--rings 200] [--messages 512] [--message-bytes 1500] [--small-slots 16] [--small-slot-kb 2]
 */
import { readFileSync } from 'node:fs';
import { num, parseFlags } from './args.js';
import { DEFAULT_RING_SHAPE, ringByteLength, type RingShape } from '../src/contract/ring-layout.js';
import { createRingBuffer, RingReader, RingWriter } from '../src/contract/ring.js';
import { alignedColumns } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const rings = num(flags, 'rings', 200);
const messages = num(flags, 'messages', 512);
const messageBytes = num(flags, 'message-bytes', 1500);
const small: RingShape = { slotCount: num(flags, 'small-slots', 16), slotSize: num(flags, 'small-slot-kb', 2) * 1024 };

const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);

/** KiB of RSS one ring holds after `messages` went through it. */
function perRing(shape: RingShape): number {
  const before = rssKiB();
  const kept: SharedArrayBuffer[] = [];
  const message = new Uint8Array(messageBytes).fill(7);
  for (let r = 0; r < rings; r++) {
    const buffer = createRingBuffer(shape);
    kept.push(buffer);
    const writer = new RingWriter(buffer, shape);
    const reader = new RingReader(buffer, shape, () => undefined, { transient: true });
    for (let m = 0; m < messages; m++) {
      writer.send(message);
      if (writer.usedSlots > shape.slotCount / 2) reader.drain();
    }
    reader.drain();
  }
  const grown = rssKiB() - before;
  if (kept.length !== rings) throw new Error('rings lost');
  return grown / rings;
}

const rows = [DEFAULT_RING_SHAPE, small].map((shape, i) => {
  const kib = perRing(shape);
  return [i === 0 ? 'default' : 'small', `${shape.slotCount} × ${shape.slotSize / 1024} KiB`,
    (ringByteLength(shape) / 1024).toFixed(0), kib.toFixed(0), (2 * kib).toFixed(0)];
});
console.log(`${rings} rings of each shape, ${messages} messages of ${messageBytes} bytes through each`);
for (const line of alignedColumns(['shape', 'slots', 'ring KiB', 'RSS KiB a ring', 'a thread (2 rings)'], rows)) console.log(line);
