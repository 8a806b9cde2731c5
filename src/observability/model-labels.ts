// The `model` label's table. Its size is fixed at boot because the per-model series live in the shared metrics
// memory, whose layout every worker computes the same way; the front hands out the slots and sends each job's slot
// index, so workers count by number and never see the table.

import type { GatewayConfig } from '../config/types.js';
import { LabelTable } from './label-table.js';

/**
 * Distinct models, beyond the configured ones, that get their own series before the rest share `other`. A gateway
 * whose keys allow every model (`["*"]`) meets what clients name; 64 covers a real fleet without letting a client
 * that invents names grow the series without bound.
 */
export const DYNAMIC_MODEL_SLOTS = 64;

/** Slot 0 is '' (a call about no model: listing a provider's models); then every model the config names. */
export function modelLabelTable(config: Pick<GatewayConfig, 'providers' | 'modelAliases'>): LabelTable {
  const known = [''];
  for (const provider of config.providers) {
    for (const key of provider.keys) known.push(...(key.models ?? []));
  }
  for (const target of Object.values(config.modelAliases)) {
    const slash = target.indexOf('/');
    if (slash > 0) known.push(target.slice(slash + 1));
  }
  return new LabelTable(known, DYNAMIC_MODEL_SLOTS);
}
