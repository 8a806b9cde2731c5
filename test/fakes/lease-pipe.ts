// An in-memory stand-in for a child's IPC channel to the primary: messages are copied (structuredClone, as IPC
// serialises them) and delivered on a later turn of the event loop, in order, like process.send.
import type { LeaseTransport } from '../../src/contract/lease-messages.js';

export interface PipeEnd extends LeaseTransport {
  /** Every message sent from this end, in order. */
  readonly sent: unknown[];
}

export function pipePair(): { child: PipeEnd; parent: PipeEnd } {
  const make = () => ({ sent: [] as unknown[], handlers: [] as ((message: unknown) => void)[] });
  const a = make();
  const b = make();
  const endOf = (self: ReturnType<typeof make>, peer: ReturnType<typeof make>): PipeEnd => ({
    sent: self.sent,
    send(message) {
      self.sent.push(message);
      const copy = structuredClone(message);
      setImmediate(() => {
        for (const handler of peer.handlers) handler(copy);
      });
    },
    onMessage(handler) {
      self.handlers.push(handler);
    },
  });
  return { child: endOf(a, b), parent: endOf(b, a) };
}

/** Resolves once every message sent so far (and those their handlers sent in turn) has arrived. */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
