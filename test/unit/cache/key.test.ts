// The cache's keys: what splits entries and what does not, and the semantic scope that leaves out only the last user
// message; and the request headers' checks.
import { describe, expect, it } from 'vitest';
import { cacheKeys, canonicalJson, type KeyParts } from '../../../src/cache/key.js';
import { cacheDirectives } from '../../../src/cache/index.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';

const parts = (body: Record<string, unknown>, overrides: Partial<KeyParts> = {}): KeyParts => ({
  namespace: 'default', cacheKey: 'k', dialect: 'openai', kind: 'chat', native: false, stream: false, provider: 'openai',
  model: 'gpt-4o-mini', virtualKey: '', body, excludeSystemPrompt: false, ...overrides,
});
const chat = (messages: unknown[], extra: Record<string, unknown> = {}) => ({ model: 'openai/gpt-4o-mini', messages, ...extra });
const user = (content: string) => ({ role: 'user', content });

describe('cacheKeys', () => {
  it('ignores key order, stream and fallbacks; splits on everything else', () => {
    const base = cacheKeys(parts(chat([user('hi')], { max_tokens: 5 }))).exact;
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    expect(cacheKeys(parts({ max_tokens: 5, messages: [user('hi')], stream: true, fallbacks: ['x/y'], model: 'other' })).exact).toBe(base);
    for (const changed of [parts(chat([user('hi')], { max_tokens: 6 })), parts(chat([user('hi')], { max_tokens: 5 }), { dialect: 'anthropic' }),
      parts(chat([user('hi')], { max_tokens: 5 }), { model: 'gpt-4o' }), parts(chat([user('hi')], { max_tokens: 5 }), { virtualKey: 'vk' }),
      parts(chat([user('hi')], { max_tokens: 5 }), { cacheKey: 'other' })]) {
      expect(cacheKeys(changed).exact).not.toBe(base);
    }
  });

  it('a native answer keys on stream too: the provider\'s stream cannot serve a JSON request', () => {
    const body = chat([user('hi')]);
    expect(cacheKeys(parts(body, { native: true, stream: true })).exact).not.toBe(cacheKeys(parts(body, { native: true })).exact);
    expect(cacheKeys(parts(body, { stream: true })).exact).toBe(cacheKeys(parts(body)).exact);
  });

  it('exclude_system_prompt leaves system and developer messages out', () => {
    const a = chat([{ role: 'system', content: 'Be brief.' }, user('hi')]);
    const b = chat([{ role: 'developer', content: 'Be long.' }, user('hi')]);
    expect(cacheKeys(parts(a)).exact).not.toBe(cacheKeys(parts(b)).exact);
    expect(cacheKeys(parts(a, { excludeSystemPrompt: true })).exact).toBe(cacheKeys(parts(b, { excludeSystemPrompt: true })).exact);
  });

  it('the semantic scope is the request less its last user message, whose text is what gets embedded', () => {
    const one = cacheKeys(parts(chat([user('first'), { role: 'assistant', content: 'ok' }, user('What is 2+2?')])));
    const two = cacheKeys(parts(chat([user('first'), { role: 'assistant', content: 'ok' }, { role: 'user', content: [{ type: 'text', text: 'two plus two?' }] }])));
    expect(one.text).toBe('What is 2+2?');
    expect(two.text).toBe('two plus two?');
    expect(one.scope).toBe(two.scope);
    expect(one.exact).not.toBe(two.exact);
    expect(cacheKeys(parts(chat([user('other first'), { role: 'assistant', content: 'ok' }, user('What is 2+2?')]))).scope).not.toBe(one.scope);
    expect(cacheKeys(parts({ model: 'e', input: 'x' }, { kind: 'embeddings' })).scope).toBeNull();
  });
});

describe('cacheDirectives', () => {
  it('reads the headers', () => {
    expect(cacheDirectives({})).toEqual({ cacheKey: null, ttlMs: null, threshold: null, type: null, noStore: false });
    expect(cacheDirectives({ 'x-bf-cache-key': 'a', 'x-bf-cache-ttl': '90', 'x-bf-cache-threshold': '0.9', 'x-bf-cache-type': 'direct',
      'x-bf-cache-no-store': 'true' })).toEqual({ cacheKey: 'a', ttlMs: 90_000, threshold: 0.9, type: 'direct', noStore: true });
    expect(cacheDirectives({ 'x-bf-cache-ttl': '5m' }).ttlMs).toBe(300_000);
    expect(cacheDirectives({ 'x-bf-cache-ttl': '250ms' }).ttlMs).toBe(250);
  });

  it('refuses values that mean nothing, naming the header', () => {
    for (const [name, value] of [['x-bf-cache-ttl', '-1'], ['x-bf-cache-ttl', '2y'], ['x-bf-cache-threshold', ''], ['x-bf-cache-threshold', '-0.1'],
      ['x-bf-cache-type', 'both'], ['x-bf-cache-no-store', '1'], ['x-bf-cache-key', 'x'.repeat(257)]]) {
      let thrown: unknown;
      try {
        cacheDirectives({ [name]: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, `${name}: ${value}`).toBeInstanceOf(GatewayError);
      expect((thrown as GatewayError).data).toMatchObject({ code: 'INVALID_REQUEST', param: name });
    }
  });
});
