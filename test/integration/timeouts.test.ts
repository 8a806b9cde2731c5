// The three timeouts through the real gateway, with the official SDK as the client and the fake OpenAI server
// playing the slow upstream: the total (slow headers, and a stream still running at the deadline), the time to a
// stream's first chunk, and a stream that stalls half-way. Each gets its own code; the upstream call is aborted;
// the gateway keeps serving.

import type OpenAI from 'openai';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, collect, collectUntilFailure, eventually, openaiProvider, startHarness, user, type Harness } from './harness.js';

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

let h: Harness;

const timeouts = { default_request_timeout_in_seconds: 3, first_token_timeout_in_seconds: 1, stream_idle_timeout_in_seconds: 1 };

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      // These tests time the one key out case after case, so the breakers are off: breaker.test.ts covers those.
      providers: {
        openai: { ...openaiProvider(fakeUrl, { network_config: timeouts }), circuit_breaker: { enabled: false } },
        // The same upstream, falling back to the mock: a first-token timeout has sent no byte, so it may fall back.
        backed: { ...openaiProvider(fakeUrl, { network_config: timeouts, custom_provider_config: { base_provider_type: 'openai' } }),
          fallbacks: ['mock/echo'], circuit_breaker: { enabled: false } },
        // A first chunk may take long, a gap after it may not: the idle deadline falls before the first-token one.
        patient: { ...openaiProvider(fakeUrl, { network_config: { default_request_timeout_in_seconds: 10, first_token_timeout_in_seconds: 6,
          stream_idle_timeout_in_seconds: 1 }, custom_provider_config: { base_provider_type: 'openai' } }), circuit_breaker: { enabled: false } },
        mock: { mock_config: { latency_ms: 0, chunk_count: 2, chunk_interval_ms: 0 } },
      },
    }),
  });
  h.fake.script('slow-headers', { latencyMs: 6_000 });
  h.fake.script('slow-first-chunk', { firstChunkDelayMs: 6_000 });
  // A few chunks, then the connection stays open and silent.
  h.fake.script('stalls', { chunks: ['one ', 'two ', 'three'], hang: true });
  // Never idle (a chunk every 100 ms), never finished: only the total can end it.
  h.fake.script('never-ends', { endless: true, chunkIntervalMs: 100 });
});

afterAll(async () => {
  await h?.close();
});

const idle = (provider = 'openai') => eventually(() => h.gateway.pools.get(provider)!.stats(),
  (stats) => stats.inFlight === 0 && stats.queued === 0 && stats.slotsInUse === 0);

/** Reads a stream to its end; returns what arrived and the error it ended with (null: it ended cleanly). */
async function drain(stream: AsyncIterable<Chunk>): Promise<{ received: Chunk[]; failure: unknown }> {
  const { received, failure } = await collectUntilFailure(stream);
  return { received, failure };
}

async function upstreamAborted(requestId: string): Promise<void> {
  const [upstream] = h.fake.requestsWithId(requestId);
  await upstream.closed;
  expect(upstream.clientAborted).toBe(true);
}

describe('default_request_timeout_in_seconds (the total)', () => {
  it('answers an upstream that sends no headers in time with 504 upstream_timeout and aborts the call', async () => {
    const requestId = 'total-headers';
    const started = performance.now();
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/slow-headers', messages: user('hi') },
      { headers: { 'x-request-id': requestId } }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    expect(error.type).toBe('api_error');
    expect(error.message).toContain('default_request_timeout_in_seconds');
    await upstreamAborted(requestId);
    await idle();
  });

  it('holds mid-stream too: a stream still running at the deadline ends with an upstream_timeout error event', async () => {
    const requestId = 'total-mid-stream';
    const { received, failure } = await drain(await h.client.chat.completions.create(
      { model: 'openai/never-ends', messages: user('go on forever'), stream: true }, { headers: { 'x-request-id': requestId } }));
    // Chunks flowed (so neither the first-token nor the idle timeout could fire) until the total cut the stream.
    expect(received.length).toBeGreaterThan(5);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('upstream_timeout');
    expect((failure as APIError).message).toContain('still running at default_request_timeout_in_seconds');
    await upstreamAborted(requestId);
    await idle();
  });

  it('holds after an idle spell too: the deadline sweep that stopped with the last job starts again with the next', async () => {
    await idle();
    // Several sweep periods (50 ms) with no job: the worker's sweep and the pool's (100 ms) have stopped.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const requestId = 'total-after-idle';
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/slow-headers', messages: user('hi again') },
      { headers: { 'x-request-id': requestId } }));
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    // The worker's own deadline (its sweep) answered: not undici's backstop a second later, nor the front's overdue check.
    expect(error.message).toContain('no answer within default_request_timeout_in_seconds');
    await upstreamAborted(requestId);
    await idle();
  });
});

describe('first_token_timeout_in_seconds', () => {
  it('answers a stream whose first chunk is late with 504 first_token_timeout before the stream starts', async () => {
    const requestId = 'first-token';
    const started = performance.now();
    const error = await apiError(h.client.chat.completions.create(
      { model: 'openai/slow-first-chunk', messages: user('hi'), stream: true }, { headers: { 'x-request-id': requestId } }));
    // The first-token deadline (1 s), well before the total (3 s).
    expect(performance.now() - started).toBeLessThan(2_900);
    expect(error.status).toBe(504);
    expect(error.code).toBe('first_token_timeout');
    expect(error.message).toContain('first_token_timeout_in_seconds');
    await upstreamAborted(requestId);
    await idle();
  });

  it('applies to slow headers of a stream as well', async () => {
    const error = await apiError(h.client.chat.completions.create(
      { model: 'openai/slow-headers', messages: user('hi'), stream: true }));
    expect(error.status).toBe(504);
    expect(error.code).toBe('first_token_timeout');
    await idle();
  });

  it('falls back, since no byte reached the client', async () => {
    const { data, response } = await h.client.chat.completions.create(
      { model: 'backed/slow-first-chunk', messages: user('fall back please'), stream: true }).withResponse();
    const chunks = await collect(data);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toContain('fall back please');
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
    await idle('backed');
  });
});

describe('stream_idle_timeout_in_seconds', () => {
  it('ends a stream that stalls half-way with a stream_idle_timeout error event after what had arrived', async () => {
    const requestId = 'idle-mid-stream';
    const { received, failure } = await drain(await h.client.chat.completions.create(
      { model: 'openai/stalls', messages: user('hi'), stream: true }, { headers: { 'x-request-id': requestId } }));
    expect(received.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two three');
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('stream_idle_timeout');
    expect((failure as APIError).message).toContain('stream_idle_timeout_in_seconds');
    await upstreamAborted(requestId);
    await idle();
  });

  it('holds when it falls before the first-token deadline (checked from the first chunk on, not from the start)', async () => {
    const startedAt = performance.now();
    const { received, failure } = await drain(await h.client.chat.completions.create({ model: 'patient/stalls', messages: user('hi'), stream: true }));
    expect(received.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two three');
    expect((failure as APIError).code).toBe('stream_idle_timeout');
    // One second idle after the chunks; the first-token deadline (6 s) would have been the first check otherwise.
    expect(performance.now() - startedAt).toBeLessThan(4_000);
    await idle('patient');
  });
});

describe('after all that', () => {
  it('keeps serving, streamed and not', async () => {
    const answer = await h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('still there?') });
    expect(answer.choices[0].message.content).toContain('still there?');
    const chunks = await collect(await h.client.chat.completions.create(
      { model: 'openai/gpt-4o', messages: user('and streaming?'), stream: true }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toContain('and streaming?');
    expect(await idle()).toMatchObject({ inFlight: 0, queued: 0, slotsInUse: 0 });
  });
});
