import type { GatewayConfig } from './types.js';

const MASK = '***';
// Header, key-config and plugin-config names that carry credentials; matched loosely because a leaked secret
// costs more than a masked harmless value.
const SECRET_NAME = new RegExp([
  '^(proxy-)?authorization$', '^(set-)?cookie$', 'api[-_]?key', 'access[-_]?key', 'private[-_]?key', '(^|[-_])key$',
  'token', 'secret', 'passw(or)?d', 'passphrase', 'credential', 'signature', 'hmac', 'session', 'auth', 'dsn',
  'webhook', 'connection[-_]?string', 'database[-_]?url',
].join('|'), 'i');
// camelCase names ending in Key (`serviceAccountKey`, `routingKey`): case matters, or `monkey` would match.
const CAMEL_KEY = /[a-z0-9]Key$/;
// The userinfo of a URL anywhere in a string: `scheme://user:password@` or `scheme://token@`.
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]+)@/gi;

export const looksSecret = (name: string): boolean => SECRET_NAME.test(name) || CAMEL_KEY.test(name);

const envValuesOf = new WeakMap<GatewayConfig, ReadonlySet<string>>();

/** Called by the loader: the values it read from `env.VAR` references, masked wherever they appear in a dump. */
export function rememberEnvValues(config: GatewayConfig, values: ReadonlySet<string>): void {
  envValuesOf.set(config, values);
}

/** A URL's password (or a lone user part, which is often a token) replaced by `***`; the rest kept. */
export function maskUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, (_, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:${MASK}` : MASK}@`;
  });
}

/**
 * A JSON-able copy of the config for the start-up log with every secret masked: key values, values read from
 * `env.VAR`, URL credentials anywhere, and header, key-config and plugin-config values whose name looks secret.
 */
export function redactConfig(cfg: GatewayConfig): unknown {
  const byName = {
    ...cfg,
    providers: cfg.providers.map((p) => ({
      ...p,
      keys: p.keys.map((k) => ({ ...k, value: MASK, providerConfigs: maskByName(k.providerConfigs) })),
      network: { ...p.network, extraHeaders: maskByName(p.network.extraHeaders) },
      // The proxy's password, and a password written into its URL.
      proxy: p.proxy && { ...p.proxy, password: p.proxy.password && MASK, url: maskUserinfo(p.proxy.url),
        environment: p.proxy.environment && { ...p.proxy.environment, httpProxy: maskUserinfo(p.proxy.environment.httpProxy),
          httpsProxy: maskUserinfo(p.proxy.environment.httpsProxy) } },
    })),
    plugins: cfg.plugins.map((pl) => ({ ...pl, config: maskByName(pl.config) })),
    // A stdio server's environment is the gateway's own variables, secrets among them: names only.
    mcp: cfg.mcp && { ...cfg.mcp, clients: cfg.mcp.clients.map((c) => ({ ...c, headers: maskByName(c.headers),
      env: Object.fromEntries(Object.keys(c.env).map((name) => [name, MASK])), url: maskUserinfo(c.url) })) },
    admin: { basic: cfg.admin.basic && { username: cfg.admin.basic.username, password: MASK },
      bearerToken: cfg.admin.bearerToken && MASK },
    // A PostgreSQL password written in the config itself (one read from `env.VAR` is masked as every env value is).
    requestLog: { ...cfg.requestLog, target: maskByName(cfg.requestLog.target) },
    // A collector's headers exist to authenticate (Honeycomb's x-honeycomb-team, Grafana's authorization) and may come
    // from OTEL_EXPORTER_OTLP_HEADERS, not an env.VAR reference: every value is masked; the CA is public but long.
    tracing: cfg.tracing && { ...cfg.tracing, headers: Object.fromEntries(Object.keys(cfg.tracing.headers).map((name) => [name, MASK])),
      tlsCa: cfg.tracing.tlsCa && `(PEM, ${cfg.tracing.tlsCa.length} characters)` },
  };
  return maskValues(byName, envValuesOf.get(cfg) ?? new Set());
}

/** A proxy URL with its credentials (`http://user:pass@host`) masked. */
function maskUserinfo(url: string | null): string | null {
  return url && url.replace(/\/\/[^/@]*@/, `//${MASK}@`);
}

function maskByName(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskByName);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, looksSecret(k) && !isPlain(item) ? MASK : maskByName(item)]));
  }
  return v;
}

// Structure and switches say nothing secret; a nested object is walked so only its secret leaves go.
const isPlain = (v: unknown): boolean => v === null || typeof v === 'boolean' || typeof v === 'object';

function maskValues(v: unknown, envValues: ReadonlySet<string>): unknown {
  if (typeof v === 'string') return envValues.has(v) ? MASK : maskUrlCredentials(v);
  if (Array.isArray(v)) return v.map((item) => maskValues(item, envValues));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, maskValues(item, envValues)]));
  }
  return v;
}
