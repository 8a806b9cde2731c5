// An SGLang server: no public endpoint (network_config.base_url is required), a key only if it was started with one.
import { createOpenAICompatible } from './openai-compatible.js';

export const sglang = createOpenAICompatible({ id: 'sglang', defaultBaseUrl: null, rerankPath: '/v1/rerank' });
