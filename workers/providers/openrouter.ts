import { createOpenAICompatible } from './openai-compatible.js';

export const openrouter = createOpenAICompatible({ id: 'openrouter', defaultBaseUrl: 'https://openrouter.ai/api' });
