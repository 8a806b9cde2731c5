// Retries and fallbacks through the real gateway, with the official SDK (or fetch, where the raw answer matters)
// as the client and the fake OpenAI server scripting the faults: what is retried and what is not, Retry-After,
// fallbacks to another provider, the last error with every attempt listed, a client leaving during a backoff,
// the transparency headers and the counters.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiError, eventually, metricSum, openaiProvider, postChat, sseData, startHarness, user, type Harness,
} from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      providers: {
        // Retries twice; short backoff so that the tests measure Retry-After, not the backoff. These tests fail both
        // providers' one key over and over, so their breakers are off: breaker.test.ts covers those.
        openai: { ...openaiProvider(fakeUrl, { network_config: { max_retries: 2, retry_backoff_initial: 50, retry_backoff_max: 3000 } }),
          circuit_breaker: { enabled: false } },
        // The same fake under another name, with no retries: a primary that fails at once.
        flaky: { ...openaiProvider(fakeUrl, { custom_provider_config: { base_provider_type: 'openai' } }),
          circuit_breaker: { enabled: false } },
        // Falls back to the mock by configuration when a request names no fallbacks.
        backed: { ...openaiProvider(fakeUrl, { custom_provider_config: { base_provider_type: 'openai' } }), fallbacks: ['mock/echo'] },
        mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
      },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

const upstreamCalls = (model: string) => h.fake.requests.filter((r) => r.body?.model === model);
const idle = (provider = 'openai') => eventually(() => h.gateway.pools.get(provider)!.stats(),
  (stats) => stats.inFlight === 0 && stats.queued === 0 && stats.slotsInUse === 0);

interface AttemptsBody {
  error: { message: string; type: string; param: string | null; code: string;
    attempts?: { provider: string; model: string; status: number; code: string; message: string }[] };
}

describe('retries', () => {
  it('retries a 500 on the same key and succeeds: x-heimdall-attempts 2', async () => {
    h.fake.script('retry-500', [{ error: { status: 500 } }, { content: 'second time lucky' }]);
    const { data, response } = await h.client.chat.completions.create({ model: 'openai/retry-500', messages: user('hi') })
      .withResponse();
    expect(data.choices[0].message.content).toBe('second time lucky');
    expect(response.headers.get('x-heimdall-attempts')).toBe('2');
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
    expect(response.headers.get('x-heimdall-model')).toBe('retry-500');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('0');
    expect(Number(response.headers.get('x-heimdall-overhead-ms'))).toBeGreaterThanOrEqual(0);
    const calls = upstreamCalls('retry-500');
    expect(calls).toHaveLength(2);
    // The same key both times.
    expect(calls[1].headers.authorization).toBe(calls[0].headers.authorization);
    await idle();
  });

  it('does not retry a 400, and does not fall back on it either', async () => {
    const error = await apiError(h.client.chat.completions.create({
      model: 'openai/error-400', messages: user('hi'), fallbacks: ['mock/echo'],
    } as never));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(upstreamCalls('error-400')).toHaveLength(1);
  });

  it('gives up after max_retries and answers the last error with every attempt listed', async () => {
    h.fake.script('always-502', { error: { status: 502 } });
    const response = await postChat(h.url, { model: 'openai/always-502', messages: user('hi') });
    expect(response.status).toBe(502);
    expect(response.headers.get('x-heimdall-attempts')).toBe('3');
    const body = await response.json() as AttemptsBody;
    expect(body.error.code).toBe('upstream_error');
    expect(body.error.attempts).toHaveLength(3);
    expect(upstreamCalls('always-502')).toHaveLength(3);
  });

  it('honours Retry-After: the retry comes at least that long after the failure', async () => {
    h.fake.script('limited', [{ error: { status: 429, retryAfter: '1' } }, { content: 'ok' }]);
    const { response } = await h.client.chat.completions.create({ model: 'openai/limited', messages: user('hi') }).withResponse();
    expect(response.headers.get('x-heimdall-attempts')).toBe('2');
    const [first, second] = upstreamCalls('limited');
    // The backoff alone would be ~50 ms; Retry-After asks for one second.
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(990);
    expect(second.receivedAt - first.receivedAt).toBeLessThan(2500);
  });

  it('retries a stream that failed before its first chunk, with the headers on the SSE answer', async () => {
    h.fake.script('stream-503', [{ error: { status: 503, retryAfter: null } }, { content: 'streamed fine' }]);
    const { data: stream, response } = await h.client.chat.completions.create({
      model: 'openai/stream-503', messages: user('hi'), stream: true,
    }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('streamed fine');
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('x-heimdall-attempts')).toBe('2');
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
    expect(Number(response.headers.get('x-heimdall-overhead-ms'))).toBeGreaterThanOrEqual(0);
    expect(upstreamCalls('stream-503')).toHaveLength(2);
  });

  it('never retries once chunks reached the client: a mid-stream break ends with an error event', async () => {
    const response = await postChat(h.url, { model: 'openai/gpt-4o-break-after-2', messages: user('hi'), stream: true,
      fallbacks: ['mock/echo'] });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-attempts')).toBe('1');
    const events = sseData(await response.text());
    const last = JSON.parse(events[events.length - 1]) as AttemptsBody;
    expect(last.error.code).toBe('stream_interrupted');
    expect(upstreamCalls('gpt-4o-break-after-2')).toHaveLength(1);
    await idle();
    await idle('mock');
  });

  it('a client leaving during the backoff cancels the retry and leaves the pool idle', async () => {
    h.fake.script('abort-in-backoff', { error: { status: 503, retryAfter: '2' } });
    const controller = new AbortController();
    const pending = postChat(h.url, { model: 'openai/abort-in-backoff', messages: user('hi') });
    const request = fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ model: 'openai/abort-in-backoff', messages: user('bye') }),
    }).catch((error: unknown) => error);
    // Both requests failed once and now wait ~2 s to retry; the second client leaves.
    await eventually(() => upstreamCalls('abort-in-backoff').length, (n) => n === 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort();
    expect(await request).toBeInstanceOf(Error);
    // The first one is retried (and fails again: attempts 3, last error 503); the aborted one never comes back.
    const first = await pending as Response;
    expect(first.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const bye = upstreamCalls('abort-in-backoff').filter((r) => r.rawBody.includes('bye'));
    expect(bye).toHaveLength(1);
    expect(h.gateway.pools.get('openai')!.stats()).toMatchObject({ inFlight: 0, queued: 0, slotsInUse: 0 });
  }, 15_000);
});

describe('fallbacks', () => {
  it('falls back to a second provider and strips `fallbacks` before it goes upstream', async () => {
    h.fake.script('down', { error: { status: 500 } });
    const { data, response } = await h.client.chat.completions.create({
      model: 'flaky/down', messages: user('hello fallback'), fallbacks: ['mock/echo'],
    } as never).withResponse() as unknown as { data: OpenAI.ChatCompletion; response: Response };
    expect(data.choices[0].message.content).toContain('hello fallback');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(response.headers.get('x-heimdall-model')).toBe('echo');
    expect(response.headers.get('x-heimdall-attempts')).toBe('2');
    const [call] = upstreamCalls('down');
    expect(call.body).toBeDefined();
    expect('fallbacks' in call.body!).toBe(false);
  });

  it('tries fallbacks in order, skipping one that cannot route, to a second upstream', async () => {
    h.fake.script('second-ok', { content: 'from the second' });
    const response = await postChat(h.url, { model: 'flaky/error-503', messages: user('x'),
      fallbacks: ['nowhere/gpt', 'openai/second-ok'] });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('2');
    expect(response.headers.get('x-heimdall-attempts')).toBe('3');
    expect(((await response.json()) as OpenAI.ChatCompletion).choices[0].message.content).toBe('from the second');
  });

  it('when every attempt fails, answers the last error in a valid envelope with the attempts listed', async () => {
    const response = await postChat(h.url, { model: 'flaky/error-502', messages: user('x'), fallbacks: ['mock/error-503'] });
    expect(response.status).toBe(503);
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
    const body = await response.json() as AttemptsBody;
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code).toBe('upstream_unavailable');
    expect(body.error.type).toBe('api_error');
    expect(body.error.param).toBeNull();
    expect(body.error.attempts).toEqual([
      expect.objectContaining({ provider: 'flaky', model: 'error-502', status: 502, code: 'upstream_error' }),
      expect.objectContaining({ provider: 'mock', model: 'error-503', status: 503, code: 'upstream_unavailable' }),
    ]);
    for (const attempt of body.error.attempts!) expect(attempt.message.length).toBeGreaterThan(0);
    // The SDK still parses it.
    const error = await apiError(h.client.chat.completions.create({ model: 'flaky/error-502', messages: user('x'),
      fallbacks: ['mock/error-503'] } as never));
    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_unavailable');
  });

  it("uses the provider's configured fallbacks when the request names none; `fallbacks: []` turns them off", async () => {
    const ok = await postChat(h.url, { model: 'backed/error-500', messages: user('configured') });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-heimdall-provider')).toBe('mock');
    expect(ok.headers.get('x-heimdall-fallback-index')).toBe('1');
    const off = await postChat(h.url, { model: 'backed/error-500', messages: user('configured'), fallbacks: [] });
    expect(off.status).toBe(502);
    expect(off.headers.get('x-heimdall-attempts')).toBe('1');
  });

  it('refuses a malformed fallbacks list with 400', async () => {
    const response = await postChat(h.url, { model: 'openai/gpt-4o', messages: user('x'), fallbacks: 'mock/echo' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as AttemptsBody).error.param).toBe('fallbacks');
  });
});

describe('counters', () => {
  it('heimdall_retries_total and heimdall_fallbacks_total moved', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(metricSum(text, 'heimdall_retries_total', { provider: 'openai' })).toBeGreaterThanOrEqual(5);
    expect(metricSum(text, 'heimdall_fallbacks_total', { provider: 'flaky' })).toBeGreaterThanOrEqual(3);
  });
});
