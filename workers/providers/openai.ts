import { createOpenAICompatible } from './openai-compatible.js';

export const openai = createOpenAICompatible({ id: 'openai', defaultBaseUrl: 'https://api.openai.com' });
