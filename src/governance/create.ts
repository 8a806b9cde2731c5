// The gateway's governance from its config: the compiled keys (with the admin API's changes from the config store)
// over in-memory counters, over the supervisor's counters in cluster mode (src/governance/remote.ts), or, with
// `governance.state.redis_url`, over Redis shared by every instance. In memory or at the supervisor, what is spent
// is also written to the config store, so that it outlives a restart (src/governance/persist.ts).

import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { GovernanceStateStore } from '../stores/request-log.js';
import { MemoryCounters, type CounterStore } from './counters.js';
import { Governance, type GateOptions, type Pricing } from './gate.js';
import { PersistedCounters } from './persist.js';
import { GovernanceState } from './state.js';

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
  if (raw.virtual_keys.length === 0 && !enforceAuth && !sources.store) return null;
  const state = new GovernanceState(raw, config.providers, sources.store, logger);
  const model = await state.load();
  const redis = raw.state;
  let store: CounterStore;
  if (redis) {
    const { RedisCounters } = await import('./redis.js');
    store = await RedisCounters.connect(redis, logger);
  } else {
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
