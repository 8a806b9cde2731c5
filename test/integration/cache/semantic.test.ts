// The semantic layer through the real gateway: the last user message is embedded by the configured provider (the
// fake OpenAI server's deterministic vectors, from a text's first 8 characters) through that provider's pool; the
// nearest stored request above the threshold, in the same scope, answers. A failing embedding provider leaves the
// exact layer working. With Redis present, the vectors are shared by two instances too.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../../dist/src/gateway.js';
import { charVector } from '../../fakes/fake-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { serviceAvailable } from '../../services.js';
import { openaiProvider, postChat } from '../harness.js';

const THRESHOLD = 0.995;

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i];
    na += x * x;
    nb += b[i] * b[i];
  });
  return dot / Math.sqrt(na * nb);
}
const similarity = (a: string, b: string) => cosine(charVector(a, 8), charVector(b, 8));

async function start(fake: FakeOpenAI, cache: Record<string, unknown>): Promise<{ gateway: Gateway; url: string }> {
  const config = await loadConfig({
    raw: { providers: { openai: openaiProvider(fake.url) }, plugins: [{ name: 'semantic_cache', config: cache }] },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
  return { gateway, url: `http://127.0.0.1:${gateway.port}` };
}

const semanticConfig = { provider: 'openai', embedding_model: 'text-embedding-3-small', threshold: THRESHOLD };
const ask = (url: string, prompt: string, extra: object = {}, headers: Record<string, string> = {}) => postChat(url,
  { model: 'openai/gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompt }], ...extra },
  { 'x-bf-cache-key': 'semantic', ...headers });
const embeddingCalls = (fake: FakeOpenAI) => fake.requests.filter((r) => r.path === '/v1/embeddings').length;
const chatCalls = (fake: FakeOpenAI) => fake.requests.filter((r) => r.path === '/v1/chat/completions').length;

describe('semantic layer', () => {
  let fake: FakeOpenAI;
  let gateway: { gateway: Gateway; url: string };
  let failing: { gateway: Gateway; url: string };

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    [gateway, failing] = await Promise.all([start(fake, semanticConfig),
      start(fake, { ...semanticConfig, embedding_model: 'error-500' })]);
  });
  afterAll(async () => {
    await Promise.all([gateway, failing].map((g) => g?.gateway.close(200)));
    await fake?.close();
  });

  it('answers a near-duplicate above the threshold, with the similarity, from the stored answer', async () => {
    const original = `Whats the capital of France? ${randomUUID()}`;
    const near = `Whatz the capital of France ${randomUUID()}`;
    expect(similarity(original, near)).toBeGreaterThanOrEqual(THRESHOLD);
    expect(similarity(original, near)).toBeLessThan(1);
    const first = await ask(gateway.url, original);
    const text = await first.text();
    expect(first.headers.get('x-heimdall-cache')).toBe('miss');
    expect(Number(first.headers.get('x-heimdall-cache-embedding-ms'))).toBeGreaterThan(0);
    const embedded = embeddingCalls(fake);
    const chats = chatCalls(fake);
    const second = await ask(gateway.url, near);
    expect(second.headers.get('x-heimdall-cache')).toBe('semantic-hit');
    expect(Number(second.headers.get('x-heimdall-cache-similarity'))).toBeCloseTo(similarity(original, near), 3);
    expect(await second.text()).toBe(text);
    // One embedding call for the lookup, and the chat provider not called at all.
    expect(embeddingCalls(fake)).toBe(embedded + 1);
    expect(chatCalls(fake)).toBe(chats);
    const sent = fake.requests.filter((r) => r.path === '/v1/embeddings').at(-1)!;
    expect((JSON.parse(sent.rawBody) as { input: string }).input).toBe(near);
  });

  it('misses below the threshold, and with x-bf-cache-threshold raised', async () => {
    const original = `Capital city of Peru ${randomUUID()}`;
    const far = `Zebras gallop quickly ${randomUUID()}`;
    expect(similarity(original, far)).toBeLessThan(THRESHOLD);
    await (await ask(gateway.url, original)).text();
    const miss = await ask(gateway.url, far);
    await miss.text();
    expect(miss.headers.get('x-heimdall-cache')).toBe('miss');
    const near = `Capitag city of Peru ${randomUUID()}`;
    expect(similarity(original, near)).toBeGreaterThanOrEqual(THRESHOLD);
    expect(similarity(original, near)).toBeLessThan(1);
    const strict = await ask(gateway.url, near, {}, { 'x-bf-cache-threshold': '1' });
    await strict.text();
    expect(strict.headers.get('x-heimdall-cache')).toBe('miss');
  });

  it('stays within the model, and within the rest of the request', async () => {
    const original = `Name three rivers ${randomUUID()}`;
    const near = `Name three rivers please ${randomUUID()}`;
    await (await ask(gateway.url, original)).text();
    const otherModel = await ask(gateway.url, near, { model: 'openai/gpt-4o' });
    await otherModel.text();
    expect(otherModel.headers.get('x-heimdall-cache')).toBe('miss');
    const otherParams = await ask(gateway.url, near, { max_tokens: 7 });
    await otherParams.text();
    expect(otherParams.headers.get('x-heimdall-cache')).toBe('miss');
    const same = await ask(gateway.url, near);
    await same.text();
    expect(same.headers.get('x-heimdall-cache')).toBe('semantic-hit');
  });

  it('x-bf-cache-type: direct skips the embedding call', async () => {
    const before = embeddingCalls(fake);
    const answer = await ask(gateway.url, `direct only ${randomUUID()}`, {}, { 'x-bf-cache-type': 'direct' });
    await answer.text();
    expect(answer.headers.get('x-heimdall-cache')).toBe('miss');
    expect(embeddingCalls(fake)).toBe(before);
  });

  it('a failing embedding provider degrades to the exact layer, never failing the request', async () => {
    const prompt = `exact still works ${randomUUID()}`;
    const first = await ask(failing.url, prompt);
    expect(first.status).toBe(200);
    await first.text();
    expect(first.headers.get('x-heimdall-cache')).toBe('miss');
    const again = await ask(failing.url, prompt);
    await again.text();
    expect(again.headers.get('x-heimdall-cache')).toBe('hit');
    const metrics = await (await fetch(`${failing.url}/metrics`)).text();
    expect(Number(/^heimdall_cache_embedding_errors_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });
});

const redis = await serviceAvailable('Redis', '127.0.0.1', 6379);
const PREFIX = `heimdall:test:semantic:${randomUUID()}:`;

describe.runIf(redis)('semantic layer over Redis', () => {
  let fake: FakeOpenAI;
  let a: { gateway: Gateway; url: string };
  let b: { gateway: Gateway; url: string };
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    const config = { ...semanticConfig, store: { type: 'redis', redis_url: 'redis://127.0.0.1:6379', key_prefix: PREFIX, timeout_ms: 200 } };
    [a, b] = await Promise.all([start(fake, config), start(fake, config)]);
  });
  afterAll(async () => {
    await Promise.all([a, b].map((g) => g?.gateway.close(200)));
    await fake?.close();
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    const keys = await client.keys(`${PREFIX}*`);
    if (keys.length > 0) await client.del(keys);
    await client.close();
  });

  it('a near-duplicate asked of one instance is answered from what the other stored', async () => {
    const original = `Whats the tallest peak ${randomUUID()}`;
    const near = `Whats tha tallest peak ${randomUUID()}`;
    const text = await (await ask(a.url, original)).text();
    await new Promise((resolve) => setTimeout(resolve, 150));
    const answer = await ask(b.url, near);
    expect(answer.headers.get('x-heimdall-cache')).toBe('semantic-hit');
    expect(await answer.text()).toBe(text);
  });
});
