// POST /v1/embeddings through the real gateway, with the openai SDK as the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, openaiProvider, startHarness, type Harness } from './harness.js';

describe('embeddings', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: (fakeUrl) => ({ providers: { openai: openaiProvider(fakeUrl), mock: {},
      anthropic: { keys: [{ value: 'sk-ant-never-called', models: ['*'] }] } } }) });
  });
  afterAll(() => h.close());

  it('returns the provider\'s vectors for every input, in order, and counts the tokens', async () => {
    const result = await h.client.embeddings.create({ model: 'openai/text-embedding-3-small', input: ['first text', 'second'] });
    expect(result.data.map((item) => item.index)).toEqual([0, 1]);
    expect(result.data[0].embedding).toHaveLength(8);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    const upstream = h.fake.requests.at(-1)!;
    expect(upstream.path).toBe('/v1/embeddings');
    expect(upstream.body).toMatchObject({ model: 'text-embedding-3-small', input: ['first text', 'second'] });
  });

  it('refuses a provider without embeddings with one clear 400 before any call', async () => {
    const before = h.fake.requests.length;
    const error = await apiError(h.client.embeddings.create({ model: 'anthropic/claude-3-5-haiku-latest', input: 'x' }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_capability');
    expect(error.message).toContain("provider 'anthropic' does not support embeddings");
    expect(h.fake.requests.length).toBe(before);
  });

  it("the mock's vectors are a bag of words: unit length, near for texts sharing words, `dimensions` honoured", async () => {
    const result = await h.client.embeddings.create({ model: 'mock/embed', encoding_format: 'float',
      input: ['What is the capital of France?', "what's the capital of France", 'Zebras gallop across the plain'] });
    const [a, b, c] = result.data.map((item) => item.embedding);
    const dot = (x: number[], y: number[]) => x.reduce((sum, v, i) => sum + v * y[i], 0);
    expect(a).toHaveLength(64);
    expect(dot(a, a)).toBeCloseTo(1, 4);
    expect(dot(a, b)).toBeGreaterThan(0.7);
    expect(Math.abs(dot(a, c))).toBeLessThan(0.5);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    const sized = await h.client.embeddings.create({ model: 'mock/embed', encoding_format: 'float', input: 'x', dimensions: 16 });
    expect(sized.data[0].embedding).toHaveLength(16);
  });

  it('refuses a missing or empty input with 400', async () => {
    for (const body of [{ model: 'openai/x' }, { model: 'openai/x', input: [] }, { model: 'openai/x', input: [1, 'a'] }]) {
      const response = await fetch(`${h.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { param: string } }).error.param).toBe('input');
    }
  });
});
