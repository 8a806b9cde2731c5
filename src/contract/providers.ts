// What the front thread may know about providers without importing worker code: which adapter ids exist,
// whether they need a key, and the environment variable that enables them in the embedded default config.
// The adapters themselves live in workers/providers/; a test keeps this table and that registry in step.

export interface ProviderFacts {
  /** The standard environment variable holding this provider's key, if it has one. */
  readonly envKey: string | null;
  readonly keyless: boolean;
  /** Adapters that custom providers may name as `custom_provider_config.base_provider_type`. */
  readonly canBeBase: boolean;
}

export const PROVIDER_FACTS: Readonly<Record<string, ProviderFacts>> = Object.freeze({
  openai: { envKey: 'OPENAI_API_KEY', keyless: false, canBeBase: true },
  mock: { envKey: null, keyless: true, canBeBase: false },
});

export function isKnownAdapter(id: string): boolean {
  return Object.hasOwn(PROVIDER_FACTS, id);
}
