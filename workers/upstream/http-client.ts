// The worker's HTTP client: one keep-alive undici Pool per upstream origin, created on first use.

import { Pool } from 'undici';
import type { AuthStyle } from '../providers/types.js';

export interface UpstreamTarget {
  origin: string;
  /** Base path of the configured base URL, joined with the adapter's path. */
  basePath: string;
}

/**
 * Splits a base URL into origin and path. A trailing `/v1` is dropped when the adapter's path starts with
 * `/v1` too, so both `http://host:8000` (Bifrost's convention) and `http://host:8000/v1` (the OpenAI SDK's)
 * work.
 */
export function resolveTarget(baseUrl: string, adapterPath: string): { origin: string; path: string } {
  const url = new URL(baseUrl);
  let basePath = url.pathname.replace(/\/+$/, '');
  if (basePath.endsWith('/v1') && adapterPath.startsWith('/v1/')) basePath = basePath.slice(0, -3);
  return { origin: url.origin, path: `${basePath}${adapterPath}${url.search}` };
}

export function authHeaders(auth: AuthStyle, key: string | null): Record<string, string> {
  if (!key || auth.kind === 'none') return {};
  return auth.kind === 'bearer' ? { authorization: `Bearer ${key}` } : { [auth.name]: key };
}

export class UpstreamClients {
  readonly #pools = new Map<string, Pool>();
  readonly #connections: number;
  readonly #timeoutMs: number;

  /** `timeoutMs` is the longest wait the jobs allow (request timeout or stream idle timeout). */
  constructor(connectionsPerOrigin: number, timeoutMs: number) {
    this.#connections = connectionsPerOrigin;
    this.#timeoutMs = timeoutMs;
  }

  poolFor(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      // Timeouts are enforced by the job's own timer (total, first byte, idle); undici's are a backstop.
      pool = new Pool(origin, {
        connections: this.#connections,
        keepAliveTimeout: 30_000,
        headersTimeout: this.#timeoutMs + 1_000,
        bodyTimeout: this.#timeoutMs + 1_000,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map((pool) => pool.destroy()));
    this.#pools.clear();
  }
}
