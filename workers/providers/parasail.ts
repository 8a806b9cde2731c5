import { createOpenAICompatible } from './openai-compatible.js';

export const parasail = createOpenAICompatible({
  id: 'parasail',
  defaultBaseUrl: 'https://api.parasail.io',
  embeddingsPath: null,
  unsupportedParams: ['store', 'service_tier'],
});
