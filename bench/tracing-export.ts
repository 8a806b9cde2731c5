/**
 * What the OTLP exporter thread costs per span, apart from any request load: the front's hand-offs of encoded
 * spans (4-span traces, as a plain answer makes) at a steady rate into a TraceExporter that exports to the bench's
 * OTLP/HTTP sink (bench/otlp-sink.ts, its own process). The figure is the exporter thread's own CPU (its schedstat)
 * per trace, over `--seconds` after a warm-up, `--reps` times.
 *
 *   npm run build && node dist/bench/tracing-export.js [--rate 5000] [--seconds 4] [--reps 3] [--batch 512]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { request } from 'undici';
import type { TracingConfig } from '../src/config/types.js';
import { TraceExporter } from '../src/observability/tracing/exporter.js';
import { num, parseFlags } from './args.js';
import { spawnChild, stop, waitForListening } from './children.js';
import { median, range } from './report.js';
import { traceOne } from './trace-sample.js';

const flags = parseFlags(process.argv.slice(2));
const rate = num(flags, 'rate', 5000);
const seconds = num(flags, 'seconds', 4);
const reps = Math.max(1, Math.floor(num(flags, 'reps', 3)));
const batch = Math.floor(num(flags, 'batch', 512));

const tasks = (): Set<string> => new Set(readdirSync('/proc/self/task'));
const cpuNs = (tids: readonly string[]): number => tids.reduce((sum, tid) => {
  try {
    return sum + Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return sum;
  }
}, 0);

/** User and system CPU ticks (1/100 s) of the threads, from /proc/self/task/<tid>/stat. */
const ticks = (tids: readonly string[]): [number, number] => tids.reduce<[number, number]>((sum, tid) => {
  try {
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return [sum[0] + Number(fields[11]), sum[1] + Number(fields[12])];
  } catch {
    return sum;
  }
}, [0, 0]);

/** Times the threads went to sleep (voluntary context switches): a thread's wake-ups. */
const wakeUps = (tids: readonly string[]): number => tids.reduce((sum, tid) => {
  try {
    return sum + Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return sum;
  }
}, 0);

const sink = spawnChild('otlp-sink', process.execPath, [fileURLToPath(new URL('./otlp-sink.js', import.meta.url))]);
try {
  const port = await waitForListening(sink);
  const settings: TracingConfig = { endpoint: `http://127.0.0.1:${port}/v1/traces`, protocol: 'http', headers: {}, resource: {
    'service.name': 'heimdall' }, sampleRate: 1, propagateTraceparent: false, captureContent: false, maxQueueSpans: 1 << 20,
  maxBatchSpans: batch, exportTimeoutMs: 10_000, scheduleDelayMs: 1000, tlsCa: null };
  const before = tasks();
  const exporter = new TraceExporter(settings, 'bench', pino({ level: 'warn' }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const threads = [...tasks()].filter((tid) => !before.has(tid));
  // Traces in 10 ms ticks, as a loaded front hands them over.
  const run = (ms: number): Promise<number> => new Promise((resolve) => {
    let sent = 0;
    const started = performance.now();
    const tick = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; sent < due; sent++) traceOne(exporter, []);
      if (performance.now() - started >= ms) {
        clearInterval(tick);
        resolve(sent);
      }
    }, 10);
  });
  const results: number[] = [];
  await run(2000);
  const startTicks = ticks(threads);
  const startWakeUps = wakeUps(threads);
  const startExports = (await (await request(`http://127.0.0.1:${port}/stats`)).body.json() as Record<string, number>).exports;
  let traces = 0;
  for (let rep = 0; rep < reps; rep++) {
    const cpu = cpuNs(threads);
    const sent = await run(seconds * 1000);
    traces += sent;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    results.push((cpuNs(threads) - cpu) / 1000 / sent);
  }
  const endTicks = ticks(threads);
  const woke = wakeUps(threads) - startWakeUps;
  const share = (i: number) => ((endTicks[i] - startTicks[i]) * 10_000 / traces).toFixed(2);
  const counters = exporter.counters();
  await exporter.close();
  const stats = await (await request(`http://127.0.0.1:${port}/stats`)).body.json() as Record<string, number>;
  const [low, high] = range(results)!;
  console.log(`exporter thread CPU per 4-span trace at ${rate} traces/s, batch ${batch}: ${median(results)!.toFixed(2)} µs `
    + `(${low.toFixed(2)}–${high.toFixed(2)}; user ${share(0)}, system ${share(1)}); exported ${counters.exported}, dropped ${counters.dropped}; `
    + `${stats.exports} exports, ${(stats.bytes / counters.exported).toFixed(0)} bytes a span, ${stats.connections} connections, `
    + `${(woke / Math.max(1, stats.exports - startExports)).toFixed(1)} wake-ups an export`);
  console.log(JSON.stringify({ rate, batch, reps, seconds, results, counters, sink: stats }));
} finally {
  await stop(sink);
}
