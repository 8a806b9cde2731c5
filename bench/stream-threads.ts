/**
 * Where a stream's CPU goes, thread by thread: the baseline proxy, the bare hop and Heimdall, each pinned to CPU 0 in
 * front of the bench's mock on CPU 1, serve streams one after another over one keep-alive connection (a lone stream:
 * every chunk wakes the threads it crosses). For each target the process's CPU per stream (schedstat, every thread)
 * is split into the front (the main thread), the worker threads (a provider's pool and the request log's writer) and
 * the rest (V8's and libuv's), with each part's wake-ups per stream (voluntary context switches): whether a gateway
 * wakes more often, or does more each time it is woken.
 *
 * Each target first answers `--burst-warmup` streams sent at once by the mock (the JIT's warm-up), then 30 at the
 * measured gap, then `--seconds` of streams are measured. The targets rotate within each repetition, fresh processes
 * each time, so the machine's drift falls on all of them.
 *
 *   npm run build && node dist/bench/stream-threads.js [--targets baseline,bare-hop,heimdall] [--reps 3]
 *     [--seconds 15] [--gap-ms 5] [--chunks 20] [--burst-warmup 5000] [--heimdall-js dist/src/main.js]
 *     [--before-js OTHER/dist/src/main.js]
 *
 * Targets: `baseline`, `bare-hop`, `minimum-hop` (the bare hop plus the least a gateway must do, bench/bare-hop.ts),
 * `bytes-hop` (the minimum hop forwarding the stream's bytes untouched),
 * `heimdall`, `heimdall-nolog` (the request log off) and `heimdall-before` (the build at --before-js: before and after
 * in one run). The last line of stdout is a one-line JSON summary.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { num, parseFlags, str } from './args.js';
import { killAll, onPath, spawnChild, stop, waitForListening, type Child } from './children.js';
import { loneTargets, startLoneTarget, type LoneTarget } from './lone-targets.js';
import { classifyThreads, cpuSnapshot, sleepSnapshot, type ThreadRole } from './procfs.js';
import { median, range } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const reps = Math.max(1, Math.floor(num(flags, 'reps', 3)));
const seconds = num(flags, 'seconds', 15);
const gapMs = num(flags, 'gap-ms', 5);
const chunks = Math.max(1, Math.floor(num(flags, 'chunks', 20)));
const burstWarmup = Math.max(0, Math.floor(num(flags, 'burst-warmup', 5000)));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const heimdallJs = resolve(str(flags, 'heimdall-js', here('../src/main.js')));
const beforeJs = flags.has('before-js') ? resolve(str(flags, 'before-js', '')) : null;
const targets = loneTargets(str(flags, 'targets', 'baseline,bare-hop,heimdall'), beforeJs);
const pin = availableParallelism() >= 2 && onPath('taskset');
const workDir = mkdtempSync(join(tmpdir(), 'heimdall-bench-stream-threads-'));
const ROLES: readonly ThreadRole[] = ['main', 'workers', 'other'];

process.on('exit', () => {
  killAll();
  rmSync(workDir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
// The client shares CPU 1 with the mock, never the measured target's CPU 0.
if (pin) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });

interface Window {
  target: LoneTarget;
  rep: number;
  streams: number;
  cpuUsPerStream: number;
  /** µs of CPU and wake-ups per stream, by thread role. */
  byRole: Record<ThreadRole, { cpuUs: number; wakes: number }>;
}

async function measure(target: LoneTarget, rep: number): Promise<Window> {
  const mock = spawnChild('mock', process.execPath, [here('./mock-upstream.js'), '--port', '0', '--chunks', String(chunks),
    '--chunk-gap-ms', String(gapMs)], pin ? '1' : undefined);
  const children: Child[] = [mock];
  const agent = new Agent({ connections: 1 });
  try {
    const { child, port, model } = await startLoneTarget(target, await waitForListening(mock), { cpus: pin ? '0' : undefined, workDir, heimdallJs, beforeJs });
    children.push(child);
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    const messages = [{ role: 'user', content: 'Hello, how are you today?' }];
    // The mock sends a stream whose body names this user all at once, whatever its gap: the JIT's warm-up.
    const burst = JSON.stringify({ model, messages, stream: true, user: 'heimdall-bench-burst' });
    const paced = JSON.stringify({ model, messages, stream: true });
    const stream = async (body: string): Promise<void> => {
      const answer = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
      await answer.body.text();
      if (answer.statusCode !== 200) throw new Error(`${target} answered ${answer.statusCode}`);
    };
    for (let i = 0; i < burstWarmup; i++) await stream(burst);
    for (let i = 0; i < 30; i++) await stream(paced);
    const roles = new Map<number, ThreadRole>();
    classifyThreads(child.pid, roles);
    const cpu0 = cpuSnapshot(child.pid);
    const sleeps0 = sleepSnapshot(child.pid);
    const t0 = performance.now();
    let streams = 0;
    while (performance.now() - t0 < seconds * 1000) {
      await stream(paced);
      streams++;
    }
    classifyThreads(child.pid, roles);
    const cpu1 = cpuSnapshot(child.pid);
    const sleeps1 = sleepSnapshot(child.pid);
    const byRole = Object.fromEntries(ROLES.map((role) => [role, { cpuUs: 0, wakes: 0 }])) as Window['byRole'];
    let totalNs = 0;
    for (const [tid, ns] of cpu1) {
      const role = roles.get(tid) ?? 'other';
      const spent = ns - (cpu0.get(tid) ?? 0);
      totalNs += spent;
      byRole[role].cpuUs += spent / 1000 / streams;
      byRole[role].wakes += ((sleeps1.get(tid) ?? 0) - (sleeps0.get(tid) ?? 0)) / streams;
    }
    return { target, rep, streams, cpuUsPerStream: totalNs / 1000 / streams, byRole };
  } finally {
    await agent.close();
    for (const child of children.reverse()) await stop(child);
  }
}

const fixed = (value: number, digits = 0) => value.toFixed(digits);
const windows: Window[] = [];
for (let rep = 1; rep <= reps; rep++) {
  // The order rotates so that no target always runs first after a rest, or last after the others warmed the caches.
  const order = targets.map((_, i) => targets[(i + rep - 1) % targets.length]);
  for (const target of order) {
    const w = await measure(target, rep);
    windows.push(w);
    const parts = ROLES.map((role) => `${role} ${fixed(w.byRole[role].cpuUs)} µs / ${fixed(w.byRole[role].wakes, 1)} wakes`);
    console.log(`rep ${rep} ${target.padEnd(15)} ${w.streams} streams, ${fixed(w.cpuUsPerStream)} µs CPU a stream (${parts.join(', ')})`);
  }
}

const baselineOf = (rep: number) => windows.find((w) => w.target === 'baseline' && w.rep === rep)?.cpuUsPerStream;
console.log(`\n${chunks} chunks ${gapMs} ms apart, one stream at a time; ${reps} repetition(s) × ${seconds} s after ${burstWarmup} burst streams`);
console.log('target           CPU µs/stream (median, range)   ÷ baseline (paired)   front µs / wakes   workers µs / wakes   other µs / wakes');
const summary: Record<string, unknown> = {};
for (const target of targets) {
  const own = windows.filter((w) => w.target === target);
  const cpu = own.map((w) => w.cpuUsPerStream);
  const ratios = own.flatMap((w) => {
    const base = baselineOf(w.rep);
    return base ? [w.cpuUsPerStream / base] : [];
  });
  const middle = median(cpu) ?? 0;
  const [low, high] = range(cpu) ?? [0, 0];
  const ratio = median(ratios);
  const byRole = Object.fromEntries(ROLES.map((role) => [role, {
    cpuUs: median(own.map((w) => w.byRole[role].cpuUs)) ?? 0, wakes: median(own.map((w) => w.byRole[role].wakes)) ?? 0 }]));
  const roleText = ROLES.map((role) => `${fixed(byRole[role].cpuUs).padStart(7)} / ${fixed(byRole[role].wakes, 1).padEnd(5)}`);
  console.log(`${target.padEnd(16)} ${`${fixed(middle)} (${fixed(low)}–${fixed(high)})`.padEnd(31)} ${(ratio === null ? '–' : fixed(ratio, 2)).padEnd(21)} ${roleText.join('     ')}`);
  summary[target] = { cpuUsPerStream: middle, range: [low, high], ratioToBaseline: ratio, byRole };
}
console.log(JSON.stringify({ chunks, gapMs, reps, seconds, burstWarmup, pinned: pin, targets: summary }));
