// A front thread that falls behind its provider worker: the worker must stop reading the upstream while its
// messages wait for room in the ring (and resume once the front catches up), rather than read the whole answer
// into its own memory. The upstream runs on a thread of its own, so it keeps writing while the front is held.

import { request } from 'node:http';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, openaiProvider, startHarness, type Harness } from './harness.js';

/** 16 KiB of text a chunk, 4,096 chunks: 64 MiB, far more than the ring and both sockets' buffers hold. */
const PIECE_BYTES = 16 * 1024;
const CHUNKS = 4096;
/** Ring (512 KiB) + a read or two + the loopback sockets' buffers (a few MiB each way) stay well under this. */
const HELD_BOUND = 24 * 1024 * 1024;

// The upstream: an OpenAI-shaped stream written as fast as the socket takes it, its bytes counted in shared memory.
const UPSTREAM = `
const { createServer } = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const written = new Int32Array(workerData.written);
const piece = 'x'.repeat(${PIECE_BYTES});
const event = (i) => 'data: ' + JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o',
  choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }) + '\\n\\n';
const server = createServer((req, res) => {
  req.resume();
  req.on('end', async () => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < ${CHUNKS}; i++) {
      const text = event(i);
      const room = res.write(text);
      Atomics.add(written, 0, Math.ceil(text.length / 1024));
      if (!room) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end('data: [DONE]\\n\\n');
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => server.close(() => process.exit(0)));
`;

const writtenKiB = new Int32Array(new SharedArrayBuffer(4));
let upstream: Worker;
let h: Harness;

beforeAll(async () => {
  upstream = new Worker(UPSTREAM, { eval: true, workerData: { written: writtenKiB.buffer } });
  const port = await new Promise<number>((resolve) => upstream.once('message', resolve));
  h = await startHarness({ config: () => ({ providers: { openai: openaiProvider(`http://127.0.0.1:${port}`) } }) });
});

afterAll(async () => {
  await h?.close();
  upstream?.postMessage('stop');
  await upstream?.terminate();
});

/** Blocks this thread, the gateway's front, for `ms`: the worker and the upstream's thread run on. */
const holdFront = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe('a front thread behind its worker', () => {
  it('stops reading the upstream while the ring is full, then delivers the whole answer in order', async () => {
    const received = await new Promise<{ firstAt: number; heldAt: number; bytes: number; content: number; ended: boolean }>(
      (resolve, reject) => {
        const req = request(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } },
          (response) => {
            let firstAt = -1;
            let heldAt = -1;
            let bytes = 0;
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (part: string) => {
              bytes += part.length;
              text += part;
              if (firstAt < 0) {
                firstAt = Atomics.load(writtenKiB, 0);
                // The front stops for a second and a half, as under a burst it cannot keep up with.
                holdFront(1500);
                heldAt = Atomics.load(writtenKiB, 0);
              }
            });
            response.on('end', () => {
              const content = text.split('\n\n').filter((block) => block.startsWith('data: {'))
                .reduce((sum, block) => sum + (JSON.parse(block.slice(6)) as { choices: { delta: { content: string } }[] })
                  .choices[0].delta.content.length, 0);
              resolve({ firstAt, heldAt, bytes, content, ended: text.endsWith('data: [DONE]\n\n') });
            });
            response.on('error', reject);
          });
        req.on('error', reject);
        req.end(JSON.stringify({ model: 'openai/gpt-4o', stream: true, messages: [{ role: 'user', content: 'all of it' }] }));
      });
    // While the front was held, the upstream got at most what the ring and the sockets hold, not the 64 MiB answer.
    expect(received.heldAt * 1024).toBeLessThan(HELD_BOUND);
    expect(received.heldAt).toBeGreaterThan(0);
    // Once the front caught up, the worker read on: every chunk arrived, then the end.
    expect(received.content).toBe(PIECE_BYTES * CHUNKS);
    expect(received.ended).toBe(true);
    // Operators see it: the holds are counted for the provider.
    const exposition = await (await fetch(`${h.url}/metrics`)).text();
    expect(metricValue(exposition, 'heimdall_stream_holds_total', { provider: 'openai' })).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
