// The child's end of the ledger: what it sends, and when it sends nothing. The primary's side is played by hand,
// so every message is visible.
import { describe, expect, it } from 'vitest';
import { defaultBatch, LeaseClient } from '../../../src/dispatch/leases.js';
import { pipePair, settle } from '../../fakes/lease-pipe.js';

function started() {
  const { child, parent } = pipePair();
  const client = new LeaseClient(child);
  const received: Record<string, unknown>[] = [];
  parent.onMessage((message) => received.push(message as Record<string, unknown>));
  return { client, received, parent, sent: child.sent };
}

describe('LeaseClient', () => {
  it('defines the counter, refills a batch on a miss, then serves from what it holds without a message', async () => {
    const { client, received, parent, sent } = started();
    const counter = client.counter('openai.concurrency', { limit: 40 });
    let available = 0;
    counter.onAvailable(() => available++);
    expect(counter.tryAcquire()).toBe(false);
    // A second miss before the answer does not ask twice.
    expect(counter.tryAcquire()).toBe(false);
    await settle();
    expect(received).toEqual([
      { heimdall: 'lease', type: 'define', counter: 'openai.concurrency', limit: 40 },
      { heimdall: 'lease', type: 'acquire', id: 1, counter: 'openai.concurrency', amount: defaultBatch(40), wait: true },
    ]);
    parent.send({ heimdall: 'lease', type: 'grant', id: 1, counter: 'openai.concurrency', amount: 10, window: 0 });
    await settle();
    expect(available).toBe(1);
    const before = sent.length;
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < 10; i++) expect(counter.tryAcquire()).toBe(true);
      expect(counter.tryAcquire(1)).toBe(counter.used < counter.held);
      for (let i = 0; i < 10; i++) counter.release();
    }
    await settle();
    // 11th take per round missed; its one refill is still out, so no more asks: only that one message.
    expect(sent.length - before).toBe(1);
    expect(received.at(-1)).toMatchObject({ type: 'acquire', id: 2 });
    expect(counter).toMatchObject({ held: 10, used: 0 });
  });

  it('gives back idle units beyond keepIdle after the current turn, and all of them while contended', async () => {
    const { client, received, parent } = started();
    const counter = client.counter('c', { limit: 20, batch: 8, keepIdle: 2 });
    // Whoever waits takes the units as they come: a grant nobody takes is surplus at once.
    let onGrant = () => {
      for (let i = 0; i < 8; i++) expect(counter.tryAcquire()).toBe(true);
    };
    counter.onAvailable(() => onGrant());
    expect(counter.tryAcquire()).toBe(false);
    await settle();
    parent.send({ heimdall: 'lease', type: 'grant', id: 1, counter: 'c', amount: 8, window: 0 });
    await settle();
    expect(counter).toMatchObject({ held: 8, used: 8 });
    for (let i = 0; i < 5; i++) counter.release();
    // Nothing yet: a caller in the same turn may still take what was just freed.
    expect(received.filter((m) => m.type === 'release')).toEqual([]);
    expect(counter.tryAcquire()).toBe(true);
    await settle();
    // 4 idle, 2 kept: 2 go back.
    expect(received.filter((m) => m.type === 'release')).toEqual([{ heimdall: 'lease', type: 'release', counter: 'c', amount: 2, window: 0 }]);
    expect(counter).toMatchObject({ held: 6, used: 4 });

    parent.send({ heimdall: 'lease', type: 'contended', counter: 'c', on: true });
    await settle();
    expect(received.at(-1)).toEqual({ heimdall: 'lease', type: 'release', counter: 'c', amount: 2, window: 0 });
    expect(counter).toMatchObject({ held: 4, used: 4 });
    // Contended: a freed unit goes back too, and the next take asks the ledger for one unit.
    counter.release();
    expect(counter.tryAcquire()).toBe(false);
    await settle();
    expect(received.slice(-2)).toEqual([
      { heimdall: 'lease', type: 'acquire', id: 2, counter: 'c', amount: 1, wait: true },
      { heimdall: 'lease', type: 'release', counter: 'c', amount: 1, window: 0 },
    ]);
    // The unit the ledger hands over goes to this process's waiters, contention or not.
    let taken = false;
    onGrant = () => {
      taken = counter.tryAcquire();
    };
    parent.send({ heimdall: 'lease', type: 'grant', id: 2, counter: 'c', amount: 1, window: 0 });
    await settle();
    expect(taken).toBe(true);
    expect(counter).toMatchObject({ held: 4, used: 4 });

    parent.send({ heimdall: 'lease', type: 'contended', counter: 'c', on: false });
    await settle();
    for (let i = 0; i < 4; i++) counter.release();
    await settle();
    expect(counter).toMatchObject({ held: 2, used: 0 });
  });

  it('acquireOrRefuse answers from the ledger once, and returns a grant that came too short', async () => {
    const { client, received, parent } = started();
    const counter = client.counter('q', { limit: 5, batch: 1, keepIdle: 0 });
    const answers: boolean[] = [];
    counter.acquireOrRefuse(1, (granted) => answers.push(granted));
    counter.acquireOrRefuse(2, (granted) => answers.push(granted));
    await settle();
    expect(received.slice(1)).toEqual([
      { heimdall: 'lease', type: 'acquire', id: 1, counter: 'q', amount: 1, wait: false },
      { heimdall: 'lease', type: 'acquire', id: 2, counter: 'q', amount: 2, wait: false },
    ]);
    parent.send({ heimdall: 'lease', type: 'grant', id: 1, counter: 'q', amount: 1, window: 0 });
    parent.send({ heimdall: 'lease', type: 'grant', id: 2, counter: 'q', amount: 1, window: 0 });
    await settle();
    expect(answers).toEqual([true, false]);
    expect(received.at(-1)).toEqual({ heimdall: 'lease', type: 'release', counter: 'q', amount: 1, window: 0 });
    expect(counter).toMatchObject({ held: 1, used: 1 });
    // Messages for others on the same channel, and stray grants, are ignored.
    parent.send({ heimdall: 'supervisor', type: 'grant', id: 3 });
    parent.send({ heimdall: 'lease', type: 'grant', id: 99, counter: 'q', amount: 1, window: 0 });
    await settle();
    expect(counter).toMatchObject({ held: 1, used: 1 });
    expect(() => client.counter('q', { limit: 1 })).toThrow(/exists already/);
  });
});
