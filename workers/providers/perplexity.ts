// Perplexity's Sonar API: chat at /chat/completions (no /v1), no function calling, one choice, no logprobs.
import { createOpenAICompatible } from './openai-compatible.js';

export const perplexity = createOpenAICompatible({
  id: 'perplexity',
  defaultBaseUrl: 'https://api.perplexity.ai',
  chatPath: '/chat/completions',
  embeddingsPath: null,
  unsupportedParams: ['tools', 'tool_choice', 'parallel_tool_calls', { name: 'n', accepts: (n) => n === 1 }, 'logit_bias',
    'logprobs', 'top_logprobs', 'seed', 'service_tier'],
});
