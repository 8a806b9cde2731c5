// The OpenAI-compatible family in configuration: the embedded default enables each provider whose standard key
// variable is set; the local servers (Ollama, vLLM, SGLang) take no key, and vLLM and SGLang need a base URL.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from './helpers.js';

const KEYED: [string, string][] = [
  ['mistral', 'MISTRAL_API_KEY'], ['groq', 'GROQ_API_KEY'], ['openrouter', 'OPENROUTER_API_KEY'], ['xai', 'XAI_API_KEY'],
  ['deepseek', 'DEEPSEEK_API_KEY'], ['cerebras', 'CEREBRAS_API_KEY'], ['perplexity', 'PERPLEXITY_API_KEY'],
  ['together', 'TOGETHER_API_KEY'], ['fireworks', 'FIREWORKS_API_KEY'], ['huggingface', 'HF_TOKEN'],
  ['parasail', 'PARASAIL_API_KEY'], ['nebius', 'NEBIUS_API_KEY'],
];

describe('embedded default config and the OpenAI-compatible providers', () => {
  it.each(KEYED)('%s is enabled by %s, with that key', async (name, envKey) => {
    const cfg = await loadConfig({ env: { [envKey]: `key-of-${name}` } });
    expect(cfg.providers.map((p) => p.name).sort()).toEqual(['mock', name].sort());
    const provider = cfg.providers.find((p) => p.name === name)!;
    expect(provider.adapter).toBe(name);
    expect(provider.keys.map((k) => k.value)).toEqual([`key-of-${name}`]);
    expect(provider.network.baseUrl).toBeNull();
  });

  it('enables none of them when no key variable is set, and several when several are', async () => {
    expect((await loadConfig({ env: {} })).providers.map((p) => p.name)).toEqual(['mock']);
    const cfg = await loadConfig({ env: { GROQ_API_KEY: 'g', MISTRAL_API_KEY: 'm', UNRELATED: 'x' } });
    expect(cfg.providers.map((p) => p.name).sort()).toEqual(['groq', 'mistral', 'mock']);
  });
});

describe('keyless local servers', () => {
  it('ollama needs no key and no base URL; a key given is kept (it is still sent)', async () => {
    const cfg = await loadConfig({ raw: { providers: { ollama: {} } }, env: {} });
    expect(cfg.providers[0]).toMatchObject({ name: 'ollama', keyless: true, keys: [] });
    const keyed = await loadConfig({ raw: { providers: { ollama: { keys: [{ value: 'sk-local' }] } } }, env: {} });
    expect(keyed.providers[0].keys.map((k) => k.value)).toEqual(['sk-local']);
  });

  it.each(['vllm', 'sglang'])('%s needs no key but a base URL', async (name) => {
    const cfg = await loadConfig({ raw: { providers: { [name]: { network_config: { base_url: 'http://gpu:8000/' } } } }, env: {} });
    expect(cfg.providers[0]).toMatchObject({ name, keyless: true, keys: [], network: { baseUrl: 'http://gpu:8000' } });
    const error = await configError(() => loadConfig({ raw: { providers: { [name]: {} } }, env: {} }));
    expect(error.problems).toContainEqual(expect.objectContaining({ path: `providers.${name}.network_config.base_url` }));
  });

  it('huggingface can be a custom provider\'s base type (as in Bifrost), with a base URL of its own', async () => {
    const custom = { keys: [{ value: 'hf_x' }], custom_provider_config: { base_provider_type: 'huggingface' } };
    const cfg = await loadConfig({ raw: { providers: { 'my-tgi': { ...custom, network_config: { base_url: 'http://tgi:8080' } } } }, env: {} });
    expect(cfg.providers[0]).toMatchObject({ name: 'my-tgi', adapter: 'huggingface', network: { baseUrl: 'http://tgi:8080' } });
    const error = await configError(() => loadConfig({ raw: { providers: { 'my-tgi': custom } }, env: {} }));
    expect(error.problems).toContainEqual(expect.objectContaining({ path: 'providers.my-tgi.network_config.base_url' }));
  });

  it('keyed providers still refuse to load without a key', async () => {
    const error = await configError(() => loadConfig({ raw: { providers: { groq: {} } }, env: {} }));
    expect(error.problems).toContainEqual(expect.objectContaining({ path: 'providers.groq.keys' }));
  });
});
