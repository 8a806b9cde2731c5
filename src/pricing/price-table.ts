// The model price table shipped with Heimdall: what each built-in provider charges per model, in USD. Tokens are
// priced per million (as providers publish them); media per image, per second of audio or per character of text.
// `maxOutput` is the most tokens the model may write in one answer, which a budget reserves before dispatch when the
// request names no limit itself.
//
// Taken on TAKEN_AT from the providers' published price pages and checked against LiteLLM's
// model_prices_and_context_window.json (BerriAI/litellm, commit 00035b69f416be24e2e323c13198d9b7d2d1bdf9), the list
// Bifrost's own datasheet also derives from. Prices change: `pricing_overrides` on a provider corrects or adds any of
// them without waiting for a release (docs/pricing.md).

export const TAKEN_AT = '2026-12-06';
export const SOURCES: readonly string[] = Object.freeze([
  'https://openai.com/api/pricing',
  'https://www.anthropic.com/pricing#api',
  'https://ai.google.dev/gemini-api/docs/pricing',
  'https://aws.amazon.com/bedrock/pricing/',
  'https://mistral.ai/pricing#api-pricing',
  'https://groq.com/pricing',
  'https://docs.x.ai/docs/models',
  'https://api-docs.deepseek.com/quick_start/pricing',
  'https://www.cerebras.ai/pricing',
  'https://docs.perplexity.ai/getting-started/pricing',
  'https://www.together.ai/pricing',
  'https://fireworks.ai/pricing',
  'https://cohere.com/pricing',
  'https://nebius.com/token-factory/prices',
  'https://github.com/BerriAI/litellm/blob/00035b69f416be24e2e323c13198d9b7d2d1bdf9/model_prices_and_context_window.json',
]);

/** Prices of requests whose input is longer than `tokens`: the whole request is billed at these (Gemini, Claude 1M). */
export interface LongContextTier {
  readonly tokens: number;
  readonly in: number;
  readonly out: number;
  readonly cachedIn?: number;
}

/** Per image, by quality (`standard`, `hd`, `low`, …; `*` any other) then size (`1024x1024`; `*` any other). */
export type ImagePrices = Readonly<Record<string, Readonly<Record<string, number>>>>;

export interface ModelPrice {
  /** USD per million input tokens (cached reads and cache writes excluded when priced apart). */
  readonly in?: number;
  /** USD per million output tokens, reasoning included. */
  readonly out?: number;
  /** USD per million input tokens read from the provider's prompt cache. */
  readonly cachedIn?: number;
  /** USD per million input tokens written to the prompt cache (Anthropic's cache_creation). */
  readonly cacheWrite?: number;
  readonly above?: LongContextTier;
  readonly perImage?: ImagePrices;
  /** Speech (TTS) priced by the characters of the input text. */
  readonly perCharacter?: number;
  /** Transcription priced by the seconds of audio sent. */
  readonly perAudioSecond?: number;
  readonly maxOutput?: number;
}

type Table = Readonly<Record<string, ModelPrice>>;

const M = 1_000_000;
/** Anthropic: a 5-minute cache write costs 1.25× input, a cache read 0.1×. */
const claude = (input: number, output: number, maxOutput: number, above?: LongContextTier): ModelPrice =>
  ({ in: input, out: output, cachedIn: input / 10, cacheWrite: input * 1.25, maxOutput, ...(above ? { above } : {}) });
const tokens = (input: number, output: number, maxOutput?: number, cachedIn?: number): ModelPrice =>
  ({ in: input, out: output, ...(cachedIn !== undefined ? { cachedIn } : {}), ...(maxOutput !== undefined ? { maxOutput } : {}) });
const embedding = (input: number): ModelPrice => ({ in: input, out: 0, maxOutput: 0 });
const perHour = (usd: number): number => usd / 3600;

export const OPENAI: Table = {
  'gpt-5.1': tokens(1.25, 10, 128_000, 0.125),
  'gpt-5': tokens(1.25, 10, 128_000, 0.125),
  'gpt-5-mini': tokens(0.25, 2, 128_000, 0.025),
  'gpt-5-nano': tokens(0.05, 0.4, 128_000, 0.005),
  'gpt-5-chat-latest': tokens(1.25, 10, 16_384, 0.125),
  'gpt-5-pro': tokens(15, 120, 272_000),
  'gpt-4.1': tokens(2, 8, 32_768, 0.5),
  'gpt-4.1-mini': tokens(0.4, 1.6, 32_768, 0.1),
  'gpt-4.1-nano': tokens(0.1, 0.4, 32_768, 0.025),
  'gpt-4o': tokens(2.5, 10, 16_384, 1.25),
  'gpt-4o-2024-05-13': tokens(5, 15, 4_096),
  'gpt-4o-mini': tokens(0.15, 0.6, 16_384, 0.075),
  'chatgpt-4o-latest': tokens(5, 15, 16_384),
  'gpt-4-turbo': tokens(10, 30, 4_096),
  'gpt-4': tokens(30, 60, 8_192),
  'gpt-3.5-turbo': tokens(0.5, 1.5, 4_096),
  'gpt-3.5-turbo-instruct': tokens(1.5, 2, 4_096),
  'o1': tokens(15, 60, 100_000, 7.5),
  'o1-mini': tokens(1.1, 4.4, 65_536, 0.55),
  'o1-pro': tokens(150, 600, 100_000),
  'o3': tokens(2, 8, 100_000, 0.5),
  'o3-mini': tokens(1.1, 4.4, 100_000, 0.55),
  'o3-pro': tokens(20, 80, 100_000),
  'o4-mini': tokens(1.1, 4.4, 100_000, 0.275),
  'text-embedding-3-small': embedding(0.02),
  'text-embedding-3-large': embedding(0.13),
  'text-embedding-ada-002': embedding(0.1),
  'dall-e-3': { perImage: { standard: { '1024x1024': 0.04, '*': 0.08 }, hd: { '1024x1024': 0.08, '*': 0.12 } } },
  'dall-e-2': { perImage: { '*': { '256x256': 0.016, '512x512': 0.018, '*': 0.02 } } },
  // Billed by tokens: the answer's usage counts the image it wrote; 6,240 tokens is a high-quality 1024x1536 image.
  'gpt-image-1': tokens(5, 40, 6_240),
  'gpt-image-1-mini': tokens(2, 8, 6_240),
  'tts-1': { perCharacter: 15 / M },
  'tts-1-hd': { perCharacter: 30 / M },
  'whisper-1': { perAudioSecond: 0.006 / 60 },
  'gpt-4o-transcribe': tokens(6, 10, 2_000),
  'gpt-4o-mini-transcribe': tokens(3, 5, 2_000),
};

export const ANTHROPIC: Table = {
  'claude-opus-4-5': claude(5, 25, 64_000),
  'claude-opus-4-1': claude(15, 75, 32_000),
  'claude-opus-4': claude(15, 75, 32_000),
  'claude-sonnet-4-5': claude(3, 15, 64_000, { tokens: 200_000, in: 6, out: 22.5, cachedIn: 0.6 }),
  'claude-sonnet-4': claude(3, 15, 64_000, { tokens: 200_000, in: 6, out: 22.5, cachedIn: 0.6 }),
  'claude-haiku-4-5': claude(1, 5, 64_000),
  'claude-3-7-sonnet': claude(3, 15, 64_000),
  'claude-3-5-sonnet': claude(3, 15, 8_192),
  'claude-3-5-haiku': claude(0.8, 4, 8_192),
  'claude-3-opus': claude(15, 75, 4_096),
  'claude-3-sonnet': claude(3, 15, 4_096),
  'claude-3-haiku': { ...claude(0.25, 1.25, 4_096), cacheWrite: 0.3, cachedIn: 0.03 },
};

export const GEMINI: Table = {
  'gemini-3-pro-preview': tokens(2, 12, 65_536, 0.2),
  'gemini-2.5-pro': { ...tokens(1.25, 10, 65_536, 0.125), above: { tokens: 200_000, in: 2.5, out: 15, cachedIn: 0.25 } },
  'gemini-2.5-flash': tokens(0.3, 2.5, 65_536, 0.03),
  'gemini-2.5-flash-lite': tokens(0.1, 0.4, 65_536, 0.01),
  'gemini-2.0-flash': tokens(0.1, 0.4, 8_192, 0.025),
  'gemini-2.0-flash-lite': tokens(0.075, 0.3, 8_192),
  'gemini-1.5-pro': { ...tokens(1.25, 5, 8_192), above: { tokens: 128_000, in: 2.5, out: 10 } },
  'gemini-1.5-flash': { ...tokens(0.075, 0.3, 8_192), above: { tokens: 128_000, in: 0.15, out: 0.6 } },
  'gemini-1.5-flash-8b': tokens(0.0375, 0.15, 8_192),
  'gemini-embedding-001': embedding(0.15),
  'imagen-4.0-generate': { perImage: { '*': { '*': 0.04 } } },
  'imagen-4.0-ultra-generate': { perImage: { '*': { '*': 0.06 } } },
  'imagen-4.0-fast-generate': { perImage: { '*': { '*': 0.02 } } },
  'imagen-3.0-generate': { perImage: { '*': { '*': 0.03 } } },
};

/** Bedrock's own models; its `anthropic.*` models are priced from ANTHROPIC (the same prices). */
export const BEDROCK: Table = {
  'amazon.nova-micro': tokens(0.035, 0.14, 10_000, 0.00875),
  'amazon.nova-lite': tokens(0.06, 0.24, 10_000, 0.015),
  'amazon.nova-pro': tokens(0.8, 3.2, 10_000, 0.2),
  'amazon.nova-2-lite': tokens(0.3, 2.5, 64_000, 0.075),
  'amazon.titan-embed-text-v2': embedding(0.02),
  'amazon.titan-embed-text-v1': embedding(0.1),
  'cohere.embed-english-v3': embedding(0.1),
  'cohere.embed-multilingual-v3': embedding(0.1),
  'meta.llama3-1-8b-instruct': tokens(0.22, 0.22, 2_048),
  'meta.llama3-1-70b-instruct': tokens(0.72, 0.72, 2_048),
  'meta.llama3-1-405b-instruct': tokens(2.4, 2.4, 4_096),
  'meta.llama3-3-70b-instruct': tokens(0.72, 0.72, 4_096),
  'mistral.mistral-7b-instruct': tokens(0.15, 0.2, 8_192),
  'mistral.mixtral-8x7b-instruct': tokens(0.45, 0.7, 4_096),
  'deepseek.r1': tokens(1.35, 5.4, 32_768),
  'amazon.nova-canvas': { perImage: { '*': { '*': 0.06 } } },
};

export const MISTRAL: Table = {
  'mistral-large': tokens(2, 6, 128_000),
  'mistral-medium': tokens(0.4, 2, 128_000),
  'mistral-small': tokens(0.1, 0.3, 128_000),
  'magistral-medium': tokens(2, 5, 40_000),
  'magistral-small': tokens(0.5, 1.5, 40_000),
  'codestral': tokens(0.3, 0.9, 256_000),
  'devstral-small': tokens(0.1, 0.3, 128_000),
  'devstral-medium': tokens(0.4, 2, 128_000),
  'ministral-8b': tokens(0.1, 0.1, 128_000),
  'ministral-3b': tokens(0.04, 0.04, 128_000),
  'open-mistral-nemo': tokens(0.15, 0.15, 128_000),
  'pixtral-large': tokens(2, 6, 128_000),
  'pixtral-12b': tokens(0.15, 0.15, 128_000),
  'mistral-embed': embedding(0.1),
};

export const GROQ: Table = {
  'llama-3.3-70b-versatile': tokens(0.59, 0.79, 32_768),
  'llama-3.1-8b-instant': tokens(0.05, 0.08, 131_072),
  'openai/gpt-oss-120b': tokens(0.15, 0.75, 65_536),
  'openai/gpt-oss-20b': tokens(0.1, 0.5, 65_536),
  'meta-llama/llama-4-scout-17b-16e-instruct': tokens(0.11, 0.34, 8_192),
  'meta-llama/llama-4-maverick-17b-128e-instruct': tokens(0.2, 0.6, 8_192),
  'qwen/qwen3-32b': tokens(0.29, 0.59, 40_960),
  'moonshotai/kimi-k2-instruct': tokens(1, 3, 16_384),
  'gemma2-9b-it': tokens(0.2, 0.2, 8_192),
  'whisper-large-v3': { perAudioSecond: perHour(0.111) },
  'whisper-large-v3-turbo': { perAudioSecond: perHour(0.04) },
};

export const XAI: Table = {
  'grok-4': tokens(3, 15, 256_000, 0.75),
  'grok-4-fast-reasoning': tokens(0.2, 0.5, 2_000_000, 0.05),
  'grok-4-fast-non-reasoning': tokens(0.2, 0.5, 2_000_000, 0.05),
  'grok-code-fast-1': tokens(0.2, 1.5, 256_000, 0.02),
  'grok-3': tokens(3, 15, 131_072, 0.75),
  'grok-3-mini': tokens(0.3, 0.5, 131_072, 0.075),
  'grok-2-image': { perImage: { '*': { '*': 0.07 } } },
};

export const DEEPSEEK: Table = {
  'deepseek-chat': tokens(0.28, 0.42, 8_192, 0.028),
  'deepseek-reasoner': tokens(0.28, 0.42, 65_536, 0.028),
};

export const CEREBRAS: Table = {
  'llama3.1-8b': tokens(0.1, 0.1, 8_192),
  'llama-3.3-70b': tokens(0.85, 1.2, 8_192),
  'gpt-oss-120b': tokens(0.25, 0.69, 32_768),
  'qwen-3-32b': tokens(0.4, 0.8, 8_192),
  'llama-4-scout-17b-16e-instruct': tokens(0.65, 0.85, 8_192),
};

/** Perplexity also bills a per-request search fee by search context size, not priced here. */
export const PERPLEXITY: Table = {
  'sonar': tokens(1, 1, 8_000),
  'sonar-pro': tokens(3, 15, 8_000),
  'sonar-reasoning': tokens(1, 5, 8_000),
  'sonar-reasoning-pro': tokens(2, 8, 8_000),
  'sonar-deep-research': tokens(2, 8, 8_000),
};

export const TOGETHER: Table = {
  'meta-llama/Llama-3.3-70B-Instruct-Turbo': tokens(0.88, 0.88, 8_192),
  'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo': tokens(0.18, 0.18, 8_192),
  'meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo': tokens(3.5, 3.5, 8_192),
  'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8': tokens(0.27, 0.85, 8_192),
  'meta-llama/Llama-4-Scout-17B-16E-Instruct': tokens(0.18, 0.59, 8_192),
  'deepseek-ai/DeepSeek-V3': tokens(1.25, 1.25, 8_192),
  'deepseek-ai/DeepSeek-R1': tokens(3, 7, 32_768),
  'Qwen/Qwen2.5-72B-Instruct-Turbo': tokens(1.2, 1.2, 8_192),
  'mistralai/Mixtral-8x7B-Instruct-v0.1': tokens(0.6, 0.6, 8_192),
  'openai/gpt-oss-120b': tokens(0.15, 0.6, 32_768),
  'BAAI/bge-large-en-v1.5': embedding(0.02),
};

/** Keyed without Fireworks' `accounts/fireworks/models/` prefix, which lookups strip. */
export const FIREWORKS: Table = {
  'llama-v3p1-8b-instruct': tokens(0.2, 0.2, 16_384),
  'llama-v3p3-70b-instruct': tokens(0.9, 0.9, 16_384),
  'llama-v3p1-405b-instruct': tokens(3, 3, 16_384),
  'deepseek-v3': tokens(0.9, 0.9, 16_384),
  'deepseek-r1': tokens(3, 8, 32_768),
  'qwen2p5-72b-instruct': tokens(0.9, 0.9, 16_384),
  'gpt-oss-120b': tokens(0.15, 0.6, 32_768),
  'gpt-oss-20b': tokens(0.07, 0.3, 32_768),
};

export const COHERE: Table = {
  'command-a-03-2025': tokens(2.5, 10, 8_000),
  'command-r-plus-08-2024': tokens(2.5, 10, 4_000),
  'command-r-plus': tokens(2.5, 10, 4_000),
  'command-r-08-2024': tokens(0.15, 0.6, 4_000),
  'command-r': tokens(0.15, 0.6, 4_000),
  'command-r7b-12-2024': tokens(0.0375, 0.15, 4_000),
  'embed-v4.0': embedding(0.12),
  'embed-english-v3.0': embedding(0.1),
  'embed-multilingual-v3.0': embedding(0.1),
  'embed-english-light-v3.0': embedding(0.1),
  'embed-multilingual-light-v3.0': embedding(0.1),
};

export const NEBIUS: Table = {
  'meta-llama/Meta-Llama-3.1-8B-Instruct': tokens(0.02, 0.06, 8_192),
  'meta-llama/Llama-3.3-70B-Instruct': tokens(0.13, 0.4, 8_192),
  'deepseek-ai/DeepSeek-V3': tokens(0.5, 1.5, 8_192),
  'deepseek-ai/DeepSeek-R1': tokens(0.8, 2.4, 32_768),
  'Qwen/Qwen2.5-72B-Instruct': tokens(0.13, 0.4, 8_192),
  'BAAI/bge-en-icl': embedding(0.01),
};

/**
 * How each built-in provider is priced. `tables`: looked up in order (Bedrock's own models, then Claude on Bedrock
 * under `anthropic.`). `vendors`: for routers whose model ids name the model's maker (`openai/gpt-4o` on OpenRouter),
 * the maker's table. `free`: self-hosted servers, where every model costs nothing per token (the hardware is yours);
 * an override still prices one. A provider absent here (Hugging Face's router, Parasail) has no built-in prices: the
 * inference provider behind them sets the price; `pricing_overrides` supplies it.
 */
export interface ProviderPricing {
  readonly tables?: readonly Table[];
  /** Model-name prefixes of other tables, tried after `tables`: `anthropic.` on Bedrock, `openai/` on OpenRouter. */
  readonly vendors?: Readonly<Record<string, Table>>;
  readonly free?: boolean;
  /** Model-id prefixes the provider adds that the table leaves out (`accounts/fireworks/models/`). */
  readonly stripPrefixes?: readonly string[];
  /** Region prefixes of cross-region inference profiles (`us.anthropic.claude-…`). */
  readonly regionPrefixes?: readonly string[];
}

export const PROVIDER_PRICING: Readonly<Record<string, ProviderPricing>> = Object.freeze({
  openai: { tables: [OPENAI] },
  azure: { tables: [OPENAI] },
  anthropic: { tables: [ANTHROPIC] },
  gemini: { tables: [GEMINI] },
  vertex: { tables: [GEMINI] },
  bedrock: { tables: [BEDROCK], vendors: { 'anthropic.': ANTHROPIC },
    regionPrefixes: ['us.', 'eu.', 'apac.', 'global.', 'jp.', 'au.', 'ca.', 'us-gov.'] },
  mistral: { tables: [MISTRAL] },
  groq: { tables: [GROQ] },
  xai: { tables: [XAI] },
  deepseek: { tables: [DEEPSEEK] },
  cerebras: { tables: [CEREBRAS] },
  perplexity: { tables: [PERPLEXITY] },
  together: { tables: [TOGETHER] },
  fireworks: { tables: [FIREWORKS], stripPrefixes: ['accounts/fireworks/models/'] },
  cohere: { tables: [COHERE] },
  nebius: { tables: [NEBIUS] },
  openrouter: { vendors: { 'openai/': OPENAI, 'anthropic/': ANTHROPIC, 'google/': GEMINI, 'mistralai/': MISTRAL,
    'x-ai/': XAI, 'deepseek/': DEEPSEEK } },
  ollama: { free: true },
  vllm: { free: true },
  sglang: { free: true },
  mock: { free: true },
});
