import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRingBuffer, RingReader, RingWriter } from '../../../src/contract/ring.js';

describe('slot ring between two threads', () => {
  it('echoes 20,000 messages of mixed sizes, overflowing ones included, in order and intact', async () => {
    const shape = { slotCount: 16, slotSize: 256 };
    const toWorker = createRingBuffer(shape);
    const toMain = createRingBuffer(shape);
    const worker = new Worker(new URL('./fixtures/echo-worker.mjs', import.meta.url), { workerData: { toWorker, toMain, shape } });
    const count = 20_000;
    const sent: Uint8Array[] = [];
    let mismatches = 0;
    let received = 0;
    const done = new Promise<void>((resolve) => {
      const reader = new RingReader(toMain, shape, (message) => {
        const expected = sent[received++];
        if (Buffer.compare(Buffer.from(message), Buffer.from(expected)) !== 0) mismatches++;
        if (received === count) {
          reader.stop();
          resolve();
        }
      });
      reader.start();
    });
    const writer = new RingWriter(toWorker, shape);
    for (let i = 0; i < count; i++) {
      // Mostly small, every 97th one spans many slots.
      const size = i % 97 === 0 ? 5_000 + (i % 13) * 100 : i % 200;
      const message = new Uint8Array(size).map((_, j) => (i + j) % 256);
      sent.push(message);
      writer.send(message);
      if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await done;
    expect(received).toBe(count);
    expect(mismatches).toBe(0);
    writer.close();
    await worker.terminate();
  });
});

describe('slot ring wake-ups under a closed loop', () => {
  // A notify meant for an earlier state could clear the sleeping flag just before the consumer parked, leaving it
  // asleep with the flag down: every later publish skipped the wake and the ring stalled with its slots full.
  it('never loses a wake-up: 20,000 round trips with 64 in flight and answers sent from timers', async () => {
    const shape = { slotCount: 64, slotSize: 256 };
    const toWorker = createRingBuffer(shape);
    const toMain = createRingBuffer(shape);
    const worker = new Worker(new URL('./fixtures/async-echo-worker.mjs', import.meta.url), { workerData: { toWorker, toMain, shape } });
    const writer = new RingWriter(toWorker, shape);
    const total = 20_000;
    let sent = 0;
    let answered = 0;
    const finished = new Promise<void>((resolve, reject) => {
      let lastSeen = -1;
      const watchdog = setInterval(() => {
        if (answered === lastSeen) {
          clearInterval(watchdog);
          reject(new Error(`stalled after ${answered} answers with ${writer.usedSlots} slots unread`));
        }
        lastSeen = answered;
      }, 2_000);
      const reader = new RingReader(toMain, shape, () => {
        answered++;
        if (sent < total) {
          sent++;
          setImmediate(() => writer.send(new Uint8Array(64)));
        }
        if (answered === total) {
          clearInterval(watchdog);
          reader.stop();
          resolve();
        }
      });
      reader.start();
    });
    for (; sent < 64; sent++) writer.send(new Uint8Array(64));
    await finished;
    expect(answered).toBe(total);
    writer.close();
    await worker.terminate();
  }, 60_000);
});
