// Cerebras: a 400 for the penalties, logit_bias, parallel_tool_calls, service_tier and an assistant message's
// reasoning_content; a 422 for `stream_options` (it sends the usage on its last chunk unasked). No embeddings.
import { createOpenAICompatible } from './openai-compatible.js';

export const cerebras = createOpenAICompatible({
  id: 'cerebras',
  defaultBaseUrl: 'https://api.cerebras.ai',
  embeddingsPath: null,
  streamOptions: false,
  unsupportedParams: ['frequency_penalty', 'presence_penalty', 'logit_bias', 'parallel_tool_calls', 'service_tier'],
  unsupportedMessageFields: ['reasoning_content'],
});
