// The circuit breakers through the real gateway, with the official SDK as the client: a revoked key leaves the
// rotation and its traffic moves to the other key; a model that keeps failing is skipped on its key while the key's
// other models keep working; a model whose every key is open falls back, or answers 503 circuit_open with
// Retry-After; after the cool-down a probe closes it; what must not count does not; and the state shows in /metrics.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiError, eventually, expectEnvelope, metricValue, openaiProvider, postChat, startHarness, user, type Harness,
} from './harness.js';

const GOOD_KEY = 'sk-good';
let h: Harness;

/** A provider on the fake under its own name, with one good key unless told, and a quick breaker. */
const provider = (fakeUrl: string, breaker: Record<string, unknown>, extra: Record<string, unknown> = {},
  keys: unknown[] = [{ name: 'only', value: GOOD_KEY }]) => ({
  ...openaiProvider(fakeUrl, { keys, custom_provider_config: { base_provider_type: 'openai' } }),
  circuit_breaker: { consecutive_failures: 2, ...breaker },
  ...extra,
});

beforeAll(async () => {
  h = await startHarness({
    fake: { apiKey: GOOD_KEY },
    config: (fakeUrl) => ({
      providers: {
        // One key the upstream refuses (401), one it takes.
        pair: provider(fakeUrl, { cooldown_seconds: 60 }, {},
          [{ name: 'revoked', value: 'sk-revoked' }, { name: 'good', value: GOOD_KEY }]),
        single: provider(fakeUrl, { cooldown_seconds: 1 }),
        probing: provider(fakeUrl, { cooldown_seconds: 1 }),
        backed: provider(fakeUrl, { cooldown_seconds: 60 }, { fallbacks: ['mock/echo'] }),
        steady: provider(fakeUrl, { cooldown_seconds: 60 }),
        // Nothing listens on port 1: every request fails to connect, whatever the model.
        gone: { ...provider(fakeUrl, { cooldown_seconds: 60 }), network_config: { base_url: 'http://127.0.0.1:1', max_retries: 0 } },
        // The embedded default's provider, with its default breaker (five failures in a row).
        mock: {},
      },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

const upstreamCalls = (model: string) => h.fake.requests.filter((r) => r.body?.model === model);
const scrape = async () => (await fetch(`${h.url}/metrics`)).text();
/** A key's own breaker, or with `model` the key's breaker for that model. */
const state = async (provider: string, key: string, model?: string) =>
  metricValue(await scrape(), 'heimdall_circuit_breaker_state', model ? { provider, key, model } : { provider, key });
const transitions = async (provider: string, to: string) =>
  metricValue(await scrape(), 'heimdall_circuit_breaker_transitions_total', { provider, state: to }) ?? 0;

describe('circuit breaker per key', () => {
  it("opens a key the upstream keeps refusing, and that key's traffic moves to the other key", async () => {
    expect(await state('pair', 'revoked')).toBe(0);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const outcome = await h.client.chat.completions.create({ model: 'pair/rotate', messages: user(`n${i}`) })
        .then(() => 200, (error: unknown) => (error instanceof OpenAI.APIError ? error.status ?? 0 : -1));
      statuses.push(outcome);
    }
    // Two refusals open the revoked key's breaker; every request after that goes to the good key.
    expect(statuses.filter((status) => status === 401)).toHaveLength(2);
    expect(statuses.filter((status) => status === 200)).toHaveLength(28);
    const calls = upstreamCalls('rotate');
    expect(calls.filter((call) => call.headers.authorization === 'Bearer sk-revoked')).toHaveLength(2);
    const lastRefused = calls.findLastIndex((call) => call.headers.authorization === 'Bearer sk-revoked');
    expect(calls.slice(lastRefused + 1).every((call) => call.headers.authorization === `Bearer ${GOOD_KEY}`)).toBe(true);
    expect(await state('pair', 'revoked')).toBe(2);
    expect(await state('pair', 'good')).toBe(0);
    expect(await transitions('pair', 'open')).toBe(1);
    // The label is the key's name: no secret in the exposition.
    expect(await scrape()).not.toContain('sk-revoked');
  });

  it('with every key open and no fallback: 503 circuit_open with Retry-After; after the cool-down a probe closes it', async () => {
    h.fake.script('recovering', [{ error: { status: 500 } }, { error: { status: 500 } }, { content: 'back again' }]);
    for (let i = 0; i < 2; i++) {
      expect((await apiError(h.client.chat.completions.create({ model: 'single/recovering', messages: user('x') }))).status)
        .toBe(502);
    }
    expect(await state('single', 'only', 'recovering')).toBe(2);
    // The key itself stays closed: only the model that failed is skipped.
    expect(await state('single', 'only')).toBe(0);
    const refused = await postChat(h.url, { model: 'single/recovering', messages: user('x') });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const error = expectEnvelope(await refused.json(), 'circuit_open');
    expect(error.type).toBe('api_error');
    // The open breaker kept the request from the upstream.
    expect(upstreamCalls('recovering')).toHaveLength(2);
    // The SDK parses it as a 503.
    expect((await apiError(h.client.chat.completions.create({ model: 'single/recovering', messages: user('x') }))).status)
      .toBe(503);

    await new Promise((resolve) => setTimeout(resolve, 1_050));
    expect(await state('single', 'only', 'recovering')).toBe(1);
    const answer = await h.client.chat.completions.create({ model: 'single/recovering', messages: user('x') });
    expect(answer.choices[0].message.content).toBe('back again');
    expect(await state('single', 'only', 'recovering')).toBe(0);
    expect(upstreamCalls('recovering')).toHaveLength(3);
    expect(await transitions('single', 'open')).toBe(1);
    expect(await transitions('single', 'half_open')).toBe(1);
    expect(await transitions('single', 'closed')).toBe(1);
  });

  it('lets one probe through while half-open, and a probe whose client left frees its place', async () => {
    h.fake.script('probe', [{ error: { status: 500 } }, { error: { status: 500 } }, { latencyMs: 5_000, content: 'slow' },
      { content: 'fast' }]);
    for (let i = 0; i < 2; i++) await apiError(h.client.chat.completions.create({ model: 'probing/probe', messages: user('x') }));
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    const controller = new AbortController();
    const slowProbe = fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ model: 'probing/probe', messages: user('slow probe') }),
    }).catch((e: unknown) => e);
    await eventually(() => upstreamCalls('probe').length, (n) => n === 3);
    // The one probe is out: the next request is refused without reaching the upstream.
    const refused = await postChat(h.url, { model: 'probing/probe', messages: user('x') });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    controller.abort();
    expect(await slowProbe).toBeInstanceOf(Error);
    const answer = await eventually(() => postChat(h.url, { model: 'probing/probe', messages: user('next probe') }),
      (response) => response.status === 200);
    expect(((await answer.json()) as OpenAI.ChatCompletion).choices[0].message.content).toBe('fast');
    expect(await state('probing', 'only', 'probe')).toBe(0);
    expect(upstreamCalls('probe')).toHaveLength(4);
  });

  it('with every key open, a request falls back to its fallback without calling the open provider', async () => {
    for (let i = 0; i < 2; i++) {
      const { response } = await h.client.chat.completions.create({ model: 'backed/error-503', messages: user('fb') })
        .withResponse();
      expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    }
    expect(await state('backed', 'only', 'error-503')).toBe(2);
    const { data, response } = await h.client.chat.completions.create({ model: 'backed/error-503', messages: user('moved') })
      .withResponse();
    expect(data.choices[0].message.content).toContain('moved');
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
    expect(response.headers.get('x-heimdall-attempts')).toBe('2');
    expect(upstreamCalls('error-503').filter((call) => call.rawBody.includes('moved'))).toHaveLength(0);
    expect(upstreamCalls('error-503')).toHaveLength(2);
  });

  it('five 503s from mock/error-503 open its breaker only: mock/echo keeps answering', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await apiError(h.client.chat.completions.create({ model: 'mock/error-503', messages: user('x') }))).status).toBe(503);
    }
    const refused = await postChat(h.url, { model: 'mock/error-503', messages: user('x') });
    expect(refused.status).toBe(503);
    expect(expectEnvelope(await refused.json(), 'circuit_open').message).toContain("model 'error-503'");
    for (let i = 0; i < 5; i++) {
      const answer = await h.client.chat.completions.create({ model: 'mock/echo', messages: user(`still here ${i}`) });
      expect(answer.choices[0].message.content).toBe(`Echo: still here ${i}`);
    }
    expect(await state('mock', 'keyless', 'error-503')).toBe(2);
    expect(await state('mock', 'keyless')).toBe(0);
    // No breaker series for a model that never failed.
    expect(metricValue(await scrape(), 'heimdall_circuit_breaker_state', { provider: 'mock', key: 'keyless', model: 'echo' }))
      .toBeUndefined();
  });

  it('a key that cannot reach its provider is skipped for every model', async () => {
    for (let i = 0; i < 2; i++) {
      expect((await apiError(h.client.chat.completions.create({ model: 'gone/gpt-4o', messages: user('x') }))).status).toBe(502);
    }
    expect(await state('gone', 'only')).toBe(2);
    for (const model of ['gone/gpt-4o', 'gone/gpt-4o-mini']) {
      const refused = await postChat(h.url, { model, messages: user('x') });
      expect(refused.status).toBe(503);
      expectEnvelope(await refused.json(), 'circuit_open');
    }
  });

  it("counts neither the provider refusing a client's bad request nor a client that leaves", async () => {
    for (let i = 0; i < 3; i++) {
      const error = await apiError(h.client.chat.completions.create({ model: 'steady/error-400', messages: user('x') }));
      expect(error.status).toBe(400);
    }
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const request = fetch(`${h.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
        body: JSON.stringify({ model: 'steady/latency-2000', messages: user(`leave ${i}`) }),
      }).catch((e: unknown) => e);
      await eventually(() => upstreamCalls('latency-2000').length, (n) => n === i + 1);
      controller.abort();
      expect(await request).toBeInstanceOf(Error);
    }
    expect(await state('steady', 'only')).toBe(0);
    expect(await transitions('steady', 'open')).toBe(0);
    const answer = await h.client.chat.completions.create({ model: 'steady/gpt-4o', messages: user('still here') });
    expect(answer.choices[0].message.content).toBeTruthy();
  });
});
