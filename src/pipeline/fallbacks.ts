// The request's tries: its primary `provider/model`, then the `fallbacks` of its body, in order. This object keeps
// what the client is told about them: every failed try (for `error.attempts` and the logs), the time spent waiting
// on providers and in backoff (for the overhead), and the transparency headers.

import type { MetricsLayout, MetricsShard } from '../contract/metrics-layout.js';
import type { ErrorData } from '../errors/error-data.js';
import type { AccessRecord } from '../observability/access-log.js';
import { GatewayError, statusOf, type AttemptRecord } from '../errors/gateway-error.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import type { ParsedRequest } from './parse.js';

/** More than this many fallbacks in one request is refused: each may cost a full timeout. */
export const MAX_FALLBACKS = 10;

export interface PipelineMetrics {
  readonly layout: MetricsLayout;
  readonly shard: MetricsShard;
  providerIndex(name: string): number;
  /** The model's slot in the model label, handed out on first sight (src/observability/label-table.ts). */
  modelIndex(model: string): number;
}

/**
 * Reads, checks and removes `fallbacks` from the body: the provider must never see it. Null when the body names
 * none (the primary provider's configured fallbacks apply then); an explicit `[]` turns those off.
 */
export function takeFallbacks(body: ChatRequestBody): string[] | null {
  const raw = (body as Record<string, unknown>).fallbacks;
  if (raw === undefined) return null;
  if (raw === null) {
    delete (body as Record<string, unknown>).fallbacks;
    return null;
  }
  if (!Array.isArray(raw) || !raw.every((entry) => typeof entry === 'string' && entry.length > 0)) {
    throw new GatewayError('INVALID_REQUEST', "'fallbacks' must be an array of \"provider/model\" strings",
      { param: 'fallbacks' });
  }
  if (raw.length > MAX_FALLBACKS) {
    throw new GatewayError('INVALID_REQUEST', `'fallbacks' takes at most ${MAX_FALLBACKS} entries`, { param: 'fallbacks' });
  }
  delete (body as Record<string, unknown>).fallbacks;
  return raw as string[];
}

function splitQualified(qualified: string): { provider: string; model: string } {
  const slash = qualified.indexOf('/');
  return slash <= 0 ? { provider: '', model: qualified } : { provider: qualified.slice(0, slash), model: qualified.slice(slash + 1) };
}

export class RequestRun {
  /** `provider/model` of the primary, then of each fallback. */
  readonly candidates: readonly string[];
  /** The failed tries so far, retries included. */
  readonly failures: AttemptRecord[] = [];
  /** Which candidate is being tried: 0 for the primary. */
  index = 0;
  /** Milliseconds spent in provider pools (failed calls measured from the front, the answer by the worker). */
  waitedMs = 0;
  /** Milliseconds spent sleeping between retries. */
  backoffMs = 0;
  /** Milliseconds spent waiting on MCP tools the agent loop ran. */
  toolMs = 0;
  /** What the response cache did for the current candidate (`x-heimdall-cache` and its companions); null: no cache. */
  cacheHeaders: Record<string, string> | null = null;
  /** Starts candidate `index` (route, pre-hooks, dispatch); set by the pipeline, which owns those stages. */
  next: ((index: number) => void) | null = null;
  readonly #parsed: ParsedRequest;
  /** The body as the client sent it, before any pre-hook changed it: each fallback starts from a copy. */
  readonly #pristine: ChatRequestBody | null;
  readonly #metrics: PipelineMetrics | undefined;
  /** The request's access log record: the tries are counted into it as they happen. */
  readonly #access: AccessRecord | null;

  constructor(parsed: ParsedRequest, fallbacks: readonly string[], metrics: PipelineMetrics | undefined,
    access: AccessRecord | null = null) {
    this.#parsed = parsed;
    this.candidates = [parsed.body.model, ...fallbacks];
    this.#pristine = fallbacks.length > 0 ? structuredClone(parsed.body) : null;
    this.#metrics = metrics;
    this.#access = access;
  }

  /** The request as candidate `index` sees it: the original for the primary, a fresh copy naming the fallback else. */
  requestFor(index: number): ParsedRequest {
    if (index === 0 || !this.#pristine) return this.#parsed;
    return { ...this.#parsed, body: { ...structuredClone(this.#pristine), model: this.candidates[index] } };
  }

  /** Records a failed try of the current candidate. */
  fail(error: ErrorData): void {
    const { provider, model } = splitQualified(this.candidates[this.index]);
    this.failures.push({ provider, model, status: statusOf(error), code: error.code.toLowerCase(), message: error.message });
    this.#recordTries(false);
  }

  #recordTries(succeeded: boolean): void {
    const access = this.#access;
    if (!access) return;
    access.attempts = this.failures.length + (succeeded ? 1 : 0);
    access.fallbacks = this.index;
  }

  /** Counts a retry of the current candidate. */
  countRetry(): void {
    this.#count('retries');
  }

  /** Starts the next fallback; false when there is none left. */
  fallBack(): boolean {
    if (this.index + 1 >= this.candidates.length || !this.next) return false;
    this.#count('fallbacks');
    this.next(this.index + 1);
    return true;
  }

  /** Counts under the current candidate's provider and model. */
  #count(family: 'retries' | 'fallbacks'): void {
    const metrics = this.#metrics;
    if (!metrics) return;
    const { provider, model } = splitQualified(this.candidates[this.index]);
    const index = metrics.providerIndex(provider);
    if (index >= 0) metrics.shard.add(metrics.layout[family].seriesOffset(index, metrics.modelIndex(model)));
  }

  /**
   * The transparency headers: who answered, after how many tries, at which fallback, and the gateway's own time
   * (`overheadMs`: total so far minus time waiting on providers and in backoff).
   */
  headers(succeeded: boolean, overheadMs: number): Record<string, string> {
    const { provider, model } = splitQualified(this.candidates[this.index]);
    this.#recordTries(succeeded);
    if (this.#access) this.#access.overheadMs = Math.max(0, overheadMs);
    return {
      'x-heimdall-provider': provider,
      'x-heimdall-model': model,
      'x-heimdall-attempts': String(this.failures.length + (succeeded ? 1 : 0)),
      'x-heimdall-fallback-index': String(this.index),
      'x-heimdall-overhead-ms': Math.max(0, overheadMs).toFixed(3),
      ...this.cacheHeaders,
    };
  }

  /** Logs the tries when there was more than one, on the request's logger. */
  logExhausted(logger: { warn(obj: object, msg: string): void }): void {
    if (this.failures.length > 1) logger.warn({ attempts: this.failures }, 'every attempt failed; answering with the last error');
  }
}
