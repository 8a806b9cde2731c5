// Errors through the real gateway, as the official SDK sees them (the right APIError subclass, status and
// OpenAI envelope), and raw where the SDK cannot send the request: the gateway's own refusals, upstream
// statuses mapped through the error table, and the upstream timeout.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, expectEnvelope, openaiProvider, postChat, postChatChunked, startHarness, user, type Harness } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      client: { max_request_body_size_mb: 1 },
      providers: {
        openai: openaiProvider(fakeUrl),
        // A key that allows one model only.
        strict: openaiProvider(fakeUrl, {
          keys: [{ value: 'sk-strict', models: ['gpt-4o'], weight: 1 }],
          custom_provider_config: { base_provider_type: 'openai' },
        }),
        mock: {},
        // Gives up on the upstream after one second.
        slowpoke: openaiProvider(fakeUrl, {
          network_config: { default_request_timeout_in_seconds: 1 },
          custom_provider_config: { base_provider_type: 'openai' },
        }),
      },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

describe('requests the gateway refuses itself', () => {
  it('malformed JSON → 400 invalid_json in the envelope, and the upstream is not called', async () => {
    const before = h.fake.requests.length;
    const response = await postChat(h.url, '{"model": "openai/gpt-4o", "messages": [');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const error = expectEnvelope(await response.json(), 'invalid_json');
    expect(error.type).toBe('invalid_request_error');
    expect(h.fake.requests.length).toBe(before);
  });

  it('an empty body → 400', async () => {
    const response = await postChat(h.url, '');
    expect(response.status).toBe(400);
    expectEnvelope(await response.json(), 'invalid_request');
  });

  it('missing model → 400 BadRequestError with param model', async () => {
    const error = await apiError(h.client.chat.completions.create({ messages: user('hi') } as never));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.param).toBe('model');
    expect(error.type).toBe('invalid_request_error');
  });

  it('a non-string model → 400', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 42, messages: user('hi') } as never));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('model');
  });

  it('empty messages → 400 with param messages', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: [] }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('messages');
    expectEnvelope({ error: error.error }, 'invalid_request');
  });

  it('an unknown provider → 404 unknown_provider', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'nosuch/gpt-4o', messages: user('hi') }));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.status).toBe(404);
    expect(error.code).toBe('unknown_provider');
    expect(error.message).toContain('nosuch');
  });

  it('a model with no provider prefix → 404 unknown_provider', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'gpt-4o', messages: user('hi') }));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('unknown_provider');
  });

  it('a model no key allows → 404 model_not_allowed; the allowed one goes through', async () => {
    const before = h.fake.requests.length;
    const error = await apiError(h.client.chat.completions.create({ model: 'strict/gpt-4o-mini', messages: user('hi') }));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('model_not_allowed');
    expect(h.fake.requests.length).toBe(before);

    const ok = await h.client.chat.completions.create({ model: 'strict/gpt-4o', messages: user('hi') });
    expect(ok.choices[0].message.content).toContain('hi');
    expect(h.fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-strict');
  });

  it('an unknown route → 404 unknown_route', async () => {
    const error = await apiError(h.client.get('/embeddingz'));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('unknown_route');
    const raw = await fetch(`${h.url}/nowhere/at/all`, { method: 'POST', body: '{}' });
    expect(raw.status).toBe(404);
    expectEnvelope(await raw.json(), 'unknown_route');
  });

  it('a wrong method on a known route → 405 method_not_allowed', async () => {
    const error = await apiError(h.client.get('/chat/completions'));
    expect(error.status).toBe(405);
    expect(error.code).toBe('method_not_allowed');
    const raw = await fetch(`${h.url}/v1/models`, { method: 'DELETE' });
    expect(raw.status).toBe(405);
    expectEnvelope(await raw.json(), 'method_not_allowed');
  });

  it('a body over max_request_body_size_mb → 413 body_too_large', async () => {
    const before = h.fake.requests.length;
    const body = JSON.stringify({ model: 'openai/gpt-4o', messages: user('x'.repeat(1_200_000)) });
    const response = await postChat(h.url, body);
    expect(response.status).toBe(413);
    expectEnvelope(await response.json(), 'body_too_large');
    expect(h.fake.requests.length).toBe(before);
  });

  it('a body over the limit sent without Content-Length (chunked) → 413 too', async () => {
    const response = await postChatChunked(h.url, { model: 'openai/gpt-4o', messages: user('y'.repeat(1_200_000)) }, 64 * 1024);
    expect(response.status).toBe(413);
    expectEnvelope(await response.json(), 'body_too_large');
  });
});

describe('upstream failures, mapped', () => {
  it('upstream 400 → 400 BadRequestError carrying the provider\'s message', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o-error-400', messages: user('hi') }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('upstream_bad_request');
    expect(error.message).toContain("Invalid value for 'messages'");
  });

  it('upstream 401 → 401 AuthenticationError', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o-error-401', messages: user('hi') }));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.code).toBe('upstream_auth');
    expect(error.type).toBe('authentication_error');
    expectEnvelope({ error: error.error }, 'upstream_auth');
  });

  it('upstream 429 → 429 RateLimitError that keeps the upstream Retry-After', async () => {
    h.fake.script('gpt-4o-limited', { error: { status: 429, retryAfter: '17' } });
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o-limited', messages: user('hi') }));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.status).toBe(429);
    expect(error.code).toBe('upstream_rate_limited');
    expect(error.headers?.get('retry-after')).toBe('17');
  });

  it('upstream 500 → 502 InternalServerError', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o-error-500', messages: user('hi') }));
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_error');
    expect(error.type).toBe('api_error');
  });

  it.each([
    [429, OpenAI.RateLimitError, 'upstream_rate_limited'],
    [500, OpenAI.InternalServerError, 'upstream_error'],
    [401, OpenAI.AuthenticationError, 'upstream_auth'],
  ])('the mock provider\'s mock/error-%i fails like an upstream answering that status', async (status, ErrorClass, code) => {
    const error = await apiError(h.client.chat.completions.create({ model: `mock/error-${status}`, messages: user('hi') }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.code).toBe(code);
    expectEnvelope({ error: error.error }, code);
  });

  it('upstream errors on a stream request arrive as HTTP errors, before any SSE', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o-error-429', messages: user('hi'), stream: true }));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.headers?.get('retry-after')).toBe('1');
  });

  it('an upstream slower than default_request_timeout_in_seconds → 504, and the upstream call is dropped', async () => {
    const requestId = 'timeout-1';
    const started = performance.now();
    const error = await apiError(h.client.chat.completions.create(
      { model: 'slowpoke/gpt-4o-latency-4000', messages: user('hi') }, { headers: { 'x-request-id': requestId } }));
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(3_000);
    const upstream = h.fake.requestsWithId(requestId)[0];
    await upstream.closed;
    expect(upstream.clientAborted).toBe(true);
    expect(h.gateway.pools.get('slowpoke')!.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('a stream that never sends its first byte in time → 504 as well', async () => {
    const error = await apiError(h.client.chat.completions.create(
      { model: 'slowpoke/gpt-4o-latency-4000', messages: user('hi'), stream: true }));
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
  });
});
