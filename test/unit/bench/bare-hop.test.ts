// The bench's floors must relay what the upstream says, or the figures measured against them mean nothing: the bare
// hop passes the bytes through, the minimum hop (parse, msgpack, events) gives the client the same events and end, and
// the bytes hop forwards the stream's bytes while it still finds the usage.
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardBytes, STREAM_END } from '../../../bench/bare-hop-worker.js';
import { spawnChild, stop, waitForListening, type Child } from '../../../bench/children.js';

const bench = (file: string) => fileURLToPath(new URL(`../../../dist/bench/${file}`, import.meta.url));
const children: Child[] = [];
const urls: Record<'mock' | 'bare' | 'minimum' | 'bytes', string> = { mock: '', bare: '', minimum: '', bytes: '' };

async function start(name: string, file: string, args: string[]): Promise<string> {
  const child = spawnChild(name, process.execPath, [bench(file), '--port', '0', ...args]);
  children.push(child);
  return `http://127.0.0.1:${await waitForListening(child)}/v1/chat/completions`;
}

beforeAll(async () => {
  urls.mock = await start('mock', 'mock-upstream.js', ['--chunks', '5']);
  const upstream = new URL(urls.mock).origin;
  urls.bare = await start('bare-hop', 'bare-hop.js', ['--upstream', upstream]);
  urls.minimum = await start('minimum-hop', 'bare-hop.js', ['--upstream', upstream, '--minimum']);
  urls.bytes = await start('bytes-hop', 'bare-hop.js', ['--upstream', upstream, '--bytes']);
}, 30_000);

afterAll(async () => {
  for (const child of children) await stop(child);
});

async function post(url: string, body: string): Promise<{ status: number; type: string; text: string }> {
  const answer = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: answer.statusCode, type: String(answer.headers['content-type']), text: await answer.body.text() };
}

const events = (text: string) => text.split('\n\n').filter((event) => event !== '');
const messages = [{ role: 'user', content: 'Hello' }];

describe('the bench hops', () => {
  it('relay a stream as the upstream sent it: the bare and bytes hops byte for byte, the minimum hop event for event', async () => {
    const streamed = JSON.stringify({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } });
    const direct = await post(urls.mock, streamed);
    expect(direct.status).toBe(200);
    expect(events(direct.text).length).toBeGreaterThan(5);
    const bare = await post(urls.bare, streamed);
    expect(bare).toMatchObject({ status: 200, text: direct.text });
    // The minimum hop routes by model (the provider's prefix taken off) and asks for the usage itself.
    const minimum = await post(urls.minimum, JSON.stringify({ model: 'openai/gpt-4o-mini', messages, stream: true }));
    expect(minimum.status).toBe(200);
    expect(minimum.type).toContain('text/event-stream');
    expect(events(minimum.text)).toEqual(events(direct.text));
    expect(minimum.text.endsWith('data: [DONE]\n\n')).toBe(true);
    // The bytes hop routes as the minimum hop does, and what it forwards is the upstream's bytes, untouched.
    const bytes = await post(urls.bytes, JSON.stringify({ model: 'openai/gpt-4o-mini', messages, stream: true }));
    expect(bytes).toMatchObject({ status: 200, text: direct.text });
    expect(bytes.type).toContain('text/event-stream');
  });

  it('relay a whole answer, and the minimum and bytes hops refuse a body that is not a JSON object', async () => {
    const whole = JSON.stringify({ model: 'gpt-4o-mini', messages });
    const direct = await post(urls.mock, whole);
    expect(direct.status).toBe(200);
    expect(await post(urls.bare, whole)).toMatchObject({ status: 200, text: direct.text });
    for (const url of [urls.minimum, urls.bytes]) {
      expect(await post(url, JSON.stringify({ model: 'openai/gpt-4o-mini', messages }))).toMatchObject({ status: 200, text: direct.text });
      for (const bad of ['not json', 'null', '[1]']) {
        const refused = await post(url, bad);
        expect(refused.status).toBe(400);
        expect(JSON.parse(refused.text)).toMatchObject({ error: { message: expect.stringContaining('JSON object') } });
      }
    }
  });
});

describe('the bytes hop', () => {
  const usage = { prompt_tokens: 13, completion_tokens: 2, total_tokens: 15 };
  const stream = ['{"choices":[{"delta":{"content":"Hi"}}]}', '{"choices":[{"delta":{"content":"\\"usage\\""}}]}',
    `{"choices":[],"usage":${JSON.stringify(usage)}}`, '[DONE]'].map((data) => `data: ${data}\n\n`).join('');

  async function* reads(text: string, cuts: number[]): AsyncGenerator<Buffer> {
    let from = 0;
    for (const cut of [...cuts, text.length]) {
      yield Buffer.from(text.slice(from, cut));
      from = cut;
    }
  }

  it('finds the usage wherever the reads cut the stream, and forwards every byte untouched', async () => {
    for (let first = 1; first < stream.length; first += 3) {
      for (const second of [first + 1, first + 7, first + 40]) {
        const cuts = second < stream.length ? [first, second] : [first];
        const sent: { kind: number; reads: Buffer[]; usage: unknown }[] = [];
        await forwardBytes(reads(stream, cuts), (kind, chunks, found) => sent.push({ kind, reads: [...chunks], usage: found }));
        const end = sent.at(-1)!;
        expect(end.kind, `cut at ${cuts.join(',')}`).toBe(STREAM_END);
        expect(end.usage, `cut at ${cuts.join(',')}`).toEqual(usage);
        expect(Buffer.concat(sent.flatMap((message) => message.reads)).toString()).toBe(stream);
      }
    }
  });
});
