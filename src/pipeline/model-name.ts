// Before routing: the model name a client sent, as the `provider/model` the router needs. An alias from the config
// wins; a name whose part before the first '/' is a configured provider is already qualified; anything else goes
// to the route's default provider when it has one (`/anthropic/...` → anthropic, so `claude-sonnet-4-5` works, and
// so does an OpenRouter-style `meta-llama/llama-3` sent to `/openai/...`). A name that resolves to nothing is left
// as it is, for the router to refuse with its own error.

import type { ProviderConfig } from '../config/types.js';

export type ModelResolver = (name: string) => string;

export function createModelResolver(providers: ReadonlyMap<string, ProviderConfig>,
  aliases: Readonly<Record<string, string>>, defaultProvider: string | null): ModelResolver {
  const fallbackProvider = defaultProvider !== null && providers.has(defaultProvider) ? defaultProvider : null;
  return (name) => {
    if (Object.hasOwn(aliases, name)) return aliases[name];
    const slash = name.indexOf('/');
    if (slash > 0 && providers.has(name.slice(0, slash))) return name;
    return fallbackProvider ? `${fallbackProvider}/${name}` : name;
  };
}
