// GET /v1/models: the models the config names, as `provider/model`, and the aliases, in OpenAI's list shape.
// `?provider=name` keeps one provider's models (aliases that point at it included).

import type { ProviderConfig } from '../config/types.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest } from '../http/server.js';

/** Models the mock provider is documented to answer; any name works, these are the ones it advertises. */
const MOCK_MODELS = ['echo'];

interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** For an alias: the `provider/model` it stands for. */
  alias_for?: string;
}

export function listModels(providers: readonly ProviderConfig[], aliases: Readonly<Record<string, string>>,
  onlyProvider: string | null): string {
  const created = Math.floor(Date.now() / 1000);
  const data: ModelEntry[] = [];
  for (const provider of providers) {
    if (onlyProvider !== null && provider.name !== onlyProvider) continue;
    const names = new Set<string>(provider.adapter === 'mock' ? MOCK_MODELS : []);
    for (const key of provider.keys) if (key.enabled && key.models) for (const model of key.models) names.add(model);
    for (const model of names) data.push({ id: `${provider.name}/${model}`, object: 'model', created, owned_by: provider.name });
  }
  for (const [alias, target] of Object.entries(aliases)) {
    const owner = target.slice(0, target.indexOf('/'));
    if (onlyProvider === null || owner === onlyProvider) data.push({ id: alias, object: 'model', created, owned_by: owner, alias_for: target });
  }
  return JSON.stringify({ object: 'list', data });
}

export function createModelsHandler(providers: readonly ProviderConfig[], aliases: Readonly<Record<string, string>>) {
  return (request: IncomingRequest, sink: ResponseSink) => {
    const provider = new URLSearchParams(request.query).get('provider');
    sink.json(200, listModels(providers, aliases, provider || null));
  };
}
