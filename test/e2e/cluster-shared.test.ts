// The whole cluster as a user runs it (`--processes 2`): a provider's `concurrency` holds for the gateway, not for
// each process, and any process's /metrics counts every process's requests. The parts are tested on their own
// elsewhere (the ledger, the snapshot merge, the supervisor's IPC); this checks they are wired together.
import { afterEach, describe, expect, it } from 'vitest';
import { peakOpen, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { openaiProvider } from '../integration/harness.js';
import { chat, startCluster, stopAndCheckNoOrphans, type Cluster } from './cluster-harness.js';

let cluster: Cluster | undefined;
let fake: FakeOpenAI | undefined;

afterEach(async () => {
  if (cluster?.gateway.child.exitCode === null) cluster.gateway.child.kill('SIGKILL');
  cluster = undefined;
  await fake?.close();
  fake = undefined;
});

const body = (i: number) => JSON.stringify({ model: 'openai/gpt-4o-latency-300', messages: [{ role: 'user', content: `q${i}` }] });

describe('a cluster of two processes', () => {
  it('holds concurrency 4 for the whole gateway and sums every process in /metrics', async () => {
    fake = await startFakeOpenAI();
    cluster = await startCluster({
      providers: { openai: openaiProvider(fake.url, { concurrency_and_buffer_size: { concurrency: 4, buffer_size: 100, threads: 1 } }) },
    }, ['--processes', '2']);

    // A new connection per request, so the kernel spreads them over both processes.
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) =>
      chat(cluster!.port, false, '/v1/chat/completions', body(i))));
    expect(answers.map((answer) => answer.status)).toEqual(Array(24).fill(200));
    expect(fake.requests).toHaveLength(24);
    const peak = peakOpen(fake.requests);
    // Per process, 4 each would let 8 through at once.
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThanOrEqual(3);

    // Whichever process answers the scrape, it counts all 24 (each process alone saw about half).
    for (let scrape = 0; scrape < 4; scrape++) {
      const metrics = await chat(cluster.port, false, '/metrics', '', 'GET');
      expect(metrics.status).toBe(200);
      const answered = /^heimdall_http_requests_total\{route="\/v1\/chat\/completions",method="POST",status="200",provider="openai",model="gpt-4o-latency-300"\} (\d+)$/m
        .exec(metrics.body);
      expect(Number(answered?.[1])).toBe(24);
      expect(metrics.body).toMatch(/^heimdall_processes 2$/m);
      expect(metrics.body).toMatch(/^heimdall_pool_concurrency_limit\{provider="openai"\} 4$/m);
    }
    await stopAndCheckNoOrphans(cluster);
  }, 60_000);
});
