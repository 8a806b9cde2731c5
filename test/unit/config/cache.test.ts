// The `semantic_cache` plugin entry: Bifrost's keys and defaults, strict validation with hints, and its checks
// against the providers (an embedding provider must exist and make embeddings).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from './helpers.js';

const providers = { openai: { keys: [{ value: 'sk-x', models: ['*'] }] }, mock: {} };
const load = (config: unknown) => loadConfig({ raw: { providers, plugins: [{ name: 'semantic_cache', enabled: true, config }] }, env: {} });

describe('semantic_cache config', () => {
  it("reads Bifrost's defaults: 5 min TTL, threshold 0.8, scoped by model, provider and virtual key; direct-only without a provider", async () => {
    const cache = (await load({})).cache!;
    expect(cache).toMatchObject({ ttlMs: 300_000, threshold: 0.8, byModel: true, byProvider: true, byVirtualKey: true,
      embedding: null, defaultCacheKey: null, maxMessages: 3, store: { type: 'memory' } });
  });

  it('takes the embedding provider and model, TTL as seconds or a duration, and dimension 1 as direct-only', async () => {
    const semantic = (await load({ provider: 'openai', embedding_model: 'text-embedding-3-small', ttl: 60, threshold: 0.9 })).cache!;
    expect(semantic.embedding).toEqual({ provider: 'openai', model: 'text-embedding-3-small' });
    expect(semantic.ttlMs).toBe(60_000);
    expect((await load({ ttl: '10m' })).cache!.ttlMs).toBe(600_000);
    expect((await load({ provider: 'openai', embedding_model: 'e', dimension: 1 })).cache!.embedding).toBeNull();
  });

  it('is off when absent or disabled, and is not a plugin of its own', async () => {
    expect((await loadConfig({ raw: { providers }, env: {} })).cache).toBeNull();
    const disabled = await loadConfig({ raw: { providers, plugins: [{ name: 'semantic_cache', enabled: false, config: {} }] }, env: {} });
    expect(disabled.cache).toBeNull();
    expect((await load({})).plugins.map((p) => p.name)).not.toContain('semantic_cache');
  });

  it('refuses unknown keys with a hint, bad values, and an embedding provider that cannot embed', async () => {
    const unknown = await configError(() => load({ treshold: 0.9 }));
    expect(unknown.message).toContain('plugins[0].config');
    expect(unknown.message).toContain("did you mean 'threshold'");
    expect((await configError(() => load({ threshold: 2 }))).message).toContain('threshold');
    expect((await configError(() => load({ ttl: 'forever' }))).message).toContain('ttl');
    expect((await configError(() => load({ provider: 'openai' }))).message).toContain('provider and embedding_model go together');
    expect((await configError(() => load({ provider: 'nope', embedding_model: 'e' }))).message).toContain("'nope' is not a configured provider");
    const noEmbeddings = () => loadConfig({ raw: { providers: { ...providers, anthropic: { keys: [{ value: 'sk-ant', models: ['*'] }] } },
      plugins: [{ name: 'semantic_cache', config: { provider: 'anthropic', embedding_model: 'e' } }] }, env: {} });
    expect((await configError(noEmbeddings)).message).toContain('cannot make embeddings');
    expect((await configError(() => load({ store: { type: 'redis' } }))).message).toContain('redis_url');
    expect((await configError(() => load({ store: { type: 'memcached' } }))).message).toContain('store');
  });
});
