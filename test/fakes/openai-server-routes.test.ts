// The fake's `route` option, which lets one fake stand in for several OpenAI-compatible servers: a path prefix
// per server, a chat path without /v1, a keyless server, and usage streamed unasked on the finish chunk. The
// official SDK must still take every answer.

import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openaiRoute, startFakeOpenAI, type FakeOpenAI, type FakeRoute } from './openai-server.js';

let fake: FakeOpenAI;

const route = (path: string): FakeRoute | null => {
  if (path === '/plain/chat/completions') return { endpoint: 'chat' };
  if (path === '/local/v1/chat/completions') return { endpoint: 'chat', keyless: true };
  if (path === '/local/v1/embeddings') return { endpoint: 'embeddings', keyless: true };
  if (path === '/unasked/v1/chat/completions') return { endpoint: 'chat', scenario: { usageUnasked: true } };
  return openaiRoute(path);
};

const client = (path: string, apiKey = 'sk-fake') => new OpenAI({ baseURL: `${fake.url}${path}`, apiKey, maxRetries: 0, timeout: 10_000 });
const messages = [{ role: 'user' as const, content: 'hello routes' }];

beforeAll(async () => {
  fake = await startFakeOpenAI({ route });
});

afterAll(async () => {
  await fake.close();
});

describe('fake OpenAI with routes, read by the official SDK', () => {
  it('serves a chat path without /v1, and still 404s paths no route takes', async () => {
    const answer = await client('/plain').chat.completions.create({ model: 'sonar', messages });
    expect(answer.choices[0].message.content).toContain('hello routes');
    expect(fake.requests.at(-1)!.path).toBe('/plain/chat/completions');
    const missing = await client('/nowhere').chat.completions.create({ model: 'm', messages }).then(() => null, (e: unknown) => e);
    expect(missing).toBeInstanceOf(APIError);
    expect((missing as APIError).status).toBe(404);
  });

  it('keeps OpenAI\'s own paths, and their 401 without a key, when the route function falls back to openaiRoute', async () => {
    expect((await client('/v1').chat.completions.create({ model: 'gpt-4o', messages })).object).toBe('chat.completion');
    const response = await fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages }) });
    expect(response.status).toBe(401);
  });

  it('takes requests without Authorization on keyless routes, chat and embeddings', async () => {
    const body = JSON.stringify({ model: 'llama3', messages });
    const chat = await fetch(`${fake.url}/local/v1/chat/completions`, { method: 'POST', body });
    expect(chat.status).toBe(200);
    expect(fake.requests.at(-1)!.headers.authorization).toBeUndefined();
    const vectors = await client('/local/v1').embeddings.create({ model: 'nomic-embed-text', input: ['a', 'b'] });
    expect(vectors.data).toHaveLength(2);
  });

  it('streams the usage on the finish chunk unasked, and the SDK reads it there', async () => {
    const stream = await client('/unasked/v1').chat.completions.create({ model: 'mistral-small', messages, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices[0].finish_reason).toBe('stop');
    expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect(chunks.slice(0, -1).every((chunk) => !chunk.usage)).toBe(true);
    expect(fake.requests.at(-1)!.body?.stream_options).toBeUndefined();
  });
});
