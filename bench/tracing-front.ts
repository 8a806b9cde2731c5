/**
 * What a traced request costs the front thread itself, apart from any load: its 6 spans (the server span, a plugin's
 * pre- and post-hook, the metrics plugin's post-hook, the queue wait and one upstream try) built as records and
 * encoded as OTLP protobuf, as `RequestTrace` and `TraceExporter` do per request; against the structured clone the
 * same records would cost to post to another thread (the design not taken; see docs/tracing.md, "Cost"). CPU time of
 * this thread (process.cpuUsage) over `--requests` traces, after as many again as warm-up, `--reps` times.
 *
 *   npm run build && node dist/bench/tracing-front.js [--requests 50000] [--reps 3]
 *
 * The last line of stdout is a one-line JSON summary.
 */
import { serialize } from 'node:v8';
import { SpanEncoder } from '../src/observability/tracing/otlp-proto.js';
import { RequestTrace, type SpanRecord } from '../src/observability/tracing/spans.js';
import { num, parseFlags } from './args.js';
import { median, range } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const requests = Math.max(1000, Math.floor(num(flags, 'requests', 50_000)));
const reps = Math.max(1, Math.floor(num(flags, 'reps', 3)));

const encoder = new SpanEncoder();
let cloned: SpanRecord[] = [];
const mode = { encode: true };
const sink = {
  push(spans: SpanRecord[]) {
    if (mode.encode) {
      encoder.append(spans);
      if (encoder.count >= 512) encoder.take();
      return;
    }
    for (const span of spans) cloned.push(span);
    if (cloned.length >= 512) {
      serialize(cloned);
      cloned = [];
    }
  },
};

function traceOne(): void {
  const now = performance.now();
  const trace = new RequestTrace(null, now, { path: '/v1/chat/completions', requestId: 'req-0123456789' }, sink, false, false);
  trace.model = 'openai/gpt-4o-mini';
  trace.hook('rec', 'pre', now, now + 0.01, false, null);
  const { spanId } = trace.nextAttempt();
  const origin = performance.timeOrigin;
  trace.attempt({ spanId, submittedAt: now + 0.02, settledAt: now + 2, timing: { jobStart: origin + now + 0.05,
    upstreamStart: origin + now + 0.1, headers: origin + now + 1.5, upstreamStatus: 200 }, operation: 'chat', system: 'openai',
  provider: 'openai', model: 'gpt-4o-mini', keyName: 'primary', retry: 0, fallbackIndex: 0, stream: false, inputTokens: 12,
  outputTokens: 40, responseModel: 'gpt-4o-mini-2024-07-18', finishReasons: ['stop'], firstToken: null, errorCode: null,
  errorMessage: null, input: null, output: null });
  trace.hook('rec', 'post', now + 2, now + 2.01, false, null);
  trace.hook('metrics', 'post', now + 2.01, now + 2.02, false, null);
  trace.end(200, 'POST', '/v1/chat/completions', null);
}

function measure(): number {
  for (let i = 0; i < requests; i++) traceOne();
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) traceOne();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / requests;
}

const results: Record<'encode' | 'clone', number[]> = { encode: [], clone: [] };
for (let rep = 0; rep < reps; rep++) {
  for (const which of rep % 2 === 0 ? ['encode', 'clone'] as const : ['clone', 'encode'] as const) {
    mode.encode = which === 'encode';
    results[which].push(measure());
  }
}
const row = (name: 'encode' | 'clone', what: string) => {
  const [low, high] = range(results[name])!;
  console.log(`${what.padEnd(52)} ${median(results[name])!.toFixed(2).padStart(6)} µs (${low.toFixed(2)}–${high.toFixed(2)})`);
};
console.log(`front-thread CPU per traced request (6 spans), ${requests} requests × ${reps} repetitions:`);
row('encode', 'records + OTLP protobuf encoding (what runs)');
row('clone', 'records + structured clone for another thread');
console.log(JSON.stringify({ requests, reps, encodeUs: median(results.encode), cloneUs: median(results.clone), results }));
