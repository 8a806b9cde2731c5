// Never less safe than asked. Heimdall has no inbound authentication on inference routes or governance yet (only the
// admin API's, src/config/admin.ts), so a Bifrost setting that would restrict who may call the gateway, or how much,
// cannot be honoured: loading it with a warning would start a gateway that lets through what the operator meant to
// stop. Each such setting is a config error naming it.
// Settings whose omission only loses a feature (logging, tracing, caching, CORS) stay warnings in `load.ts`.

import type { ConfigProblem } from './errors.js';
import type { RawConfig } from './schema.js';

const NOT_ENFORCED = 'Heimdall does not enforce this yet (it has no inbound authentication or governance) and would '
  + 'let through what it is meant to stop; remove it to run without it';

type Loose = Record<string, unknown>;
const asObject = (v: unknown): Loose | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : null);
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const nonEmpty = (v: unknown): boolean => asList(v).length > 0;

/** The settings of a parsed config that ask for protection Heimdall cannot give, one problem each. */
export function unenforcedSettings(cfg: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const refuse = (path: string, what: string) => problems.push({ path, message: `${what}: ${NOT_ENFORCED}` });
  const client = cfg.client;

  if (client.enforce_auth_on_inference) refuse('client.enforce_auth_on_inference', 'requires authentication on inference');
  if (client.enforce_governance_header) refuse('client.enforce_governance_header', 'requires a virtual key on every request');
  if (client.enforce_scim_auth) refuse('client.enforce_scim_auth', 'requires authentication on inference');
  if (client.required_headers?.length) {
    refuse('client.required_headers', `requires the headers ${client.required_headers.join(', ')} on every request`);
  }

  governance(asObject(cfg.governance), refuse);
  if (nonEmpty(cfg.access_profiles)) refuse('access_profiles', 'access profiles limit models, budgets and rates');
  if (asObject(cfg.scim_config)?.enabled === true) refuse('scim_config.enabled', 'enables single sign-on authentication');
  const rules = asList(asObject(cfg.guardrails_config)?.guardrail_rules);
  if (rules.some((rule) => asObject(rule)?.enabled === true)) {
    refuse('guardrails_config.guardrail_rules', 'enabled guardrail rules block requests and responses');
  }

  cfg.plugins?.forEach((entry, i) => {
    if (typeof entry === 'string' || entry.name !== 'governance' || entry.enabled === false || entry.path) return;
    const config = asObject(entry.config);
    if (config?.is_vk_mandatory === true) {
      refuse(`plugins[${i}].config.is_vk_mandatory`, 'requires a virtual key on every request');
    }
    if (nonEmpty(config?.required_headers)) {
      refuse(`plugins[${i}].config.required_headers`, 'requires headers on every request');
    }
  });
  return problems;
}

function governance(g: Loose | null, refuse: (path: string, what: string) => void): void {
  if (!g) return;
  // `auth_config` (admin credentials for /api/*) is enforced: src/config/admin.ts.
  // An inactive virtual key lets nothing through in Bifrost either, so ignoring it loses nothing.
  const active = asList(g.virtual_keys).filter((vk) => asObject(vk)?.is_active !== false);
  if (active.length > 0) {
    const keys = active.length === 1 ? '1 active virtual key limits' : `${active.length} active virtual keys limit`;
    refuse('governance.virtual_keys', `${keys} providers, models, budgets and rates`);
  }
  if (nonEmpty(g.budgets)) refuse('governance.budgets', 'budgets cap spending');
  if (nonEmpty(g.rate_limits)) refuse('governance.rate_limits', 'rate limits cap requests and tokens');
  asList(g.customers).forEach((customer, i) => {
    if (nonEmpty(asObject(customer)?.budgets)) refuse(`governance.customers[${i}].budgets`, 'budgets cap spending');
  });
}
