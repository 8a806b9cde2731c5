// Bifrost's `extra_fields` on /v1 answers (`client.extra_fields: true`), read through the official `openai` SDK,
// which keeps a field it does not know on the object it returns, on answers and on each streamed chunk alike.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spliceExtraFields } from '../../dist/src/pipeline/extra-fields.js';
import { openaiProvider, startHarness, type Harness } from './harness.js';

interface ExtraFields {
  request_type: string;
  provider: string;
  model_requested: string;
  latency: number;
  chunk_index: number;
  fallback_index: number;
}
const extraOf = (value: unknown): ExtraFields => (value as { extra_fields: ExtraFields }).extra_fields;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      client: { extra_fields: true },
      providers: { openai: openaiProvider(fakeUrl), mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } } },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

describe('extra_fields on /v1', () => {
  it("are on a chat answer as Bifrost writes them, with the answering attempt's provider and model", async () => {
    const completion = await h.client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0].message.content).toBeTruthy();
    const extra = extraOf(completion);
    expect(extra).toEqual({ request_type: 'chat_completion', provider: 'openai', model_requested: 'gpt-4o-mini',
      latency: expect.any(Number), chunk_index: 0, fallback_index: 0 });
    expect(Number.isInteger(extra.latency) && extra.latency >= 0).toBe(true);
  });

  it('are on every streamed chunk, counted from 0, with the _stream request type', async () => {
    const stream = await h.client.chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true,
      stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream this please' }] });
    const seen: ExtraFields[] = [];
    let text = '';
    for await (const chunk of stream) {
      seen.push(extraOf(chunk));
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(text).toContain('stream this please');
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.map((extra) => extra.chunk_index)).toEqual(seen.map((_, i) => i));
    for (const extra of seen) expect(extra).toMatchObject({ request_type: 'chat_completion_stream', provider: 'openai', fallback_index: 0 });
    // Each chunk's latency is the time since the request arrived: it never goes back.
    expect(seen.every((extra, i) => i === 0 || extra.latency >= seen[i - 1].latency)).toBe(true);
  });

  it('name the fallback that answered and its index', async () => {
    const completion = await h.client.chat.completions.create({ model: 'openai/gpt-error-500', messages: [{ role: 'user', content: 'hi' }],
      fallbacks: ['mock/echo'] } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(extraOf(completion)).toMatchObject({ provider: 'mock', model_requested: 'echo', fallback_index: 1 });
  });

  it('are on embeddings and legacy completions, with their request types', async () => {
    const embedded = await h.client.embeddings.create({ model: 'openai/text-embedding-3-small', input: 'a' });
    expect(extraOf(embedded)).toMatchObject({ request_type: 'embedding', provider: 'openai', model_requested: 'text-embedding-3-small' });
    const completion = await h.client.completions.create({ model: 'openai/gpt-4o-mini', prompt: 'say' });
    expect(extraOf(completion)).toMatchObject({ request_type: 'text_completion', provider: 'openai' });
  });

  it('are not on the drop-in prefixes, which answer as OpenAI does', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/openai/v1`, apiKey: 'client', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion).not.toHaveProperty('extra_fields');
  });
});

describe('spliceExtraFields', () => {
  it('adds the member before the closing brace, and leaves text that is not a JSON object alone', () => {
    expect(JSON.parse(spliceExtraFields('{"a":1}\n', '{"x":2}'))).toEqual({ a: 1, extra_fields: { x: 2 } });
    expect(spliceExtraFields('WEBVTT\n', '{"x":2}')).toBe('WEBVTT\n');
    expect(spliceExtraFields('[1]', '{"x":2}')).toBe('[1]');
    expect(JSON.parse(spliceExtraFields('{ }', '{"x":2}'))).toEqual({ extra_fields: { x: 2 } });
  });
});
