// The access log of a real gateway: one line per request, written when the response is complete.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI } from '../fakes/openai-server.js';
import { eventually, openaiProvider, postChat } from './harness.js';
import { sendMixedTraffic, startMetricsGateway, type MetricsGateway } from './metrics-gateway.js';

const accessLines = (g: MetricsGateway) => g.lines().filter((line) => line.log === 'access');
const lineOf = (g: MetricsGateway, requestId: string) => accessLines(g).find((line) => line.requestId === requestId);

describe('access log', () => {
  let g: MetricsGateway;
  beforeAll(async () => {
    // Slow chunks, so a stream can be left half-way.
    g = await startMetricsGateway({ mockConfig: { chunk_count: 40, chunk_interval_ms: 25 } });
  }, 30_000);
  afterAll(() => g?.close());

  it('writes one info line per answered request, with what the request was and what it cost', async () => {
    const response = await postChat(g.url, { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-request-id': 'access-1' });
    await response.text();
    const line = await eventually(() => lineOf(g, 'access-1'), (found) => found !== undefined, 3_000);
    expect(line).toMatchObject({ level: 'info', msg: 'request', route: '/v1/chat/completions', method: 'POST', status: 200,
      provider: 'mock', model: 'echo', attempts: 1, fallbacks: 0, stream: false, tokensIn: expect.any(Number),
      tokensOut: expect.any(Number), latencyMs: expect.any(Number), costUsd: 0 });
    expect(line).not.toHaveProperty('errorCode');
    expect(accessLines(g).filter((found) => found.requestId === 'access-1')).toHaveLength(1);
  });

  it('logs a stream when it ends, with its time to first token, and a failure with its error code', async () => {
    const streamed = await postChat(g.url, { model: 'mock/echo', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'access-stream' });
    await streamed.text();
    const failed = await postChat(g.url, { model: 'mock/error-429', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-request-id': 'access-429' });
    await failed.text();
    const stream = await eventually(() => lineOf(g, 'access-stream'), (found) => found !== undefined, 3_000);
    expect(stream).toMatchObject({ status: 200, stream: true, ttftMs: expect.any(Number), tokensOut: expect.any(Number) });
    expect(stream!.latencyMs as number).toBeGreaterThanOrEqual(stream!.ttftMs as number);
    const error = await eventually(() => lineOf(g, 'access-429'), (found) => found !== undefined, 3_000);
    expect(error).toMatchObject({ level: 'info', status: 429, errorCode: 'upstream_rate_limited', model: 'error-429', attempts: 1 });
  });

  it('logs a stream the client left as 499, cancelled, when it left', async () => {
    // Forty words echoed: forty chunks 25 ms apart, so the stream is still going when the client leaves.
    const response = await postChat(g.url, { model: 'mock/echo', stream: true,
      messages: [{ role: 'user', content: 'hi '.repeat(40) }] }, { 'x-request-id': 'access-cancel' });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    const line = await eventually(() => lineOf(g, 'access-cancel'), (found) => found !== undefined, 5_000);
    expect(line).toMatchObject({ status: 499, cancelled: true, errorCode: 'client_closed', stream: true, ttftMs: expect.any(Number) });
  });

  it('writes probes and scrapes at debug, and the rest of the traffic at info, one line each', async () => {
    const before = accessLines(g).length;
    await sendMixedTraffic(g.url);
    await fetch(`${g.url}/health`);
    await fetch(`${g.url}/metrics`).then((r) => r.text());
    const lines = await eventually(() => accessLines(g).slice(before), (found) => found.length === 10, 5_000);
    expect(lines.filter((line) => line.level === 'debug').map((line) => line.route)).toEqual(['/health', '/metrics']);
    expect(lines.find((line) => line.status === 404)).toMatchObject({ route: 'other', errorCode: 'unknown_route' });
  });
});

describe('the key in the access log', () => {
  it('is named, never shown', async () => {
    const fake = await startFakeOpenAI();
    const secret = 'sk-access-log-secret-4711';
    const g = await startMetricsGateway({ providers: { openai: openaiProvider(fake.url,
      { keys: [{ name: 'team-search', value: secret, models: ['*'], weight: 1 }] }) } });
    try {
      const response = await postChat(g.url, { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
        { 'x-request-id': 'access-key' });
      expect(response.status).toBe(200);
      await response.text();
      const line = await eventually(() => lineOf(g, 'access-key'), (found) => found !== undefined, 3_000);
      expect(line).toMatchObject({ provider: 'openai', model: 'gpt-4o', key: 'team-search' });
      expect(JSON.stringify(g.lines())).not.toContain(secret);
    } finally {
      await g.close();
      await fake.close();
    }
  }, 30_000);
});

describe('client.access_log: false', () => {
  it('writes no access line', async () => {
    const g = await startMetricsGateway({ client: { access_log: false } });
    try {
      await sendMixedTraffic(g.url);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(accessLines(g)).toEqual([]);
      expect(g.lines().length).toBeGreaterThan(0);
    } finally {
      await g.close();
    }
  }, 30_000);
});
