// Two real gateway processes in front of one slow upstream, their limits leased from a ledger in this process (as
// the supervisor's would be): `concurrency` and `buffer_size` hold for the pair, not for each.
import { fork, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createLedger, ipcTransport, type Ledger } from '../../dist/src/supervisor/ledger.js';
import { peakOpen, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventually, openaiProvider, postChat, user } from './harness.js';

const GATEWAY = new URL('../fakes/leased-gateway.ts', import.meta.url).pathname;
const children: ChildProcess[] = [];
let fake: FakeOpenAI | undefined;

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await fake?.close();
  fake = undefined;
});

/** Forks `count` gateways on `config`, attached to `ledger`; resolves with their base URLs once all serve. */
async function startGateways(ledger: Ledger, count: number, config: Record<string, unknown>): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => new Promise<string>((resolve, reject) => {
    const child = fork(GATEWAY, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    ledger.attach(`gateway-${i}`, ipcTransport(child));
    child.on('exit', (code) => {
      ledger.detach(`gateway-${i}`);
      reject(new Error(`gateway ${i} exited with ${code}`));
    });
    child.on('message', (message: { heimdall?: string; type?: string; port?: number }) => {
      if (message.heimdall === 'test' && message.type === 'ready') resolve(`http://127.0.0.1:${message.port}`);
    });
  })));
}

describe('provider limits across gateway processes', () => {
  it('never lets the upstream see more than concurrency 10 from two gateways given 40 requests at once', async () => {
    fake = await startFakeOpenAI();
    const ledger = createLedger();
    const urls = await startGateways(ledger, 2, {
      providers: { openai: openaiProvider(fake.url, { concurrency_and_buffer_size: { concurrency: 10, buffer_size: 100, threads: 1 } }) },
    });
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      postChat(urls[i % 2], { model: 'openai/gpt-4o-latency-300', messages: user(`q${i}`) }).then((response) => response.status)));
    expect(statuses).toEqual(Array(40).fill(200));
    expect(fake.requests).toHaveLength(40);
    const peak = peakOpen(fake.requests);
    expect(peak).toBeLessThanOrEqual(10);
    // 40 requests in 300 ms waves: the limit was reached, not merely respected by a trickle.
    expect(peak).toBeGreaterThanOrEqual(8);
  }, 40_000);

  it('bounds the queue gateway-wide with drop_excess_requests: with 2 in flight and 2 waiting, all others get 429', async () => {
    fake = await startFakeOpenAI();
    const ledger = createLedger();
    const urls = await startGateways(ledger, 2, {
      client: { drop_excess_requests: true },
      providers: { openai: openaiProvider(fake.url, { concurrency_and_buffer_size: { concurrency: 2, buffer_size: 2, threads: 1 } }) },
    });
    const counter = (name: string) => ledger.snapshot().find((entry) => entry.name === name)!;
    const send = (i: number) => postChat(urls[i % 2], { model: 'openai/gpt-4o-latency-3000', messages: user(`q${i}`) })
      .then(async (response) => ({ status: response.status, body: await response.json() as { error?: { code?: string } } }));
    // One at a time, so that each lands in a known state: two go upstream, then two wait, one in each process.
    const first: ReturnType<typeof send>[] = [];
    first.push(send(0));
    await eventually(() => fake!.requests.length, (n) => n === 1);
    first.push(send(1));
    await eventually(() => fake!.requests.length, (n) => n === 2);
    first.push(send(2));
    await eventually(() => counter('openai.buffer').leased, (n) => n === 1);
    first.push(send(3));
    await eventually(() => counter('openai.buffer').leased, (n) => n === 2);

    // Per process, each would still have a place here (2 + 2 each); gateway-wide the queue is full.
    const rest = await Promise.all(Array.from({ length: 8 }, (_, i) => send(4 + i)));
    for (const result of rest) {
      expect(result.status).toBe(429);
      expect(result.body.error?.code).toBe('queue_full');
    }
    expect((await Promise.all(first)).map((result) => result.status)).toEqual([200, 200, 200, 200]);
    expect(fake.requests).toHaveLength(4);
    expect(peakOpen(fake.requests)).toBeLessThanOrEqual(2);
    // Once quiet, no queue place is held.
    await eventually(() => counter('openai.buffer').leased, (n) => n === 0);
  }, 40_000);
});
