// A plugin hook that never settles cannot hang its request: through the real gateway, with the official SDKs as
// clients, a pre-hook or post-hook still pending when the request's timeout (here 1 s) runs out fails the request
// with 504 plugin_timeout in the route's own error shape, naming the plugin and the hook; the plugins before it still
// get their post-hooks, a hook that settles late changes nothing, and the gateway goes on serving.

import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedCall } from '../fakes/plugins/typed-recorder.js';
import { apiError, expectEnvelope, postChat, sseData, startHarness, user, type Harness } from './harness.js';
import { rejectionOf } from '../rejection.js';

const JS_PLUGIN = fileURLToPath(new URL('../fakes/plugins/recorder.js', import.meta.url));

let h: Harness;
const calls = (): RecordedCall[] => ((globalThis as { __calls?: RecordedCall[] }).__calls ??= []);
const callsOf = (requestId: string, hook: RecordedCall['hook']) =>
  calls().filter((c) => c.requestId === requestId && c.hook === hook);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  calls().length = 0;
  h = await startHarness({
    config: () => ({
      providers: {
        mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 },
          network_config: { default_request_timeout_in_seconds: 1 } },
      },
      plugins: [
        { name: 'first', path: JS_PLUGIN, config: { label: 'A' } },
        { name: 'second', path: JS_PLUGIN, config: { label: 'B' } },
      ],
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

/** A chat request through the OpenAI SDK with these headers, and how long it took. */
async function timed(requestId: string, headers: Record<string, string>) {
  const started = performance.now();
  const error = await apiError(h.client.chat.completions.create({ model: 'mock/echo', messages: user('hello') },
    { headers: { 'x-request-id': requestId, ...headers } }));
  return { error, ms: performance.now() - started };
}

describe('a hook that never settles', () => {
  it('pre-hook: 504 plugin_timeout naming the plugin and hook after the request timeout; the plugins before it unwind', async () => {
    const { error, ms } = await timed('hang-pre-1', { 'x-hang-pre': 'B' });
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(504);
    expect(error.code).toBe('plugin_timeout');
    expect(error.type).toBe('api_error');
    expect(error.message).toContain("plugin 'B' preHook did not settle within 1 s");
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(10_000);
    // A's pre-hook ran, so its post-hook sees the failure; B's pre-hook never finished, so its post-hook is not called.
    expect(callsOf('hang-pre-1', 'pre').map((c) => c.plugin)).toEqual(['A', 'B']);
    expect(callsOf('hang-pre-1', 'post')).toEqual([expect.objectContaining({ plugin: 'A', status: 504, errorCode: 'PLUGIN_TIMEOUT' })]);
  });

  it("pre-hook on /anthropic: the same error in Anthropic's shape", async () => {
    const client = new Anthropic({ baseURL: `${h.url}/anthropic`, apiKey: 'unused', maxRetries: 0 });
    const error = await rejectionOf(client.messages.create({ model: 'mock/echo', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-hang-pre': 'A' } }), Anthropic.APIError);
    expect(error.status).toBe(504);
    expect(error.error).toMatchObject({ type: 'error', error: { message: expect.stringContaining("plugin 'A' preHook") } });
  });

  it('a pre-hook that settles after the timeout changes nothing, and the gateway goes on serving', async () => {
    const { error } = await timed('late-pre-1', { 'x-late-pre': 'A', 'x-late-ms': '1500' });
    expect(error.code).toBe('plugin_timeout');
    await sleep(1_000);
    expect(callsOf('late-pre-1', 'late')).toHaveLength(1);
    // Its late answer (a 403) went nowhere, and no hook ran again for that request.
    expect(callsOf('late-pre-1', 'pre').map((c) => c.plugin)).toEqual(['A']);
    expect(callsOf('late-pre-1', 'post')).toHaveLength(0);
    const answer = await h.client.chat.completions.create({ model: 'mock/echo', messages: user('still serving') });
    expect(answer.choices[0].message.content).toBe('Echo: still serving');
  });

  it("post-hook: the provider's answer becomes 504 plugin_timeout; the plugins after it in the unwind still run", async () => {
    const { error, ms } = await timed('hang-post-1', { 'x-hang-post': 'B' });
    expect(error.status).toBe(504);
    expect(error.code).toBe('plugin_timeout');
    expect(error.message).toContain("plugin 'B' postHook did not settle within 1 s");
    expect(ms).toBeLessThan(10_000);
    expect(callsOf('hang-post-1', 'post').map((c) => [c.plugin, c.errorCode])).toEqual([['B', null], ['A', 'PLUGIN_TIMEOUT']]);

    const raw = await postChat(h.url, { model: 'mock/echo', messages: user('raw') }, { 'x-hang-post': 'A' });
    expect(raw.status).toBe(504);
    expect(expectEnvelope(await raw.json(), 'plugin_timeout').message).toContain("plugin 'A' postHook");
  });

  it('post-hook of a stream: the stream ends with the error event instead of [DONE]', async () => {
    const response = await postChat(h.url, { model: 'mock/echo', messages: user('stream me'), stream: true }, { 'x-hang-post': 'A' });
    expect(response.status).toBe(200);
    const events = sseData(await response.text());
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: { code: string; message: string } };
    expect(last.error.code).toBe('plugin_timeout');
    expect(last.error.message).toContain("plugin 'A' postHook");
    expect(events.slice(0, -1).map((e) => JSON.parse(e) as OpenAI.ChatCompletionChunk).map((c) => c.choices[0]?.delta?.content ?? '').join(''))
      .toBe('Echo: stream me');
  });
});
