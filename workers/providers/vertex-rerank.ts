// Vertex AI Search's ranking API (Discovery Engine, `rankingConfigs/default_ranking_config:rank`), which ranks
// records for Vertex: each document goes as a record whose id is its index, and comes back with a score.

import type { JobData, RerankRequest } from '../../src/contract/messages.js';
import { rerankAnswerOf, rerankOptions, rerankResults, type ChatAnswer } from './types.js';

const DISCOVERY_ENGINE = 'https://discoveryengine.googleapis.com';

export function vertexRankUrlPath(projectId: string): { host: string; path: string } {
  return { host: DISCOVERY_ENGINE,
    path: `/v1/projects/${encodeURIComponent(projectId)}/locations/global/rankingConfigs/default_ranking_config:rank` };
}

export function vertexRankBody(job: JobData): { body: string; dropped: string[] } {
  const request = job.body as RerankRequest;
  const body: Record<string, unknown> = {
    model: job.model,
    query: request.query,
    records: request.documents.map((content, index) => ({ id: String(index), content })),
    ignoreRecordDetailsInResponse: true,
  };
  const dropped: string[] = [];
  for (const [name, value] of rerankOptions(request)) {
    if (name === 'top_n') body.topN = value;
    else dropped.push(name);
  }
  return { body: JSON.stringify(body), dropped };
}

export function vertexRankAnswer(text: string, job: JobData): ChatAnswer {
  const parsed = JSON.parse(text) as { records?: unknown } | null;
  if (!parsed || typeof parsed !== 'object') throw new SyntaxError('the answer is not a JSON object');
  // No records at all is an answer too: nothing matched.
  const results = rerankResults(parsed.records ?? [], (job.body as RerankRequest).documents.length,
    (item) => [typeof item.id === 'string' && /^\d+$/.test(item.id) ? Number(item.id) : null, item.score]);
  return rerankAnswerOf(job.requestId, results, {});
}
