// Every adapter the workers can run, by id. src/contract/providers.ts lists the same ids for the front thread;
// a unit test keeps the two in step.

import { anthropic } from './anthropic.js';
import { bedrock } from './bedrock.js';
import { mock } from './mock.js';
import { openai } from './openai.js';
import { mistral } from './mistral.js';
import { groq } from './groq.js';
import { ollama } from './ollama.js';
import { openrouter } from './openrouter.js';
import { xai } from './xai.js';
import { deepseek } from './deepseek.js';
import { cerebras } from './cerebras.js';
import { perplexity } from './perplexity.js';
import { together } from './together.js';
import { fireworks } from './fireworks.js';
import { vllm } from './vllm.js';
import { sglang } from './sglang.js';
import { huggingface } from './huggingface.js';
import { parasail } from './parasail.js';
import { nebius } from './nebius.js';
import { azure } from './azure.js';
import { cohere } from './cohere.js';
import { gemini } from './gemini.js';
import { vertex } from './vertex.js';
import type { ProviderAdapter } from './types.js';

export const ADAPTERS: Readonly<Record<string, ProviderAdapter>> = Object.freeze({ openai, mock, bedrock, azure, cohere, anthropic,
  mistral, groq, ollama, openrouter, xai, deepseek, cerebras, perplexity, together, fireworks, vllm, sglang, huggingface, parasail, nebius, gemini, vertex });

export function adapterFor(id: string): ProviderAdapter {
  const adapter = ADAPTERS[id];
  if (!adapter) throw new Error(`no adapter '${id}' in this build`);
  return adapter;
}
