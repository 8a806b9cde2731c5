// Who may call the admin API (`/api/*`): Bifrost's `governance.auth_config` (an admin username and password, sent
// as HTTP basic auth) and/or a bearer token from the HEIMDALL_ADMIN_TOKEN environment variable. With neither, only
// clients on this host (loopback) may call it. Read here from the raw config, which keeps `governance` loose.

import type { ConfigProblem } from './errors.js';
import type { AdminConfig } from './types.js';

/** The environment variable whose value, when set, is a bearer token for `/api/*`. */
export const ADMIN_TOKEN_ENV = 'HEIMDALL_ADMIN_TOKEN';

type Loose = Record<string, unknown>;
const asObject = (v: unknown): Loose | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : null);

/**
 * `governance.auth_config` (Bifrost's place) or a top-level `auth_config` (its older one), when `is_enabled`; the
 * credentials may be `env.VAR` references, resolved by `resolve`. A problem each for what is missing or wrong.
 */
export function adminConfig(raw: { governance?: unknown; auth_config?: unknown }, env: Readonly<Record<string, string | undefined>>,
  resolve: (value: string, path: string) => string, problems: ConfigProblem[]): AdminConfig {
  const token = env[ADMIN_TOKEN_ENV];
  const bearerToken = token ? token : null;
  const nested = asObject(asObject(raw.governance)?.auth_config);
  const top = asObject(raw.auth_config);
  if (nested?.is_enabled === true && top?.is_enabled === true
    && (nested.admin_username !== top.admin_username || nested.admin_password !== top.admin_password)) {
    problems.push({ path: 'auth_config', message: 'differs from governance.auth_config: keep one of them' });
  }
  const [auth, at] = nested?.is_enabled === true ? [nested, 'governance.auth_config'] : [top, 'auth_config'];
  if (auth?.is_enabled !== true) return { basic: null, bearerToken };
  const field = (name: 'admin_username' | 'admin_password'): string => {
    const value = auth[name];
    if (typeof value !== 'string' || value === '') {
      problems.push({ path: `${at}.${name}`, message: 'is required when is_enabled is true (a string, or "env.VAR")' });
      return '';
    }
    return resolve(value, `${at}.${name}`);
  };
  const username = field('admin_username');
  const password = field('admin_password');
  if (username.includes(':')) {
    problems.push({ path: `${at}.admin_username`, message: "must not contain ':' (HTTP basic auth splits on it)" });
  }
  return { basic: { username, password }, bearerToken };
}

/** How `/api/*` is protected, for the start-up summary: never the credentials themselves. */
export function describeAdmin(admin: AdminConfig): string {
  const ways = [
    ...(admin.basic ? ['basic auth (governance.auth_config)'] : []),
    ...(admin.bearerToken ? [`a bearer token (${ADMIN_TOKEN_ENV})`] : []),
  ];
  return ways.length > 0 ? `admin API (/api/*): ${ways.join(' or ')}`
    : `admin API (/api/*): no admin credentials configured, so it answers loopback clients only (127.0.0.1, ::1); `
      + `set governance.auth_config or ${ADMIN_TOKEN_ENV} to call it from elsewhere`;
}
