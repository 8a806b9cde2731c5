// Every rejection of a virtual key as each official SDK sees it: its error class, status and message, on the
// Anthropic, Google GenAI and Bedrock drop-ins (the OpenAI SDK's are in enforcement.test.ts). Each SDK sends the key
// the way it sends an API key: x-api-key, x-goog-api-key, and Bedrock's bearer token (Authorization: Bearer).

import Anthropic from '@anthropic-ai/sdk';
import { AccessDeniedException, BedrockRuntimeClient, ConverseCommand, ServiceQuotaExceededException,
  ThrottlingException } from '@aws-sdk/client-bedrock-runtime';
import { ApiError, GoogleGenAI } from '@google/genai';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../../rejection.js';
import { providers, startGoverned, type GovernedGateway } from './gateway.js';

const OK = 'sk-bf-sdk-tests-allowed-0000001';
const LIMITED = 'sk-bf-sdk-tests-one-a-minute-02';
const POOR = 'sk-bf-sdk-tests-no-budget-00003';
let g: GovernedGateway;

beforeAll(async () => {
  g = await startGoverned((fakeUrl) => ({
    providers: providers(fakeUrl),
    governance: {
      budgets: [{ id: 'none', max_limit: 0, reset_duration: '1d' }],
      rate_limits: [{ id: 'one', request_max_limit: 1, request_reset_duration: '1m' }],
      virtual_keys: [
        { id: 'vk-ok', name: 'ok', value: OK, provider_configs: [{ provider: 'mock', allowed_models: ['echo'] }] },
        { id: 'vk-limited', name: 'limited', value: LIMITED, rate_limit_id: 'one',
          provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] },
        { id: 'vk-poor', name: 'poor', value: POOR, budget_id: 'none', provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] },
      ],
    },
  }));
});

afterAll(async () => {
  await g?.close();
});

describe('the Anthropic SDK (x-api-key)', () => {
  const client = (apiKey: string) => new Anthropic({ baseURL: `${g.url}/anthropic`, apiKey, maxRetries: 0 });
  const send = (apiKey: string, model = 'mock/echo') => client(apiKey).messages.create({ model, max_tokens: 20,
    messages: [{ role: 'user', content: 'hi' }] });

  it('answers a granted key, and raises each refusal as its own class', async () => {
    expect((await send(OK)).role).toBe('assistant');
    const unknown = await rejectionOf(send('sk-bf-unknown-key-to-this-gateway'), Anthropic.AuthenticationError);
    expect(unknown.message).toContain('is not a virtual key of this gateway');
    const forbidden = await rejectionOf(send(OK, 'mock/other'), Anthropic.PermissionDeniedError);
    expect(forbidden.message).toContain("may not use model 'other'");
    await send(LIMITED);
    const limited = await rejectionOf(send(LIMITED), Anthropic.RateLimitError);
    expect(limited.message).toContain('rate limit of 1 requests per 1m is reached');
    expect(Number(limited.headers?.get('retry-after'))).toBeGreaterThan(0);
    const poor = await rejectionOf(send(POOR), Anthropic.APIError);
    expect(poor.status).toBe(402);
    expect(poor.message).toContain("virtual key 'vk-poor' budget");
  });
});

describe('the Google GenAI SDK (x-goog-api-key)', () => {
  const ai = (apiKey: string) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: `${g.url}/genai` } });
  const send = (apiKey: string, model = 'mock/echo') => ai(apiKey).models.generateContent({ model, contents: 'hi',
    config: { maxOutputTokens: 20 } });

  it('answers a granted key, and raises each refusal as an ApiError with its status', async () => {
    expect((await send(OK)).text).toBeTruthy();
    const expectStatus = async (promise: Promise<unknown>, status: number, text: string) => {
      const error = await rejectionOf(promise, ApiError);
      expect(error.status).toBe(status);
      expect(error.message).toContain(text);
    };
    await expectStatus(send('sk-bf-unknown-key-to-this-gateway'), 401, 'UNAUTHENTICATED');
    await expectStatus(send(OK, 'mock/other'), 403, "may not use model 'other'");
    await expectStatus(send(POOR), 402, 'RESOURCE_EXHAUSTED');
  });
});

describe('the Bedrock SDK (bearer token)', () => {
  const client = (token: string) => new BedrockRuntimeClient({ endpoint: `${g.url}/bedrock`, region: 'us-east-1', maxAttempts: 1,
    requestHandler: new NodeHttpHandler(), token: { token }, authSchemePreference: ['httpBearerAuth'] });
  const send = (token: string, modelId = 'mock/echo') => client(token).send(new ConverseCommand({ modelId,
    messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 20 } }));

  it('answers a granted key, and raises each refusal as the exception Bedrock has for it', async () => {
    expect((await send(OK)).output?.message?.role).toBe('assistant');
    const unknown = await rejectionOf(send('sk-bf-unknown-key-to-this-gateway'), AccessDeniedException);
    expect(unknown.message).toContain('is not a virtual key of this gateway');
    const forbidden = await rejectionOf(send(OK, 'mock/other'), AccessDeniedException);
    expect(forbidden.$metadata.httpStatusCode).toBe(403);
    const poor = await rejectionOf(send(POOR), ServiceQuotaExceededException);
    expect(poor.message).toContain("virtual key 'vk-poor' budget");
    const limitedClient = client(LIMITED);
    const limitedSend = () => limitedClient.send(new ConverseCommand({ modelId: 'mock/echo',
      messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 20 } }));
    // The Anthropic test spent this key's one request of the minute already.
    const limited = await rejectionOf(limitedSend(), ThrottlingException);
    expect(limited.message).toContain('rate limit');
  });
});
