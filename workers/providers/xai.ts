// xAI's Grok. Its reasoning models refuse presence_penalty, frequency_penalty and stop; Grok 4 also reasoning_effort.
import { createOpenAICompatible } from './openai-compatible.js';

export const xai = createOpenAICompatible({
  id: 'xai',
  defaultBaseUrl: 'https://api.x.ai',
  embeddingsPath: null,
  modelParams: [
    { models: /^grok-(3-mini|4|code)/, unsupportedParams: ['presence_penalty', 'frequency_penalty', 'stop'] },
    { models: /^grok-(4|code)/, unsupportedParams: ['reasoning_effort'] },
  ],
});
