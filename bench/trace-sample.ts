/**
 * One traced request as the pipeline records it, for the tracing benches (bench/tracing-front.ts,
 * bench/tracing-export.ts): the server span, a pre- and post-hook for each of `plugins`, the metrics plugin's
 * post-hook, the queue wait and one upstream try with its GenAI attributes, written to `sink`.
 */
import { RequestTrace, type SpanSink } from '../src/observability/tracing/spans.js';

export function traceOne(sink: SpanSink, plugins: readonly string[]): void {
  const now = performance.now();
  const origin = performance.timeOrigin;
  const trace = new RequestTrace(null, now, { path: '/v1/chat/completions', requestId: 'req-0123456789' }, sink, false, false);
  trace.model = 'openai/gpt-4o-mini';
  for (const plugin of plugins) trace.hook(plugin, 'pre', now, now + 0.01, false, null);
  const spanHi = trace.spanHi();
  trace.attempt({ spanHi, spanLo: trace.spanLo(spanHi), submittedAt: now + 0.02, settledAt: now + 2, times: [origin + now + 0.05, origin + now + 0.1,
    origin + now + 1.5, 200], operation: 'chat', system: 'openai', provider: 'openai', model: 'gpt-4o-mini', keyName: 'primary',
  retry: 0, fallbackIndex: 0, stream: false, inputTokens: 12, outputTokens: 40, responseModel: 'gpt-4o-mini-2024-07-18',
  finishReasons: ['stop'], firstToken: null, errorCode: null, errorMessage: null, input: null, output: null });
  for (const plugin of plugins) trace.hook(plugin, 'post', now + 2, now + 2.01, false, null);
  trace.hook('metrics', 'post', now + 2.01, now + 2.02, false, null);
  trace.end(200, 'POST', '/v1/chat/completions', null, now + 2.03);
}
