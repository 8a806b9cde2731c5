/**
 * What the request log costs: CPU µs per request of the gateway process (every thread: front, provider worker, the
 * log writer) with the request log off, on without content, and on with content (a 2 KB prompt and its answer kept),
 * side by side in one run, split by thread (the front; worker threads, the provider's and the log writer's; the
 * rest). Each repetition starts a fresh gateway per mode, in an order that rotates between
 * repetitions, and loads it closed-loop for a warm-up then a measured window; the figure is the CPU of the process's
 * threads (schedstat) over the 2xx answers of the window. Goal (issue 24): on with content ÷ off ≤ 1.10.
 *
 *   npm run build && node dist/bench/request-log.js [--reps 3] [--duration 8] [--warmup 2] [--connections 32]
 *     [--before OTHER/dist/bench/request-log-gateway.js] [--parts] [--rate R]
 *
 * `--before` adds two modes, `on-before` and `content-before`: the same gateway from another build (a copy of the
 * dist of the commit compared against, with its package.json and node_modules beside it), in the same rotation, so
 * a change to the request log is measured side by side with what it replaces. `--parts` adds `content-front` (records
 * built and pushed, then dropped at the sink) and `content-memory` (written to SQLite in memory): content's cost taken
 * apart into the front's share, the hand-off and inserts, and the file's I/O.
 *
 * The last line of stdout is a one-line JSON summary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { num, parseFlags, str } from './args.js';
import { killAll, spawnChild, stop, waitForListening, type Child } from './children.js';
import { cpuWindow, pickGenerator } from './generators.js';
import type { ThreadRole } from './procfs.js';
import { printModeRows } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const before = flags.has('before') ? resolve(str(flags, 'before', '')) : null;
const parts = flags.has('parts');
const MODES = ['off', 'on', 'content', ...(before ? ['on-before', 'content-before'] as const : []),
  ...(parts ? ['content-front', 'content-memory'] as const : [])] as const;
type Mode = (typeof MODES)[number];

const reps = Math.max(1, Math.floor(num(flags, 'reps', 3)));
const durationS = num(flags, 'duration', 8);
const warmupS = num(flags, 'warmup', 2);
const connections = Math.max(1, Math.floor(num(flags, 'connections', 32)));
/**
 * `--rate R`: every mode served at the same R requests a second (open loop, the Node generator), so its CPU per
 * request is counted at the same load; closed loop (the default) serves each mode as fast as it goes, and a mode that
 * answers fewer requests a second also batches fewer of them per event-loop turn.
 */
const rate = num(flags, 'rate', 0);
const generator = rate > 0 ? 'node' : pickGenerator(str(flags, 'generator', 'auto'));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'heimdall-bench-log-'));
const prompt = 'Summarise the following notes for the weekly report. '.repeat(40);
const body = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }] });


interface Window {
  mode: Mode;
  rep: number;
  rps: number;
  ok: number;
  failed: number;
  cpuUsPerRequest: number;
  /** The same CPU by thread: the front (main), worker threads (the provider's and the log writer), the rest (V8, libuv). */
  byThread: Record<ThreadRole, number>;
  /** Records the store holds after the window: every answered request, warm-up included, when nothing dropped. */
  stored: number | null;
}

async function measure(mock: number, mode: Mode, rep: number): Promise<Window> {
  const [logMode, build] = mode.endsWith('-before') ? [mode.slice(0, -'-before'.length), before!] : [mode, here('./request-log-gateway.js')];
  const gateway: Child = spawnChild(`heimdall-${mode}`, process.execPath, [build, '--upstream', String(mock),
    '--mode', logMode, '--db', join(workDir, `${mode}-${rep}.db`)]);
  try {
    const port = await waitForListening(gateway, 30_000);
    const spec = { url: `http://127.0.0.1:${port}/v1/chat/completions`, body, headers: {}, connections, cpus: undefined,
      ...(rate > 0 ? { rate } : {}) };
    const { warm, load, failed, cpuUsPerRequest, byThread } = await cpuWindow(generator, gateway.pid, spec,
      { warmup: warmupS, measured: durationS }, workDir, here('./loadgen.js'));
    let stored: number | null = null;
    if (mode !== 'off' && mode !== 'content-front') {
      // Let the writer catch up, then ask the store what it holds.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const stats = await request(`http://127.0.0.1:${port}/api/logs/stats`);
      stored = ((await stats.body.json()) as { groups: { count: number }[] }).groups[0].count;
    }
    return { mode, rep, rps: load.rps, ok: load.ok, failed, cpuUsPerRequest, byThread, stored: stored === null ? null : stored - warm.ok - load.ok };
  } finally {
    await stop(gateway);
  }
}

const mockChild = spawnChild('mock', process.execPath, [here('./mock-upstream.js'), '--port', '0']);
try {
  const mock = await waitForListening(mockChild);
  const windows: Window[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    // The order rotates, so that no mode always runs first (or last) on a machine whose load drifts.
    const order = MODES.map((_, i) => MODES[(i + rep - 1) % MODES.length]);
    for (const mode of order) {
      const w = await measure(mock, mode, rep);
      windows.push(w);
      process.stderr.write(`rep ${rep} ${mode.padEnd(14)} ${w.rps.toFixed(0)} req/s, ${w.cpuUsPerRequest.toFixed(1)} µs CPU/request `
        + `(front ${w.byThread.main.toFixed(1)}, workers ${w.byThread.workers.toFixed(1)}, other ${w.byThread.other.toFixed(1)})`
        + `${w.stored === null ? '' : `, stored − answered: ${w.stored}`}${w.failed ? `, ${w.failed} failed` : ''}\n`);
    }
  }
  const rows = printModeRows(windows, MODES, { generator, connections, reps, durationS, warmupS });
  const off = rows[0].cpuUsPerRequest!;
  const goal = rows[2].cpuUsPerRequest! / off;
  console.log(`goal: content ÷ off ≤ 1.10: ${goal.toFixed(3)} ${goal <= 1.1 ? 'met' : 'NOT met'}`);
  const ratio = (mode: Mode) => (rows[(MODES as readonly Mode[]).indexOf(mode)].cpuUsPerRequest! / off).toFixed(3);
  if (before) console.log(`before: content-before ÷ off ${ratio('content-before')}, on-before ÷ off ${ratio('on-before')}`);
  if (parts) console.log(`parts: content-front ÷ off ${ratio('content-front')}, content-memory ÷ off ${ratio('content-memory')}`);
  console.log(JSON.stringify({ generator, rate: rate || null, connections, reps, durationS, rows, windows, goal: { ratio: goal, met: goal <= 1.1 } }));
  process.exitCode = windows.some((w) => w.failed > 0) ? 1 : 0;
} finally {
  await stop(mockChild);
  killAll();
  rmSync(workDir, { recursive: true, force: true });
}
