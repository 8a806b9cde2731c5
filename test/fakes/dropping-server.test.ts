// The dropping server through undici's Client, one keep-alive connection: it answers, then drops the next request on
// that connection as the rule says, and undici reports each drop the way the worker's resend rule expects.

import { Client } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { droppedIdleConnection } from '../../dist/workers/upstream/error-map.js';
import { rejectionOf } from '../rejection.js';
import { startDroppingServer, type DroppingServer } from './dropping-server.js';

let server: DroppingServer | null = null;
let client: Client | null = null;

afterEach(async () => {
  await client?.destroy();
  await server?.close();
  client = server = null;
});

const chat = (c: Client) => c.request({ path: '/v1/chat/completions', method: 'POST',
  headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }) });

describe('dropping server', () => {
  it('answers a chat completion and keeps the connection open', async () => {
    server = await startDroppingServer(() => 'answer');
    client = new Client(server.url);
    for (let i = 0; i < 2; i++) {
      const answer = await chat(client);
      expect(answer.statusCode).toBe(200);
      expect((await answer.body.json() as { choices: unknown[] }).choices).toHaveLength(1);
    }
    expect(server.connections()).toBe(1);
    expect(server.requests.map((r) => r.onConnection)).toEqual([1, 2]);
  });

  it("answers a streamed request in OpenAI's SSE chunks, ending with [DONE]", async () => {
    server = await startDroppingServer(() => 'answer');
    client = new Client(server.url);
    const answer = await client.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [], stream: true }) });
    expect(answer.headers['content-type']).toBe('text/event-stream');
    const events = (await answer.body.text()).split('\n\n').filter(Boolean).map((block) => block.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { object: string; choices: { delta: { content?: string } }[] });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((c) => c.choices[0].delta.content).join('')).toBe('answered');
  });

  it.each(['close', 'reset'] as const)('%s: a reused connection dropped before the answer reads as a dropped idle connection', async (drop) => {
    server = await startDroppingServer(({ onConnection }) => (onConnection === 2 ? drop : 'answer'));
    client = new Client(server.url);
    await (await chat(client)).body.text();
    const error = await rejectionOf(chat(client), Error);
    expect((error as { code?: string }).code).toBe(drop === 'close' ? 'UND_ERR_SOCKET' : 'ECONNRESET');
    expect(droppedIdleConnection(error)).toBe(true);
    expect(server.requests).toEqual([
      { connection: 1, onConnection: 1, outcome: 'answer' },
      { connection: 1, onConnection: 2, outcome: drop },
    ]);
  });

  it('a new connection closed before its first answer does not read as a dropped idle connection', async () => {
    server = await startDroppingServer(() => 'close');
    client = new Client(server.url);
    const error = await rejectionOf(chat(client), Error);
    expect((error as { code?: string }).code).toBe('UND_ERR_SOCKET');
    expect(droppedIdleConnection(error)).toBe(false);
  });
});
