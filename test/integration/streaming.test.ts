// Streaming through the real gateway: chunks relayed as the upstream sent them, [DONE] at the end, the usage
// chunk only for clients that asked; a client abort reaching the upstream; an upstream that breaks off.

import { APIError, APIUserAbortError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, collectUntilFailure, eventually, expectEnvelope, type Harness, metricValue, openaiProvider, postChat, sseData, startHarness, user } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      providers: {
        openai: openaiProvider(fakeUrl, { concurrency_and_buffer_size: { threads: 1 } }),
        // An OpenAI-compatible server written in Python: its JSON has spaces after ':' and ','.
        pyserver: openaiProvider(fakeUrl, { custom_provider_config: { base_provider_type: 'openai' } }),
      },
    }),
  });
  h.fake.script('py-model', { spacedJson: true });
});

afterAll(async () => {
  await h?.close();
});

const idle = () => eventually(() => h.gateway.pools.get('openai')!.stats(),
  (stats) => stats.inFlight === 0 && stats.queued === 0 && stats.slotsInUse === 0);


describe('streaming chat', () => {
  it('relays the upstream chunks in order: assembled content equals the fake\'s, and no usage chunk unless asked', async () => {
    const requestId = 'stream-plain-1';
    const stream = await h.client.chat.completions.create(
      { model: 'openai/gpt-4o', messages: user('tell me a story'), stream: true },
      { headers: { 'x-request-id': requestId } });
    const chunks = await collect(stream);
    const upstream = h.fake.requestsWithId(requestId)[0];
    // The gateway always asks the upstream for usage (token metrics), but keeps it from this client.
    expect(upstream.body!.stream_options).toEqual({ include_usage: true });
    expect(upstream.body!.model).toBe('gpt-4o');
    expect(upstream.headers.accept).toBe('text/event-stream');

    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(upstream.content);
    expect(text).toContain('tell me a story');
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.some((c) => c.choices.length === 0)).toBe(false);
    expect(chunks.some((c) => c.usage)).toBe(false);
    // Every upstream chunk but the usage chunk and [DONE] reached the client.
    expect(chunks).toHaveLength(upstream.events.length - 2);
  });

  it('sends the usage chunk last when stream_options.include_usage was asked', async () => {
    const requestId = 'stream-usage-1';
    const stream = await h.client.chat.completions.create(
      { model: 'openai/gpt-4o', messages: user('count tokens'), stream: true, stream_options: { include_usage: true } },
      { headers: { 'x-request-id': requestId } });
    const chunks = await collect(stream);
    const upstream = h.fake.requestsWithId(requestId)[0];
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const upstreamUsage = JSON.parse(upstream.events.at(-2)!) as { usage: object };
    expect(last.usage).toEqual(upstreamUsage.usage);
    expect(chunks.slice(0, -1).every((c) => c.choices.length === 1)).toBe(true);
  });

  it('puts the upstream events on the wire unchanged, SSE-framed, and ends with data: [DONE]', async () => {
    const requestId = 'stream-raw-1';
    const response = await postChat(h.url, { model: 'openai/gpt-4o', messages: user('raw bytes'), stream: true,
      stream_options: { include_usage: true } }, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const body = await response.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(sseData(body)).toEqual(h.fake.requestsWithId(requestId)[0].events);
  });

  it('streams tool-call deltas the SDK reassembles', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'search_docs', parameters: { type: 'object', properties: {} } } }];
    const final = await h.client.chat.completions
      .stream({ model: 'openai/gpt-4o-tools', messages: user('search for heimdall'), tools })
      .finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const call = final.choices[0].message.tool_calls![0];
    if (call.type !== 'function') throw new Error(`expected a function call, got ${call.type}`);
    expect(call.function.name).toBe('search_docs');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
  });

  it('carries a client abort mid-stream to the upstream, and leaves nothing in flight or in the rings', async () => {
    const requestId = 'stream-abort-1';
    const controller = new AbortController();
    const stream = await h.client.chat.completions.create(
      { model: 'openai/gpt-4o-endless-25', messages: user('never stop'), stream: true },
      { headers: { 'x-request-id': requestId }, signal: controller.signal });
    let contentChunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) contentChunks++;
      if (contentChunks === 2) controller.abort();
    }
    expect(contentChunks).toBe(2);
    const upstream = h.fake.requestsWithId(requestId)[0];
    // The upstream call is torn down: the fake sees its client (the gateway's worker) go away.
    await expect(Promise.race([
      upstream.closed.then(() => 'closed'),
      new Promise((resolve) => setTimeout(resolve, 5_000, 'still open')),
    ])).resolves.toBe('closed');
    expect(upstream.clientAborted).toBe(true);
    expect(upstream.events).not.toContain('[DONE]');
    const stats = await idle();
    expect(stats).toEqual({ threads: 1, inFlight: 0, queued: 0, slotsInUse: 0 });
  });

  it('carries a client abort of a non-streamed request to the upstream as well', async () => {
    const requestId = 'plain-abort-1';
    const controller = new AbortController();
    const pending = h.client.chat.completions.create({ model: 'openai/gpt-4o-latency-5000', messages: user('wait for it') },
      { headers: { 'x-request-id': requestId }, signal: controller.signal });
    await eventually(() => h.fake.requestsWithId(requestId).length, (n) => n === 1);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    const upstream = h.fake.requestsWithId(requestId)[0];
    await expect(Promise.race([
      upstream.closed.then(() => 'closed'),
      new Promise((resolve) => setTimeout(resolve, 3_000, 'still open')),
    ])).resolves.toBe('closed');
    expect(upstream.clientAborted).toBe(true);
    expect(upstream.status).toBe(0);
    expect(await idle()).toEqual({ threads: 1, inFlight: 0, queued: 0, slotsInUse: 0 });
  });

  it('turns an upstream that breaks off after the first chunk into an SSE error event the SDK throws', async () => {
    const requestId = 'stream-break-1';
    const stream = await h.client.chat.completions.create(
      { model: 'openai/gpt-4o-break-after-2', messages: user('break please'), stream: true },
      { headers: { 'x-request-id': requestId } });
    const { received, failure } = await collectUntilFailure(stream);
    expect(failure).toBeInstanceOf(APIError);
    const error = failure as APIError;
    expect(error.code).toBe('stream_interrupted');
    expect(error.type).toBe('api_error');
    // What the upstream sent before it broke reached the client first.
    expect(received.length).toBe(2);
    expect(received[0].choices[0].delta.role).toBe('assistant');
    await idle();
  });

  it('ends the connection cleanly after the error event (raw view)', async () => {
    const requestId = 'stream-break-raw';
    const response = await postChat(h.url, { model: 'openai/gpt-4o-break-after-2', messages: user('break raw'), stream: true },
      { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    // text() rejects if the response is cut off rather than ended.
    const body = await response.text();
    const events = sseData(body);
    expect(events).toHaveLength(3);
    // The chunks arrive as the upstream sent them, less the `"usage":null` the gateway's own usage request added
    // (this client did not ask for usage, and OpenAI leaves the field out for such clients).
    const upstream = h.fake.requestsWithId(requestId)[0].events.map((event) => event.replace(',"usage":null', ''));
    expect(events.slice(0, 2)).toEqual(upstream);
    expect(events.join('')).not.toContain('"usage"');
    expectEnvelope(JSON.parse(events[2]), 'stream_interrupted');
    expect(body).not.toContain('[DONE]');
    expect(body.endsWith('\n\n')).toBe(true);
  });

  it('treats an upstream stream that ends without [DONE] as interrupted', async () => {
    const stream = await h.client.chat.completions.create(
      { model: 'openai/gpt-4o-no-done', messages: user('no done'), stream: true });
    const { received, failure } = await collectUntilFailure(stream);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).code).toBe('stream_interrupted');
    // The content itself got through before the error.
    expect(received.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('keeps serving streams after all that', async () => {
    const chunks = await collect(await h.client.chat.completions.create(
      { model: 'openai/gpt-4o', messages: user('still alive?'), stream: true }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toContain('still alive?');
    expect(await idle()).toMatchObject({ inFlight: 0, slotsInUse: 0 });
  });
});

describe('an OpenAI-compatible server that writes JSON with spaces (Python\'s json.dumps)', () => {
  it('still withholds the usage chunk from a client that did not ask for it', async () => {
    const requestId = 'py-stream-1';
    const response = await postChat(h.url, { model: 'pyserver/py-model', messages: user('hello python'), stream: true },
      { 'x-request-id': requestId });
    const events = sseData(await response.text());
    const upstream = h.fake.requestsWithId(requestId)[0];
    // The upstream did send one (the gateway asks for it, for its token metrics)…
    expect(upstream.events.some((e) => e.includes('"choices": []'))).toBe(true);
    expect(events.at(-1)).toBe('[DONE]');
    // …but this client did not ask: every chunk it gets has a choice, as OpenAI promises.
    const withoutChoice = events.slice(0, -1).filter((e) => (JSON.parse(e) as { choices: unknown[] }).choices.length === 0);
    expect(withoutChoice).toEqual([]);
  });

  it('still counts the stream\'s tokens from the usage chunk', async () => {
    const requestId = 'py-stream-2';
    const before = metricValue(await fetch(`${h.url}/metrics`).then((r) => r.text()), 'heimdall_tokens_total',
      { provider: 'pyserver', model: 'py-model', direction: 'output' }) ?? 0;
    const response = await postChat(h.url, { model: 'pyserver/py-model', messages: user('count me'), stream: true,
      stream_options: { include_usage: true } }, { 'x-request-id': requestId });
    const events = sseData(await response.text());
    const usage = (JSON.parse(events.at(-2)!) as { usage: { completion_tokens: number } }).usage;
    expect(usage.completion_tokens).toBeGreaterThan(0);
    const exposition = await eventually(() => fetch(`${h.url}/metrics`).then((r) => r.text()),
      (text) => (metricValue(text, 'heimdall_tokens_total', { provider: 'pyserver', model: 'py-model', direction: 'output' }) ?? 0) > before, 2_000)
      .catch(() => fetch(`${h.url}/metrics`).then((r) => r.text()));
    expect(metricValue(exposition, 'heimdall_tokens_total', { provider: 'pyserver', model: 'py-model', direction: 'output' }))
      .toBe(before + usage.completion_tokens);
  });

  it('answers non-streamed requests intact', async () => {
    const { data, response } = await h.client.chat.completions
      .create({ model: 'pyserver/py-model', messages: user('plain python') }).withResponse();
    const upstream = h.fake.requestsWithId(response.headers.get('x-request-id')!)[0];
    expect(upstream.responseBody).toContain('"object": "chat.completion"');
    expect(data.choices[0].message.content).toBe(upstream.content);
  });
});
