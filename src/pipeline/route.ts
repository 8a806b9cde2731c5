// Stage 2: `provider/model` → the provider's pool and one of its keys. The key is chosen by weighted random
// among the enabled keys whose `models` allow the model.

import type { KeyConfig, ProviderConfig } from '../config/types.js';
import { GatewayError } from '../errors/gateway-error.js';

export interface RouteTarget {
  provider: ProviderConfig;
  /** The model name the provider knows: everything after the first '/'. */
  model: string;
  /** Index of the chosen key in provider.keys; -1 for keyless providers. */
  keyIndex: number;
}

function keyAllows(key: KeyConfig, model: string): boolean {
  if (!key.enabled || key.blacklistedModels.includes(model)) return false;
  return key.models === null || key.models.includes(model);
}

export function chooseKey(keys: readonly KeyConfig[], model: string, random: () => number = Math.random): number {
  let total = 0;
  let eligible = 0;
  for (const key of keys) {
    if (!keyAllows(key, model)) continue;
    eligible++;
    total += key.weight;
  }
  if (eligible === 0) return -1;
  // All weights zero: every eligible key is equally likely.
  let pick = total > 0 ? random() * total : Math.floor(random() * eligible);
  for (let i = 0; i < keys.length; i++) {
    if (!keyAllows(keys[i], model)) continue;
    if (total > 0) {
      pick -= keys[i].weight;
      if (pick < 0) return i;
    } else if (pick-- === 0) {
      return i;
    }
  }
  // Floating-point leftovers land on the last eligible key.
  for (let i = keys.length - 1; i >= 0; i--) if (keyAllows(keys[i], model)) return i;
  return -1;
}

export function routeModel(qualified: string, providers: ReadonlyMap<string, ProviderConfig>): RouteTarget {
  const slash = qualified.indexOf('/');
  if (slash <= 0 || slash === qualified.length - 1) {
    throw new GatewayError('UNKNOWN_PROVIDER',
      `model '${qualified}' must be 'provider/model'; configured providers: ${[...providers.keys()].join(', ')}`,
      { param: 'model' });
  }
  const providerName = qualified.slice(0, slash);
  const model = qualified.slice(slash + 1);
  const provider = providers.get(providerName);
  if (!provider) {
    throw new GatewayError('UNKNOWN_PROVIDER',
      `provider '${providerName}' is not configured; configured providers: ${[...providers.keys()].join(', ')}`,
      { param: 'model' });
  }
  if (provider.keyless && provider.keys.length === 0) return { provider, model, keyIndex: -1 };
  const keyIndex = chooseKey(provider.keys, model);
  if (keyIndex === -1) {
    throw new GatewayError('MODEL_NOT_ALLOWED', `no enabled key of provider '${providerName}' allows model '${model}'`,
      { param: 'model', provider: providerName });
  }
  return { provider, model, keyIndex };
}
