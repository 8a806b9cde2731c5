import { describe, expect, it } from 'vitest';
import type { CircuitBreakerConfig, KeyConfig, ProviderConfig } from '../../../src/config/types.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import {
  CircuitBreakers, CLOSED, HALF_OPEN, KeyBreaker, OPEN, verdictOf, type BreakerState,
} from '../../../src/pipeline/breaker.js';
import { routeModel } from '../../../src/pipeline/route.js';

const DEFAULTS: CircuitBreakerConfig = {
  enabled: true, consecutiveFailures: 3, errorRateThreshold: 0.5, windowSeconds: 10, minRequests: 10,
  cooldownSeconds: 5, maxCooldownSeconds: 15, halfOpenProbes: 1,
};

function setup(config: Partial<CircuitBreakerConfig> = {}) {
  const clock = { now: 1_000 };
  const transitions: BreakerState[] = [];
  const breaker = new KeyBreaker('openai', 'primary', { ...DEFAULTS, ...config }, () => clock.now,
    (_, to) => transitions.push(to));
  const fail = (times = 1) => {
    for (let i = 0; i < times; i++) breaker.failed(breaker.acquire()!);
  };
  const succeed = (times = 1) => {
    for (let i = 0; i < times; i++) breaker.succeeded(breaker.acquire()!);
  };
  return { clock, transitions, breaker, fail, succeed };
}

describe('key circuit breaker', () => {
  it('opens after consecutive failures; a success in between starts the count again', () => {
    const { breaker, fail, succeed, transitions } = setup();
    fail(2);
    succeed();
    fail(2);
    expect(breaker.state).toBe(CLOSED);
    fail();
    expect(breaker.state).toBe(OPEN);
    expect(breaker.usable).toBe(false);
    expect(breaker.acquire()).toBeNull();
    expect(transitions).toEqual([OPEN]);
  });

  it('opens on the error rate over the window only once it holds min_requests tries', () => {
    const { breaker, fail, succeed } = setup({ consecutiveFailures: 100 });
    // 4 of 8 failed: half, but under min_requests.
    for (let i = 0; i < 4; i++) {
      succeed();
      fail();
    }
    expect(breaker.state).toBe(CLOSED);
    succeed();
    fail();
    expect(breaker.state).toBe(OPEN);
  });

  it('forgets tries older than the window', () => {
    const { breaker, fail, succeed, clock } = setup({ consecutiveFailures: 100 });
    fail(6);
    succeed(3);
    // Past the window: the six failures are gone, and these eleven tries are mostly successes.
    clock.now += 10_500;
    succeed(8);
    fail(3);
    expect(breaker.state).toBe(CLOSED);
    // Within the window the failures add up again.
    clock.now += 4_000;
    fail(4);
    expect(breaker.state).toBe(CLOSED);
    fail();
    expect(breaker.state).toBe(OPEN);
  });

  it('half-opens after the cool-down, lets one probe through, and a probe success closes it', () => {
    const { breaker, fail, clock, transitions } = setup();
    fail(3);
    clock.now += 4_999;
    expect(breaker.state).toBe(OPEN);
    expect(breaker.waitMs).toBe(1);
    clock.now += 1;
    expect(breaker.state).toBe(HALF_OPEN);
    const probe = breaker.acquire()!;
    expect(probe).not.toBeNull();
    expect(breaker.usable).toBe(false);
    expect(breaker.acquire()).toBeNull();
    breaker.succeeded(probe);
    expect(breaker.state).toBe(CLOSED);
    expect(transitions).toEqual([OPEN, HALF_OPEN, CLOSED]);
    // Closed afresh: it takes the full count of failures to open again.
    fail(2);
    expect(breaker.state).toBe(CLOSED);
  });

  it('a probe failure re-opens it with the cool-down doubled, up to the max; a success resets the cool-down', () => {
    const { breaker, fail, clock } = setup();
    fail(3);
    const cooldowns: number[] = [];
    for (let round = 0; round < 3; round++) {
      clock.now += breaker.waitMs;
      breaker.failed(breaker.acquire()!);
      expect(breaker.state).toBe(OPEN);
      cooldowns.push(breaker.waitMs);
    }
    expect(cooldowns).toEqual([10_000, 15_000, 15_000]);
    clock.now += breaker.waitMs;
    breaker.succeeded(breaker.acquire()!);
    fail(3);
    expect(breaker.waitMs).toBe(5_000);
  });

  it('a released probe frees its slot; answers from before the breaker opened change nothing', () => {
    const { breaker, fail, clock } = setup({ halfOpenProbes: 2 });
    const early = breaker.acquire()!;
    fail(3);
    breaker.succeeded(early);
    expect(breaker.state).toBe(OPEN);
    clock.now += 5_000;
    const first = breaker.acquire()!;
    const second = breaker.acquire()!;
    expect(breaker.acquire()).toBeNull();
    breaker.released(first);
    expect(breaker.usable).toBe(true);
    // The second probe fails: open again. A probe of that ended round answering late is ignored.
    breaker.failed(second);
    expect(breaker.state).toBe(OPEN);
    clock.now += 10_000;
    expect(breaker.state).toBe(HALF_OPEN);
    breaker.succeeded(second);
    expect(breaker.state).toBe(HALF_OPEN);
  });
});

describe('what counts against a key', () => {
  it('counts provider and key failures, takes the provider refusing the request as an answer, and ignores the rest', () => {
    for (const code of ['UPSTREAM_ERROR', 'UPSTREAM_UNREACHABLE', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT',
      'FIRST_TOKEN_TIMEOUT', 'STREAM_IDLE_TIMEOUT', 'UPSTREAM_RATE_LIMITED', 'UPSTREAM_AUTH', 'STREAM_INTERRUPTED'] as const) {
      expect(verdictOf(code), code).toBe('failure');
    }
    for (const code of ['UPSTREAM_BAD_REQUEST', 'UPSTREAM_NOT_FOUND', 'UPSTREAM_FORBIDDEN'] as const) {
      expect(verdictOf(code), code).toBe('success');
    }
    for (const code of ['CLIENT_CLOSED', 'QUEUE_FULL', 'WORKER_DIED', 'PROVIDER_SHUTTING_DOWN', 'CIRCUIT_OPEN',
      'INTERNAL'] as const) expect(verdictOf(code), code).toBe('neutral');
  });
});

describe('routing around open breakers', () => {
  const key = (name: string, models: string[] | null = null): KeyConfig =>
    ({ id: name, name, value: `sk-${name}`, models, blacklistedModels: [], weight: 1, enabled: true, providerConfigs: {} });
  const provider = (name: string, keys: KeyConfig[], breaker: Partial<CircuitBreakerConfig> = {}): ProviderConfig =>
    ({ name, adapter: 'openai', keyless: keys.length === 0, keys, circuitBreaker: { ...DEFAULTS, ...breaker } }) as unknown as ProviderConfig;
  const openai = provider('openai', [key('a'), key('b'), key('mini', ['gpt-4o-mini'])]);
  const local = provider('local', []);
  const off = provider('off', [key('only')], { enabled: false });
  const providers = new Map([openai, local, off].map((p) => [p.name, p]));
  const clock = { now: 0 };
  const breakers = new CircuitBreakers([...providers.values()], () => {}, () => clock.now);
  const trip = (breaker: KeyBreaker) => {
    for (let i = 0; i < 3; i++) breaker.failed(breaker.acquire()!);
  };
  const codeOf = (qualified: string) => {
    try {
      routeModel(qualified, providers, breakers);
      return null;
    } catch (error) {
      return (error as GatewayError).data;
    }
  };

  it('skips an open key, and answers CIRCUIT_OPEN with Retry-After once every key for the model is open', () => {
    const [a, b] = breakers.of('openai')!;
    trip(a);
    for (let i = 0; i < 30; i++) expect(routeModel('openai/gpt-4o', providers, breakers).keyIndex).toBe(1);
    clock.now += 2_000;
    trip(b);
    // `mini` stays closed but does not allow gpt-4o; `a` half-opens first, in 3 s.
    expect(codeOf('openai/gpt-4o')).toMatchObject({ code: 'CIRCUIT_OPEN', provider: 'openai', retryAfter: 3 });
    expect(routeModel('openai/gpt-4o-mini', providers, breakers).keyIndex).toBe(2);
    expect(codeOf('openai/o1')).toMatchObject({ code: 'CIRCUIT_OPEN' });
    clock.now += 3_000;
    expect(routeModel('openai/gpt-4o', providers, breakers)).toMatchObject({ keyIndex: 0, breaker: a });
  });

  it('guards a keyless provider as one key, and never skips a key whose provider turned the breaker off', () => {
    const [only] = breakers.of('local')!;
    expect(only.key).toBe('keyless');
    trip(only);
    expect(codeOf('local/llama')).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(breakers.of('off')).toBeNull();
    expect(routeModel('off/gpt-4o', providers, breakers)).toMatchObject({ keyIndex: 0, breaker: null });
  });
});
