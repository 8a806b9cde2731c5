// Hugging Face Inference Providers through the router's OpenAI-compatible chat API (it has no /v1/embeddings).
import { createOpenAICompatible } from './openai-compatible.js';

export const huggingface = createOpenAICompatible({
  id: 'huggingface',
  defaultBaseUrl: 'https://router.huggingface.co',
  embeddingsPath: null,
});
