// What operators and browser apps expect of any HTTP API, through the real gateway: the version in /health, HEAD
// answered with headers only (the connection still usable after it), a readiness endpoint that turns 503 while
// draining, the OpenAI SDK's models.retrieve, and CORS as `client.allowed_origins` allows it.

import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { NotFoundError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../rejection.js';
import { eventually, newClient, openaiProvider, startHarness, type Harness } from './harness.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const ALLOWED = 'https://app.example.com';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      client: { allowed_origins: [ALLOWED, 'http://localhost:5173'] },
      providers: { openai: openaiProvider(fakeUrl, { keys: [{ value: 'sk-test-upstream', models: ['gpt-4o-mini'] }] }), mock: {} },
      model_aliases: { fast: 'mock/echo' },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

/** Writes raw HTTP/1.1 on one connection and collects what comes back until `done` holds. */
function rawExchange(port: number, requests: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(requests));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer; got:\n${text}`));
    }, 10_000);
    socket.on('data', (data) => {
      text += data.toString('latin1');
      if (done(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

describe('health and readiness', () => {
  it('puts the version from package.json in /health and /ready', async () => {
    expect(await (await fetch(`${h.url}/health`)).json()).toEqual({ status: 'ok', version: VERSION });
    const ready = await fetch(`${h.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', version: VERSION });
  });

  it('answers HEAD /health with the GET headers and no body, and the same connection then serves a GET', async () => {
    const port = Number(new URL(h.url).port);
    const text = await rawExchange(port,
      'HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\n',
      (received) => received.includes('"status":"ready"') && received.trimEnd().endsWith('}'));
    const [headAnswer, getAnswer] = text.split(/(?=HTTP\/1\.1 )/);
    expect(headAnswer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(headAnswer.toLowerCase()).toContain('content-type: application/json');
    // The HEAD answer ends with its headers: the next bytes are the GET's status line.
    expect(headAnswer.endsWith('\r\n\r\n')).toBe(true);
    expect(getAnswer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(getAnswer).toContain(`{"status":"ready","version":"${VERSION}"}`);
  });

  // Each HEAD is followed on the same socket by a GET: a body after the HEAD's headers would be read as the GET's
  // status line. Routes: a GET route, OpenAI's 404 and 405, the native prefixes' 404 and 405, and /metrics (text).
  it.each([
    ['/health', 200], ['/v1/models', 200], ['/metrics', 200], ['/v1/models/mock/echo', 200], ['/v1/models/nobody/x', 404],
    ['/nowhere', 404], ['/v1/chat/completions', 405], ['/anthropic/v1/nothing', 404], ['/anthropic/v1/messages', 405],
    ['/genai/v1beta/nothing', 404], ['/bedrock/model/x/converse', 405], ['/openai/v1/responses', 405],
  ])('answers HEAD %s (%i) with headers only, and the socket then serves a GET', async (path, status) => {
    const port = Number(new URL(h.url).port);
    const text = await rawExchange(port,
      `HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n`,
      (received) => received.includes('"status":"ok"') && received.trimEnd().endsWith('}'));
    const [headAnswer, getAnswer, ...rest] = text.split(/(?=HTTP\/1\.1 )/);
    expect(headAnswer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(headAnswer.endsWith('\r\n\r\n')).toBe(true);
    expect(rest).toEqual([]);
    expect(getAnswer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(getAnswer.endsWith(`{"status":"ok","version":"${VERSION}"}`)).toBe(true);
  });

  it('answers HEAD on an unknown path with the 404 headers only', async () => {
    const response = await fetch(`${h.url}/nowhere`, { method: 'HEAD' });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('');
  });
});

describe('GET /v1/models/{id}', () => {
  it("answers the OpenAI SDK's models.retrieve, for provider/model and for an alias, on every OpenAI prefix", async () => {
    const model = await h.client.models.retrieve('mock/echo');
    expect(model).toMatchObject({ id: 'mock/echo', object: 'model', owned_by: 'mock' });
    expect(await h.client.models.retrieve('openai/gpt-4o-mini')).toMatchObject({ id: 'openai/gpt-4o-mini', owned_by: 'openai' });
    expect(await h.client.models.retrieve('fast')).toMatchObject({ id: 'fast', alias_for: 'mock/echo' });
    for (const prefix of ['/openai/v1', '/openai']) {
      const response = await fetch(`${h.url}${prefix}/models/mock/echo`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: 'mock/echo' });
    }
  });

  it("answers 404 in OpenAI's error shape for a model it does not serve, which the SDK raises as NotFoundError", async () => {
    const unknownModel = await rejectionOf(h.client.models.retrieve('openai/gpt-nope'), NotFoundError);
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.code).toBe('model_not_allowed');
    const response = await fetch(`${h.url}/v1/models/${encodeURIComponent('nobody/model')}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { message: "provider 'nobody' is not configured (GET /v1/models lists the models)",
      type: 'invalid_request_error', param: 'model', code: 'unknown_provider' } });
  });
});

describe('CORS from client.allowed_origins', () => {
  it('answers an allowed origin\'s preflight with what it may send, on any route', async () => {
    for (const path of ['/v1/chat/completions', '/anthropic/v1/messages', '/v1/models/mock/echo']) {
      const response = await fetch(`${h.url}${path}`, { method: 'OPTIONS', headers: { origin: ALLOWED,
        'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os' } });
      expect(response.status, path).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(response.headers.get('access-control-allow-methods')).toContain('POST');
      expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type, x-stainless-os');
      expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
      expect(response.headers.get('vary')).toContain('Origin');
    }
  });

  it('lets an allowed origin read answers, errors included, and gives other origins no CORS header', async () => {
    const chat = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { origin: 'http://localhost:5173', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(chat.status).toBe(200);
    expect(chat.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const missing = await fetch(`${h.url}/v1/nothing`, { headers: { origin: ALLOWED } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe(ALLOWED);

    const refused = await fetch(`${h.url}/v1/models`, { headers: { origin: 'https://evil.example' } });
    expect(refused.status).toBe(200);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(refused.headers.get('vary')).toBe('Origin');
    const refusedPreflight = await fetch(`${h.url}/v1/chat/completions`, { method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(refusedPreflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(refusedPreflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('allows any origin with "*", and sends no CORS header at all without allowed_origins', async () => {
    const open = await startHarness({ config: () => ({ client: { allowed_origins: ['*'] }, providers: { mock: {} } }) });
    const closed = await startHarness({ config: () => ({ providers: { mock: {} } }) });
    try {
      const anyOrigin = await fetch(`${open.url}/health`, { headers: { origin: 'https://any.example' } });
      expect(anyOrigin.headers.get('access-control-allow-origin')).toBe('https://any.example');
      const none = await fetch(`${closed.url}/health`, { headers: { origin: 'https://any.example' } });
      expect(none.headers.get('access-control-allow-origin')).toBeNull();
      expect(none.headers.get('vary')).toBeNull();
      const models = await newClient(open.url).models.retrieve('mock/echo');
      expect(models.id).toBe('mock/echo');
    } finally {
      await open.close();
      await closed.close();
    }
  });
});

describe('readiness while draining', () => {
  it('answers /ready 503 shutting_down once close() began', async () => {
    const draining = await startHarness({ config: () => ({ providers: { mock: { mock_config: { latency_ms: 1500 } } } }) });
    const port = Number(new URL(draining.url).port);
    // A request in flight keeps the gateway draining; the probe rides a connection opened before close().
    const inFlight = fetch(`${draining.url}/v1/chat/completions`, { method: 'POST',
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'slow' }] }) });
    const probe = connect(port, '127.0.0.1');
    await new Promise((resolve) => probe.once('connect', resolve));
    await eventually(() => draining.gateway.pools.get('mock')!.stats().inFlight, (inFlight) => inFlight === 1);
    const closing = draining.gateway.close(30_000);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      probe.on('data', (data) => {
        text += data.toString();
        if (text.includes('}')) resolve(text);
      });
    });
    probe.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n');
    const text = await answer;
    probe.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(text).toContain(`{"status":"shutting_down","version":"${VERSION}"}`);
    expect((await inFlight).status).toBe(200);
    await closing;
    await draining.fake.close();
  });
});
