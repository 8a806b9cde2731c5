// Pricing: what a request cost and the most it can cost, per provider and model, from the shipped price table
// (price-table.ts) with each provider's `pricing_overrides` laid over it. One Pricing per config, built at boot on
// the front thread; lookups are cached per provider, model and request type, so the hot path is a map read and a
// few multiplications.

import type { JobKind, UsageData } from '../contract/messages.js';
import { costFromUsage, unpriced, worstCaseCost, type Cost, type WorstCase } from './cost.js';
import { builtInPrice } from './lookup.js';
import { OverrideSet, patchPrice, type PricingOverride, type PricingRequestType } from './overrides.js';
import type { ModelPrice } from './price-table.js';

export type { Cost, Unpriced, WorstCase } from './cost.js';
export type { PricingOverride, PricingRequestType, MatchType } from './overrides.js';
export { PRICING_REQUEST_TYPES } from './overrides.js';
export type { ModelPrice } from './price-table.js';
export { TAKEN_AT as PRICES_TAKEN_AT, SOURCES as PRICE_SOURCES } from './price-table.js';

/** What Pricing needs of a provider's config. */
export interface PricedProvider {
  readonly name: string;
  /** The built-in adapter; a provider whose name differs from it is a custom one (some other server). */
  readonly adapter: string;
  readonly pricingOverrides?: readonly PricingOverride[];
}

export interface CostQuery {
  /** The provider's configured name (`providers.<name>`). */
  readonly provider: string;
  /** The model as sent to the provider, without the `provider/` prefix. */
  readonly model: string;
  readonly kind: JobKind;
  readonly stream: boolean;
  readonly usage: UsageData | null;
  /** The request body as sent: speech is priced by its `input`, images by `n`, `size` and `quality`. */
  readonly body?: Readonly<Record<string, unknown>> | null;
  /** The client spoke OpenAI's legacy Completions API (for overrides limited to `text_completion`). */
  readonly textCompletion?: boolean;
}

export interface WorstCaseQuery {
  readonly provider: string;
  readonly model: string;
  readonly kind: JobKind;
  /** The body about to be dispatched: its output limit (`max_completion_tokens`, `max_tokens`, `max_output_tokens`),
   * `n`, and media fields. */
  readonly body: Readonly<Record<string, unknown>>;
  /** An upper bound on the input tokens, when the caller has one; else the body's UTF-8 size in bytes (a byte-level
   * tokenizer never makes more tokens than bytes, so this over-reserves, and settles to the real cost after). */
  readonly inputTokens?: number;
  readonly stream?: boolean;
  readonly textCompletion?: boolean;
}

/** Bifrost's request type of a job, which overrides may be limited to. */
export function requestTypeOf(kind: JobKind, stream: boolean, textCompletion = false): PricingRequestType {
  const streamed = (type: PricingRequestType, streamType: PricingRequestType) => (stream ? streamType : type);
  switch (kind) {
    case 'embeddings':
      return 'embedding';
    case 'rerank':
      return 'rerank';
    case 'responses':
      return streamed('responses', 'responses_stream');
    case 'speech':
      return streamed('speech', 'speech_stream');
    case 'transcription':
      return streamed('transcription', 'transcription_stream');
    case 'image_generation':
      return streamed('image_generation', 'image_generation_stream');
    case 'image_edit':
      return streamed('image_edit', 'image_edit_stream');
    case 'image_variation':
      return 'image_variation';
    default:
      return textCompletion ? streamed('text_completion', 'text_completion_stream')
        : streamed('chat_completion', 'chat_completion_stream');
  }
}

/** Lookups remembered per provider, model and request type; past this many, looked up each time (clients may invent
 * model names on keys that allow every model). */
const CACHE_LIMIT = 4096;

export class Pricing {
  readonly #providers = new Map<string, { adapter: string | null; overrides: OverrideSet }>();
  /** provider → request type → model → price: nested, so that a lookup builds no key string. */
  readonly #cache = new Map<string, Map<PricingRequestType, Map<string, ModelPrice | null>>>();
  #cached = 0;

  constructor(providers: Iterable<PricedProvider>) {
    for (const provider of providers) {
      this.#providers.set(provider.name, {
        // A custom provider on a built-in adapter is some other server: the built-in's prices are not its prices.
        adapter: provider.name === provider.adapter ? provider.adapter : null,
        overrides: new OverrideSet(provider.pricingOverrides ?? []),
      });
    }
  }

  /** The price of `model` on `provider` for one request type, overrides applied; null when it has none. */
  priceOf(provider: string, model: string, requestType: PricingRequestType = 'chat_completion'): ModelPrice | null {
    let byType = this.#cache.get(provider);
    if (!byType) this.#cache.set(provider, byType = new Map());
    let byModel = byType.get(requestType);
    if (!byModel) byType.set(requestType, byModel = new Map());
    const cached = byModel.get(model);
    if (cached !== undefined) return cached;
    const entry = this.#providers.get(provider);
    let price: ModelPrice | null = null;
    if (entry) {
      const base = entry.adapter ? builtInPrice(entry.adapter, model) : null;
      const override = entry.overrides.size > 0 ? entry.overrides.match(model, requestType) : null;
      price = override ? patchPrice(base, override.price) : base;
    }
    if (this.#cached < CACHE_LIMIT) {
      byModel.set(model, price);
      this.#cached++;
    }
    return price;
  }

  /** A finished request's cost, from the usage its provider reported. */
  costOf(query: CostQuery): Cost {
    const price = this.priceOf(query.provider, query.model, requestTypeOf(query.kind, query.stream, query.textCompletion));
    return price ? costFromUsage(price, query.kind, query.usage, query.body) : unpriced('no_price');
  }

  /** The most a request can cost, before it is sent: what a budget reserves. */
  worstCase(query: WorstCaseQuery): WorstCase {
    const inputTokens = query.inputTokens ?? Buffer.byteLength(JSON.stringify(query.body));
    const price = this.priceOf(query.provider, query.model,
      requestTypeOf(query.kind, query.stream ?? query.body.stream === true, query.textCompletion));
    if (!price) return { usd: null, unpriced: 'no_price', inputTokens, outputTokens: null };
    return worstCaseCost(price, query.kind, query.body, inputTokens);
  }

  /** The most tokens the model may write in one answer, when known. */
  maxOutputTokens(provider: string, model: string): number | null {
    return this.priceOf(provider, model)?.maxOutput ?? null;
  }
}

export function createPricing(providers: Iterable<PricedProvider>): Pricing {
  return new Pricing(providers);
}
