// Graceful shutdown through the real gateway: `close(graceMs)` lets requests in flight finish within the grace
// period, answers /health with 503 meanwhile, and fails what is still running at the deadline (or waiting in
// the queue) with 503 provider_shutting_down rather than leaving it hanging.

import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, expectEnvelope, openaiProvider, postChat, sseData, startHarness, user, type Harness } from './harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const start = (concurrency = 100) => startHarness({
  config: (fakeUrl) => ({
    providers: { openai: openaiProvider(fakeUrl, { concurrency_and_buffer_size: { concurrency, buffer_size: 100 } }) },
  }),
});

/** GET over a given keep-alive agent, so that a connection opened before the shutdown can be reused after it. */
function get(url: string, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (part: string) => (body += part));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

describe('gateway.close(graceMs)', () => {
  it('lets a stream in progress finish within the grace period, answering /health with 503 meanwhile', async () => {
    h = await start();
    const harness = h;
    harness.fake.script('gpt-4o-slow-stream', { chunks: Array.from({ length: 8 }, (_, i) => `part${i} `), chunkIntervalMs: 100 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await get(`${harness.url}/health`, agent)).status).toBe(200);
      const response = await postChat(harness.url, { model: 'openai/gpt-4o-slow-stream', messages: user('finish me'), stream: true });
      const reader = response.body!.getReader();
      let text = new TextDecoder().decode((await reader.read()).value);

      const closed = harness.gateway.close(5_000);
      const health = await get(`${harness.url}/health`, agent);
      expect(health.status).toBe(503);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'shutting_down' });

      for (let next = await reader.read(); !next.done; next = await reader.read()) text += new TextDecoder().decode(next.value);
      const events = sseData(text);
      expect(events.at(-1)).toBe('[DONE]');
      const content = events.slice(0, -1)
        .map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');
      expect(content).toBe(Array.from({ length: 8 }, (_, i) => `part${i} `).join(''));
      const started = performance.now();
      await closed;
      // Nothing was left to wait for: close did not sit out the grace period.
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      agent.destroy();
    }
  });

  it('fails a request still in flight at the deadline with 503 provider_shutting_down and aborts its upstream call', async () => {
    h = await start();
    const harness = h;
    const pending = postChat(harness.url, { model: 'openai/gpt-4o-latency-5000', messages: user('too slow') });
    const upstream = await harness.fake.waitForRequests(1);
    const closing = harness.gateway.close(300);
    const response = await pending;
    expect(response.status).toBe(503);
    expectEnvelope(await response.json(), 'provider_shutting_down');
    await closing;
    await upstream.closed;
    expect(upstream.clientAborted).toBe(true);
  });

  it('ends a stream still running at the deadline with a provider_shutting_down error event', async () => {
    h = await start();
    const harness = h;
    const response = await postChat(harness.url, { model: 'openai/gpt-4o-endless-50', messages: user('forever'), stream: true });
    const reader = response.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    const closing = harness.gateway.close(300);
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += new TextDecoder().decode(next.value);
    const events = sseData(text);
    expectEnvelope(JSON.parse(events.at(-1)!), 'provider_shutting_down');
    await closing;
  });

  it('answers requests still waiting in the queue with 503 provider_shutting_down and Retry-After', async () => {
    h = await start(1);
    const harness = h;
    const first = postChat(harness.url, { model: 'openai/gpt-4o-latency-400', messages: user('in flight') });
    await harness.fake.waitForRequests(1);
    const queued = postChat(harness.url, { model: 'openai/gpt-4o', messages: user('queued') });
    // Let the second request reach the queue before the shutdown starts.
    await eventually(() => harness.gateway.pools.get('openai')!.stats().queued, (queued) => queued === 1);
    const closing = harness.gateway.close(5_000);
    const refused = await queued;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expectEnvelope(await refused.json(), 'provider_shutting_down');
    // The request in flight still finishes within the grace period.
    expect((await first).status).toBe(200);
    await closing;
    expect(harness.fake.requests).toHaveLength(1);
  });
});
