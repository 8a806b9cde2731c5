// What one request cost, from the usage its provider reported, and the most it can cost, from what it asks for
// before it is sent. Pure arithmetic on a ModelPrice; finding the price is index.ts's.

import type { JobKind, UsageData } from '../contract/messages.js';
import type { ModelPrice } from './price-table.js';

const M = 1_000_000;

/** Why a cost is null: the model has no price, the provider reported nothing to price, or nothing bounds the answer. */
export type Unpriced = 'no_price' | 'no_usage' | 'unbounded';

export interface Cost {
  /** USD; null with `unpriced` saying why: never a silent zero. */
  readonly usd: number | null;
  readonly unpriced: Unpriced | null;
}

export const priced = (usd: number): Cost => ({ usd, unpriced: null });
export const unpriced = (why: Unpriced): Cost => ({ usd: null, unpriced: why });

interface Rates {
  readonly in: number;
  readonly out: number;
  readonly cachedIn: number;
  readonly cacheWrite: number;
}

// Each price's two possible rate sets, worked out once: every request's cost (and a budget's worst case) reads them.
const baseRates = new WeakMap<ModelPrice, Rates>();
const tierRates = new WeakMap<ModelPrice, Rates>();

/** Input, cached-input and output rates for a request of `promptTokens` input tokens (long-context tiers applied). */
function ratesFor(price: ModelPrice, promptTokens: number): Rates | null {
  if (price.in === undefined || price.out === undefined) return null;
  const tiered = price.above !== undefined && promptTokens > price.above.tokens;
  const memo = tiered ? tierRates : baseRates;
  let rates = memo.get(price);
  if (rates === undefined) {
    const tier = tiered ? price.above! : null;
    const input = tier ? tier.in : price.in;
    rates = {
      in: input,
      out: tier ? tier.out : price.out,
      cachedIn: tier?.cachedIn ?? price.cachedIn ?? input,
      // A tier keeps the model's ratio of cache-write to input price (Anthropic: 1.25× at both).
      cacheWrite: price.cacheWrite === undefined ? input : tier ? price.cacheWrite * tier.in / price.in : price.cacheWrite,
    };
    memo.set(price, rates);
  }
  return rates;
}

/**
 * Tokens priced: `promptTokens` includes the cached reads and cache writes (every adapter reports it so), which are
 * taken out and priced at their own rates; reasoning is in `completionTokens`, at the output rate.
 */
export function tokenCost(price: ModelPrice, usage: UsageData): number | null {
  const rates = ratesFor(price, usage.promptTokens);
  if (!rates) return null;
  const cached = usage.cachedTokens ?? 0;
  const written = usage.cacheWriteTokens ?? 0;
  const fresh = Math.max(0, usage.promptTokens - cached - written);
  return (fresh * rates.in + cached * rates.cachedIn + written * rates.cacheWrite + usage.completionTokens * rates.out) / M;
}

/** The price of one image of the request's quality and size (`*` rows and columns for the rest). */
export function imagePrice(price: ModelPrice, body: Readonly<Record<string, unknown>> | null | undefined): number | null {
  const table = price.perImage;
  if (!table) return null;
  const quality = typeof body?.quality === 'string' ? body.quality : 'standard';
  const size = typeof body?.size === 'string' ? body.size : '1024x1024';
  const row = table[quality] ?? table['*'] ?? table.standard;
  if (!row) return null;
  return row[size] ?? row['*'] ?? null;
}

const positiveInt = (value: unknown): number | null =>
  (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null);

/** Images a request asks for (`n`, default 1). */
export function imageCount(body: Readonly<Record<string, unknown>> | null | undefined): number {
  return positiveInt(body?.n) ?? 1;
}

/** Characters of a speech request's input text. */
export function speechCharacters(body: Readonly<Record<string, unknown>> | null | undefined): number | null {
  return typeof body?.input === 'string' ? [...body.input].length : null;
}

/** A finished request's cost from its price and the usage reported. */
export function costFromUsage(price: ModelPrice, kind: JobKind, usage: UsageData | null,
  body: Readonly<Record<string, unknown>> | null | undefined): Cost {
  switch (kind) {
    case 'count_tokens':
    case 'list_models':
      // Neither is billed by any provider.
      return priced(0);
    case 'speech':
      if (price.perCharacter !== undefined) {
        const characters = speechCharacters(body);
        return characters === null ? unpriced('no_usage') : priced(characters * price.perCharacter);
      }
      break;
    case 'transcription':
      if (price.perAudioSecond !== undefined) {
        const seconds = usage?.audioSeconds;
        return seconds === undefined ? unpriced('no_usage') : priced(seconds * price.perAudioSecond);
      }
      break;
    case 'image_generation':
      if (price.perImage) {
        const each = imagePrice(price, body);
        return each === null ? unpriced('no_price') : priced((usage?.images ?? imageCount(body)) * each);
      }
      break;
    default:
      break;
  }
  if (price.in === undefined || price.out === undefined) return unpriced('no_price');
  if (!usage) return unpriced('no_usage');
  const usd = tokenCost(price, usage);
  return usd === null ? unpriced('no_price') : priced(usd);
}

export interface WorstCase extends Cost {
  /** The input tokens the bound assumed. */
  readonly inputTokens: number;
  /** The output tokens the bound assumed; null when nothing bounds them. */
  readonly outputTokens: number | null;
}

const inner = (value: unknown, name: string): unknown =>
  (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined);

/**
 * The output limit a request names, per choice: Chat's, Completions', Responses' and Anthropic's fields, and those of
 * the Bedrock InvokeModel bodies sent natively (Llama's `max_gen_len`, Titan's and Nova's nested configs).
 */
export function requestedOutputTokens(body: Readonly<Record<string, unknown>>): number | null {
  return positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens) ?? positiveInt(body.max_output_tokens)
    ?? positiveInt(body.max_gen_len) ?? positiveInt(inner(body.textGenerationConfig, 'maxTokenCount'))
    ?? positiveInt(inner(body.inferenceConfig, 'max_new_tokens')) ?? positiveInt(inner(body.inferenceConfig, 'maxTokens'));
}

/**
 * The most a request can cost: no cache hits, every input token at the dearest input rate (a cache write costs more
 * than a plain read), the long-context tier when the input is past it, and the whole output limit written.
 */
export function worstCaseCost(price: ModelPrice, kind: JobKind, body: Readonly<Record<string, unknown>>,
  inputTokens: number): WorstCase {
  const bound = (usd: number, outputTokens: number | null): WorstCase => ({ usd, unpriced: null, inputTokens, outputTokens });
  const none = (why: Unpriced): WorstCase => ({ usd: null, unpriced: why, inputTokens, outputTokens: null });
  if (kind === 'count_tokens' || kind === 'list_models' || kind === 'tokenize') return bound(0, 0);
  if (kind === 'speech' && price.perCharacter !== undefined) {
    return bound((speechCharacters(body) ?? inputTokens) * price.perCharacter, 0);
  }
  // Nothing in a transcription request tells how long its audio is.
  if (kind === 'transcription' && price.perAudioSecond !== undefined) return none('unbounded');
  const images = kind === 'image_generation' ? imageCount(body) : 1;
  if (kind === 'image_generation' && price.perImage) {
    const each = imagePrice(price, body);
    return each === null ? none('no_price') : bound(images * each, 0);
  }
  const rates = ratesFor(price, inputTokens);
  if (!rates) return none('no_price');
  let output: number | null = kind === 'embeddings' || kind === 'rerank' ? 0 : requestedOutputTokens(body);
  if (output === null || (price.maxOutput !== undefined && output > price.maxOutput)) output = price.maxOutput ?? null;
  if (output === null) return none('unbounded');
  const choices = kind === 'chat' ? positiveInt(body.n) ?? 1 : images;
  const outputTokens = output * choices;
  const inputRate = Math.max(rates.in, rates.cacheWrite);
  return bound((inputTokens * inputRate + outputTokens * rates.out) / M, outputTokens);
}
