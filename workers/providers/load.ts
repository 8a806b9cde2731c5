// Each adapter's module by id, loaded on demand: a worker serves one provider, so it loads that adapter's code (and
// its dependencies: the AWS signer for bedrock, the Google signer for vertex) and no other. index.ts holds them all
// for the tests; a unit test keeps the two in step.

import type { ProviderAdapter } from './types.js';

type Loader = () => Promise<ProviderAdapter>;

export const ADAPTER_LOADERS: Readonly<Record<string, Loader>> = Object.freeze({
  openai: () => import('./openai.js').then((m) => m.openai),
  mock: () => import('./mock.js').then((m) => m.mock),
  bedrock: () => import('./bedrock.js').then((m) => m.bedrock),
  azure: () => import('./azure.js').then((m) => m.azure),
  cohere: () => import('./cohere.js').then((m) => m.cohere),
  anthropic: () => import('./anthropic.js').then((m) => m.anthropic),
  mistral: () => import('./mistral.js').then((m) => m.mistral),
  groq: () => import('./groq.js').then((m) => m.groq),
  ollama: () => import('./ollama.js').then((m) => m.ollama),
  openrouter: () => import('./openrouter.js').then((m) => m.openrouter),
  xai: () => import('./xai.js').then((m) => m.xai),
  deepseek: () => import('./deepseek.js').then((m) => m.deepseek),
  cerebras: () => import('./cerebras.js').then((m) => m.cerebras),
  perplexity: () => import('./perplexity.js').then((m) => m.perplexity),
  together: () => import('./together.js').then((m) => m.together),
  fireworks: () => import('./fireworks.js').then((m) => m.fireworks),
  vllm: () => import('./vllm.js').then((m) => m.vllm),
  sglang: () => import('./sglang.js').then((m) => m.sglang),
  huggingface: () => import('./huggingface.js').then((m) => m.huggingface),
  parasail: () => import('./parasail.js').then((m) => m.parasail),
  nebius: () => import('./nebius.js').then((m) => m.nebius),
  gemini: () => import('./gemini.js').then((m) => m.gemini),
  vertex: () => import('./vertex.js').then((m) => m.vertex),
});

export function loadAdapter(id: string): Promise<ProviderAdapter> {
  const load = ADAPTER_LOADERS[id];
  if (!load) return Promise.reject(new Error(`no adapter '${id}' in this build`));
  return load();
}
