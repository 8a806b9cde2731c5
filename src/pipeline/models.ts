// GET /v1/models (and /v1/models/{id}, one of them): the models the config names, as `provider/model`, the aliases, and what the providers that can
// list their models (capability `listModels`) say they serve, in OpenAI's list shape. `?provider=name` keeps one
// provider's models (aliases that point at it included). The native routes' model lists read the same catalog.
//
// A provider is asked only when one of its keys allows every model: a key's `models` restrict what it may serve,
// so a provider whose keys all name their models lists just those names. Each is asked with one key, in parallel,
// for at most LIST_TIMEOUT_MS, and its list is kept for CACHE_MS (a failure for FAILURE_CACHE_MS). The answer never
// fails as a whole: a provider that does not answer is left out and named in `x-heimdall-models-unavailable`.
//
// A listing never starts a provider's threads (a pool starts on first use, docs/memory.md): a provider whose pool is
// cold shows its configured models and the list it gave last, if it ever did, and is named in
// `x-heimdall-models-not-listed` when it never did. `?provider=name` asks that one provider, starting its pool.

import { NO_MODEL_SLOT } from '../contract/metrics-layout.js';
import type { KeyConfig, ProviderConfig } from '../config/types.js';
import type { JobData } from '../contract/messages.js';
import { PROVIDER_FACTS } from '../contract/providers.js';
import type { ProviderPool, Ticket } from '../dispatch/pool.js';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest } from '../http/server.js';

/** Models the mock provider is documented to answer; any name works, these are the ones it advertises. */
const MOCK_MODELS = ['echo'];
const LIST_TIMEOUT_MS = 5_000;
const CACHE_MS = 5 * 60_000;
/** A failure is kept too, so a provider that hangs does not hold every listing for LIST_TIMEOUT_MS. */
const FAILURE_CACHE_MS = 30_000;
const MODELS_UNAVAILABLE_HEADER = 'x-heimdall-models-unavailable';
const MODELS_NOT_LISTED_HEADER = 'x-heimdall-models-not-listed';

export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** For an alias: the `provider/model` it stands for. */
  alias_for?: string;
}

/** `listed`: the models providers said they serve, by provider name, added to the configured ones. */
function modelEntries(providers: readonly ProviderConfig[], aliases: Readonly<Record<string, string>>,
  onlyProvider: string | null, listed: ReadonlyMap<string, readonly string[]>): ModelEntry[] {
  const created = Math.floor(Date.now() / 1000);
  const data: ModelEntry[] = [];
  for (const provider of providers) {
    if (onlyProvider !== null && provider.name !== onlyProvider) continue;
    const names = new Set<string>(provider.adapter === 'mock' ? MOCK_MODELS : []);
    for (const key of provider.keys) if (key.enabled && key.models) for (const model of key.models) names.add(model);
    for (const model of listed.get(provider.name) ?? []) names.add(model);
    for (const model of names) data.push({ id: `${provider.name}/${model}`, object: 'model', created, owned_by: provider.name });
  }
  for (const [alias, target] of Object.entries(aliases)) {
    const owner = target.slice(0, target.indexOf('/'));
    if (onlyProvider === null || owner === onlyProvider) data.push({ id: alias, object: 'model', created, owned_by: owner, alias_for: target });
  }
  return data;
}

/** The key a provider's list is asked with: one that allows every model; -1 for a keyless provider without keys. */
function listingKey(provider: ProviderConfig): { index: number; key: KeyConfig | null } | null {
  if (provider.keyless && provider.keys.length === 0) return { index: -1, key: null };
  const index = provider.keys.findIndex((key) => key.enabled && key.models === null);
  return index === -1 ? null : { index, key: provider.keys[index] };
}

/** Asks each provider's worker for its list and keeps the lists a while; one request in flight per provider. */
class ProviderModelLists {
  readonly #pools: ReadonlyMap<string, ProviderPool>;
  readonly #cache = new Map<string, { until: number; models: Promise<readonly string[]> }>();
  /** The last list each provider gave, kept past CACHE_MS: what a cold provider shows. */
  readonly #lastListed = new Map<string, readonly string[]>();

  constructor(pools: ReadonlyMap<string, ProviderPool>) {
    this.#pools = pools;
  }

  /** null: the provider's pool is cold and `wake` is false, and it never listed its models. */
  get(provider: ProviderConfig, requestId: string, wake: boolean): Promise<readonly string[] | null> {
    const cached = this.#cache.get(provider.name);
    if (cached && cached.until > Date.now()) return cached.models;
    const pool = this.#pools.get(provider.name);
    if (!wake && pool && (pool.state === 'cold' || pool.state === 'failed')) {
      return Promise.resolve(this.#lastListed.get(provider.name) ?? null);
    }
    const models = this.#ask(provider, requestId);
    models.then((list) => this.#lastListed.set(provider.name, list), () => undefined);
    this.#cache.set(provider.name, { until: Date.now() + CACHE_MS, models });
    models.catch(() => {
      const entry = this.#cache.get(provider.name);
      if (entry?.models === models) entry.until = Math.min(entry.until, Date.now() + FAILURE_CACHE_MS);
    });
    return models;
  }

  #ask(provider: ProviderConfig, requestId: string): Promise<readonly string[]> {
    const pool = this.#pools.get(provider.name);
    const listing = listingKey(provider);
    if (!pool || !listing) return Promise.resolve([]);
    const job: JobData = { kind: 'list_models', requestId, model: '', keyIndex: listing.index, stream: false, includeUsage: false, body: {},
      modelLabel: NO_MODEL_SLOT };
    const blacklisted = new Set(listing.key?.blacklistedModels ?? []);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ticket?.cancel();
        reject(new Error(`${provider.name} did not list its models within ${LIST_TIMEOUT_MS} ms`));
      }, LIST_TIMEOUT_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      let ticket: Ticket | undefined;
      try {
        ticket = pool.submit(job, {
          onResult: (_status, body) => {
            clearTimeout(timer);
            try {
              const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
              resolve((JSON.parse(text) as { models: string[] }).models.filter((model) => !blacklisted.has(model)));
            } catch (error) {
              reject(error as Error);
            }
          },
          onChunks: () => fail(new Error('a model list came as a stream')),
          onEnd: () => fail(new Error('a model list came as a stream')),
          onError: (error) => fail(new Error(error.message)),
        });
      } catch (error) {
        // Refused at once: shutting down, or the queue is full.
        fail(error as Error);
      }
    });
  }
}

/** Every model the gateway can name: /v1/models' list, which the native routes' model lists show in their shapes. */
export interface ModelCatalog {
  /** The entries, and the providers whose own list could not be read (left out). */
  list(onlyProvider: string | null, requestId: string): Promise<{ data: ModelEntry[]; unavailable: string[]; notListed: string[] }>;
}

export function createModelCatalog(providers: readonly ProviderConfig[], aliases: Readonly<Record<string, string>>,
  pools: ReadonlyMap<string, ProviderPool>): ModelCatalog {
  const lists = new ProviderModelLists(pools);
  const listing = providers.filter((provider) => PROVIDER_FACTS[provider.adapter]?.capabilities.listModels && listingKey(provider));
  return {
    async list(onlyProvider, requestId) {
      const asked = listing.filter((provider) => onlyProvider === null || provider.name === onlyProvider);
      // Naming one provider is asking it: that one starts if it must.
      const outcomes = await Promise.allSettled(asked.map((provider) => lists.get(provider, requestId, onlyProvider !== null)));
      const listed = new Map<string, readonly string[]>();
      const unavailable: string[] = [];
      const notListed: string[] = [];
      outcomes.forEach((outcome, i) => {
        if (outcome.status === 'rejected') unavailable.push(asked[i].name);
        else if (outcome.value === null) notListed.push(asked[i].name);
        else listed.set(asked[i].name, outcome.value);
      });
      return { data: modelEntries(providers, aliases, onlyProvider, listed), unavailable, notListed };
    },
  };
}

/** The header naming the providers left out, when there are any. */
export const unavailableHeader = (unavailable: readonly string[]): Record<string, string> | undefined =>
  (unavailable.length > 0 ? { [MODELS_UNAVAILABLE_HEADER]: unavailable.join(',') } : undefined);

export function createModelsHandler(catalog: ModelCatalog) {
  return (request: IncomingRequest, sink: ResponseSink) => {
    const onlyProvider = new URLSearchParams(request.query).get('provider') || null;
    void catalog.list(onlyProvider, request.requestId).then(({ data, unavailable, notListed }) => {
      const headers = { ...unavailableHeader(unavailable), ...(notListed.length > 0 ? { [MODELS_NOT_LISTED_HEADER]: notListed.join(',') } : {}) };
      sink.json(200, JSON.stringify({ object: 'list', data }), Object.keys(headers).length > 0 ? headers : undefined);
    });
  };
}

/**
 * GET /v1/models/{id} (the OpenAI SDK's `models.retrieve`): the entry /v1/models lists under that id, or 404 in
 * OpenAI's error shape. The id holds a slash (`mock/echo`), which the SDK sends encoded (`mock%2Fecho`); both
 * spellings are read. `prefix` is the path before the id, with its trailing slash.
 */
export function createModelHandler(catalog: ModelCatalog, providers: readonly ProviderConfig[], prefix: string) {
  const names = new Set(providers.map((provider) => provider.name));
  return (request: IncomingRequest, sink: ResponseSink) => {
    let id: string;
    try {
      id = decodeURIComponent(request.path.slice(prefix.length));
    } catch {
      id = request.path.slice(prefix.length);
    }
    // A `provider/model` id asks that provider (starting its pool if it must); anything else reads the whole list.
    const slash = id.indexOf('/');
    const named = slash > 0 && names.has(id.slice(0, slash)) ? id.slice(0, slash) : null;
    const lookup = catalog.list(named, request.requestId).then((found) => named === null || found.data.some((model) => model.id === id)
      ? found : catalog.list(null, request.requestId));
    void lookup.then(({ data, unavailable }) => {
      const entry = data.find((model) => model.id === id);
      if (entry) {
        sink.json(200, JSON.stringify(entry), unavailableHeader(unavailable));
        return;
      }
      const provider = slash > 0 ? id.slice(0, slash) : null;
      const error = provider !== null && names.has(provider)
        ? errorData('MODEL_NOT_ALLOWED', `provider '${provider}' does not list model '${id.slice(slash + 1)}' (GET /v1/models lists what it serves)`, { param: 'model' })
        : errorData('UNKNOWN_PROVIDER', provider === null
          ? `model '${id}' is neither 'provider/model' nor a model alias (GET /v1/models lists the models)`
          : `provider '${provider}' is not configured (GET /v1/models lists the models)`, { param: 'model' });
      sink.json(statusOf(error), openAIErrorBody(error), unavailableHeader(unavailable));
    });
  };
}
