// Upstream keep-alive connections that the server drops: a request written as the server closes (or resets) a
// connection it had already answered on is sent once more on another connection, unseen by the client and not
// counted as an attempt; a connection closed before its first answer, or a second drop, is the error it was.

import { afterEach, describe, expect, it } from 'vitest';
import { startDroppingServer, type DropRule, type DroppingServer } from '../fakes/dropping-server.js';
import { apiError, collect, eventually, openaiProvider, postChat, startGatewayWith, type Harness } from './harness.js';

let h: Harness<DroppingServer> | null = null;

afterEach(async () => {
  await h?.close();
  h = null;
});

/** One provider without retries, so that any resend seen is the worker's own. */
async function gatewayBefore(rule: DropRule): Promise<Harness<DroppingServer>> {
  h = await startGatewayWith(await startDroppingServer(rule), (url) => ({
    providers: { openai: { ...openaiProvider(url), circuit_breaker: { enabled: false } } },
  }));
  return h;
}

const chat = (harness: Harness<DroppingServer>) => postChat(harness.url, { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

const idle = (harness: Harness<DroppingServer>) => eventually(() => harness.gateway.pools.get('openai')!.stats(),
  (stats) => stats.inFlight === 0 && stats.queued === 0 && stats.slotsInUse === 0);

describe('upstream connections the server drops', () => {
  it.each(['close', 'reset'] as const)('%s as a kept-alive connection is reused: sent again on another connection, one attempt', async (drop) => {
    const harness = await gatewayBefore(({ onConnection }) => (onConnection === 2 ? drop : 'answer'));
    expect((await chat(harness)).status).toBe(200);
    const second = await chat(harness);
    expect(second.status).toBe(200);
    expect((await second.json() as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe('answered');
    expect(second.headers.get('x-heimdall-attempts')).toBe('1');
    expect(harness.fake.requests).toEqual([
      { connection: 1, onConnection: 1, outcome: 'answer' },
      { connection: 1, onConnection: 2, outcome: drop },
      { connection: 2, onConnection: 1, outcome: 'answer' },
    ]);
    await idle(harness);
  });

  it('sends a streamed request again the same way: the client gets the whole stream', async () => {
    const harness = await gatewayBefore(({ onConnection }) => (onConnection === 2 ? 'close' : 'answer'));
    expect((await chat(harness)).status).toBe(200);
    const stream = await harness.client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const text = (await collect(stream)).map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('answered');
    expect(harness.fake.requests.map((r) => [r.connection, r.outcome])).toEqual([[1, 'answer'], [1, 'close'], [2, 'answer']]);
    await idle(harness);
  });

  it('a connection closed before its first answer is not tried again: that close is the answer', async () => {
    const harness = await gatewayBefore(() => 'close');
    const error = await apiError(harness.client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
    expect(error.status).toBe(502);
    expect(error.message).toContain('other side closed');
    expect(harness.fake.requests).toHaveLength(1);
    await idle(harness);
  });

  it('sends a dropped request once more, not twice', async () => {
    // The first request ever is answered; every later one is reset, on whichever connection it comes.
    const harness = await gatewayBefore(({ overall }) => (overall === 1 ? 'answer' : 'reset'));
    expect((await chat(harness)).status).toBe(200);
    const failed = await chat(harness);
    expect(failed.status).toBe(502);
    expect((await failed.json() as { error: { code: string } }).error.code).toBe('upstream_error');
    expect(harness.fake.requests.map((r) => r.outcome)).toEqual(['answer', 'reset', 'reset']);
    await idle(harness);
  });
});
