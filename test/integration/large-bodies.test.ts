// Bodies of megabytes: a request that crosses to its worker by transfer (not the ring's overflow slots) reaches the
// upstream byte for byte, a large answer comes back whole, and large_payload_optimization's max_payload_bytes caps
// the body with a clean 413 naming it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEnvelope, openaiProvider, postChat, postChatChunked, startHarness, user, type Harness } from './harness.js';

let h: Harness;
const MAX_PAYLOAD = 6_000_000;

beforeAll(async () => {
  h = await startHarness({
    config: (fakeUrl) => ({
      client: { max_request_body_size_mb: 8 },
      large_payload_optimization: { enabled: true, request_threshold_bytes: 64 * 1024, response_threshold_bytes: 64 * 1024,
        max_payload_bytes: MAX_PAYLOAD },
      providers: { openai: openaiProvider(fakeUrl), mock: {},
        // Rings of two 1 KiB slots: every message past a quarter of one (about 500 bytes) goes by the port.
        tiny: openaiProvider(fakeUrl, { custom_provider_config: { base_provider_type: 'openai' },
          concurrency_and_buffer_size: { resource_limits: { ring_slots: 2, ring_slot_size_kb: 1 } } }) },
    }),
  });
});

afterAll(async () => {
  await h?.close();
});

/** About `bytes` of UTF-8 text mixing one-, two-, three- and four-byte characters (16 bytes a repeat). */
const mixedText = (bytes: number) => 'abc ü € 👋 '.repeat(Math.ceil(bytes / 16));

describe('large bodies', () => {
  it('a body of megabytes reaches the upstream intact, in its own bytes', async () => {
    const content = mixedText(4_500_000);
    const sent = JSON.stringify({ model: 'openai/gpt-4o', messages: user(content) });
    expect(Buffer.byteLength(sent)).toBeLessThan(MAX_PAYLOAD);
    expect(Buffer.byteLength(sent)).toBeGreaterThan(3_000_000);
    const response = await postChat(h.url, sent);
    expect(response.status).toBe(200);
    const upstream = h.fake.requests.at(-1)!;
    expect((upstream.body!.messages as { content: string }[])[0].content).toBe(content);
  });

  it('several at once each reach the upstream as their own', async () => {
    const contents = ['a', 'b', 'c'].map((letter) => `${letter}${mixedText(400_000)}${letter}`);
    const responses = await Promise.all(contents.map((content, i) =>
      postChat(h.url, { model: `openai/gpt-4o-${i}`, messages: user(content) })));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const [i, content] of contents.entries()) {
      const upstream = h.fake.requests.find((r) => r.body?.model === `gpt-4o-${i}`)!;
      expect((upstream.body!.messages as { content: string }[])[0].content).toBe(content);
    }
  });

  it('a large answer comes back whole', async () => {
    const words = Array.from({ length: 100_000 }, (_, i) => `w${i}é`).join(' ');
    const response = await postChat(h.url, { model: 'mock/echo', messages: user(words) });
    expect(response.status).toBe(200);
    const answer = await response.json() as { choices: { message: { content: string } }[] };
    expect(answer.choices[0].message.content).toBe(`Echo: ${words}`);
  });

  it('a provider with rings sized down serves small, medium and large requests and streams', async () => {
    for (const size of [10, 3_000, 300_000]) {
      const content = mixedText(size);
      const response = await postChat(h.url, { model: `tiny/gpt-4o-size-${size}`, messages: user(content) });
      expect(response.status).toBe(200);
      const upstream = h.fake.requests.find((r) => r.body?.model === `gpt-4o-size-${size}`)!;
      expect((upstream.body!.messages as { content: string }[])[0].content).toBe(content);
    }
    const stream = await postChat(h.url, { model: 'tiny/gpt-4o', stream: true, messages: user('a stream through small rings') });
    expect(stream.status).toBe(200);
    expect(await stream.text()).toContain('data: [DONE]');
  });

  it('a body over large_payload_optimization.max_payload_bytes → 413 naming the setting; the upstream is not called', async () => {
    const before = h.fake.requests.length;
    const response = await postChat(h.url, { model: 'openai/gpt-4o', messages: user('x'.repeat(MAX_PAYLOAD)) });
    expect(response.status).toBe(413);
    const error = expectEnvelope(await response.json(), 'body_too_large');
    expect(error.message).toBe(`the body is larger than ${MAX_PAYLOAD} bytes (large_payload_optimization.max_payload_bytes)`);
    expect(h.fake.requests.length).toBe(before);
  });

  it('a body over the limit sent chunked, without a length, gets the same 413 once sent', async () => {
    const response = await postChatChunked(h.url, { model: 'openai/gpt-4o', messages: user('y'.repeat(MAX_PAYLOAD)) }, 256 * 1024);
    expect(response.status).toBe(413);
    expectEnvelope(await response.json(), 'body_too_large');
  });

  it('a chunked body within the limit is read whole', async () => {
    const content = mixedText(2_000_000);
    const response = await postChatChunked(h.url, { model: 'openai/gpt-4o-chunked', messages: user(content) }, 100_000);
    expect(response.status).toBe(200);
    const upstream = h.fake.requests.find((r) => r.body?.model === 'gpt-4o-chunked')!;
    expect((upstream.body!.messages as { content: string }[])[0].content).toBe(content);
  });
});
