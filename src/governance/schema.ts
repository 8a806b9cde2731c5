// The `governance` block of the config, in Bifrost's shape (its config.json schema's key names): virtual keys, the
// teams and customers they belong to, and the budgets and rate limits any of them may point at by id. Strict like
// the rest of the config; the cross-references (an id that names nothing, a key in two places) are checked by
// `compileGovernance`, which reports every problem at once.
import { z } from 'zod';

/** Bifrost's durations: a count and a unit, `30s` `1m` `1h` `1d` `1w` `1M` (month) `1Y`. */
export const DURATION = /^([1-9][0-9]{0,5})(s|m|h|d|w|M|Y)$/;
const duration = z.string().regex(DURATION, "expected a duration such as '30s', '1m', '1h', '1d', '1w', '1M' or '1Y'");
const id = z.string().min(1).max(128);
const money = z.number().min(0).max(1e9);
const count = z.int().min(0).max(1e12);

export const budgetSchema = z.strictObject({
  id,
  max_limit: money,
  reset_duration: duration,
  calendar_aligned: z.boolean().default(false),
  // Bifrost writes what it has spent back into these; read as the starting point.
  current_usage: money.default(0),
  last_reset: z.string().optional(),
});

export const rateLimitShape = z.strictObject({
  id,
  token_max_limit: count.optional(),
  token_reset_duration: duration.optional(),
  token_current_usage: count.default(0),
  token_last_reset: z.string().optional(),
  request_max_limit: count.optional(),
  request_reset_duration: duration.optional(),
  request_current_usage: count.default(0),
  request_last_reset: z.string().optional(),
});
export const rateLimitSchema = rateLimitShape.superRefine((limit, ctx) => {
  for (const kind of ['token', 'request'] as const) {
    const max = limit[`${kind}_max_limit`];
    const every = limit[`${kind}_reset_duration`];
    if ((max === undefined) !== (every === undefined)) {
      ctx.addIssue({ code: 'custom', path: [max === undefined ? `${kind}_max_limit` : `${kind}_reset_duration`],
        message: `${kind}_max_limit and ${kind}_reset_duration go together` });
    }
  }
  if (limit.token_max_limit === undefined && limit.request_max_limit === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a rate limit needs request_max_limit or token_max_limit' });
  }
});

/** Bifrost 1.5's allow-lists: `[]` allows nothing, `["*"]` everything. */
const allowList = z.array(z.string().min(1)).refine((list) => !list.includes('*') || list.length === 1,
  "'*' (all) cannot be mixed with names");

export const providerConfigSchema = z.strictObject({
  id: z.union([z.string(), z.number()]).optional(),
  virtual_key_id: z.string().optional(),
  provider: z.string().min(1),
  weight: z.number().min(0).default(1),
  // Missing, like empty, allows no model (Bifrost 1.5).
  allowed_models: allowList.default([]),
  // Names or ids of the provider's keys this virtual key may use; missing: all of them. `key_ids` is Bifrost 1.5's name.
  keys: allowList.optional(),
  key_ids: allowList.optional(),
  budget_id: id.optional(),
  rate_limit_id: id.optional(),
}).refine((pc) => !(pc.keys && pc.key_ids), { message: "give 'keys' or 'key_ids' (the same list), not both" })
  .transform(({ key_ids, keys, ...pc }) => ({ ...pc, keys: keys ?? key_ids ?? ['*'] }));

/**
 * One MCP client's tools a virtual key may use. Bifrost's API names the client (`mcp_client_name`), its config file
 * by id (`mcp_client_id`: here a client's `client_id` or its name). `tools_to_execute` as on the client: `["*"]`
 * all of them, `[]` none, or names; further narrowed by the client's own `tools_to_execute`.
 */
const mcpConfigSchema = z.strictObject({
  id: z.union([z.string(), z.number()]).optional(),
  virtual_key_id: z.string().optional(),
  mcp_client_name: z.string().min(1).optional(),
  mcp_client_id: z.union([z.string().min(1), z.number()]).optional(),
  tools_to_execute: allowList.default([]),
}).refine((mc) => (mc.mcp_client_name === undefined) !== (mc.mcp_client_id === undefined),
  { message: "name the MCP client with 'mcp_client_name' or 'mcp_client_id' (one of them)" });

/** The longest key value accepted, in the config and on the wire: anything longer is refused unread. */
export const MAX_KEY_LENGTH = 256;
export const KEY_VALUE_RULE = `8 to ${MAX_KEY_LENGTH} printable ASCII characters without spaces, as a header carries them`;
export const isKeyValue = (v: string): boolean => v.length >= 8 && v.length <= MAX_KEY_LENGTH && /^[\x21-\x7e]+$/.test(v);

export const virtualKeyShape = z.strictObject({
  id,
  name: z.string().min(1),
  description: z.string().optional(),
  // The key itself, or `env.VAR` naming the variable that holds it.
  value: z.string().refine((v) => v.startsWith('env.') || isKeyValue(v), KEY_VALUE_RULE),
  is_active: z.boolean().default(true),
  team_id: id.optional(),
  customer_id: id.optional(),
  budget_id: id.optional(),
  rate_limit_id: id.optional(),
  provider_configs: z.array(providerConfigSchema).default([]),
  // Which MCP tools the key's requests get and may run; missing, like empty, allows none (Bifrost's rule).
  mcp_configs: z.array(mcpConfigSchema).default([]),
});
export const ONE_OWNER = { message: 'a virtual key belongs to a team or a customer, not both' };
const virtualKeySchema = virtualKeyShape.refine((vk) => !(vk.team_id && vk.customer_id), ONE_OWNER);

export const teamSchema = z.strictObject({
  id,
  name: z.string().min(1),
  customer_id: id.optional(),
  budget_id: id.optional(),
  rate_limit_id: id.optional(),
  // Bifrost's free-form team metadata: kept, not acted on.
  profile: z.unknown().optional(),
  config: z.unknown().optional(),
  claims: z.unknown().optional(),
});

export const customerSchema = z.strictObject({
  id,
  name: z.string().min(1),
  budget_id: id.optional(),
  rate_limit_id: id.optional(),
  // Bifrost's later form: several budgets of the customer's own, each like a `budgets[]` entry.
  budgets: z.array(budgetSchema).default([]),
});

const UNENFORCED = 'is not enforced by Heimdall yet and would let through what it is meant to stop: remove it';
/** A Bifrost entry that may carry a budget or a rate limit Heimdall does not enforce at that level: refused if it does. */
const withoutLimits = (what: string) => z.array(z.looseObject({}).superRefine((entry, ctx) => {
  for (const field of ['budget_id', 'rate_limit_id']) {
    if (entry[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `a ${what} ${field.replace('_id', '')} ${UNENFORCED}` });
  }
})).optional();

/** Heimdall's own: where the counters live when several instances share them. */
const stateSchema = z.strictObject({
  redis_url: z.string().regex(/^rediss?:\/\//, "expected 'redis://host:port' or 'rediss://…'"),
  key_prefix: z.string().min(1).max(64).default('heimdall:gov:'),
  // What a request meets while Redis cannot be reached: refused (closed, the default) or let through (open).
  on_unavailable: z.enum(['closed', 'open']).default('closed'),
  timeout_ms: z.int().min(1).max(10000).default(500),
});

const governanceIgnored = {
  // Routing rules steer requests; they restrict nothing, so ignoring them is not less safe.
  routing_rules: z.array(z.unknown()).optional(),
  // Enterprise blocks of Bifrost's schema (organisation and dashboard roles).
  business_units: z.array(z.unknown()).optional(),
  roles: z.array(z.unknown()).optional(),
  pricing_overrides: z.array(z.unknown()).optional(),
  // `is_enabled` is refused by src/config/security.ts until admin authentication exists.
  auth_config: z.unknown().optional(),
};

export const governanceSchema = z.strictObject({
  budgets: z.array(budgetSchema).default([]),
  rate_limits: z.array(rateLimitSchema).default([]),
  customers: z.array(customerSchema).default([]),
  teams: z.array(teamSchema).default([]),
  virtual_keys: z.array(virtualKeySchema).default([]),
  // Per-model and per-provider budgets and rate limits are not enforced: entries carrying one are refused.
  model_configs: withoutLimits('per-model'),
  providers: withoutLimits('per-provider'),
  ...governanceIgnored,
  state: stateSchema.optional(),
});

/** Bifrost's governance keys that load but are not acted on (reported at start by `load.ts`). */
export const GOVERNANCE_IGNORED = ['routing_rules', 'business_units', 'roles', 'pricing_overrides', 'auth_config',
  'model_configs', 'providers'] as const;

export type RawGovernance = z.output<typeof governanceSchema>;
export type RawBudget = z.output<typeof budgetSchema>;
export type RawRateLimit = z.output<typeof rateLimitSchema>;
export type RawVirtualKey = z.output<typeof virtualKeySchema>;
