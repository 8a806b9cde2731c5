// The in-process (mock) provider under backpressure: while the front holds a stream (the client reads slower than
// the answer comes), the adapter's next wait lasts until it resumes, as a TCP window holds a real upstream.

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MSG_CHUNKS, MSG_RESULT, MSG_STREAM_END, type JobData, type WorkerToFront } from '../../../src/contract/messages.js';
import type { ProviderInit } from '../../../src/contract/worker-init.js';
import { runInProcessJob } from '../../../workers/in-process.js';
import { Job } from '../../../workers/job.js';
import { mock } from '../../../workers/providers/mock.js';

const provider: ProviderInit = {
  name: 'mock', adapter: 'mock', keys: [], baseUrl: null, extraHeaders: {}, requestTimeoutMs: 30_000, firstTokenTimeoutMs: null,
  streamIdleTimeoutMs: 60_000, maxConnsPerHost: 1, transport: { proxy: null, insecureSkipVerify: false, caCertPem: null },
  mock: { latencyMs: 0, chunkCount: 20, chunkIntervalMs: 2, promptTokens: null, completionTokens: null },
};

const data: JobData = { kind: 'chat', requestId: 'held', model: 'echo', keyIndex: -1, stream: true, includeUsage: false, modelLabel: 0,
  body: { messages: [{ role: 'user', content: Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ') }] } };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an in-process stream the client holds', () => {
  it('stops producing chunks while paused and finishes once resumed', async () => {
    const sent: WorkerToFront[] = [];
    const job = new Job(1, data, { totalMs: 30_000, firstTokenMs: null, idleMs: 60_000 },
      { send: (message) => sent.push(message), settled: () => undefined, dueEarlier: () => undefined, congested: () => false, whenDrained: (drained) => drained() });
    const chunkMessages = () => sent.filter((message) => message[0] === MSG_CHUNKS).length;
    const running = runInProcessJob(job, mock, provider);
    while (chunkMessages() === 0) await sleep(1);
    job.pause();
    const atPause = chunkMessages();
    // Twenty chunks 2 ms apart would all be out by now were the stream not held.
    await sleep(150);
    expect(chunkMessages()).toBeLessThanOrEqual(atPause + 1);
    expect(sent.some((message) => message[0] === MSG_STREAM_END)).toBe(false);
    job.resume();
    await running;
    expect(sent.at(-1)![0]).toBe(MSG_STREAM_END);
    // Every word arrived, in order, and the final chunk after them.
    const text = sent.filter((message) => message[0] === MSG_CHUNKS).flatMap((message) => message[2] as string[])
      .map((chunk) => (JSON.parse(chunk) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(`Echo: ${(data.body.messages as { content: string }[])[0].content}`);
  });

  it('ends a paused stream at once when it is aborted', async () => {
    const sent: WorkerToFront[] = [];
    const job = new Job(2, data, { totalMs: 30_000, firstTokenMs: null, idleMs: 60_000 },
      { send: (message) => sent.push(message), settled: () => undefined, dueEarlier: () => undefined, congested: () => false, whenDrained: (drained) => drained() });
    const running = runInProcessJob(job, mock, provider);
    while (!sent.some((message) => message[0] === MSG_CHUNKS)) await sleep(1);
    job.pause();
    job.abort('cancelled');
    await running;
    expect(job.finished).toBe(true);
  });
});

describe('an in-process stream while the front is behind', () => {
  it('waits for the front at each step, and leaves no abort listener behind a hold', async () => {
    const sent: WorkerToFront[] = [];
    let holds = 0;
    const job = new Job(3, data, { totalMs: 30_000, firstTokenMs: null, idleMs: 60_000 },
      { send: (message) => sent.push(message), settled: () => undefined, dueEarlier: () => undefined, congested: () => true,
        whenDrained: (drained) => {
          holds++;
          setImmediate(drained);
        } });
    const listeners: number[] = [];
    const steps = 30;
    const counting = { ...mock, run: async (_job: JobData, _provider: ProviderInit, io: Parameters<typeof mock.run>[2]) => {
      for (let i = 0; i < steps; i++) {
        await io.sleep(0);
        listeners.push(getEventListeners(io.signal, 'abort').length);
      }
      io.result('done', null);
    } };
    await runInProcessJob(job, counting, provider);
    expect(holds).toBe(steps);
    expect(sent.at(-1)?.[0]).toBe(MSG_RESULT);
    // One hold's listener would otherwise stay until the job ends: 30 of them, and Node's leak warning past 10.
    expect(Math.max(...listeners)).toBe(0);
  });
});
