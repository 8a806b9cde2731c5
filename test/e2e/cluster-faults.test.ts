// Faults in cluster mode: a process killed under load, and one that dies at every start. The port stays served by
// the others throughout; the supervisor replaces the dead, with backoff when it keeps dying.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chat, childPids, load, logLines, sleep, startCluster, stopAndCheckNoOrphans, until } from './cluster-harness.js';

const MOCK = { providers: { mock: { mock_config: { latency_ms: 50 } } } };

async function healthUp(port: number): Promise<number> {
  const answer = await chat(port, false, '/health', '', 'GET');
  return (JSON.parse(answer.body) as { processes: { up: number } }).processes.up;
}

describe('a process killed with SIGKILL under load', () => {
  it('loses only its own requests in flight; no connection is refused; a replacement serves within seconds', async () => {
    const cluster = await startCluster(MOCK, ['--processes', '2']);
    const [victim] = childPids(cluster.gateway.child.pid!);
    const loops = 8;
    const traffic = load(cluster.port, loops, false);
    await until('traffic to flow', () => traffic.tally.ok > 20);
    const lostSoFar = (): number => Object.values(traffic.tally.errors).reduce((a, b) => a + b, 0)
      + Object.values(traffic.tally.statuses).reduce((a, b) => a + b, 0);
    process.kill(victim, 'SIGKILL');
    // The supervisor hears of the death once the kernel has closed the process's sockets; a second later every
    // error a client could see from it has arrived.
    await until('the death to be noticed', () => cluster.gateway.output().includes('died with signal SIGKILL'));
    await sleep(1_000);
    const lostByTheDeath = lostSoFar();
    await until('the replacement', () => cluster.gateway.output().includes('replaced and serving'), 15_000);
    const okAtReplacement = traffic.tally.ok;
    await until('traffic after the replacement', () => traffic.tally.ok > okAtReplacement + 20);
    const tally = await traffic.stop();

    expect(tally.errors.ECONNREFUSED ?? 0).toBe(0);
    // Each client loses the request it had in flight on the killed process, and at most one more: a connection it
    // opened at once, which the kernel queued on the dying process's socket before closing it.
    expect(lostByTheDeath).toBeLessThanOrEqual(2 * loops);
    // Nothing after that: new connections reach the live process, and then its replacement too.
    expect(lostSoFar()).toBe(lostByTheDeath);
    const died = logLines(cluster.gateway).find((line) => typeof line.msg === 'string' && line.msg.includes('died with signal SIGKILL'));
    expect(died).toBeDefined();
    expect(await healthUp(cluster.port)).toBe(2);
    await stopAndCheckNoOrphans(cluster);
  });
});

describe('a process that dies at every start', () => {
  it('is retried with growing delays, not in a spin, while the other serves; it recovers once the cause is gone', async () => {
    const crashFile = join(mkdtempSync(join(tmpdir(), 'heimdall-crash-')), 'crash');
    const cluster = await startCluster(MOCK, ['--processes', '2'], { HEIMDALL_TEST_CRASH_AT_START: crashFile });
    const [victim] = childPids(cluster.gateway.child.pid!);
    writeFileSync(crashFile, '');
    process.kill(victim, 'SIGKILL');
    // Traffic from when the killed process is gone: connections it had accepted were its own to lose.
    await until('the death to be noticed', () => cluster.gateway.output().includes('died with signal SIGKILL'));
    const traffic = load(cluster.port, 4, false);
    await sleep(5_000);
    const restarts = logLines(cluster.gateway).filter((line) => typeof line.restartInMs === 'number');
    // 0.25 + 0.5 + 1 + 2 s of backoff fit in 5 s: a handful of attempts, where a spinning supervisor makes hundreds.
    expect(restarts.length).toBeGreaterThanOrEqual(2);
    expect(restarts.length).toBeLessThanOrEqual(6);
    const delays = restarts.map((line) => line.restartInMs as number);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays.at(-1)).toBeGreaterThan(delays[0]);
    expect(cluster.gateway.output()).toContain('retried at most every 15 s while it keeps failing; the others keep serving');
    expect(await healthUp(cluster.port)).toBe(1);

    rmSync(crashFile);
    await until('the recovery', () => cluster.gateway.output().includes('replaced and serving'), 30_000);
    const tally = await traffic.stop();
    expect(tally.errors).toEqual({});
    expect(tally.statuses).toEqual({});
    expect(tally.ok).toBeGreaterThan(0);
    expect(await healthUp(cluster.port)).toBe(2);
    await stopAndCheckNoOrphans(cluster);
  });
});
