// The passthrough routes through the real, built gateway: the `openai` SDK at `/openai_passthrough/v1` and the
// Anthropic SDK at `/anthropic_passthrough` reach the OpenAI and Anthropic fakes with the provider-native path and
// body unchanged and the gateway's key; a custom provider must allow passthrough, as Bifrost gates it.

import { request } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GoogleGenAI } from '@google/genai';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startFakeGemini, type FakeGemini } from '../../fakes/gemini-server.js';
import type { FakeOpenAI } from '../../fakes/openai-server.js';
import { startFakeOpenAI } from '../../fakes/openai-server.js';
import { API_KEY, apiError, openaiProvider, startGatewayWith, type Harness } from '../harness.js';

const ANTHROPIC_KEY = 'sk-ant-upstream';
let anthropicFake: FakeAnthropic;
let geminiFake: FakeGemini;
let h: Harness<FakeOpenAI>;
let openai: OpenAI;

beforeAll(async () => {
  anthropicFake = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY });
  geminiFake = await startFakeGemini({ apiKey: 'AIza-upstream' });
  h = await startGatewayWith(await startFakeOpenAI(), (fakeUrl) => ({ providers: {
    openai: openaiProvider(fakeUrl),
    'open-custom': openaiProvider(fakeUrl, { custom_provider_config: { base_provider_type: 'openai', allowed_requests: { passthrough: true } } }),
    'closed-custom': openaiProvider(fakeUrl, { custom_provider_config: { base_provider_type: 'openai' } }),
    anthropic: { keys: [{ value: ANTHROPIC_KEY, models: ['*'], weight: 1 }], network_config: { base_url: anthropicFake.url } },
    gemini: { keys: [{ value: 'AIza-upstream', models: ['*'], weight: 1 }], network_config: { base_url: geminiFake.url } },
  } }));
  openai = new OpenAI({ baseURL: `${h.url}/openai_passthrough/v1`, apiKey: 'client-key-not-forwarded', maxRetries: 0 });
});

afterAll(async () => {
  await h?.close();
  await anthropicFake?.close();
  await geminiFake?.close();
});

beforeEach(() => {
  h.fake.reset();
  anthropicFake.reset();
});

describe('/openai_passthrough', () => {
  it('forwards the native path and body unchanged, with the gateway\'s key', async () => {
    const answer = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'pass me' }], seed: 7 });
    expect(answer.choices[0].message.content).toContain('pass me');
    const sent = h.fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent.body).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'pass me' }], seed: 7 });
    const models = await openai.models.list();
    expect(models.data.length).toBeGreaterThan(0);
    expect(h.fake.requests.at(-1)!.path).toBe('/v1/models');
  });

  it('reaches a custom provider that allows passthrough, and refuses one that does not, naming the flag', async () => {
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-model-provider': 'open-custom' } });
    expect(h.fake.requests).toHaveLength(1);
    const refused = await apiError(openai.chat.completions.create({ model: 'closed-custom/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }));
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/custom provider 'closed-custom' does not allow passthrough.*allowed_requests\.passthrough: true/);
    const wrongApi = await apiError(openai.chat.completions.create({ model: 'anthropic/claude', messages: [{ role: 'user', content: 'x' }] }));
    expect(wrongApi.message).toMatch(/not built on openai's API/);
    expect(h.fake.requests).toHaveLength(1);
  });

  it('refuses a path that would leave the base URL', async () => {
    // A URL string would have its dot segments resolved by the client (WHATWG URL): the path option goes as written.
    for (const path of ['/openai_passthrough/v1/%2e%2e/admin', '/openai_passthrough//evil.example/v1', '/openai_passthrough/user@evil/v1']) {
      const status = await new Promise<number>((resolve, reject) => {
        const sent = request({ hostname: '127.0.0.1', port: h.gateway.port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        sent.on('error', reject);
        sent.end('{}');
      });
      expect([path, status]).toEqual([path, 400]);
    }
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe('/anthropic_passthrough', () => {
  it('serves the Anthropic SDK natively, with the gateway\'s key and version', async () => {
    const client = new Anthropic({ baseURL: `${h.url}/anthropic_passthrough`, apiKey: 'client-key', maxRetries: 0 });
    const answer = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 30, messages: [{ role: 'user', content: 'hello' }] });
    expect(answer.type).toBe('message');
    const sent = anthropicFake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(sent.headers['anthropic-version']).toBeDefined();
  });
});

describe('/genai_passthrough', () => {
  it('serves @google/genai with the version kept in the path and the gateway\'s key', async () => {
    const ai = new GoogleGenAI({ apiKey: 'client-key', httpOptions: { baseUrl: `${h.url}/genai_passthrough` } });
    const answer = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hello gemini' });
    expect(answer.text).toBeTruthy();
    const sent = geminiFake.requests.at(-1)!;
    expect(sent.path).toMatch(/^\/v1beta\/models\/gemini-2\.0-flash:generateContent/);
  });
});
