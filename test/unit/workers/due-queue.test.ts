import { describe, expect, it } from 'vitest';
import { DueQueue, type Schedulable } from '../../../workers/due-queue.js';

class Item implements Schedulable {
  scheduledDue = NaN;
  constructor(readonly name: string, public due: number) {}
  dueAt(): number {
    return this.due;
  }
}

const names = (items: Item[]): string[] => items.map((item) => item.name);

describe('DueQueue', () => {
  it('hands out only the items due, earliest first, and takes them off the queue', () => {
    const queue = new DueQueue<Item>();
    for (const [name, due] of [['c', 30], ['a', 10], ['e', 50], ['b', 20], ['d', 40]] as const) queue.schedule(new Item(name, due));
    expect(names(queue.takeDue(5))).toEqual([]);
    expect(names(queue.takeDue(30))).toEqual(['a', 'b', 'c']);
    expect(queue.size).toBe(2);
    expect(names(queue.takeDue(100))).toEqual(['d', 'e']);
    expect(queue.size).toBe(0);
  });

  it('keeps only the latest entry of an item scheduled again, earlier or later', () => {
    const queue = new DueQueue<Item>();
    const later = new Item('later', 10);
    const earlier = new Item('earlier', 100);
    queue.schedule(later);
    queue.schedule(earlier);
    later.due = 60;
    queue.schedule(later);
    earlier.due = 20;
    queue.schedule(earlier);
    expect(queue.size).toBe(2);
    expect(names(queue.takeDue(50))).toEqual(['earlier']);
    expect(names(queue.takeDue(100))).toEqual(['later']);
    expect(names(queue.takeDue(1_000))).toEqual([]);
  });

  it('hands an item out once even when scheduled twice at the same due time', () => {
    const queue = new DueQueue<Item>();
    const item = new Item('twice', 10);
    queue.schedule(item);
    queue.schedule(item);
    expect(names(queue.takeDue(10))).toEqual(['twice']);
    expect(queue.size).toBe(0);
  });

  it('names the earliest live due time for its timer, passing over forgotten and rescheduled entries', () => {
    const queue = new DueQueue<Item>();
    expect(queue.nextDue()).toBeUndefined();
    const first = new Item('first', 10);
    const moved = new Item('moved', 20);
    const last = new Item('last', 30);
    for (const item of [last, moved, first]) queue.schedule(item);
    expect(queue.nextDue()).toBe(10);
    queue.forget(first);
    expect(queue.nextDue()).toBe(20);
    moved.due = 40;
    queue.schedule(moved);
    expect(queue.nextDue()).toBe(30);
    expect(queue.size).toBe(2);
    expect(names(queue.takeDue(35))).toEqual(['last']);
    expect(queue.nextDue()).toBe(40);
    expect(names(queue.takeDue(40))).toEqual(['moved']);
    expect(queue.nextDue()).toBeUndefined();
    expect(queue.entries).toBe(0);
  });

  it('never hands out a forgotten item', () => {
    const queue = new DueQueue<Item>();
    const kept = new Item('kept', 10);
    const done = new Item('done', 5);
    queue.schedule(kept);
    queue.schedule(done);
    queue.forget(done);
    queue.forget(done);
    expect(queue.size).toBe(1);
    expect(names(queue.takeDue(100))).toEqual(['kept']);
  });

  it('lets go of finished items on dropStale, below the rebuild threshold too, and keeps the live ones in order', () => {
    const queue = new DueQueue<Item>();
    const items = Array.from({ length: 10 }, (_, i) => new Item(`i${i}`, 100 - i));
    for (const item of items) queue.schedule(item);
    for (const item of items.slice(2)) queue.forget(item);
    // Too few to rebuild on their own: the finished items stay referenced until their entries surface.
    expect(queue.entries).toBe(10);
    queue.dropStale();
    expect(queue.entries).toBe(2);
    expect(queue.size).toBe(2);
    expect(names(queue.takeDue(Infinity))).toEqual(['i1', 'i0']);
    expect(queue.entries).toBe(0);
  });

  it('an item due now and scheduled again while being handled waits for the next call', () => {
    const queue = new DueQueue<Item>();
    const item = new Item('boundary', 10);
    queue.schedule(item);
    const due = queue.takeDue(10);
    for (const taken of due) queue.schedule(taken);
    expect(names(due)).toEqual(['boundary']);
    expect(names(queue.takeDue(10))).toEqual(['boundary']);
  });

  it('stays in order through many finished items (the rebuild that drops their entries)', () => {
    const queue = new DueQueue<Item>();
    const items = Array.from({ length: 1_000 }, (_, i) => new Item(`i${i}`, (i * 7919) % 1_000));
    for (const item of items) queue.schedule(item);
    // Nine in ten finish before they are due, as most requests do: their entries are dropped, not handed out.
    for (const item of items) if (Number(item.name.slice(1)) % 10 !== 0) queue.forget(item);
    expect(queue.size).toBe(100);
    const taken = queue.takeDue(Infinity);
    expect(taken).toHaveLength(100);
    expect(taken.every((item) => Number(item.name.slice(1)) % 10 === 0)).toBe(true);
    const dues = taken.map((item) => item.due);
    expect(dues).toEqual([...dues].sort((a, b) => a - b));
  });
});
