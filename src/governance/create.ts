// The gateway's governance from its config: the compiled keys (with the admin API's changes from the config store,
// or from Redis when the counters are there) over in-memory counters, over the supervisor's counters in cluster mode
// (src/governance/remote.ts), or, with `governance.state.redis_url`, over Redis shared by every instance. In memory or at the supervisor, what is spent
// is also written to the config store, so that it outlives a restart (src/governance/persist.ts).

import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { GovernanceStateStore } from '../stores/request-log.js';
import { MemoryCounters, type CounterStore } from './counters.js';
import { Governance, type GateOptions, type Pricing } from './gate.js';
import { PersistedCounters } from './persist.js';
import { GovernanceState, WATCH_MS } from './state.js';
import type { RedisCounters } from './redis.js';
import type { GovernanceSnapshot } from '../stores/governance-store.js';

/**
 * With Redis: the admin API's entities in Redis, so that every instance on it sees them; counters need no anchors
 * from the config store (Redis keeps each window's end), and spend lives in Redis.
 */
function redisStateStore(redis: RedisCounters, sql: GovernanceStateStore | null): GovernanceStateStore {
  const load = async (anchors: [string, number][]): Promise<GovernanceSnapshot> => {
    const counters = sql ? (await sql.load(anchors).catch(() => null))?.counters ?? [] : [];
    return { counters, ...await redis.entities() };
  };
  return {
    load,
    addUsage: () => undefined,
    writeEntities: (writes) => redis.writeEntities(writes),
    watch(revision, intervalMs, onChange) {
      let known = revision;
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        redis.revision().then(async (now) => {
          if (now === known) return;
          const snapshot = await load([]);
          known = snapshot.revision;
          onChange(snapshot);
        }).catch(() => undefined).finally(() => {
          busy = false;
        });
      }, intervalMs ?? WATCH_MS);
      timer.unref();
    },
  };
}

export interface GovernanceSetup {
  readonly gate: Governance;
  readonly state: GovernanceState;
}

export interface GovernanceSources {
  /** The config store (the request log's store); null when logging is off: nothing then outlives a restart. */
  readonly store: GovernanceStateStore | null;
  /** Cluster mode without Redis: the supervisor's counters. */
  readonly shared?: () => CounterStore;
}

export async function createGovernance(config: GatewayConfig, pricing: Pricing | null, logger: Logger,
  extra: Partial<GateOptions> = {}, sources: GovernanceSources = { store: null }): Promise<GovernanceSetup | null> {
  const { raw, enforceAuth } = config.governance;
  // Without a key, a requirement or a store to hold the admin API's keys, the request path skips governance.
  if (raw.virtual_keys.length === 0 && !enforceAuth && !sources.store && !raw.state) return null;
  const redis = raw.state;
  let redisCounters: RedisCounters | null = null;
  if (redis) {
    const { RedisCounters: Counters } = await import('./redis.js');
    redisCounters = await Counters.connect(redis, logger);
  }
  // Instances sharing Redis may each have a store of their own: the admin API's changes go through Redis then.
  const state = new GovernanceState(raw, config.providers,
    redisCounters ? redisStateStore(redisCounters, sources.store) : sources.store, logger,
    config.mcp?.clients.map((c) => c.name) ?? []);
  let model;
  try {
    model = await state.load();
  } catch (error) {
    await redisCounters?.close();
    throw error;
  }
  let store: CounterStore;
  if (redisCounters) store = redisCounters;
  else {
    store = sources.shared?.() ?? new MemoryCounters();
    if (sources.store) store = new PersistedCounters(store, sources.store);
    else if (model.counters.size > 0) {
      logger.warn('governance: the request log is off, so spend and rate-limit windows are kept in memory only and '
        + 'start over at each restart (client.enable_logging and logs_store.enabled keep them in its store)');
    }
  }
  const gate = new Governance(model, store, { enforceAuth, pricing, failOpen: redis?.on_unavailable === 'open', ...extra });
  state.attach(gate);
  return { gate, state };
}
