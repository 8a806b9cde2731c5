/**
 * What a traced request costs the front thread itself, apart from any load: its 6 spans (the server span, a plugin's
 * pre- and post-hook, the metrics plugin's post-hook, the queue wait and one upstream try) written as OTLP protobuf
 * into the exporter's buffer, as `RequestTrace` does per request, the buffer taken every 512 spans as the hand-off
 * takes it. CPU time of this thread (process.cpuUsage) over `--requests` traces, after as many again as warm-up,
 * `--reps` times.
 *
 *   npm run build && node dist/bench/tracing-front.js [--requests 50000] [--reps 3]
 *
 * The last line of stdout is a one-line JSON summary.
 */
import { SpanEncoder } from '../src/observability/tracing/otlp-proto.js';
import type { SpanSink } from '../src/observability/tracing/spans.js';
import { num, parseFlags } from './args.js';
import { median, range } from './report.js';
import { traceOne } from './trace-sample.js';

const flags = parseFlags(process.argv.slice(2));
const requests = Math.max(1000, Math.floor(num(flags, 'requests', 50_000)));
const reps = Math.max(1, Math.floor(num(flags, 'reps', 3)));

const encoder = new SpanEncoder();
const sink: SpanSink = {
  open: () => encoder,
  closed() {
    if (encoder.count >= 512) encoder.take();
  },
};
const plugins = ['rec'];

function measure(): number {
  for (let i = 0; i < requests; i++) traceOne(sink, plugins);
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) traceOne(sink, plugins);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / requests;
}

const results: number[] = [];
for (let rep = 0; rep < reps; rep++) results.push(measure());
const [low, high] = range(results)!;
console.log(`front-thread CPU per traced request (6 spans), ${requests} requests × ${reps} repetitions: `
  + `${median(results)!.toFixed(2)} µs (${low.toFixed(2)}–${high.toFixed(2)})`);
console.log(JSON.stringify({ requests, reps, encodeUs: median(results), results }));
