import { forwardFilesCall } from './files-forward.js';
import { createOpenAICompatible } from './openai-compatible.js';
import type { HttpAdapter } from './types.js';

const DEFAULT_BASE_URL = 'https://api.openai.com';

// OpenAI refuses fields it does not know; `top_k` (Anthropic's, Gemini's, vLLM's) is the common one. Its Files and
// Batch APIs are the ones the /v1/files and /v1/batches routes speak: their calls go on as they came.
export const openai: HttpAdapter = {
  ...createOpenAICompatible({ id: 'openai', defaultBaseUrl: DEFAULT_BASE_URL, unsupportedParams: ['top_k'], responsesPath: '/v1/responses' }),
  filesCall: (request, target) => forwardFilesCall(target.baseUrl ?? DEFAULT_BASE_URL, request),
};
