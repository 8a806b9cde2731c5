// A slow client: the gateway must stop reading the upstream while the client's socket is full (and resume when
// it drains), deliver every byte in order, and keep enforcing stream_idle_timeout_in_seconds afterwards.

import { readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, expectEnvelope, openaiProvider, sseData, startHarness, user, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      providers: {
        openai: openaiProvider(fakeUrl, {
          network_config: { default_request_timeout_in_seconds: 10, stream_idle_timeout_in_seconds: 1 },
        }),
      },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

/** 32 KB of content a chunk, a chunk a millisecond, until the client has stalled the upstream for STALL_MS. */
const PIECE = 'z'.repeat(32 * 1024);
const STALL_MS = 400;
const stallingStream = { endless: true, endlessPiece: PIECE, chunkIntervalMs: 1, stopAfterStallMs: STALL_MS };

/** Resolves once the fake has been unable to write for STALL_MS: the gateway stopped reading the upstream. */
const upstreamStalled = (requestId: string) => eventually(() => h.fake.requestsWithId(requestId)[0],
  (r) => r !== undefined && r.stalledSince !== null && performance.now() - r.stalledSince > STALL_MS, 10_000, 25);

/** Opens a streamed chat request with node:http, leaving the response paused (unread) until the test reads it. */
function openStream(url: string, model: string, requestId: string): Promise<{ response: IncomingMessage; destroy(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    }, (response) => {
      response.pause();
      resolve({ response, destroy: () => req.destroy() });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model, messages: user('a lot, please'), stream: true }));
  });
}

/** Reads the rest of the response; rejects if it does not end within `timeoutMs`. */
function readAll(response: IncomingMessage, timeoutMs: number): Promise<{ text: string; endedAt: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error(`the response did not end within ${timeoutMs} ms`)), timeoutMs);
    response.on('data', (part: Buffer) => parts.push(part));
    response.on('end', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(parts).toString('utf8'), endedAt: performance.now() });
    });
    response.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    response.resume();
  });
}

const contentOf = (events: string[]) => events
  .filter((e) => e !== '[DONE]')
  .map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
  .join('');

describe('a client that reads slowly', () => {
  it('throttles the upstream while the client is not reading, then delivers every byte in order', async () => {
    h.fake.script('gpt-4o-big', stallingStream);
    const requestId = 'slow-client-1';
    const { response } = await openStream(h.url, 'openai/gpt-4o-big', requestId);
    expect(response.statusCode).toBe(200);
    // The gateway stops reading the upstream (its worker pauses the body): the fake cannot write for a while.
    const upstream = await upstreamStalled(requestId);
    const { text } = await readAll(response, 15_000);
    const events = sseData(text);
    expect(events.at(-1)).toBe('[DONE]');
    // Megabytes went by while the client was not reading: all of them arrive, in order.
    expect(upstream.content.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(contentOf(events)).toBe(upstream.content);
    expect(upstream.longestStallMs).toBeGreaterThan(STALL_MS);
    await eventually(() => h.gateway.pools.get('openai')!.stats(), (s) => s.inFlight === 0 && s.slotsInUse === 0);
  });

  it('holds an endless upstream where the sockets on its way are full, not buffering it in the gateway', async () => {
    h.fake.script('gpt-4o-held', stallingStream);
    const { destroy } = await openStream(h.url, 'openai/gpt-4o-held', 'held-gateway');
    try {
      const upstream = await upstreamStalled('held-gateway');
      const written = upstream.bytesWritten;
      // Blocked, not throttled: the endless stream gets no further while nobody reads.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(upstream.bytesWritten).toBe(written);
      expect(upstream.stalledSince).not.toBeNull();
      // What got through before it blocked fits in the kernel's socket buffers on both connections (send and receive
      // each, at most their sysctl maxima) plus what the gateway holds, which is 4 MiB at most: 8-14 MiB in all on
      // this Linux, of which about 4 MiB is the kernel's when the fake is read straight.
      const maxOf = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
      const kernel = 2 * (maxOf('tcp_wmem') + maxOf('tcp_rmem'));
      expect(written).toBeLessThan(kernel + 4 * 1024 * 1024);
    } finally {
      destroy();
    }
  });

  it('still enforces stream_idle_timeout_in_seconds (1 s) on an upstream that goes idle after a slow-client pause', async () => {
    h.fake.script('gpt-4o-big-hang', { ...stallingStream, hang: true });
    const requestId = 'slow-client-idle-1';
    const { response, destroy } = await openStream(h.url, 'openai/gpt-4o-big-hang', requestId);
    try {
      const upstream = await upstreamStalled(requestId);
      // The client now reads everything; once the gateway reads the upstream again, the upstream sends nothing more
      // and never closes. The gateway must give up after one idle second; the request timeout (10 s) is far off.
      const { text, endedAt } = await readAll(response, 6_000);
      const events = sseData(text);
      expect(contentOf(events.slice(0, -1))).toBe(upstream.content);
      expectEnvelope(JSON.parse(events.at(-1)!), 'stream_idle_timeout');
      // About one idle second after the gateway resumed reading the upstream (the end of the fake's stall).
      expect(endedAt - upstream.longestStallEndedAt!).toBeLessThan(4_000);
      await upstream.closed;
      expect(upstream.clientAborted).toBe(true);
    } finally {
      destroy();
    }
  });
});
