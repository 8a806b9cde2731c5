// Proves the fake Gemini server speaks Google's wire format: the official @google/genai SDK, pointed at it, parses
// its answers, streams, function calls, embeddings and errors.

import { ApiError, FinishReason, GoogleGenAI, Type, type GenerateContentResponse } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGemini, type FakeGemini } from './gemini-server.js';
import { rejectionOf } from '../rejection.js';

const API_KEY = 'AIza-fake-key';
let fake: FakeGemini;
let ai: GoogleGenAI;

beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: API_KEY });
  ai = new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: fake.url } });
});

afterAll(async () => {
  await fake?.close();
});

beforeEach(() => fake.reset());

const weatherTool = {
  functionDeclarations: [{
    name: 'lookup_weather',
    description: 'Weather for a city',
    parameters: { type: Type.OBJECT, properties: { location: { type: Type.STRING } }, required: ['location'] },
  }],
};

const caught = (promise: Promise<unknown>): Promise<ApiError> => rejectionOf(promise, ApiError);

describe('fake Gemini API, read by @google/genai', () => {
  it('answers generateContent with text, finishReason and usage, and records the request', async () => {
    const response = await ai.models.generateContent({
      model: 'gemini-2.0-flash', contents: 'hello fake',
      config: { systemInstruction: 'be brief', temperature: 0.2, maxOutputTokens: 50 },
    });
    expect(response.text).toBe('Echo: hello fake');
    expect(response.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(response.usageMetadata!.promptTokenCount).toBeGreaterThan(0);
    expect(response.usageMetadata!.totalTokenCount).toBe(
      response.usageMetadata!.promptTokenCount! + response.usageMetadata!.candidatesTokenCount!);
    expect(response.modelVersion).toBe('gemini-2.0-flash');
    expect(response.responseId).toBeTruthy();

    const seen = fake.requests[0];
    expect(seen.api).toBe('gemini');
    expect(seen.path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    expect(seen.headers['x-goog-api-key']).toBe(API_KEY);
    expect(seen.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'hello fake' }] }],
      systemInstruction: { parts: [{ text: 'be brief' }] },
      generationConfig: { temperature: 0.2, maxOutputTokens: 50 },
    });
  });

  it('streams GenerateContentResponse chunks over SSE, the last one with finishReason and usage', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'one two three four five six' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBe(3);
    expect(chunks.map((c) => c.text).join('')).toBe('Echo: one two three four five six');
    expect(chunks.at(-1)!.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(chunks.slice(0, -1).every((c) => c.candidates![0].finishReason === undefined)).toBe(true);
    expect(chunks.at(-1)!.usageMetadata!.candidatesTokenCount).toBeGreaterThan(0);
    const seen = fake.requests[0];
    expect(seen.path).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
    expect(seen.events).toHaveLength(3);
  });

  it('calls a function, and answers the function response, non-streamed and streamed', async () => {
    const first = await ai.models.generateContent({ model: 'gemini-2.0-flash-tools', contents: 'weather in Paris?',
      config: { tools: [weatherTool] } });
    expect(first.functionCalls).toEqual([{ name: 'lookup_weather', args: { location: 'Paris', unit: 'celsius' } }]);
    expect(first.candidates![0].finishReason).toBe(FinishReason.STOP);

    const second = await ai.models.generateContent({
      model: 'gemini-2.0-flash-tools',
      contents: [
        { role: 'user', parts: [{ text: 'weather in Paris?' }] },
        { role: 'model', parts: [{ functionCall: first.functionCalls![0] }] },
        { role: 'user', parts: [{ functionResponse: { name: 'lookup_weather', response: { temperature: 21 } } }] },
      ],
      config: { tools: [weatherTool] },
    });
    expect(second.text).toBe('The tool lookup_weather said {"temperature":21}.');

    const stream = await ai.models.generateContentStream({ model: 'gemini-2.0-flash-tools', contents: 'weather?',
      config: { tools: [weatherTool] } });
    const calls = [];
    for await (const chunk of stream) calls.push(...(chunk.functionCalls ?? []));
    expect(calls).toEqual([{ name: 'lookup_weather', args: { location: 'Paris', unit: 'celsius' } }]);
  });

  it.each([
    [400, 'INVALID_ARGUMENT'],
    [401, 'UNAUTHENTICATED'],
    [429, 'RESOURCE_EXHAUSTED'],
    [500, 'INTERNAL'],
  ])('fails with %i in Google\'s error envelope', async (status, code) => {
    const error = await caught(ai.models.generateContent({ model: `gemini-2.0-flash-error-${status}`, contents: 'hi' }));
    expect(error.status).toBe(status);
    const envelope = JSON.parse(error.message) as { error: { code: number; status: string; message: string } };
    expect(envelope.error.code).toBe(status);
    expect(envelope.error.status).toBe(code);
    expect(envelope.error.message.length).toBeGreaterThan(0);
    if (status === 429) expect(fake.requests[0].responseBody).toContain('google.rpc.RetryInfo');
  });

  it('refuses a wrong key as Google does: 400 API_KEY_INVALID', async () => {
    const stranger = new GoogleGenAI({ apiKey: 'AIza-wrong', httpOptions: { baseUrl: fake.url } });
    const error = await caught(stranger.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi' }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('API_KEY_INVALID');
  });

  it('rejects what Google rejects: unknown fields and roles', async () => {
    const response = await fetch(`${fake.url}/v1beta/models/gemini-2.0-flash:generateContent`, {
      method: 'POST', headers: { 'x-goog-api-key': API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('valid role');
    const unknown = await caught(ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi',
      config: { httpOptions: { extraBody: { messages: [] } } } }));
    expect(unknown.message).toContain('Unknown name');
  });

  it('sends an error event mid-stream, which the SDK raises', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.0-flash-stream-error', contents: 'a b c d e f' });
    const texts: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) texts.push(chunk.text ?? '');
    })().then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(503);
    expect(texts).toHaveLength(1);
  });

  it('truncates a stream: the body ends with no finishReason', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.0-flash-truncated', contents: 'a b c d e f' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.candidates![0].finishReason === undefined)).toBe(true);
  });

  it('blocks a prompt: promptFeedback.blockReason and no candidates', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.0-flash-blocked', contents: 'bad' });
    expect(response.promptFeedback?.blockReason).toBe('SAFETY');
    expect(response.candidates).toBeUndefined();
  });

  it('embeds with batchEmbedContents', async () => {
    const response = await ai.models.embedContent({ model: 'text-embedding-004', contents: ['alpha', 'beta'],
      config: { outputDimensionality: 4 } });
    expect(response.embeddings).toHaveLength(2);
    expect(response.embeddings![0].values).toHaveLength(4);
    expect(fake.requests[0].path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
  });

  it('counts tokens as generateContent counts the prompt', async () => {
    const counted = await ai.models.countTokens({ model: 'gemini-2.0-flash', contents: 'count these words please' });
    const generated = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'count these words please' });
    expect(counted.totalTokens).toBeGreaterThan(0);
    expect(counted.totalTokens).toBe(generated.usageMetadata!.promptTokenCount);
    expect(fake.requests[0].path).toBe('/v1beta/models/gemini-2.0-flash:countTokens');
    expect(fake.requests[0].body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'count these words please' }] }] });
  });

  it('counts a whole generateContentRequest, whose model must match the path', async () => {
    const count = (model: string) => fetch(`${fake.url}/v1beta/models/gemini-2.0-flash:countTokens`, {
      method: 'POST', headers: { 'x-goog-api-key': API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ generateContentRequest: { model, contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        systemInstruction: { parts: [{ text: 'be brief' }] } } }),
    });
    const counted = await count('models/gemini-2.0-flash');
    expect(counted.status).toBe(200);
    const total = (await counted.json() as { totalTokens: number }).totalTokens;
    expect(total).toBeGreaterThan((await ai.models.countTokens({ model: 'gemini-2.0-flash', contents: 'hi' })).totalTokens!);
    expect((await count('models/other')).status).toBe(400);
  });
});
