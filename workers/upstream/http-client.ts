// The worker's HTTP client: one keep-alive connection pool per upstream origin, created on first use.

import { UpstreamPool } from './pool.js';

export class UpstreamClients {
  readonly #pools = new Map<string, UpstreamPool>();
  readonly #connections: number;
  readonly #timeoutMs: number;

  /** `timeoutMs` is the longest wait the jobs allow (request timeout or stream idle timeout). */
  constructor(connectionsPerOrigin: number, timeoutMs: number) {
    this.#connections = connectionsPerOrigin;
    this.#timeoutMs = timeoutMs;
  }

  poolFor(origin: string): UpstreamPool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      // Timeouts are enforced by the job's own timer (total, first byte, idle); undici's are a backstop.
      pool = new UpstreamPool(origin, {
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
