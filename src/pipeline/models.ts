// GET /v1/models: the models the config names, as `provider/model`, in OpenAI's list shape.

import type { ProviderConfig } from '../config/types.js';
import type { ResponseSink } from '../http/response.js';

/** Models the mock provider is documented to answer; any name works, these are the ones it advertises. */
const MOCK_MODELS = ['echo'];

export function listModels(providers: readonly ProviderConfig[]): string {
  const created = Math.floor(Date.now() / 1000);
  const data: { id: string; object: 'model'; created: number; owned_by: string }[] = [];
  for (const provider of providers) {
    const names = new Set<string>(provider.adapter === 'mock' ? MOCK_MODELS : []);
    for (const key of provider.keys) if (key.enabled && key.models) for (const model of key.models) names.add(model);
    for (const model of names) data.push({ id: `${provider.name}/${model}`, object: 'model', created, owned_by: provider.name });
  }
  return JSON.stringify({ object: 'list', data });
}

export function createModelsHandler(providers: readonly ProviderConfig[]) {
  return (_request: unknown, sink: ResponseSink) => sink.json(200, listModels(providers));
}
