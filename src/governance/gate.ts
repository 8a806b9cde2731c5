// Enforcement before dispatch. A request's virtual key is found (timing-safe: by the SHA-256 of what was presented,
// never by comparing values), its provider and model checked against the key's grants, and its worst case reserved
// on every budget and rate limit above it; after the response, `Admission.settle` turns the reservation into what
// the request really cost. Nothing here logs or echoes a key's value.

import type { KeyConfig } from '../config/types.js';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, GatewayError } from '../errors/gateway-error.js';
import type { CounterSpec, CounterStore, CounterUsage, Hold, Verdict } from './counters.js';
import { digestOf, MICRO_USD, type GovernanceModel, type Limits, type VirtualKey } from './model.js';
import { MAX_KEY_LENGTH } from './schema.js';
import type { JobKind } from '../contract/messages.js';
import type { Pricing as PriceTable } from '../pricing/index.js';

/** What budgets need of the price table (src/pricing). */
export type Pricing = Pick<PriceTable, 'costOf' | 'worstCase'>;

/** Headers a client's SDK sends its API key in, the first present one winning; `x-bf-vk` is Bifrost's own. */
const KEY_HEADERS = ['x-bf-vk', 'authorization', 'x-api-key', 'x-goog-api-key', 'api-key'] as const;
const BIFROST_PREFIX = 'sk-bf-';
const PRINTABLE = /^[\x21-\x7e]+$/;

export interface GateOptions {
  /** `client.enforce_auth_on_inference`: a request without a virtual key is refused. */
  readonly enforceAuth: boolean;
  readonly pricing: Pricing | null;
  /** What a request meets when the counters cannot be reached (Redis down): refused, or let through uncounted. */
  readonly failOpen: boolean;
  readonly now?: () => number;
  /** Called with the reason of each refusal and each admission (metrics). */
  readonly onDecision?: (key: VirtualKey | null, outcome: string) => void;
  readonly onSpend?: (key: VirtualKey, usd: number) => void;
}

/** Where a request's worst case comes from. */
export interface RequestShape {
  /** `provider/model` of the primary, then of each fallback. */
  readonly candidates: readonly string[];
  /** Bytes of the body: no text has more tokens than bytes, so this bounds the input. */
  readonly inputBytes: number;
  readonly kind: JobKind;
  readonly stream: boolean;
  /** The body to be dispatched: its output limit (`max_tokens` and its spellings), `n`, media fields. */
  readonly body: Readonly<Record<string, unknown>>;
}

const split = (qualified: string): [string, string] => {
  const slash = qualified.indexOf('/');
  return [qualified.slice(0, slash), qualified.slice(slash + 1)];
};
const usd = (micro: number): string => `$${Number((micro / MICRO_USD).toFixed(6))}`;
const retryAfterOf = (resetAt: number, now: number): number => Math.max(1, Math.ceil((resetAt - now) / 1000));

export class Governance {
  #model: GovernanceModel;
  readonly #store: CounterStore;
  readonly #options: GateOptions;
  readonly #now: () => number;

  constructor(model: GovernanceModel, store: CounterStore, options: GateOptions) {
    this.#model = model;
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get model(): GovernanceModel {
    return this.#model;
  }

  /**
   * The keys, teams, customers and limits after an admin change (src/governance/state.ts): requests identified from
   * now on see them. A request admitted before settles on the counters it reserved.
   */
  setModel(model: GovernanceModel): void {
    this.#model = model;
  }

  get store(): CounterStore {
    return this.#store;
  }

  /**
   * The request's virtual key: null when it presents none and none is required. `x-bf-vk` is always read as one;
   * the SDKs' own key headers are when they carry Bifrost's `sk-bf-` prefix, match a key, or auth is enforced (a
   * client's dummy `Authorization` to an open gateway is not refused).
   */
  identify(headers: Readonly<Record<string, string>>): VirtualKey | null {
    // No key yet (the admin API may create one): every request passes as on a gateway without governance.
    if (this.#model.keys.length === 0 && !this.#options.enforceAuth) return null;
    for (const name of KEY_HEADERS) {
      let value = headers[name];
      if (value === undefined) continue;
      if (name === 'authorization') {
        if (!/^bearer /i.test(value)) continue;
        value = value.slice(7).trim();
      }
      if (value.length > MAX_KEY_LENGTH || !PRINTABLE.test(value)) {
        if (name === 'x-bf-vk' || this.#options.enforceAuth || value.startsWith(BIFROST_PREFIX)) {
          throw this.#refuse(null, 'VIRTUAL_KEY_INVALID', `the virtual key in '${name}' is malformed: at most `
            + `${MAX_KEY_LENGTH} printable characters without spaces`);
        }
        continue;
      }
      const key = this.#lookup(value);
      if (key) {
        if (!key.active) throw this.#refuse(key, 'VIRTUAL_KEY_INACTIVE', `virtual key '${key.id}' is not active`);
        return key;
      }
      if (name === 'x-bf-vk' || this.#options.enforceAuth || value.startsWith(BIFROST_PREFIX)) {
        throw this.#refuse(null, 'VIRTUAL_KEY_INVALID', `the key in '${name}' is not a virtual key of this gateway`);
      }
    }
    if (this.#options.enforceAuth) {
      throw this.#refuse(null, 'VIRTUAL_KEY_REQUIRED', 'a virtual key is required (client.enforce_auth_on_inference): '
        + "send it as 'Authorization: Bearer <key>', 'x-api-key', 'x-goog-api-key' or 'x-bf-vk'");
    }
    return null;
  }

  #lookup(value: string): VirtualKey | null {
    // Found by the digest of what was sent, never by comparing values: how long a lookup takes says nothing of how
    // much of a real key a guess matched. The digests are compared again, in constant time, all the same.
    const digest = digestOf(value);
    const key = this.#model.byDigest.get(digest);
    return key && sameDigest(key.digest, digest) ? key : null;
  }

  /**
   * A bare model name (no configured provider before a '/') routed by the key's provider weights: the provider
   * drawn by weight among those whose grant allows the model, then the others by weight as fallbacks. Null when
   * the key has no grant for the name.
   */
  routeBare(key: VirtualKey, model: string, providers: ReadonlyMap<string, unknown>,
    aliases: Readonly<Record<string, string>>, random: () => number = Math.random): string[] | null {
    const slash = model.indexOf('/');
    if (Object.hasOwn(aliases, model) || (slash > 0 && providers.has(model.slice(0, slash)))) return null;
    const grants = [...key.grants.values()].filter((g) => g.models === null || g.models.has(model));
    if (grants.length === 0) return null;
    const total = grants.reduce((sum, g) => sum + g.weight, 0);
    // A weight of 0 is never drawn first (unless every weight is 0), but stays a fallback.
    let pick = random() * total;
    const first = total > 0 ? grants.find((g) => (pick -= g.weight) < 0) ?? grants.findLast((g) => g.weight > 0)! : grants[0];
    const rest = grants.filter((g) => g !== first).sort((a, b) => b.weight - a.weight);
    return [first, ...rest].map((g) => `${g.provider}/${model}`);
  }

  /** Throws when the key may not use the provider or the model; else the filter of the provider keys it may use. */
  check(key: VirtualKey, provider: string, model: string): ((k: KeyConfig) => boolean) | null {
    const grant = key.grants.get(provider);
    if (!grant) {
      throw this.#refuse(key, 'PROVIDER_NOT_ALLOWED', `virtual key '${key.id}' may not use provider '${provider}'`
        + `; it may use: ${[...key.grants.keys()].join(', ') || 'no provider'}`, provider);
    }
    if (grant.models !== null && !grant.models.has(model)) {
      throw this.#refuse(key, 'MODEL_FORBIDDEN', `virtual key '${key.id}' may not use model '${model}' of provider `
        + `'${provider}'; it may use: ${[...grant.models].join(', ') || 'no model'}`, provider);
    }
    const names = grant.keys;
    return names === null ? null : (k) => names.has(k.name) || names.has(k.id);
  }

  /** Reserves the request's worst case on every counter above the key; the error to answer when one has no room. */
  admit(key: VirtualKey, shape: RequestShape): Admission | Refused | Promise<Admission | Refused> {
    const first = shape.candidates[0];
    const limits = this.#limitsFor(key, first.slice(0, first.indexOf('/')));
    let worst = 0;
    let outputBound = false;
    if (limits.budgets.length > 0) {
      for (const candidate of shape.candidates) {
        const [provider, model] = split(candidate);
        const bound = this.#options.pricing?.worstCase({ provider, model, kind: shape.kind, body: shape.body,
          inputTokens: shape.inputBytes, stream: shape.stream });
        if (!bound || bound.usd === null) {
          return this.#refusal(key, 'MODEL_NOT_PRICED', bound?.unpriced === 'unbounded'
            ? `virtual key '${key.id}' has a budget and nothing bounds what '${candidate}' may write: set max_tokens`
            : `virtual key '${key.id}' has a budget and '${candidate}' has no price (add one in providers.${provider}`
              + '.pricing_overrides), so its cost cannot be bounded');
        }
        const micro = Math.ceil(bound.usd * MICRO_USD);
        if (micro > worst) {
          worst = micro;
          outputBound = (bound.outputTokens ?? 0) > 0;
        }
      }
    }
    const holds: Hold[] = [];
    for (const counter of limits.requests) holds.push({ counter, amount: 1 });
    for (const counter of limits.tokens) holds.push({ counter, amount: 0 });
    for (const counter of limits.budgets) holds.push({ counter, amount: worst });
    if (holds.length === 0) return this.#admitted(key, holds, null, worst, shape);
    const now = this.#now();
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = this.#store.reserve(holds, now);
    } catch (error) {
      return this.#unavailable(key, worst, shape, error);
    }
    if (verdict instanceof Promise) {
      return verdict.then((v) => this.#decide(key, holds, v, worst, shape, outputBound, now),
        (error: unknown) => this.#unavailable(key, worst, shape, error));
    }
    return this.#decide(key, holds, verdict, worst, shape, outputBound, now);
  }

  #limitsFor(key: VirtualKey, provider: string): Limits {
    return key.limitsVia.get(provider) ?? key.limits;
  }

  #unavailable(key: VirtualKey, worst: number, shape: RequestShape, error: unknown): Admission | Refused {
    if (this.#options.failOpen) {
      this.#options.onDecision?.(key, 'fail_open');
      return this.#admitted(key, [], null, worst, shape);
    }
    return this.#refusal(key, 'GOVERNANCE_UNAVAILABLE', `the budget and rate-limit counters cannot be reached `
      + `(${(error as Error).message}); requests are refused until they can (governance.state.on_unavailable: closed)`,
    undefined, 1);
  }

  #decide(key: VirtualKey, holds: Hold[], verdict: Verdict, worst: number, shape: RequestShape, outputBound: boolean,
    now: number): Admission | Refused {
    const headers = rateLimitHeaders(holds, verdict.usage, now);
    if (verdict.refused === -1) return this.#admitted(key, holds, headers, worst, shape);
    const hold = holds[verdict.refused];
    const usage = verdict.usage[verdict.refused];
    const counter = hold.counter;
    const owner = this.#ownerOf(key, counter);
    const resets = new Date(usage.resetAt).toISOString();
    const retryAfter = retryAfterOf(usage.resetAt, now);
    if (counter.kind === 'budget') {
      return this.#refusal(key, 'BUDGET_EXCEEDED', `${owner} budget: ${usd(usage.used)} of ${usd(counter.limit)} `
        + `spent and ${usd(usage.reserved)} held by requests in flight; this request may cost up to ${usd(worst)}`
        + `${outputBound ? ' (a lower max_tokens lowers that)' : ''}`
        + `; it resets at ${resets}`, undefined, retryAfter);
    }
    const what = counter.kind === 'requests' ? `${counter.limit} requests` : `${counter.limit} tokens`;
    const refused = this.#refusal(key, 'RATE_LIMITED', `${owner} rate limit of ${what} per `
      + `${counter.period.count}${counter.period.unit} is reached; it resets at ${resets}`, undefined, retryAfter);
    return { error: refused.error, headers };
  }

  #ownerOf(key: VirtualKey, counter: CounterSpec): string {
    const has = (limits: Limits) => [...limits.budgets, ...limits.requests, ...limits.tokens].includes(counter);
    for (const grant of key.grants.values()) if (has(grant.limits)) return `virtual key '${key.id}' provider '${grant.provider}'`;
    const team = key.teamId !== null ? this.#model.teams.get(key.teamId) : undefined;
    const customer = key.customerId !== null ? this.#model.customers.get(key.customerId) : undefined;
    if (team && has(team.limits)) return `team '${key.teamId}'`;
    if (customer && has(customer.limits)) return `customer '${key.customerId}'`;
    return `virtual key '${key.id}'`;
  }

  #admitted(key: VirtualKey, holds: Hold[], headers: Record<string, string> | null, worst: number,
    shape: RequestShape): Admission {
    this.#options.onDecision?.(key, 'admitted');
    return new Admission(this, key, holds, headers, worst, shape);
  }

  #refuse(key: VirtualKey | null, code: ErrorData['code'], message: string, provider?: string): GatewayError {
    this.#options.onDecision?.(key, code.toLowerCase());
    return new GatewayError(code, message, provider ? { provider } : {});
  }

  #refusal(key: VirtualKey, code: ErrorData['code'], message: string, provider?: string, retryAfter?: number): Refused {
    this.#options.onDecision?.(key, code.toLowerCase());
    return { error: errorData(code, message, { ...(provider ? { provider } : {}), ...(retryAfter ? { retryAfter } : {}) }),
      headers: null };
  }

  /** Called once per admitted request, when its response is complete. */
  settleAdmission(admission: Admission, provider: string, model: string, tokensIn: number | null, tokensOut: number | null,
    succeeded: boolean, costUsd: number | null = null): void {
    const known = tokensIn !== null || tokensOut !== null;
    let cost = 0;
    if (admission.worst > 0 && (known || succeeded)) {
      // An answer whose usage is unknown (a stream without it, a client gone mid-stream) is charged its worst case.
      const { shape } = admission;
      const usage = { promptTokens: tokensIn ?? 0, completionTokens: tokensOut ?? 0, totalTokens: (tokensIn ?? 0) + (tokensOut ?? 0) };
      // The answer's own price (cache reads and writes priced as the provider bills them) when the pipeline has one.
      const priced = costUsd ?? (known ? this.#options.pricing?.costOf({ provider, model, kind: shape.kind, stream: shape.stream, usage,
        body: shape.body }).usd ?? null : null);
      cost = priced === null ? admission.worst : Math.ceil(priced * MICRO_USD);
    }
    const tokens = (tokensIn ?? 0) + (tokensOut ?? 0);
    if (cost > 0) this.#options.onSpend?.(admission.key, cost / MICRO_USD);
    if (admission.holds.length === 0) return;
    const actual: number[] = [];
    for (const { counter } of admission.holds) actual.push(counter.kind === 'budget' ? cost : counter.kind === 'tokens' ? tokens : 1);
    this.#store.settle(admission.holds, actual, this.#now());
  }

  usage(counter: CounterSpec): CounterUsage | Promise<CounterUsage> {
    return this.#store.usage(counter, this.#now());
  }
}

/** A request refused before dispatch, with the rate-limit headers its answer carries. */
export interface Refused {
  readonly error: ErrorData;
  readonly headers: Record<string, string> | null;
}

/** A request let through: what it holds, settled once. */
export class Admission {
  #settled = false;

  constructor(readonly gate: Governance, readonly key: VirtualKey, readonly holds: readonly Hold[],
    /** `x-ratelimit-*` for every answer to the request. */
    readonly headers: Record<string, string> | null, readonly worst: number, readonly shape: RequestShape) {}

  settle(provider: string, model: string, tokensIn: number | null, tokensOut: number | null, succeeded: boolean,
    costUsd: number | null = null): void {
    if (this.#settled) return;
    this.#settled = true;
    this.gate.settleAdmission(this, provider, model, tokensIn, tokensOut, succeeded, costUsd);
  }
}

/** Two hex digests of equal length compared without an early exit. */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** `x-ratelimit-limit/remaining/reset` of the request limit with the least room left (reset in seconds). */
export function rateLimitHeaders(holds: readonly Hold[], usage: readonly CounterUsage[], now: number): Record<string, string> | null {
  let best = -1;
  let bestRemaining = Infinity;
  for (let i = 0; i < holds.length; i++) {
    if (holds[i].counter.kind !== 'requests') continue;
    const remaining = holds[i].counter.limit - usage[i].used - usage[i].reserved;
    if (remaining < bestRemaining) {
      bestRemaining = remaining;
      best = i;
    }
  }
  if (best === -1) return null;
  return {
    'x-ratelimit-limit': String(holds[best].counter.limit),
    'x-ratelimit-remaining': String(Math.max(0, bestRemaining)),
    'x-ratelimit-reset': String(retryAfterOf(usage[best].resetAt, now)),
  };
}
