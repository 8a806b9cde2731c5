import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { vertex } from '../../../../workers/providers/vertex.js';
import type { CallTarget } from '../../../../workers/providers/types.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const account = {
  type: 'service_account', client_email: 'sa@p.iam.gserviceaccount.com', token_uri: 'https://oauth2.googleapis.com/token',
  private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};

const targetWith = (config: Record<string, unknown> | undefined, baseUrl: string | null = null): CallTarget =>
  ({ baseUrl, key: { value: '', configs: config ? { vertex_key_config: config } : {} } });
const target = (region = 'us-central1', credentials: unknown = account) =>
  targetWith({ project_id: 'my-proj', region, auth_credentials: credentials });

const job = (extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r', model: 'gemini-2.0-flash', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'vertex/gemini-2.0-flash', messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 }, ...extra,
});

describe('Vertex adapter', () => {
  it('declares google-oauth and builds regional, global and overridden URLs', () => {
    expect(vertex.auth).toEqual({ kind: 'google-oauth' });
    expect(vertex.chatCall(job(), target()).url).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent');
    expect(vertex.chatCall(job({ stream: true }), target('global')).url).toBe(
      'https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
    const overridden = targetWith({ project_id: 'my-proj', region: 'europe-west4', auth_credentials: JSON.stringify(account) }, 'http://127.0.0.1:9');
    expect(vertex.chatCall(job(), overridden).url).toBe(
      'http://127.0.0.1:9/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash:generateContent');
    expect(vertex.chatCall(job({ model: 'endpoints/1234' }), target()).url).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/endpoints/1234:generateContent');
  });

  it('sends the same generateContent body as the Gemini API', () => {
    expect(JSON.parse(vertex.chatCall(job(), target()).body)).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { temperature: 0.5 } });
  });

  it('refuses keys without a usable vertex_key_config, with clear messages', () => {
    expect(() => vertex.chatCall(job(), targetWith(undefined))).toThrow(/vertex_key_config/);
    expect(() => vertex.chatCall(job(), targetWith({ region: 'us-central1', auth_credentials: account }))).toThrow(/project_id/);
    expect(() => vertex.chatCall(job(), targetWith({ project_id: 'p', auth_credentials: account }))).toThrow(/region/);
    expect(() => vertex.chatCall(job(), targetWith({ project_id: 'p', region: 'evil.com/x', auth_credentials: account }))).toThrow(/region/);
    expect(() => vertex.chatCall(job(), targetWith({ project_id: 'p', region: 'us-central1' }))).toThrow(/auth_credentials/);
    expect(() => vertex.chatCall(job(), target('us-central1', '{not json'))).toThrow(/not valid JSON/);
    expect(() => vertex.chatCall(job(), target('us-central1', { client_email: 'x' }))).toThrow(/private_key/);
  });

  it('embeds through :predict and sums the token counts', () => {
    const embedJob = job({ kind: 'embeddings', model: 'text-embedding-005',
      body: { model: 'vertex/text-embedding-005', input: ['a', 'bb'], dimensions: 2 } });
    const call = vertex.embeddingsCall!(embedJob, target());
    expect(call.url).toBe('https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/text-embedding-005:predict');
    expect(JSON.parse(call.body)).toEqual({ instances: [{ content: 'a' }, { content: 'bb' }], parameters: { outputDimensionality: 2 } });
    const answer = vertex.embeddingsAnswer!(JSON.stringify({ predictions: [
      { embeddings: { values: [1, 2], statistics: { token_count: 1, truncated: false } } },
      { embeddings: { values: [3, 4], statistics: { token_count: 2, truncated: false } } },
    ] }), embedJob);
    expect(JSON.parse(answer.body)).toMatchObject({ object: 'list', data: [{ index: 0, embedding: [1, 2] }, { index: 1, embedding: [3, 4] }],
      usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(answer.usage).toEqual({ promptTokens: 3, completionTokens: 0, totalTokens: 3 });
    expect(() => vertex.embeddingsAnswer!('{}', embedJob)).toThrow(/predictions/);
  });

  it('counts tokens with the request\'s contents, system instruction, tools and config, without toolConfig', () => {
    const counted = job({ kind: 'count_tokens', body: { model: 'vertex/gemini-2.0-flash', temperature: 0.5, tool_choice: 'required',
      messages: [{ role: 'system', content: 'brief' }, { role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }] } });
    const call = vertex.countTokensCall!(counted, target());
    expect(call.url).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.0-flash:countTokens');
    expect(JSON.parse(call.body)).toEqual({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
      systemInstruction: { parts: [{ text: 'brief' }] },
      tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'OBJECT', properties: {} } }] }],
      generationConfig: { temperature: 0.5 } });
    expect(JSON.parse(vertex.countTokensAnswer!('{"totalTokens":12}', counted).body)).toEqual({ input_tokens: 12 });
    expect(vertex.countTokensAnswer!('{"totalTokens":12}', counted).usage).toBeNull();
  });
});
