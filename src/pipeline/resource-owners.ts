// Which provider and key own a file or batch id. A provider keeps the files and batches made with one key in that
// key's account: a later call about the id must go with the same key, or the provider answers that it does not
// know it. The gateway learns an owner when a create answers (and from lists), forgets it on delete.

export interface ResourceOwner {
  readonly provider: string;
  /** The key's `id` (stable across a reload that reorders keys), not its index. */
  readonly keyId: string;
}

/**
 * The map behind one small interface, so that a persistent store can take the in-memory one's place: ids must
 * outlive a restart for batches, which run for up to a day.
 */
export interface ResourceOwners {
  /** At once when the answer is in memory; a promise when a store must be asked. */
  get(id: string): ResourceOwner | undefined | Promise<ResourceOwner | undefined>;
  set(id: string, owner: ResourceOwner): void;
  delete(id: string): void;
}

/** Enough for a busy day's files and batches; each entry is an id and two short strings, about 200 bytes. */
export const DEFAULT_OWNER_CAPACITY = 100_000;

/**
 * In memory, bounded: past `capacity` ids the least recently used is forgotten (a call about it then gets a 404
 * unless it names its provider), so a client creating files forever cannot grow the gateway's memory.
 */
export class MemoryResourceOwners implements ResourceOwners {
  readonly #owners = new Map<string, ResourceOwner>();
  readonly #capacity: number;

  constructor(capacity = DEFAULT_OWNER_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#owners.size;
  }

  get(id: string): ResourceOwner | undefined {
    const owner = this.#owners.get(id);
    if (owner) {
      // Map keeps insertion order: moving a used id to the end makes the first entry the least recently used.
      this.#owners.delete(id);
      this.#owners.set(id, owner);
    }
    return owner;
  }

  set(id: string, owner: ResourceOwner): void {
    this.#owners.delete(id);
    this.#owners.set(id, owner);
    if (this.#owners.size > this.#capacity) this.#owners.delete(this.#owners.keys().next().value!);
  }

  delete(id: string): void {
    this.#owners.delete(id);
  }
}

/** A store the owners are kept in besides memory (the request log's: src/stores/owner-store.ts). */
export interface OwnerStore {
  get(id: string): Promise<ResourceOwner | null>;
  /** Applied in order; a null owner deletes the id. Not awaited: memory answers meanwhile. */
  write(entries: [string, ResourceOwner | null][]): void;
}

/**
 * Memory in front of a store: an id in memory is answered at once; one that is not is asked of the store (made by
 * another process of the cluster, or before a restart) and kept in memory once found. Writes go to both; the
 * store's are gathered for a turn of the event loop, so a list's hundred ids are one transaction.
 */
export class StoredResourceOwners implements ResourceOwners {
  readonly #memory: MemoryResourceOwners;
  readonly #store: OwnerStore;
  #writes: [string, ResourceOwner | null][] = [];

  constructor(store: OwnerStore, memory = new MemoryResourceOwners()) {
    this.#store = store;
    this.#memory = memory;
  }

  get(id: string): ResourceOwner | undefined | Promise<ResourceOwner | undefined> {
    const known = this.#memory.get(id);
    if (known) return known;
    return this.#store.get(id).then((owner) => {
      if (!owner) return undefined;
      this.#memory.set(id, owner);
      return owner;
    });
  }

  set(id: string, owner: ResourceOwner): void {
    // Listing the same ids again changes nothing: only news is written.
    const known = this.#memory.get(id);
    this.#memory.set(id, owner);
    if (known?.provider !== owner.provider || known.keyId !== owner.keyId) this.#write(id, owner);
  }

  delete(id: string): void {
    this.#memory.delete(id);
    this.#write(id, null);
  }

  #write(id: string, owner: ResourceOwner | null): void {
    if (this.#writes.length === 0) {
      setImmediate(() => {
        const entries = this.#writes;
        this.#writes = [];
        this.#store.write(entries);
      });
    }
    this.#writes.push([id, owner]);
  }
}
