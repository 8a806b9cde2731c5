// URL building shared by adapters: a configured base URL joined with the adapter's path.

/**
 * Joins a base URL and an adapter path. A trailing `/v1` on the base is dropped when the path starts with `/v1`
 * too, so both `http://host:8000` (Bifrost's convention) and `http://host:8000/v1` (the OpenAI SDK's) work. A
 * query string on the base is kept after the path.
 */
export function joinUrl(baseUrl: string, path: string): string {
  return remembered(joined, `${baseUrl}\n${path}`, () => joinUncached(baseUrl, path));
}

function joinUncached(baseUrl: string, path: string): string {
  const url = new URL(baseUrl);
  let basePath = url.pathname.replace(/\/+$/, '');
  if (basePath.endsWith('/v1') && path.startsWith('/v1/')) basePath = basePath.slice(0, -3);
  const [pathOnly, pathQuery] = path.split('?', 2);
  const query = [url.search.slice(1), pathQuery].filter(Boolean).join('&');
  return `${url.origin}${basePath}${pathOnly}${query ? `?${query}` : ''}`;
}

/** Splits an absolute URL into the origin undici pools by and the path (with query) it requests. */
export function splitUrl(absolute: string): { readonly origin: string; readonly path: string } {
  return remembered(split, absolute, () => {
    const url = new URL(absolute);
    return Object.freeze({ origin: url.origin, path: `${url.pathname}${url.search}` });
  });
}

// Every call of a provider builds the same few URLs, and WHATWG URL parsing costs more than the rest of building a
// call: each worker remembers the URLs it built. Bounded, as paths may carry model names a client chose.
const MAX_REMEMBERED = 1024;
const joined = new Map<string, string>();
const split = new Map<string, { readonly origin: string; readonly path: string }>();

function remembered<T>(cache: Map<string, T>, key: string, build: () => T): T {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const value = build();
  if (cache.size >= MAX_REMEMBERED) cache.clear();
  cache.set(key, value);
  return value;
}
