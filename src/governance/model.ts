// The `governance` block compiled for the hot path: virtual keys found by the SHA-256 of their value, each with the
// counters above it (key → team → customer) and, per provider it may use, the models and provider keys it may use
// and that provider's own counters. Every cross-reference is checked here, every problem reported at once.

import { hash } from 'node:crypto';
import type { ConfigProblem } from '../config/errors.js';
import type { ProviderConfig } from '../config/types.js';
import type { CounterSpec } from './counters.js';
import { parsePeriod, windowEnd, windowStart, type Period } from './period.js';
import type { RawBudget, RawGovernance, RawRateLimit, RawVirtualKey } from './schema.js';

export const MICRO_USD = 1e6;

/** A virtual key's counters at one level, as reservations take them. */
export interface Limits {
  readonly budgets: readonly CounterSpec[];
  readonly requests: readonly CounterSpec[];
  readonly tokens: readonly CounterSpec[];
}

export interface ProviderGrant {
  readonly provider: string;
  readonly weight: number;
  /** null: every model. */
  readonly models: ReadonlySet<string> | null;
  /** Names or ids of the provider's keys; null: every key. */
  readonly keys: ReadonlySet<string> | null;
  readonly limits: Limits;
}

export interface VirtualKey {
  readonly id: string;
  readonly name: string;
  readonly active: boolean;
  /** Hex SHA-256 of the value. */
  readonly digest: string;
  readonly teamId: string | null;
  readonly customerId: string | null;
  /** By provider name. */
  readonly grants: ReadonlyMap<string, ProviderGrant>;
  /** The key's own, its team's and its customer's counters, in that order. */
  readonly limits: Limits;
  /** By provider: the provider grant's counters, then `limits`. */
  readonly limitsVia: ReadonlyMap<string, Limits>;
  /** `mcp_configs`: MCP client name → the tools (their names on the server) it may use, null: all; absent: none. */
  readonly mcpTools: ReadonlyMap<string, ReadonlySet<string> | null>;
}

export interface GovernanceModel {
  readonly keys: readonly VirtualKey[];
  /** By the hex SHA-256 of the key's value. */
  readonly byDigest: ReadonlyMap<string, VirtualKey>;
  readonly counters: ReadonlyMap<string, CounterSpec>;
  readonly teams: ReadonlyMap<string, { name: string; customerId: string | null; limits: Limits }>;
  readonly customers: ReadonlyMap<string, { name: string; limits: Limits }>;
}

/**
 * The keys' `mcp_configs` with `mcp_client_id` read as the MCP client it names (its `client_id`, else its name), so
 * every entry names its client by `mcp_client_name`.
 */
export function mcpClientNames(raw: RawGovernance, clients: readonly { name: string; client_id?: string }[]): RawGovernance {
  return { ...raw, virtual_keys: raw.virtual_keys.map((vk) => (vk.mcp_configs.length === 0 ? vk : {
    ...vk, mcp_configs: vk.mcp_configs.map((mc) => {
      if (mc.mcp_client_name !== undefined) return mc;
      const id = String(mc.mcp_client_id);
      const { mcp_client_id: _id, ...rest } = mc;
      return { ...rest, mcp_client_name: clients.find((c) => c.client_id === id)?.name ?? id };
    }),
  })) };
}

/** Hex SHA-256 (the one-shot `crypto.hash`: no Hash object per request). */
export const digestOf = (value: string): string => hash('sha256', value, 'hex');

/** What the config store keeps of a counter (src/stores/governance-store.ts). */
export interface PersistedCounter {
  readonly anchor: number;
  readonly used: number;
  readonly windowEnd: number;
}

/** A virtual key as the admin API stores it: its value replaced by the value's digest. */
export type KeySource = RawVirtualKey & { readonly value_digest?: string };

/**
 * What a counter starts from: the config's usage when now is still in the anchor's first window (as Bifrost's
 * `current_usage` means), plus what the config store counted in the window now is in.
 */
function startingUsage(period: Period, configured: number, stored: PersistedCounter | undefined, now: number): number {
  const end = windowEnd(period, windowStart(period, now));
  const first = windowEnd(period, windowStart(period, period.anchor));
  return (end === first ? configured : 0) + (stored && stored.windowEnd === end ? stored.used : 0);
}

const NO_LIMITS: Limits = Object.freeze({ budgets: [], requests: [], tokens: [] });

function merge(...levels: Limits[]): Limits {
  return { budgets: levels.flatMap((l) => l.budgets), requests: levels.flatMap((l) => l.requests),
    tokens: levels.flatMap((l) => l.tokens) };
}

const timeOf = (text: string | undefined, fallback: number): number => {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isFinite(ms) ? ms : fallback;
};

/**
 * `persisted`: the config store's counters by key (`budget:<id>`…): a rolling window keeps counting from the anchor
 * stored for it (else the config's `last_reset`, else now), and the window now is in starts from what was counted.
 * `mcpClients`: the names of the configured MCP clients, which keys' `mcp_configs` name (after `mcpClientNames`).
 */
export function compileGovernance(raw: RawGovernance, providers: readonly ProviderConfig[], now: number,
  problems: ConfigProblem[], persisted: ReadonlyMap<string, PersistedCounter> = new Map(),
  mcpClients: readonly string[] = []): GovernanceModel {
  const at = (...path: (string | number)[]) => ['governance', ...path].join('.');
  const unique = (list: readonly { id: string }[], where: string) => {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (seen.has(item.id)) problems.push({ path: at(where, i, 'id'), message: `duplicate id '${item.id}'` });
      seen.add(item.id);
    });
  };
  unique(raw.budgets, 'budgets');
  unique(raw.rate_limits, 'rate_limits');
  unique(raw.customers, 'customers');
  unique(raw.teams, 'teams');
  unique(raw.virtual_keys, 'virtual_keys');

  const counters = new Map<string, CounterSpec>();
  const budgets = new Map<string, RawBudget>(raw.budgets.map((b) => [b.id, b]));
  const rateLimits = new Map<string, RawRateLimit>(raw.rate_limits.map((r) => [r.id, r]));
  const addCounter = (key: string, kind: CounterSpec['kind'], limit: number, duration: string, aligned: boolean,
    lastReset: string | undefined, configured: number) => {
    const stored = persisted.get(key);
    const period = parsePeriod(duration, aligned, lastReset ? timeOf(lastReset, now) : stored?.anchor ?? now);
    counters.set(key, { key, kind, limit, period, initialUsage: startingUsage(period, configured, stored, now) });
  };
  const addBudget = (b: RawBudget): void => addCounter(`budget:${b.id}`, 'budget', Math.round(b.max_limit * MICRO_USD),
    b.reset_duration, b.calendar_aligned, b.last_reset, Math.round(b.current_usage * MICRO_USD));
  raw.budgets.forEach(addBudget);
  for (const r of raw.rate_limits) {
    if (r.request_max_limit !== undefined && r.request_reset_duration) {
      addCounter(`requests:${r.id}`, 'requests', r.request_max_limit, r.request_reset_duration, false, r.request_last_reset,
        r.request_current_usage);
    }
    if (r.token_max_limit !== undefined && r.token_reset_duration) {
      addCounter(`tokens:${r.id}`, 'tokens', r.token_max_limit, r.token_reset_duration, false, r.token_last_reset,
        r.token_current_usage);
    }
  }
  /** The counters an entity's `budget_id` and `rate_limit_id` point at; an id naming nothing is a problem. */
  const limitsOf = (entity: { budget_id?: string; rate_limit_id?: string }, path: (string | number)[]): Limits => {
    const found: { budgets: CounterSpec[]; requests: CounterSpec[]; tokens: CounterSpec[] } = { budgets: [], requests: [], tokens: [] };
    if (entity.budget_id !== undefined) {
      if (budgets.has(entity.budget_id)) found.budgets.push(counters.get(`budget:${entity.budget_id}`)!);
      else problems.push({ path: at(...path, 'budget_id'), message: `no budget has id '${entity.budget_id}'` });
    }
    if (entity.rate_limit_id !== undefined) {
      if (!rateLimits.has(entity.rate_limit_id)) {
        problems.push({ path: at(...path, 'rate_limit_id'), message: `no rate limit has id '${entity.rate_limit_id}'` });
      }
      const requests = counters.get(`requests:${entity.rate_limit_id}`);
      const tokens = counters.get(`tokens:${entity.rate_limit_id}`);
      if (requests) found.requests.push(requests);
      if (tokens) found.tokens.push(tokens);
    }
    return found;
  };

  // A customer's own `budgets[]` are counted like the shared ones, under ids of their own.
  const inline = raw.customers.flatMap((c) => c.budgets.map((b) => ({ ...b, id: `${c.id}/${b.id}` })));
  for (const b of inline) addBudget(b);
  const customers = new Map(raw.customers.map((c, i) => {
    const own = limitsOf(c, ['customers', i]);
    const extra = c.budgets.map((b) => counters.get(`budget:${c.id}/${b.id}`)!);
    return [c.id, { name: c.name, limits: { ...own, budgets: [...own.budgets, ...extra] } }];
  }));
  const teams = new Map(raw.teams.map((t, i) => {
    if (t.customer_id !== undefined && !customers.has(t.customer_id)) {
      problems.push({ path: at('teams', i, 'customer_id'), message: `no customer has id '${t.customer_id}'` });
    }
    return [t.id, { name: t.name, customerId: t.customer_id ?? null, limits: limitsOf(t, ['teams', i]) }];
  }));

  const providerByName = new Map(providers.map((p) => [p.name, p]));
  const byDigest = new Map<string, VirtualKey>();
  const keys = raw.virtual_keys.map((vk, i) => {
    const key = compileKey(vk, i);
    const hex = key.digest;
    if (byDigest.has(hex)) {
      problems.push({ path: at('virtual_keys', i, 'value'), message: `the same value as virtual key '${byDigest.get(hex)!.id}'` });
    }
    byDigest.set(hex, key);
    return key;
  });

  function compileKey(vk: RawVirtualKey, i: number): VirtualKey {
    const team = vk.team_id !== undefined ? teams.get(vk.team_id) : undefined;
    if (vk.team_id !== undefined && !team) {
      problems.push({ path: at('virtual_keys', i, 'team_id'), message: `no team has id '${vk.team_id}'` });
    }
    const customerId = vk.customer_id ?? team?.customerId ?? null;
    const customer = customerId !== null ? customers.get(customerId) : undefined;
    if (vk.customer_id !== undefined && !customer) {
      problems.push({ path: at('virtual_keys', i, 'customer_id'), message: `no customer has id '${vk.customer_id}'` });
    }
    const grants = new Map<string, ProviderGrant>();
    vk.provider_configs.forEach((pc, j) => {
      const path = ['virtual_keys', i, 'provider_configs', j];
      const provider = providerByName.get(pc.provider);
      if (!provider) {
        problems.push({ path: at(...path, 'provider'), message: `provider '${pc.provider}' is not configured; configured: `
          + `${[...providerByName.keys()].join(', ') || 'none'}` });
        return;
      }
      if (grants.has(pc.provider)) {
        problems.push({ path: at(...path, 'provider'), message: `provider '${pc.provider}' is configured twice for this key` });
      }
      const keyNames = pc.keys.includes('*') ? null : new Set(pc.keys);
      for (const name of keyNames ?? []) {
        if (!provider.keys.some((k) => k.name === name || k.id === name)) {
          problems.push({ path: at(...path, 'keys'), message: `provider '${pc.provider}' has no key named '${name}'` });
        }
      }
      grants.set(pc.provider, { provider: pc.provider, weight: pc.weight,
        models: pc.allowed_models.includes('*') ? null : new Set(pc.allowed_models), keys: keyNames,
        limits: limitsOf(pc, path) });
    });
    const mcpTools = new Map<string, ReadonlySet<string> | null>();
    vk.mcp_configs.forEach((mc, j) => {
      const path = ['virtual_keys', i, 'mcp_configs', j];
      const name = mc.mcp_client_name ?? String(mc.mcp_client_id);
      if (!mcpClients.includes(name)) {
        problems.push({ path: at(...path, mc.mcp_client_name !== undefined ? 'mcp_client_name' : 'mcp_client_id'),
          message: `no MCP client '${name}' in mcp.client_configs; configured: ${mcpClients.join(', ') || 'none'}` });
      } else if (mcpTools.has(name)) {
        problems.push({ path: at(...path), message: `MCP client '${name}' is configured twice for this key` });
      }
      mcpTools.set(name, mc.tools_to_execute.includes('*') ? null : new Set(mc.tools_to_execute));
    });
    const limits = merge(limitsOf(vk, ['virtual_keys', i]), team?.limits ?? NO_LIMITS, customer?.limits ?? NO_LIMITS);
    const limitsVia = new Map([...grants].map(([name, grant]) => [name, merge(grant.limits, limits)]));
    return {
      id: vk.id, name: vk.name, active: vk.is_active, digest: (vk as KeySource).value_digest ?? digestOf(vk.value), teamId: vk.team_id ?? null,
      customerId, grants, limits, limitsVia, mcpTools,
    };
  }

  return { keys, byDigest, counters, teams, customers };
}
