// Where a request's cost is taken: when the provider's answer settles, the pipeline hands the job and the usage
// here; the cost goes into the request's access record (for the access log and the request log) and into
// `heimdall_cost_usd_total`, and a request whose cost is unknown into `heimdall_cost_unpriced_requests_total`.

import type { JobData, UsageData } from '../contract/messages.js';
import { UNPRICED_REASONS } from '../contract/metrics-layout.js';
import type { AccessRecord } from '../observability/access-log.js';
import type { PipelineMetrics } from '../pipeline/fallbacks.js';
import type { Cost, Pricing } from './index.js';

export class CostMeter {
  readonly #pricing: Pricing;
  readonly #metrics: PipelineMetrics | undefined;

  constructor(pricing: Pricing, metrics?: PipelineMetrics) {
    this.#pricing = pricing;
    this.#metrics = metrics;
  }

  get pricing(): Pricing {
    return this.#pricing;
  }

  /**
   * Prices the answer of `job` on `provider`, adds it to what `access` holds (an earlier attempt of the request may
   * have spent already) and counts it.
   */
  record(access: AccessRecord, provider: string, job: JobData, usage: UsageData | null, textCompletion: boolean): Cost {
    const cost = this.#pricing.costOf({ provider, model: job.model, kind: job.kind, stream: job.stream, usage, body: job.body,
      textCompletion });
    access.costUsd = sum(access.costUsd, cost.usd);
    access.tokensCached = sum(access.tokensCached, usage?.cachedTokens ?? null);
    access.tokensReasoning = sum(access.tokensReasoning, usage?.reasoningTokens ?? null);
    const metrics = this.#metrics;
    const providerIndex = metrics ? metrics.providerIndex(provider) : -1;
    if (!metrics || providerIndex < 0) return cost;
    const model = metrics.modelIndex(job.model);
    if (cost.usd !== null) {
      if (cost.usd > 0) metrics.shard.add(metrics.layout.cost.seriesOffset(providerIndex, model), cost.usd);
    } else {
      const reason = UNPRICED_REASONS.indexOf(cost.unpriced as typeof UNPRICED_REASONS[number]);
      if (reason >= 0) metrics.shard.add(metrics.layout.unpriced.seriesOffset(providerIndex, model, reason));
    }
    return cost;
  }
}

/** Two parts of a total where either may be unknown (null): the known part; null when neither is known. */
const sum = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : a + b);
