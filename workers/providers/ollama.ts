// A local Ollama server's OpenAI-compatible API: keyless (a key, if configured, is still sent). It ignores the
// fields it does not implement, so those are dropped and reported rather than lost quietly.
import { createOpenAICompatible } from './openai-compatible.js';

export const ollama = createOpenAICompatible({
  id: 'ollama',
  defaultBaseUrl: 'http://localhost:11434',
  renamedParams: { max_completion_tokens: 'max_tokens' },
  unsupportedParams: ['logit_bias', { name: 'n', accepts: (n) => n === 1 }],
});
