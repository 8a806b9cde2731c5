// What Heimdall knows of Bifrost's names, so that a Bifrost config.json loads as it is: providers and plugins that
// Bifrost has and Heimdall does not serve yet load with a warning instead of failing as typos would. Taken from
// Bifrost's published config schema (transports/config.schema.json) and its provider list.

/** Bifrost's built-in providers that no Heimdall adapter serves: configured, they load but are not served. */
export const BIFROST_ONLY_PROVIDERS: ReadonlySet<string> = new Set([
  'elevenlabs', 'replicate', 'runway', 'runware', 'sarvam', 'deepgram', 'bedrock_mantle', 'opencode-go',
  'opencode-zen', 'wafer', 'github-copilot', 'databricks', 'typesafe', 'alibaba',
]);

/** Every `custom_provider_config.base_provider_type` Bifrost's schema accepts (its own spelling). */
export const BIFROST_BASE_TYPES: ReadonlySet<string> = new Set([
  'openai', 'azure', 'anthropic', 'bedrock', 'bedrock_mantle', 'cohere', 'vertex', 'mistral', 'ollama', 'groq',
  'opencode-go', 'opencode-zen', 'sgl', 'parasail', 'perplexity', 'cerebras', 'deepseek', 'gemini', 'openrouter',
  'elevenlabs', 'huggingface', 'nebius', 'xai', 'replicate', 'vllm', 'runway', 'runware', 'fireworks', 'sarvam',
  'deepgram',
]);

/**
 * Bifrost's built-in plugins, and the Heimdall built-in that does the same job where there is one. Bifrost always
 * runs its Prometheus `telemetry` plugin; Heimdall's `metrics` serves the same `/metrics`.
 */
export const BIFROST_PLUGINS: Readonly<Record<string, string | null>> = Object.freeze({
  telemetry: 'metrics',
  logging: null,
  governance: null,
  otel: null,
  semantic_cache: null,
  maxim: null,
  datadog: null,
  bigquery: null,
  kafka: null,
  pubsub: null,
  prompts: null,
  litellmcompat: null,
  compat: null,
});
