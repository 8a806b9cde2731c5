// The gateway's governance from its config: null when no virtual key is configured and none is required (the
// request path then skips it entirely), else the compiled keys over in-memory counters or, with
// `governance.state.redis_url`, over Redis shared by every instance.

import type { Logger } from 'pino';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import type { GatewayConfig } from '../config/types.js';
import { MemoryCounters, type CounterStore } from './counters.js';
import { Governance, type GateOptions, type Pricing } from './gate.js';
import { compileGovernance } from './model.js';

export async function createGovernance(config: GatewayConfig, pricing: Pricing | null, logger: Logger,
  extra: Partial<GateOptions> = {}): Promise<Governance | null> {
  const { raw, enforceAuth } = config.governance;
  if (raw.virtual_keys.length === 0 && !enforceAuth) return null;
  const problems: ConfigProblem[] = [];
  const model = compileGovernance(raw, config.providers, Date.now(), problems, config.mcp?.clients.map((c) => c.name) ?? []);
  if (problems.length > 0) throw new ConfigError(problems, config.source);
  const state = raw.state;
  let store: CounterStore;
  if (state) {
    const { RedisCounters } = await import('./redis.js');
    store = await RedisCounters.connect(state, logger);
  } else {
    store = new MemoryCounters();
  }
  return new Governance(model, store, { enforceAuth, pricing, failOpen: state?.on_unavailable === 'open', ...extra });
}
