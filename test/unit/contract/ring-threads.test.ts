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
