// A provider flooded far past its concurrency and buffer, through the real gateway: with drop_excess_requests the
// excess is refused at once (429 + Retry-After) while the admitted requests are still upstream, the admitted ones
// succeed, and the pool's gauges return to 0; without it, the requests that wait get their timeout instead.

import { afterEach, describe, expect, it } from 'vitest';
import { eventually, expectEnvelope, metricValue, openaiProvider, postChat, startHarness, user, type Harness } from './harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Answer {
  i: number;
  status: number;
  retryAfter: string | null;
  body: unknown;
  /** performance.now() when the answer arrived. */
  at: number;
}

function flood(harness: Harness, count: number, model: string): Promise<Answer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) =>
    postChat(harness.url, { model, messages: user(`q${i}`) }, { 'x-request-id': `flood-${i}` })
      .then(async (response) => ({ i, status: response.status, retryAfter: response.headers.get('retry-after'),
        body: await response.json() as unknown, at: performance.now() }))));
}

const poolGauges = async (harness: Harness) => {
  const exposition = await (await fetch(`${harness.url}/metrics`)).text();
  return {
    inFlight: metricValue(exposition, 'heimdall_pool_in_flight', { provider: 'openai' }),
    queued: metricValue(exposition, 'heimdall_pool_queue_depth', { provider: 'openai' }),
  };
};

describe('a flood with client.drop_excess_requests', () => {
  it('refuses the excess with 429 at once, while the admitted requests are still upstream; those succeed and the pool empties', async () => {
    const concurrency = 4;
    const bufferSize = 4;
    h = await startHarness({
      config: (fakeUrl) => ({
        client: { drop_excess_requests: true },
        providers: { openai: openaiProvider(fakeUrl, { concurrency_and_buffer_size: { concurrency, buffer_size: bufferSize, threads: 1 } }) },
      }),
    });
    const harness = h;
    const total = 100;
    const answers = await flood(harness, total, 'openai/gpt-4o-latency-2500');

    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length + refused.length).toBe(total);
    expect(ok).toHaveLength(concurrency + bufferSize);
    for (const a of refused) {
      expect(a.retryAfter).toBe('1');
      expectEnvelope(a.body, 'queue_full');
    }
    // At once, not after a wait: every refusal arrived before the first admitted request came back from upstream.
    const firstSuccess = Math.min(...ok.map((a) => a.at));
    expect(Math.max(...refused.map((a) => a.at))).toBeLessThan(firstSuccess);
    for (const a of ok) {
      expect((a.body as { choices: { message: { content: string } }[] }).choices[0].message.content).toContain(`q${a.i}`);
    }
    // The upstream saw only the admitted ones, never more than `concurrency` at a time.
    expect(harness.fake.requests).toHaveLength(concurrency + bufferSize);
    const stats = await eventually(() => harness.gateway.pools.get('openai')!.stats(),
      (s) => s.inFlight === 0 && s.queued === 0 && s.slotsInUse === 0);
    expect(stats).toEqual({ threads: 1, inFlight: 0, queued: 0, slotsInUse: 0 });
    expect(await poolGauges(harness)).toEqual({ inFlight: 0, queued: 0 });
  });
});

describe('a flood without client.drop_excess_requests', () => {
  it('lets the requests wait, and those that cannot be answered within their total get 504 upstream_timeout', async () => {
    h = await startHarness({
      config: (fakeUrl) => ({
        client: { drop_excess_requests: false },
        providers: {
          openai: openaiProvider(fakeUrl, {
            network_config: { default_request_timeout_in_seconds: 2 },
            concurrency_and_buffer_size: { concurrency: 1, buffer_size: 1, threads: 1 },
          }),
        },
      }),
    });
    const harness = h;
    // The first takes 1.5 s; the second then starts with 0.5 s of its total left (queue time counts) and runs out
    // upstream; the others run out in the queue and never reach the upstream.
    const answers = await flood(harness, 4, 'openai/gpt-4o-latency-1500');
    const messageOf = (a: Answer) => (a.body as { error: { message: string } }).error.message;
    const ok = answers.filter((a) => a.status === 200);
    const timedOut = answers.filter((a) => a.status === 504);
    expect(ok).toHaveLength(1);
    expect(timedOut).toHaveLength(3);
    for (const a of timedOut) expectEnvelope(a.body, 'upstream_timeout');
    const upstreamTimedOut = timedOut.filter((a) => messageOf(a).includes('no answer within default_request_timeout_in_seconds'));
    expect(upstreamTimedOut).toHaveLength(1);
    expect(timedOut.filter((a) => messageOf(a).includes('waited in the queue'))).toHaveLength(2);
    expect(harness.fake.requests).toHaveLength(2);
    const second = harness.fake.requestsWithId(`flood-${upstreamTimedOut[0].i}`)[0];
    await second.closed;
    expect(second.clientAborted).toBe(true);
    await eventually(() => harness.gateway.pools.get('openai')!.stats(), (s) => s.inFlight === 0 && s.queued === 0 && s.slotsInUse === 0);
    expect(await poolGauges(harness)).toEqual({ inFlight: 0, queued: 0 });
  });
});
