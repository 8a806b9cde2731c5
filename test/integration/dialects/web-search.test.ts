// The Responses API's `web_search` tool for models that are not OpenAI's, through the real gateway with the official
// `openai` SDK: Anthropic's web search server tool for anthropic, Google Search grounding for gemini, and a 400
// naming it for a provider with no search of its own. (On /anthropic/v1/messages, Anthropic's server tools go to
// anthropic as sent: test/integration/dialects/anthropic.test.ts.)

import OpenAI, { BadRequestError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startFakeGemini, type FakeGemini } from '../../fakes/gemini-server.js';
import { rejectionOf } from '../../rejection.js';
import { startGatewayWith, type Harness } from '../harness.js';

let gemini: FakeGemini;
let h: Harness<FakeAnthropic>;
let counter = 0;

beforeAll(async () => {
  gemini = await startFakeGemini({ apiKey: 'AIza-upstream' });
  h = await startGatewayWith(await startFakeAnthropic({ apiKey: 'sk-ant' }), (fakeUrl) => ({ providers: {
    anthropic: { keys: [{ value: 'sk-ant', models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl } },
    gemini: { keys: [{ value: 'AIza-upstream', models: ['*'], weight: 1 }], network_config: { base_url: gemini.url } },
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }));
});

afterAll(async () => {
  await h?.close();
  await gemini?.close();
});

const webSearch = { type: 'web_search', user_location: { type: 'approximate', city: 'Paris', country: 'FR' } } as const;

describe("Responses' web_search tool", () => {
  it("is Anthropic's web search server tool on anthropic, answered with the model's text", async () => {
    const id = `web-search-${++counter}`;
    const response = await h.client.responses.create({ model: 'anthropic/claude-sonnet-4-5', input: 'news about Paris?',
      tools: [webSearch] }, { headers: { 'x-request-id': id } });
    expect(response.output_text).not.toBe('');
    const sent = h.fake.requestsWithId(id)[0].body as { tools?: unknown[] };
    expect(sent.tools).toEqual([{ type: 'web_search_20250305', name: 'web_search',
      user_location: { type: 'approximate', city: 'Paris', country: 'FR' } }]);
  });

  it('streams on anthropic, the search blocks left out of the text', async () => {
    const stream = await h.client.responses.create({ model: 'anthropic/claude-sonnet-4-5', input: 'news?', tools: [{ type: 'web_search' }],
      stream: true });
    let text = '';
    let completed = false;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = true;
    }
    expect(completed).toBe(true);
    expect(text).not.toBe('');
  });

  it('is grounding with Google Search on gemini', async () => {
    const response = await h.client.responses.create({ model: 'gemini/gemini-2.5-flash', input: 'news about Paris?',
      tools: [{ type: 'web_search', search_context_size: 'low' }] }).withResponse();
    expect(response.data.output_text).not.toBe('');
    expect(gemini.requests.at(-1)!.body).toMatchObject({ tools: [{ googleSearch: {} }] });
    expect(response.response.headers.get('x-heimdall-dropped-params')).toBe('web_search_options.search_context_size');
  });

  it('is a 400 naming it for a provider with no search of its own', async () => {
    const error = await rejectionOf(h.client.responses.create({ model: 'mock/echo', input: 'news?', tools: [{ type: 'web_search' }] }),
      BadRequestError);
    expect(error.message).toContain("provider 'mock' does not support web search (web_search)");
  });

  it('refuses the other built-in tools by name', async () => {
    const error = await rejectionOf(h.client.responses.create({ model: 'anthropic/claude-sonnet-4-5', input: 'x',
      tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }), BadRequestError);
    expect(error.message).toContain('file_search');
  });
});

describe("chat's web_search_options", () => {
  it('reach the same searches', async () => {
    const completion = await h.client.chat.completions.create({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'news?' }],
      web_search_options: {} } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(completion.choices[0].message.content).toBeTruthy();
    expect(gemini.requests.at(-1)!.body).toMatchObject({ tools: [{ googleSearch: {} }] });
  });
});
