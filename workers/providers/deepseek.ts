// DeepSeek. The reasoner takes no sampling parameters (ignored, or a 400 for logprobs); no images, no embeddings.
import { createOpenAICompatible } from './openai-compatible.js';

export const deepseek = createOpenAICompatible({
  id: 'deepseek',
  defaultBaseUrl: 'https://api.deepseek.com',
  embeddingsPath: null,
  modelParams: [{
    models: /reasoner/,
    unsupportedParams: ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs'],
  }],
});
