// The request log through the real gateway: one record per request (an answer, an error, a stream, a fallback, a
// client abort, a plugin's short-circuit), content kept or not, and the admin API that reads them back — filters,
// sort, cursor pages, stats, a 400 naming each bad parameter, and SQL injection through every filter.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import type { RequestLogRecord } from '../../dist/src/stores/log-record.js';
import { openRequestLog, type RequestLog } from '../../dist/src/stores/request-log.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic-server.js';
import { FakeCatalog } from '../fakes/mcp-catalog.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventually, openaiProvider, postChat, user } from './harness.js';

const PLUGIN = fileURLToPath(new URL('../fakes/plugins/recorder.js', import.meta.url));

interface Logged {
  gateway: Gateway;
  log: RequestLog;
  url: string;
  close(): Promise<void>;
}

const dirs: string[] = [];
let fake: FakeOpenAI;
let claude: FakeAnthropic;

/** The gateway in front of the fake and the mock, its request log written off-thread into a real SQLite file. */
async function startLogged(content: boolean, mcpCatalog?: FakeCatalog): Promise<Logged> {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-request-log-'));
  dirs.push(dir);
  const log = await openRequestLog({ target: { type: 'sqlite', path: join(dir, 'logs.db') }, logger: pino({ level: 'silent' }),
    retentionDays: 0, flushIntervalMs: 5 });
  const config = await loadConfig({
    raw: {
      client: { disable_content_logging: !content, max_request_body_size_mb: 1 },
      providers: {
        openai: openaiProvider(fake.url),
        anthropic: { keys: [{ value: 'sk-ant', models: ['*'] }], network_config: { base_url: claude.url },
          concurrency_and_buffer_size: { concurrency: 10, buffer_size: 10, threads: 1 } },
        mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
      },
      plugins: [{ name: 'recorder', path: PLUGIN, config: { label: 'A' } }],
    },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  // The gateway owns the log from here, and closes it.
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }), requestLog: log, ...(mcpCatalog ? { mcpCatalog } : {}) });
  return {
    gateway, log, url: `http://127.0.0.1:${gateway.port}`,
    async close() {
      await gateway.close(200);
    },
  };
}

let on: Logged;
let off: Logged;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  claude = await startFakeAnthropic({ apiKey: 'sk-ant' });
  on = await startLogged(true);
  off = await startLogged(false);
});

afterAll(async () => {
  await on?.close();
  await off?.close();
  await fake?.close();
  await claude?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const get = (logged: Logged, path: string) => fetch(`${logged.url}${path}`);

/** The record of `id`, once the sink has stored it. */
async function recordOf(logged: Logged, id: string): Promise<RequestLogRecord> {
  const answer = await eventually(() => get(logged, `/api/logs/${id}`), (r) => r.status === 200);
  return (await answer.json()) as RequestLogRecord;
}

const chat = (logged: Logged, id: string, body: object) => postChat(logged.url, body, { 'x-request-id': id });

describe('one record per request', () => {
  it('an answer: route, dialect, provider, models, key name (not its value), tokens, timings and content', async () => {
    const answer = await chat(on, 'log-answer-1', { model: 'openai/gpt-4o-mini', messages: user('what is logged?') });
    expect(answer.status).toBe(200);
    const text = ((await answer.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content;
    const record = await recordOf(on, 'log-answer-1');
    expect(record).toMatchObject({
      id: 'log-answer-1', route: '/v1/chat/completions', method: 'POST', dialect: 'openai', provider: 'openai',
      modelRequested: 'openai/gpt-4o-mini', model: 'gpt-4o-mini', status: 200, errorCode: null, attempts: 1, fallbacks: 0,
      stream: false, cancelled: false,
    });
    expect(record.keyName).toBeTypeOf('string');
    expect(JSON.stringify(record)).not.toContain('sk-test-upstream');
    expect(record.tokensIn).toBeGreaterThan(0);
    expect(record.tokensOut).toBeGreaterThan(0);
    // Priced from the price table (src/pricing): a known model has a cost, an unknown one null (never a silent zero).
    expect(record.costUsd).toBeGreaterThan(0);
    await chat(on, 'log-unpriced-1', { model: 'openai/model-with-no-price', messages: user('price me') });
    expect(await recordOf(on, 'log-unpriced-1')).toMatchObject({ status: 200, costUsd: null });
    expect(record.latencyMs).toBeGreaterThan(0);
    expect(record.upstreamMs).toBeGreaterThan(0);
    expect(record.overheadMs).toBeGreaterThanOrEqual(0);
    expect(Math.abs(record.timestamp - Date.now())).toBeLessThan(60_000);
    expect(JSON.parse(record.request!)).toMatchObject({ messages: user('what is logged?') });
    expect(record.response).toContain(text);
  });

  it('an error: its status and code, and the error body as the answer', async () => {
    const answer = await chat(on, 'log-error-1', { model: 'openai/error-429', messages: user('fail') });
    expect(answer.status).toBe(429);
    const record = await recordOf(on, 'log-error-1');
    expect(record).toMatchObject({ status: 429, errorCode: 'upstream_rate_limited', provider: 'openai', attempts: 1 });
    expect(record.response).toContain('upstream_rate_limited');
    const unknown = await chat(on, 'log-error-2', { model: 'nope/x', messages: user('hi') });
    expect(unknown.status).toBe(404);
    expect(await recordOf(on, 'log-error-2')).toMatchObject({ status: 404, errorCode: 'unknown_provider', provider: null,
      modelRequested: 'nope/x' });
  });

  it('a stream: streamed, a time to first token, and the chunks accumulated into one message', async () => {
    const answer = await chat(on, 'log-stream-1', { model: 'openai/gpt-4o-mini', messages: user('stream it'), stream: true,
      stream_options: { include_usage: true } });
    const body = await answer.text();
    const streamed = body.split('\n').filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '').join('');
    const record = await recordOf(on, 'log-stream-1');
    expect(record).toMatchObject({ stream: true, status: 200, cancelled: false });
    expect(record.ttftMs).toBeGreaterThan(0);
    const message = JSON.parse(record.response!) as { object: string; choices: { message: { content: string }; finish_reason: string }[] };
    expect(message.object).toBe('chat.completion');
    expect(message.choices[0].message.content).toBe(streamed);
    expect(message.choices[0].finish_reason).toBe('stop');
  });

  it('a stream on another dialect: Anthropic\'s final Message', async () => {
    const answer = await fetch(`${on.url}/anthropic/v1/messages`, { method: 'POST', headers: { 'x-request-id': 'log-anthropic-1',
      'content-type': 'application/json' }, body: JSON.stringify({ model: 'mock/echo', max_tokens: 50, stream: true,
      messages: user('hello anthropic') }) });
    expect(answer.status).toBe(200);
    await answer.text();
    const record = await recordOf(on, 'log-anthropic-1');
    expect(record).toMatchObject({ dialect: 'anthropic', route: '/anthropic/v1/messages', provider: 'mock', stream: true });
    const message = JSON.parse(record.response!) as { type: string; content: { type: string; text: string }[] };
    expect(message.type).toBe('message');
    expect(message.content[0].text.length).toBeGreaterThan(0);
  });

  it('a fallback: the tries, which fallback answered, and the provider that did', async () => {
    const answer = await chat(on, 'log-fallback-1', { model: 'openai/error-503', messages: user('fall back'), fallbacks: ['mock/echo'] });
    expect(answer.status).toBe(200);
    expect(await recordOf(on, 'log-fallback-1')).toMatchObject({ status: 200, provider: 'mock', model: 'echo',
      modelRequested: 'openai/error-503', attempts: 2, fallbacks: 1, errorCode: null, costUsd: 0 });
  });

  it('a client abort: cancelled, 499 client_closed, the content streamed so far', async () => {
    const controller = new AbortController();
    const answer = await chat(on, 'log-abort-1', { model: 'openai/endless-20', messages: user('go on'), stream: true });
    const reader = answer.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    await reader.cancel();
    const record = await recordOf(on, 'log-abort-1');
    expect(record).toMatchObject({ status: 499, cancelled: true, errorCode: 'client_closed', stream: true });
    expect(record.response).toContain('chat.completion');
  });

  it("a plugin's short-circuit: the plugin's answer, no provider call", async () => {
    const answer = await postChat(on.url, { model: 'openai/gpt-4o', messages: user('cached?') },
      { 'x-request-id': 'log-short-1', 'x-short-circuit': 'A' });
    expect(answer.status).toBe(200);
    const record = await recordOf(on, 'log-short-1');
    expect(record).toMatchObject({ status: 200, provider: 'openai', upstreamMs: null });
    expect(record.response).toContain('cached answer from A');
    const streamed = await postChat(on.url, { model: 'openai/gpt-4o', messages: user('cached?'), stream: true },
      { 'x-request-id': 'log-short-2', 'x-short-circuit': 'A' });
    await streamed.text();
    const streamRecord = await recordOf(on, 'log-short-2');
    expect(streamRecord.stream).toBe(true);
    expect(JSON.parse(streamRecord.response!).choices[0].message.content).toBe('cached answer from A');
  });

  it('embeddings and a media answer: described, not stored', async () => {
    const speech = await fetch(`${on.url}/v1/audio/speech`, { method: 'POST', headers: { 'x-request-id': 'log-speech-1',
      'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/tts-1', input: 'say this', voice: 'alloy' }) });
    expect(speech.status).toBe(200);
    const bytes = (await speech.arrayBuffer()).byteLength;
    const record = await recordOf(on, 'log-speech-1');
    expect(JSON.parse(record.response!)).toEqual({ media: 'audio/mpeg', bytes });
    expect(record.request).toContain('say this');
    const embed = await fetch(`${on.url}/v1/embeddings`, { method: 'POST', headers: { 'x-request-id': 'log-embed-1',
      'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/text-embedding-3-small', input: 'vectors' }) });
    expect(embed.status).toBe(200);
    expect(await recordOf(on, 'log-embed-1')).toMatchObject({ status: 200, dialect: 'openai', route: '/v1/embeddings' });
  });

  it.each([
    ['/v1/responses', { model: 'openai/gpt-4o-mini', input: 'native responses' }, 'responses'],
    ['/v1/responses', { model: 'openai/gpt-4o-mini', input: 'native stream', stream: true }, 'responses'],
    ['/v1/completions', { model: 'mock/echo', prompt: 'complete me' }, 'completions'],
    ['/genai/v1beta/models/mock%2Fecho:generateContent', { contents: [{ parts: [{ text: 'hi genai' }] }] }, 'genai'],
    ['/bedrock/model/mock%2Fecho/converse', { messages: [{ role: 'user', content: [{ text: 'hi bedrock' }] }] }, 'bedrock'],
    ['/v1/images/generations', { model: 'openai/gpt-image-1', prompt: 'a cat' }, 'image_generation'],
  ])('%s: one record, in the dialect its client spoke', async (path, body, dialect) => {
    const id = `log-route-${dialect}-${'stream' in body ? 'stream' : 'json'}`;
    const answer = await fetch(`${on.url}${path}`, { method: 'POST', headers: { 'x-request-id': id, 'content-type': 'application/json' },
      body: JSON.stringify(body) });
    expect(answer.status).toBe(200);
    const text = await answer.text();
    const record = await recordOf(on, id);
    expect(record).toMatchObject({ status: 200, dialect });
    expect(record.response).not.toBeNull();
    if (dialect === 'image_generation') expect(JSON.parse(record.response!)).toEqual({ media: 'application/json', bytes: Buffer.byteLength(text) });
    else if (dialect === 'responses' && 'stream' in body) expect(JSON.parse(record.response!)).toMatchObject({ object: 'response', status: 'completed' });
    else expect(record.response!.length).toBeGreaterThan(10);
  });

  it('a transcription: the uploaded audio described, the transcript kept', async () => {
    const form = new FormData();
    form.set('model', 'openai/whisper-1');
    form.set('file', new Blob([Buffer.alloc(2048, 1)], { type: 'audio/wav' }), 'a.wav');
    const answer = await fetch(`${on.url}/v1/audio/transcriptions`, { method: 'POST', headers: { 'x-request-id': 'log-transcribe-1' }, body: form });
    expect(answer.status).toBe(200);
    const text = await answer.text();
    const record = await recordOf(on, 'log-transcribe-1');
    expect(JSON.parse(record.request!)).toMatchObject({ media: 'multipart/form-data' });
    expect(record.request).not.toContain('\u0001');
    expect(record.response).toBe(text);
  });

  it('a request larger than the cap is kept up to it, with a visible truncation mark', async () => {
    const long = 'x'.repeat(100_000);
    await chat(on, 'log-long-1', { model: 'mock/echo', messages: user(long) });
    const record = await recordOf(on, 'log-long-1');
    expect(record.request!.length).toBeLessThan(70_000);
    expect(record.request).toMatch(/…\[truncated by heimdall: \d+ more bytes\]$/);
  });

  it('with content logging off: the record, and no request or answer', async () => {
    await chat(off, 'log-off-1', { model: 'openai/gpt-4o-mini', messages: user('secret prompt') });
    await (await chat(off, 'log-off-2', { model: 'mock/echo', messages: user('secret stream'), stream: true })).text();
    for (const id of ['log-off-1', 'log-off-2']) {
      const record = await recordOf(off, id);
      expect(record.status).toBe(200);
      expect(record.request).toBeNull();
      expect(record.response).toBeNull();
    }
    const all = await (await get(off, '/api/logs?limit=1000')).text();
    expect(all).not.toContain('secret');
  });

  it('a request refused before its handler: a body over client.max_request_body_size_mb, on any dialect', async () => {
    const big = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: user('x'.repeat(1_200_000)) });
    const refused = await chat(on, 'log-too-large-1', JSON.parse(big) as object);
    expect(refused.status).toBe(413);
    expect(await recordOf(on, 'log-too-large-1')).toMatchObject({ route: '/v1/chat/completions', dialect: 'openai', status: 413,
      errorCode: 'body_too_large', provider: null, modelRequested: null, request: null });
    const form = new FormData();
    form.set('model', 'openai/whisper-1');
    form.set('file', new Blob([Buffer.alloc(1_200_000, 1)], { type: 'audio/wav' }), 'a.wav');
    const upload = await fetch(`${on.url}/v1/audio/transcriptions`, { method: 'POST', headers: { 'x-request-id': 'log-too-large-2' }, body: form });
    expect(upload.status).toBe(413);
    expect(await recordOf(on, 'log-too-large-2')).toMatchObject({ route: '/v1/audio/transcriptions', status: 413, errorCode: 'body_too_large' });
    const anthropic = await fetch(`${on.url}/anthropic/v1/messages`, { method: 'POST', headers: { 'x-request-id': 'log-too-large-3',
      'content-type': 'application/json' }, body: big });
    expect(anthropic.status).toBe(413);
    expect(await recordOf(on, 'log-too-large-3')).toMatchObject({ dialect: 'anthropic', status: 413 });
  });

  it('a failed request that used tokens: their count and price (an agent turn the model answered before the failure)', async () => {
    const catalog = new FakeCatalog([{ client: 'weather', tool: 'forecast', autoExecute: true, run: () => ({ content: 'sunny', isError: false }) }]);
    const agent = await startLogged(true, catalog);
    try {
      fake.script('gpt-4.1-mini', [
        { toolCalls: [{ id: 'call_1', name: 'weather_forecast', arguments: '{}' }], usage: { prompt_tokens: 1000, completion_tokens: 500 } },
        { error: { status: 400 } },
      ]);
      const failed = await chat(agent, 'log-spent-1', { model: 'openai/gpt-4.1-mini', messages: user('weather?') });
      expect(failed.status).toBe(400);
      const record = await recordOf(agent, 'log-spent-1');
      expect(record).toMatchObject({ status: 400, tokensIn: 1000, tokensOut: 500 });
      // gpt-4.1-mini: $0.40 in, $1.60 out per million tokens.
      expect(record.costUsd).toBeCloseTo(0.0004 + 0.0008, 9);
    } finally {
      await agent.close();
    }
  });

  it('a stream that breaks partway: the usage the provider reported before the break, and its price', async () => {
    // Anthropic reports the input (and the first output token) in message_start; the connection then breaks.
    claude.script('claude-3-5-haiku-20241022', { breakAfterEvents: 4, usage: { input_tokens: 1000 } });
    const answer = await chat(on, 'log-broken-1', { model: 'anthropic/claude-3-5-haiku-20241022', messages: user('go'), stream: true });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('stream_interrupted');
    const record = await recordOf(on, 'log-broken-1');
    expect(record).toMatchObject({ status: 200, stream: true, errorCode: 'stream_interrupted', tokensIn: 1000, tokensOut: 1 });
    // claude-3-5-haiku: $0.80 in, $4 out per million tokens.
    expect(record.costUsd).toBeCloseTo((1000 * 0.8 + 4) / 1e6, 12);
  });

  it('the admin API\'s own requests, and the other routes, are not recorded', async () => {
    // An unknown route (a scanner's guess) is answered and counted, not recorded.
    expect((await fetch(`${on.url}/v1/nothing-here`, { method: 'POST', headers: { 'x-request-id': 'log-unrouted-1' } })).status).toBe(404);
    await chat(on, 'log-after-unrouted', { model: 'mock/echo', messages: user('after') });
    await recordOf(on, 'log-after-unrouted');
    expect((await get(on, '/api/logs/log-unrouted-1')).status).toBe(404);
    await get(on, '/health');
    const page = (await (await get(on, '/api/logs?limit=1000')).json()) as { logs: RequestLogRecord[] };
    expect(page.logs.every((r) => r.dialect !== '' && !r.route.startsWith('/api') && r.route !== '/health')).toBe(true);
  });
});

describe('GET /api/logs, /api/logs/{id}, /api/logs/stats', () => {
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) await chat(on, `log-page-${i}`, { model: 'mock/echo', messages: user(`page ${i}`) });
    await recordOf(on, 'log-page-4');
  });

  it('filters by provider, model, status, error code, stream, latency and content, Bifrost\'s names', async () => {
    const ids = async (query: string) => ((await (await get(on, `/api/logs?limit=1000&${query}`)).json()) as { logs: RequestLogRecord[] })
      .logs.map((r) => r.id);
    expect(await ids('providers=mock&content_search=page%203')).toEqual(['log-page-3']);
    expect(await ids('status=error')).toEqual(expect.arrayContaining(['log-error-1', 'log-error-2']));
    expect(await ids('status=success')).not.toContain('log-error-1');
    expect(await ids('status=429')).toEqual(['log-error-1']);
    expect(await ids('error_codes=unknown_provider')).toEqual(['log-error-2']);
    expect(await ids('models=gpt-4o-mini&stream=true')).toEqual(expect.arrayContaining(['log-stream-1']));
    expect(await ids('stream=false&models=gpt-4o-mini')).not.toContain('log-stream-1');
    expect(await ids(`start_time=${new Date(Date.now() + 3_600_000).toISOString()}`)).toEqual([]);
    expect((await ids('min_latency=0')).length).toBeGreaterThan(5);
  });

  it('pages with a cursor, newest first by default, and sorts by latency', async () => {
    const first = (await (await get(on, '/api/logs?providers=mock&content_search=page&limit=2')).json()) as
      { logs: RequestLogRecord[]; pagination: { next_cursor: string; has_more: boolean; order: string; sort_by: string } };
    expect(first.logs.map((r) => r.id)).toEqual(['log-page-4', 'log-page-3']);
    expect(first.pagination).toMatchObject({ has_more: true, order: 'desc', sort_by: 'timestamp' });
    const second = (await (await get(on, `/api/logs?providers=mock&content_search=page&limit=2&cursor=${first.pagination.next_cursor}`)).json()) as
      { logs: RequestLogRecord[] };
    expect(second.logs.map((r) => r.id)).toEqual(['log-page-2', 'log-page-1']);
    const byLatency = (await (await get(on, '/api/logs?sort_by=latency&order=asc&limit=1000')).json()) as { logs: RequestLogRecord[] };
    const latencies = byLatency.logs.map((r) => r.latencyMs);
    expect(latencies).toEqual([...latencies].sort((a, b) => a - b));
  });

  it('answers stats: counts, error rate, percentiles, grouped by provider or time', async () => {
    const all = (await (await get(on, '/api/logs/stats')).json()) as { group_by: null; groups: { count: number; errors: number;
      errorRate: number; latencyP50: number }[] };
    expect(all.group_by).toBeNull();
    expect(all.groups[0].count).toBeGreaterThan(10);
    expect(all.groups[0].errors).toBeGreaterThan(0);
    expect(all.groups[0].latencyP50).toBeGreaterThan(0);
    const byProvider = (await (await get(on, '/api/logs/stats?group_by=provider')).json()) as { groups: { key: string }[] };
    expect(byProvider.groups.map((g) => g.key)).toEqual(expect.arrayContaining(['openai', 'mock']));
    const byTime = (await (await get(on, '/api/logs/stats?group_by=time&bucket_seconds=3600')).json()) as { groups: { key: number }[] };
    expect(byTime.groups[0].key % 3_600_000).toBe(0);
  });

  it('answers 404 log_not_found for an unknown id', async () => {
    const answer = await get(on, '/api/logs/no-such-request');
    expect(answer.status).toBe(404);
    expect(await answer.json()).toMatchObject({ error: { code: 'log_not_found' } });
  });

  it.each([
    ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=ten', 'limit'], ['sort_by=name', 'sort_by'], ['order=up', 'order'],
    ['start_time=yesterday', 'start_time'], ['end_time=2026-13-45', 'end_time'], ['status=teapot', 'status'],
    ['stream=yes', 'stream'], ['min_latency=-1', 'min_latency'], ['cursor=bm9wZQ', 'cursor'], ['offset=10', 'offset'],
    ['provider=openai', 'provider'], ['limit=1&limit=2', 'limit'], [`content_search=${'a'.repeat(300)}`, 'content_search'],
    [`providers=${Array.from({ length: 101 }, (_, i) => `p${i}`).join(',')}`, 'providers'],
    ['start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z', 'end_time'],
  ])('GET /api/logs?%s is a 400 naming %s', async (query, param) => {
    const answer = await get(on, `/api/logs?${query}`);
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({ error: { code: 'invalid_request', type: 'invalid_request_error', param } });
  });

  it.each([
    ['group_by=team', 'group_by'], ['group_by=time', 'bucket_seconds'], ['group_by=time&bucket_seconds=0', 'bucket_seconds'],
    ['bucket_seconds=60', 'bucket_seconds'], ['limit=5', 'limit'],
  ])('GET /api/logs/stats?%s is a 400 naming %s', async (query, param) => {
    const answer = await get(on, `/api/logs/stats?${query}`);
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({ error: { param } });
  });
});

describe('SQL injection through every filter', () => {
  const attacks = ["' OR '1'='1", "x'); DROP TABLE heimdall_request_logs; --", '1; DELETE FROM heimdall_request_logs',
    "%' OR 1=1 --", '" OR ""="', '\\\'; --'];
  const stringParams = ['providers', 'models', 'error_codes', 'virtual_key_ids', 'content_search'];
  const typedParams = ['status', 'stream', 'min_latency', 'start_time', 'end_time', 'sort_by', 'order', 'limit', 'cursor'];

  const count = async () => ((await (await get(on, '/api/logs/stats')).json()) as { groups: { count: number }[] }).groups[0].count;

  it('matches nothing through a text filter, is refused by a typed one, and leaves the table whole', async () => {
    const before = await count();
    for (const attack of attacks) {
      const value = encodeURIComponent(attack);
      for (const param of stringParams) {
        const answer = await get(on, `/api/logs?${param}=${value}`);
        expect(answer.status, `${param}=${attack}`).toBe(200);
        expect(((await answer.json()) as { logs: unknown[] }).logs, `${param}=${attack}`).toEqual([]);
        const stats = await get(on, `/api/logs/stats?${param}=${value}`);
        expect(stats.status).toBe(200);
        expect(((await stats.json()) as { groups: { count: number }[] }).groups[0].count).toBe(0);
      }
      for (const param of typedParams) {
        const answer = await get(on, `/api/logs?${param}=${value}`);
        expect(answer.status, `${param}=${attack}`).toBe(400);
      }
      expect((await get(on, `/api/logs/stats?group_by=${value}`)).status).toBe(400);
      expect((await get(on, `/api/logs/${value}`)).status).toBe(404);
    }
    expect(await count()).toBe(before);
  });

  it("takes LIKE's wildcards in content_search literally", async () => {
    for (const wildcard of ['%', '_', '%%%']) {
      const page = (await (await get(on, `/api/logs?content_search=${encodeURIComponent(wildcard)}&providers=mock`)).json()) as
        { logs: RequestLogRecord[] };
      for (const record of page.logs) expect(`${record.request}${record.response}`).toContain(wildcard);
    }
  });
});
