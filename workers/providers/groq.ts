// Groq: a 400 for logprobs, logit_bias, top_logprobs, messages[].name, and any `n` but 1. No embeddings.
import { createOpenAICompatible } from './openai-compatible.js';

export const groq = createOpenAICompatible({
  id: 'groq',
  defaultBaseUrl: 'https://api.groq.com/openai',
  embeddingsPath: null,
  unsupportedParams: ['logprobs', 'top_logprobs', 'logit_bias', { name: 'n', accepts: (n) => n === 1 }],
  unsupportedMessageFields: ['name'],
});
