import { describe, expect, it } from 'vitest';
import type { CircuitBreakerConfig, KeyConfig, ProviderConfig } from '../../../src/config/types.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import {
  CircuitBreakers, CircuitPass, CLOSED, HALF_OPEN, KeyBreaker, KeyCircuit, MODEL_BREAKERS_PER_KEY, OPEN, verdictOf, type BreakerState,
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

describe('what counts against a key, and against a model on it', () => {
  it('counts a refused key or an unreachable provider against the key, what one model does against that model', () => {
    for (const code of ['UPSTREAM_UNREACHABLE', 'UPSTREAM_AUTH'] as const) expect(verdictOf(code), code).toBe('key-failure');
    for (const code of ['UPSTREAM_ERROR', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'FIRST_TOKEN_TIMEOUT', 'STREAM_IDLE_TIMEOUT',
      'UPSTREAM_RATE_LIMITED', 'STREAM_INTERRUPTED'] as const) {
      expect(verdictOf(code), code).toBe('model-failure');
    }
    for (const code of ['UPSTREAM_BAD_REQUEST', 'UPSTREAM_NOT_FOUND', 'UPSTREAM_FORBIDDEN'] as const) {
      expect(verdictOf(code), code).toBe('success');
    }
    for (const code of ['CLIENT_CLOSED', 'QUEUE_FULL', 'WORKER_DIED', 'PROVIDER_SHUTTING_DOWN', 'CIRCUIT_OPEN',
      'INTERNAL'] as const) expect(verdictOf(code), code).toBe('neutral');
  });
});

describe('a key circuit: the key breaker and one breaker per failing model', () => {
  const setupCircuit = () => {
    const clock = { now: 0 };
    const transitions: [string | null, BreakerState][] = [];
    const circuit = new KeyCircuit('openai', 'primary', DEFAULTS, () => clock.now, (breaker, to) => transitions.push([breaker.model, to]));
    /** One request for `model` with the verdict of its only try. */
    const call = (model: string, verdict: Parameters<CircuitPass['judge']>[0]) => {
      const pass = CircuitPass.acquire(circuit, model);
      if (!pass) return false;
      pass.judge(verdict);
      pass.release();
      return true;
    };
    return { clock, circuit, transitions, call };
  };

  it("opens one model's breaker on its failures and leaves the key's other models alone", () => {
    const { circuit, call, transitions } = setupCircuit();
    expect(circuit.modelBreaker('broken', false)).toBeNull();
    for (let i = 0; i < 3; i++) expect(call('broken', 'model-failure')).toBe(true);
    expect(circuit.usable('broken')).toBe(false);
    expect(circuit.waitMs('broken')).toBe(5_000);
    expect(CircuitPass.acquire(circuit, 'broken')).toBeNull();
    expect(circuit.usable('healthy')).toBe(true);
    expect(circuit.breaker.state).toBe(CLOSED);
    expect(call('healthy', 'success')).toBe(true);
    expect(transitions).toEqual([['broken', OPEN]]);
    // Only the model that failed has a breaker of its own.
    expect([...circuit.all()].map((breaker) => breaker.model)).toEqual([null, 'broken']);
  });

  it('opens the key for every model on failures that concern the key', () => {
    const { circuit, call } = setupCircuit();
    call('a', 'key-failure');
    call('b', 'key-failure');
    call('c', 'key-failure');
    expect(circuit.breaker.state).toBe(OPEN);
    for (const model of ['a', 'b', 'z']) expect(circuit.usable(model)).toBe(false);
    expect(circuit.modelBreaker('a', false)).toBeNull();
  });

  it("a model's half-open probe closes only that model's breaker, and a success elsewhere does not close it", () => {
    const { clock, circuit, call } = setupCircuit();
    for (let i = 0; i < 3; i++) call('broken', 'model-failure');
    call('healthy', 'success');
    expect(circuit.usable('broken')).toBe(false);
    clock.now += 5_000;
    const probe = CircuitPass.acquire(circuit, 'broken')!;
    expect(circuit.modelBreaker('broken', false)!.state).toBe(HALF_OPEN);
    // The one probe is out.
    expect(CircuitPass.acquire(circuit, 'broken')).toBeNull();
    probe.judge('success');
    expect(circuit.modelBreaker('broken', false)!.state).toBe(CLOSED);
  });

  it('a failure that arrives after another request opened the new model breaker says nothing new', () => {
    const { circuit, call } = setupCircuit();
    const early = CircuitPass.acquire(circuit, 'broken')!;
    for (let i = 0; i < 3; i++) call('broken', 'model-failure');
    const breaker = circuit.modelBreaker('broken', false)!;
    expect(breaker.state).toBe(OPEN);
    early.judge('model-failure');
    early.release();
    expect(breaker.state).toBe(OPEN);
    expect(breaker.waitMs).toBe(5_000);
  });

  it(`keeps at most ${MODEL_BREAKERS_PER_KEY} model breakers per key: a closed one makes way, an open one stays`, () => {
    const { circuit, call } = setupCircuit();
    for (let i = 0; i < 3; i++) call('open-one', 'model-failure');
    for (let i = 1; i < MODEL_BREAKERS_PER_KEY; i++) call(`m${i}`, 'model-failure');
    expect([...circuit.all()]).toHaveLength(1 + MODEL_BREAKERS_PER_KEY);
    call('newest', 'model-failure');
    const models = [...circuit.all()].map((breaker) => breaker.model);
    expect(models).toHaveLength(1 + MODEL_BREAKERS_PER_KEY);
    expect(models).toContain('open-one');
    expect(models).toContain('newest');
    expect(models).not.toContain('m1');
    // Every breaker open: a new model's failure is not tracked per model, and nothing is evicted.
    for (let i = 2; i < MODEL_BREAKERS_PER_KEY; i++) for (let j = 0; j < 3; j++) call(`m${i}`, 'model-failure');
    for (let j = 0; j < 3; j++) call('newest', 'model-failure');
    expect(circuit.modelBreaker('another', true)).toBeNull();
    expect(call('another', 'model-failure')).toBe(true);
    expect([...circuit.all()].map((breaker) => breaker.model)).not.toContain('another');
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
  const trip = (circuit: KeyCircuit) => {
    for (let i = 0; i < 3; i++) circuit.breaker.failed(circuit.breaker.acquire()!);
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

  it("skips a key whose breaker for the model is open, for that model only", () => {
    const [, b] = breakers.of('openai')!;
    clock.now += 60_000;
    for (let i = 0; i < 3; i++) {
      const pass = CircuitPass.acquire(b, 'o3')!;
      pass.judge('model-failure');
      pass.release();
    }
    for (let i = 0; i < 30; i++) expect(routeModel('openai/o3', providers, breakers).keyIndex).toBe(0);
    const picked = new Set(Array.from({ length: 60 }, () => routeModel('openai/gpt-4o', providers, breakers).keyIndex));
    expect(picked).toEqual(new Set([0, 1]));
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
