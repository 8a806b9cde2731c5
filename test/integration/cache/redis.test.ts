// The shared store in the machine's Redis (127.0.0.1:6379): two gateway instances answer from one cache, streams
// included; and a store that is down, or stalls mid-way, never fails a request nor holds it past the store's
// timeout (pass-through), under load. Each run has its own key prefix.
import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../../dist/src/gateway.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { serviceAvailable } from '../../services.js';
import { openaiProvider, postChat } from '../harness.js';

const available = await serviceAvailable('Redis', '127.0.0.1', 6379);
const PREFIX = `heimdall:test:cache:${randomUUID()}:`;

/** A TCP proxy to Redis that can stall: while stalled it forwards nothing back, as a Redis that stopped answering. */
class StallingProxy {
  stalled = false;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  constructor() {
    this.#server = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      client.on('data', (data) => upstream.write(data));
      upstream.on('data', (data) => {
        if (!this.stalled) client.write(data);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }
  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as { port: number }).port)));
  }
  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

async function start(fake: FakeOpenAI, redisUrl: string, extra: Record<string, unknown> = {},
  prefix = PREFIX): Promise<{ gateway: Gateway; url: string }> {
  const config = await loadConfig({
    raw: {
      providers: { openai: openaiProvider(fake.url) },
      plugins: [{ name: 'semantic_cache', config: { store: { type: 'redis', redis_url: redisUrl, key_prefix: prefix, timeout_ms: 50 },
        ...extra } }],
    },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
  return { gateway, url: `http://127.0.0.1:${gateway.port}` };
}

const cached = { 'x-bf-cache-key': 'shared' };
const body = (prompt: string, extra: object = {}) => ({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }], ...extra });

describe.runIf(available)('the cache in Redis', () => {
  let fake: FakeOpenAI;
  let a: { gateway: Gateway; url: string };
  let b: { gateway: Gateway; url: string };
  let proxy: StallingProxy;
  let stalling: { gateway: Gateway; url: string };
  let down: { gateway: Gateway; url: string };

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    proxy = new StallingProxy();
    const proxyPort = await proxy.listen();
    [a, b, stalling, down] = await Promise.all([start(fake, 'redis://127.0.0.1:6379'), start(fake, 'redis://127.0.0.1:6379'),
      start(fake, `redis://127.0.0.1:${proxyPort}`), start(fake, 'redis://127.0.0.1:1')]);
  });

  afterAll(async () => {
    await Promise.all([a, b, stalling, down].map((g) => g?.gateway.close(200)));
    await proxy?.close();
    await fake?.close();
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    const keys = await client.keys(`${PREFIX}*`);
    if (keys.length > 0) await client.del(keys);
    await client.close();
  });

  it('one instance fills, the other answers from the same entry', async () => {
    const request = body(`shared ${randomUUID()}`);
    const first = await postChat(a.url, request, cached);
    const text = await first.text();
    expect(first.headers.get('x-heimdall-cache')).toBe('miss');
    const before = fake.requests.length;
    // The write is fire-and-forget: give it a moment to land.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await postChat(b.url, request, cached);
    expect(second.headers.get('x-heimdall-cache')).toBe('hit');
    expect(await second.text()).toBe(text);
    expect(fake.requests.length).toBe(before);
  });

  it('a stream stored by one instance replays from the other', async () => {
    const request = body(`stream ${randomUUID()}`, { stream: true });
    const text = await (await postChat(a.url, request, cached)).text();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const replay = await postChat(b.url, request, cached);
    expect(replay.headers.get('x-heimdall-cache')).toBe('hit');
    expect(await replay.text()).toBe(text);
  });

  it('with Redis down, every request is answered by the provider at once', async () => {
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => postChat(down.url, body(`down ${i} ${randomUUID()}`), cached)));
    const elapsed = performance.now() - started;
    expect(answers.map((r) => r.status).every((s) => s === 200)).toBe(true);
    expect(answers.every((r) => r.headers.get('x-heimdall-cache') === 'miss')).toBe(true);
    await Promise.all(answers.map((r) => r.text()));
    expect(elapsed).toBeLessThan(5_000);
    const metrics = await (await fetch(`${down.url}/metrics`)).text();
    expect(Number(/^heimdall_cache_store_errors_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(100);
  });

  it('with Redis stalling, each lookup gives up after timeout_ms and the request goes on', async () => {
    const request = body(`stall ${randomUUID()}`);
    await (await postChat(stalling.url, request, cached)).text();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const warm = await postChat(stalling.url, request, cached);
    await warm.text();
    expect(warm.headers.get('x-heimdall-cache')).toBe('hit');
    proxy.stalled = true;
    try {
      const timed = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
        const sent = performance.now();
        const answer = await postChat(stalling.url, body(`stalled ${i}`), cached);
        await answer.text();
        return { status: answer.status, cache: answer.headers.get('x-heimdall-cache'), ms: performance.now() - sent };
      }));
      expect(timed.every((t) => t.status === 200 && t.cache === 'miss')).toBe(true);
      // The provider answers at once; what the store adds is bounded by its 50 ms timeout (plus a busy machine's slack).
      const slowest = Math.max(...timed.map((t) => t.ms));
      expect(slowest).toBeLessThan(3_000);
      // Each of them did ask Redis, and gave up on it.
      const metrics = await (await fetch(`${stalling.url}/metrics`)).text();
      expect(Number(/^heimdall_cache_store_errors_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(100);
    } finally {
      proxy.stalled = false;
    }
  });

  it('cleanup_on_shutdown deletes the entries under its prefix when the gateway closes', async () => {
    const prefix = `${PREFIX}cleanup:`;
    const own = await start(fake, 'redis://127.0.0.1:6379', { cleanup_on_shutdown: true }, prefix);
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    try {
      await (await postChat(own.url, body(`cleanup ${randomUUID()}`), cached)).text();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await client.keys(`${prefix}*`)).length).toBe(1);
      await own.gateway.close(200);
      expect(await client.keys(`${prefix}*`)).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
