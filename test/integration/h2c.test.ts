// HTTP/2 cleartext (src/http/h2c-bridge.ts) in front of the real, built gateway: `@aws-sdk/client-bedrock-runtime`
// with its default handler (NodeHttp2Handler, prior knowledge) against the h2c port, with the fake Bedrock Runtime
// behind the gateway; and node:http2 as a raw client for what the SDK does not show (the admin API, HEAD, a body
// without content-length, a client that resets its stream mid-answer).

import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, ThrottlingException,
} from '@aws-sdk/client-bedrock-runtime';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startH2cBridge, type H2cBridge } from '../../src/http/h2c-bridge.js';
import { startFakeBedrock, type FakeBedrock } from '../fakes/bedrock-server.js';
import { eventually, startGatewayWith, type Harness } from './harness.js';
import { rejectionOf } from '../rejection.js';

const CREDENTIALS = { accessKeyId: 'AKIDGATEWAYTEST', secretAccessKey: 'gateway/test+secret' };
const REGION = 'eu-west-3';
const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';

let h: Harness<FakeBedrock>;
let bridge: H2cBridge;
let client: BedrockRuntimeClient;

beforeAll(async () => {
  const fake = await startFakeBedrock({ credentials: [CREDENTIALS], region: REGION });
  h = await startGatewayWith(fake, (fakeUrl) => ({ providers: {
    bedrock: {
      keys: [{ models: ['*'], bedrock_key_config: { access_key: CREDENTIALS.accessKeyId, secret_key: CREDENTIALS.secretAccessKey, region: REGION } }],
      network_config: { base_url: fakeUrl, default_request_timeout_in_seconds: 30 },
      concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 },
      circuit_breaker: { enabled: false },
    },
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }));
  bridge = await startH2cBridge({ host: '127.0.0.1', port: 0, targetPort: h.gateway.port, targetHost: '127.0.0.1', logger: pino({ level: 'silent' }),
    maxBodyBytes: 64 * 1024 });
  // No requestHandler: the SDK's default for Node, which speaks HTTP/2 only.
  client = new BedrockRuntimeClient({ endpoint: `http://127.0.0.1:${bridge.port}/bedrock`, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'any', secretAccessKey: 'any' } });
});

afterAll(async () => {
  client?.destroy();
  await bridge?.close();
  await h?.close();
});

const hello = (text: string) => [{ role: 'user' as const, content: [{ text }] }];

describe('the AWS SDK\'s default handler on the h2c port', () => {
  it('uses HTTP/2: the default handler is NodeHttp2Handler, and the HTTP/1.1 port refuses it with a protocol error', async () => {
    expect(client.config.requestHandler.constructor.name).toBe('NodeHttp2Handler');
    const direct = new BedrockRuntimeClient({ endpoint: `${h.url}/bedrock`, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' } });
    try {
      const error = await rejectionOf(direct.send(new ConverseCommand({ modelId: 'mock/echo', messages: hello('hi') })), Error);
      expect(error.message).toMatch(/Protocol error/);
    } finally {
      direct.destroy();
    }
  });

  it('Converse to the bedrock provider and to the built-in mock', async () => {
    const answer = await client.send(new ConverseCommand({ modelId: HAIKU, messages: hello('over h2c') }));
    expect(answer.output?.message?.content?.[0]?.text).toBe(h.fake.requests.at(-1)!.content);
    expect(answer.usage?.inputTokens).toBeGreaterThan(0);
    const mock = await client.send(new ConverseCommand({ modelId: 'mock/echo', messages: hello('hello mock') }));
    expect(mock.output?.message?.content?.[0]?.text).toBe('Echo: hello mock');
  });

  it('ConverseStream: the event-stream frames arrive whole, in order, with the usage at the end', async () => {
    const answer = await client.send(new ConverseStreamCommand({ modelId: 'mock/echo', messages: hello('stream over h2c') }));
    const events = [];
    for await (const event of answer.stream!) events.push(event);
    expect(events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('')).toBe('Echo: stream over h2c');
    expect(events[0].messageStart?.role).toBe('assistant');
    expect(events.at(-1)!.metadata?.usage?.totalTokens).toBeGreaterThan(0);
  });

  it('upstream errors are the SDK\'s typed exceptions, as on HTTP/1.1', async () => {
    const error = await rejectionOf(client.send(new ConverseCommand({ modelId: `${HAIKU}-error-429`, messages: hello('x') })), ThrottlingException);
    expect(error.$metadata.httpStatusCode).toBe(429);
  });
});

/** One HTTP/2 request on `session`: status, headers and body. */
function h2request(session: ClientHttp2Session, headers: Record<string, string>, body?: string | Buffer[]): Promise<{ status: number;
  headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let response: IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    stream.on('response', (received) => {
      response = received;
    });
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => resolve({ status: Number(response[':status']), headers: response, body: Buffer.concat(parts).toString() }));
    stream.on('error', reject);
    if (typeof body === 'string') stream.end(body);
    else if (body) {
      for (const part of body) stream.write(part);
      stream.end();
    }
  });
}

describe('the h2c port with a raw HTTP/2 client', () => {
  let session: ClientHttp2Session;
  beforeAll(() => {
    session = connect(`http://127.0.0.1:${bridge.port}`);
  });
  afterAll(() => session?.close());

  it('serves /v1 and streams SSE; many requests share one connection', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => h2request(session,
      { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' },
      JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: `n${i}` }], stream: i % 2 === 0 }))));
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      if (i % 2 === 0) {
        expect(answer.headers['content-type']).toMatch(/^text\/event-stream/);
        expect(answer.body).toContain('data: [DONE]');
      } else {
        expect(JSON.parse(answer.body).choices[0].message.content).toBe(`Echo: n${i}`);
      }
    });
  });

  it('a body without content-length (sent in parts) reaches the gateway whole', async () => {
    const json = JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'in parts' }] });
    const answer = await h2request(session, { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' },
      [Buffer.from(json.slice(0, 10)), Buffer.from(json.slice(10))]);
    expect(JSON.parse(answer.body).choices[0].message.content).toBe('Echo: in parts');
  });

  it('HEAD answers headers only; the request id and errors keep their shape', async () => {
    const head = await h2request(session, { ':method': 'HEAD', ':path': '/health' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const missing = await h2request(session, { ':method': 'GET', ':path': '/v1/nothing-here', 'x-request-id': 'h2c-probe-1' });
    expect(missing.status).toBe(404);
    expect(missing.headers['x-request-id']).toBe('h2c-probe-1');
    expect(JSON.parse(missing.body).error.code).toBe('unknown_route');
  });

  it('a body over the size limit → 413 in OpenAI\'s shape, before it is all read', async () => {
    const answer = await h2request(session, { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' },
      Array.from({ length: 5 }, () => Buffer.alloc(20 * 1024, 0x20)));
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe('body_too_large');
    // The session is still good for the next request.
    expect((await h2request(session, { ':method': 'GET', ':path': '/health' })).status).toBe(200);
  });

  it('refuses the admin API: behind the bridge every client would look like loopback', async () => {
    const answer = await h2request(session, { ':method': 'GET', ':path': '/api/logs' });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body).error.message).toContain('HTTP/1.1 port');
  });

  it('a client that resets its stream mid-answer cancels the upstream request', async () => {
    h.fake.script('anthropic.claude-slow', { latencyMs: 3000 });
    const stream = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' });
    stream.on('error', () => undefined);
    stream.end(JSON.stringify({ model: 'bedrock/anthropic.claude-slow', messages: [{ role: 'user', content: 'slow' }] }));
    await eventually(() => h.fake.requests.at(-1)?.modelId ?? '', (id) => id === 'anthropic.claude-slow');
    stream.close(constants.NGHTTP2_CANCEL);
    await eventually(() => h.fake.requests.at(-1)!.clientAborted, (aborted) => aborted);
  });
});
