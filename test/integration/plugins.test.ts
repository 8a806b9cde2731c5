// User plugins through the real gateway, configured by path (a .js one and a .ts one loaded through tsx):
// pre-hooks in config order, post-hooks in reverse and only for plugins whose pre-hook ran, short-circuits with
// a response and with an error, and the stream chunk hook on every chunk. The plugins record their calls into
// globalThis.__calls, which works because the gateway's front thread is this test's process.

import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedCall } from '../fakes/plugins/typed-recorder.js';
import { apiError, eventually, expectEnvelope, openaiProvider, postChat, sseData, startHarness, user, type Harness } from './harness.js';

const JS_PLUGIN = fileURLToPath(new URL('../fakes/plugins/recorder.js', import.meta.url));
const TS_PLUGIN = fileURLToPath(new URL('../fakes/plugins/typed-recorder.ts', import.meta.url));

let h: Harness;
const calls = (): RecordedCall[] => ((globalThis as { __calls?: RecordedCall[] }).__calls ??= []);
const callsOf = (requestId: string, hook?: RecordedCall['hook']) =>
  calls().filter((c) => c.requestId === requestId && (hook === undefined || c.hook === hook));
const order = (requestId: string, hook: RecordedCall['hook']) => callsOf(requestId, hook).map((c) => c.plugin);

beforeAll(async () => {
  calls().length = 0;
  h = await startHarness({
    config: (fakeUrl) => ({
      providers: { openai: openaiProvider(fakeUrl) },
      plugins: [
        'metrics',
        { name: 'first', path: JS_PLUGIN, config: { label: 'A' } },
        // The string form: a path; its name comes from the plugin itself ('typed').
        TS_PLUGIN,
        { name: 'third', path: JS_PLUGIN, config: { label: 'C' } },
      ],
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

describe('plugins configured by path', () => {
  it('run pre-hooks in config order and post-hooks in reverse, around the provider call', async () => {
    const requestId = 'plugins-order-1';
    const { data } = await h.client.chat.completions
      .create({ model: 'openai/gpt-4o', messages: user('hooks please') }, { headers: { 'x-request-id': requestId } })
      .withResponse();
    expect(order(requestId, 'pre')).toEqual(['A', 'typed', 'C']);
    expect(order(requestId, 'post')).toEqual(['C', 'typed', 'A']);
    // All three pre-hooks come before the first post-hook.
    expect(callsOf(requestId).filter((c) => c.hook === 'pre' || c.hook === 'post').map((c) => c.hook))
      .toEqual(['pre', 'pre', 'pre', 'post', 'post', 'post']);
    expect(h.fake.requestsWithId(requestId)).toHaveLength(1);

    const pre = callsOf(requestId, 'pre')[0];
    expect(pre).toMatchObject({ provider: 'openai', model: 'gpt-4o', stream: false, requestModel: 'openai/gpt-4o' });
    for (const post of callsOf(requestId, 'post')) {
      expect(post).toMatchObject({ status: 200, shortCircuited: false, errorCode: null });
      // The fake reports its cached and reasoning tokens (0), which post-hooks see as the provider said them.
      expect(post.usage).toEqual({ promptTokens: data.usage!.prompt_tokens, completionTokens: data.usage!.completion_tokens,
        totalTokens: data.usage!.total_tokens, cachedTokens: 0, reasoningTokens: 0 });
    }
  });

  it('a pre-hook\'s change to the request is what the provider gets', async () => {
    const requestId = 'plugins-change-1';
    await h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('change me'), user: 'the client' },
      { headers: { 'x-request-id': requestId, 'x-set-user': 'C' } });
    const [sent] = h.fake.requestsWithId(requestId);
    expect(sent.body).toMatchObject({ model: 'gpt-4o', user: 'C', messages: user('change me') });
  });

  it('short-circuit with a response: the client gets it, the provider is never called, later plugins are skipped', async () => {
    const requestId = 'plugins-short-1';
    const before = h.fake.requests.length;
    const data = await h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('cached?') },
      { headers: { 'x-request-id': requestId, 'x-short-circuit': 'typed' } });
    expect(data.id).toBe('chatcmpl-typed-cache');
    expect(data.choices[0].message.content).toBe('cached answer from typed');
    expect(data.model).toBe('gpt-4o');
    expect(h.fake.requests.length).toBe(before);
    expect(h.fake.requestsWithId(requestId)).toHaveLength(0);
    expect(order(requestId, 'pre')).toEqual(['A', 'typed']);
    // The short-circuiting plugin's post-hook runs too, then the earlier ones; C's never.
    expect(order(requestId, 'post')).toEqual(['typed', 'A']);
    for (const post of callsOf(requestId, 'post')) expect(post).toMatchObject({ status: 200, shortCircuited: true });
  });

  it('short-circuit with an error: its status, OpenAI\'s envelope, and no provider call', async () => {
    const requestId = 'plugins-reject-1';
    const before = h.fake.requests.length;
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('let me in') },
      { headers: { 'x-request-id': requestId, 'x-reject': 'A' } }));
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(error.status).toBe(403);
    expect(error.code).toBe('plugin_rejected');
    expect(error.message).toContain('refused by plugin A');
    expect(error.type).toBe('permission_error');
    expect(h.fake.requests.length).toBe(before);
    expect(order(requestId, 'pre')).toEqual(['A']);
    expect(order(requestId, 'post')).toEqual(['A']);
    expect(callsOf(requestId, 'post')[0]).toMatchObject({ status: 403, shortCircuited: true, errorCode: 'PLUGIN_REJECTED' });

    const raw = await postChat(h.url, { model: 'openai/gpt-4o', messages: user('raw') }, { 'x-reject': 'C' });
    expect(raw.status).toBe(403);
    const envelope = expectEnvelope(await raw.json(), 'plugin_rejected');
    // The type follows the plugin's status, as OpenAI types a 403.
    expect(envelope.type).toBe('permission_error');
  });

  it('a pre-hook that throws fails the request with 500 plugin_failed, and post-hooks unwind from it', async () => {
    const requestId = 'plugins-throw-1';
    const error = await apiError(h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('boom') },
      { headers: { 'x-request-id': requestId, 'x-throw': 'C' } }));
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.status).toBe(500);
    expect(error.code).toBe('plugin_failed');
    // The plugin's own error message does not leak to the client.
    expect(error.message).not.toContain('asked to throw');
    expect(h.fake.requestsWithId(requestId)).toHaveLength(0);
    expect(order(requestId, 'pre')).toEqual(['A', 'typed', 'C']);
    expect(order(requestId, 'post')).toEqual(['C', 'typed', 'A']);
  });

  it('the chunk hook sees every streamed chunk, each plugin in config order, exactly as the client gets it', async () => {
    const requestId = 'plugins-stream-1';
    const response = await postChat(h.url, { model: 'openai/gpt-4o', messages: user('stream through the hooks'), stream: true,
      stream_options: { include_usage: true } }, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    const events = sseData(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    const delivered = events.slice(0, -1);
    const upstream = h.fake.requestsWithId(requestId)[0];
    expect(delivered).toEqual(upstream.events.slice(0, -1));
    expect(delivered.length).toBeGreaterThan(5);

    const chunkCalls = callsOf(requestId, 'chunk');
    expect(chunkCalls).toHaveLength(delivered.length * 3);
    for (const plugin of ['A', 'typed', 'C']) {
      expect(chunkCalls.filter((c) => c.plugin === plugin).map((c) => c.chunk)).toEqual(delivered);
    }
    // Per chunk, the hooks run in config order.
    expect(chunkCalls.slice(0, 3).map((c) => c.plugin)).toEqual(['A', 'typed', 'C']);
    expect(order(requestId, 'pre')).toEqual(['A', 'typed', 'C']);
    expect(order(requestId, 'post')).toEqual(['C', 'typed', 'A']);
    expect(callsOf(requestId, 'pre')[0].stream).toBe(true);
    // The stream's usage reached the post-hooks.
    const usage = JSON.parse(delivered.at(-1)!) as { usage: { prompt_tokens: number } };
    expect((callsOf(requestId, 'post')[0].usage as { promptTokens: number }).promptTokens).toBe(usage.usage.prompt_tokens);
  });

  it('a chunk hook may rewrite chunks: later hooks and the client see the rewritten one', async () => {
    const requestId = 'plugins-upper-1';
    const stream = await h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('make me loud'), stream: true },
      { headers: { 'x-request-id': requestId, 'x-upper': 'typed' } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    const upstream = h.fake.requestsWithId(requestId)[0];
    expect(text).toBe(upstream.content.toUpperCase());
    expect(text).toContain('MAKE ME LOUD');
    const seenByC = callsOf(requestId, 'chunk').filter((c) => c.plugin === 'C').map((c) => c.chunk as string);
    expect(seenByC.some((chunk) => chunk.includes('MAKE'))).toBe(true);
  });

  it('post-hooks run once, with 499, when the client goes away mid-stream', async () => {
    const requestId = 'plugins-abort-1';
    const controller = new AbortController();
    const stream = await h.client.chat.completions.create({ model: 'openai/gpt-4o-endless-20', messages: user('forever'), stream: true },
      { headers: { 'x-request-id': requestId }, signal: controller.signal });
    let n = 0;
    for await (const _chunk of stream) if (++n === 2) controller.abort();
    await eventually(() => order(requestId, 'post'), (plugins) => plugins.length === 3);
    expect(order(requestId, 'post')).toEqual(['C', 'typed', 'A']);
    for (const post of callsOf(requestId, 'post')) expect(post).toMatchObject({ status: 499, errorCode: 'CLIENT_CLOSED' });
    await h.fake.requestsWithId(requestId)[0].closed;
    // The worker's cancellation came back and released the request…
    await eventually(() => h.gateway.pools.get('openai')!.stats(), (s) => s.inFlight === 0 && s.slotsInUse === 0);
    // …without a second round of post-hooks (the typed one is async: let its microtasks run).
    await new Promise((resolve) => setImmediate(resolve));
    expect(order(requestId, 'post')).toHaveLength(3);
  });

  it('post-hooks still run for the plugins whose pre-hook ran when the client leaves during an async pre-hook', async () => {
    const requestId = 'plugins-abort-pre-1';
    const controller = new AbortController();
    const pending = h.client.chat.completions.create({ model: 'openai/gpt-4o', messages: user('leaving early') },
      { headers: { 'x-request-id': requestId, 'x-pre-delay-ms': '400' }, signal: controller.signal });
    // The typed plugin's pre-hook is now sleeping; A's pre-hook has run.
    await eventually(() => order(requestId, 'pre'), (plugins) => plugins.length === 2);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await eventually(() => callsOf(requestId, 'pre-settled').length, (n) => n === 1);
    const pre = order(requestId, 'pre');
    expect(pre.slice(0, 2)).toEqual(['A', 'typed']);
    // What the pre-hooks that ran opened must be closed by their post-hooks, last first (contract.ts). The
    // post-hooks are async: give them a bounded moment.
    await eventually(() => order(requestId, 'post'), (post) => post.length >= pre.length, 1_000).catch(() => undefined);
    expect(order(requestId, 'post')).toEqual([...pre].reverse());
    // And the provider is not called for a client that has gone.
    expect(h.gateway.pools.get('openai')!.stats().inFlight).toBe(0);
    expect(h.fake.requestsWithId(requestId)).toHaveLength(0);
  });
});

describe('plugins and fallbacks', () => {
  it('a fallback runs the pre-hooks again, after the post-hooks of the attempt that failed', async () => {
    const requestId = 'plugins-fallback-1';
    h.fake.script('fails-first', { error: { status: 500 } });
    const { data, response } = await h.client.chat.completions
      .create({ model: 'openai/fails-first', messages: user('again'), fallbacks: ['openai/gpt-4o'] } as never,
        { headers: { 'x-request-id': requestId } })
      .withResponse() as unknown as { data: OpenAI.ChatCompletion; response: Response };
    expect(data.choices[0].message.content).toContain('again');
    expect(response.headers.get('x-heimdall-fallback-index')).toBe('1');
    const hooks = callsOf(requestId).filter((c) => c.hook === 'pre' || c.hook === 'post');
    expect(hooks.map((c) => `${c.hook}:${c.plugin}`)).toEqual([
      'pre:A', 'pre:typed', 'pre:C', 'post:C', 'post:typed', 'post:A',
      'pre:A', 'pre:typed', 'pre:C', 'post:C', 'post:typed', 'post:A',
    ]);
    expect(hooks[0]).toMatchObject({ model: 'fails-first', requestModel: 'openai/fails-first' });
    expect(hooks[3]).toMatchObject({ status: 502, errorCode: 'UPSTREAM_ERROR' });
    expect(hooks[6]).toMatchObject({ model: 'gpt-4o', requestModel: 'openai/gpt-4o' });
    expect(hooks[9]).toMatchObject({ status: 200, errorCode: null });
    // Neither upstream call carried the `fallbacks` field.
    for (const call of h.fake.requestsWithId(requestId)) expect(call.rawBody).not.toContain('fallbacks');
  });
});
