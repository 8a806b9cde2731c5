// A vLLM server: no public endpoint (network_config.base_url is required), a key only if it was started with one.
import { createOpenAICompatible } from './openai-compatible.js';

export const vllm = createOpenAICompatible({ id: 'vllm', defaultBaseUrl: null, rerankPath: '/v1/rerank' });
