// Values popular client libraries send that mean "not set", through the real gateway with the official SDKs that
// carry them. Each one is taken as absent: the provider gets no such field, and no 400 reaches the client.
//   - @langchain/anthropic (ChatAnthropic) sends `top_k: -1` and `top_p: -1` on every request unless the user set
//     them (its class fields default to -1, https://github.com/langchain-ai/langchainjs, libs/langchain-anthropic).

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { openaiProvider, startGatewayWith, type Harness } from '../harness.js';

let openaiFake: FakeOpenAI;
let h: Harness<FakeAnthropic>;
let anthropic: Anthropic;
let openai: OpenAI;
let counter = 0;

beforeAll(async () => {
  openaiFake = await startFakeOpenAI();
  h = await startGatewayWith(await startFakeAnthropic({ apiKey: 'sk-ant' }), (fakeUrl) => ({
    providers: {
      anthropic: { keys: [{ value: 'sk-ant', models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl } },
      openai: openaiProvider(openaiFake.url),
    },
  }));
  anthropic = new Anthropic({ baseURL: `${h.url}/anthropic`, apiKey: 'client', maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'client', maxRetries: 0 });
});

afterAll(async () => {
  await h?.close();
  await openaiFake?.close();
});

const requestId = () => `sentinel-${++counter}`;

describe("@langchain/anthropic's top_k: -1 and top_p: -1", () => {
  // What ChatAnthropic.invocationParams() sends when the user set neither.
  const langchainDefaults = { temperature: 1, top_k: -1, top_p: -1, max_tokens: 2048 };

  it('reach anthropic as absent, on the translated path and on the native one', async () => {
    const id = requestId();
    const message = await anthropic.messages.create({ model: 'claude-sonnet-4-5', ...langchainDefaults,
      messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': id } });
    expect(message.type).toBe('message');
    const sent = h.fake.requestsWithId(id)[0].body as Record<string, unknown>;
    expect(sent).toMatchObject({ temperature: 1, max_tokens: 2048 });
    expect(sent).not.toHaveProperty('top_k');
    expect(sent).not.toHaveProperty('top_p');
    // A server tool makes the request native (sent to anthropic as the client wrote it): the sentinels go there too.
    const nativeId = requestId();
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', ...langchainDefaults,
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': nativeId } });
    const native = h.fake.requestsWithId(nativeId)[0].body as Record<string, unknown>;
    expect(native.tools).toEqual([{ type: 'web_search_20250305', name: 'web_search' }]);
    expect(native).not.toHaveProperty('top_k');
    expect(native).not.toHaveProperty('top_p');
  });

  it('reach another provider as absent, reported as nothing dropped', async () => {
    const id = requestId();
    const { data, response } = await anthropic.messages.create({ model: 'openai/gpt-4o-mini', ...langchainDefaults,
      messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': id } }).withResponse();
    expect(data.type).toBe('message');
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    const sent = openaiFake.requestsWithId(id)[0].body as Record<string, unknown>;
    expect(sent).not.toHaveProperty('top_k');
    expect(sent).not.toHaveProperty('top_p');
  });

  it('still refuses any other negative value, as Anthropic does', async () => {
    await expect(anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, ...{ top_k: -2 },
      messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 400 });
    await expect(anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, ...{ top_p: -0.5 },
      messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 400 });
  });
});

describe("OpenAI clients' explicit defaults and nulls", () => {
  // LangChain's ChatOpenAI sends n, top_p and both penalties at their defaults; Python clients send nulls.
  it('reach anthropic as absent, with nothing reported as dropped', async () => {
    const id = requestId();
    const { data, response } = await openai.chat.completions.create({ model: 'anthropic/claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'hi' }], n: 1, top_p: 1, frequency_penalty: 0, presence_penalty: 0,
      stop: null, tools: null, tool_choice: null, response_format: null, stream_options: null, logit_bias: null,
      seed: null, user: undefined } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming,
    { headers: { 'x-request-id': id } }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    expect(h.fake.requestsWithId(id)[0].body).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 4096,
      messages: [{ role: 'user', content: 'hi' }], top_p: 1 });
  });
});
