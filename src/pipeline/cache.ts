// The cache stage (src/cache, docs/cache.md), between the pre-hooks and dispatch: a hit is answered here, on the
// front thread, from the stored answer in the client's wire (as a stream or as JSON, whichever it asked for); a miss
// goes on to the provider with a fill that stores the answer. The embedding calls of the semantic layer go through
// the embedding provider's own pool, as any request does.

import type { ProviderConfig } from '../config/types.js';
import type { JobData, ResultMeta, StreamEndMeta } from '../contract/messages.js';
import { NO_MODEL_SLOT } from '../contract/metrics-layout.js';
import type { ClientWire } from '../dialects/dialect.js';
import type { JobHandlers } from '../dispatch/channel.js';
import type { ProviderPool } from '../dispatch/pool.js';
import type { ErrorData } from '../errors/error-data.js';
import type { ResponseSink } from '../http/response.js';
import type { PluginRunner } from '../plugins/runner.js';
import type { Pricing } from '../pricing/index.js';
import type { CacheAnswer, CacheHit, Embedder, EmbeddingResult } from '../cache/index.js';
import { bodyOf, chunksOf } from '../cache/entry.js';
import type { RequestContext } from './context.js';
import type { RequestRun } from './fallbacks.js';
import type { ParsedRequest } from './parse.js';
import { afterPostHooks, newOutcome, respondOutcome, writePieces } from './respond.js';
import { routeModel } from './route.js';

/** The response headers that tell the client what the cache did. */
export function cacheHeaders(answer: CacheAnswer | null): Record<string, string> {
  if (!answer) return { 'x-heimdall-cache': 'bypass' };
  const headers: Record<string, string> = { 'x-heimdall-cache': answer.result };
  if (answer.result !== 'miss') {
    headers.age = String(Math.max(0, Math.floor((Date.now() - answer.entry.storedAt) / 1000)));
    if (answer.similarity !== null) headers['x-heimdall-cache-similarity'] = answer.similarity.toFixed(4);
  }
  const embedding = answer.embedding;
  if (embedding) {
    headers['x-heimdall-cache-embedding-ms'] = embedding.ms.toFixed(3);
    if (embedding.costUsd !== null) headers['x-heimdall-cache-embedding-cost-usd'] = String(embedding.costUsd);
  }
  return headers;
}

/**
 * Answers from a hit, after the post-hooks of the plugins whose pre-hook ran; false (nothing sent) when the entry
 * cannot be given the way the request asks, which its key rules out for every entry but a corrupt one.
 */
export function answerFromCache(plugins: PluginRunner, ctx: RequestContext, sink: ResponseSink, wire: ClientWire,
  parsed: ParsedRequest, run: RequestRun, reached: number, hit: CacheHit): boolean {
  const chunks = parsed.stream ? chunksOf(hit.entry, parsed.includeUsage) : null;
  const body = parsed.stream ? null : bodyOf(hit.entry);
  if (chunks === null && body === null) return false;
  const outcome = newOutcome(parsed.stream);
  outcome.shortCircuited = true;
  outcome.status = 200;
  outcome.body = body;
  outcome.usage = hit.entry.usage;
  const access = sink.access;
  access.cache = hit.result;
  // Nothing was asked of the provider: nothing was spent (the embedding call, if any, is reported in a header).
  access.costUsd = 0;
  access.upstreamMs = 0;
  afterPostHooks(plugins, ctx, outcome, reached, () => {
    const headers = { ...run.headers(!outcome.error, performance.now() - ctx.receivedAt), ...cacheHeaders(hit) };
    if (!chunks || outcome.error) {
      respondOutcome(sink, wire, outcome, headers, run.failures);
      return;
    }
    const content = access.content;
    if (content) for (const chunk of chunks) content.chunk(chunk);
    access.firstTokenMs = performance.now() - ctx.receivedAt;
    sink.startStream(headers, wire.streamContentType);
    writePieces(sink, chunks.map((chunk) => wire.chunk(chunk)));
    sink.end(wire.end());
  });
  return true;
}

/** One embedding call through the pool, as a promise. */
class EmbeddingCall implements JobHandlers {
  readonly #resolve: (vector: Float32Array, meta: ResultMeta) => void;
  readonly #reject: (error: Error) => void;

  constructor(resolve: (vector: Float32Array, meta: ResultMeta) => void, reject: (error: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  onResult(status: number, body: string | Uint8Array, meta: ResultMeta): void {
    if (status !== 200 || typeof body !== 'string') {
      this.#reject(new Error(`the embedding provider answered ${status}`));
      return;
    }
    try {
      const parsed = JSON.parse(body) as { data?: { embedding?: unknown }[] };
      const embedding = parsed.data?.[0]?.embedding;
      if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((x) => typeof x === 'number')) {
        throw new Error('the embedding answer has no vector');
      }
      this.#resolve(Float32Array.from(embedding as number[]), meta);
    } catch (error) {
      this.#reject(error as Error);
    }
  }

  onChunks(): void {
    this.#reject(new Error('the embedding provider answered with a stream'));
  }

  onEnd(_meta: StreamEndMeta): void {
    this.#reject(new Error('the embedding provider answered with a stream'));
  }

  onError(error: ErrorData): void {
    this.#reject(new Error(`${error.code}: ${error.message}`));
  }
}

/** Embeds a text with the configured provider and model, through that provider's pool and key choice. */
export function createEmbedder(embedding: { provider: string; model: string }, providers: ReadonlyMap<string, ProviderConfig>,
  pools: ReadonlyMap<string, ProviderPool>, pricing: Pricing | null): Embedder {
  const qualified = `${embedding.provider}/${embedding.model}`;
  return (text, requestId) => new Promise<EmbeddingResult>((resolve, reject) => {
    const started = performance.now();
    const target = routeModel(qualified, providers);
    const job: JobData = { kind: 'embeddings', requestId, model: target.model, keyIndex: target.keyIndex, stream: false,
      includeUsage: false, body: { model: target.model, input: text }, modelLabel: NO_MODEL_SLOT };
    const call = new EmbeddingCall((vector, meta) => {
      const cost = pricing?.costOf({ provider: embedding.provider, model: target.model, kind: 'embeddings', stream: false,
        usage: meta.usage, body: job.body, textCompletion: false });
      resolve({ vector, ms: performance.now() - started, costUsd: cost?.usd ?? null });
    }, reject);
    pools.get(embedding.provider)!.submit(job, call);
  });
}
