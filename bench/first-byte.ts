/**
 * A lone stream's time to first byte, every target in one run, interleaved request by request. The targets run side
 * by side (pinned to CPU 0, the mock and this client on CPU 1); the client sends one stream to each in turn, waits
 * `--gap-ms` between streams, and times each from its send to its first body byte. Interleaving puts the machine's
 * drift on every target alike, so the differences of the medians are the figure, where separate windows read
 * hundreds of µs apart on this VM.
 *
 * The gap decides how cold the path is: after a few ms idle, memory the path touches is no longer in any cache of
 * this VM's core (`--cold-memory` prints the cost of that: ns per cache line touched after each idle time).
 *
 *   npm run build && node dist/bench/first-byte.js [--targets baseline,bare-hop,heimdall] [--requests 300]
 *     [--gap-ms 0] [--chunks 20] [--chunk-gap-ms 5] [--burst-warmup 5000] [--before-js OTHER/dist/src/main.js]
 *   node dist/bench/first-byte.js --cold-memory
 *
 * Targets: `baseline`, `bare-hop`, `minimum-hop` (the bare hop plus the least a gateway must do, bench/bare-hop.ts),
 * `bytes-hop` (the minimum hop forwarding the stream's bytes untouched),
 * `heimdall`, `heimdall-nolog` (the request log off), `heimdall-before` (the build at --before-js). The last line of
 * stdout is a one-line JSON summary.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { num, parseFlags, str } from './args.js';
import { killAll, onPath, spawnChild, stop, waitForListening, type Child } from './children.js';
import { loneTargets, startLoneTarget, type LoneTarget } from './lone-targets.js';

const flags = parseFlags(process.argv.slice(2));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const pin = availableParallelism() >= 2 && onPath('taskset');

/**
 * ns per cache line of a random walk over `kib` of memory, right after idling `idleMs`: what memory untouched for
 * that long costs on this machine. The walk is a pointer chase, so each line is one dependent load.
 */
function coldMemory(kib: number, idleMs: number, rounds: number): number {
  const lines = (kib * 1024) / 64;
  const stride = 16; // int32s per 64-byte line
  const next = new Int32Array(lines * stride);
  const order = Array.from({ length: lines }, (_, i) => i);
  for (let i = lines - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (let i = 0; i < lines; i++) next[order[i] * stride] = order[(i + 1) % lines] * stride;
  const parked = new Int32Array(new SharedArrayBuffer(4));
  let total = 0;
  let at = order[0] * stride;
  for (let round = 0; round < rounds; round++) {
    if (idleMs > 0) Atomics.wait(parked, 0, 0, idleMs);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lines; i++) at = next[at];
    total += Number(process.hrtime.bigint() - t0);
  }
  if (at < 0) console.log(at); // keeps the walk from being optimised away
  return total / rounds / lines;
}

if (flags.has('cold-memory')) {
  if (pin) execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
  const results: Record<string, Record<string, number>> = {};
  for (const kib of [256, 1024]) {
    results[`${kib}KiB`] = {};
    for (const idleMs of [0, 0.2, 1, 5, 20]) {
      const ns = coldMemory(kib, idleMs, idleMs >= 5 ? 100 : 300);
      results[`${kib}KiB`][`${idleMs}ms`] = ns;
      console.log(`${String(kib).padStart(5)} KiB after ${String(idleMs).padStart(4)} ms idle: ${ns.toFixed(1)} ns a cache line`);
    }
  }
  console.log(JSON.stringify({ coldMemoryNsPerLine: results }));
  process.exit(0);
}

const requests = Math.max(1, Math.floor(num(flags, 'requests', 300)));
const gapMs = num(flags, 'gap-ms', 0);
const chunks = Math.max(1, Math.floor(num(flags, 'chunks', 20)));
const chunkGapMs = num(flags, 'chunk-gap-ms', 5);
const burstWarmup = Math.max(0, Math.floor(num(flags, 'burst-warmup', 5000)));
const heimdallJs = resolve(str(flags, 'heimdall-js', here('../src/main.js')));
const beforeJs = flags.has('before-js') ? resolve(str(flags, 'before-js', '')) : null;
const targets = loneTargets(str(flags, 'targets', 'baseline,bare-hop,heimdall'), beforeJs);
const workDir = mkdtempSync(join(tmpdir(), 'heimdall-bench-first-byte-'));

process.on('exit', () => {
  killAll();
  rmSync(workDir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
if (pin) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });

const mock = spawnChild('mock', process.execPath, [here('./mock-upstream.js'), '--port', '0', '--chunks', String(chunks),
  '--chunk-gap-ms', String(chunkGapMs)], pin ? '1' : undefined);
const children: Child[] = [mock];
const mockPort = await waitForListening(mock);
const started: { target: LoneTarget; url: string; model: string; agent: Agent; firstByteUs: number[] }[] = [];
for (const target of targets) {
  const { child, port, model } = await startLoneTarget(target, mockPort, { cpus: pin ? '0' : undefined, workDir, heimdallJs, beforeJs });
  children.push(child);
  started.push({ target, url: `http://127.0.0.1:${port}/v1/chat/completions`, model, agent: new Agent({ connections: 1 }), firstByteUs: [] });
}
const messages = [{ role: 'user', content: 'Hello, how are you today?' }];

/** One stream: µs from the send to the first byte of the body; the rest is read to its end. */
async function stream(t: (typeof started)[number], burst: boolean): Promise<number> {
  const body = JSON.stringify({ model: t.model, messages, stream: true, ...(burst ? { user: 'heimdall-bench-burst' } : {}) });
  const t0 = process.hrtime.bigint();
  const answer = await request(t.url, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: t.agent });
  let firstUs = -1;
  for await (const piece of answer.body) {
    if (firstUs < 0 && (piece as Buffer).byteLength > 0) firstUs = Number(process.hrtime.bigint() - t0) / 1000;
  }
  if (answer.statusCode !== 200) throw new Error(`${t.target} answered ${answer.statusCode}`);
  return firstUs;
}

try {
  // The JIT's warm-up: the mock sends a burst user's stream all at once.
  for (const t of started) for (let i = 0; i < burstWarmup; i++) await stream(t, true);
  for (let i = 0; i < 20; i++) for (const t of started) await stream(t, false);
  for (let i = 0; i < requests; i++) {
    // The order rotates, so that no target always follows the same one.
    for (let k = 0; k < started.length; k++) {
      const t = started[(i + k) % started.length];
      if (gapMs > 0) await sleep(gapMs);
      t.firstByteUs.push(await stream(t, false));
    }
  }
} finally {
  for (const t of started) await t.agent.close();
  for (const child of children.reverse()) await stop(child);
}

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const baseline = started.find((t) => t.target === 'baseline');
const baselineP50 = baseline ? quantile(baseline.firstByteUs, 0.5) : null;
console.log(`\nlone streams (${chunks} chunks ${chunkGapMs} ms apart), ${requests} per target, interleaved, ${gapMs} ms between` +
  ` streams${pin ? ', targets pinned to CPU 0' : ''}: µs from the send to the first body byte`);
console.log('target           p25      p50      p75      p50 − baseline p50');
const summary: Record<string, unknown> = {};
for (const t of started) {
  const [p25, p50, p75] = [0.25, 0.5, 0.75].map((q) => quantile(t.firstByteUs, q));
  const over = baselineP50 === null ? null : p50 - baselineP50;
  console.log(`${t.target.padEnd(16)} ${[p25, p50, p75].map((v) => v.toFixed(0).padStart(6)).join('   ')}   ${over === null ? '–' : over.toFixed(0).padStart(6)}`);
  summary[t.target] = { p25, p50, p75, overBaselineP50: over };
}
console.log(JSON.stringify({ requests, gapMs, chunks, chunkGapMs, burstWarmup, pinned: pin, targets: summary }));
