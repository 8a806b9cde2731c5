// POST /v1/responses to a provider with the native Responses API (`openai`): the request reaches its `/v1/responses`
// as the client sent it (the bare model aside) and the answer and the typed SSE events come back as the provider
// wrote them, so what only OpenAI's servers can do (built-in tools, stored responses) works; other providers still get
// the translation through chat, and its 400 for what chat cannot say. The `openai` SDK is the client, against the
// openai fake directly (to prove the fake faithful) and through the real gateway.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, apiError, collect, metricValue, openaiProvider, startHarness, type Harness } from '../harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ config: (url) => ({ providers: {
    openai: openaiProvider(url),
    // The same fake as a custom OpenAI-compatible provider: some other server, so no native Responses API.
    compat: openaiProvider(url, { custom_provider_config: { base_provider_type: 'openai' } }),
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }) });
});

afterAll(async () => {
  await h?.close();
});

/** A request only the native API can take: a built-in tool, a stored previous response, `store`, `include`. */
const stateful = {
  input: 'what happened today?',
  instructions: 'Be brief.',
  tools: [{ type: 'web_search' as const }],
  previous_response_id: 'resp_previous',
  store: true,
  include: ['web_search_call.action.sources' as const],
  metadata: { team: 'a' },
};

const lastUpstream = () => h.fake.requests.at(-1)!;

describe('the openai fake\'s /v1/responses, with the SDK directly', () => {
  it('answers and streams what the SDK reads as a response', async () => {
    const direct = new OpenAI({ baseURL: `${h.fake.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    const data = await direct.responses.create({ model: 'gpt-4o-mini', ...stateful });
    expect(data.object).toBe('response');
    expect(data.previous_response_id).toBe('resp_previous');
    expect(data.output.map((item) => item.type)).toEqual(['web_search_call', 'message']);
    expect(data.output_text).toContain('what happened today?');
    const events = await collect(await direct.responses.create({ model: 'gpt-4o-mini', ...stateful, stream: true }));
    expect(events[0].type).toBe('response.created');
    expect(events.at(-1)!.type).toBe('response.completed');
  });
});

describe('POST /v1/responses to the openai provider, natively', () => {
  it('sends the request as it came, less the provider prefix, and answers the provider\'s body as it was', async () => {
    const { data, response } = await h.client.responses.create({ model: 'openai/gpt-4o-mini', ...stateful }).withResponse();
    const upstream = h.fake.requestsWithId(response.headers.get('x-request-id')!)[0];
    expect(upstream.path).toBe('/v1/responses');
    expect(upstream.body).toEqual({ model: 'gpt-4o-mini', ...stateful });
    expect(response.headers.get('x-heimdall-provider')).toBe('openai');
    expect(data.output.map((item) => item.type)).toEqual(['web_search_call', 'message']);

    const raw = await fetch(`${h.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', ...stateful }) });
    expect(raw.status).toBe(200);
    expect(await raw.text()).toBe(lastUpstream().responseBody);
  });

  it('streams the provider\'s typed events untouched, and counts the usage of response.completed', async () => {
    const tokens = async () => metricValue(await (await fetch(`${h.url}/metrics`)).text(), 'heimdall_tokens_total',
      { provider: 'openai', model: 'gpt-4o-mini', direction: 'output' }) ?? 0;
    const before = await tokens();
    const events = await collect(await h.client.responses.create({ model: 'openai/gpt-4o-mini', ...stateful, stream: true }));
    const upstream = lastUpstream();
    expect(upstream.body).toEqual({ model: 'gpt-4o-mini', ...stateful, stream: true });
    expect(events).toEqual(upstream.events.map((data) => JSON.parse(data) as unknown));
    expect(events.some((event) => event.type === 'response.web_search_call.completed')).toBe(true);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(await tokens()).toBe(before + completed.response.usage!.output_tokens);

    const raw = await fetch(`${h.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', ...stateful, stream: true }) });
    expect(raw.headers.get('content-type')).toContain('text/event-stream');
    const blocks = lastUpstream().events.map((data) => `event: ${(JSON.parse(data) as { type: string }).type}\ndata: ${data}\n\n`);
    expect(await raw.text()).toBe(blocks.join(''));
  });

  it('passes the provider\'s own 4xx on in OpenAI\'s error shape', async () => {
    const error = await apiError(h.client.responses.create({ model: 'openai/gpt-4o-mini-error-429', input: 'hi' }));
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(lastUpstream().path).toBe('/v1/responses');
  });

  it('falls back from the native API to a provider reached through chat', async () => {
    const { data, response } = await h.client.responses.create({ model: 'openai/gpt-4o-mini-error-500', input: 'ping',
      fallbacks: ['mock/echo'] } as never).withResponse();
    expect(response.headers.get('x-heimdall-provider')).toBe('mock');
    expect(data.output_text).toContain('ping');
    expect(lastUpstream().body).not.toHaveProperty('fallbacks');
  });
});

describe('POST /v1/responses to providers without the native API', () => {
  it('refuses what only the native API can do with the translation\'s clear 400', async () => {
    for (const model of ['mock/echo', 'compat/gpt-4o-mini']) {
      const seen = h.fake.requests.length;
      const error = await apiError(h.client.responses.create({ model, ...stateful }));
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error.param).toBe('previous_response_id');
      expect(error.message).toContain('does not store responses');
      expect(h.fake.requests.length).toBe(seen);
    }
    const tool = await apiError(h.client.responses.create({ model: 'mock/echo', input: 'hi', tools: [{ type: 'web_search' }] }));
    expect(tool.param).toBe('tools');
    expect(tool.message).toContain('web search (web_search)');
  });

  it('translates a plain request through chat', async () => {
    const data = await h.client.responses.create({ model: 'mock/echo', input: 'ping pong' });
    expect(data.object).toBe('response');
    expect(data.output_text).toContain('ping');
    const { response } = await h.client.responses.create({ model: 'compat/gpt-4o-mini', input: 'hi' }).withResponse();
    expect(h.fake.requestsWithId(response.headers.get('x-request-id')!)[0].path).toBe('/v1/chat/completions');
  });
});
