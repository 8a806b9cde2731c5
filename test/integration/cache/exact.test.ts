// The response cache's exact layer through the real gateway, in front of the fake OpenAI server (which counts what
// reaches it): a hit is the original answer byte for byte without an upstream call; streams replay as they came;
// a JSON answer serves a stream and the reverse; TTLs, scopes, no-store, bad headers, metrics and the request log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../../dist/src/gateway.js';
import type { RequestLogRecord } from '../../../dist/src/stores/log-record.js';
import { openRequestLog } from '../../../dist/src/stores/request-log.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { eventually, openaiProvider, postChat, sseData } from '../harness.js';

let fake: FakeOpenAI;
let gateway: Gateway;
let url: string;
let dir: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  dir = mkdtempSync(join(tmpdir(), 'heimdall-cache-'));
  const log = await openRequestLog({ target: { type: 'sqlite', path: join(dir, 'logs.db') }, logger: pino({ level: 'silent' }),
    retentionDays: 0, flushIntervalMs: 5 });
  const config = await loadConfig({
    raw: {
      providers: { openai: openaiProvider(fake.url), mock: { mock_config: { latency_ms: 0, chunk_count: 3 } } },
      plugins: ['metrics', { name: 'semantic_cache', config: { ttl: '5m', conversation_history_threshold: 5 } }],
    },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  gateway = await startGateway(config, { logger: pino({ level: 'silent' }), requestLog: log });
  url = `http://127.0.0.1:${gateway.port}`;
});

afterAll(async () => {
  await gateway?.close(200);
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
/** A prompt no other test asks, so each test starts from an empty cache. */
const fresh = (label: string) => `${label} #${++counter} ${Math.random()}`;
const chatBody = (prompt: string, extra: object = {}) => ({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }], ...extra });
const cached = (key = 'tests'): Record<string, string> => ({ 'x-bf-cache-key': key });
const upstreamCount = () => fake.requests.filter((r) => r.path === '/v1/chat/completions').length;

describe('exact layer', () => {
  it('answers a repeated request from the cache, byte for byte, without calling the provider', async () => {
    const body = chatBody(fresh('same'));
    const first = await postChat(url, body, cached());
    const firstText = await first.text();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-heimdall-cache')).toBe('miss');
    const before = upstreamCount();
    const second = await postChat(url, body, cached());
    expect(second.status).toBe(200);
    expect(second.headers.get('x-heimdall-cache')).toBe('hit');
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(0);
    expect(await second.text()).toBe(firstText);
    expect(upstreamCount()).toBe(before);
  });

  it('keys on the body, not its key order, and on everything that decides the answer', async () => {
    const prompt = fresh('order');
    await (await postChat(url, chatBody(prompt, { max_tokens: 20 }), cached())).text();
    const reordered = await postChat(url, JSON.stringify({ max_tokens: 20, messages: [{ content: prompt, role: 'user' }],
      model: 'openai/gpt-4o-mini' }), cached());
    expect(reordered.headers.get('x-heimdall-cache')).toBe('hit');
    for (const changed of [chatBody(prompt, { max_tokens: 21 }), { ...chatBody(prompt, { max_tokens: 20 }), model: 'openai/gpt-4o' },
      chatBody(prompt, { max_tokens: 20, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] })]) {
      const answer = await postChat(url, changed, cached());
      await answer.text();
      expect(answer.headers.get('x-heimdall-cache')).toBe('miss');
    }
    // Another cache key is another namespace.
    const other = await postChat(url, chatBody(prompt, { max_tokens: 20 }), cached('other'));
    await other.text();
    expect(other.headers.get('x-heimdall-cache')).toBe('miss');
  });

  it('keys on the route: the same request through another dialect is not answered from this one', async () => {
    const prompt = fresh('dialect');
    await (await postChat(url, chatBody(prompt), cached())).text();
    const dropIn = await fetch(`${url}/openai/v1/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', ...cached() }, body: JSON.stringify(chatBody(prompt)) });
    await dropIn.text();
    // The drop-in speaks the same dialect as /v1: same entry.
    expect(dropIn.headers.get('x-heimdall-cache')).toBe('hit');
    const anthropic = await fetch(`${url}/anthropic/v1/messages`, { method: 'POST',
      headers: { 'content-type': 'application/json', ...cached() },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: prompt }] }) });
    const message = await anthropic.json() as { type: string };
    expect(anthropic.headers.get('x-heimdall-cache')).toBe('miss');
    expect(message.type).toBe('message');
    const again = await fetch(`${url}/anthropic/v1/messages`, { method: 'POST',
      headers: { 'content-type': 'application/json', ...cached() },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: prompt }] }) });
    expect(again.headers.get('x-heimdall-cache')).toBe('hit');
    expect(await again.json()).toEqual(message);
  });

  it('caches embeddings too', async () => {
    const input = fresh('embed');
    const request = () => fetch(`${url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', ...cached() },
      body: JSON.stringify({ model: 'openai/text-embedding-3-small', input }) });
    const first = await request();
    const text = await first.text();
    expect(first.headers.get('x-heimdall-cache')).toBe('miss');
    const before = fake.requests.length;
    const second = await request();
    expect(second.headers.get('x-heimdall-cache')).toBe('hit');
    expect(await second.text()).toBe(text);
    expect(fake.requests.length).toBe(before);
  });

  it('without x-bf-cache-key the cache is bypassed', async () => {
    const body = chatBody(fresh('bypass'));
    for (let i = 0; i < 2; i++) {
      const answer = await postChat(url, body);
      await answer.text();
      expect(answer.headers.get('x-heimdall-cache')).toBe('bypass');
    }
  });

  it('n > 1 and sampling without a seed bypass the cache unless the config allows them', async () => {
    for (const extra of [{ n: 2 }, { temperature: 0.7 }]) {
      const body = chatBody(fresh('random'), extra);
      await (await postChat(url, body, cached())).text();
      const again = await postChat(url, body, cached());
      await again.text();
      expect(again.headers.get('x-heimdall-cache')).toBe('bypass');
    }
    const seeded = chatBody(fresh('seeded'), { temperature: 0.7, seed: 1 });
    await (await postChat(url, seeded, cached())).text();
    expect((await postChat(url, seeded, cached())).headers.get('x-heimdall-cache')).toBe('hit');
  });

  it('a conversation longer than conversation_history_threshold is not cached', async () => {
    const messages = Array.from({ length: 6 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${fresh('long')} ${i}` }));
    const body = { model: 'openai/gpt-4o-mini', messages };
    await (await postChat(url, body, cached())).text();
    const again = await postChat(url, body, cached());
    await again.text();
    expect(again.headers.get('x-heimdall-cache')).toBe('bypass');
  });

  it('x-bf-cache-ttl expires an entry; x-bf-cache-no-store keeps an answer out', async () => {
    const body = chatBody(fresh('ttl'));
    await (await postChat(url, body, { ...cached(), 'x-bf-cache-ttl': '300ms' })).text();
    expect((await postChat(url, body, cached())).headers.get('x-heimdall-cache')).toBe('hit');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const expired = await postChat(url, body, cached());
    await expired.text();
    expect(expired.headers.get('x-heimdall-cache')).toBe('miss');

    const kept = chatBody(fresh('no-store'));
    await (await postChat(url, kept, { ...cached(), 'x-bf-cache-no-store': 'true' })).text();
    const after = await postChat(url, kept, cached());
    await after.text();
    expect(after.headers.get('x-heimdall-cache')).toBe('miss');
  });

  it('only successful answers are stored', async () => {
    const body = { model: 'openai/error-500', messages: [{ role: 'user', content: fresh('failing') }] };
    for (let i = 0; i < 2; i++) {
      const answer = await postChat(url, body, cached());
      await answer.text();
      expect(answer.status).toBeGreaterThanOrEqual(500);
      expect(answer.headers.get('x-heimdall-cache')).toBe('miss');
    }
  });

  it('refuses bad cache header values with 400 in the route\'s own error shape', async () => {
    const cases: [string, string][] = [['x-bf-cache-ttl', 'soon'], ['x-bf-cache-ttl', '0'], ['x-bf-cache-threshold', '1.5'],
      ['x-bf-cache-threshold', 'high'], ['x-bf-cache-type', 'fuzzy'], ['x-bf-cache-no-store', 'yes'], ['x-bf-cache-key', 'a b']];
    for (const [name, value] of cases) {
      const answer = await postChat(url, chatBody('x'), { ...cached(), [name]: value });
      expect(answer.status, `${name}: ${value}`).toBe(400);
      const { error } = await answer.json() as { error: { param: string; code: string; message: string } };
      expect(error.param).toBe(name);
      expect(error.code).toBe('invalid_request');
      expect(error.message).toContain(name);
    }
    const anthropic = await fetch(`${url}/anthropic/v1/messages`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-cache-ttl': 'soon' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }) });
    expect(anthropic.status).toBe(400);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
});

describe('streams', () => {
  const stream = (body: object, headers = cached()) => postChat(url, { ...body, stream: true }, headers);

  it('replays a cached stream chunk by chunk, in order, ending as the original did', async () => {
    const body = chatBody(fresh('stream'));
    const first = await stream(body);
    const firstText = await first.text();
    expect(first.headers.get('x-heimdall-cache')).toBe('miss');
    expect(sseData(firstText).at(-1)).toBe('[DONE]');
    const before = upstreamCount();
    const second = await stream(body);
    expect(second.headers.get('x-heimdall-cache')).toBe('hit');
    expect(second.headers.get('content-type')).toContain('text/event-stream');
    expect(await second.text()).toBe(firstText);
    expect(upstreamCount()).toBe(before);
  });

  it('serves a cached JSON answer to a stream request, and a cached stream to a JSON request', async () => {
    const jsonFirst = chatBody(fresh('json-then-stream'));
    const completion = await (await postChat(url, jsonFirst, cached())).json() as { choices: { message: { content: string } }[] };
    const streamed = await stream(jsonFirst);
    expect(streamed.headers.get('x-heimdall-cache')).toBe('hit');
    const events = sseData(await streamed.text());
    expect(events.at(-1)).toBe('[DONE]');
    const text = events.slice(0, -1).map((e) => (JSON.parse(e) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(completion.choices[0].message.content);

    const streamFirst = chatBody(fresh('stream-then-json'));
    const original = sseData(await (await stream(streamFirst)).text());
    const originalText = original.slice(0, -1).map((e) => (JSON.parse(e) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '').join('');
    const asJson = await postChat(url, streamFirst, cached());
    expect(asJson.headers.get('x-heimdall-cache')).toBe('hit');
    const made = await asJson.json() as { object: string; choices: { message: { content: string }; finish_reason: string }[] };
    expect(made.object).toBe('chat.completion');
    expect(made.choices[0].message.content).toBe(originalText);
    expect(made.choices[0].finish_reason).toBe('stop');
  });

  it('gives the usage chunk only to a stream that asks for it', async () => {
    const body = chatBody(fresh('usage'));
    await (await stream({ ...body, stream_options: { include_usage: true } })).text();
    const without = sseData(await (await stream(body)).text());
    expect(without.some((e) => e.includes('"usage"') && e.includes('"choices":[]'))).toBe(false);
    const withUsage = sseData(await (await stream({ ...body, stream_options: { include_usage: true } })).text());
    expect(withUsage.some((e) => e.includes('"usage"') && e.includes('"choices":[]'))).toBe(true);
  });
});

describe('identical requests at once', () => {
  it('the first goes upstream and the others wait for its answer', async () => {
    const body = { model: 'openai/latency-300', messages: [{ role: 'user', content: fresh('burst') }] };
    const before = fake.requests.length;
    const answers = await Promise.all(Array.from({ length: 8 }, () => postChat(url, body, cached())));
    const texts = await Promise.all(answers.map((a) => a.text()));
    expect(fake.requests.length - before).toBe(1);
    expect(answers.map((a) => a.headers.get('x-heimdall-cache')).sort()).toEqual(['hit', 'hit', 'hit', 'hit', 'hit', 'hit', 'hit', 'miss']);
    expect(new Set(texts).size).toBe(1);
  });
});

describe('identical streams at once', () => {
  it('replay the first one\'s stream once it completed', async () => {
    const body = { model: 'openai/latency-300', stream: true, messages: [{ role: 'user', content: fresh('stream-burst') }] };
    const before = fake.requests.length;
    const answers = await Promise.all(Array.from({ length: 4 }, () => postChat(url, body, cached())));
    const texts = await Promise.all(answers.map((a) => a.text()));
    expect(fake.requests.length - before).toBe(1);
    expect(answers.filter((a) => a.headers.get('x-heimdall-cache') === 'hit')).toHaveLength(3);
    expect(new Set(texts).size).toBe(1);
    expect(sseData(texts[0]).at(-1)).toBe('[DONE]');
  });
});

describe('metrics and the request log', () => {
  it('counts lookups, stores and bytes in /metrics', async () => {
    const body = chatBody(fresh('metrics'));
    await (await postChat(url, body, cached())).text();
    await (await postChat(url, body, cached())).text();
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('heimdall_cache_lookups_total{result="hit"}')).toBeGreaterThan(0);
    expect(value('heimdall_cache_lookups_total{result="miss"}')).toBeGreaterThan(0);
    expect(value('heimdall_cache_stores_total')).toBeGreaterThan(0);
    expect(value('heimdall_cache_bytes')).toBeGreaterThan(0);
    expect(value('heimdall_cache_entries')).toBeGreaterThan(0);
    expect(value('heimdall_cache_evictions_total')).toBe(0);
  });

  it('marks a hit in its record, at zero cost, and a miss with the provider\'s cost', async () => {
    const body = chatBody(fresh('logged'));
    await (await postChat(url, body, { ...cached(), 'x-request-id': `miss-${counter}` })).text();
    await (await postChat(url, body, { ...cached(), 'x-request-id': `hit-${counter}` })).text();
    const record = async (id: string) => (await (await eventually(() => fetch(`${url}/api/logs/${id}`), (r) => r.status === 200)).json()) as RequestLogRecord;
    const miss = await record(`miss-${counter}`);
    const hit = await record(`hit-${counter}`);
    expect(miss.cache).toBe('miss');
    expect(miss.costUsd).toBeGreaterThan(0);
    expect(hit.cache).toBe('hit');
    expect(hit.costUsd).toBe(0);
    expect(hit.upstreamMs).toBe(0);
  });
});
