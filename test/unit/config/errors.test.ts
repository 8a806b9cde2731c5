import { describe, expect, it } from 'vitest';
import { acceptedKeys, ConfigError, didYouMean, editDistance, formatPath } from '../../../src/config/errors.js';
import { configSchema } from '../../../src/config/schema.js';

describe('config errors', () => {
  it('counts a swapped pair of letters as one edit', () => {
    expect(editDistance('openia', 'openai')).toBe(1);
    expect(editDistance('base_urll', 'base_url')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests only plausible typos', () => {
    expect(didYouMean('concurency', ['concurrency', 'buffer_size', 'threads'])).toBe('concurrency');
    expect(didYouMean('xyz', ['concurrency', 'buffer_size'])).toBeNull();
  });

  it('formats paths with indices in brackets', () => {
    expect(formatPath(['providers', 'openai', 'keys', 0, 'value'])).toBe('providers.openai.keys[0].value');
  });

  it('finds the keys an object accepts by walking the schema', () => {
    expect(acceptedKeys(configSchema, ['providers', 'anything', 'network_config'])).toContain('retry_backoff_max_ms');
    expect(acceptedKeys(configSchema, ['providers', 'x', 'keys', 3])).toContain('blacklisted_models');
    expect(acceptedKeys(configSchema, ['plugins', 0])).toEqual(expect.arrayContaining(['name', 'enabled', 'path']));
    expect(acceptedKeys(configSchema, [])).toContain('$schema');
  });

  it('lists every problem on its own line, with no stack trace', () => {
    const err = new ConfigError(
      [
        { path: 'a.b', message: 'first' },
        { path: 'c', message: 'second' },
      ],
      'x.json',
    );
    expect(err.message).toBe('invalid config (x.json):\n  a.b: first\n  c: second');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
  });
});
