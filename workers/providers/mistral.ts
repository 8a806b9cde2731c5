// Mistral La Plateforme. Its API validates strictly (any field it does not know is a 422, `stream_options`
// included), spells the seed `random_seed`, and sends the usage on its last chunk unasked.
import { createOpenAICompatible } from './openai-compatible.js';

export const mistral = createOpenAICompatible({
  id: 'mistral',
  defaultBaseUrl: 'https://api.mistral.ai',
  streamOptions: false,
  renamedParams: { seed: 'random_seed', max_completion_tokens: 'max_tokens', dimensions: 'output_dimension' },
  chatParams: ['temperature', 'top_p', 'max_tokens', 'stop', 'random_seed', 'response_format', 'tools', 'tool_choice',
    'presence_penalty', 'frequency_penalty', 'n', 'prediction', 'parallel_tool_calls', 'prompt_mode', 'safe_prompt'],
  embeddingsParams: ['encoding_format', 'output_dimension', 'output_dtype'],
  // Fields OpenAI puts on the assistant messages clients send back as history; Mistral's messages have none of them.
  unsupportedMessageFields: ['refusal', 'annotations', 'audio', 'function_call'],
});
