// A label's values as a fixed number of slots: the values known at boot first, then the first distinct values seen,
// then `other` for everything after. Series are counted by slot index, so the metrics memory has a fixed size and
// Prometheus a bounded number of series, whatever clients send. Front thread only: workers get indexes, not names.

export const OTHER = 'other';

export class LabelTable {
  /** The value of each slot, '' for a slot not yet handed out; the last slot is `other`. Never resized. */
  readonly values: string[];
  readonly #slots = new Map<string, number>();
  #next = 0;

  constructor(known: Iterable<string>, extraSlots: number) {
    const distinct = [...new Set(known)].filter((value) => value !== OTHER);
    this.values = [...distinct, ...Array.from({ length: extraSlots }, () => ''), OTHER];
    distinct.forEach((value, slot) => this.#slots.set(value, slot));
    this.#next = distinct.length;
  }

  get size(): number {
    return this.values.length;
  }

  get otherIndex(): number {
    return this.values.length - 1;
  }

  /** The slot of `value`, handing out the next free one on first sight; `other` once every slot is taken. */
  indexOf(value: string): number {
    const slot = this.#slots.get(value);
    if (slot !== undefined) return slot;
    if (value === OTHER || this.#next >= this.otherIndex) return this.otherIndex;
    const assigned = this.#next++;
    this.values[assigned] = value;
    this.#slots.set(value, assigned);
    return assigned;
  }
}
