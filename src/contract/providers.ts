// What the front thread may know about providers without importing worker code: which adapter ids exist,
// how they authenticate in the embedded default config, and what they can do. Requests for a capability a
// provider lacks are refused here, in one place, with one clear 400. The adapters live in workers/providers/;
// a unit test keeps this table and that registry in step.

import type { MediaKind } from './messages.js';

/** The files and batches APIs Heimdall serves, by whose wire format they speak (see docs/files-and-batches.md). */
export type FilesApi = 'openai' | 'anthropic' | 'genai' | 'bedrock' | 'vertex';

export interface Capabilities {
  readonly chat: boolean;
  readonly stream: boolean;
  readonly tools: boolean;
  readonly vision: boolean;
  readonly embeddings: boolean;
  /** The provider counts a chat request's input tokens itself (`count_tokens` jobs). */
  readonly countTokens: boolean;
  /** Which of OpenAI's audio (speech, transcriptions) and image generation endpoints the provider serves: as they
   * are for the OpenAI-format providers, translated to its own API for the others (Gemini's, Imagen's, Titan's). */
  readonly media: readonly MediaKind[];
  /** The provider lists its models (`list_models` jobs), which /v1/models merges with the configured names. */
  readonly listModels: boolean;
  /** A web search the provider runs itself, for OpenAI's `web_search_options` (and the Responses `web_search` tool). */
  readonly webSearch: boolean;
  /** OpenAI's Responses API, natively: a `/v1/responses` request goes to the provider as the client sent it (built-in
   * tools, stored responses and all) instead of being translated through chat. Only for the built-in provider
   * itself: a custom provider on the same adapter is some other server, which may not have the endpoint. */
  readonly responses: boolean;
  /** Anthropic's Messages API, natively: an `/anthropic/v1/messages` request the chat translation cannot carry
   * (server tools, MCP servers, citations, …) goes to the provider as the client sent it. Only for the built-in
   * provider itself, as `responses`. */
  readonly messages: boolean;
  /** Bedrock's InvokeModel, natively: a `/bedrock/model/{id}/invoke` body of any model family goes to the provider as
   * the client sent it. Only for the built-in provider itself, as `responses`. */
  readonly invoke: boolean;
  /** Files and batches, in the API named: the client's call on the routes of that API goes to the provider as it
   * came, with the key that owns the id. Only for the built-in provider itself, as `responses`. */
  readonly files: FilesApi | null;
  /** OpenAI's Batch API through the provider's own batch API: `/v1/batches` for a batch input file the gateway
   * holds, each line translated (FilesRequest.translate). */
  readonly openAIBatches: boolean;
  /** With `openAIBatches`: the provider keeps the batch input file itself (Bedrock: in the key's S3 bucket), written
   * in its own batch format on upload, and a batch's output is a file there too; else the gateway holds the file. */
  readonly storesOpenAIBatchFiles: boolean;
  /** Reranking documents against a query (`rerank` jobs), in the provider's own rerank API. */
  readonly rerank: boolean;
  /** Cohere's tokenizer API (`tokenize` jobs, `/cohere/v1/tokenize`). */
  readonly tokenize: boolean;
}

export interface ProviderFacts {
  /** The standard environment variable holding this provider's key, if it has one. */
  readonly envKey: string | null;
  readonly keyless: boolean;
  /** Adapters that custom providers may name as `custom_provider_config.base_provider_type`. */
  readonly canBeBase: boolean;
  /** The adapter has no default endpoint: `network_config.base_url` (or a per-key endpoint) is required. */
  readonly needsBaseUrl: boolean;
  /** Bifrost ≥ 1.5 puts a self-hosted server's URL on each key (`sgl_key_config.url`); the field that holds it. */
  readonly keyUrlConfig: string | null;
  readonly capabilities: Capabilities;
}

const NO_MEDIA: readonly MediaKind[] = Object.freeze([]);
/** OpenAI's media endpoints, all of them, for the providers that speak its format. */
const OPENAI_MEDIA: readonly MediaKind[] = Object.freeze(['speech', 'transcription', 'image_generation', 'image_edit', 'image_variation']);
/** Gemini's and Vertex's own APIs: no image edits or variations in OpenAI's sense. */
const GOOGLE_MEDIA: readonly MediaKind[] = Object.freeze(['speech', 'transcription', 'image_generation']);
const IMAGES: readonly MediaKind[] = Object.freeze(['image_generation']);

const ALL: Capabilities = Object.freeze({ chat: true, stream: true, tools: true, vision: true, embeddings: true, countTokens: false,
  media: NO_MEDIA, listModels: false, responses: false, messages: false, invoke: false, files: null, openAIBatches: false, storesOpenAIBatchFiles: false, webSearch: false,
  rerank: false, tokenize: false });
const CHAT_TOOLS_VISION: Capabilities = Object.freeze({ ...ALL, embeddings: false });
const COUNTS_TOKENS: Capabilities = Object.freeze({ ...ALL, countTokens: true });

/** Adapters built by workers/providers/openai-compatible.ts: OpenAI's media endpoints and model list come with the format. */
const withMedia = (capabilities: Capabilities): Capabilities => Object.freeze({ ...capabilities, media: OPENAI_MEDIA, listModels: true });

const facts = (envKey: string | null, capabilities: Capabilities, extra: Partial<ProviderFacts> = {}): ProviderFacts =>
  Object.freeze({ envKey, keyless: false, canBeBase: false, needsBaseUrl: false, keyUrlConfig: null, capabilities, ...extra });

export const PROVIDER_FACTS: Readonly<Record<string, ProviderFacts>> = Object.freeze({
  openai: facts('OPENAI_API_KEY', Object.freeze({ ...withMedia(ALL), responses: true, files: 'openai', webSearch: true }), { canBeBase: true }),
  // Web search: Gemini's grounding with Google Search, Anthropic's web search server tool.
  // Rerank: Vertex AI Search's ranking API (Discovery Engine), with the key's project.
  // Media: speech and transcription through generateContent's audio, images through Imagen or an image model.
  gemini: facts('GEMINI_API_KEY', Object.freeze({ ...COUNTS_TOKENS, media: GOOGLE_MEDIA, listModels: true, files: 'genai', openAIBatches: true,
    webSearch: true }),
    { canBeBase: true }),
  // Files and batches: Vertex AI's batch prediction jobs, which read and write Cloud Storage or BigQuery.
  vertex: facts(null, Object.freeze({ ...COUNTS_TOKENS, media: GOOGLE_MEDIA, webSearch: true, rerank: true, files: 'vertex' }), { canBeBase: true }),
  anthropic: facts('ANTHROPIC_API_KEY', Object.freeze({ ...CHAT_TOOLS_VISION, countTokens: true, listModels: true, messages: true,
    files: 'anthropic', openAIBatches: true, webSearch: true }),
    { canBeBase: true }),
  mistral: facts('MISTRAL_API_KEY', withMedia(ALL)),
  groq: facts('GROQ_API_KEY', withMedia(CHAT_TOOLS_VISION)),
  ollama: facts(null, withMedia(ALL), { keyless: true, keyUrlConfig: 'ollama_key_config' }),
  openrouter: facts('OPENROUTER_API_KEY', withMedia(ALL)),
  xai: facts('XAI_API_KEY', withMedia(CHAT_TOOLS_VISION)),
  deepseek: facts('DEEPSEEK_API_KEY', withMedia(Object.freeze({ ...CHAT_TOOLS_VISION, vision: false }))),
  cerebras: facts('CEREBRAS_API_KEY', withMedia(Object.freeze({ ...CHAT_TOOLS_VISION, vision: false }))),
  perplexity: facts('PERPLEXITY_API_KEY', withMedia(Object.freeze({ ...CHAT_TOOLS_VISION, tools: false }))),
  // Rerank: the Jina-style `/v1/rerank` these servers share (query, documents, top_n → results by index).
  together: facts('TOGETHER_API_KEY', Object.freeze({ ...withMedia(ALL), rerank: true })),
  fireworks: facts('FIREWORKS_API_KEY', withMedia(ALL)),
  vllm: facts(null, Object.freeze({ ...withMedia(ALL), rerank: true }), { keyless: true, needsBaseUrl: true, keyUrlConfig: 'vllm_key_config' }),
  sglang: facts(null, Object.freeze({ ...withMedia(ALL), rerank: true }), { keyless: true, needsBaseUrl: true, keyUrlConfig: 'sgl_key_config' }),
  huggingface: facts('HF_TOKEN', withMedia(CHAT_TOOLS_VISION), { canBeBase: true }),
  parasail: facts('PARASAIL_API_KEY', withMedia(CHAT_TOOLS_VISION)),
  nebius: facts('NEBIUS_API_KEY', withMedia(ALL)),
  // The endpoint is per key (azure_key_config.endpoint), so there is no embedded default from a key variable alone.
  // Files and batches: OpenAI's, at the resource's /openai with its api-version (Azure's Batch API).
  azure: facts(null, Object.freeze({ ...ALL, media: OPENAI_MEDIA, files: 'openai' })),
  cohere: facts('COHERE_API_KEY', Object.freeze({ ...ALL, rerank: true, tokenize: true }), { canBeBase: true }),
  // Keys authenticate with bedrock_key_config (SigV4) or a Bedrock API key: no single standard key variable.
  // Rerank: the Bedrock Agent Runtime's Rerank API (bedrock-agent-runtime.{region}), with the same credentials.
  // Images: Titan Image Generator and Stability's models through InvokeModel.
  bedrock: facts(null, Object.freeze({ ...ALL, media: IMAGES, invoke: true, files: 'bedrock', openAIBatches: true, storesOpenAIBatchFiles: true,
    rerank: true }), { canBeBase: true }),
  // Tools: `mock/tool-call` calls one (workers/providers/mock.ts); every other mock model ignores them.
  // Rerank: `mock/<anything>` scores each document by the query words it holds. Embeddings: a hashed bag of words, so
  // that texts sharing words are near (the response cache's semantic layer).
  mock: facts(null, Object.freeze({ ...ALL, vision: false, rerank: true }), { keyless: true }),
});

/**
 * Other names for Heimdall's adapters, as Bifrost spells them. A provider configured under such a name keeps it
 * (clients keep sending `sgl/<model>`) and is served by the adapter.
 */
export const PROVIDER_NAME_ALIASES: Readonly<Record<string, string>> = Object.freeze({ sgl: 'sglang' });

/** The adapter a provider name or base type stands for, aliases included; null when Heimdall has none. */
export function adapterOf(name: string): string | null {
  if (Object.hasOwn(PROVIDER_FACTS, name)) return name;
  return Object.hasOwn(PROVIDER_NAME_ALIASES, name) ? PROVIDER_NAME_ALIASES[name] : null;
}

export function isKnownAdapter(id: string): boolean {
  return Object.hasOwn(PROVIDER_FACTS, id);
}

