// A provider's pool costs no thread until it is used (docs/memory.md): it starts on its first request, retires after
// `idle_timeout_seconds` without requests, and a request that arrives while it retires is served by fresh threads.
// Listing models, /health, /ready and /metrics leave cold pools cold; `warm: true` starts a pool at boot for good.

import { afterEach, describe, expect, it } from 'vitest';
import type { JobData } from '../../dist/src/contract/messages.js';
import { FAKE_OPENAI_MODELS } from '../fakes/openai-server.js';
import { eventually, metricValue, openaiProvider, startHarness, user, type Harness } from './harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const scrape = async (harness: Harness) => (await fetch(`${harness.url}/metrics`)).text();
const threadsOf = (harness: Harness, provider: string) => harness.gateway.pools.get(provider)!.stats().threads;

describe('a pool that starts on first use', () => {
  it('has no thread at boot, stays cold through listings and probes, and starts on its first request', async () => {
    h = await startHarness({
      config: (fakeUrl) => ({ providers: { openai: openaiProvider(fakeUrl, { concurrency_and_buffer_size: { threads: 2 } }), mock: {} } }),
    });
    const harness = h;
    const pool = harness.gateway.pools.get('openai')!;
    expect(pool.state).toBe('cold');
    expect(pool.stats()).toEqual({ threads: 0, inFlight: 0, queued: 0, slotsInUse: 0 });

    // Cold is ready: the pool starts on the request that needs it.
    const ready = await fetch(`${harness.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    expect((await fetch(`${harness.url}/health`)).status).toBe(200);
    const coldMetrics = await scrape(harness);
    expect(metricValue(coldMetrics, 'heimdall_pool_threads', { provider: 'openai' })).toBe(0);
    expect(metricValue(coldMetrics, 'heimdall_pool_starts', { provider: 'openai' })).toBe(0);
    expect(metricValue(coldMetrics, 'heimdall_pool_memory_bytes', { provider: 'openai', kind: 'heap_used' })).toBe(0);
    expect(metricValue(coldMetrics, 'heimdall_front_memory_bytes', { kind: 'heap_used' })).toBeGreaterThan(0);
    const listing = await fetch(`${harness.url}/v1/models`);
    expect(listing.status).toBe(200);
    expect(listing.headers.get('x-heimdall-models-not-listed')).toBe('openai');
    const ids = ((await listing.json()) as { data: { id: string }[] }).data.map((model) => model.id);
    expect(ids).toContain('mock/echo');
    expect(ids.filter((id) => id.startsWith('openai/'))).toEqual([]);
    expect(harness.fake.requests).toHaveLength(0);
    expect([threadsOf(harness, 'openai'), threadsOf(harness, 'mock')]).toEqual([0, 0]);

    const answer = await harness.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('first') });
    expect(answer.choices[0].message.content).toContain('first');
    // The first thread up may answer before the second is: the pool is warm once both serve.
    expect(['starting', 'warm']).toContain(pool.state);
    await pool.ready();
    expect(pool.state).toBe('warm');
    expect(threadsOf(harness, 'openai')).toBe(2);
    expect(threadsOf(harness, 'mock')).toBe(0);
    const warmMetrics = await scrape(harness);
    expect(metricValue(warmMetrics, 'heimdall_pool_starts', { provider: 'openai' })).toBe(1);
    expect(metricValue(warmMetrics, 'heimdall_pool_last_start_seconds', { provider: 'openai' })).toBeGreaterThan(0);
    // Each worker wrote its heap when it began serving.
    expect(metricValue(warmMetrics, 'heimdall_pool_memory_bytes', { provider: 'openai', kind: 'heap_used' })).toBeGreaterThan(1e6);

    // A warm pool is asked for its list as before.
    const warmListing = await fetch(`${harness.url}/v1/models`);
    expect(warmListing.headers.get('x-heimdall-models-not-listed')).toBeNull();
    const warmIds = ((await warmListing.json()) as { data: { id: string }[] }).data.map((model) => model.id);
    expect(warmIds).toEqual(expect.arrayContaining(FAKE_OPENAI_MODELS.map((id) => `openai/${id}`)));
  });

  it('starts the one provider a listing names (?provider=, models.retrieve)', async () => {
    h = await startHarness({ config: (fakeUrl) => ({ providers: { openai: openaiProvider(fakeUrl), mock: {} } }) });
    const harness = h;
    const retrieved = await harness.client.models.retrieve(`openai/${FAKE_OPENAI_MODELS[0]}`);
    expect(retrieved.id).toBe(`openai/${FAKE_OPENAI_MODELS[0]}`);
    expect(threadsOf(harness, 'openai')).toBe(1);
    expect(threadsOf(harness, 'mock')).toBe(0);
  });
});

describe('a pool that retires when idle', () => {
  it('lets its threads go after idle_timeout_seconds, stays ready, and starts again on the next request', async () => {
    h = await startHarness({
      config: (fakeUrl) => ({ providers: {
        openai: openaiProvider(fakeUrl, { concurrency_and_buffer_size: { idle_timeout_seconds: 0.2 } }),
        // Warm: started at boot, and kept however short its idle timeout.
        mock: { concurrency_and_buffer_size: { warm: true, idle_timeout_seconds: 0.2 }, mock_config: { latency_ms: 0 } },
      } }),
    });
    const harness = h;
    const pool = harness.gateway.pools.get('openai')!;
    expect(threadsOf(harness, 'mock')).toBe(1);
    await harness.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('one') });
    await harness.client.chat.completions.create({ model: 'mock/echo', messages: user('one') });
    expect(threadsOf(harness, 'openai')).toBe(1);
    await eventually(() => pool.state, (state) => state === 'cold', 5_000);
    await eventually(() => threadsOf(harness, 'openai'), (threads) => threads === 0, 5_000);
    expect((await fetch(`${harness.url}/ready`)).status).toBe(200);
    // Long past the mock's idle timeout too: warm pools keep their threads.
    expect(threadsOf(harness, 'mock')).toBe(1);

    const again = await harness.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('two') });
    expect(again.choices[0].message.content).toContain('two');
    expect(pool.starts.count).toBe(2);
    expect(harness.gateway.pools.get('mock')!.starts.count).toBe(1);
  });

  it('does not retire while a request is in flight, however long it takes', async () => {
    h = await startHarness({
      config: (fakeUrl) => ({ providers: { openai: openaiProvider(fakeUrl, { concurrency_and_buffer_size: { idle_timeout_seconds: 0.1 } }) } }),
    });
    const harness = h;
    const pool = harness.gateway.pools.get('openai')!;
    await harness.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('warm up') });
    // Idle timer armed; the next request outlives it several times over.
    const slow = await harness.client.chat.completions.create({ model: 'openai/gpt-4o-latency-600', messages: user('slow') });
    expect(slow.choices[0].message.content).toContain('slow');
    expect(pool.starts.count).toBe(1);
  });
});

describe('a request that arrives while its pool retires', () => {
  const job = (content: string): JobData => ({ kind: 'chat', requestId: `retiring-${content}`, model: 'gpt-4o', keyIndex: 0,
    stream: false, includeUsage: false, modelLabel: 0, body: { model: 'gpt-4o', messages: user(content) } });

  it('is served by fresh threads while the old ones close', async () => {
    h = await startHarness({ config: (fakeUrl) => ({ providers: { openai: openaiProvider(fakeUrl) } }) });
    const harness = h;
    const pool = harness.gateway.pools.get('openai')!;
    await harness.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('warm up') });
    const oldThread = pool.threads[0].threadId;

    const retiring = pool.retire();
    expect(pool.state).toBe('cold');
    // Submitted in the same tick: the old threads are still closing.
    const answer = new Promise<string>((resolve, reject) => {
      pool.submit(job('during retirement'), {
        onResult: (status, body) => resolve(`${status} ${typeof body === 'string' ? body : Buffer.from(body).toString('utf8')}`),
        onChunks: () => reject(new Error('unexpected chunks')),
        onEnd: () => reject(new Error('unexpected end')),
        onError: (error) => reject(new Error(error.message)),
      });
    });
    expect(await answer).toMatch(/^200 .*during retirement/);
    await retiring;
    expect(pool.state).toBe('warm');
    expect(pool.threads.map((thread) => thread.threadId)).not.toContain(oldThread);
    expect(pool.stats()).toEqual({ threads: 1, inFlight: 0, queued: 0, slotsInUse: 0 });

    // Through HTTP too, a few times over: each request lands during or just after a retirement, never on a closed ring.
    for (let i = 0; i < 5; i++) {
      const closing = pool.retire();
      const reply = await harness.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user(`round ${i}`) });
      expect(reply.choices[0].message.content).toContain(`round ${i}`);
      await closing;
    }
    expect(pool.starts.count).toBe(7);
  });
});
