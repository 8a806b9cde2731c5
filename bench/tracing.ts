/**
 * What tracing costs: CPU µs per request of the gateway process (every thread: front, provider worker, the OTLP
 * exporter) with tracing off (no `otel` entry), configured at sample_rate 0, and at sample_rate 1 exporting every
 * trace to a local OTLP/HTTP sink (bench/otlp-sink.ts, its own process), side by side in one run, split by thread
 * (the front; worker threads, the provider's and the exporter's; the rest). Each repetition starts a fresh gateway
 * per mode, in an order that rotates between repetitions, and loads it closed-loop for a warm-up then a measured
 * window; the figure is the CPU of the process's threads (schedstat) over the 2xx answers of the window.
 * Goal (issue 28): on ÷ off ≤ 1.15, and zero ÷ off within the noise. Besides the medians, each repetition's own
 * on ÷ off (the windows next to each other in time) is reported, which a machine whose load drifts disturbs less.
 *
 * `--before DIR` adds a mode `before`: sampling 1 with another build's gateway (DIR is that checkout's dist/, e.g. a
 * copy made before a change), so that a change is measured against what it replaces in the same run.
 *
 * `--keep` starts each mode's gateway once and keeps it for every repetition (still rotating the order): on a loaded
 * machine, where a start takes many seconds, more and shorter repetitions fit in the same time. Each window still has
 * its warm-up.
 *
 * `--together` (implies `--keep`) loads every mode's gateway at the same time in each repetition, each with a load
 * generator of its own: on a machine shared with other work, whose load swings by 2x within a minute, windows one after
 * the other meet different loads, while windows side by side meet the same one. The modes then compete with each
 * other for the cores, so the absolute figures are higher than alone; the ratios are the point.
 *
 *   npm run build && node dist/bench/tracing.js [--reps 3] [--duration 8] [--warmup 2] [--connections 32] [--before DIR]
 *     [--keep] [--together]
 *
 * The last line of stdout is a one-line JSON summary.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { bool, num, parseFlags, str } from './args.js';
import { killAll, spawnChild, stop, waitForListening, type Child } from './children.js';
import { cpuWindow, pickGenerator } from './generators.js';
import type { ThreadRole } from './procfs.js';
import { median, printModeRows, range } from './report.js';

type Mode = 'off' | 'zero' | 'on' | 'before';

const flags = parseFlags(process.argv.slice(2));
const beforeDir = str(flags, 'before', '');
const together = bool(flags, 'together');
const keep = together || bool(flags, 'keep');
const MODES: readonly Mode[] = beforeDir ? ['off', 'zero', 'on', 'before'] : ['off', 'zero', 'on'];
const reps = Math.max(1, Math.floor(num(flags, 'reps', 3)));
const durationS = num(flags, 'duration', 8);
const warmupS = num(flags, 'warmup', 2);
const connections = Math.max(1, Math.floor(num(flags, 'connections', 32)));
const generator = pickGenerator(str(flags, 'generator', 'auto'));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'heimdall-bench-tracing-'));
const body = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] });


interface Window {
  mode: Mode;
  rep: number;
  rps: number;
  ok: number;
  failed: number;
  cpuUsPerRequest: number;
  /** The same CPU by thread: the front (main), worker threads (the provider's and the exporter), the rest (V8, libuv). */
  byThread: Record<ThreadRole, number>;
  /** Spans the gateway dropped (its /metrics), on mode `on`: a full queue would make the figure look cheaper than it is. */
  dropped: number | null;
}

interface Running {
  child: Child;
  port: number;
}

async function launch(mock: number, collector: number, mode: Mode): Promise<Running> {
  const script = mode === 'before' ? join(resolve(beforeDir), 'bench/tracing-gateway.js') : here('./tracing-gateway.js');
  const child: Child = spawnChild(`heimdall-${mode}`, process.execPath, [script, '--upstream', String(mock),
    '--mode', mode === 'before' ? 'on' : mode, '--collector', String(collector)]);
  return { child, port: await waitForListening(child, 60_000) };
}

async function measure(gateway: Running, mode: Mode, rep: number): Promise<Window> {
  const spec = { url: `http://127.0.0.1:${gateway.port}/v1/chat/completions`, body, headers: {}, connections, cpus: undefined };
  // A directory per mode: side by side (--together), each load generator writes its own script there.
  const dir = join(workDir, mode);
  mkdirSync(dir, { recursive: true });
  const { load, failed, cpuUsPerRequest, byThread } = await cpuWindow(generator, gateway.child.pid, spec,
    { warmup: warmupS, measured: durationS }, dir, here('./loadgen.js'));
  let dropped: number | null = null;
  if (mode === 'on' || mode === 'before') {
    const metrics = await (await request(`http://127.0.0.1:${gateway.port}/metrics`)).body.text();
    dropped = Number(/^heimdall_trace_spans_dropped_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
  }
  return { mode, rep, rps: load.rps, ok: load.ok, failed, cpuUsPerRequest, byThread, dropped };
}

function report(w: Window): void {
  process.stderr.write(`rep ${w.rep} ${w.mode.padEnd(7)} ${w.rps.toFixed(0)} req/s, ${w.cpuUsPerRequest.toFixed(1)} µs CPU/request `
    + `(front ${w.byThread.main.toFixed(1)}, workers ${w.byThread.workers.toFixed(1)}, other ${w.byThread.other.toFixed(1)})`
    + `${w.dropped === null ? '' : `, spans dropped: ${w.dropped}`}${w.failed ? `, ${w.failed} failed` : ''}\n`);
}

const kept = new Map<Mode, Running>();
const mockChild = spawnChild('mock', process.execPath, [here('./mock-upstream.js'), '--port', '0']);
const sinkChild = spawnChild('otlp-sink', process.execPath, [here('./otlp-sink.js')]);
try {
  const mock = await waitForListening(mockChild);
  const collector = await waitForListening(sinkChild);
  const windows: Window[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    // The order rotates, so that no mode always runs first (or last) on a machine whose load drifts.
    const order = MODES.map((_, i) => MODES[(i + rep - 1) % MODES.length]);
    if (together) {
      for (const mode of order) if (!kept.has(mode)) kept.set(mode, await launch(mock, collector, mode));
      const side = await Promise.all(order.map((mode) => measure(kept.get(mode)!, mode, rep)));
      for (const w of side) {
        windows.push(w);
        report(w);
      }
      continue;
    }
    for (const mode of order) {
      let gateway = kept.get(mode);
      if (!gateway) {
        gateway = await launch(mock, collector, mode);
        if (keep) kept.set(mode, gateway);
      }
      let w: Window;
      try {
        w = await measure(gateway, mode, rep);
      } finally {
        if (!keep) await stop(gateway.child);
      }
      windows.push(w);
      report(w);
    }
  }
  const rows = printModeRows(windows, MODES, { generator, connections, reps, durationS, warmupS });
  if (together) console.log('every repetition measured the modes side by side, each with its own load generator (--together)');
  const off = rows[0].cpuUsPerRequest!;
  const goal = rows[2].cpuUsPerRequest! / off;
  const zero = rows[1].cpuUsPerRequest! / off;
  // Each repetition's own ratio: its windows ran one after the other, under about the same load.
  const paired = Object.fromEntries(MODES.slice(1).map((mode) => {
    const ratios = Array.from({ length: reps }, (_, i) => windows.find((w) => w.rep === i + 1 && w.mode === mode)!.cpuUsPerRequest
      / windows.find((w) => w.rep === i + 1 && w.mode === 'off')!.cpuUsPerRequest);
    const [low, high] = range(ratios)!;
    console.log(`${mode} ÷ off within each repetition: median ${median(ratios)!.toFixed(3)} (${low.toFixed(3)}–${high.toFixed(3)})`);
    return [mode, ratios];
  }));
  console.log(`goal: on ÷ off ≤ 1.15: ${goal.toFixed(3)} ${goal <= 1.15 ? 'met' : 'NOT met'}; zero ÷ off: ${zero.toFixed(3)}`);
  console.log(JSON.stringify({ generator, connections, reps, durationS, together, rows, windows, paired,
    goal: { ratio: goal, met: goal <= 1.15 }, zero }));
  process.exitCode = windows.some((w) => w.failed > 0) ? 1 : 0;
} finally {
  for (const gateway of kept.values()) await stop(gateway.child);
  await stop(mockChild);
  await stop(sinkChild);
  killAll();
  rmSync(workDir, { recursive: true, force: true });
}
