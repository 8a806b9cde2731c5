// Streamed passthrough through the real, built gateway: an answer the provider streams reaches the client as it
// comes (its first chunk before the provider wrote its last), the client's slow reading holds the upstream back,
// the client leaving cancels the upstream, a stream the provider breaks off breaks off at the client too, and each
// call is in the metrics and the request log. A custom provider must allow streamed passthrough, as Bifrost gates it.

import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../../dist/src/gateway.js';
import type { RequestLogRecord } from '../../../dist/src/stores/log-record.js';
import { openRequestLog } from '../../../dist/src/stores/request-log.js';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startFakeGemini, type FakeGemini } from '../../fakes/gemini-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { apiError, eventually, metricSum, openaiProvider } from '../harness.js';

const dir = mkdtempSync(join(tmpdir(), 'heimdall-passthrough-stream-'));
let fake: FakeOpenAI;
let geminiFake: FakeGemini;
let anthropicFake: FakeAnthropic;
let gateway: Gateway;
let url: string;
let openai: OpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  geminiFake = await startFakeGemini({ apiKey: 'AIza-upstream' });
  anthropicFake = await startFakeAnthropic({ apiKey: 'sk-ant-upstream' });
  const log = await openRequestLog({ target: { type: 'sqlite', path: join(dir, 'logs.db') }, logger: pino({ level: 'silent' }),
    retentionDays: 0, flushIntervalMs: 5 });
  const config = await loadConfig({
    raw: { providers: {
      openai: openaiProvider(fake.url, { network_config: { stream_idle_timeout_in_seconds: 5 } }),
      'no-streams': openaiProvider(fake.url, { custom_provider_config: { base_provider_type: 'openai', allowed_requests: { passthrough: true } } }),
      streams: openaiProvider(fake.url, { custom_provider_config: { base_provider_type: 'openai',
        allowed_requests: { passthrough: true, passthrough_stream: true } } }),
      gemini: { keys: [{ value: 'AIza-upstream', models: ['*'], weight: 1 }], network_config: { base_url: geminiFake.url } },
      anthropic: { keys: [{ value: 'sk-ant-upstream', models: ['*'], weight: 1 }], network_config: { base_url: anthropicFake.url } },
    } },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  gateway = await startGateway(config, { logger: pino({ level: 'silent' }), requestLog: log });
  url = `http://127.0.0.1:${gateway.port}`;
  openai = new OpenAI({ baseURL: `${url}/openai_passthrough/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 15_000 });
});

afterAll(async () => {
  await gateway?.close(500);
  await fake?.close();
  await geminiFake?.close();
  await anthropicFake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The request log's record of `id`, once written. */
async function recordOf(id: string): Promise<RequestLogRecord> {
  const answer = await eventually(() => fetch(`${url}/api/logs/${id}`), (r) => r.status === 200, 5_000, 25);
  return (await answer.json()) as RequestLogRecord;
}

/** A streamed chat call through the passthrough, with node:http, its response left paused until the test reads it. */
function openStream(model: string, requestId: string): Promise<{ response: IncomingMessage; destroy(): void }> {
  return new Promise((resolve, reject) => {
    const sent = request(`${url}/openai_passthrough/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    }, (response) => {
      response.pause();
      resolve({ response, destroy: () => sent.destroy() });
    });
    sent.on('error', reject);
    sent.end(JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'stream me' }] }));
  });
}

describe('a streamed answer through /openai_passthrough', () => {
  it('reaches the client as it comes: the first chunk before the provider sent its last', async () => {
    fake.script('gpt-4o-gaps', { chunks: ['one ', 'two ', 'three ', 'four'], chunkIntervalMs: 150 });
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-gaps', stream: true, messages: [{ role: 'user', content: 'count' }] },
        { headers: { 'x-request-id': 'pt-stream-1' } })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
    let firstAt: number | null = null;
    let text = '';
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content ?? '';
      if (piece && firstAt === null) firstAt = performance.now();
      text += piece;
    }
    expect(text).toBe('one two three four');
    const upstream = fake.requestsWithId('pt-stream-1')[0];
    expect(upstream.body?.stream).toBe(true);
    // Three gaps of 150 ms lie between the first content chunk and the last: read whole, the first would come after.
    expect(firstAt).not.toBeNull();
    expect(upstream.lastWriteAt! - firstAt!).toBeGreaterThan(200);

    const record = await recordOf('pt-stream-1');
    expect(record).toMatchObject({ route: '/openai_passthrough/*', dialect: 'passthrough', provider: 'openai', model: 'gpt-4o-gaps',
      modelRequested: 'gpt-4o-gaps', status: 200, stream: true, errorCode: null, cancelled: false });
    expect(record.ttftMs).toBeLessThan(record.latencyMs - 200);
    expect(record.upstreamMs).toBeGreaterThan(0);
    expect(record.response).toContain('"content":"three "');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metricSum(metrics, 'heimdall_http_requests_total', { route: '/openai_passthrough/*', status: '200', provider: 'openai' }))
      .toBeGreaterThanOrEqual(1);
  });

  it('holds the upstream back while the client does not read, then delivers every byte', async () => {
    const piece = 'z'.repeat(32 * 1024);
    fake.script('gpt-4o-flood', { endless: true, endlessPiece: piece, chunkIntervalMs: 1, stopAfterStallMs: 400 });
    const { response } = await openStream('gpt-4o-flood', 'pt-slow-1');
    expect(response.statusCode).toBe(200);
    const stalled = await eventually(() => fake.requestsWithId('pt-slow-1')[0],
      (r) => r !== undefined && r.stalledSince !== null && performance.now() - r.stalledSince > 400, 10_000, 25);
    expect(stalled.completed).toBe(false);
    const parts: Buffer[] = [];
    response.on('data', (part: Buffer) => parts.push(part));
    await new Promise((resolve, reject) => {
      response.on('end', resolve);
      response.on('error', reject);
      response.resume();
    });
    const upstream = fake.requestsWithId('pt-slow-1')[0];
    expect(upstream.completed).toBe(true);
    expect(upstream.longestStallMs).toBeGreaterThanOrEqual(400);
    // Byte for byte what the provider wrote: its events, its [DONE].
    const events = Buffer.concat(parts).toString('utf8').split('\n\n').filter(Boolean).map((event) => event.replace(/^data: /, ''));
    expect(events).toEqual(upstream.events);
  });

  it('cancels the upstream when the client leaves', async () => {
    fake.script('gpt-4o-forever', { endless: true, chunkIntervalMs: 20 });
    const { response, destroy } = await openStream('gpt-4o-forever', 'pt-abort-1');
    await new Promise((resolve) => {
      response.once('data', resolve);
      response.resume();
    });
    destroy();
    const upstream = await eventually(() => fake.requestsWithId('pt-abort-1')[0], (r) => r.clientAborted, 5_000, 25);
    expect(upstream.completed).toBe(false);
    const record = await recordOf('pt-abort-1');
    expect(record).toMatchObject({ status: 499, cancelled: true, stream: true, provider: 'openai' });
  });

  it('breaks off at the client when the provider breaks off, rather than end as complete', async () => {
    fake.script('gpt-4o-broken', { breakAfterChunks: 2 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-broken', stream: true, messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-request-id': 'pt-broken-1' } });
    const received: unknown[] = [];
    await expect((async () => {
      for await (const chunk of stream) received.push(chunk);
    })()).rejects.toThrow();
    expect(received.length).toBe(2);
    expect(await recordOf('pt-broken-1')).toMatchObject({ status: 200, errorCode: 'stream_interrupted', stream: true });
  });
});

describe('gating and other APIs', () => {
  it('needs allowed_requests.passthrough_stream on a custom provider for a call that asks for a stream', async () => {
    const refused = await apiError(openai.chat.completions.create({ model: 'no-streams/gpt-4o-mini', stream: true,
      messages: [{ role: 'user', content: 'x' }] }));
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/does not allow streamed passthrough calls.*allowed_requests\.passthrough_stream: true/);
    const plain = await openai.chat.completions.create({ model: 'no-streams/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect(plain.choices[0].message.content).toBeTruthy();
    let text = '';
    for await (const chunk of await openai.chat.completions.create({ model: 'streams/gpt-4o-mini', stream: true,
      messages: [{ role: 'user', content: 'x' }] })) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBeTruthy();
  });

  it('streams the Anthropic SDK\'s messages.stream through /anthropic_passthrough, events as Anthropic sent them', async () => {
    const client = new Anthropic({ baseURL: `${url}/anthropic_passthrough`, apiKey: 'client-key', maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'stream hello' }] });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const message = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(message.content[0].type).toBe('text');
    expect(anthropicFake.requests.at(-1)!.body).toMatchObject({ stream: true });
  });

  it('streams @google/genai\'s streamGenerateContent through /genai_passthrough', async () => {
    const ai = new GoogleGenAI({ apiKey: 'client-key', httpOptions: { baseUrl: `${url}/genai_passthrough` } });
    let text = '';
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'hello stream' })) {
      text += chunk.text ?? '';
    }
    expect(text).toBeTruthy();
    expect(geminiFake.requests.at(-1)!.path).toMatch(/:streamGenerateContent\?alt=sse/);
  });
});
