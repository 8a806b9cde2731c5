// `models.list` and `models.get` of the `@google/genai` SDK against the real gateway: the configured models in
// Google's Model shape, the `gemini` provider's bare, paged with pageSize and pageToken.

import { ApiError, GoogleGenAI, type Model } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { API_KEY, openaiProvider, startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

let h: Harness<FakeOpenAI>;
let ai: GoogleGenAI;

beforeAll(async () => {
  h = await startGatewayWith(await startFakeOpenAI(), (fakeUrl) => ({
    providers: {
      gemini: { keys: [{ value: 'AIza-upstream', models: ['gemini-2.0-flash', 'gemini-2.5-pro'], weight: 1 }],
        network_config: { base_url: fakeUrl } },
      openai: openaiProvider(fakeUrl, { keys: [{ value: API_KEY, models: ['gpt-4o-mini'], weight: 1 }] }),
      mock: { mock_config: { latency_ms: 0 } },
    },
    model_aliases: { fast: 'openai/gpt-4o-mini' },
  }));
  ai = new GoogleGenAI({ apiKey: 'client-key-not-checked', httpOptions: { baseUrl: `${h.url}/genai` } });
});

afterAll(async () => {
  await h?.close();
});

async function listAll(pageSize: number): Promise<Model[]> {
  const pager = await ai.models.list({ config: { pageSize } });
  const models: Model[] = [];
  for await (const model of pager) models.push(model);
  return models;
}

describe('GenAI models', () => {
  it('models.list pages through every configured model and alias, the gemini provider\'s bare', async () => {
    const models = await listAll(2);
    expect(models.map((model) => model.name)).toEqual([
      'models/gemini-2.0-flash', 'models/gemini-2.5-pro', 'models/openai/gpt-4o-mini', 'models/mock/echo', 'models/fast',
    ]);
    // The SDK reads Google's supportedGenerationMethods into supportedActions.
    expect(models[0]).toMatchObject({ name: 'models/gemini-2.0-flash', displayName: 'gemini-2.0-flash',
      supportedActions: ['generateContent', 'streamGenerateContent', 'countTokens', 'embedContent', 'batchEmbedContents'] });
    // The mock makes embeddings too (a hashed bag of words), but counts no tokens.
    expect(models.find((model) => model.name === 'models/mock/echo')?.supportedActions)
      .toEqual(['generateContent', 'streamGenerateContent', 'embedContent', 'batchEmbedContents']);
    expect(models[0].inputTokenLimit).toBeUndefined();
  });

  it('a page holds pageSize models and a nextPageToken while more follow', async () => {
    const first = await fetch(`${h.url}/genai/v1beta/models?pageSize=3`).then((r) => r.json()) as { models: Model[]; nextPageToken?: string };
    expect(first.models).toHaveLength(3);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const second = await fetch(`${h.url}/genai/v1beta/models?pageSize=3&pageToken=${first.nextPageToken}`)
      .then((r) => r.json()) as { models: Model[]; nextPageToken?: string };
    expect(second.models.map((model) => model.name)).toEqual(['models/mock/echo', 'models/fast']);
    expect(second.nextPageToken).toBeUndefined();
  });

  it('models.get answers one model, bare or provider/model', async () => {
    expect(await ai.models.get({ model: 'gemini-2.5-pro' })).toMatchObject({ name: 'models/gemini-2.5-pro', displayName: 'gemini-2.5-pro' });
    expect(await ai.models.get({ model: 'openai/gpt-4o-mini' })).toMatchObject({ name: 'models/openai/gpt-4o-mini',
      supportedActions: expect.arrayContaining(['generateContent']) });
  });

  it('an unknown model is the SDK\'s ApiError 404 with Google\'s NOT_FOUND; a bad page token a 400', async () => {
    const error = await rejectionOf(ai.models.get({ model: 'gemini-9' }), ApiError);
    expect(error.status).toBe(404);
    expect(error.message).toContain('NOT_FOUND');
    const bad = await fetch(`${h.url}/genai/v1beta/models?pageToken=nonsense`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
  });
});
