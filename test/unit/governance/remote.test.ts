// The supervisor's counters and a gateway process's view of them, over an in-memory channel that delivers like IPC
// (asynchronously, in order): processes together never pass a limit, settlements land, a dead process's requests in
// flight are charged their worst case, and a message that does not fit is ignored.
import { describe, expect, it } from 'vitest';
import type { CounterSpec, Hold } from '../../../src/governance/counters.js';
import { parsePeriod } from '../../../src/governance/period.js';
import { CounterHost, GOVERNANCE_TAG, RemoteCounters, type CounterTransport } from '../../../src/governance/remote.js';

const counter = (key: string, limit: number, kind: CounterSpec['kind'] = 'requests'): CounterSpec =>
  ({ key, kind, limit, period: parsePeriod('1h', false, Date.now()), initialUsage: 0 });

/** Both ends of one process's channel: what one sends, the other receives on a later turn. */
function channel(): { child: CounterTransport; host: CounterTransport; hostSend: (message: unknown) => void } {
  const toHost: ((m: unknown) => void)[] = [];
  const toChild: ((m: unknown) => void)[] = [];
  const deliver = (handlers: ((m: unknown) => void)[], message: unknown) =>
    setImmediate(() => handlers.forEach((h) => h(structuredClone(message))));
  return {
    child: { send: (m) => deliver(toHost, m), onMessage: (h) => toChild.push(h) },
    host: { send: (m) => deliver(toChild, m), onMessage: (h) => toHost.push(h) },
    hostSend: (m) => deliver(toHost, m),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("the supervisor's counters", () => {
  it('let exactly N reservations of many processes through a limit of N', async () => {
    const host = new CounterHost();
    const processes = [1, 2, 3].map((n) => {
      const c = channel();
      host.attach(String(n), c.host);
      return new RemoteCounters(c.child);
    });
    const limit = counter('requests:shared', 25);
    const verdicts = await Promise.all(Array.from({ length: 90 }, (_, i) =>
      processes[i % 3].reserve([{ counter: limit, amount: 1 }], Date.now())));
    expect(verdicts.filter((v) => v.refused === -1)).toHaveLength(25);
    expect(host.usage(limit)).toMatchObject({ used: 0, reserved: 25 });
  });

  it('settle each reservation to its real amount once, and read usage back', async () => {
    const host = new CounterHost();
    const c = channel();
    host.attach('1', c.host);
    const remote = new RemoteCounters(c.child);
    const budget = counter('budget:b', 1000, 'budget');
    const holds: Hold[] = [{ counter: budget, amount: 300 }];
    expect((await remote.reserve(holds, Date.now())).refused).toBe(-1);
    remote.settle(holds, [120], Date.now());
    remote.settle(holds, [120], Date.now());
    await tick();
    expect(await remote.usage(budget, Date.now())).toMatchObject({ used: 120, reserved: 0 });
  });

  it("charge a process's unsettled reservations their worst case when it dies", async () => {
    const host = new CounterHost();
    const c = channel();
    host.attach('1', c.host);
    const remote = new RemoteCounters(c.child);
    const budget = counter('budget:b', 1000, 'budget');
    await remote.reserve([{ counter: budget, amount: 300 }], Date.now());
    await remote.reserve([{ counter: budget, amount: 200 }], Date.now());
    host.detach('1');
    expect(host.usage(budget)).toMatchObject({ used: 500, reserved: 0 });
  });

  it('refuse a reservation naming a counter whose spec never came, and answer a batch in one message', async () => {
    const host = new CounterHost();
    const c = channel();
    host.attach('1', c.host);
    const received: unknown[] = [];
    c.child.onMessage((m) => received.push(m));
    c.hostSend({ heimdall: GOVERNANCE_TAG, type: 'batch', messages: [
      { type: 'reserve', id: 7, holds: [{ key: 'requests:never-defined', amount: 1 }], now: 0 },
      { type: 'reserve', id: 8, holds: [{ key: 'requests:r', counter: counter('requests:r', 1), amount: 1 }], now: 0 },
      { type: 'reserve', id: 9, holds: [{ key: 'requests:r', amount: 1 }], now: 0 },
    ] });
    await tick();
    await tick();
    expect(received).toHaveLength(1);
    const batch = received[0] as { type: string; messages: { id: number; refused: number }[] };
    expect(batch.type).toBe('batch');
    expect(batch.messages.map((m) => [m.id, m.refused])).toEqual([[7, 0], [8, -1], [9, 0]]);
  });

  it('ignore a settlement of a reservation it does not know, or of the wrong length', async () => {
    const host = new CounterHost();
    const c = channel();
    host.attach('1', c.host);
    const remote = new RemoteCounters(c.child);
    const budget = counter('budget:b', 1000, 'budget');
    await remote.reserve([{ counter: budget, amount: 300 }], Date.now());
    c.hostSend({ heimdall: GOVERNANCE_TAG, type: 'settle', id: 999, actual: [5], now: 0 });
    c.hostSend({ heimdall: GOVERNANCE_TAG, type: 'settle', id: 1, actual: [5, 5], now: 0 });
    c.hostSend({ heimdall: 'lease', type: 'settle', id: 1, actual: [5], now: 0 });
    await tick();
    expect(host.usage(budget)).toMatchObject({ used: 0, reserved: 300 });
  });
});
