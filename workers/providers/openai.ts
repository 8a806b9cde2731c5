import { createOpenAICompatible } from './openai-compatible.js';

// OpenAI refuses fields it does not know; `top_k` (Anthropic's, Gemini's, vLLM's) is the common one.
export const openai = createOpenAICompatible({ id: 'openai', defaultBaseUrl: 'https://api.openai.com', unsupportedParams: ['top_k'],
  responsesPath: '/v1/responses' });
