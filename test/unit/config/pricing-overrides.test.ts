// `providers.<name>.pricing_overrides` in Bifrost's shape: validated strictly at boot, converted to the price table's
// units, and the Bifrost fields Heimdall does not price by reported as ignored.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from './helpers.js';

const withOverrides = (overrides: unknown[]) =>
  ({ providers: { openai: { keys: [{ value: 'sk-x', models: ['*'] }], pricing_overrides: overrides } } });
const load = (overrides: unknown[]) => loadConfig({ raw: withOverrides(overrides), env: {} });

describe('pricing_overrides', () => {
  it('loads each match kind, in per-million units, request types kept', async () => {
    const cfg = await load([
      { model_pattern: 'gpt-4o', match_type: 'exact', input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001,
        cache_read_input_token_cost: 0.00000125 },
      { model_pattern: 'ft:*', match_type: 'wildcard', request_types: ['chat_completion', 'chat_completion_stream'],
        input_cost_per_token: 3e-7, max_output_tokens: 4096 },
      { model_pattern: '^o[0-9]', match_type: 'regex', output_cost_per_image: 0.05, input_cost_per_character: 1.5e-5 },
    ]);
    const [exact, wildcard, regex] = cfg.providers[0].pricingOverrides;
    expect(exact).toEqual({ modelPattern: 'gpt-4o', matchType: 'exact', requestTypes: [], price: { in: 2.5, out: 10, cachedIn: 1.25 } });
    expect(wildcard).toEqual({ modelPattern: 'ft:*', matchType: 'wildcard', requestTypes: ['chat_completion', 'chat_completion_stream'],
      price: { in: 0.3, maxOutput: 4096 } });
    expect(regex.price).toEqual({ perCharacter: 1.5e-5, perImage: { '*': { '*': 0.05 } } });
    expect(cfg.ignoredKeys.some((key) => key.includes('pricing_overrides'))).toBe(false);
  });

  it('refuses an unknown key with a hint, a bad match type, a bad regex and a negative price', async () => {
    const err = await configError(() => load([
      { model_pattern: 'a', match_type: 'exact', input_cost_per_tokens: 1 },
      { model_pattern: 'b', match_type: 'glob' },
      { model_pattern: '([', match_type: 'regex' },
      { model_pattern: 'c', match_type: 'exact', output_cost_per_token: -1 },
      { model_pattern: 'gpt-*', match_type: 'exact' },
      { model_pattern: 'gpt', match_type: 'wildcard' },
      { model_pattern: 'd', match_type: 'exact', request_types: ['chat'] },
    ]));
    const at = (i: number) => err.problems.filter((p) => p.path.startsWith(`providers.openai.pricing_overrides[${i}]`));
    expect(at(0)).toEqual([{ path: 'providers.openai.pricing_overrides[0].input_cost_per_tokens',
      message: "unknown key 'input_cost_per_tokens' — did you mean 'input_cost_per_token'?" }]);
    expect(at(1)[0].message).toContain('"exact", "wildcard", "regex"');
    expect(at(2)[0]).toMatchObject({ path: 'providers.openai.pricing_overrides[2].model_pattern' });
    expect(at(2)[0].message).toMatch(/not a valid regular expression/);
    expect(at(3)[0]).toMatchObject({ path: 'providers.openai.pricing_overrides[3].output_cost_per_token', message: 'must be >= 0' });
    expect(at(4)[0].message).toMatch(/exact model_pattern cannot contain '\*'/);
    expect(at(5)[0].message).toMatch(/wildcard model_pattern needs a '\*'/);
    expect(at(6)[0].path).toBe('providers.openai.pricing_overrides[6].request_types[0]');
  });

  it('refuses two long-context tiers in one override', async () => {
    const err = await configError(() => load([{ model_pattern: 'a', match_type: 'exact',
      input_cost_per_token_above_128k_tokens: 1e-6, input_cost_per_token_above_200k_tokens: 2e-6 }]));
    expect(err.problems[0].message).toMatch(/one long-context tier/);
  });

  it('loads the Bifrost fields it does not price by, and reports them as ignored', async () => {
    const cfg = await load([{ model_pattern: 'a', match_type: 'exact', input_cost_per_token_batches: 1e-6 }]);
    expect(cfg.ignoredKeys).toContain('providers.openai.pricing_overrides[0].input_cost_per_token_batches');
  });
});
