// A gateway in cluster mode with its ledger in this process (over an in-memory pipe that copies and delays like
// IPC): a request that leaves the queue gives its gateway-wide place back, and its slot comes back when done.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import { createLedger, type Ledger } from '../../dist/src/supervisor/ledger.js';
import { pipePair } from '../fakes/lease-pipe.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventually, openaiProvider, postChat, user } from './harness.js';

let gateway: Gateway | undefined;
let fake: FakeOpenAI | undefined;

afterEach(async () => {
  await gateway?.close(0);
  await fake?.close();
  gateway = undefined;
  fake = undefined;
});

async function startLeased(ledger: Ledger): Promise<string> {
  fake = await startFakeOpenAI();
  const { child, parent } = pipePair();
  ledger.attach('gateway', parent);
  const config = await loadConfig({
    raw: { client: { drop_excess_requests: true }, providers: { openai: openaiProvider(fake.url,
      { concurrency_and_buffer_size: { concurrency: 1, buffer_size: 1, threads: 1 } }) } },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  gateway = await startGateway(config, { logger: pino({ level: 'silent' }), leases: child });
  return `http://127.0.0.1:${gateway.port}`;
}

const leased = (ledger: Ledger, name: string) => ledger.snapshot().find((counter) => counter.name === name)?.leased;

describe('a pool on leases', () => {
  it('gives the queue place back when the waiting client leaves, and its slot when the request is done', async () => {
    const ledger = createLedger();
    const url = await startLeased(ledger);
    const first = postChat(url, { model: 'openai/gpt-4o-latency-1000', messages: user('first') });
    await eventually(() => fake!.requests.length, (n) => n === 1);
    expect(leased(ledger, 'openai.concurrency')).toBe(1);
    const controller = new AbortController();
    const leaving = fetch(`${url}/v1/chat/completions`, { method: 'POST', signal: controller.signal,
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o', messages: user('leaving') }) });
    await eventually(() => leased(ledger, 'openai.buffer'), (n) => n === 1);
    // The queue is full gateway-wide: a third is refused.
    expect((await postChat(url, { model: 'openai/gpt-4o', messages: user('third') })).status).toBe(429);
    controller.abort();
    await expect(leaving).rejects.toThrow();
    await eventually(() => leased(ledger, 'openai.buffer'), (n) => n === 0);
    // The place is free again: the next one waits instead of being refused, and is answered.
    const fourth = postChat(url, { model: 'openai/gpt-4o', messages: user('fourth') });
    expect((await first).status).toBe(200);
    expect((await fourth).status).toBe(200);
    expect(fake!.requests.map((request) => (request.body as { messages: { content: string }[] }).messages[0].content))
      .toEqual(['first', 'fourth']);
    await eventually(() => gateway!.pools.get('openai')!.stats(), (stats) => stats.inFlight === 0 && stats.queued === 0);
    // Idle, the process keeps at most its one slot (keepIdle) and no place.
    expect(leased(ledger, 'openai.concurrency')).toBeLessThanOrEqual(1);
    expect(leased(ledger, 'openai.buffer')).toBe(0);
  });
});
