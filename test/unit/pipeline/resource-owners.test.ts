import { describe, expect, it } from 'vitest';
import { MemoryResourceOwners } from '../../../src/pipeline/resource-owners.js';

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
