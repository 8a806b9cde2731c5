/**
 * What a gateway with no traffic costs: CPU time and wake-ups per second of its threads, with `--providers` providers
 * configured (one worker thread each). Every timer tick of an idle thread wakes it, and on a VM a wake-up costs
 * tens to hundreds of microseconds of CPU (`npm run bench:wake`): a gateway that sits idle between bursts, or beside
 * others on a shared node, should not spend a noticeable share of a core ticking. Wake-ups are the threads' voluntary
 * context switches (each is a sleep that something ended).
 *
 *   node dist/bench/idle.js [--providers 8] [--seconds 10] [--settle-s 3] [--heimdall-js dist/src/main.js]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { num, parseFlags, str } from './args.js';
import { freePort, killAll, spawnChild, stop, waitForHealth } from './children.js';
import { classifyThreads, cpuDelta, cpuSnapshot, sleepSnapshot, type ThreadRole } from './procfs.js';
import { alignedColumns } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2));
const providers = num(flags, 'providers', 8);
const seconds = num(flags, 'seconds', 10);
const settleS = num(flags, 'settle-s', 3);
const heimdallJs = resolve(str(flags, 'heimdall-js', join(HERE, '../src/main.js')));
const ROLES: readonly ThreadRole[] = ['main', 'workers', 'other'];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-idle-'));
  const config = join(dir, 'heimdall.json');
  // Providers that are never called: the upstream address is never dialled with no traffic.
  writeFileSync(config, JSON.stringify({
    providers: Object.fromEntries(Array.from({ length: providers }, (_, i) => [`idle${i}`, {
      keys: [{ value: 'sk-idle', models: ['*'], weight: 1 }],
      custom_provider_config: { base_provider_type: 'openai' },
      network_config: { base_url: 'http://127.0.0.1:9' },
      // Warm: the threads run from boot (a pool otherwise starts on first use), so their wake-ups are counted.
      concurrency_and_buffer_size: { warm: true },
    }])),
  }));
  const port = await freePort();
  const gateway = spawnChild('heimdall', process.execPath, [heimdallJs, '--config', config, '--port', String(port), '--log-level', 'warn']);
  try {
    await waitForHealth(gateway, `http://127.0.0.1:${port}/health`, 30_000);
    // Start-up's own work (compilation, the first collections) is over before the window opens.
    await sleep(settleS * 1000);
    const roles = new Map<number, ThreadRole>();
    classifyThreads(gateway.pid, roles);
    const cpuBefore = cpuSnapshot(gateway.pid);
    const sleepsBefore = sleepSnapshot(gateway.pid);
    await sleep(seconds * 1000);
    const cpuAfter = cpuSnapshot(gateway.pid);
    const sleepsAfter = sleepSnapshot(gateway.pid);
    classifyThreads(gateway.pid, roles);
    const cpu = cpuDelta(cpuBefore, cpuAfter, roles);
    const wakeUps: Record<ThreadRole, number> = { main: 0, workers: 0, other: 0 };
    for (const [tid, count] of sleepsAfter) wakeUps[roles.get(tid) ?? 'other'] += count - (sleepsBefore.get(tid) ?? 0);
    const row = (label: string, threads: number, ns: number, wakes: number) =>
      [label, String(threads), (ns / 1e6 / seconds).toFixed(2), (wakes / seconds).toFixed(1)];
    const rows = ROLES.map((role) => row(role, cpu.threads[role], cpu.ns[role], wakeUps[role]));
    const sum = (values: Record<ThreadRole, number>) => ROLES.reduce((total, role) => total + values[role], 0);
    rows.push(row('all', sum(cpu.threads), sum(cpu.ns), sum(wakeUps)));
    console.log(`idle gateway, ${providers} provider(s) with one worker thread each, ${seconds} s without traffic (${heimdallJs})`);
    for (const line of alignedColumns(['threads', 'n', 'CPU ms/s', 'wake-ups/s'], rows)) console.log(line);
  } finally {
    await stop(gateway);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  killAll();
  process.exitCode = 1;
});
