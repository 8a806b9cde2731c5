import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { ADAPTERS } from '../../../../workers/providers/index.js';
import type { HttpAdapter } from '../../../../workers/providers/types.js';

const DOCUMENTS = ['alpha', 'beta', 'gamma'];
const job = (model: string, extra: Record<string, unknown> = {}): JobData => ({ modelLabel: 0, kind: 'rerank', requestId: 'req-1', model,
  keyIndex: 0, stream: false, includeUsage: false, body: { model: `x/${model}`, query: 'which', documents: DOCUMENTS, ...extra } });
const http = (id: string) => ADAPTERS[id] as HttpAdapter;

describe('rerank: the Jina-style servers (vLLM, SGLang, Together)', () => {
  it('sends model, query, documents and top_n to /v1/rerank, drops and reports the rest', () => {
    const call = http('vllm').rerankCall!(job('bge-reranker', { top_n: 2, rank_fields: ['a'] }),
      { baseUrl: 'http://vllm:8000', key: { value: '', configs: {} } });
    expect(call.url).toBe('http://vllm:8000/v1/rerank');
    expect(JSON.parse(call.body)).toEqual({ model: 'bge-reranker', query: 'which', documents: DOCUMENTS, return_documents: false, top_n: 2 });
    expect(call.droppedParams).toEqual(['rank_fields']);
    expect(http('together').rerankCall!(job('m'), { baseUrl: null, key: { value: 'k', configs: {} } }).url)
      .toBe('https://api.together.xyz/v1/rerank');
  });

  it('reads results best first with the token usage, and refuses an index out of range', () => {
    const answer = http('sglang').rerankAnswer!(JSON.stringify({ id: 'r1', results: [{ index: 0, relevance_score: 0.1 },
      { index: 2, relevance_score: 0.9 }], usage: { total_tokens: 12 } }), job('m'));
    expect(JSON.parse(answer.body)).toEqual({ id: 'r1', results: [{ index: 2, relevance_score: 0.9 }, { index: 0, relevance_score: 0.1 }],
      usage: { prompt_tokens: 12, total_tokens: 12 } });
    expect(answer.usage).toMatchObject({ promptTokens: 12, totalTokens: 12 });
    expect(() => http('vllm').rerankAnswer!(JSON.stringify({ results: [{ index: 3, relevance_score: 1 }] }), job('m')))
      .toThrow(/index in range/);
  });
});

describe('rerank: Vertex (Discovery Engine ranking)', () => {
  const key = { value: '', configs: { vertex_key_config: { project_id: 'proj-1', region: 'europe-west4', auth_credentials: { client_email: 'sa@proj-1.iam', private_key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----' } } } };

  it('ranks records named by index under the key\'s project, globally', () => {
    const call = http('vertex').rerankCall!(job('semantic-ranker-default@latest', { top_n: 1 }), { baseUrl: null, key });
    expect(call.url).toBe('https://discoveryengine.googleapis.com/v1/projects/proj-1/locations/global/rankingConfigs/default_ranking_config:rank');
    expect(JSON.parse(call.body)).toEqual({ model: 'semantic-ranker-default@latest', query: 'which', topN: 1,
      records: DOCUMENTS.map((content, index) => ({ id: String(index), content })), ignoreRecordDetailsInResponse: true });
  });

  it('reads the records\' ids back as indexes', () => {
    const answer = http('vertex').rerankAnswer!(JSON.stringify({ records: [{ id: '1', score: 0.8 }, { id: '0', score: 0.2 }] }), job('m'));
    expect(JSON.parse(answer.body).results).toEqual([{ index: 1, relevance_score: 0.8 }, { index: 0, relevance_score: 0.2 }]);
    expect(() => http('vertex').rerankAnswer!(JSON.stringify({ records: [{ id: 'x', score: 1 }] }), job('m'))).toThrow();
  });
});
