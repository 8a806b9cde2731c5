import { createOpenAICompatible } from './openai-compatible.js';

export const nebius = createOpenAICompatible({ id: 'nebius', defaultBaseUrl: 'https://api.studio.nebius.com' });
