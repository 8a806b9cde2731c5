// One request's spans, built on the front thread as plain records: numbers and strings, no span objects, no
// context propagation machinery. Only a sampled request gets a RequestTrace at all, so tracing off (or a request
// not sampled) costs one branch per stage. The records go to the exporter thread in batches (exporter.ts), which
// turns them into OTLP protobuf.
//
// Times are epoch milliseconds as floats (performance.timeOrigin + performance.now()): the provider workers report
// theirs the same way (their own timeOrigin), so a worker's times fall on the front thread's clock to well under a
// millisecond without a clock exchange.

import type { ParentContext } from './trace-context.js';
import { formatTraceparent, newSpanId, newTraceId } from './trace-context.js';

export const SPAN_KIND_INTERNAL = 1;
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

export interface SpanEvent {
  readonly name: string;
  readonly time: number;
  readonly attributes: Attributes | null;
}

/** A finished span as it crosses to the exporter thread (structured clone): plain data only. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  /** Epoch milliseconds, fractional. */
  start: number;
  end: number;
  attributes: Attributes;
  status: number;
  statusMessage: string;
  events: SpanEvent[] | null;
}

// The GenAI semantic conventions live only in @opentelemetry/semantic-conventions/incubating; the few names used are
// copied here rather than depending on an entry point that may rename them in any release.
export const ATTR = Object.freeze({
  httpMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpStatus: 'http.response.status_code',
  urlPath: 'url.path',
  urlScheme: 'url.scheme',
  errorType: 'error.type',
  genAiOperation: 'gen_ai.operation.name',
  genAiProvider: 'gen_ai.provider.name',
  /** The older name of gen_ai.provider.name, which backends released before 2025 still read. */
  genAiSystem: 'gen_ai.system',
  genAiRequestModel: 'gen_ai.request.model',
  genAiResponseModel: 'gen_ai.response.model',
  genAiInputTokens: 'gen_ai.usage.input_tokens',
  genAiOutputTokens: 'gen_ai.usage.output_tokens',
  genAiFinishReasons: 'gen_ai.response.finish_reasons',
  genAiInputMessages: 'gen_ai.input.messages',
  genAiOutputMessages: 'gen_ai.output.messages',
  genAiToolName: 'gen_ai.tool.name',
  genAiToolCallId: 'gen_ai.tool.call.id',
});

/** The monotonic clock as epoch milliseconds. */
// Read once: performance.timeOrigin is a getter into the runtime, and a traced request converts a dozen times.
const TIME_ORIGIN = performance.timeOrigin;
export const epochOf = (now: number): number => TIME_ORIGIN + now;

/** What one upstream try reported (worker timings are epoch milliseconds on the worker's clock). */
export interface AttemptTiming {
  /** The job reached the worker: the end of its wait in the provider's queue. */
  readonly jobStart: number;
  /** The request went to the upstream; 0 when it never did (refused before sending). */
  readonly upstreamStart: number;
  /** The upstream's response headers arrived; 0 when none did. */
  readonly headers: number;
  /** The upstream's HTTP status; 0 when none came. */
  readonly upstreamStatus: number;
}

export interface AttemptReport {
  readonly spanId: string;
  /** performance.now() when the front submitted the job, and when its final message arrived. */
  readonly submittedAt: number;
  readonly settledAt: number;
  readonly timing: AttemptTiming | null;
  readonly operation: string;
  /** The provider's adapter (gen_ai.provider.name) and its name in the config. */
  readonly system: string;
  readonly provider: string;
  readonly model: string;
  readonly keyName: string;
  readonly retry: number;
  readonly fallbackIndex: number;
  readonly stream: boolean;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
  readonly responseModel: string | null;
  readonly finishReasons: readonly string[] | null;
  /** Epoch ms of the stream's first chunk, for the time-to-first-token event. */
  readonly firstToken: number | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly input: string | null;
  readonly output: string | null;
}

/** Where finished traces go; the exporter's queue, or a test's array. */
export interface SpanSink {
  push(spans: SpanRecord[]): void;
}

/** Content attributes stop here: a trace backend is not a log store, and one long prompt must not fill a batch. */
export const MAX_CONTENT_CHARS = 16_384;

const clip = (text: string): string => text.length > MAX_CONTENT_CHARS ? text.slice(0, MAX_CONTENT_CHARS) : text;

export class RequestTrace {
  readonly traceId: string;
  readonly serverSpanId = newSpanId();
  readonly #parentSpanId: string;
  readonly #traceState: string;
  readonly #receivedAt: number;
  readonly #sink: SpanSink;
  readonly #propagate: boolean;
  readonly captureContent: boolean;
  readonly spans: SpanRecord[] = [];
  /** Set by the pipeline as it learns it; end() writes it on the server span. */
  model = '';
  readonly #path: string;
  readonly #requestId: string;
  #ended = false;

  constructor(parent: ParentContext | null, receivedAt: number, request: { path: string; requestId: string }, sink: SpanSink,
    propagate: boolean, captureContent: boolean) {
    this.#path = request.path;
    this.#requestId = request.requestId;
    this.traceId = parent?.traceId ?? newTraceId();
    this.#parentSpanId = parent?.spanId ?? '';
    this.#traceState = parent?.traceState ?? '';
    this.#receivedAt = receivedAt;
    this.#sink = sink;
    this.#propagate = propagate;
    this.captureContent = captureContent;
  }

  #span(name: string, kind: number, parent: string, start: number, end: number, attributes: Attributes,
    spanId = newSpanId()): SpanRecord {
    const span: SpanRecord = { traceId: this.traceId, spanId, parentSpanId: parent, traceState: this.#traceState, name, kind,
      start, end, attributes, status: STATUS_UNSET, statusMessage: '', events: null };
    this.spans.push(span);
    return span;
  }

  /** A plugin hook's run (performance.now() times); a short-circuit and a failure are marked. */
  hook(plugin: string, phase: 'pre' | 'post', start: number, end: number, shortCircuited: boolean, failure: string | null): void {
    const span = this.#span(`plugin.${plugin}.${phase}hook`, SPAN_KIND_INTERNAL, this.serverSpanId, epochOf(start), epochOf(end),
      { 'heimdall.plugin.name': plugin, 'heimdall.plugin.short_circuit': shortCircuited });
    if (failure) {
      span.status = STATUS_ERROR;
      span.statusMessage = failure;
    }
  }

  /** A new span id for the next upstream try, and the traceparent to send upstream with it ('' when not sent). */
  nextAttempt(): { spanId: string; traceparent: string } {
    const spanId = newSpanId();
    return { spanId, traceparent: this.#propagate ? formatTraceparent(this.traceId, spanId, true) : '' };
  }

  /** One try: its wait in the provider's queue, then the upstream call with the GenAI attributes. */
  attempt(report: AttemptReport): void {
    const submitted = epochOf(report.submittedAt);
    const settled = epochOf(report.settledAt);
    const timing = report.timing;
    // Worker times are kept inside the front's own bounds: clocks of two threads may differ by a few microseconds.
    const jobStart = timing ? Math.min(Math.max(timing.jobStart, submitted), settled) : submitted;
    if (timing) {
      this.#span('queue.wait', SPAN_KIND_INTERNAL, this.serverSpanId, submitted, jobStart, { 'heimdall.provider': report.provider });
    }
    const attributes: Attributes = {
      [ATTR.genAiOperation]: report.operation,
      [ATTR.genAiProvider]: report.system,
      [ATTR.genAiSystem]: report.system,
      [ATTR.genAiRequestModel]: report.model,
      'heimdall.provider': report.provider,
      'heimdall.retry': report.retry,
      'heimdall.fallback_index': report.fallbackIndex,
      'heimdall.stream': report.stream,
    };
    if (report.keyName) attributes['heimdall.key.name'] = report.keyName;
    if (report.responseModel) attributes[ATTR.genAiResponseModel] = report.responseModel;
    if (report.inputTokens !== null) attributes[ATTR.genAiInputTokens] = report.inputTokens;
    if (report.outputTokens !== null) attributes[ATTR.genAiOutputTokens] = report.outputTokens;
    if (report.finishReasons) attributes[ATTR.genAiFinishReasons] = JSON.stringify(report.finishReasons);
    if (timing && timing.upstreamStatus > 0) attributes[ATTR.httpStatus] = timing.upstreamStatus;
    if (timing && timing.headers > 0) attributes['heimdall.upstream.ttfb_ms'] = round3(timing.headers - timing.upstreamStart);
    if (report.input !== null) attributes[ATTR.genAiInputMessages] = clip(report.input);
    if (report.output !== null) attributes[ATTR.genAiOutputMessages] = clip(report.output);
    const start = timing && timing.upstreamStart > 0 ? Math.min(Math.max(timing.upstreamStart, jobStart), settled) : jobStart;
    const span = this.#span(`${report.operation} ${report.model}`, SPAN_KIND_CLIENT, this.serverSpanId, start, settled, attributes,
      report.spanId);
    if (report.firstToken !== null) {
      const at = Math.min(Math.max(report.firstToken, start), settled);
      span.events = [{ name: 'gen_ai.first_token', time: at, attributes: { 'heimdall.ttft_ms': round3(at - epochOf(this.#receivedAt)) } }];
    }
    if (report.errorCode) {
      span.status = STATUS_ERROR;
      span.statusMessage = report.errorMessage ?? report.errorCode;
      attributes[ATTR.errorType] = report.errorCode;
    }
  }

  /** An MCP tool the gateway ran (agent mode): gen_ai's execute_tool span. */
  tool(name: string, callId: string, start: number, end: number, error: string | null): void {
    const span = this.#span(`execute_tool ${name}`, SPAN_KIND_INTERNAL, this.serverSpanId, epochOf(start), epochOf(end), {
      [ATTR.genAiOperation]: 'execute_tool', [ATTR.genAiToolName]: name, [ATTR.genAiToolCallId]: callId,
    });
    if (error) {
      span.status = STATUS_ERROR;
      span.statusMessage = error;
      span.attributes[ATTR.errorType] = 'tool_error';
    }
  }

  /** The response is complete (or the client left): the server span closes and the trace goes to the exporter. */
  end(status: number, method: string, route: string, errorCode: string | null): void {
    if (this.#ended) return;
    this.#ended = true;
    const attributes: Attributes = {
      [ATTR.httpMethod]: method, [ATTR.httpRoute]: route, [ATTR.httpStatus]: status, [ATTR.urlPath]: this.#path, [ATTR.urlScheme]: 'http',
      'heimdall.request_id': this.#requestId,
    };
    // The error table's codes, as the client's error body has them.
    const code = errorCode ? errorCode.toUpperCase() : null;
    if (this.model) attributes[ATTR.genAiRequestModel] = this.model;
    const span = this.#span(`${method} ${route}`, SPAN_KIND_SERVER, this.#parentSpanId, epochOf(this.#receivedAt),
      epochOf(performance.now()), attributes, this.serverSpanId);
    if (code) attributes[ATTR.errorType] = code;
    // HTTP semconv: a server span is an error for 5xx only; a 4xx is the caller's fault, not the server's.
    if (status >= 500) {
      span.status = STATUS_ERROR;
      span.statusMessage = code ?? `HTTP ${status}`;
    }
    this.#sink.push(this.spans);
  }
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;
