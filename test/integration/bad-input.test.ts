// Bad input never crashes or hangs the gateway: each kind gets its clear 4xx in OpenAI's error envelope (or, where
// HTTP itself is broken, a closed connection), and the gateway serves a normal request right after. Through the
// real gateway, in front of the faulty upstream, with fetch and raw sockets as clients.

import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultyUpstream, type FaultyUpstream } from '../fakes/faulty-upstream.js';
import {
  eventually, expectEnvelope, newClient, openaiProvider, postChat, startGatewayWith, user, type Harness,
} from './harness.js';

const BODY_LIMIT_MB = 4;
let h: Harness<FaultyUpstream>;

beforeAll(async () => {
  h = await startGatewayWith(await startFaultyUpstream(), (fakeUrl) => ({
    client: { max_request_body_size_mb: BODY_LIMIT_MB },
    providers: { openai: openaiProvider(fakeUrl) },
  }));
});

afterAll(async () => {
  await h?.close();
});

/** The gateway still answers a normal request, and the provider's pool holds nothing. */
async function servesNormally(): Promise<void> {
  const answer = await newClient(h.url, { timeoutMs: 5_000 }).chat.completions.create({ model: 'openai/ok', messages: user('still there?') });
  expect(answer.choices[0].message.content).toContain('still there?');
  await eventually(() => h.gateway.pools.get('openai')!.stats(), (stats) => stats.inFlight === 0 && stats.queued === 0 && stats.slotsInUse === 0);
}

/** Posts `body` and expects `status` with OpenAI's error envelope carrying `code`; returns the error's message. */
async function refused(body: string | Uint8Array, status: number, code: string, param?: string): Promise<string> {
  const response = await fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000),
  });
  expect(response.status).toBe(status);
  const error = expectEnvelope(await response.json(), code);
  if (param !== undefined) expect(error.param).toBe(param);
  return error.message;
}

/** Opens a raw TCP connection to the gateway. */
async function rawSocket(): Promise<Socket> {
  const socket = connect(Number(new URL(h.url).port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/** Everything the gateway sends on `socket` until it closes it or `timeoutMs` passes (then `timedOut`). */
function readUntilClosed(socket: Socket, timeoutMs: number): Promise<{ text: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, timedOut: true });
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (part: string) => { text += part; });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, timedOut: false });
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('malformed bodies', () => {
  it.each([
    ['truncated JSON', '{"model":"openai/ok","messages":[{"role":"us'],
    ['a trailing comma', '{"model":"openai/ok","messages":[{"role":"user","content":"x"}],}'],
    ['two documents', '{"model":"openai/ok"}{"model":"openai/ok"}'],
    ['a bare word', 'hello'],
    ['a byte order mark', '\uFEFF{"model":"openai/ok","messages":[{"role":"user","content":"x"}]}'],
    ['NUL bytes', '\u0000\u0000'],
  ])('%s → 400 invalid_json', async (_name, body) => {
    await refused(body, 400, 'invalid_json');
    await servesNormally();
  });

  it.each([
    ['model a number', { model: 7, messages: user('x') }, 'model'],
    ['model null', { model: null, messages: user('x') }, 'model'],
    ['model an object', { model: { name: 'openai/ok' }, messages: user('x') }, 'model'],
    ['messages an object', { model: 'openai/ok', messages: { role: 'user', content: 'x' } }, 'messages'],
    ['messages a string', { model: 'openai/ok', messages: 'hi' }, 'messages'],
    ['a message null', { model: 'openai/ok', messages: [null] }, 'messages[0]'],
    ['a role a number', { model: 'openai/ok', messages: [{ role: 1, content: 'x' }] }, 'messages[0]'],
    ['stream a string', { model: 'openai/ok', messages: user('x'), stream: 'true' }, 'stream'],
    ['stream a number', { model: 'openai/ok', messages: user('x'), stream: 1 }, 'stream'],
    ['stream_options an array', { model: 'openai/ok', messages: user('x'), stream: true, stream_options: [] }, 'stream_options'],
    ['fallbacks a string', { model: 'openai/ok', messages: user('x'), fallbacks: 'openai/ok' }, 'fallbacks'],
  ])('%s → 400 invalid_request naming the field', async (_name, body, param) => {
    await refused(JSON.stringify(body), 400, 'invalid_request', param);
    await servesNormally();
  });

  it('a JSON array or scalar instead of an object → 400 invalid_request', async () => {
    for (const body of ['[]', '42', '"text"', 'null', 'true']) await refused(body, 400, 'invalid_request');
    await servesNormally();
  });
});

describe('invalid UTF-8', () => {
  // JSON text is UTF-8 (RFC 8259 §8.1). Decoding bad bytes as U+FFFD would send the provider a prompt the client
  // never wrote, so the gateway refuses the body and says where the first bad byte is.
  it.each([
    ['a lone continuation byte', [0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['a UTF-16 surrogate encoded', [0xed, 0xa0, 0x80]],
  ])('%s inside a string → 400 invalid_json', async (_name, bytes) => {
    const head = Buffer.from('{"model":"openai/ok","messages":[{"role":"user","content":"ab');
    const tail = Buffer.from('cd"}]}');
    const message = await refused(new Uint8Array(Buffer.concat([head, Buffer.from(bytes), tail])), 400, 'invalid_json');
    expect(message).toMatch(new RegExp(`not valid UTF-8 .*byte ${head.length}\\b`));
    await servesNormally();
  });

  it('valid multi-byte UTF-8 goes through untouched', async () => {
    const text = 'héllo 👋 世界';
    const answer = await newClient(h.url).chat.completions.create({ model: 'openai/ok', messages: user(text) });
    expect(answer.choices[0].message.content).toContain(text);
    const upstream = h.fake.requests.at(-1)!;
    expect(upstream.rawBody).toContain(text);
  });
});

describe('sizes', () => {
  // A body over the limit, with content-length or chunked, is in errors.test.ts; here one whose content-length lies.
  // Up to 16 MiB over the limit a body is read before its 413 (a client still sending would miss the answer), as
  // one within the limit is; a length past that is refused at once.
  it('a content-length that lies far above the limit is refused before reading', async () => {
    const socket = await rawSocket();
    const closed = readUntilClosed(socket, 5_000);
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${(BODY_LIMIT_MB + 17) * 1024 * 1024}\r\n\r\n{"model"`);
    const { text, timedOut } = await closed;
    expect(timedOut).toBe(false);
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    await servesNormally();
  });

  it('a body a little over the limit is read to its end before the 413, and the connection serves on', async () => {
    const socket = await rawSocket();
    let text = '';
    socket.setEncoding('utf8').on('data', (part: string) => { text += part; });
    const length = (BODY_LIMIT_MB + 1) * 1024 * 1024;
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`);
    // Past the limit, still sending: no answer yet, since a client that is writing does not read one.
    const part = 256 * 1024;
    for (let sent = 0; sent < length - part; sent += part) socket.write(Buffer.alloc(part, 0x61));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(text).toBe('');
    socket.write(Buffer.alloc(length % part || part, 0x61));
    await eventually(() => text, (received) => received.includes('body_too_large'));
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    socket.write('GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n');
    await eventually(() => text, (received) => /HTTP\/1\.1 200 /.test(received));
    socket.destroy();
    await servesNormally();
  });

  it('100,000 messages within the size limit are answered, not hung on', async () => {
    const messages = Array.from({ length: 100_000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x' }));
    messages.push({ role: 'user', content: 'the last one' });
    const response = await postChat(h.url, { model: 'openai/ok', messages });
    expect(response.status).toBe(200);
    const answer = await response.json() as { choices: { message: { content: string } }[] };
    expect(answer.choices[0].message.content).toContain('the last one');
    expect((h.fake.requests.at(-1)!.body!.messages as unknown[]).length).toBe(100_001);
    await servesNormally();
  }, 30_000);

  it('a body nested 100,000 levels deep → a clear 400, not a crash', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = `{"model":"openai/ok","messages":[{"role":"user","content":"x"}],"metadata":${deep}}`;
    const response = await postChat(h.url, body);
    expect(response.status).toBe(400);
    expect(expectEnvelope(await response.json(), 'invalid_request').message).toMatch(/cannot be handed to openai's worker/);
    await servesNormally();
  });
});

describe('broken HTTP', () => {
  // uWebSockets.js answers none of these: it stops reading and closes the connection when it has been idle for
  // 10 s. No handler of ours runs, so nothing reaches a provider. Run side by side to wait those 10 s once.
  it('header values with a bare CR or LF, a NUL or another control character, or a line without a colon: a closed connection, never a 200', async () => {
    const body = JSON.stringify({ model: 'openai/ok', messages: user('x') });
    const before = h.fake.requests.length;
    const outcomes = await Promise.all(['x-note: a\nb: c\r\n', 'x-note: a\rb\r\n', 'x-note: a\u0000b\r\n',
      'x-request-id: abc\u000bset-cookie: evil\r\n', 'not a header\r\n']
      .map(async (badHeader) => {
        const socket = await rawSocket();
        const closed = readUntilClosed(socket, 15_000);
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n${badHeader}content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        return closed;
      }));
    for (const { text, timedOut } of outcomes) {
      expect(timedOut).toBe(false);
      if (text !== '') expect(text).toMatch(/^HTTP\/1\.1 4\d\d /);
    }
    expect(h.fake.requests.length).toBe(before);
    await servesNormally();
  }, 20_000);

  it('a CRLF in a request id only starts another request header: nothing of it comes back but the id', async () => {
    const socket = await rawSocket();
    const closed = readUntilClosed(socket, 5_000);
    const body = JSON.stringify({ model: 'openai/ok', messages: user('x') });
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-request-id: abc\r\nset-cookie: evil\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    const { text, timedOut } = await closed;
    expect(timedOut).toBe(false);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/\r\nx-request-id: abc\r\n/);
    expect(text).not.toMatch(/set-cookie|evil/i);
  });

  // The transparency headers echo what the client named: a CR/LF in it must not end the header line.
  it.each([
    ['an answer', { model: 'openai/ok\r\nset-cookie: evil=1' }, 200, /\r\nx-heimdall-model: ok%0D%0Aset-cookie: evil=1\r\n/],
    ['a stream', { model: 'openai/ok\nset-cookie: evil=1', stream: true }, 200, /\r\nx-heimdall-model: ok%0Aset-cookie: evil=1\r\n/],
    ['an error after fallbacks', { model: 'openai/status-503', fallbacks: ['gone\r\nset-cookie: evil=1/y'] }, 404,
      /\r\nx-heimdall-provider: gone%0D%0Aset-cookie: evil=1\r\n/],
  ])('a CR/LF in a model name cannot add response headers (%s): it goes out percent-encoded', async (_, fields, status, echoed) => {
    const socket = await rawSocket();
    const closed = readUntilClosed(socket, 5_000);
    const body = JSON.stringify({ messages: user('x'), ...fields });
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const { text, timedOut } = await closed;
    expect(timedOut).toBe(false);
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toMatch(echoed);
    expect(head).not.toMatch(/\r\nset-cookie/i);
  });
});

describe('slow and vanishing clients', () => {
  it('a body sent a few bytes at a time over a second is read whole and answered', async () => {
    const socket = await rawSocket();
    const closed = readUntilClosed(socket, 10_000);
    const body = JSON.stringify({ model: 'openai/ok', messages: user('slowly') });
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    for (let at = 0; at < body.length; at += 8) {
      socket.write(body.slice(at, at + 8));
      await sleep(1_000 / Math.ceil(body.length / 8));
    }
    const { text, timedOut } = await closed;
    expect(timedOut).toBe(false);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('slowly');
  });

  it('a client that stops half-way through its body and disconnects leaves nothing behind', async () => {
    const before = h.fake.requests.length;
    const socket = await rawSocket();
    const body = JSON.stringify({ model: 'openai/ok', messages: user('half') });
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, body.length / 2)}`);
    await sleep(100);
    socket.destroy();
    await sleep(100);
    expect(h.fake.requests.length).toBe(before);
    await servesNormally();
  });

  it.each([false, true])('a client that disconnects while its request is in flight (stream %s): the upstream call is aborted, the pool emptied',
    async (stream) => {
      const controller = new AbortController();
      const pending = fetch(`${h.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
        body: JSON.stringify({ model: stream ? 'openai/hang' : 'openai/latency-3000', messages: user('x'), stream }),
      }).then((response) => response.text());
      const seen = await h.fake.waitForRequests(h.fake.requests.length + 1);
      await sleep(50);
      controller.abort();
      await expect(pending).rejects.toThrow();
      await seen.closed;
      expect(seen.clientAborted).toBe(true);
      await servesNormally();
    });
});
