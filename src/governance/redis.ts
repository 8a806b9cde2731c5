// The counters in Redis, shared by every instance that names the same server and key prefix. A reservation is one
// Lua script (atomic: no other instance's reservation runs between its check and its increment) over every counter
// the request touches, so it costs one round trip; settling is another script, sent after the response and never
// waited for. node-redis pipelines commands issued in the same tick onto one write by itself.
//
// Each counter is a hash `<prefix><key>` with `used`, `reserved` and `end` (the epoch ms its window ends). The
// stored end decides: a window starts over only once the caller's clock has passed it, with the end the caller
// computes from the config (src/governance/period.ts). So instances started at different times (rolling windows
// are anchored at the start of whichever instance counted first) share one window. Keys expire a day after their
// window ends.
//
// Redis away: `disableOfflineQueue` makes a command fail at once instead of waiting for a reconnection, and each
// reservation is given `timeout_ms`; what happens then is the caller's (fail open or closed, src/governance/gate.ts).

import type { Logger } from 'pino';
import type { RedisClientType } from 'redis';
import { connectRedis } from '../stores/redis.js';
import { type CounterSpec, type CounterStore, type CounterUsage, type Hold, type Verdict } from './counters.js';
import { windowEnd, windowStart } from './period.js';
import type { EntityWrite, StoredEntity } from '../stores/governance-store.js';

const KEEP_AFTER_END_MS = 86_400_000;

// KEYS: the counters. ARGV: now, then per counter: limit, amount, window end, usage to start a new key from. The
// check is `fits` of src/governance/counters.ts.
const RESERVE = `
local now = tonumber(ARGV[1])
local state = {}
local refused = -1
for i, key in ipairs(KEYS) do
  local base = 1 + (i - 1) * 4
  local limit, amount, wend, initial = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local h = redis.call('HMGET', key, 'used', 'reserved', 'end')
  local used, reserved, stored = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3])
  if used == nil then used = initial; stored = wend
  elseif stored == nil or now >= stored then used = 0; stored = wend end
  state[i] = {used, reserved, stored}
  if refused == -1 then
    local ok
    if amount > 0 then ok = used + reserved + amount <= limit else ok = used + reserved < limit end
    if not ok then refused = i - 1 end
  end
end
local out = {refused}
for i, key in ipairs(KEYS) do
  local s = state[i]
  if refused == -1 then s[2] = s[2] + tonumber(ARGV[1 + (i - 1) * 4 + 2]) end
  redis.call('HSET', key, 'used', s[1], 'reserved', s[2], 'end', s[3])
  redis.call('PEXPIREAT', key, s[3] + ${KEEP_AFTER_END_MS})
  out[#out + 1] = s[1]; out[#out + 1] = s[2]; out[#out + 1] = s[3]
end
return out
`;

// KEYS: the counters. ARGV: now, then per counter: amount reserved, actual, window end.
const SETTLE = `
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local base = 1 + (i - 1) * 3
  local amount, actual, wend = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local h = redis.call('HMGET', key, 'used', 'reserved', 'end')
  local used, reserved, stored = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or wend
  if now >= stored then used = 0; stored = wend end
  reserved = reserved - amount
  if reserved < 0 then reserved = 0 end
  redis.call('HSET', key, 'used', used + actual, 'reserved', reserved, 'end', stored)
  redis.call('PEXPIREAT', key, stored + ${KEEP_AFTER_END_MS})
end
return 1
`;

export interface RedisState {
  readonly redis_url: string;
  readonly key_prefix: string;
  readonly timeout_ms: number;
}

/** The end of the window `now` is in, and what a counter not yet in Redis starts from. */
function windowOf(counter: CounterSpec, now: number): { end: number; initial: number } {
  const end = windowEnd(counter.period, windowStart(counter.period, now));
  const first = windowEnd(counter.period, windowStart(counter.period, counter.period.anchor));
  return { end, initial: end === first ? counter.initialUsage : 0 };
}

export class RedisCounters implements CounterStore {
  readonly #client: RedisClientType;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #sha = new Map<string, string>();
  /** Round trips sent, for the bench. */
  commands = 0;

  private constructor(client: RedisClientType, state: RedisState, logger: Logger) {
    this.#client = client;
    this.#prefix = state.key_prefix;
    this.#timeoutMs = state.timeout_ms;
    this.#logger = logger;
  }

  /** Connects (or keeps trying in the background: a gateway starts while Redis is away, and fails open or closed). */
  static async connect(state: RedisState, logger: Logger): Promise<RedisCounters> {
    return new RedisCounters(await connectRedis(state.redis_url, state.timeout_ms, logger, 'governance', 'reconnecting'), state, logger);
  }

  async #run(name: string, script: string, keys: string[], args: string[]): Promise<unknown> {
    if (!this.#client.isReady) throw new Error('Redis is not connected');
    this.commands++;
    let sha = this.#sha.get(name);
    if (!sha) {
      sha = await this.#client.scriptLoad(script);
      this.#sha.set(name, sha);
    }
    try {
      return await this.#client.evalSha(sha, { keys, arguments: args });
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      this.#sha.delete(name);
      return this.#client.eval(script, { keys, arguments: args });
    }
  }

  reserve(holds: readonly Hold[], now: number): Promise<Verdict> {
    const args = [String(now)];
    for (const { counter, amount } of holds) {
      const { end, initial } = windowOf(counter, now);
      args.push(String(counter.limit), String(amount), String(end), String(initial));
    }
    const call = this.#run('reserve', RESERVE, holds.map((hold) => this.#prefix + hold.counter.key), args);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer)).then((reply) => {
      const flat = (reply as unknown[]).map(Number);
      const usage: CounterUsage[] = holds.map((_, i) => ({ used: flat[1 + i * 3], reserved: flat[2 + i * 3], resetAt: flat[3 + i * 3] }));
      return { refused: flat[0], usage };
    });
  }

  settle(holds: readonly Hold[], actual: readonly number[], now: number): void {
    const args: string[] = [String(now)];
    holds.forEach(({ counter, amount }, i) => args.push(String(amount), String(actual[i]), String(windowOf(counter, now).end)));
    this.#run('settle', SETTLE, holds.map((hold) => this.#prefix + hold.counter.key), args).catch((error: unknown) => {
      // A settlement lost to an outage leaves its reservation held until the window's key expires: never an overspend.
      this.#logger.warn({ err: { message: (error as Error).message } }, 'governance: a settlement could not reach Redis');
    });
  }

  async usage(counter: CounterSpec, now: number): Promise<CounterUsage> {
    const { end, initial } = windowOf(counter, now);
    const values = await this.#client.hmGet(this.#prefix + counter.key, ['used', 'reserved', 'end']);
    const stored = Number(values[2] ?? 0);
    if (values[0] === null || values[0] === undefined) return { used: initial, reserved: 0, resetAt: end };
    const fresh = now >= stored;
    return { used: fresh ? 0 : Number(values[0]), reserved: Number(values[1] ?? 0), resetAt: fresh ? end : stored };
  }

  // The admin API's changes, shared by every instance on this Redis and prefix (src/governance/state.ts): one hash
  // `<prefix>entities` (`<kind>\0<id>` → the entity as JSON, `null` when deleted) and a revision bumped with each
  // change in the same transaction. No expiry: they are configuration.

  /** Every stored entity and the revision; the revision is read first, so a change landing between is found again. */
  async entities(): Promise<{ entities: StoredEntity[]; revision: number }> {
    if (!this.#client.isReady) throw new Error('Redis is not connected');
    const revision = Number(await this.#client.get(`${this.#prefix}revision`) ?? 0);
    const all = await this.#client.hGetAll(`${this.#prefix}entities`);
    const entities = Object.entries(all).map(([field, json]): StoredEntity => {
      const cut = field.indexOf('\u0000');
      return { kind: field.slice(0, cut) as StoredEntity['kind'], id: field.slice(cut + 1),
        body: JSON.parse(json) as Record<string, unknown> | null };
    });
    return { entities, revision };
  }

  async writeEntities(writes: readonly EntityWrite[]): Promise<number> {
    if (!this.#client.isReady) throw new Error('Redis is not connected');
    const fields = Object.fromEntries(writes.map(([kind, id, body]) => [`${kind}\u0000${id}`, JSON.stringify(body)]));
    const [, revision] = await this.#client.multi().hSet(`${this.#prefix}entities`, fields).incr(`${this.#prefix}revision`).exec();
    return Number(revision);
  }

  async revision(): Promise<number> {
    if (!this.#client.isReady) throw new Error('Redis is not connected');
    return Number(await this.#client.get(`${this.#prefix}revision`) ?? 0);
  }

  async close(): Promise<void> {
    if (this.#client.isOpen) await this.#client.close().catch(() => undefined);
    else this.#client.destroy();
  }
}
