// The faulty upstream's normal answers must be OpenAI's own to the official SDK (pointed straight at it), and
// each fault must do what its name says on the wire, or the hardening tests built on it prove nothing.

import { request } from 'node:http';
import OpenAI, { APIConnectionError, APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultScenario, pickWeighted, seededRandom, startFaultyUpstream, type FaultyUpstream } from './faulty-upstream.js';
import { rejectionOf } from '../rejection.js';

let upstream: FaultyUpstream;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startFaultyUpstream({ mix: [{ faults: 'ok', weight: 3 }, { faults: 'status-500', weight: 1 }], seed: 7 });
  client = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'sk-fake', maxRetries: 0, timeout: 5_000 });
});

afterAll(async () => {
  await upstream.close();
});

const messages = [{ role: 'user' as const, content: 'hello' }];

/** Sends a chat request with a raw client and reports what arrived: the status, the bytes, and how it ended. */
function rawExchange(model: string, stream = false): Promise<{ status: number | null; text: string; ended: 'end' | 'error' }> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model, messages, stream });
    let status: number | null = null;
    let text = '';
    const req = request(`${upstream.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-fake' },
    }, (res) => {
      status = res.statusCode ?? null;
      res.setEncoding('utf8');
      res.on('data', (part: string) => { text += part; });
      res.on('end', () => resolve({ status, text, ended: 'end' }));
      res.on('error', () => resolve({ status, text, ended: 'error' }));
    });
    req.on('error', () => resolve({ status, text, ended: 'error' }));
    req.end(body);
  });
}

describe('faulty upstream: its normal answers, read by the official SDK', () => {
  it('answers a chat completion and a stream the SDK accepts', async () => {
    const answer = await client.chat.completions.create({ model: 'ok', messages });
    expect(answer.object).toBe('chat.completion');
    expect(answer.choices[0].message.content).toContain('hello');
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of await client.chat.completions.create({ model: 'chunk-interval-5', messages, stream: true })) {
      chunks.push(chunk);
    }
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('')).toBe(answer.choices[0].message.content);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('fails with any status in the error envelope, with the Retry-After asked for', async () => {
    const error = await rejectionOf<APIError>(client.chat.completions.create({ model: 'status-418+retry-after-7', messages }), APIError);
    expect(error.status).toBe(418);
    expect(error.headers?.get('retry-after')).toBe('7');
    expect((error as APIError).error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
  });

  it('waits before the headers for latency-<ms>', async () => {
    const started = performance.now();
    await client.chat.completions.create({ model: 'latency-150', messages });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('faulty upstream: faults on the wire', () => {
  it('resets before any header', async () => {
    expect(await rawExchange('reset-before-headers')).toEqual({ status: null, text: '', ended: 'error' });
    const error = await client.chat.completions.create({ model: 'reset-before-headers', messages }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
  });

  it('resets a JSON answer half-way through its announced length', async () => {
    const exchange = await rawExchange('reset-mid-body');
    expect(exchange.status).toBe(200);
    expect(exchange.ended).toBe('error');
    expect(() => JSON.parse(exchange.text)).toThrow();
  });

  it('resets a stream after two events, and truncates one without [DONE]', async () => {
    const reset = await rawExchange('reset-mid-body', true);
    expect(reset.ended).toBe('error');
    expect(reset.text.match(/^data: /gm)).toHaveLength(2);
    const truncated = await rawExchange('truncated', true);
    expect(truncated.ended).toBe('end');
    expect(truncated.text).toContain('"finish_reason":"stop"');
    expect(truncated.text).not.toContain('[DONE]');
  });

  it('sends malformed JSON: a cut body with a 200, and a stream event that is not JSON', async () => {
    const json = await rawExchange('malformed');
    expect(json).toMatchObject({ status: 200, ended: 'end' });
    expect(() => JSON.parse(json.text)).toThrow();
    const events = (await rawExchange('malformed', true)).text.split('\n\n').filter(Boolean).map((block) => block.slice(6));
    expect(() => JSON.parse(events[0])).not.toThrow();
    expect(() => JSON.parse(events[1])).toThrow();
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('spaces stream events by chunk-interval-<ms>', async () => {
    const started = performance.now();
    const exchange = await rawExchange('chunk-interval-40', true);
    const events = exchange.text.split('\n\n').filter(Boolean).length;
    expect(performance.now() - started).toBeGreaterThanOrEqual((events - 1) * 40 - 10);
  });

  it('reads names outside its grammar with the fake OpenAI grammar, and composes its own', () => {
    expect(faultScenario('break-after-3')).toEqual({ breakAfterChunks: 3 });
    expect(faultScenario('latency-20+status-503+retry-after-2')).toEqual({ latencyMs: 20, error: { status: 503, retryAfter: '2' } });
  });

  it('draws the mix per request, replayably', async () => {
    for (let i = 0; i < 40; i++) await rawExchange('mix');
    expect((upstream.drawn.get('ok') ?? 0) + (upstream.drawn.get('status-500') ?? 0)).toBe(40);
    expect(upstream.drawn.get('status-500')).toBeGreaterThan(0);
    expect(upstream.drawn.get('ok')).toBeGreaterThan(upstream.drawn.get('status-500')!);
    const items = [{ weight: 1, name: 'a' }, { weight: 1, name: 'b' }];
    const draw = (seed: number) => Array.from({ length: 10 }, ((random) => () => pickWeighted(items, random).name)(seededRandom(seed)));
    expect(draw(3)).toEqual(draw(3));
  });
});
