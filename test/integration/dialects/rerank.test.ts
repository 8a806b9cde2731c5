// Rerank through the real, built gateway: `/v1/rerank` (the `openai` SDK's generic post), Cohere's `/cohere/v2/rerank`
// (`cohere-ai`'s CohereClientV2) and the Agent Runtime's `/bedrock/rerank` (`@aws-sdk/client-bedrock-agent-runtime`),
// against the faithful Cohere and Bedrock fakes and the built-in mock; a provider with no rerank API is refused in
// the route's own error shape, naming it.

import { BedrockAgentRuntimeClient, RerankCommand, ValidationException } from '@aws-sdk/client-bedrock-agent-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Cohere, CohereClientV2, CohereError } from 'cohere-ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeBedrock, type FakeBedrock } from '../../fakes/bedrock-server.js';
import { startFakeCohere, type FakeCohere } from '../../fakes/cohere-server.js';
import { apiError, startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

const CREDENTIALS = { accessKeyId: 'AKIDGATEWAYTEST', secretAccessKey: 'gateway/test+secret' };
const REGION = 'eu-west-3';
const COHERE_KEY = 'co-upstream';
const DOCUMENTS = ['Paris is the capital of France.', 'Berlin has many museums.', 'The capital of Germany is Berlin.'];

let bedrock: FakeBedrock;
let h: Harness<FakeCohere>;
let cohere: CohereClientV2;
let agent: BedrockAgentRuntimeClient;

beforeAll(async () => {
  bedrock = await startFakeBedrock({ credentials: [CREDENTIALS], region: REGION });
  const fake = await startFakeCohere({ apiKey: COHERE_KEY });
  const pool = { concurrency: 20, buffer_size: 20, threads: 1 };
  try {
    h = await startGatewayWith(fake, (fakeUrl) => ({ client: { extra_fields: true }, providers: {
      cohere: { keys: [{ value: COHERE_KEY, models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl },
        concurrency_and_buffer_size: pool },
      bedrock: { keys: [{ models: ['*'], bedrock_key_config: { access_key: CREDENTIALS.accessKeyId,
        secret_key: CREDENTIALS.secretAccessKey, region: REGION } }], network_config: { base_url: bedrock.url },
        concurrency_and_buffer_size: pool },
      // No rerank API: refused before any call, so its URL is never reached.
      anthropic: { keys: [{ value: 'sk-ant', models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl },
        concurrency_and_buffer_size: pool },
      mock: { mock_config: { latency_ms: 0, chunk_count: 1, chunk_interval_ms: 0 } },
    } }));
  } catch (error) {
    await bedrock.close();
    throw error;
  }
  cohere = new CohereClientV2({ token: 'client-token-not-checked', environment: `${h.url}/cohere`, maxRetries: 0, timeoutInSeconds: 10 });
  agent = new BedrockAgentRuntimeClient({ endpoint: `${h.url}/bedrock`, region: 'us-east-1', maxAttempts: 1,
    requestHandler: new NodeHttpHandler(), credentials: { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client-secret' } });
});

afterAll(async () => {
  agent?.destroy();
  await h?.close();
  await bedrock?.close();
});

beforeEach(() => {
  h.fake.reset();
  bedrock.reset();
});

const postV1 = (body: Record<string, unknown>) => fetch(`${h.url}/v1/rerank`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

describe('/v1/rerank', () => {
  it('sends Cohere\'s v2 rerank and answers Bifrost\'s shape, documents added when asked', async () => {
    const answer = await h.client.post<Record<string, unknown>>('/rerank', { body: {
      model: 'cohere/rerank-v3.5', query: 'capital of Germany', documents: DOCUMENTS.map((text) => ({ text })),
      params: { top_n: 2, return_documents: true },
    } });
    const sent = h.fake.requests.at(-1)!;
    expect(sent.path).toBe('/v2/rerank');
    expect(sent.headers.authorization).toBe(`Bearer ${COHERE_KEY}`);
    expect(sent.body).toEqual({ model: 'rerank-v3.5', query: 'capital of Germany', documents: DOCUMENTS, top_n: 2 });
    expect(answer).toMatchObject({ object: 'rerank', model: 'cohere/rerank-v3.5', usage: { search_units: 1 },
      results: [{ index: 2, relevance_score: 1, document: { text: DOCUMENTS[2] } },
        { index: 0, relevance_score: 2 / 3, document: { text: DOCUMENTS[0] } }] });
    expect((answer.extra_fields as Record<string, unknown>)).toMatchObject({ provider: 'cohere', request_type: 'rerank' });
  });

  it('reaches Bedrock\'s Agent Runtime with the model\'s ARN in the key\'s region, signed', async () => {
    const answer = await h.client.post<{ results: unknown[] }>('/rerank', { body: {
      model: 'bedrock/amazon.rerank-v1:0', query: 'Berlin museums', documents: DOCUMENTS, top_n: 1,
    } });
    const sent = bedrock.requests.at(-1)!;
    expect(sent.path).toBe('/rerank');
    expect(sent.auth).toMatchObject({ verified: true, problem: null });
    expect(sent.body).toMatchObject({ rerankingConfiguration: { bedrockRerankingConfiguration: {
      numberOfResults: 1, modelConfiguration: { modelArn: `arn:aws:bedrock:${REGION}::foundation-model/amazon.rerank-v1:0` } } } });
    expect(answer.results).toEqual([{ index: 1, relevance_score: 1 }]);
  });

  it('reranks on the built-in mock, and reports a field the provider cannot take', async () => {
    const response = await postV1({ model: 'cohere/rerank-v3.5', query: 'Paris', documents: DOCUMENTS, rank_fields: ['text'] });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-dropped-params')).toBe('rank_fields');
    const mock = await (await postV1({ model: 'mock/reranker', query: 'Berlin museums', documents: DOCUMENTS })).json() as
      { results: { index: number; relevance_score: number }[] };
    expect(mock.results.map((result) => result.index)).toEqual([1, 2, 0]);
  });

  it('refuses a provider without a rerank API with a 400 naming it, and bad input with the field', async () => {
    const refused = await apiError(h.client.post('/rerank', { body: { model: 'anthropic/claude-x', query: 'q', documents: ['d'] } }));
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/provider 'anthropic' does not support rerank \(providers with a rerank API: .*cohere.*\)/);
    expect(h.fake.requests).toHaveLength(0);
    const bad = await postV1({ model: 'cohere/rerank-v3.5', query: 'q', documents: [] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('documents');
    const topN = await postV1({ model: 'cohere/rerank-v3.5', query: 'q', documents: ['d'], top_n: 0 });
    expect(topN.status).toBe(400);
  });
});

describe('/cohere/v2/rerank', () => {
  it('answers cohere-ai\'s rerank in Cohere\'s shape; a bare model goes to cohere', async () => {
    const answer = await cohere.rerank({ model: 'rerank-v3.5', query: 'capital of France', documents: DOCUMENTS, topN: 2 });
    expect(h.fake.requests.at(-1)!.body).toEqual({ model: 'rerank-v3.5', query: 'capital of France', documents: DOCUMENTS, top_n: 2 });
    expect(answer.results).toEqual([{ index: 0, relevanceScore: 1 }, { index: 2, relevanceScore: 2 / 3 }]);
    expect(answer.meta?.billedUnits?.searchUnits).toBe(1);
  });

  it('reaches another provider with a provider/ prefix', async () => {
    const answer = await cohere.rerank({ model: 'mock/reranker', query: 'Berlin', documents: DOCUMENTS });
    expect(answer.results.map((result) => result.index)).toEqual([1, 2, 0]);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('fails as the SDK\'s typed errors, in Cohere\'s {message} body', async () => {
    const refused = await rejectionOf(cohere.rerank({ model: 'anthropic/claude-x', query: 'q', documents: ['d'] }), CohereError);
    expect(refused).toBeInstanceOf(Cohere.BadRequestError);
    expect((refused.body as { message: string }).message).toMatch(/provider 'anthropic' does not support rerank/);
    const upstream = await rejectionOf(cohere.rerank({ model: 'rerank-error-429', query: 'q', documents: ['d'] }), CohereError);
    expect(upstream).toBeInstanceOf(Cohere.TooManyRequestsError);
  });
});

describe('/bedrock/rerank', () => {
  const command = (modelArn: string, numberOfResults?: number) => new RerankCommand({
    queries: [{ type: 'TEXT', textQuery: { text: 'capital of Germany' } }],
    sources: DOCUMENTS.map((text) => ({ type: 'INLINE', inlineDocumentSource: { type: 'TEXT', textDocument: { text } } })),
    rerankingConfiguration: { type: 'BEDROCK_RERANKING_MODEL', bedrockRerankingConfiguration: {
      numberOfResults, modelConfiguration: { modelArn } } },
  });

  it('answers the Agent Runtime SDK\'s Rerank with the documents, from Bedrock', async () => {
    const answer = await agent.send(command('arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0', 2));
    expect((bedrock.requests.at(-1)!.body as { rerankingConfiguration: unknown }).rerankingConfiguration).toEqual({
      type: 'BEDROCK_RERANKING_MODEL', bedrockRerankingConfiguration: { numberOfResults: 2,
        modelConfiguration: { modelArn: `arn:aws:bedrock:${REGION}::foundation-model/cohere.rerank-v3-5:0` } } });
    expect(answer.results).toEqual([
      { index: 2, relevanceScore: 1, document: { type: 'TEXT', textDocument: { text: DOCUMENTS[2] } } },
      { index: 0, relevanceScore: 2 / 3, document: { type: 'TEXT', textDocument: { text: DOCUMENTS[0] } } },
    ]);
  });

  it('reaches Cohere when the ARN\'s place holds a provider/model', async () => {
    const answer = await agent.send(command('cohere/rerank-v3.5'));
    expect(h.fake.requests.at(-1)!.path).toBe('/v2/rerank');
    expect(answer.results?.[0]?.index).toBe(2);
  });

  it('refuses bad input and a provider without rerank as the SDK\'s ValidationException', async () => {
    const refused = await rejectionOf(agent.send(command('anthropic/claude-x')), ValidationException);
    expect(refused.message).toMatch(/provider 'anthropic' does not support rerank/);
    const empty = await rejectionOf(agent.send(new RerankCommand({ queries: [], sources: [], rerankingConfiguration: undefined as never })),
      ValidationException);
    expect(empty.message).toMatch(/queries/);
  });
});
