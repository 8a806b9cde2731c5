import { describe, expect, it } from 'vitest';
import { MemoryCounters, type CounterSpec } from '../../../src/governance/counters.js';
import { parsePeriod } from '../../../src/governance/period.js';

const counter = (key: string, limit: number, kind: CounterSpec['kind'] = 'budget', every = '1m'): CounterSpec =>
  ({ key, kind, limit, period: parsePeriod(every, false, 0), initialUsage: 0 });

describe('in-memory counters', () => {
  it('take a reservation only when every counter has room, and take nothing otherwise', () => {
    const store = new MemoryCounters();
    const key = counter('budget:key', 100);
    const team = counter('budget:team', 50);
    expect(store.reserve([{ counter: key, amount: 40 }, { counter: team, amount: 40 }], 0).refused).toBe(-1);
    const second = store.reserve([{ counter: key, amount: 40 }, { counter: team, amount: 40 }], 0);
    expect(second.refused).toBe(1);
    // The key's counter was not touched by the refused reservation.
    expect(store.usage(key, 0)).toMatchObject({ used: 0, reserved: 40 });
  });

  it('settle a reservation to the real amount, so what is held is released', () => {
    const store = new MemoryCounters();
    const key = counter('budget:key', 100);
    const holds = [{ counter: key, amount: 60 }];
    store.reserve(holds, 0);
    expect(store.reserve(holds, 0).refused).toBe(0);
    store.settle(holds, [10], 0);
    expect(store.usage(key, 0)).toMatchObject({ used: 10, reserved: 0 });
    expect(store.reserve(holds, 0).refused).toBe(-1);
  });

  it('never let concurrent reservations pass the limit: used + reserved stays within it', () => {
    const store = new MemoryCounters();
    const key = counter('budget:key', 1000);
    let taken = 0;
    for (let i = 0; i < 200; i++) if (store.reserve([{ counter: key, amount: 7 }], 0).refused === -1) taken++;
    expect(taken).toBe(Math.floor(1000 / 7));
    const { used, reserved } = store.usage(key, 0);
    expect(used + reserved).toBeLessThanOrEqual(1000);
  });

  it('start a window over at its end, keeping what requests still in flight hold', () => {
    const store = new MemoryCounters();
    const requests = counter('requests:r', 2, 'requests');
    const one = [{ counter: requests, amount: 1 }];
    store.reserve(one, 0);
    store.settle(one, [1], 0);
    store.reserve(one, 1000);
    expect(store.reserve(one, 2000).refused).toBe(0);
    // The next minute: the settled request is forgotten, the one in flight still counts.
    expect(store.reserve(one, 60_000)).toMatchObject({ refused: -1, usage: [{ used: 0, reserved: 2, resetAt: 120_000 }] });
  });

  it('admit a token limit while it is not spent (amount 0), as Bifrost counts tokens after the request', () => {
    const store = new MemoryCounters();
    const tokens = counter('tokens:t', 100, 'tokens');
    const hold = [{ counter: tokens, amount: 0 }];
    expect(store.reserve(hold, 0).refused).toBe(-1);
    store.settle(hold, [150], 0);
    expect(store.reserve(hold, 0).refused).toBe(0);
  });
});
