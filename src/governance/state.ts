// What governance is at any moment: the config file's `governance` block with the admin API's changes laid over it
// (the config store's entities: an entity stored under a config entry's id replaces it, a deletion hides it), compiled
// with the config store's counters. A change made here is written to the store first, then compiled and applied in
// this process before the admin API answers; every other process (cluster mode) and every instance sharing the
// store finds it by polling the store's revision every WATCH_MS and applies the same merge.

import type { Logger } from 'pino';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import type { ProviderConfig } from '../config/types.js';
import type { EntityKind, EntityWrite, GovernanceSnapshot, StoredEntity } from '../stores/governance-store.js';
import type { GovernanceStateStore } from '../stores/request-log.js';
import type { Governance } from './gate.js';
import { compileGovernance, type GovernanceModel, type PersistedCounter } from './model.js';
import type { RawGovernance } from './schema.js';

/** How often each process looks for another's change: a change is everywhere within this and one store round trip. */
export const WATCH_MS = 250;

export const LIST_OF = {
  virtual_key: 'virtual_keys', team: 'teams', customer: 'customers', budget: 'budgets', rate_limit: 'rate_limits',
} as const satisfies Record<EntityKind, keyof RawGovernance>;

type Entry = { id: string } & Record<string, unknown>;

export class GovernanceState {
  readonly #base: RawGovernance;
  readonly #providers: readonly ProviderConfig[];
  readonly #store: GovernanceStateStore | null;
  readonly #logger: Logger;
  /** The configured MCP clients' names, which keys' `mcp_configs` name. */
  readonly #mcpClients: readonly string[];
  #entities = new Map<string, StoredEntity>();
  #counters = new Map<string, PersistedCounter>();
  /** The store's revision last read: the watch looks for changes past it. */
  #revision = 0;
  #merged: RawGovernance;
  #gate: Governance | null = null;
  /** Changes are applied one at a time, in the order they were made or found. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(base: RawGovernance, providers: readonly ProviderConfig[], store: GovernanceStateStore | null, logger: Logger,
    mcpClients: readonly string[] = []) {
    this.#base = base;
    this.#mcpClients = mcpClients;
    this.#providers = providers;
    this.#store = store;
    this.#logger = logger;
    this.#merged = base;
  }

  get persistent(): boolean {
    return this.#store !== null;
  }

  /** The governance block in force: the config's, with the admin API's changes. */
  get merged(): RawGovernance {
    return this.#merged;
  }

  /**
   * Reads the store and compiles what is in force; throws ConfigError when a stored entity no longer fits the config
   * (a provider it names was removed from the file). A store that cannot answer is logged: the config alone is used.
   */
  async load(): Promise<GovernanceModel> {
    if (this.#store) {
      try {
        this.#absorb(await this.#store.load([]));
      } catch (error) {
        this.#logger.error({ err: { message: (error as Error).message } }, 'governance: the config store cannot be read; '
          + 'starting from the config file alone (spend counted before this start is not known)');
      }
    }
    const problems: ConfigProblem[] = [];
    const model = await this.#compile(this.#mergedWith(this.#entities), problems);
    if (problems.length > 0) {
      throw new ConfigError(problems.map((p) => ({ ...p, message: `${p.message} (as changed through the admin API)` })), 'config store');
    }
    return model;
  }

  /** Whether the config file has this entity (else the admin API made it). */
  inFile(kind: EntityKind, id: string): boolean {
    return (this.#base[LIST_OF[kind]] as Entry[]).some((entry) => entry.id === id);
  }

  /** Starts applying the gate's model, and other processes' changes as they come. */
  attach(gate: Governance): void {
    this.#gate = gate;
    this.#store?.watch(this.#revision, WATCH_MS, (snapshot) => {
      this.#queue = this.#queue.then(() => this.#applyFound(snapshot)).catch((error: unknown) => {
        this.#logger.error({ err: { message: (error as Error).message } }, 'governance: a change from the config store could not be applied');
      });
    });
  }

  /**
   * Checks `writes` against everything in force (every problem, with its path, or null), then stores and applies
   * them. Rejects when the store cannot take them.
   */
  change(writes: readonly EntityWrite[]): Promise<ConfigProblem[] | null> {
    const run = async (): Promise<ConfigProblem[] | null> => {
      const next = new Map(this.#entities);
      for (const [kind, id, body] of writes) next.set(`${kind}\u0000${id}`, { kind, id, body });
      const problems: ConfigProblem[] = [];
      const raw = this.#mergedWith(next);
      compileGovernance(raw, this.#providers, Date.now(), problems, this.#counters, this.#mcpClients);
      if (problems.length > 0) return problems;
      if (!this.#store) throw new Error('no config store');
      this.#revision = await this.#store.writeEntities([...writes]);
      this.#entities = next;
      const model = await this.#compile(raw, problems);
      this.#gate?.setModel(model);
      return null;
    };
    const done = this.#queue.then(run);
    this.#queue = done.catch(() => undefined);
    return done;
  }

  async #applyFound(snapshot: GovernanceSnapshot): Promise<void> {
    // Read before a change this process has applied since: it would undo it. One at the same revision was read after
    // it, and has any change another process made just before it, which this process's own view lacked.
    if (snapshot.revision < this.#revision) return;
    this.#absorb(snapshot);
    const problems: ConfigProblem[] = [];
    const model = await this.#compile(this.#mergedWith(this.#entities), problems);
    if (problems.length > 0) {
      this.#logger.error({ problems }, 'governance: a change in the config store does not fit this config; keeping the last one');
      return;
    }
    this.#gate?.setModel(model);
  }

  #absorb(snapshot: GovernanceSnapshot): void {
    this.#entities = new Map(snapshot.entities.map((e) => [`${e.kind}\u0000${e.id}`, e]));
    this.#revision = snapshot.revision;
    for (const c of snapshot.counters) this.#counters.set(c.key, { anchor: c.anchor, used: c.used, windowEnd: c.windowEnd });
  }

  #mergedWith(entities: ReadonlyMap<string, StoredEntity>): RawGovernance {
    const merged: Record<string, unknown> = { ...this.#base };
    for (const [kind, list] of Object.entries(LIST_OF) as [EntityKind, keyof RawGovernance][]) {
      const byId = new Map((this.#base[list] as Entry[]).map((entry) => [entry.id, entry]));
      for (const entity of entities.values()) {
        if (entity.kind !== kind) continue;
        if (entity.body) byId.set(entity.id, entity.body as Entry);
        else byId.delete(entity.id);
      }
      merged[list] = [...byId.values()];
    }
    return merged as RawGovernance;
  }

  /**
   * Compiles `raw`; a counter the store has no anchor for gets one recorded first (the first process to record it
   * wins, so every process counts its rolling windows from the same moment).
   */
  async #compile(raw: RawGovernance, problems: ConfigProblem[]): Promise<GovernanceModel> {
    const now = Date.now();
    let model = compileGovernance(raw, this.#providers, now, problems, this.#counters, this.#mcpClients);
    this.#merged = raw;
    const missing = [...model.counters.values()].filter((c) => !this.#counters.has(c.key))
      .map((c): [string, number] => [c.key, c.period.anchor]);
    if (missing.length === 0 || !this.#store || problems.length > 0) return model;
    try {
      const snapshot = await this.#store.load(missing);
      for (const c of snapshot.counters) this.#counters.set(c.key, { anchor: c.anchor, used: c.used, windowEnd: c.windowEnd });
      model = compileGovernance(raw, this.#providers, now, [], this.#counters, this.#mcpClients);
    } catch (error) {
      this.#logger.warn({ err: { message: (error as Error).message } }, 'governance: new counters could not be recorded in the config store');
    }
    return model;
  }
}
