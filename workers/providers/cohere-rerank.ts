// Cohere's rerank API (`POST /v2/rerank`): the query and the documents' texts in, the results by index with their
// relevance scores out, billed in search units.

import type { JobData, RerankRequest } from '../../src/contract/messages.js';
import { joinUrl } from '../upstream/url.js';
import { rerankAnswerOf, rerankOptions, rerankResults, type CallTarget, type ChatAnswer, type UpstreamCall } from './types.js';

/** The request fields Cohere's v2 rerank takes besides model, query and documents. */
const COHERE_RERANK_FIELDS = ['top_n', 'max_tokens_per_doc', 'priority'];

export function cohereRerankCall(job: JobData, target: CallTarget, defaultBaseUrl: string): UpstreamCall {
  const request = job.body as RerankRequest;
  const body: Record<string, unknown> = { model: job.model, query: request.query, documents: request.documents };
  const dropped: string[] = [];
  for (const [name, value] of rerankOptions(request)) {
    if (COHERE_RERANK_FIELDS.includes(name)) body[name] = value;
    else dropped.push(name);
  }
  return { url: joinUrl(target.baseUrl ?? defaultBaseUrl, '/v2/rerank'), body: JSON.stringify(body), droppedParams: dropped };
}

export function cohereRerankAnswer(text: string, job: JobData): ChatAnswer {
  const parsed = JSON.parse(text) as { id?: unknown; results?: unknown; meta?: { billed_units?: { search_units?: unknown } } } | null;
  if (!parsed || typeof parsed !== 'object') throw new SyntaxError('the answer is not a JSON object');
  const results = rerankResults(parsed.results, (job.body as RerankRequest).documents.length,
    (item) => [item.index, item.relevance_score]);
  const units = parsed.meta?.billed_units?.search_units;
  return rerankAnswerOf(typeof parsed.id === 'string' ? parsed.id : job.requestId, results,
    typeof units === 'number' ? { search_units: units } : {});
}
