// A short soak: ~15 s of concurrent streamed and non-streamed requests through the real gateway to the faulty
// upstream drawing errors, resets, slow answers, truncated and malformed streams, with retries and a fallback
// configured and some requests aborted by the client. Every request gets exactly one answer (a status, a stream
// that ends with [DONE] or an error event, or a closed connection) and never hangs; afterwards the pools are idle
// and the heap has not grown beyond a few MB. The long variant with figures is bench/soak.ts.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runSoak, SOAK_MIX, soakProviders } from '../../bench/soak-load.js';
import { startFaultyUpstream, type FaultyUpstream } from '../fakes/faulty-upstream.js';
import { eventually, startGatewayWith, type Harness } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let h: Harness<FaultyUpstream>;

beforeAll(async () => {
  h = await startGatewayWith(await startFaultyUpstream({ mix: SOAK_MIX, seed: 42 }), (url) => ({ providers: soakProviders(url) }));
});

afterAll(async () => {
  await h?.close();
});

const heapUsedMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

const idle = () => eventually(() => [...h.gateway.pools.values()].map((pool) => pool.stats()),
  (all) => all.every((stats) => stats.inFlight === 0 && stats.queued === 0 && stats.slotsInUse === 0), 10_000);

it('gives every request exactly one answer under a mix of faults, then returns to idle without growing the heap', async () => {
  const load = { url: h.url, concurrency: 24, streamShare: 0.5, abortShare: 0.1, deadlineMs: 15_000 };
  // A warm-up first, so the heap measured after it holds the gateway's steady state (JIT, pools, buffers).
  await runSoak({ ...load, durationMs: 2_000, seed: 1 });
  await idle();
  // The fake records every request it served: forgotten before each measure, so that the heap is the gateway's.
  h.fake.reset();
  const heapBefore = heapUsedMb();

  const report = await runSoak({ ...load, durationMs: 15_000, seed: 2 });

  expect(report.violations).toEqual([]);
  expect(report.outcomes.hung ?? 0).toBe(0);
  expect(report.requests).toBeGreaterThan(200);
  // The mix did reach the client in all its kinds: successes, errors, broken streams, closed connections, aborts.
  for (const outcome of ['200', 'stream-done', 'stream-error', 'aborted']) expect(report.outcomes[outcome] ?? 0).toBeGreaterThan(0);
  expect(Object.keys(report.outcomes).filter((outcome) => /^[45]\d\d$/.test(outcome)).length).toBeGreaterThan(0);
  for (const fault of SOAK_MIX) expect(h.fake.drawn.get(fault.faults) ?? 0).toBeGreaterThan(0);

  await idle();
  await eventually(() => h.fake.openCount, (open) => open === 0, 10_000);
  h.fake.reset();
  const growthMb = heapUsedMb() - heapBefore;
  expect(growthMb).toBeLessThan(8);
}, 60_000);
