// The sampling decision, once per request on an inference route: a caller's `traceparent` decides (its sampled flag
// is followed, as OpenTelemetry's default ParentBased sampler does), else `sample_rate`. A request not sampled gets
// no RequestTrace, and every stage after this one only tests for null.

import type { IncomingRequest } from '../../http/server.js';
import type { TracingConfig } from '../../config/types.js';
import { RequestTrace, type SpanSink } from './spans.js';
import { parseTraceparent } from './trace-context.js';

export class Tracer {
  readonly #sink: SpanSink;
  readonly #rate: number;
  readonly #propagate: boolean;
  readonly #capture: boolean;

  constructor(settings: Pick<TracingConfig, 'sampleRate' | 'propagateTraceparent' | 'captureContent'>, sink: SpanSink) {
    this.#sink = sink;
    this.#rate = settings.sampleRate;
    this.#propagate = settings.propagateTraceparent;
    this.#capture = settings.captureContent;
  }

  /** A trace for the request, or null when it is not sampled. */
  start(request: Pick<IncomingRequest, 'headers' | 'receivedAt' | 'path' | 'requestId'>): RequestTrace | null {
    const parent = parseTraceparent(request.headers.traceparent, request.headers.tracestate);
    const sampled = parent ? parent.sampled : this.#rate >= 1 || (this.#rate > 0 && Math.random() < this.#rate);
    return sampled ? new RequestTrace(parent, request.receivedAt, request, this.#sink, this.#propagate, this.#capture) : null;
  }
}
