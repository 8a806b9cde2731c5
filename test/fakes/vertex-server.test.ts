// Proves the fake speaks Vertex AI's wire format: @google/genai in Vertex mode (project, location, the fake as
// base URL) parses its answers. The SDK gets its token through google-auth-library, whose service-account flow
// always posts to oauth2.googleapis.com; so it is handed an auth client (the library's documented
// `googleAuthOptions.authClient`) that gets real tokens from the fake's /token endpoint with the gateway's own
// signer — which the fake verifies against the test key pair.

import { ApiError, FinishReason, GoogleGenAI, Type, type GenerateContentResponse } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GoogleTokenCache, parseServiceAccount } from '../../workers/upstream/auth/google-oauth.js';
import { startFakeVertex, VERTEX_PROJECT, VERTEX_REGION, type FakeVertex } from './vertex-server.js';
import { rejectionOf } from '../rejection.js';

let vertex: FakeVertex;
let ai: GoogleGenAI;

function clientFor(vertexFake: FakeVertex, account = vertexFake.serviceAccount): GoogleGenAI {
  const tokens = new GoogleTokenCache();
  const parsed = parseServiceAccount(account);
  const authClient = {
    async getRequestHeaders() {
      return new Headers({ authorization: `Bearer ${await tokens.token(parsed)}` });
    },
  };
  return new GoogleGenAI({
    vertexai: true, project: VERTEX_PROJECT, location: VERTEX_REGION,
    httpOptions: { baseUrl: vertexFake.fake.url, apiVersion: 'v1' },
    googleAuthOptions: { authClient: authClient as never },
  });
}

beforeAll(async () => {
  vertex = await startFakeVertex();
  ai = clientFor(vertex);
});

afterAll(async () => {
  await vertex?.fake.close();
});

beforeEach(() => vertex.fake.reset());

const modelPath = (model: string, action: string) =>
  `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/publishers/google/models/${model}:${action}`;

describe('fake Vertex AI, read by @google/genai in Vertex mode', () => {
  it('issues a token for a correctly signed JWT, then answers generateContent under the project and region', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hello vertex' });
    expect(response.text).toBe('Echo: hello vertex');
    expect(response.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(response.usageMetadata!.totalTokenCount).toBeGreaterThan(0);
    expect(response.createTime).toBeTruthy();

    const seen = vertex.fake.requests[0];
    expect(seen.api).toBe('vertex');
    expect(seen.path).toBe(modelPath('gemini-2.0-flash', 'generateContent'));
    expect(seen.headers.authorization).toBe(`Bearer ${vertex.fake.tokenRequests[0].token}`);
    expect(vertex.fake.tokenRequests[0]).toMatchObject({ granted: true,
      header: { alg: 'RS256', kid: 'trusted-key' },
      claims: { iss: vertex.serviceAccount.client_email, aud: `${vertex.fake.url}/token`,
        scope: 'https://www.googleapis.com/auth/cloud-platform' } });
  });

  it('streams over SSE', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'one two three four' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.text).join('')).toBe('Echo: one two three four');
    expect(chunks.at(-1)!.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(vertex.fake.requests[0].path).toBe(modelPath('gemini-2.0-flash', 'streamGenerateContent?alt=sse'));
  });

  it('calls a function', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.0-flash-tools', contents: 'weather?', config: {
      tools: [{ functionDeclarations: [{ name: 'lookup_weather', parameters: { type: Type.OBJECT, properties: {} } }] }],
    } });
    expect(response.functionCalls).toEqual([{ name: 'lookup_weather', args: { location: 'Paris', unit: 'celsius' } }]);
  });

  it('counts tokens, the system instruction and tools included', async () => {
    const bare = await ai.models.countTokens({ model: 'gemini-2.0-flash', contents: 'count me' });
    const whole = await ai.models.countTokens({ model: 'gemini-2.0-flash', contents: 'count me', config: {
      systemInstruction: 'be brief',
      tools: [{ functionDeclarations: [{ name: 'lookup_weather', parameters: { type: Type.OBJECT, properties: {} } }] }],
    } });
    expect(bare.totalTokens).toBeGreaterThan(0);
    expect(whole.totalTokens).toBeGreaterThan(bare.totalTokens!);
    expect(vertex.fake.requests[0].path).toBe(modelPath('gemini-2.0-flash', 'countTokens'));
    expect(Object.keys(vertex.fake.requests[1].body!).sort()).toEqual(['contents', 'systemInstruction', 'tools']);
  });

  it.each([400, 401, 429, 500])('fails with %i in Google\'s error envelope', async (status) => {
    const error = await rejectionOf(ai.models.generateContent({ model: `gemini-2.0-flash-error-${status}`, contents: 'hi' }), ApiError);
    expect(error.status).toBe(status);
    expect(JSON.parse(error.message).error.code).toBe(status);
  });

  it('refuses a JWT signed by a key it does not trust, and a token it did not issue', async () => {
    const stranger = clientFor(vertex, vertex.strangerAccount);
    const failure = await stranger.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi' })
      .then(() => null, (e: unknown) => e);
    expect(String(failure)).toContain('Invalid JWT Signature');
    expect(vertex.fake.tokenRequests.at(-1)).toMatchObject({ granted: false, error: 'Invalid JWT Signature.' });

    const forged = new GoogleGenAI({ vertexai: true, project: VERTEX_PROJECT, location: VERTEX_REGION,
      httpOptions: { baseUrl: vertex.fake.url, apiVersion: 'v1' },
      googleAuthOptions: { authClient: { getRequestHeaders: async () => new Headers({ authorization: 'Bearer ya29.forged' }) } as never } });
    const error = await forged.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi' }).then(() => null, (e: unknown) => e);
    expect((error as ApiError).status).toBe(401);
  });

  it('embeds with :predict', async () => {
    const response = await ai.models.embedContent({ model: 'text-embedding-005', contents: ['alpha', 'beta'],
      config: { outputDimensionality: 4 } });
    expect(response.embeddings).toHaveLength(2);
    expect(response.embeddings![0].values).toHaveLength(4);
    expect(response.embeddings![0].statistics!.tokenCount).toBeGreaterThan(0);
    expect(vertex.fake.requests[0].path).toBe(modelPath('text-embedding-005', 'predict'));
  });
});
