// A forked child (node --import tsx) that hammers one gateway-wide counter through the parent's ledger over real
// process IPC: `loops` concurrent loops of acquire → tell the parent `enter` → hold a few ms → `leave` → release.
// Because `leave` goes out before the release on the same ordered channel, the parent's running count of entered
// minus left is never below the true number in use: if it stays within the limit, so did the leases.
import { ipcTransport, LeaseClient } from '../../dist/src/dispatch/leases.js';

const [name, limit, loops, rounds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const counter = new LeaseClient(ipcTransport(process)).counter(name, { limit });
const waiters: (() => void)[] = [];
counter.onAvailable(() => {
  while (waiters.length > 0 && counter.tryAcquire()) waiters.shift()!();
});
const acquire = () => counter.tryAcquire() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve));
const tell = (type: string) => process.send!({ heimdall: 'test', type });

process.on('disconnect', () => process.exit(0));
// All children start together when the parent says so, so that they contend rather than run one after another.
tell('ready');
await new Promise<void>((resolve) => process.on('message', (message: { heimdall?: string; type?: string }) => {
  if (message.heimdall === 'test' && message.type === 'go') resolve();
}));
await Promise.all(Array.from({ length: loops }, async (_, loop) => {
  for (let i = 0; i < rounds; i++) {
    await acquire();
    tell('enter');
    await new Promise((resolve) => setTimeout(resolve, 1 + ((loop + i) % 3)));
    tell('leave');
    counter.release();
  }
}));
tell('done');
