import { createOpenAICompatible } from './openai-compatible.js';

export const together = createOpenAICompatible({ id: 'together', defaultBaseUrl: 'https://api.together.xyz', rerankPath: '/v1/rerank' });
