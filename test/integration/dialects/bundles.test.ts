// The bundle prefixes through the real, built gateway: each SDK pointed at `/litellm`, `/langchain` or `/pydanticai`
// (with its own prefix kept, or without it as Bifrost mounts them) reaches the pipeline as on its own route, with
// its own answer and error shapes. The built-in mock answers, so every SDK's call is checked end to end.

import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CohereClientV2 } from 'cohere-ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI } from '../../fakes/openai-server.js';
import { apiError, startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';
import type { FakeOpenAI } from '../../fakes/openai-server.js';

let h: Harness<FakeOpenAI>;

beforeAll(async () => {
  h = await startGatewayWith(await startFakeOpenAI(), () => ({ providers: {
    mock: { mock_config: { latency_ms: 0, chunk_count: 2, chunk_interval_ms: 0 } },
  } }));
});

afterAll(async () => {
  await h?.close();
});

describe.each(['/litellm', '/langchain', '/pydanticai'])('the %s bundle', (bundle) => {
  it('serves the openai SDK at <bundle>/v1 and at <bundle>/openai/v1', async () => {
    for (const base of [`${bundle}/v1`, `${bundle}/openai/v1`]) {
      const client = new OpenAI({ baseURL: `${h.url}${base}`, apiKey: 'unused', maxRetries: 0 });
      const answer = await client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
      expect(answer.choices[0].message.content).toBe('Echo: hi');
    }
    const client = new OpenAI({ baseURL: `${h.url}${bundle}/v1`, apiKey: 'unused', maxRetries: 0 });
    const refused = await apiError(client.chat.completions.create({ model: 'nowhere/x', messages: [{ role: 'user', content: 'hi' }] }));
    expect(refused.status).toBe(404);
  });

  it('serves the Anthropic SDK at <bundle> and <bundle>/anthropic, errors in Anthropic\'s shape', async () => {
    for (const base of [bundle, `${bundle}/anthropic`]) {
      const client = new Anthropic({ baseURL: `${h.url}${base}`, apiKey: 'unused', maxRetries: 0 });
      const answer = await client.messages.create({ model: 'mock/echo', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] });
      expect(answer.content).toEqual([{ type: 'text', text: 'Echo: hello' }]);
    }
    const response = await fetch(`${h.url}${bundle}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { type: string }).type).toBe('error');
  });

  it('serves @google/genai, the Bedrock Runtime SDK and cohere-ai', async () => {
    const ai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: `${h.url}${bundle}` } });
    const generated = await ai.models.generateContent({ model: 'mock/echo', contents: 'from genai' });
    expect(generated.text).toBe('Echo: from genai');

    const bedrock = new BedrockRuntimeClient({ endpoint: `${h.url}${bundle}`, region: 'us-east-1', maxAttempts: 1,
      requestHandler: new NodeHttpHandler(), credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    const converse = await bedrock.send(new ConverseCommand({ modelId: 'mock/echo', messages: [{ role: 'user', content: [{ text: 'from bedrock' }] }] }));
    expect(converse.output?.message?.content?.[0]?.text).toBe('Echo: from bedrock');
    await rejectionOf(bedrock.send(new ConverseCommand({ modelId: 'mock/echo', messages: [] })), ValidationException);
    bedrock.destroy();

    const cohere = new CohereClientV2({ token: 'unused', environment: `${h.url}${bundle}`, maxRetries: 0 });
    const chat = await cohere.chat({ model: 'mock/echo', messages: [{ role: 'user', content: 'from cohere' }] });
    expect(chat.message.content).toEqual([{ type: 'text', text: 'Echo: from cohere' }]);
  });
});
