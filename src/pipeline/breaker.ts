// Circuit breakers on the front thread, scoped so that one failing model does not take its key's other models
// down: key choice (route.ts) skips a key whose breaker, or whose breaker for the requested model, is open, and the
// provider call (dispatch.ts) reports each try's verdict back through a CircuitPass.
//
// Two scopes, by what a failure says:
//   - the key (KEY_FAILURES): the provider refused the key (401) or could not be reached at all. Every model behind
//     the key fails alike, so the key's own breaker opens and the key leaves the rotation for all of them;
//   - the key × model (MODEL_FAILURES): 5xx answers, timeouts, rate limits, broken streams. These concern one model
//     (a deployment that is down, a model overloaded, a per-model rate limit, a slow reasoning model), so only that
//     model's breaker on that key opens and the key keeps serving the others. A provider that is down for every
//     model costs one model's `consecutive_failures` per model before each is skipped; that is the price of never
//     closing a healthy model because another failed.
// A model's breaker exists only once the model failed on the key, and a key holds at most MODEL_BREAKERS_PER_KEY of
// them (a closed one makes way for a newer one), so clients naming arbitrary models cannot grow the state or the
// metric's series without bound.
//
// Each breaker: a closed breaker opens after `consecutive_failures` failures in a row, or when failures reach
// `error_rate_threshold` of at least `min_requests` tries within the last `window_seconds`. After its cool-down it
// half-opens on the next look (no timer): up to `half_open_probes` requests go through; a probe's success closes it,
// a probe's failure opens it again with the cool-down doubled (up to `max_cooldown_seconds`). Every operation is
// O(1): the window is a fixed ring of buckets.

import type { CircuitBreakerConfig, ProviderConfig } from '../config/types.js';
import type { ErrorCode } from '../errors/codes.js';

/** The numbering of `BREAKER_STATES` in the metrics layout, which is also the state gauge's value. */
export const CLOSED = 0;
export const HALF_OPEN = 1;
export const OPEN = 2;
export type BreakerState = typeof CLOSED | typeof HALF_OPEN | typeof OPEN;

/** How many models' breakers one key keeps at most. */
export const MODEL_BREAKERS_PER_KEY = 64;

/**
 * Failures that say the key itself does not work, whatever the model: a 401 means the key is refused, an unreachable
 * provider fails every request sent with it.
 */
const KEY_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UPSTREAM_AUTH', 'UPSTREAM_UNREACHABLE']);
/**
 * Failures of one model behind the key. A 429 is here too: OpenAI and Anthropic limit rates per model, so another
 * model on the same key may well have room. A 403 is left out: providers use it for region or model access, which
 * no breaker changes.
 */
const MODEL_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UPSTREAM_ERROR', 'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT', 'FIRST_TOKEN_TIMEOUT', 'STREAM_IDLE_TIMEOUT', 'UPSTREAM_RATE_LIMITED', 'STREAM_INTERRUPTED']);
/** The provider answered, refusing the request rather than failing: proof that the key and provider work. */
const PROVIDER_ANSWERS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UPSTREAM_BAD_REQUEST', 'UPSTREAM_NOT_FOUND',
  'UPSTREAM_FORBIDDEN']);

export type Verdict = 'key-failure' | 'model-failure' | 'success' | 'neutral';

/**
 * What a try's error says: a failure of the key or of the model on it, a success (the provider answered), or nothing
 * at all (the gateway's own refusals, the client leaving, a worker dying).
 */
export function verdictOf(code: ErrorCode): Verdict {
  if (KEY_FAILURES.has(code)) return 'key-failure';
  if (MODEL_FAILURES.has(code)) return 'model-failure';
  return PROVIDER_ANSWERS.has(code) ? 'success' : 'neutral';
}

/** The rolling window is this many buckets, each `window / BUCKETS` long. */
const BUCKETS = 10;
/** A permit that is not a probe; probe permits carry the half-open round they belong to (≥ 1). */
const ORDINARY = 0;

export type Clock = () => number;

/** One breaker: a key's own, or a key's for one model. Times are milliseconds of `clock`. */
export class KeyBreaker {
  readonly provider: string;
  /** The key's configured name, the metric label: never its secret. */
  readonly key: string;
  /** The model this breaker guards on the key; null for the key's own breaker. */
  readonly model: string | null;
  #state: BreakerState = CLOSED;
  readonly #config: CircuitBreakerConfig;
  readonly #clock: Clock;
  readonly #onTransition: (breaker: KeyBreaker, to: BreakerState) => void;
  #consecutive = 0;
  readonly #tries = new Uint32Array(BUCKETS);
  readonly #failures = new Uint32Array(BUCKETS);
  readonly #bucketMs: number;
  /** Index of the bucket that started at `#bucketStart`; the others are older, in ring order. */
  #bucket = 0;
  #bucketStart = 0;
  #windowTries = 0;
  #windowFailures = 0;
  #halfOpenAt = 0;
  #cooldownMs: number;
  /** Numbers the half-open rounds, so that a probe answering after its round ended is not taken for a new one's. */
  #round = 0;
  #probes = 0;

  constructor(provider: string, key: string, config: CircuitBreakerConfig, clock: Clock,
    onTransition: (breaker: KeyBreaker, to: BreakerState) => void, model: string | null = null) {
    this.provider = provider;
    this.key = key;
    this.model = model;
    this.#config = config;
    this.#clock = clock;
    this.#onTransition = onTransition;
    this.#bucketMs = (config.windowSeconds * 1000) / BUCKETS;
    this.#cooldownMs = config.cooldownSeconds * 1000;
    this.#bucketStart = clock();
  }

  /** The state now: an open breaker whose cool-down ended reads (and becomes) half-open. */
  get state(): BreakerState {
    if (this.#state === OPEN && this.#clock() >= this.#halfOpenAt) this.#enter(HALF_OPEN);
    return this.#state;
  }

  /** May a request use this key now? Half-open: only while a probe is free. */
  get usable(): boolean {
    const state = this.state;
    return state === CLOSED || (state === HALF_OPEN && this.#probes < this.#config.halfOpenProbes);
  }

  /** Milliseconds until the key may take a request again: 0 when it may now. */
  get waitMs(): number {
    if (this.usable) return 0;
    // Half-open with every probe out: it depends on the probes, so the shortest sensible wait.
    return this.#state === OPEN ? this.#halfOpenAt - this.#clock() : 1000;
  }

  /**
   * Takes a permit for one request on this key, to hand back through succeeded/failed/released; null when the key
   * may not be used now. In half-open the permit is a probe.
   */
  acquire(): number | null {
    if (!this.usable) return null;
    if (this.#state === CLOSED) return ORDINARY;
    this.#probes++;
    return this.#round;
  }

  succeeded(permit: number): void {
    if (this.#isProbe(permit)) {
      this.#probes--;
      this.#cooldownMs = this.#config.cooldownSeconds * 1000;
      this.#enter(CLOSED);
      return;
    }
    if (this.#state !== CLOSED) return;
    this.#consecutive = 0;
    this.#record(false);
  }

  failed(permit: number): void {
    if (this.#isProbe(permit)) {
      this.#probes--;
      this.#cooldownMs = Math.min(this.#cooldownMs * 2, this.#config.maxCooldownSeconds * 1000);
      this.#open();
      return;
    }
    // Answers of requests sent before the breaker opened say nothing new.
    if (this.#state !== CLOSED) return;
    this.#consecutive++;
    this.#record(true);
    const config = this.#config;
    if (this.#consecutive >= config.consecutiveFailures
      || (this.#windowTries >= config.minRequests && this.#windowFailures >= config.errorRateThreshold * this.#windowTries)) {
      this.#open();
    }
  }

  /** The request ended with no verdict on the key (the client left, the gateway refused): its probe is free again. */
  released(permit: number): void {
    if (this.#isProbe(permit)) this.#probes--;
  }

  #isProbe(permit: number): boolean {
    return permit !== ORDINARY && permit === this.#round && this.#state === HALF_OPEN;
  }

  #open(): void {
    this.#halfOpenAt = this.#clock() + this.#cooldownMs;
    this.#enter(OPEN);
  }

  #enter(state: BreakerState): void {
    this.#state = state;
    if (state === HALF_OPEN) {
      this.#round++;
      this.#probes = 0;
    } else if (state === CLOSED) {
      // A fresh start: the failures that opened it are history.
      this.#consecutive = 0;
      this.#tries.fill(0);
      this.#failures.fill(0);
      this.#windowTries = 0;
      this.#windowFailures = 0;
      this.#bucketStart = this.#clock();
    }
    this.#onTransition(this, state);
  }

  #record(failure: boolean): void {
    const now = this.#clock();
    // Moves the ring forward to the bucket holding `now`, emptying the buckets it passes: at most BUCKETS steps.
    let steps = Math.floor((now - this.#bucketStart) / this.#bucketMs);
    if (steps > 0) {
      this.#bucketStart += steps * this.#bucketMs;
      for (steps = Math.min(steps, BUCKETS); steps > 0; steps--) {
        this.#bucket = (this.#bucket + 1) % BUCKETS;
        this.#windowTries -= this.#tries[this.#bucket];
        this.#windowFailures -= this.#failures[this.#bucket];
        this.#tries[this.#bucket] = 0;
        this.#failures[this.#bucket] = 0;
      }
    }
    this.#tries[this.#bucket]++;
    this.#windowTries++;
    if (failure) {
      this.#failures[this.#bucket]++;
      this.#windowFailures++;
    }
  }
}

/** A key's breakers: its own, and one for each model that failed on it (at most MODEL_BREAKERS_PER_KEY). */
export class KeyCircuit {
  /** The key's own breaker, for the failures that concern every model. */
  readonly breaker: KeyBreaker;
  readonly #models = new Map<string, KeyBreaker>();
  readonly #config: CircuitBreakerConfig;
  readonly #clock: Clock;
  readonly #onTransition: (breaker: KeyBreaker, to: BreakerState) => void;

  constructor(provider: string, key: string, config: CircuitBreakerConfig, clock: Clock,
    onTransition: (breaker: KeyBreaker, to: BreakerState) => void) {
    this.breaker = new KeyBreaker(provider, key, config, clock, onTransition);
    this.#config = config;
    this.#clock = clock;
    this.#onTransition = onTransition;
  }

  get key(): string {
    return this.breaker.key;
  }

  /** May a request for `model` use this key now? */
  usable(model: string): boolean {
    return this.breaker.usable && (this.#models.get(model)?.usable ?? true);
  }

  /** Milliseconds until the key may take a request for `model` again: 0 when it may now. */
  waitMs(model: string): number {
    return Math.max(this.breaker.waitMs, this.#models.get(model)?.waitMs ?? 0);
  }

  /** The model's breaker on this key; with `create`, made if missing (null when the key keeps as many as it may,
   * none of them closed). */
  modelBreaker(model: string, create: boolean): KeyBreaker | null {
    const existing = this.#models.get(model);
    if (existing || !create) return existing ?? null;
    if (this.#models.size >= MODEL_BREAKERS_PER_KEY) {
      // The oldest closed breaker makes way: it holds at most a few failures, and no skipped model depends on it.
      let evicted = false;
      for (const [name, breaker] of this.#models) {
        if (breaker.state !== CLOSED) continue;
        this.#models.delete(name);
        evicted = true;
        break;
      }
      if (!evicted) return null;
    }
    const breaker = new KeyBreaker(this.breaker.provider, this.breaker.key, this.#config, this.#clock, this.#onTransition, model);
    this.#models.set(model, breaker);
    return breaker;
  }

  *all(): Iterable<KeyBreaker> {
    yield this.breaker;
    yield* this.#models.values();
  }
}

/**
 * One provider call's permits from its key's breakers, held across its retries and handed back once: the verdict of
 * each try goes to the breaker it concerns (see the top of this file).
 */
export class CircuitPass {
  readonly #circuit: KeyCircuit;
  readonly #model: string;
  #keyPermit: number | null;
  #modelBreaker: KeyBreaker | null;
  #modelPermit: number | null;

  private constructor(circuit: KeyCircuit, model: string, keyPermit: number, modelBreaker: KeyBreaker | null,
    modelPermit: number | null) {
    this.#circuit = circuit;
    this.#model = model;
    this.#keyPermit = keyPermit;
    this.#modelBreaker = modelBreaker;
    this.#modelPermit = modelPermit;
  }

  /** Permits for a request for `model` on the key; null when one of its breakers lets no request through now. */
  static acquire(circuit: KeyCircuit, model: string): CircuitPass | null {
    const keyPermit = circuit.breaker.acquire();
    if (keyPermit === null) return null;
    const modelBreaker = circuit.modelBreaker(model, false);
    const modelPermit = modelBreaker ? modelBreaker.acquire() : null;
    if (modelBreaker && modelPermit === null) {
      circuit.breaker.released(keyPermit);
      return null;
    }
    return new CircuitPass(circuit, model, keyPermit, modelBreaker, modelPermit);
  }

  /** A try's verdict; a failure keeps the permits for a retry, a success hands them back. */
  judge(verdict: Verdict): void {
    switch (verdict) {
      case 'success':
        if (this.#keyPermit !== null) this.#circuit.breaker.succeeded(this.#keyPermit);
        if (this.#modelPermit !== null) this.#modelBreaker!.succeeded(this.#modelPermit);
        this.#keyPermit = null;
        this.#modelPermit = null;
        return;
      case 'key-failure':
        if (this.#keyPermit !== null) this.#circuit.breaker.failed(this.#keyPermit);
        return;
      case 'model-failure':
        if (!this.#modelBreaker) {
          // An ordinary permit, not a probe: this request was sent before the model's breaker existed, so if another
          // request's failures opened it meanwhile, this answer says nothing new.
          this.#modelBreaker = this.#circuit.modelBreaker(this.#model, true);
          this.#modelPermit = this.#modelBreaker ? ORDINARY : null;
        }
        if (this.#modelPermit !== null) this.#modelBreaker!.failed(this.#modelPermit);
        return;
      case 'neutral':
        return;
    }
  }

  /** The call is over without (another) verdict: the probes it held are free for the next request. */
  release(): void {
    if (this.#keyPermit !== null) this.#circuit.breaker.released(this.#keyPermit);
    if (this.#modelPermit !== null) this.#modelBreaker!.released(this.#modelPermit);
    this.#keyPermit = null;
    this.#modelPermit = null;
  }
}

/** Every provider's key circuits; keyless providers get one, for the provider itself. */
export class CircuitBreakers {
  readonly #byProvider = new Map<string, readonly KeyCircuit[]>();

  constructor(providers: readonly ProviderConfig[], onTransition: (breaker: KeyBreaker, to: BreakerState) => void,
    clock: Clock = () => performance.now()) {
    for (const provider of providers) {
      const config = provider.circuitBreaker;
      if (!config.enabled) continue;
      const labels = provider.keys.length > 0 ? provider.keys.map((key) => key.name) : ['keyless'];
      this.#byProvider.set(provider.name, labels.map((label) => new KeyCircuit(provider.name, label, config, clock, onTransition)));
    }
  }

  /** The circuits of a provider's keys, by key index (index 0 for a keyless provider); null when it has none. */
  of(provider: string): readonly KeyCircuit[] | null {
    return this.#byProvider.get(provider) ?? null;
  }

  /** Every breaker: each key's own, then its models'. */
  *all(): Iterable<KeyBreaker> {
    for (const circuits of this.#byProvider.values()) for (const circuit of circuits) yield* circuit.all();
  }
}
