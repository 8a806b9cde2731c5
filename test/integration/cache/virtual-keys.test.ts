// Entries never cross virtual keys while `cache_by_virtual_key` is on (the default); turned off, keys share them.
// A hit also settles the key's spend at zero.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGoverned, type GovernedGateway } from '../governance/gateway.js';
import { openaiProvider } from '../harness.js';

const ALICE = 'sk-bf-cache-alice-000000000001';
const BOB = 'sk-bf-cache-bob-00000000000001';

const config = (byKey: boolean) => (fakeUrl: string) => ({
  providers: { openai: openaiProvider(fakeUrl) },
  governance: { virtual_keys: [ALICE, BOB].map((value, i) => ({ id: `vk-${i}`, name: `vk${i}`, value,
    provider_configs: [{ provider: 'openai', allowed_models: ['*'] }] })) },
  plugins: [{ name: 'semantic_cache', config: { cache_by_virtual_key: byKey } }],
});

const ask = (url: string, key: string, prompt: string) => fetch(`${url}/v1/chat/completions`, { method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-bf-cache-key': 'vk' },
  body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }) });

describe('virtual keys and the cache', () => {
  let scoped: GovernedGateway;
  let shared: GovernedGateway;
  beforeAll(async () => {
    [scoped, shared] = await Promise.all([startGoverned(config(true)), startGoverned(config(false))]);
  });
  afterAll(async () => {
    await scoped?.close();
    await shared?.close();
  });

  it('keeps each key\'s entries to itself by default', async () => {
    await (await ask(scoped.url, ALICE, 'private question')).text();
    const own = await ask(scoped.url, ALICE, 'private question');
    await own.text();
    expect(own.headers.get('x-heimdall-cache')).toBe('hit');
    const other = await ask(scoped.url, BOB, 'private question');
    await other.text();
    expect(other.headers.get('x-heimdall-cache')).toBe('miss');
  });

  it('shares entries between keys when cache_by_virtual_key is off', async () => {
    await (await ask(shared.url, ALICE, 'public question')).text();
    const other = await ask(shared.url, BOB, 'public question');
    await other.text();
    expect(other.headers.get('x-heimdall-cache')).toBe('hit');
  });
});
