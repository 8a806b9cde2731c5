// Never less safe than asked. A Bifrost setting that would restrict who may call the gateway, or how, and that
// Heimdall does not enforce yet cannot be honoured: loading it with a warning would start a gateway that lets
// through what the operator meant to stop. Each such setting is a config error naming it. Virtual keys, budgets,
// rate limits and `enforce_auth_on_inference` are enforced (src/governance), admin credentials
// (`auth_config`) by src/config/admin.ts; what governance does not cover yet
// (routing rules, model and provider configs, MCP allow-lists) is refused by its schema.
// Settings whose omission only loses a feature (logging, tracing, caching, CORS) stay warnings in `load.ts`.

import type { ConfigProblem } from './errors.js';
import type { RawConfig } from './schema.js';

const NOT_ENFORCED = 'Heimdall does not enforce this yet and would '
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

  if (client.enforce_scim_auth) refuse('client.enforce_scim_auth', 'requires authentication on inference');
  if (client.required_headers?.length) {
    refuse('client.required_headers', `requires the headers ${client.required_headers.join(', ')} on every request`);
  }

  if (nonEmpty(cfg.access_profiles)) refuse('access_profiles', 'access profiles limit models, budgets and rates');
  if (asObject(cfg.scim_config)?.enabled === true) refuse('scim_config.enabled', 'enables single sign-on authentication');
  const rules = asList(asObject(cfg.guardrails_config)?.guardrail_rules);
  if (rules.some((rule) => asObject(rule)?.enabled === true)) {
    refuse('guardrails_config.guardrail_rules', 'enabled guardrail rules block requests and responses');
  }

  cfg.plugins?.forEach((entry, i) => {
    if (typeof entry === 'string' || entry.name !== 'governance' || entry.enabled === false || entry.path) return;
    const config = asObject(entry.config);
    if (nonEmpty(config?.required_headers)) {
      refuse(`plugins[${i}].config.required_headers`, 'requires headers on every request');
    }
  });
  return problems;
}
