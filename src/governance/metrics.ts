// Governance in /metrics, per virtual key (ids from the config, so the series stay countable): every decision by
// outcome (`admitted`, or the refusal's code), the spend, and each in-memory budget's room left.

import type { LabelledFamily } from '../observability/metrics.js';
import { MemoryCounters } from './counters.js';
import { PersistedCounters } from './persist.js';
import type { Governance } from './gate.js';
import { MICRO_USD, type VirtualKey } from './model.js';

export class GovernanceMetrics {
  /** Key id ('' for a request whose key is unknown or missing) → outcome → count: nested, so that counting a
   * decision builds no string. */
  readonly #decisions = new Map<string, Map<string, number>>();
  readonly #spend = new Map<string, number>();
  #governance: Governance | null = null;

  attach(governance: Governance | null): void {
    this.#governance = governance;
  }

  decision(key: VirtualKey | null, outcome: string): void {
    const id = key?.id ?? '';
    let outcomes = this.#decisions.get(id);
    if (!outcomes) this.#decisions.set(id, outcomes = new Map());
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }

  spend(key: VirtualKey, usd: number): void {
    this.#spend.set(key.id, (this.#spend.get(key.id) ?? 0) + usd);
  }

  families(): LabelledFamily[] {
    const decisions = [...this.#decisions].flatMap(([id, outcomes]) => [...outcomes].map(([outcome, count]) => [[id, outcome], count] as const));
    const families: LabelledFamily[] = [
      { name: 'heimdall_governance_requests_total', help: 'Inference requests that presented a virtual key (or needed one), by '
        + 'virtual key id and outcome: admitted, or the refusal\'s error code.', type: 'counter', aggregation: 'sum',
      labelNames: ['virtual_key', 'outcome'], labels: decisions.map(([labels]) => [...labels]),
      values: decisions.map(([, count]) => count) },
      { name: 'heimdall_governance_spend_usd_total', help: 'USD spent through each virtual key, as settled after each request.',
        type: 'counter', aggregation: 'sum', labelNames: ['virtual_key'], labels: [...this.#spend.keys()].map((id) => [id]),
        values: [...this.#spend.values()] },
    ];
    const governance = this.#governance;
    const inner = governance?.store instanceof PersistedCounters ? governance.store.inner : governance?.store;
    if (governance && inner instanceof MemoryCounters) {
      const store = inner;
      const budgets = [...governance.model.counters.values()].filter((counter) => counter.kind === 'budget');
      const now = Date.now();
      families.push({ name: 'heimdall_governance_budget_remaining_usd', help: 'USD a budget has left in its window: its limit '
        + 'less what is spent and what requests in flight hold (in-memory counters; with Redis, read Redis).', type: 'gauge',
      aggregation: 'max', labelNames: ['budget'], labels: budgets.map((counter) => [counter.key.slice('budget:'.length)]),
      values: budgets.map((counter) => {
        const { used, reserved } = store.usage(counter, now);
        return Math.max(0, counter.limit - used - reserved) / MICRO_USD;
      }) });
    }
    return families;
  }
}
