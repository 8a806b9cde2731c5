import { createOpenAICompatible } from './openai-compatible.js';

export const fireworks = createOpenAICompatible({ id: 'fireworks', defaultBaseUrl: 'https://api.fireworks.ai/inference' });
