// The worker's jobs ordered by the earliest moment each could miss a deadline, so the deadline sweep looks only at
// jobs that are due, not at every job in flight: behind a slow provider that is thousands of jobs, twenty times a
// second. A binary min-heap with lazy deletion: an item that finishes or is rescheduled leaves a stale entry behind,
// skipped when it surfaces, and the heap is rebuilt when stale entries outnumber live ones.

export interface Schedulable {
  /**
   * The earliest `performance.now()` at which the item may be overdue. It only moves later on its own (activity
   * pushes an idle deadline back); a change that moves it earlier must be followed by `schedule` again.
   */
  dueAt(): number;
  /** The due time of the item's live entry; NaN when it has none. Owned by the queue. */
  scheduledDue: number;
}

/** Below this many entries a rebuild is not worth its pass. */
const MIN_REBUILD_SIZE = 64;

export class DueQueue<T extends Schedulable> {
  #items: T[] = [];
  #dues: number[] = [];
  #stale = 0;

  /** Live entries. */
  get size(): number {
    return this.#items.length - this.#stale;
  }

  /** Live and stale entries: what the queue holds on to, for tests and diagnostics. */
  get entries(): number {
    return this.#items.length;
  }

  /** Enters the item at its current due time, replacing the entry it had. */
  schedule(item: T): void {
    if (!Number.isNaN(item.scheduledDue)) this.#stale++;
    const due = item.dueAt();
    item.scheduledDue = due;
    this.#items.push(item);
    this.#dues.push(due);
    this.#siftUp(this.#items.length - 1);
    this.#rebuildIfStale();
  }

  /** The item is done: its entry no longer counts. */
  forget(item: T): void {
    if (Number.isNaN(item.scheduledDue)) return;
    item.scheduledDue = NaN;
    this.#stale++;
    this.#rebuildIfStale();
  }

  /**
   * The due time of the earliest live entry, or undefined when there is none: the moment a timer for the queue should
   * fire. Stale entries on top are dropped on the way, so a finished job's entry never sets the timer.
   */
  nextDue(): number | undefined {
    while (this.#items.length > 0 && this.#items[0].scheduledDue !== this.#dues[0]) {
      this.#removeTop();
      this.#stale--;
    }
    return this.#items.length > 0 ? this.#dues[0] : undefined;
  }

  /**
   * Removes and returns every item whose entry is due at `now`. They are off the queue: the caller schedules again
   * the ones that turn out not to be overdue (after this returns, so an item due now cannot come back in this call).
   */
  takeDue(now: number): T[] {
    const due: T[] = [];
    while (this.#items.length > 0 && this.#dues[0] <= now) {
      const item = this.#items[0];
      const at = this.#dues[0];
      this.#removeTop();
      if (item.scheduledDue !== at) {
        this.#stale--;
        continue;
      }
      item.scheduledDue = NaN;
      due.push(item);
    }
    return due;
  }

  /**
   * Drops every stale entry now, below the rebuild threshold too. A stale entry still references its finished item,
   * which the queue would otherwise keep until the entry surfaces: for an idle worker, until its next job.
   */
  dropStale(): void {
    if (this.#stale > 0) this.#rebuild();
  }

  #rebuildIfStale(): void {
    if (this.#stale <= MIN_REBUILD_SIZE || this.#stale <= this.#items.length - this.#stale) return;
    this.#rebuild();
  }

  #rebuild(): void {
    const items: T[] = [];
    const dues: number[] = [];
    for (let i = 0; i < this.#items.length; i++) {
      if (this.#items[i].scheduledDue !== this.#dues[i]) continue;
      items.push(this.#items[i]);
      dues.push(this.#dues[i]);
    }
    this.#items = items;
    this.#dues = dues;
    this.#stale = 0;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #removeTop(): void {
    const lastItem = this.#items.pop()!;
    const lastDue = this.#dues.pop()!;
    if (this.#items.length === 0) return;
    this.#items[0] = lastItem;
    this.#dues[0] = lastDue;
    this.#siftDown(0);
  }

  #siftUp(index: number): void {
    const items = this.#items;
    const dues = this.#dues;
    const item = items[index];
    const due = dues[index];
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (dues[parent] <= due) break;
      items[index] = items[parent];
      dues[index] = dues[parent];
      index = parent;
    }
    items[index] = item;
    dues[index] = due;
  }

  #siftDown(index: number): void {
    const items = this.#items;
    const dues = this.#dues;
    const length = items.length;
    const item = items[index];
    const due = dues[index];
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && dues[child + 1] < dues[child]) child++;
      if (dues[child] >= due) break;
      items[index] = items[child];
      dues[index] = dues[child];
      index = child;
    }
    items[index] = item;
    dues[index] = due;
  }
}
