import { describe, expect, it } from 'vitest';
import { MemoryResourceOwners, StoredResourceOwners } from '../../../src/pipeline/resource-owners.js';

describe('MemoryResourceOwners', () => {
  const owner = (keyId: string) => ({ provider: 'openai', keyId });

  it('remembers, replaces and forgets an id\'s owner', () => {
    const owners = new MemoryResourceOwners(10);
    owners.set('file-1', owner('a'));
    expect(owners.get('file-1')).toEqual(owner('a'));
    owners.set('file-1', owner('b'));
    expect(owners.get('file-1')).toEqual(owner('b'));
    owners.delete('file-1');
    expect(owners.get('file-1')).toBeUndefined();
  });

  it('holds at most its capacity, forgetting the least recently used id first', () => {
    const owners = new MemoryResourceOwners(3);
    for (const id of ['a', 'b', 'c']) owners.set(id, owner(id));
    expect(owners.get('a')).toBeDefined();
    owners.set('d', owner('d'));
    expect(owners.size).toBe(3);
    expect(owners.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((id) => owners.get(id)?.keyId)).toEqual(['a', 'c', 'd']);
    for (let i = 0; i < 1000; i++) owners.set(`x${i}`, owner('x'));
    expect(owners.size).toBe(3);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new MemoryResourceOwners(0)).toThrow(RangeError);
    expect(() => new MemoryResourceOwners(1.5)).toThrow(RangeError);
  });
});

describe('StoredResourceOwners', () => {
  const owner = (keyId: string) => ({ provider: 'openai', keyId });

  function fakeStore() {
    const rows = new Map<string, { provider: string; keyId: string }>();
    const batches: [string, { provider: string; keyId: string } | null][][] = [];
    return {
      rows, batches, gets: 0,
      async get(id: string) {
        this.gets++;
        return rows.get(id) ?? null;
      },
      write(entries: [string, { provider: string; keyId: string } | null][]) {
        batches.push(entries);
        for (const [id, o] of entries) if (o) rows.set(id, o); else rows.delete(id);
      },
    };
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('answers from memory at once, asks the store on a miss and keeps what it found', async () => {
    const store = fakeStore();
    store.rows.set('file-old', owner('k1'));
    const owners = new StoredResourceOwners(store);
    expect(await owners.get('file-old')).toEqual(owner('k1'));
    expect(owners.get('file-old')).toEqual(owner('k1'));
    expect(store.gets).toBe(1);
    expect(await owners.get('file-none')).toBeUndefined();
  });

  it('writes news in one batch per turn, and nothing for an owner it already had', async () => {
    const store = fakeStore();
    const owners = new StoredResourceOwners(store);
    owners.set('a', owner('k1'));
    owners.set('b', owner('k1'));
    owners.delete('c');
    await turn();
    expect(store.batches).toEqual([[['a', owner('k1')], ['b', owner('k1')], ['c', null]]]);
    owners.set('a', owner('k1'));
    await turn();
    expect(store.batches).toHaveLength(1);
    owners.set('a', owner('k2'));
    await turn();
    expect(store.batches.at(-1)).toEqual([['a', owner('k2')]]);
  });
});
