// The Bedrock Agent Runtime's Rerank API (`POST /rerank` on bedrock-agent-runtime.{region}): one text query,
// inline text sources, and the model named by its foundation-model ARN; results by index with `relevanceScore`.

import type { JobData, RerankRequest } from '../../src/contract/messages.js';
import { rerankAnswerOf, rerankOptions, rerankResults, type ChatAnswer } from './types.js';

/** The model's ARN: as given when the model is one, else the foundation model's in the key's region. */
export function bedrockModelArn(modelId: string, region: string | null): string {
  if (modelId.startsWith('arn:')) return modelId;
  if (!region) throw new Error('bedrock_key_config.region is required to name a rerank model (or give the model as its ARN)');
  return `arn:aws:bedrock:${region}::foundation-model/${modelId}`;
}

export function bedrockRerankBody(job: JobData, modelArn: string): { body: string; dropped: string[] } {
  const request = job.body as RerankRequest;
  const bedrockConfiguration: Record<string, unknown> = { modelConfiguration: { modelArn } };
  const dropped: string[] = [];
  for (const [name, value] of rerankOptions(request)) {
    if (name === 'top_n') bedrockConfiguration.numberOfResults = value;
    else if (name === 'additional_model_request_fields') {
      (bedrockConfiguration.modelConfiguration as Record<string, unknown>).additionalModelRequestFields = value;
    } else dropped.push(name);
  }
  const body = {
    queries: [{ type: 'TEXT', textQuery: { text: request.query } }],
    sources: request.documents.map((text) => ({ type: 'INLINE', inlineDocumentSource: { type: 'TEXT', textDocument: { text } } })),
    rerankingConfiguration: { type: 'BEDROCK_RERANKING_MODEL', bedrockRerankingConfiguration: bedrockConfiguration },
  };
  return { body: JSON.stringify(body), dropped };
}

export function bedrockRerankAnswer(text: string, job: JobData): ChatAnswer {
  const parsed = JSON.parse(text) as { results?: unknown } | null;
  if (!parsed || typeof parsed !== 'object') throw new SyntaxError('the answer is not a JSON object');
  const results = rerankResults(parsed.results, (job.body as RerankRequest).documents.length,
    (item) => [item.index, item.relevanceScore]);
  return rerankAnswerOf(job.requestId, results, {});
}
