// The Jina-style rerank API that Together, vLLM and SGLang serve (`POST /v1/rerank`): model, query, documents and
// top_n in; `results[]` of `{index, relevance_score}` and a token `usage` out. Documents are not echoed back
// (`return_documents: false`): the gateway adds them from the request when the client asks.

import type { JobData, RerankRequest } from '../../src/contract/messages.js';
import { rerankAnswerOf, rerankOptions, rerankResults, type ChatAnswer } from './types.js';

export function jinaRerankBody(job: JobData): { body: string; dropped: string[] } {
  const request = job.body as RerankRequest;
  const body: Record<string, unknown> = { model: job.model, query: request.query, documents: request.documents, return_documents: false };
  const dropped: string[] = [];
  for (const [name, value] of rerankOptions(request)) {
    if (name === 'top_n') body.top_n = value;
    else dropped.push(name);
  }
  return { body: JSON.stringify(body), dropped };
}

export function jinaRerankAnswer(text: string, job: JobData): ChatAnswer {
  const parsed = JSON.parse(text) as { id?: unknown; results?: unknown; usage?: { prompt_tokens?: unknown; total_tokens?: unknown } } | null;
  if (!parsed || typeof parsed !== 'object') throw new SyntaxError('the answer is not a JSON object');
  const results = rerankResults(parsed.results, (job.body as RerankRequest).documents.length,
    (item) => [item.index, item.relevance_score]);
  const tokens = parsed.usage?.prompt_tokens ?? parsed.usage?.total_tokens;
  return rerankAnswerOf(typeof parsed.id === 'string' ? parsed.id : job.requestId, results,
    typeof tokens === 'number' ? { prompt_tokens: tokens, total_tokens: tokens } : {});
}
