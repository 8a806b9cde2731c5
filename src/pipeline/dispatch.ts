// Stage 5: the provider's pool runs the job; this object receives what comes back (a result, stream chunks, an
// end or an error), runs the post-hooks and answers. One instance per request, which is also the job's handler:
// no closure per callback.

import type { JobData, ResultMeta, StreamEndMeta } from '../contract/messages.js';
import type { JobHandlers } from '../dispatch/channel.js';
import type { ProviderPool, Ticket } from '../dispatch/pool.js';
import { ERROR_CODES } from '../errors/codes.js';
import type { ErrorData } from '../errors/error-data.js';
import { openAIErrorBody, statusOf, toErrorData } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { Outcome } from '../plugins/contract.js';
import type { PluginRunner } from '../plugins/runner.js';
import type { RequestContext } from './context.js';
import { afterPostHooks, clientClosed, droppedHeader, newOutcome, respondOutcome, SSE_DONE, sseEvent } from './respond.js';

export function logFailure(ctx: RequestContext, error: ErrorData): void {
  const level = ERROR_CODES[error.code].logLevel;
  if (ctx.logger.isLevelEnabled(level)) ctx.logger[level]({ code: error.code, provider: error.provider }, error.message);
}

export class ProviderCall implements JobHandlers {
  readonly #ctx: RequestContext;
  readonly #sink: ResponseSink;
  readonly #plugins: PluginRunner;
  /** Plugins whose pre-hook ran: their post-hooks run. */
  readonly #reached: number;
  readonly #outcome: Outcome;
  #ticket: Ticket | null = null;
  #paused = false;

  constructor(ctx: RequestContext, sink: ResponseSink, plugins: PluginRunner, reached: number) {
    this.#ctx = ctx;
    this.#sink = sink;
    this.#plugins = plugins;
    this.#reached = reached;
    this.#outcome = newOutcome(ctx.stream);
  }

  start(pool: ProviderPool, job: JobData): void {
    try {
      this.#ticket = pool.submit(job, this);
    } catch (error) {
      this.onError(toErrorData(error));
      return;
    }
    this.#sink.onAbort(this.#onAbort);
  }

  onResult(status: number, body: string, meta: ResultMeta): void {
    this.#settle(meta);
    this.#outcome.status = status;
    this.#outcome.body = body;
    afterPostHooks(this.#plugins, this.#ctx, this.#outcome, this.#reached,
      () => respondOutcome(this.#sink, this.#outcome, droppedHeader(meta.droppedParams)));
  }

  onChunks(chunks: string[], dropped: string[] | null): void {
    const sink = this.#sink;
    if (!sink.streaming) {
      this.#outcome.firstChunkMs = performance.now() - this.#ctx.receivedAt;
      sink.startStream(droppedHeader(dropped));
    }
    const plugins = this.#plugins;
    let text = '';
    for (const chunk of chunks) {
      const kept = plugins.hasChunkHooks ? plugins.chunk(this.#ctx, chunk) : chunk;
      if (kept !== null) text += sseEvent(kept);
    }
    if (text && !sink.write(text) && !this.#paused) {
      // The client reads slower than the provider writes: stop reading upstream until its socket drains.
      this.#paused = true;
      this.#ticket?.pause();
      sink.onWritable(this.#onWritable);
    }
  }

  onEnd(meta: StreamEndMeta): void {
    this.#settle(meta);
    this.#outcome.status = 200;
    if (!this.#sink.streaming) this.#sink.startStream();
    afterPostHooks(this.#plugins, this.#ctx, this.#outcome, this.#reached, () => this.#sink.end(SSE_DONE));
  }

  onError(error: ErrorData): void {
    logFailure(this.#ctx, error);
    const outcome = this.#outcome;
    outcome.error = error;
    outcome.status = statusOf(error);
    afterPostHooks(this.#plugins, this.#ctx, outcome, this.#reached, () => {
      if (!this.#sink.streaming) {
        respondOutcome(this.#sink, outcome);
        return;
      }
      // Headers went out already: the error travels as an SSE event, then the stream ends cleanly.
      this.#sink.end(sseEvent(openAIErrorBody(outcome.error ?? error)));
    });
  }

  #settle(meta: ResultMeta): void {
    this.#outcome.upstreamMs = meta.upstreamMs;
    this.#outcome.usage = meta.usage;
  }

  #onWritable = (): void => {
    this.#paused = false;
    this.#ticket?.resume();
  };

  #onAbort = (): void => {
    this.#ticket?.cancel();
    // The answer was already settled (post-hooks ran or are running): the abort changes nothing for plugins.
    if (this.#outcome.status !== 0) return;
    clientClosed(this.#outcome, this.#ctx.provider);
    void this.#plugins.runPost(this.#ctx, this.#outcome, this.#reached);
  };
}
