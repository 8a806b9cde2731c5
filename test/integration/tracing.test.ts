// Traces end to end: the real gateway (dist/) exports to a real OTLP receiver started here, which decodes the
// protobuf it gets over HTTP and over gRPC; the span trees and attributes are asserted on what arrived.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../fakes/otlp-receiver.js';
import { FakeCatalog } from '../fakes/mcp-catalog.js';
import { TEST_CERT_PEM } from '../fakes/tls-and-proxy.js';
import { API_KEY, openaiProvider } from './harness.js';

const RECORDER = fileURLToPath(new URL('../fakes/plugins/recorder.js', import.meta.url));
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

interface Running {
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

async function start(fake: FakeOpenAI, otel: Record<string, unknown> | null, env: Record<string, string> = {},
  mcpCatalog?: FakeCatalog): Promise<Running> {
  const config = await loadConfig({
    raw: {
      providers: {
        openai: openaiProvider(fake.url, {
          keys: [{ name: 'primary-key', value: API_KEY, models: ['*'], weight: 1 }],
          network_config: { max_retries: 1, retry_backoff_initial: 1, retry_backoff_max: 5 },
        }),
        mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
      },
      plugins: ['metrics', { name: 'rec', path: RECORDER, config: { label: 'rec' } }, ...otel ? [{ name: 'otel', config: otel }] : []],
    },
    env,
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }), ...mcpCatalog ? { mcpCatalog } : {} });
  return { gateway, url: `http://127.0.0.1:${gateway.port}`, close: () => gateway.close(500) };
}

async function chat(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({
    messages: [{ role: 'user', content: 'hello there' }], ...body }), headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, text: await res.text() };
}

let counter = 0;
const requestId = () => `trace-test-${process.pid}-${++counter}`;

/** The server span of the request, then every span of its trace once `count` arrived. */
async function traceOf(receiver: OtlpReceiver, id: string, count: number): Promise<{ server: ReceivedSpan; spans: ReceivedSpan[] }> {
  const server = await receiver.waitForSpan((span) => span.attributes['heimdall.request_id'] === id);
  const spans = await receiver.waitForTrace(server.traceId, count);
  return { server, spans };
}

const named = (spans: ReceivedSpan[], name: string) => spans.filter((span) => span.name === name);
const attempts = (spans: ReceivedSpan[]) => spans.filter((span) => span.kind === CLIENT)
  .sort((a, b) => Number(a.start - b.start));

function expectInside(child: ReceivedSpan, parent: ReceivedSpan): void {
  expect(child.traceId).toBe(parent.traceId);
  expect(child.parentSpanId).toBe(parent.spanId);
  expect(child.start >= parent.start).toBe(true);
  expect(child.end <= parent.end).toBe(true);
  expect(child.end >= child.start).toBe(true);
}

describe('tracing over OTLP/HTTP protobuf', () => {
  let receiver: OtlpReceiver;
  let fake: FakeOpenAI;
  let gw: Running;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeOpenAI();
    gw = await start(fake, { collector_url: receiver.httpUrl, service_name: 'gw-under-test', propagate_traceparent: true,
      headers: { 'x-collector-token': 'env.COLLECTOR_TOKEN' }, schedule_delay_ms: 20 },
    { COLLECTOR_TOKEN: 'tok-123', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,service.name=overridden' });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.close();
    await receiver?.close();
  });

  it('traces an answer: server span, plugin hooks, queue wait, the upstream try with GenAI attributes', async () => {
    const id = requestId();
    const answer = await chat(gw.url, { model: 'openai/gpt-4o-mini' }, { 'x-request-id': id });
    expect(answer.status).toBe(200);
    const { server, spans } = await traceOf(receiver, id, 6);
    expect(server).toMatchObject({ kind: SERVER, name: 'POST /v1/chat/completions', parentSpanId: '' });
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/chat/completions',
      'http.response.status_code': 200, 'url.path': '/v1/chat/completions', 'gen_ai.request.model': 'openai/gpt-4o-mini' });
    expect(server.status.code).toBe(0);
    expect(spans.map((span) => span.name).sort()).toEqual(['POST /v1/chat/completions', 'chat gpt-4o-mini',
      'plugin.metrics.posthook', 'plugin.rec.posthook', 'plugin.rec.prehook', 'queue.wait']);
    for (const span of spans) if (span !== server) expectInside(span, server);
    const [attempt] = attempts(spans);
    expect(attempt.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini', 'gen_ai.response.finish_reasons': '["stop"]',
      'heimdall.provider': 'openai', 'heimdall.key.name': 'primary-key', 'heimdall.retry': 0, 'heimdall.fallback_index': 0,
      'heimdall.stream': false, 'http.response.status_code': 200,
    });
    expect(attempt.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(attempt.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    // Content is off unless asked for.
    expect(attempt.attributes['gen_ai.input.messages']).toBeUndefined();
    // The queue wait ends where the try begins.
    const [queue] = named(spans, 'queue.wait');
    expect(queue.end <= attempt.start).toBe(true);
    // The upstream got the try's span as its parent.
    const upstream = fake.requests.find((r) => r.headers['x-request-id'] === id)!;
    expect(upstream.headers.traceparent).toBe(`00-${server.traceId}-${attempt.spanId}-01`);
    // Resource, scope and the configured headers.
    const exported = receiver.exports.find((e) => e.spans.includes(server))!;
    expect(exported.resource).toMatchObject({ 'service.name': 'gw-under-test', 'deployment.environment': 'test' });
    expect(exported.scope.name).toBe('heimdall');
    expect(exported.headers['x-collector-token']).toBe('tok-123');
  });

  it('traces a stream with a time-to-first-token event', async () => {
    const id = requestId();
    const answer = await chat(gw.url, { model: 'openai/gpt-4o-mini', stream: true }, { 'x-request-id': id });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('[DONE]');
    const { server, spans } = await traceOf(receiver, id, 6);
    const [attempt] = attempts(spans);
    expect(attempt.attributes).toMatchObject({ 'heimdall.stream': true, 'gen_ai.response.finish_reasons': '["stop"]',
      'gen_ai.response.model': 'gpt-4o-mini' });
    expect(attempt.events).toHaveLength(1);
    const [first] = attempt.events;
    expect(first.name).toBe('gen_ai.first_token');
    expect(first.time >= attempt.start && first.time <= attempt.end).toBe(true);
    expect(first.attributes['heimdall.ttft_ms']).toBeGreaterThan(0);
    expectInside(attempt, server);
  });

  it('traces a retry, then a fallback: one span per try with its index, the error code on the failed ones', async () => {
    const id = requestId();
    const answer = await chat(gw.url, { model: 'openai/error-500', fallbacks: ['mock/mock-model'] }, { 'x-request-id': id });
    expect(answer.status).toBe(200);
    // Per candidate: rec's pre-hook and both post-hooks (the metrics plugin has none before); 3 tries, 3 queue waits, the server.
    const { server, spans } = await traceOf(receiver, id, 13);
    const tries = attempts(spans);
    expect(tries.map((t) => [t.attributes['heimdall.provider'], t.attributes['heimdall.retry'], t.attributes['heimdall.fallback_index'],
      t.status.code])).toEqual([['openai', 0, 0, ERROR], ['openai', 1, 0, ERROR], ['mock', 0, 1, 0]]);
    expect(tries[0].attributes['error.type']).toBe('UPSTREAM_ERROR');
    expect(tries[0].attributes['http.response.status_code']).toBe(500);
    expect(tries[2].attributes['gen_ai.request.model']).toBe('mock-model');
    expect(server.status.code).toBe(0);
    for (const t of tries) expectInside(t, server);
  });

  it('traces an error: the server span carries the Heimdall code and is an error for a 5xx', async () => {
    const id = requestId();
    const answer = await chat(gw.url, { model: 'openai/error-500' }, { 'x-request-id': id });
    expect(answer.status).toBe(502);
    const code = (JSON.parse(answer.text) as { error: { code: string } }).error.code;
    const { server, spans } = await traceOf(receiver, id, 8);
    expect(server.attributes['error.type']).toBe(code.toUpperCase());
    expect(server.status).toEqual({ code: ERROR, message: code.toUpperCase() });
    expect(attempts(spans).map((t) => t.attributes['error.type'])).toEqual(['UPSTREAM_ERROR', 'UPSTREAM_ERROR']);
  });

  it('traces a plugin short-circuit: the hook that answered is marked, no upstream try', async () => {
    const id = requestId();
    const answer = await chat(gw.url, { model: 'openai/gpt-4o-mini' }, { 'x-request-id': id, 'x-short-circuit': 'rec' });
    expect(answer.status).toBe(200);
    const { spans } = await traceOf(receiver, id, 4);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const all = receiver.spans.filter((span) => span.traceId === spans[0].traceId);
    expect(all.map((span) => span.name).sort()).toEqual(['POST /v1/chat/completions', 'plugin.metrics.posthook',
      'plugin.rec.posthook', 'plugin.rec.prehook']);
    expect(named(all, 'plugin.rec.prehook')[0].attributes['heimdall.plugin.short_circuit']).toBe(true);
    expect(named(all, 'plugin.rec.posthook')[0].attributes['heimdall.plugin.short_circuit']).toBe(false);
  });

  it("continues the caller's trace: its trace id, its span as the parent, its tracestate", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const answer = await chat(gw.url, { model: 'openai/gpt-4o-mini' },
      { traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=abc' });
    expect(answer.status).toBe(200);
    const spans = await receiver.waitForTrace(traceId, 6);
    const [server] = spans.filter((span) => span.kind === SERVER);
    expect(server.parentSpanId).toBe(parent);
    expect(server.traceState).toBe('vendor=abc');
  });

  it('counts exported spans in /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const exported = Number(/^heimdall_trace_spans_exported_total (\d+)/m.exec(text)?.[1]);
    expect(exported).toBeGreaterThan(20);
    expect(text).toMatch(/^heimdall_trace_spans_dropped_total 0$/m);
  });
});

describe('sampling', () => {
  let receiver: OtlpReceiver;
  let fake: FakeOpenAI;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeOpenAI();
  });
  afterAll(async () => {
    await fake?.close();
    await receiver?.close();
  });

  it('at 0 records nothing, but follows a caller that sampled', async () => {
    const gw = await start(fake, { collector_url: receiver.httpUrl, sample_rate: 0, schedule_delay_ms: 20 });
    try {
      for (let i = 0; i < 20; i++) expect((await chat(gw.url, { model: 'mock/m' })).status).toBe(200);
      // Not sampled by the caller either: no trace.
      await chat(gw.url, { model: 'mock/m' }, { traceparent: '00-11111111111111111111111111111111-2222222222222222-00' });
      const sampled = 'abcdefabcdefabcdefabcdefabcdef12';
      await chat(gw.url, { model: 'mock/m' }, { traceparent: `00-${sampled}-2222222222222222-01` });
      await receiver.waitForTrace(sampled, 6);
      // It came after the others: had they been traced, they would have been exported first.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(new Set(receiver.spans.map((span) => span.traceId))).toEqual(new Set([sampled]));
    } finally {
      await gw.close();
    }
  });

  it('at 1 records every request', async () => {
    const gw = await start(fake, { collector_url: receiver.httpUrl, sample_rate: 1, schedule_delay_ms: 20 });
    try {
      const ids = Array.from({ length: 20 }, requestId);
      for (const id of ids) expect((await chat(gw.url, { model: 'mock/m' }, { 'x-request-id': id })).status).toBe(200);
      for (const id of ids) await receiver.waitForSpan((span) => span.attributes['heimdall.request_id'] === id);
    } finally {
      await gw.close();
    }
  });
});

describe('tracing over OTLP/gRPC', () => {
  it('exports the same spans through TraceService/Export, with the configured headers as metadata', async () => {
    const receiver = await startOtlpReceiver();
    const fake = await startFakeOpenAI();
    const gw = await start(fake, { protocol: 'grpc', collector_url: receiver.grpcUrl, insecure: true, headers: { 'x-tenant': 't1' },
      schedule_delay_ms: 20 });
    try {
      const id = requestId();
      expect((await chat(gw.url, { model: 'openai/gpt-4o-mini', stream: true }, { 'x-request-id': id })).status).toBe(200);
      const { spans } = await traceOf(receiver, id, 6);
      expect(receiver.exports.every((e) => e.protocol === 'grpc')).toBe(true);
      expect(receiver.exports[0].headers['x-tenant']).toBe('t1');
      expect(attempts(spans)[0].events[0].name).toBe('gen_ai.first_token');
    } finally {
      await gw.close();
      await fake.close();
      await receiver.close();
    }
  });

  it('counts a refused gRPC export as dropped', async () => {
    const receiver = await startOtlpReceiver();
    receiver.fail = { http: 503, grpc: 14 };
    const fake = await startFakeOpenAI();
    const gw = await start(fake, { protocol: 'grpc', collector_url: receiver.grpcUrl, insecure: true, schedule_delay_ms: 20 });
    try {
      expect((await chat(gw.url, { model: 'mock/m' })).status).toBe(200);
      await expect.poll(async () => /^heimdall_trace_spans_dropped_total (\d+)/m.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1],
        { timeout: 5000 }).toBe('6');
    } finally {
      await gw.close();
      await fake.close();
      await receiver.close();
    }
  });
});

describe('a collector that is down', () => {
  it('neither fails nor holds up requests under load; the spans it could not take are counted as dropped', async () => {
    // A port nothing listens on: taken, then released.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const fake = await startFakeOpenAI();
    const gw = await start(fake, { collector_url: `http://127.0.0.1:${port}/v1/traces`, max_queue_size: 100, schedule_delay_ms: 20 });
    try {
      const statuses: number[] = [];
      const lanes = Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 25; i++) statuses.push((await chat(gw.url, { model: 'mock/m', stream: i % 2 === 0 })).status);
      });
      await Promise.all(lanes);
      expect(statuses).toHaveLength(400);
      expect(statuses.every((status) => status === 200)).toBe(true);
      // 400 requests × 6 spans: every one is dropped, at the bounded queue or when its export failed.
      await expect.poll(async () => Number(/^heimdall_trace_spans_dropped_total (\d+)/m.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1]),
        { timeout: 10_000 }).toBe(2400);
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      expect(text).toMatch(/^heimdall_trace_spans_exported_total 0$/m);
    } finally {
      await gw.close();
      await fake.close();
    }
  });
});

describe('agent mode and content', () => {
  it('traces each MCP tool the gateway runs as an execute_tool span, and each model turn as a try', async () => {
    const receiver = await startOtlpReceiver();
    const fake = await startFakeOpenAI();
    const catalog = new FakeCatalog([
      { client: 'weather', tool: 'forecast', autoExecute: true, run: (args) => ({ content: `sunny in ${String(args.city)}`, isError: false }) },
      { client: 'weather', tool: 'alerts', autoExecute: true, run: () => ({ content: 'the alerts service is down', isError: true }) },
    ]);
    const gw = await start(fake, { collector_url: receiver.httpUrl, schedule_delay_ms: 20 }, {}, catalog);
    try {
      fake.script('gpt-4o-mini', [
        { toolCalls: [{ id: 'call_1', name: 'weather_forecast', arguments: '{"city":"Oslo"}' },
          { id: 'call_2', name: 'weather_alerts', arguments: '{}' }] },
        { content: 'It is sunny in Oslo.' },
      ]);
      const id = requestId();
      expect((await chat(gw.url, { model: 'openai/gpt-4o-mini' }, { 'x-request-id': id })).status).toBe(200);
      // rec pre, 2 × (queue, try), 2 tools, rec post, metrics post, server.
      const { server, spans } = await traceOf(receiver, id, 10);
      const tools = spans.filter((span) => span.attributes['gen_ai.operation.name'] === 'execute_tool')
        .sort((a, b) => String(a.attributes['gen_ai.tool.call.id']).localeCompare(String(b.attributes['gen_ai.tool.call.id'])));
      expect(tools.map((span) => [span.name, span.attributes['gen_ai.tool.name'], span.attributes['gen_ai.tool.call.id'], span.status.code]))
        .toEqual([['execute_tool weather_forecast', 'weather_forecast', 'call_1', 0], ['execute_tool weather_alerts', 'weather_alerts', 'call_2', ERROR]]);
      const tries = attempts(spans);
      expect(tries).toHaveLength(2);
      expect(tries[0].attributes['gen_ai.response.finish_reasons']).toBe('["tool_calls"]');
      // The tools ran between the two turns.
      for (const tool of tools) {
        expectInside(tool, server);
        expect(tool.start >= tries[0].end && tool.end <= tries[1].start).toBe(true);
      }
    } finally {
      await gw.close();
      await fake.close();
      await receiver.close();
    }
  });

  it('records prompt and completion only when capture_content is set', async () => {
    const receiver = await startOtlpReceiver();
    const fake = await startFakeOpenAI();
    const gw = await start(fake, { collector_url: receiver.httpUrl, capture_content: true, schedule_delay_ms: 20 });
    try {
      const plain = requestId();
      expect((await chat(gw.url, { model: 'openai/gpt-4o-mini' }, { 'x-request-id': plain })).status).toBe(200);
      const [answer] = attempts((await traceOf(receiver, plain, 6)).spans);
      expect(JSON.parse(String(answer.attributes['gen_ai.input.messages']))).toEqual([{ role: 'user', content: 'hello there' }]);
      expect(JSON.parse(String(answer.attributes['gen_ai.output.messages'])).choices[0].message.role).toBe('assistant');
      const streamed = requestId();
      expect((await chat(gw.url, { model: 'openai/gpt-4o-mini', stream: true }, { 'x-request-id': streamed })).status).toBe(200);
      const [stream] = attempts((await traceOf(receiver, streamed, 6)).spans);
      expect(String(stream.attributes['gen_ai.output.messages'])).toContain('chat.completion.chunk');
    } finally {
      await gw.close();
      await fake.close();
      await receiver.close();
    }
  });
});

describe('the exporter', () => {
  const CA_FILE = fileURLToPath(new URL('../fixtures/tls/localhost.crt', import.meta.url));
  const TEST_KEY_PEM = readFileSync(new URL('../fixtures/tls/localhost.key', import.meta.url), 'utf8');

  for (const protocol of ['http', 'grpc'] as const) {
    it(`trusts the collector's certificate from tls_ca_cert (${protocol} over TLS)`, async () => {
      const receiver = await startOtlpReceiver({ tls: { key: TEST_KEY_PEM, cert: TEST_CERT_PEM } });
      const fake = await startFakeOpenAI();
      const gw = await start(fake, { protocol, collector_url: protocol === 'http' ? receiver.httpUrl : receiver.grpcUrl,
        tls_ca_cert: CA_FILE, schedule_delay_ms: 20 });
      try {
        const id = requestId();
        expect((await chat(gw.url, { model: 'mock/m' }, { 'x-request-id': id })).status).toBe(200);
        await traceOf(receiver, id, 6);
      } finally {
        await gw.close();
        await fake.close();
        await receiver.close();
      }
    });
  }

  it('sends what is queued when the gateway closes', async () => {
    const receiver = await startOtlpReceiver();
    const fake = await startFakeOpenAI();
    // A minute before a partial batch would go on its own: only the close sends it.
    const gw = await start(fake, { collector_url: receiver.httpUrl, schedule_delay_ms: 60_000 });
    const id = requestId();
    expect((await chat(gw.url, { model: 'mock/m' }, { 'x-request-id': id })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.spans).toHaveLength(0);
    await gw.close();
    try {
      expect(receiver.spans.find((span) => span.attributes['heimdall.request_id'] === id)).toBeDefined();
    } finally {
      await fake.close();
      await receiver.close();
    }
  });

  it('gives up on a collector slower than export_timeout_ms, counting its spans as dropped', async () => {
    const receiver = await startOtlpReceiver();
    receiver.delayMs = 3000;
    const fake = await startFakeOpenAI();
    const gw = await start(fake, { collector_url: receiver.httpUrl, export_timeout_ms: 200, schedule_delay_ms: 20 });
    try {
      const started = performance.now();
      for (let i = 0; i < 5; i++) expect((await chat(gw.url, { model: 'mock/m' })).status).toBe(200);
      // Five requests to the in-process mock take milliseconds; the slow collector is not waited for.
      expect(performance.now() - started).toBeLessThan(2000);
      await expect.poll(async () => Number(/^heimdall_trace_spans_dropped_total (\d+)/m.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1]),
        { timeout: 5000 }).toBe(30);
    } finally {
      await gw.close();
      await fake.close();
      await receiver.close();
    }
  });
});
