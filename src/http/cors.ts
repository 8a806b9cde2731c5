// Cross-origin access from browsers, as `client.allowed_origins` allows it (Bifrost's key): the headers each
// response carries, and the answer to a preflight. Decided per request from the Origin header alone; an origin
// that is not allowed gets no CORS header at all, so the browser keeps the response from the page.

import type { Headers } from './response.js';

/** Methods the gateway's routes answer, for a preflight's Access-Control-Allow-Methods. */
const ALLOWED_METHODS = 'GET, POST, HEAD, OPTIONS';
/** Chrome caps a preflight's cache at 2 hours; a longer Max-Age would only mislead. */
const PREFLIGHT_MAX_AGE_SECONDS = '7200';
/**
 * The headers the SDKs send when a preflight does not name any: an answer is only needed for the ones it names,
 * which are echoed, so that every SDK's own headers (x-stainless-*, anthropic-version, x-goog-api-key) pass.
 */
const DEFAULT_ALLOWED_HEADERS = 'authorization, content-type, x-api-key, x-request-id';
// A header list as a browser writes it: names (tokens) separated by commas and spaces. Anything else is not echoed.
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

export interface CorsPolicy {
  /** Headers for a response to a request from `origin`; only `Vary` when the origin may not read it. */
  responseHeaders(origin: string | undefined): Headers;
  /** Headers for the answer to a preflight (OPTIONS) from `origin`; only `Vary` when the origin is not allowed. */
  preflightHeaders(origin: string | undefined, requestedHeaders: string | undefined): Headers;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `https://*.example.com` (Bifrost's wildcard): any subdomain, at any depth, of example.com over https; without a
 * scheme (`*.example.com`), over http or https. The apex itself is not included, as in Bifrost.
 */
function subdomainPattern(pattern: string): RegExp {
  const schemeEnd = pattern.indexOf('://');
  const scheme = schemeEnd === -1 ? 'https?' : escapeRegExp(pattern.slice(0, schemeEnd));
  const rest = schemeEnd === -1 ? pattern : pattern.slice(schemeEnd + 3);
  return new RegExp(`^${scheme}://${rest.split('*').map(escapeRegExp).join('[a-z0-9-]+(?:\\.[a-z0-9-]+)*')}$`);
}

/** null when no origin is allowed: then no response carries a CORS header. */
export function corsPolicy(allowedOrigins: readonly string[]): CorsPolicy | null {
  if (allowedOrigins.length === 0) return null;
  const any = allowedOrigins.includes('*');
  // Origins compare as the browser serialises them: scheme://host[:port], lower case, no trailing slash.
  const normalized = allowedOrigins.map((origin) => origin.toLowerCase().replace(/\/+$/, ''));
  const allowed = new Set(normalized.filter((origin) => !origin.includes('*')));
  const patterns = normalized.filter((origin) => origin !== '*' && origin.includes('*')).map(subdomainPattern);
  const isAllowed = (origin: string | undefined): origin is string => {
    if (origin === undefined || origin === '') return false;
    if (any) return true;
    const lower = origin.toLowerCase();
    return allowed.has(lower) || patterns.some((pattern) => pattern.test(lower));
  };
  // The answer depends on Origin, so a shared cache must key on it even when the origin is refused.
  const varyOnly: Headers = Object.freeze({ vary: 'Origin' });
  return {
    responseHeaders(origin) {
      if (!isAllowed(origin)) return varyOnly;
      // The origin is echoed rather than `*`, so that a page that sends credentials is served too.
      return { 'access-control-allow-origin': origin, 'access-control-expose-headers': '*', vary: 'Origin' };
    },
    preflightHeaders(origin, requestedHeaders): Headers {
      if (!isAllowed(origin)) return { vary: 'Origin, Access-Control-Request-Headers' };
      return {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': ALLOWED_METHODS,
        'access-control-allow-headers': requestedHeaders && HEADER_LIST.test(requestedHeaders.trim())
          ? requestedHeaders.trim() : DEFAULT_ALLOWED_HEADERS,
        'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
        vary: 'Origin, Access-Control-Request-Headers',
      };
    },
  };
}
