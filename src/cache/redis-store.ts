// The shared store: entries and their vectors in Redis, so that every process and instance naming the same server
// and key prefix answers from one cache. Redis never fails or holds up a request: a lookup that errs, or that Redis
// does not answer within `timeout_ms`, is a miss, and writes are fire-and-forget. `disableOfflineQueue` makes a
// command fail at once while the connection is down, instead of queueing behind a reconnection.
//
// Vectors are kept per semantic scope in one hash (exact key → expiry and the vector as float32 bytes), at most
// `max_vectors_per_scope` of them, and scored in the gateway: a scope is what one conversation prefix on one model
// and key asked, so it stays small, and no Redis module or second server is needed (see docs/cache.md).

import type { Logger } from 'pino';
import type { RedisClientType } from 'redis';
import { connectRedis } from '../stores/redis.js';
import type { CacheStoreConfig } from './config.js';
import { parseEntry, type CacheEntry } from './entry.js';
import type { CacheCounters } from './metrics.js';
import type { StoredVector } from './vectors.js';

export class RedisStore {
  readonly #client: RedisClientType;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #maxVectors: number;
  readonly #counters: CacheCounters;
  readonly #logger: Logger;

  private constructor(client: RedisClientType, config: CacheStoreConfig, counters: CacheCounters, logger: Logger) {
    this.#client = client;
    this.#prefix = config.keyPrefix;
    this.#timeoutMs = config.timeoutMs;
    this.#maxVectors = config.maxVectorsPerScope;
    this.#counters = counters;
    this.#logger = logger;
  }

  /** Connects, waiting a little: a gateway starts while Redis is away, and serves without the cache until it is back. */
  static async connect(config: CacheStoreConfig, counters: CacheCounters, logger: Logger): Promise<RedisStore> {
    const client = await connectRedis(config.redisUrl, config.timeoutMs, logger, 'cache', 'requests go on without the cache');
    return new RedisStore(client, config, counters, logger);
  }

  /** The reply, or null (counted) when Redis errs or is later than the timeout. */
  async #bounded<T>(call: () => Promise<T>): Promise<T | null> {
    if (!this.#client.isReady) {
      this.#counters.storeErrors++;
      return null;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.#timeoutMs);
    });
    const reply = call().catch((error: unknown) => {
      this.#logger.debug({ err: { message: (error as Error).message } }, 'cache: a Redis lookup failed');
      return null;
    });
    const settled = await Promise.race([reply, late]);
    clearTimeout(timer);
    if (settled === null) this.#counters.storeErrors++;
    return settled;
  }

  async get(key: string): Promise<CacheEntry | null> {
    const text = await this.#bounded(() => this.#client.get(`${this.#prefix}e:${key}`));
    return text ? parseEntry(text) : null;
  }

  set(key: string, entry: CacheEntry, ttlMs: number): void {
    if (!this.#client.isReady) {
      this.#counters.storeErrors++;
      return;
    }
    this.#client.set(`${this.#prefix}e:${key}`, JSON.stringify(entry), { PX: ttlMs }).catch(() => {
      this.#counters.storeErrors++;
    });
  }

  async vectors(scope: string): Promise<StoredVector[]> {
    const hash = await this.#bounded(() => this.#client.hGetAll(`${this.#prefix}v:${scope}`));
    if (!hash) return [];
    const out: StoredVector[] = [];
    for (const [key, value] of Object.entries(hash)) {
      const colon = value.indexOf(':');
      const bytes = Buffer.from(value.slice(colon + 1), 'base64');
      out.push({ key, expiresAt: Number(value.slice(0, colon)),
        vector: new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 4)) });
    }
    return out;
  }

  addVector(scope: string, key: string, vector: Float32Array, expiresAt: number, ttlMs: number): void {
    if (!this.#client.isReady) return;
    const hash = `${this.#prefix}v:${scope}`;
    const value = `${expiresAt}:${Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')}`;
    void this.#client.hLen(hash).then((length) => {
      // A full scope takes no more vectors until its hash expires: exact hits still work for the new entries.
      if (length >= this.#maxVectors) return;
      return this.#client.multi().hSet(hash, key, value).pExpire(hash, ttlMs).exec();
    }).catch(() => {
      this.#counters.storeErrors++;
    });
  }

  /** Deletes every key under the prefix (`cleanup_on_shutdown`), in batches; bounded like any other call. */
  async clear(): Promise<void> {
    if (!this.#client.isReady) return;
    const removal = (async () => {
      for await (const keys of this.#client.scanIterator({ MATCH: `${this.#prefix}*`, COUNT: 500 })) {
        const batch = (Array.isArray(keys) ? keys : [keys]) as string[];
        if (batch.length > 0) await this.#client.unlink(batch);
      }
    })().catch((error: unknown) => {
      this.#logger.warn({ err: { message: (error as Error).message } }, 'cache: cleanup_on_shutdown could not clear Redis');
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([removal, new Promise((resolve) => { timer = setTimeout(resolve, Math.max(1000, this.#timeoutMs * 20)); })]);
    clearTimeout(timer);
  }

  /** Closes gracefully when Redis answers; a Redis that is down or stalled does not hold up the gateway's shutdown. */
  async close(): Promise<void> {
    const client = this.#client;
    if (!client.isReady) {
      if (client.isOpen) client.destroy();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([client.close().then(() => true, () => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.#timeoutMs * 10); })]);
    clearTimeout(timer);
    if (!closed && client.isOpen) client.destroy();
  }
}
