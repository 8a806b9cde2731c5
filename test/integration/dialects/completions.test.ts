// POST /v1/completions (legacy text completions) through the real gateway, with the `openai` SDK's
// `client.completions.create` as the client and the openai fake and the built-in mock behind it.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, collect, startOpenAIAndMock, type Harness } from '../harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startOpenAIAndMock();
});

afterAll(async () => {
  await h?.close();
});

describe('POST /v1/completions', () => {
  it('answers a text_completion, sending the prompt as one user message', async () => {
    const { data, response } = await h.client.completions
      .create({ model: 'openai/gpt-4o-mini', prompt: 'Say this is a test', max_tokens: 7, temperature: 0 }).withResponse();
    expect(data.object).toBe('text_completion');
    expect(data.id).toMatch(/^cmpl-/);
    expect(data.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', logprobs: null });
    expect(data.choices[0].text).toContain('You said: Say this is a test');
    expect(data.usage!.total_tokens).toBeGreaterThan(0);
    const sent = h.fake.requestsWithId(response.headers.get('x-request-id')!)[0].body!;
    expect(sent).toMatchObject({ messages: [{ role: 'user', content: 'Say this is a test' }], max_tokens: 7, temperature: 0 });
    expect(sent).not.toHaveProperty('prompt');
  });

  it('echoes the prompt before the text when asked', async () => {
    const data = await h.client.completions.create({ model: 'mock/echo', prompt: ['ping'], echo: true });
    expect(data.choices[0].text).toBe('pingEcho: ping');
  });

  it('streams text_completion chunks, the usage chunk when asked, then [DONE]', async () => {
    const chunks = await collect(await h.client.completions.create({ model: 'mock/echo', prompt: 'one two three', stream: true,
      stream_options: { include_usage: true } }));
    expect(chunks.every((chunk) => chunk.object === 'text_completion')).toBe(true);
    const withText = chunks.filter((chunk) => chunk.choices.length > 0);
    expect(withText.map((chunk) => chunk.choices[0].text).join('')).toBe('Echo: one two three');
    expect(withText.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
    const raw = await (await fetch(`${h.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', prompt: 'x', stream: true }) })).text();
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('is reachable at the drop-in prefix with a bare model name', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/openai/v1`, apiKey: 'x', maxRetries: 0 });
    const { response } = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'hi' }).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
  });

  it('refuses what chat cannot express, in OpenAI\'s error shape', async () => {
    for (const [extra, param] of [[{ suffix: 'end' }, 'suffix'], [{ logprobs: 2 }, 'logprobs'], [{ best_of: 3 }, 'best_of'],
      [{ prompt: ['a', 'b'] }, 'prompt'], [{ prompt: [1, 2, 3] }, 'prompt']] as const) {
      const error = await apiError(h.client.completions.create({ model: 'mock/echo', prompt: 'x', ...extra } as never));
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error.param).toBe(param);
    }
  });

  it('passes an upstream failure on as the SDK\'s typed error', async () => {
    const error = await apiError(h.client.completions.create({ model: 'openai/gpt-4o-mini-error-503', prompt: 'x' }));
    expect(error.status).toBe(503);
  });
});
