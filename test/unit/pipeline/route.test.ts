import { describe, expect, it } from 'vitest';
import type { KeyConfig, ProviderConfig } from '../../../src/config/types.js';
import { GatewayError, statusOf } from '../../../src/errors/gateway-error.js';
import { chooseKey, routeModel } from '../../../src/pipeline/route.js';

const key = (id: string, weight: number, models: string[] | null = null, extra: Partial<KeyConfig> = {}): KeyConfig =>
  ({ id, name: id, value: `sk-${id}`, models, blacklistedModels: [], weight, enabled: true, providerConfigs: {}, ...extra });

function seeded(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

describe('key choice', () => {
  it('follows the weights', () => {
    const keys = [key('a', 0.7), key('b', 0.3)];
    const random = seeded(7);
    const counts = [0, 0];
    for (let i = 0; i < 10_000; i++) counts[chooseKey(keys, 'gpt-4o', random)]++;
    expect(counts[0] / 10_000).toBeGreaterThan(0.66);
    expect(counts[0] / 10_000).toBeLessThan(0.74);
  });

  it('skips disabled keys, keys whose models exclude the model, and blacklisted models', () => {
    const keys = [key('off', 5, null, { enabled: false }), key('mini', 5, ['gpt-4o-mini']), key('bl', 5, null, { blacklistedModels: ['gpt-4o'] }), key('ok', 1)];
    for (let i = 0; i < 50; i++) expect(chooseKey(keys, 'gpt-4o')).toBe(3);
    expect(chooseKey([key('none', 1, [])], 'gpt-4o')).toBe(-1);
  });

  it('is uniform when every weight is zero', () => {
    const keys = [key('a', 0), key('b', 0)];
    const random = seeded(3);
    const counts = [0, 0];
    for (let i = 0; i < 4_000; i++) counts[chooseKey(keys, 'm', random)]++;
    expect(Math.abs(counts[0] - counts[1])).toBeLessThan(400);
  });
});

describe('model routing', () => {
  const openai = { name: 'openai', keyless: false, keys: [key('k', 1, ['gpt-4o'])] } as unknown as ProviderConfig;
  const providers = new Map([['openai', openai]]);
  const codeOf = (fn: () => unknown) => {
    try { fn(); } catch (error) { return (error as GatewayError).data.code; }
    return null;
  };

  it('splits on the first slash only', () => {
    const nested = { name: 'openai', keyless: false, keys: [key('k', 1)] } as unknown as ProviderConfig;
    expect(routeModel('openai/org/model-v1', new Map([['openai', nested]])).model).toBe('org/model-v1');
  });

  it('refuses unknown providers, bare names and models no key allows', () => {
    expect(routeModel('openai/gpt-4o', providers)).toMatchObject({ model: 'gpt-4o', keyIndex: 0 });
    expect(codeOf(() => routeModel('anthropic/claude', providers))).toBe('UNKNOWN_PROVIDER');
    expect(codeOf(() => routeModel('gpt-4o', providers))).toBe('UNKNOWN_PROVIDER');
    expect(codeOf(() => routeModel('openai/', providers))).toBe('UNKNOWN_PROVIDER');
    expect(codeOf(() => routeModel('openai/gpt-3.5', providers))).toBe('MODEL_NOT_ALLOWED');
  });
});

describe('a configured provider that no adapter serves', () => {
  it('is refused with 404 saying it is not served, not that it is unknown', () => {
    const openai = { name: 'openai', keyless: false, keys: [key('k', 1)] } as unknown as ProviderConfig;
    let error: GatewayError | null = null;
    try {
      routeModel('elevenlabs/eleven_v3', new Map([['openai', openai]]), null, new Set(['elevenlabs']));
    } catch (caught) {
      error = caught as GatewayError;
    }
    expect(error?.data.code).toBe('UNKNOWN_PROVIDER');
    expect(statusOf(error!.data)).toBe(404);
    expect(error?.message).toBe("provider 'elevenlabs' is in the config but Heimdall has no adapter for it yet, so it is not served; "
      + 'served providers: openai');
  });
});
