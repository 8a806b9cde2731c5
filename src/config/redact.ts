import type { GatewayConfig } from './types.js';

const MASK = '***';
// Header and plugin-config names that carry credentials; matched loosely because a leaked secret costs more
// than a masked harmless value.
const SECRET_NAME = /^(authorization|proxy-authorization)$|api[-_]?key|access[-_]?key|private[-_]?key|token|secret|password|credential/i;

export const looksSecret = (name: string): boolean => SECRET_NAME.test(name);

/** A JSON-able copy of the config for the start-up log, with every secret masked. */
export function redactConfig(cfg: GatewayConfig): unknown {
  return {
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
  };
}

/** A proxy URL with its credentials (`http://user:pass@host`) masked. */
function maskUserinfo(url: string | null): string | null {
  return url && url.replace(/\/\/[^/@]*@/, `//${MASK}@`);
}

function maskByName(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskByName);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, looksSecret(k) ? MASK : maskByName(item)]));
  }
  return v;
}
