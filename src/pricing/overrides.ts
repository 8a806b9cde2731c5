// `providers.<name>.pricing_overrides`, Bifrost's shape: each entry names the models it applies to (`model_pattern`
// matched `exact`ly, as a `wildcard` with `*`, or as a `regex`), optionally the request types, and the prices that
// replace the table's (Bifrost's per-token field names; a field left out keeps the table's value). The most specific
// entry wins, as in Bifrost: exact before wildcard before regex; then one limited to the request's type before one
// for every type; then the pattern with more literal characters; then the first in the config.

import type { ModelPrice } from './price-table.js';

/** Bifrost's request types an override may be limited to. */
export const PRICING_REQUEST_TYPES = ['text_completion', 'text_completion_stream', 'chat_completion',
  'chat_completion_stream', 'responses', 'responses_stream', 'embedding', 'rerank', 'speech', 'speech_stream',
  'transcription', 'transcription_stream', 'image_generation', 'image_generation_stream', 'image_edit',
  'image_edit_stream', 'image_variation', 'video_generation'] as const;
export type PricingRequestType = typeof PRICING_REQUEST_TYPES[number];

export type MatchType = 'exact' | 'wildcard' | 'regex';

/** One override as the validated config holds it: prices already in the table's units (per million tokens). */
export interface PricingOverride {
  readonly modelPattern: string;
  readonly matchType: MatchType;
  /** Empty: every request type. */
  readonly requestTypes: readonly PricingRequestType[];
  readonly price: ModelPrice;
}

interface Compiled {
  readonly override: PricingOverride;
  readonly rank: number;
  readonly literalChars: number;
  readonly order: number;
  readonly test: (model: string) => boolean;
}

const MATCH_RANK: Readonly<Record<MatchType, number>> = { exact: 0, wildcard: 1, regex: 2 };

/** `*` matches any run of characters, anything else itself; the whole name must match. */
export function wildcardRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

/** Why a pattern cannot be used as its match type says, or null. Run at config validation. */
export function patternProblem(matchType: MatchType, pattern: string): string | null {
  if (pattern.trim() === '') return 'model_pattern must not be empty';
  if (matchType === 'exact' && pattern.includes('*')) return "an exact model_pattern cannot contain '*' (use match_type \"wildcard\")";
  if (matchType === 'wildcard' && !pattern.includes('*')) return "a wildcard model_pattern needs a '*' (or use match_type \"exact\")";
  if (matchType === 'regex') {
    try {
      new RegExp(pattern);
    } catch (error) {
      return `model_pattern is not a valid regular expression: ${(error as Error).message}`;
    }
  }
  return null;
}

export class OverrideSet {
  readonly #entries: readonly Compiled[];

  constructor(overrides: readonly PricingOverride[]) {
    this.#entries = overrides.map((override, order) => {
      const pattern = override.modelPattern.trim();
      let test: (model: string) => boolean;
      if (override.matchType === 'exact') test = (model) => model === pattern;
      else {
        // Bifrost's regex matches anywhere in the name (Go's MatchString); anchor it with ^…$ for a whole name.
        const regex = override.matchType === 'wildcard' ? wildcardRegExp(pattern) : new RegExp(pattern);
        test = (model) => regex.test(model);
      }
      const literalChars = override.matchType === 'wildcard' ? pattern.replaceAll('*', '').length : pattern.length;
      return { override, rank: MATCH_RANK[override.matchType], literalChars, order, test };
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The most specific override for `model` and `requestType`, or null. */
  match(model: string, requestType: PricingRequestType): PricingOverride | null {
    let best: Compiled | null = null;
    for (const entry of this.#entries) {
      const types = entry.override.requestTypes;
      if (types.length > 0 && !types.includes(requestType)) continue;
      if (!entry.test(model)) continue;
      if (!best || better(entry, best)) best = entry;
    }
    return best?.override ?? null;
  }
}

function better(candidate: Compiled, best: Compiled): boolean {
  if (candidate.rank !== best.rank) return candidate.rank < best.rank;
  const filtered = candidate.override.requestTypes.length > 0;
  if (filtered !== best.override.requestTypes.length > 0) return filtered;
  if (candidate.literalChars !== best.literalChars) return candidate.literalChars > best.literalChars;
  return candidate.order < best.order;
}

/**
 * The table's price with the override's fields laid over it. A tier is patched field by field; image prices row by
 * row, except that a price for every image (`output_cost_per_image`, the `*` row) replaces the table's rows.
 */
export function patchPrice(base: ModelPrice | null, patch: ModelPrice): ModelPrice {
  const merged: Record<string, unknown> = { ...base };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (field === 'above' && base?.above) merged.above = { ...base.above, ...(value as object) };
    else if (field === 'perImage' && base?.perImage && !('*' in (value as object))) {
      merged.perImage = { ...base.perImage, ...(value as object) };
    }
    else merged[field] = value;
  }
  return merged as ModelPrice;
}

/** The fields of Bifrost's override that Heimdall prices by, per token (or second, character, image) as Bifrost has them. */
export interface BifrostPricingOverride {
  readonly model_pattern: string;
  readonly match_type: MatchType;
  readonly request_types?: readonly PricingRequestType[];
  readonly input_cost_per_token?: number;
  readonly output_cost_per_token?: number;
  readonly cache_read_input_token_cost?: number;
  readonly cache_creation_input_token_cost?: number;
  readonly input_cost_per_token_above_128k_tokens?: number;
  readonly output_cost_per_token_above_128k_tokens?: number;
  readonly input_cost_per_token_above_200k_tokens?: number;
  readonly output_cost_per_token_above_200k_tokens?: number;
  readonly cache_read_input_token_cost_above_200k_tokens?: number;
  readonly input_cost_per_audio_per_second?: number;
  readonly input_cost_per_character?: number;
  readonly output_cost_per_image?: number;
  readonly output_cost_per_image_low_quality?: number;
  readonly output_cost_per_image_medium_quality?: number;
  readonly output_cost_per_image_high_quality?: number;
  readonly output_cost_per_image_auto_quality?: number;
  readonly max_output_tokens?: number;
}

const perMillion = (perToken: number | undefined): number | undefined =>
  // Rounded to the nanodollar per million: 2.5e-6 × 1e6 is 2.4999999999999996 in floating point.
  (perToken === undefined ? undefined : Math.round(perToken * 1e15) / 1e9);

/** An override as the config wrote it (Bifrost's per-token prices) → table units (per million tokens). */
export function overrideFromBifrost(raw: BifrostPricingOverride): PricingOverride {
  const price: Record<string, unknown> = {
    in: perMillion(raw.input_cost_per_token),
    out: perMillion(raw.output_cost_per_token),
    cachedIn: perMillion(raw.cache_read_input_token_cost),
    cacheWrite: perMillion(raw.cache_creation_input_token_cost),
    perAudioSecond: raw.input_cost_per_audio_per_second,
    perCharacter: raw.input_cost_per_character,
    maxOutput: raw.max_output_tokens,
  };
  const over200 = raw.input_cost_per_token_above_200k_tokens !== undefined || raw.output_cost_per_token_above_200k_tokens !== undefined;
  const over128 = raw.input_cost_per_token_above_128k_tokens !== undefined || raw.output_cost_per_token_above_128k_tokens !== undefined;
  if (over200 || over128) {
    const tier: Record<string, unknown> = over200
      ? { tokens: 200_000, in: perMillion(raw.input_cost_per_token_above_200k_tokens),
        out: perMillion(raw.output_cost_per_token_above_200k_tokens),
        cachedIn: perMillion(raw.cache_read_input_token_cost_above_200k_tokens) }
      : { tokens: 128_000, in: perMillion(raw.input_cost_per_token_above_128k_tokens),
        out: perMillion(raw.output_cost_per_token_above_128k_tokens) };
    price.above = withoutUndefined(tier);
  }
  const images: Record<string, Record<string, number>> = {};
  if (raw.output_cost_per_image !== undefined) images['*'] = { '*': raw.output_cost_per_image };
  const qualities = { low: raw.output_cost_per_image_low_quality, medium: raw.output_cost_per_image_medium_quality,
    high: raw.output_cost_per_image_high_quality, auto: raw.output_cost_per_image_auto_quality };
  for (const [quality, usd] of Object.entries(qualities)) if (usd !== undefined) images[quality] = { '*': usd };
  if (Object.keys(images).length > 0) price.perImage = images;
  return {
    modelPattern: raw.model_pattern.trim(),
    matchType: raw.match_type,
    requestTypes: raw.request_types ?? [],
    price: withoutUndefined(price) as ModelPrice,
  };
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
