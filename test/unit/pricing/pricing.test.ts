// The price table's lookups, overrides and the cost of each kind of request, from usage as the workers report it.
import { describe, expect, it } from 'vitest';
import { candidateNames } from '../../../src/pricing/lookup.js';
import { createPricing, requestTypeOf, type PricedProvider } from '../../../src/pricing/index.js';
import { overrideFromBifrost, wildcardRegExp, type BifrostPricingOverride } from '../../../src/pricing/overrides.js';
import { PROVIDER_PRICING } from '../../../src/pricing/price-table.js';
import { PROVIDER_FACTS } from '../../../src/contract/providers.js';

const builtIn = (...names: string[]): PricedProvider[] => names.map((name) => ({ name, adapter: name }));
const pricing = createPricing(builtIn(...Object.keys(PROVIDER_FACTS)));
const usage = (promptTokens: number, completionTokens: number, extra: object = {}) =>
  ({ promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, ...extra });
const chat = (provider: string, model: string, u: ReturnType<typeof usage> | null) =>
  pricing.costOf({ provider, model, kind: 'chat', stream: false, usage: u });

describe('the price table', () => {
  it('prices a model of every built-in provider but the routers that pass on another provider\'s price', () => {
    const unpriced = Object.keys(PROVIDER_FACTS).filter((name) => !PROVIDER_PRICING[name]);
    expect(unpriced.sort()).toEqual(['huggingface', 'parasail']);
  });

  it('prices in USD per million tokens', () => {
    // gpt-4o: $2.50 in, $10 out per million.
    expect(chat('openai', 'gpt-4o', usage(1_000_000, 0)).usd).toBeCloseTo(2.5, 10);
    expect(chat('openai', 'gpt-4o', usage(1000, 500)).usd).toBeCloseTo(0.0025 + 0.005, 12);
  });
});

describe('model names', () => {
  it('takes decorations off one at a time, most specific first', () => {
    expect(candidateNames('anthropic.claude-3-haiku-20240307-v1:0')).toEqual(['anthropic.claude-3-haiku-20240307-v1:0',
      'anthropic.claude-3-haiku-20240307-v1', 'anthropic.claude-3-haiku-20240307', 'anthropic.claude-3-haiku']);
    expect(candidateNames('GPT-4o-2024-08-06')).toEqual(['gpt-4o-2024-08-06', 'gpt-4o']);
  });

  it.each([
    ['openai', 'gpt-4o-2024-08-06', 2.5],
    ['openai', 'gpt-4o-2024-05-13', 5],
    ['openai', 'gpt-4-0613', 30],
    ['azure', 'gpt-4o-mini', 0.15],
    ['anthropic', 'claude-3-5-haiku-20241022', 0.8],
    ['anthropic', 'claude-3-7-sonnet-latest', 3],
    ['anthropic', 'claude-sonnet-4-0', 3],
    ['bedrock', 'anthropic.claude-3-haiku-20240307-v1:0', 0.25],
    ['bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 3],
    ['bedrock', 'amazon.nova-lite-v1:0', 0.06],
    ['bedrock', 'amazon.titan-embed-text-v2:0', 0.02],
    ['vertex', 'gemini-2.0-flash-001', 0.1],
    ['gemini', 'gemini-2.5-flash', 0.3],
    ['mistral', 'mistral-large-latest', 2],
    ['mistral', 'mistral-large-2411', 2],
    ['openrouter', 'openai/gpt-4o-mini', 0.15],
    ['openrouter', 'anthropic/claude-3.5-sonnet', 3],
    ['fireworks', 'accounts/fireworks/models/llama-v3p3-70b-instruct', 0.9],
    ['together', 'meta-llama/llama-3.3-70b-instruct-turbo', 0.88],
    ['groq', 'openai/gpt-oss-120b', 0.15],
  ])('%s/%s costs $%s per million input tokens', (provider, model, perMillion) => {
    // 100k: under every long-context tier.
    expect(chat(provider, model, usage(100_000, 0)).usd).toBeCloseTo(perMillion / 10, 9);
  });

  it('prices nothing by a bare prefix, and an unknown model is null with the reason, never zero', () => {
    expect(chat('openai', 'gpt-4o-audio-preview', usage(10, 10))).toEqual({ usd: null, unpriced: 'no_price' });
    expect(chat('openai', 'made-up', usage(10, 10))).toEqual({ usd: null, unpriced: 'no_price' });
    expect(chat('huggingface', 'meta-llama/Llama-3.1-8B-Instruct', usage(10, 10)).unpriced).toBe('no_price');
    expect(chat('nowhere', 'gpt-4o', usage(10, 10)).unpriced).toBe('no_price');
  });

  it('a custom provider on a built-in adapter has no built-in prices: it is some other server', () => {
    const custom = createPricing([{ name: 'lmstudio', adapter: 'openai' }]);
    expect(custom.costOf({ provider: 'lmstudio', model: 'gpt-4o', kind: 'chat', stream: false, usage: usage(1, 1) }).unpriced)
      .toBe('no_price');
  });

  it('self-hosted servers cost nothing, as a price and not a silence', () => {
    expect(chat('ollama', 'llama3.2', usage(1000, 1000))).toEqual({ usd: 0, unpriced: null });
    expect(chat('mock', 'anything', usage(1000, 1000))).toEqual({ usd: 0, unpriced: null });
  });

  it('a priced model whose provider reported no usage is null with the reason', () => {
    expect(chat('openai', 'gpt-4o', null)).toEqual({ usd: null, unpriced: 'no_usage' });
  });
});

describe('token costs', () => {
  it('prices cached reads apart from fresh input (OpenAI: cached tokens are inside prompt_tokens)', () => {
    // 1M prompt tokens of which 400k cached: 600k × $2.50 + 400k × $1.25.
    expect(chat('openai', 'gpt-4o', usage(1_000_000, 0, { cachedTokens: 400_000 })).usd).toBeCloseTo(1.5 + 0.5, 10);
  });

  it('prices Anthropic cache writes at 1.25× and reads at 0.1× of input', () => {
    // claude-sonnet-4-5: $3 in; 10k fresh, 20k written, 70k read; 10k out at $15.
    const cost = chat('anthropic', 'claude-sonnet-4-5', usage(100_000, 10_000, { cachedTokens: 70_000, cacheWriteTokens: 20_000 }));
    expect(cost.usd).toBeCloseTo(0.03 + 0.075 + 0.021 + 0.15, 10);
    // Past 200k input tokens, the long-context tier: $6 in, so $7.50 a written token and $0.60 a read one.
    const long = chat('anthropic', 'claude-sonnet-4-5', usage(1_000_000, 0, { cachedTokens: 700_000, cacheWriteTokens: 200_000 }));
    expect(long.usd).toBeCloseTo(0.6 + 1.5 + 0.42, 10);
  });

  it('reasoning tokens are output tokens, priced once', () => {
    expect(chat('openai', 'o3', usage(0, 1_000_000, { reasoningTokens: 900_000 })).usd).toBeCloseTo(8, 10);
  });

  it('a prompt past the long-context threshold is priced at the tier for input and output', () => {
    expect(chat('gemini', 'gemini-2.5-pro', usage(200_000, 0)).usd).toBeCloseTo(0.25, 10);
    expect(chat('gemini', 'gemini-2.5-pro', usage(200_001, 1_000_000)).usd).toBeCloseTo(200_001 * 2.5 / 1e6 + 15, 10);
  });

  it.each(['responses', 'messages', 'embeddings'] as const)('prices %s by tokens', (kind) => {
    const model = kind === 'embeddings' ? 'text-embedding-3-small' : 'gpt-4o-mini';
    const provider = kind === 'messages' ? 'anthropic' : 'openai';
    const name = kind === 'messages' ? 'claude-3-haiku-20240307' : model;
    const cost = pricing.costOf({ provider, model: name, kind, stream: false, usage: usage(1_000_000, kind === 'embeddings' ? 0 : 1_000_000) });
    const expected = { responses: 0.15 + 0.6, messages: 0.25 + 1.25, embeddings: 0.02 }[kind];
    expect(cost.usd).toBeCloseTo(expected, 10);
  });
});

describe('media costs', () => {
  const media = (kind: 'speech' | 'transcription' | 'image_generation', model: string, body: object, u: object | null = null) =>
    pricing.costOf({ provider: 'openai', model, kind, stream: false, usage: u as never, body: body as Record<string, unknown> });

  it('speech by the characters of its input', () => {
    expect(media('speech', 'tts-1', { input: 'x'.repeat(1000) }).usd).toBeCloseTo(0.015, 12);
    expect(media('speech', 'tts-1-hd', { input: 'héllo' }).usd).toBeCloseTo(5 * 30 / 1e6, 15);
  });

  it('transcription by the seconds of audio the answer reports', () => {
    expect(media('transcription', 'whisper-1', {}, usage(0, 0, { audioSeconds: 60 })).usd).toBeCloseTo(0.006, 12);
    expect(media('transcription', 'whisper-1', {}, null).unpriced).toBe('no_usage');
    // gpt-4o-transcribe reports tokens.
    expect(media('transcription', 'gpt-4o-transcribe', {}, usage(1_000_000, 0)).usd).toBeCloseTo(6, 10);
  });

  it('images by count, quality and size', () => {
    expect(media('image_generation', 'dall-e-3', { n: 1 }).usd).toBeCloseTo(0.04, 12);
    expect(media('image_generation', 'dall-e-3', { quality: 'hd', size: '1792x1024' }).usd).toBeCloseTo(0.12, 12);
    expect(media('image_generation', 'dall-e-2', { n: 3, size: '256x256' }).usd).toBeCloseTo(0.048, 12);
    // The count the answer reports wins over the count asked for.
    expect(media('image_generation', 'dall-e-2', { n: 3 }, usage(0, 0, { images: 2 })).usd).toBeCloseTo(0.04, 12);
  });
});

describe('pricing_overrides', () => {
  const over = (entries: BifrostPricingOverride[]) =>
    createPricing([{ name: 'openai', adapter: 'openai', pricingOverrides: entries.map(overrideFromBifrost) }]);
  const inputPrice = (p: ReturnType<typeof over>, model: string, kind: 'chat' | 'embeddings' = 'chat', stream = false) =>
    p.costOf({ provider: 'openai', model, kind, stream, usage: usage(1_000_000, 0) }).usd;

  it('exact, wildcard and regex each match; a field left out keeps the table\'s', () => {
    const p = over([
      { model_pattern: 'gpt-4o', match_type: 'exact', input_cost_per_token: 1e-6 },
      { model_pattern: 'gpt-4.1*', match_type: 'wildcard', input_cost_per_token: 2e-6 },
      { model_pattern: '^o[0-9]', match_type: 'regex', input_cost_per_token: 3e-6 },
    ]);
    expect(inputPrice(p, 'gpt-4o')).toBeCloseTo(1, 10);
    expect(p.costOf({ provider: 'openai', model: 'gpt-4o', kind: 'chat', stream: false, usage: usage(0, 1_000_000) }).usd)
      .toBeCloseTo(10, 10);
    expect(inputPrice(p, 'gpt-4.1-mini')).toBeCloseTo(2, 10);
    expect(inputPrice(p, 'o3')).toBeCloseTo(3, 10);
    // Exact is exact: a dated name is not `gpt-4o`.
    expect(inputPrice(p, 'gpt-4o-2024-08-06')).toBeCloseTo(2.5, 10);
  });

  it('precedence: exact, then wildcard, then regex; then a request-type filter; then more literal characters; then order', () => {
    const p = over([
      { model_pattern: 'gpt', match_type: 'regex', input_cost_per_token: 9e-6 },
      { model_pattern: 'gpt-*', match_type: 'wildcard', input_cost_per_token: 8e-6 },
      { model_pattern: 'gpt-4o*', match_type: 'wildcard', input_cost_per_token: 7e-6 },
      { model_pattern: 'gpt-*', match_type: 'wildcard', request_types: ['chat_completion_stream'], input_cost_per_token: 6e-6 },
      { model_pattern: 'gpt-4o-mini', match_type: 'exact', input_cost_per_token: 5e-6 },
      { model_pattern: 'gpt-4o-mini', match_type: 'exact', input_cost_per_token: 4e-6 },
    ]);
    expect(inputPrice(p, 'gpt-4o-mini')).toBeCloseTo(5, 10);
    expect(inputPrice(p, 'gpt-4o')).toBeCloseTo(7, 10);
    expect(inputPrice(p, 'gpt-4o', 'chat', true)).toBeCloseTo(6, 10);
    expect(inputPrice(p, 'gpt-3.5-turbo')).toBeCloseTo(8, 10);
    expect(inputPrice(p, 'chatgpt-4o-latest')).toBeCloseTo(9, 10);
  });

  it('a request-type filter keeps the override off other types', () => {
    const p = over([{ model_pattern: '*', match_type: 'wildcard', request_types: ['embedding'], input_cost_per_token: 1e-6 }]);
    expect(inputPrice(p, 'text-embedding-3-small', 'embeddings')).toBeCloseTo(1, 10);
    expect(inputPrice(p, 'gpt-4o')).toBeCloseTo(2.5, 10);
  });

  it('prices a model the table does not have', () => {
    const p = over([{ model_pattern: 'ft:gpt-4o-mini:*', match_type: 'wildcard', input_cost_per_token: 3e-7,
      output_cost_per_token: 1.2e-6, max_output_tokens: 1000 }]);
    expect(inputPrice(p, 'ft:gpt-4o-mini:acme::abc')).toBeCloseTo(0.3, 10);
    expect(p.maxOutputTokens('openai', 'ft:gpt-4o-mini:acme::abc')).toBe(1000);
    // Only an input price: the output is not known, so the cost is not either.
    const half = over([{ model_pattern: 'mine', match_type: 'exact', input_cost_per_token: 1e-6 }]);
    expect(half.costOf({ provider: 'openai', model: 'mine', kind: 'chat', stream: false, usage: usage(1, 1) }).unpriced).toBe('no_price');
  });

  it('converts Bifrost\'s per-token prices to per million without floating-point dust', () => {
    expect(overrideFromBifrost({ model_pattern: 'x', match_type: 'exact', input_cost_per_token: 2.5e-6 }).price.in).toBe(2.5);
  });

  it('a wildcard matches the whole name with * anywhere', () => {
    expect(wildcardRegExp('claude-*-sonnet*').test('claude-3-5-sonnet-20241022')).toBe(true);
    expect(wildcardRegExp('gpt-4.1*').test('gpt-4o1')).toBe(false);
    expect(wildcardRegExp('gpt-4.1*').test('xgpt-4.1')).toBe(false);
  });
});

describe('worst case before dispatch', () => {
  const worst = (model: string, body: Record<string, unknown>, inputTokens?: number, provider = 'openai', kind: 'chat' | 'embeddings' | 'messages' = 'chat') =>
    pricing.worstCase({ provider, model, kind, body, inputTokens });

  it('reserves the request\'s own output limit, times n', () => {
    const w = worst('gpt-4o', { max_tokens: 1000, n: 2 }, 1000);
    expect(w).toEqual({ usd: (1000 * 2.5 + 2000 * 10) / 1e6, unpriced: null, inputTokens: 1000, outputTokens: 2000 });
    expect(worst('gpt-4o', { max_completion_tokens: 10, max_tokens: 999 }, 0).outputTokens).toBe(10);
    expect(worst('gpt-4o', { max_output_tokens: 20 }, 0).outputTokens).toBe(20);
  });

  it('reads the output limit of Bedrock InvokeModel bodies, as they are sent natively', () => {
    expect(worst('gpt-4o', { prompt: 'x', max_gen_len: 30 }, 0).outputTokens).toBe(30);
    expect(worst('gpt-4o', { inputText: 'x', textGenerationConfig: { maxTokenCount: 40 } }, 0).outputTokens).toBe(40);
    expect(worst('gpt-4o', { messages: [], inferenceConfig: { max_new_tokens: 50 } }, 0).outputTokens).toBe(50);
    expect(worst('gpt-4o', { messages: [], inferenceConfig: { maxTokens: 60 } }, 0).outputTokens).toBe(60);
  });

  it('falls back to the model\'s output limit, and caps a larger request at it', () => {
    expect(worst('gpt-4o', {}, 0).outputTokens).toBe(16_384);
    expect(worst('gpt-4o', { max_tokens: 1_000_000 }, 0).outputTokens).toBe(16_384);
  });

  it('bounds input by the body\'s bytes when the caller has no count, at the dearest input rate', () => {
    const body = { messages: [{ role: 'user', content: 'hello' }], max_tokens: 1 };
    const w = worst('claude-3-5-haiku', body, undefined, 'anthropic', 'messages');
    const bytes = Buffer.byteLength(JSON.stringify(body));
    expect(w.inputTokens).toBe(bytes);
    // A cache write (1.25 × $0.80) is the dearest way to send a token.
    expect(w.usd).toBeCloseTo((bytes * 1 + 4) / 1e6, 12);
  });

  it('an embedding writes nothing', () => {
    expect(worst('text-embedding-3-small', { input: 'x' }, 100, 'openai', 'embeddings')).toMatchObject({ usd: 100 * 0.02 / 1e6, outputTokens: 0 });
  });

  it('says why it has no figure: no price, or nothing bounds the output', () => {
    expect(worst('made-up', { max_tokens: 5 }, 1).unpriced).toBe('no_price');
    const p = createPricing([{ name: 'openai', adapter: 'openai',
      pricingOverrides: [overrideFromBifrost({ model_pattern: 'mine', match_type: 'exact', input_cost_per_token: 1e-6, output_cost_per_token: 1e-6 })] }]);
    expect(p.worstCase({ provider: 'openai', model: 'mine', kind: 'chat', body: {}, inputTokens: 1 })).toMatchObject({ usd: null, unpriced: 'unbounded' });
    expect(p.worstCase({ provider: 'openai', model: 'mine', kind: 'chat', body: { max_tokens: 1 }, inputTokens: 1 }).usd).toBeCloseTo(2e-6, 15);
  });

  it('media: images and speech are known before dispatch, a transcription\'s length is not', () => {
    const media = (model: string, kind: 'speech' | 'transcription' | 'image_generation', body: Record<string, unknown>) =>
      pricing.worstCase({ provider: 'openai', model, kind, body, inputTokens: 0 });
    expect(media('dall-e-3', 'image_generation', { n: 2, quality: 'hd' }).usd).toBeCloseTo(0.16, 12);
    expect(media('tts-1', 'speech', { input: 'abc' }).usd).toBeCloseTo(3 * 15 / 1e6, 15);
    expect(media('whisper-1', 'transcription', {}).unpriced).toBe('unbounded');
  });
});

describe('request types', () => {
  it('maps jobs to Bifrost\'s request types', () => {
    expect(requestTypeOf('chat', true)).toBe('chat_completion_stream');
    expect(requestTypeOf('chat', false, true)).toBe('text_completion');
    expect(requestTypeOf('messages', false)).toBe('chat_completion');
    expect(requestTypeOf('embeddings', false)).toBe('embedding');
    expect(requestTypeOf('image_generation', false)).toBe('image_generation');
  });
});
