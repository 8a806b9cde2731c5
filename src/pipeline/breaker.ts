// A circuit breaker per provider key, on the front thread: key choice (route.ts) skips a key whose breaker is open,
// and the provider call (dispatch.ts) reports each try's verdict back. A closed breaker opens after
// `consecutive_failures` failures in a row, or when failures reach `error_rate_threshold` of at least `min_requests`
// tries within the last `window_seconds`. After its cool-down it half-opens on the next look (no timer): up to
// `half_open_probes` requests go through; a probe's success closes it, a probe's failure opens it again with the
// cool-down doubled (up to `max_cooldown_seconds`). Every operation is O(1): the window is a fixed ring of buckets.

import type { CircuitBreakerConfig, ProviderConfig } from '../config/types.js';
import type { ErrorCode } from '../errors/codes.js';

/** The numbering of `BREAKER_STATES` in the metrics layout, which is also the state gauge's value. */
export const CLOSED = 0;
export const HALF_OPEN = 1;
export const OPEN = 2;
export type BreakerState = typeof CLOSED | typeof HALF_OPEN | typeof OPEN;

/**
 * Failures that say something about the key or its provider. A 401 means the key itself is refused, a 429 that it
 * is spent for now: another key may well work. A 403 is left out: providers use it for region or model access, which
 * another key does not change.
 */
const KEY_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UPSTREAM_ERROR', 'UPSTREAM_UNREACHABLE',
  'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'FIRST_TOKEN_TIMEOUT', 'STREAM_IDLE_TIMEOUT', 'UPSTREAM_RATE_LIMITED',
  'UPSTREAM_AUTH', 'STREAM_INTERRUPTED']);
/** The provider answered, refusing the request rather than failing: proof that the key and provider work. */
const PROVIDER_ANSWERS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UPSTREAM_BAD_REQUEST', 'UPSTREAM_NOT_FOUND',
  'UPSTREAM_FORBIDDEN']);

/**
 * What a try's error says about the key: a failure, a success (the provider answered), or nothing at all (the
 * gateway's own refusals, the client leaving, a worker dying).
 */
export function verdictOf(code: ErrorCode): 'failure' | 'success' | 'neutral' {
  if (KEY_FAILURES.has(code)) return 'failure';
  return PROVIDER_ANSWERS.has(code) ? 'success' : 'neutral';
}

/** The rolling window is this many buckets, each `window / BUCKETS` long. */
const BUCKETS = 10;
/** A permit that is not a probe; probe permits carry the half-open round they belong to (≥ 1). */
const ORDINARY = 0;

export type Clock = () => number;

/** One key's breaker. Times are milliseconds of `clock`. */
export class KeyBreaker {
  readonly provider: string;
  /** The key's configured name, the metric label: never its secret. */
  readonly key: string;
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
    onTransition: (breaker: KeyBreaker, to: BreakerState) => void) {
    this.provider = provider;
    this.key = key;
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

/** Every provider's key breakers; keyless providers get one, for the provider itself. */
export class CircuitBreakers {
  readonly #byProvider = new Map<string, readonly KeyBreaker[]>();

  constructor(providers: readonly ProviderConfig[], onTransition: (breaker: KeyBreaker, to: BreakerState) => void,
    clock: Clock = () => performance.now()) {
    for (const provider of providers) {
      const config = provider.circuitBreaker;
      if (!config.enabled) continue;
      const labels = provider.keys.length > 0 ? provider.keys.map((key) => key.name) : ['keyless'];
      this.#byProvider.set(provider.name, labels.map((label) => new KeyBreaker(provider.name, label, config, clock, onTransition)));
    }
  }

  /** The breakers of a provider's keys, by key index (index 0 for a keyless provider); null when it has none. */
  of(provider: string): readonly KeyBreaker[] | null {
    return this.#byProvider.get(provider) ?? null;
  }

  *all(): Iterable<KeyBreaker> {
    for (const breakers of this.#byProvider.values()) yield* breakers;
  }
}
