// One request's spans, written on the front thread as they finish: straight into the exporter's OTLP protobuf
// buffer (otlp-proto.ts's SpanEncoder), from the numbers and strings at hand: no span objects, no attribute objects,
// no context propagation machinery. Only a sampled request gets a RequestTrace at all, so tracing off (or a request
// not sampled) costs one branch per stage. The buffer goes to the exporter thread in batches (exporter.ts).
//
// Times are epoch milliseconds as floats (performance.timeOrigin + performance.now()): the provider workers report
// theirs the same way (their own timeOrigin), so a worker's times fall on the front thread's clock to well under a
// millisecond without a clock exchange.

import type { AttemptTimes } from '../../contract/messages.js';
import { attributeKey, SpanEncoder, type TraceIds } from './otlp-proto.js';
import type { ParentContext } from './trace-context.js';
import { formatTraceparent, hexOfWords, randomWord, wordOfHex } from './trace-context.js';

export const SPAN_KIND_INTERNAL = 1;
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

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

/** Every attribute key as the bytes a span carries, made once. */
const KEY = Object.freeze({
  httpMethod: attributeKey(ATTR.httpMethod),
  httpRoute: attributeKey(ATTR.httpRoute),
  httpStatus: attributeKey(ATTR.httpStatus),
  urlPath: attributeKey(ATTR.urlPath),
  urlScheme: attributeKey(ATTR.urlScheme),
  errorType: attributeKey(ATTR.errorType),
  genAiOperation: attributeKey(ATTR.genAiOperation),
  genAiProvider: attributeKey(ATTR.genAiProvider),
  genAiSystem: attributeKey(ATTR.genAiSystem),
  genAiRequestModel: attributeKey(ATTR.genAiRequestModel),
  genAiResponseModel: attributeKey(ATTR.genAiResponseModel),
  genAiInputTokens: attributeKey(ATTR.genAiInputTokens),
  genAiOutputTokens: attributeKey(ATTR.genAiOutputTokens),
  genAiFinishReasons: attributeKey(ATTR.genAiFinishReasons),
  genAiInputMessages: attributeKey(ATTR.genAiInputMessages),
  genAiOutputMessages: attributeKey(ATTR.genAiOutputMessages),
  genAiToolName: attributeKey(ATTR.genAiToolName),
  genAiToolCallId: attributeKey(ATTR.genAiToolCallId),
  requestId: attributeKey('heimdall.request_id'),
  pluginName: attributeKey('heimdall.plugin.name'),
  shortCircuit: attributeKey('heimdall.plugin.short_circuit'),
  provider: attributeKey('heimdall.provider'),
  retry: attributeKey('heimdall.retry'),
  fallbackIndex: attributeKey('heimdall.fallback_index'),
  stream: attributeKey('heimdall.stream'),
  keyName: attributeKey('heimdall.key.name'),
  ttfb: attributeKey('heimdall.upstream.ttfb_ms'),
});

/** The monotonic clock as epoch milliseconds. */
// Read once: performance.timeOrigin is a getter into the runtime, and a traced request converts a dozen times.
const TIME_ORIGIN = performance.timeOrigin;
export const epochOf = (now: number): number => TIME_ORIGIN + now;

export interface AttemptReport {
  /** The try's span id as two words (nextSpanId()). */
  readonly spanHi: number;
  readonly spanLo: number;
  /** performance.now() when the front submitted the job, and when its final message arrived. */
  readonly submittedAt: number;
  readonly settledAt: number;
  /** The worker's times for the try (contract/messages.ts), when it reported them. */
  readonly times: AttemptTimes | null;
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

/** Where spans are written: the exporter's encoder, or a test's. */
export interface SpanSink {
  /** The encoder for the next span, or null when the queue is full (the span is then dropped and counted). */
  open(): SpanEncoder | null;
  /** The span given by open() is closed. */
  closed(): void;
}

/** Content attributes stop here: a trace backend is not a log store, and one long prompt must not fill a batch. */
export const MAX_CONTENT_CHARS = 16_384;

const clip = (text: string): string => text.length > MAX_CONTENT_CHARS ? text.slice(0, MAX_CONTENT_CHARS) : text;

// The constant part of each sort of span (its name, kind and the attributes every span of the sort carries), encoded
// once by SpanEncoder.block() and copied into every such span. The keys are bounded: plugins, providers and routes
// come from the config and the router, and models (which a client names) are kept up to MAX_BLOCKS per provider and
// operation, a block past that being made for its span alone.
const MAX_BLOCKS = 256;

/** A plugin hook's span: [not short-circuited, short-circuited], by plugin and phase. */
const HOOK_BLOCKS = { pre: new Map<string, readonly Uint8Array[]>(), post: new Map<string, readonly Uint8Array[]>() };
function hookBlock(plugin: string, phase: 'pre' | 'post', shortCircuited: boolean): Uint8Array {
  const blocks = HOOK_BLOCKS[phase];
  let pair = blocks.get(plugin);
  if (pair === undefined) {
    const name = `plugin.${plugin}.${phase}hook`;
    const make = (short: boolean) => SpanEncoder.block(SPAN_KIND_INTERNAL, name, '', (span) => {
      span.string(KEY.pluginName, plugin);
      span.bool(KEY.shortCircuit, short);
    });
    blocks.set(plugin, pair = [make(false), make(true)]);
  }
  return pair[shortCircuited ? 1 : 0];
}

/** The queue wait's span, by provider. */
const WAIT_BLOCKS = new Map<string, Uint8Array>();
function waitBlock(provider: string): Uint8Array {
  let block = WAIT_BLOCKS.get(provider);
  if (block === undefined) {
    WAIT_BLOCKS.set(provider, block = SpanEncoder.block(SPAN_KIND_INTERNAL, 'queue.wait', '', (span) => span.string(KEY.provider, provider)));
  }
  return block;
}

/**
 * An upstream try's span, by provider, operation and requested model, with its retry, fallback index and stream
 * flag when they are the usual first try's (0, 0, either), else without them (attemptCounters() writes them).
 */
const ATTEMPT_BLOCKS = new Map<string, Map<string, Uint8Array[]>>();
const firstTry = (report: AttemptReport): boolean => report.retry === 0 && report.fallbackIndex === 0;
function attemptBlock(report: AttemptReport): Uint8Array {
  let byProvider = ATTEMPT_BLOCKS.get(report.provider);
  if (byProvider === undefined) ATTEMPT_BLOCKS.set(report.provider, byProvider = new Map());
  // The adapter and the operation follow from the provider and the job's kind: one key of the two short strings.
  const key = report.operation === 'chat' ? report.model : `${report.operation}\n${report.model}`;
  let blocks = byProvider.get(key);
  if (blocks === undefined) {
    const make = (counters: AttemptReport | null) => SpanEncoder.block(SPAN_KIND_CLIENT, report.operation, report.model, (span) => {
      span.string(KEY.genAiOperation, report.operation);
      span.string(KEY.genAiProvider, report.system);
      span.string(KEY.genAiSystem, report.system);
      span.string(KEY.genAiRequestModel, report.model);
      span.string(KEY.provider, report.provider);
      if (counters) attemptCounters(span, counters);
    });
    const first = { ...report, retry: 0, fallbackIndex: 0 };
    blocks = [make(null), make({ ...first, stream: false }), make({ ...first, stream: true })];
    if (byProvider.size < MAX_BLOCKS) byProvider.set(key, blocks);
  }
  return firstTry(report) ? blocks[report.stream ? 2 : 1] : blocks[0];
}

function attemptCounters(span: SpanEncoder, report: AttemptReport): void {
  span.int(KEY.retry, report.retry);
  span.int(KEY.fallbackIndex, report.fallbackIndex);
  span.bool(KEY.stream, report.stream);
}

/**
 * The server span, by route and method (both from the metrics' bounded label tables), with the usual request's
 * `url.path` (the route itself) and status (200) in variants of their own: index 1 has the path, 2 the status, 3 both.
 */
const SERVER_BLOCKS = new Map<string, Map<string, (Uint8Array | undefined)[]>>();
function serverBlock(method: string, route: string, variant: number): Uint8Array {
  let byMethod = SERVER_BLOCKS.get(route);
  if (byMethod === undefined) SERVER_BLOCKS.set(route, byMethod = new Map());
  let blocks = byMethod.get(method);
  if (blocks === undefined) {
    blocks = [];
    if (byMethod.size < MAX_BLOCKS) byMethod.set(method, blocks);
  }
  return blocks[variant] ??= SpanEncoder.block(SPAN_KIND_SERVER, method, route, (span) => {
    span.string(KEY.httpMethod, method);
    span.string(KEY.httpRoute, route);
    span.string(KEY.urlScheme, 'http');
    if (variant & 1) span.string(KEY.urlPath, route);
    if (variant & 2) span.int(KEY.httpStatus, 200);
  });
}

/** A single finish reason's JSON array (the usual answer has one), made once per reason the upstreams give. */
const ONE_REASON = new Map<string, string>();
function finishReasonsJson(reasons: readonly string[]): string {
  if (reasons.length !== 1) return JSON.stringify(reasons);
  let json = ONE_REASON.get(reasons[0]);
  if (json === undefined) {
    json = JSON.stringify(reasons);
    if (ONE_REASON.size < MAX_BLOCKS) ONE_REASON.set(reasons[0], json);
  }
  return json;
}

/** The error table's codes, as the client's error body has them. */
const CODES = new Map<string, string>();
function codeOf(errorCode: string): string {
  let code = CODES.get(errorCode);
  if (code === undefined) CODES.set(errorCode, code = errorCode.toUpperCase());
  return code;
}

/** A span id's second word, redrawn in the one case in 2^64 that would make the id all zeros (invalid). */
const lowWord = (hi: number): number => {
  const lo = randomWord();
  return hi === 0 && lo === 0 ? lowWord(hi) : lo;
};

export class RequestTrace implements TraceIds {
  // The trace id's words, and the server span's and its parent's (0, 0 for a new trace) ids: see trace-context.ts.
  readonly t0: number;
  readonly t1: number;
  readonly t2: number;
  readonly t3: number;
  readonly traceState: string;
  readonly #serverHi = randomWord();
  readonly #serverLo = lowWord(this.#serverHi);
  readonly #parentHi: number;
  readonly #parentLo: number;
  readonly #receivedAt: number;
  readonly #sink: SpanSink;
  readonly #propagate: boolean;
  readonly captureContent: boolean;
  /** Set by the pipeline as it learns it; end() writes it on the server span. */
  model = '';
  readonly #path: string;
  readonly #requestId: string;
  #ended = false;

  constructor(parent: ParentContext | null, receivedAt: number, request: { path: string; requestId: string }, sink: SpanSink,
    propagate: boolean, captureContent: boolean) {
    this.#path = request.path;
    this.#requestId = request.requestId;
    if (parent) {
      this.t0 = wordOfHex(parent.traceId, 0);
      this.t1 = wordOfHex(parent.traceId, 1);
      this.t2 = wordOfHex(parent.traceId, 2);
      this.t3 = wordOfHex(parent.traceId, 3);
      this.#parentHi = wordOfHex(parent.spanId, 0);
      this.#parentLo = wordOfHex(parent.spanId, 1);
      this.traceState = parent.traceState;
    } else {
      this.t0 = randomWord();
      this.t1 = randomWord();
      this.t2 = randomWord();
      // Not all zeros (invalid): the last word is then made non-zero.
      this.t3 = randomWord() || (this.t0 | this.t1 | this.t2 ? 0 : 1);
      this.#parentHi = 0;
      this.#parentLo = 0;
      this.traceState = '';
    }
    this.#receivedAt = receivedAt;
    this.#sink = sink;
    this.#propagate = propagate;
    this.captureContent = captureContent;
  }

  /** The trace id in hex, as traceparent and the trace backends write it. */
  get traceId(): string {
    return hexOfWords(this.t0, this.t1, this.t2, this.t3);
  }

  /** A plugin hook's run (performance.now() times); a short-circuit and a failure are marked. */
  hook(plugin: string, phase: 'pre' | 'post', start: number, end: number, shortCircuited: boolean, failure: string | null): void {
    const span = this.#sink.open();
    if (!span) return;
    const hi = randomWord();
    span.openBlock(this, hi, lowWord(hi), this.#serverHi, this.#serverLo, epochOf(start), epochOf(end),
      hookBlock(plugin, phase, shortCircuited));
    if (failure) span.status(STATUS_ERROR, failure);
    span.close();
    this.#sink.closed();
  }

  /** A new span id's first word, for the next upstream try; spanLo() makes the second. */
  spanHi(): number {
    return randomWord();
  }

  spanLo(hi: number): number {
    return lowWord(hi);
  }

  /** The traceparent to send upstream with the try the span id names; '' when it is not sent. */
  traceparent(spanHi: number, spanLo: number): string {
    return this.#propagate ? formatTraceparent(this.traceId, hexOfWords(spanHi, spanLo), true) : '';
  }

  /** One try: its wait in the provider's queue, then the upstream call with the GenAI attributes. */
  attempt(report: AttemptReport): void {
    const submitted = epochOf(report.submittedAt);
    const settled = epochOf(report.settledAt);
    const times = report.times;
    // Worker times are kept inside the front's own bounds: clocks of two threads may differ by a few microseconds.
    const jobStart = times ? Math.min(Math.max(times[0], submitted), settled) : submitted;
    if (times) {
      const wait = this.#sink.open();
      if (wait) {
        const hi = randomWord();
        wait.openBlock(this, hi, lowWord(hi), this.#serverHi, this.#serverLo, submitted, jobStart, waitBlock(report.provider));
        wait.close();
        this.#sink.closed();
      }
    }
    const span = this.#sink.open();
    if (!span) return;
    const start = times && times[1] > 0 ? Math.min(Math.max(times[1], jobStart), settled) : jobStart;
    span.openBlock(this, report.spanHi, report.spanLo, this.#serverHi, this.#serverLo, start, settled, attemptBlock(report));
    if (!firstTry(report)) attemptCounters(span, report);
    if (report.keyName) span.string(KEY.keyName, report.keyName);
    if (report.responseModel) span.string(KEY.genAiResponseModel, report.responseModel);
    if (report.inputTokens !== null) span.int(KEY.genAiInputTokens, report.inputTokens);
    if (report.outputTokens !== null) span.int(KEY.genAiOutputTokens, report.outputTokens);
    if (report.finishReasons) span.string(KEY.genAiFinishReasons, finishReasonsJson(report.finishReasons));
    if (times && times[3] > 0) span.int(KEY.httpStatus, times[3]);
    if (times && times[2] > 0) span.double(KEY.ttfb, round3(times[2] - times[1]));
    if (report.input !== null) span.string(KEY.genAiInputMessages, clip(report.input));
    if (report.output !== null) span.string(KEY.genAiOutputMessages, clip(report.output));
    if (report.errorCode) span.string(KEY.errorType, report.errorCode);
    if (report.firstToken !== null) {
      const at = Math.min(Math.max(report.firstToken, start), settled);
      span.event('gen_ai.first_token', at, { 'heimdall.ttft_ms': round3(at - epochOf(this.#receivedAt)) });
    }
    if (report.errorCode) span.status(STATUS_ERROR, report.errorMessage ?? report.errorCode);
    span.close();
    this.#sink.closed();
  }

  /** An MCP tool the gateway ran (agent mode): gen_ai's execute_tool span. */
  tool(name: string, callId: string, start: number, end: number, error: string | null): void {
    const span = this.#sink.open();
    if (!span) return;
    const hi = randomWord();
    span.open(this, hi, lowWord(hi), this.#serverHi, this.#serverLo, SPAN_KIND_INTERNAL, epochOf(start), epochOf(end),
      'execute_tool', name);
    span.string(KEY.genAiOperation, 'execute_tool');
    span.string(KEY.genAiToolName, name);
    span.string(KEY.genAiToolCallId, callId);
    if (error) {
      span.string(KEY.errorType, 'tool_error');
      span.status(STATUS_ERROR, error);
    }
    span.close();
    this.#sink.closed();
  }

  /**
   * The response is complete (or the client left) at `endedAt` (performance.now(), the time the server's own
   * latency figure ends at): the server span closes; the trace is done.
   */
  end(status: number, method: string, route: string, errorCode: string | null, endedAt: number): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.#sink.open();
    if (!span) return;
    const pathIsRoute = this.#path === route;
    span.openBlock(this, this.#serverHi, this.#serverLo, this.#parentHi, this.#parentLo, epochOf(this.#receivedAt),
      epochOf(endedAt), serverBlock(method, route, (pathIsRoute ? 1 : 0) | (status === 200 ? 2 : 0)));
    if (status !== 200) span.int(KEY.httpStatus, status);
    if (!pathIsRoute) span.string(KEY.urlPath, this.#path);
    span.string(KEY.requestId, this.#requestId);
    if (this.model) span.string(KEY.genAiRequestModel, this.model);
    const code = errorCode ? codeOf(errorCode) : null;
    if (code) span.string(KEY.errorType, code);
    // HTTP semconv: a server span is an error for 5xx only; a 4xx is the caller's fault, not the server's.
    if (status >= 500) span.status(STATUS_ERROR, code ?? `HTTP ${status}`);
    span.close();
    this.#sink.closed();
  }
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;
