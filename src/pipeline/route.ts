// Stage 2: `provider/model` → the provider's pool and one of its keys. The key is chosen by weighted random
// among the enabled keys whose `models` allow the model and whose circuit breakers (the key's own, and the key's
// for this model) let a request through.

import type { KeyConfig, ProviderConfig } from '../config/types.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { CircuitBreakers, KeyCircuit } from './breaker.js';

export interface RouteTarget {
  provider: ProviderConfig;
  /** The model name the provider knows: everything after the first '/'. */
  model: string;
  /** Index of the chosen key in provider.keys; -1 for keyless providers. */
  keyIndex: number;
  /** The chosen key's breakers (a keyless provider's own); null when the provider's breaker is off. */
  breaker: KeyCircuit | null;
}

function keyAllowsModel(key: KeyConfig, model: string): boolean {
  if (!key.enabled || key.blacklistedModels.includes(model)) return false;
  return key.models === null || key.models.includes(model);
}

/** Which of a provider's keys a request may use at all (a virtual key's `provider_configs[].keys`); null: all. */
export type KeyFilter = ((key: KeyConfig) => boolean) | null;

function keyAllows(keys: readonly KeyConfig[], i: number, model: string, breakers: readonly KeyCircuit[] | null,
  filter: KeyFilter): boolean {
  return keyAllowsModel(keys[i], model) && (filter === null || filter(keys[i])) && (breakers === null || breakers[i].usable(model));
}

/** `breakers`, by key index, hide the keys they do not let through for the model; `filter` the keys not granted. */
export function chooseKey(keys: readonly KeyConfig[], model: string, random: () => number = Math.random,
  breakers: readonly KeyCircuit[] | null = null, filter: KeyFilter = null): number {
  let total = 0;
  let eligible = 0;
  for (let i = 0; i < keys.length; i++) {
    if (!keyAllows(keys, i, model, breakers, filter)) continue;
    eligible++;
    total += keys[i].weight;
  }
  if (eligible === 0) return -1;
  // All weights zero: every eligible key is equally likely.
  let pick = total > 0 ? random() * total : Math.floor(random() * eligible);
  for (let i = 0; i < keys.length; i++) {
    if (!keyAllows(keys, i, model, breakers, filter)) continue;
    if (total > 0) {
      pick -= keys[i].weight;
      if (pick < 0) return i;
    } else if (pick-- === 0) {
      return i;
    }
  }
  // Floating-point leftovers land on the last eligible key.
  for (let i = keys.length - 1; i >= 0; i--) if (keyAllows(keys, i, model, breakers, filter)) return i;
  return -1;
}

const NONE: ReadonlySet<string> = new Set();

/** `unsupported`: providers the config names that no adapter serves (Bifrost-only ones), refused by name. */
export function routeModel(qualified: string, providers: ReadonlyMap<string, ProviderConfig>,
  circuitBreakers: CircuitBreakers | null = null, unsupported: ReadonlySet<string> = NONE, filter: KeyFilter = null): RouteTarget {
  const slash = qualified.indexOf('/');
  if (slash <= 0 || slash === qualified.length - 1) {
    throw new GatewayError('UNKNOWN_PROVIDER',
      `model '${qualified}' must be 'provider/model'; configured providers: ${[...providers.keys()].join(', ')}`,
      { param: 'model' });
  }
  const providerName = qualified.slice(0, slash);
  const model = qualified.slice(slash + 1);
  const provider = providers.get(providerName);
  if (!provider && unsupported.has(providerName)) {
    throw new GatewayError('UNKNOWN_PROVIDER',
      `provider '${providerName}' is in the config but Heimdall has no adapter for it yet, so it is not served; `
      + `served providers: ${[...providers.keys()].join(', ')}`, { param: 'model' });
  }
  if (!provider) {
    throw new GatewayError('UNKNOWN_PROVIDER',
      `provider '${providerName}' is not configured; configured providers: ${[...providers.keys()].join(', ')}`,
      { param: 'model' });
  }
  const breakers = circuitBreakers?.of(providerName) ?? null;
  if (provider.keyless && provider.keys.length === 0) {
    if (breakers && !breakers[0].usable(model)) throw circuitOpen(providerName, model, breakers);
    return { provider, model, keyIndex: -1, breaker: breakers?.[0] ?? null };
  }
  const keyIndex = chooseKey(provider.keys, model, Math.random, breakers, filter);
  if (keyIndex !== -1) return { provider, model, keyIndex, breaker: breakers?.[keyIndex] ?? null };
  if (filter && provider.keys.some((key) => keyAllowsModel(key, model))
    && !provider.keys.some((key) => keyAllowsModel(key, model) && filter(key))) {
    throw new GatewayError('PROVIDER_KEY_FORBIDDEN', `none of the keys of provider '${providerName}' that the virtual key `
      + `may use allows model '${model}'`, { param: 'model', provider: providerName });
  }
  if (breakers) {
    const allowing = breakers.filter((_, i) => keyAllowsModel(provider.keys[i], model) && (filter === null || filter(provider.keys[i])));
    if (allowing.length > 0) throw circuitOpen(providerName, model, allowing);
  }
  throw new GatewayError('MODEL_NOT_ALLOWED', `no enabled key of provider '${providerName}' allows model '${model}'`,
    { param: 'model', provider: providerName });
}

/** Every key that could serve the model is open for it: `Retry-After` says when the first of them half-opens. */
export function circuitOpen(provider: string, model: string, breakers: readonly KeyCircuit[]): GatewayError {
  const waitMs = Math.min(...breakers.map((breaker) => breaker.waitMs(model)));
  return new GatewayError('CIRCUIT_OPEN',
    `every key of provider '${provider}' that allows model '${model}' is failing for it; their circuit breakers are open`,
    { provider, retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) });
}
