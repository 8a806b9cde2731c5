// Stage 5: the provider's pool runs the job; this object receives what comes back (a result, stream chunks, an
// end or an error), runs the post-hooks and answers. One instance per provider tried, which is also the job's
// handler: no closure per callback. A retryable failure before any byte reached the client is retried here, on the
// front thread, by submitting the same job (same key) to the pool again after a backoff; a failure that may fall
// back hands over to the request's next fallback once this attempt's post-hooks ran. Each try's verdict on the key
// goes to the key's circuit breaker. In agent mode (src/mcp/agent.ts) an answer that calls tools the gateway may
// run is not answered: the tools run, and the same job, its conversation grown by the turn, is submitted again.

import type { AttemptTimes, JobData, ResultMeta, StreamEndMeta, UsageData } from '../contract/messages.js';
import { AttemptTracer } from '../observability/tracing/attempts.js';
import type { JobHandlers } from '../dispatch/channel.js';
import type { ProviderPool, Ticket } from '../dispatch/pool.js';
import { ERROR_CODES } from '../errors/codes.js';
import type { ErrorData } from '../errors/error-data.js';
import type { ClientWire } from '../dialects/dialect.js';
import { errorData, statusOf, toErrorData } from '../errors/gateway-error.js';
import type { AbortListener, ResponseSink } from '../http/response.js';
import type { AgentLoop, ToolCall } from '../mcp/agent.js';
import type { Outcome } from '../plugins/contract.js';
import type { PluginRunner } from '../plugins/runner.js';
import { CircuitPass, verdictOf, type KeyCircuit, type Verdict } from './breaker.js';
import type { RequestContext } from './context.js';
import type { RequestRun } from './fallbacks.js';
import { afterPostHooks, clientClosed, droppedHeader, newOutcome, respondOutcome, writePieces } from './respond.js';
import { isRetryable, mayFallBack, retryDelayMs } from './retry.js';
import { circuitOpen } from './route.js';
import type { CostMeter } from '../pricing/meter.js';
import type { CacheFill } from '../cache/index.js';

export function logFailure(ctx: RequestContext, error: ErrorData): void {
  const level = ERROR_CODES[error.code].logLevel;
  if (ctx.logger.isLevelEnabled(level)) {
    ctx.logger[level]({ code: error.code, provider: error.provider, upstreamStatus: error.upstreamStatus }, error.message);
  }
}

/**
 * While its provider works, a call is the state a request holds on the front thread, for as long as the provider
 * takes (seconds, for a slow one, with thousands waiting): so it makes nothing it may not need. The outcome is made
 * when the answer comes, and the callbacks for a backoff or a stalled client when those happen. Nor does it keep the
 * outcome once made: by then a slow provider's call has been promoted to the old generation, and anything new it
 * pointed to would survive scavenges through it until the next full collection.
 */
export class ProviderCall implements JobHandlers, AbortListener {
  readonly #ctx: RequestContext;
  readonly #sink: ResponseSink;
  readonly #wire: ClientWire;
  readonly #plugins: PluginRunner;
  /** Plugins whose pre-hook ran: their post-hooks run. */
  readonly #reached: number;
  /** A stream's outcome from its first chunk (for the time to it) until the end; else made at the end, not kept. */
  #outcome: Outcome | null = null;
  /** The provider answered or failed for good, or the client left: post-hooks ran or are running. */
  #settled = false;
  readonly #run: RequestRun;
  #pool: ProviderPool | null = null;
  #job: JobData | null = null;
  #ticket: Ticket | null = null;
  #paused = false;
  #retries = 0;
  /** performance.now() of the current submission, and the end of this provider's time budget. */
  #submittedAt = 0;
  #deadline = 0;
  #backoff: NodeJS.Timeout | null = null;
  #backoffFrom = 0;
  /** This call's permits from the key's breakers, held across retries; null when it has none (breakers off). */
  #pass: CircuitPass | null = null;
  readonly #costs: CostMeter | null;
  /** Agent mode's loop; null for every other request. */
  readonly #agent: AgentLoop | null;
  /** Agent mode: parameters the adapter dropped, reported with the first chunk the client gets. */
  #droppedHeld: string[] | null = null;
  /** A cache miss: stores the answer once it completed successfully (src/cache); null when nothing is cached. */
  #fill: CacheFill | null;
  /** While a ring message's chunks are written: the ones the request log takes after the write. */
  #writtenForLog: string[] | null = null;
  /** A sampled request's tries as spans; null for every other request. */
  #tracer: AttemptTracer | null = null;

  constructor(ctx: RequestContext, sink: ResponseSink, wire: ClientWire, plugins: PluginRunner, reached: number,
    run: RequestRun, agent: AgentLoop | null = null, costs: CostMeter | null = null, fill: CacheFill | null = null) {
    this.#costs = costs;
    this.#fill = fill;
    this.#ctx = ctx;
    this.#sink = sink;
    this.#wire = wire;
    this.#plugins = plugins;
    this.#reached = reached;
    this.#run = run;
    this.#agent = agent;
  }

  /** The outcome plugins see, handed over (not kept) once the provider has answered or failed for good. */
  #settledOutcome(): Outcome {
    const outcome = this.#outcome ?? newOutcome(this.#ctx.stream);
    this.#outcome = null;
    this.#settled = true;
    return outcome;
  }

  start(pool: ProviderPool, job: JobData, breaker: KeyCircuit | null): void {
    this.#pool = pool;
    this.#job = job;
    this.#deadline = performance.now() + pool.provider.network.requestTimeoutSeconds * 1000;
    this.#sink.onAbort(this);
    const trace = this.#ctx.trace;
    if (trace) this.#tracer = new AttemptTracer(trace, pool.provider, job.kind, this.#ctx.dialect, this.#run.index);
    this.#pass = breaker ? CircuitPass.acquire(breaker, job.model) : null;
    if (breaker && this.#pass === null) {
      // The key's last probe slot went to another request while this one's pre-hooks ran.
      this.#submittedAt = performance.now();
      this.onError(circuitOpen(pool.provider.name, job.model, [breaker]).data);
      return;
    }
    this.#submit();
  }

  #submit(): void {
    if (this.#backoff) {
      this.#backoff = null;
      this.#run.backoffMs += performance.now() - this.#backoffFrom;
    }
    this.#submittedAt = performance.now();
    this.#tracer?.submitted(this.#job!, this.#submittedAt);
    try {
      this.#ticket = this.#pool!.submit(this.#job!, this);
    } catch (error) {
      this.onError(toErrorData(error));
    }
  }

  /** The gateway's own time so far: total minus time in provider pools (this call's included) and in backoff. */
  #overheadMs(now: number, waitingNow: number): number {
    return now - this.#ctx.receivedAt - this.#run.waitedMs - this.#run.backoffMs - this.#run.toolMs - waitingNow;
  }

  /** Agent mode: runs a turn's tool calls, then asks the model again with their results. */
  #runTools(agent: AgentLoop, calls: readonly ToolCall[]): void {
    const started = performance.now();
    agent.runTools(calls, this.#job!.body).then((goOn) => {
      this.#run.toolMs += performance.now() - started;
      if (!goOn || this.#sink.aborted) return;
      // Each turn is a call of its own: its own retries, its own time budget.
      this.#retries = 0;
      this.#deadline = performance.now() + this.#pool!.provider.network.requestTimeoutSeconds * 1000;
      this.#submit();
    }, (error: unknown) => {
      this.#ctx.logger.error({ err: error }, 'the agent loop failed');
      this.onError(errorData('INTERNAL', 'the agent loop failed'));
    });
  }

  onResult(status: number, body: string | Uint8Array, meta: ResultMeta): void {
    this.#ticket = null;
    this.#tracer?.result(this.#job!, this.#retries, body, meta);
    this.#judgeKey('success');
    this.#run.waitedMs += meta.upstreamMs;
    const agent = this.#agent;
    if (agent && status === 200 && typeof body === 'string') {
      const calls = agent.answered(body, meta.usage);
      if (calls) {
        this.#runTools(agent, calls);
        return;
      }
      body = agent.finalAnswer(body);
      meta = { ...meta, usage: agent.usage };
    }
    const outcome = this.#settle(meta);
    outcome.status = status;
    // Plugins see text answers; a binary one (audio) is not theirs to read or change.
    outcome.body = typeof body === 'string' ? body : null;
    afterPostHooks(this.#plugins, this.#ctx, outcome, this.#reached, () => {
      const headers = { ...droppedHeader(this.#dropped(meta.droppedParams)), ...this.#run.headers(true, this.#overheadMs(performance.now(), 0)),
        ...agent?.headers() };
      this.#fillAnswer(outcome, meta);
      if (meta.contentType !== undefined && !outcome.error) {
        // A media answer goes out as the provider sent it, with its content type, unless the route's API says otherwise.
        const sent = typeof body === 'string' ? outcome.body ?? '' : body;
        const media = this.#wire.media?.(sent, meta.contentType) ?? { contentType: meta.contentType, body: sent };
        this.#sink.text(outcome.status, media.contentType, media.body, headers);
        return;
      }
      respondOutcome(this.#sink, this.#wire, outcome, headers, this.#run.failures);
    });
  }

  /** Stores a successful answer as the post-hooks left it, which is what the client gets. */
  #fillAnswer(outcome: Outcome, meta: ResultMeta): void {
    const fill = this.#fill;
    if (!fill) return;
    this.#fill = null;
    if (!outcome.error && outcome.status === 200 && meta.contentType === undefined && typeof outcome.body === 'string') {
      fill.answer(outcome.body, meta.usage);
    } else {
      fill.abandon();
    }
  }

  /** Nothing of this call will be stored: whoever waits for its answer goes upstream. */
  #abandonFill(): void {
    this.#fill?.abandon();
    this.#fill = null;
  }

  /** What the route's translation left out, then what the adapter dropped. */
  #dropped(byAdapter: string[] | null): string[] | null {
    const byRoute = this.#ctx.droppedByRoute;
    return byRoute ? [...byRoute, ...(byAdapter ?? [])] : byAdapter;
  }

  onChunks(chunks: string[], dropped: string[] | null): void {
    // The request log takes the chunks once they are written: its parse of them is not on the client's path.
    const content = this.#sink.access.content;
    const written = content ? (this.#writtenForLog = []) : null;
    this.#sink.batch(() => this.#chunks(chunks, dropped));
    if (!written) return;
    this.#writtenForLog = null;
    for (const chunk of written) content!.chunk(chunk);
  }

  #chunks(chunks: string[], dropped: string[] | null): void {
    this.#tracer?.chunks(chunks);
    if (this.#agent) {
      this.#droppedHeld ??= dropped;
      this.#forward(this.#agent.streamChunks(chunks), this.#droppedHeld);
      return;
    }
    this.#forward(chunks, dropped);
  }

  #forward(chunks: string[], dropped: string[] | null): void {
    const sink = this.#sink;
    if (chunks.length === 0) return;
    if (!sink.streaming) {
      const now = performance.now();
      (this.#outcome ??= newOutcome(this.#ctx.stream)).firstChunkMs = now - this.#ctx.receivedAt;
      sink.access.firstTokenMs = now - this.#ctx.receivedAt;
      sink.startStream({ ...droppedHeader(this.#dropped(dropped)), ...this.#run.headers(true, this.#overheadMs(now, now - this.#submittedAt)),
        ...this.#agent?.headers() }, this.#wire.streamContentType);
    }
    const plugins = this.#plugins;
    const wire = this.#wire;
    const pieces: (string | Uint8Array)[] = [];
    const content = sink.access.content;
    const fill = this.#fill;
    const filled: string[] | null = fill ? [] : null;
    for (const chunk of chunks) {
      const kept = plugins.hasChunkHooks ? plugins.chunk(this.#ctx, chunk) : chunk;
      if (kept === null) continue;
      if (content) {
        if (this.#writtenForLog) this.#writtenForLog.push(kept);
        else content.chunk(kept);
      }
      filled?.push(kept);
      pieces.push(wire.chunk(kept));
    }
    if (filled) fill!.chunks(filled);
    if (!writePieces(sink, pieces) && !this.#paused) {
      // The client reads slower than the provider writes: stop reading upstream until its socket drains.
      this.#paused = true;
      this.#ticket?.pause();
      sink.onWritable(() => this.#upstreamMayResume());
    }
  }

  onEnd(meta: StreamEndMeta): void {
    // The last chunks, the headers when they are the first, and the end go out in one write when no post-hook waits.
    this.#sink.batch(() => this.#end(meta));
  }

  #end(meta: StreamEndMeta): void {
    this.#ticket = null;
    if (meta.chunks) this.#chunks(meta.chunks, meta.droppedParams);
    this.#tracer?.end(this.#job!, this.#retries, meta);
    this.#judgeKey('success');
    this.#run.waitedMs += meta.upstreamMs;
    const agent = this.#agent;
    if (agent) {
      const calls = agent.streamEnded(meta.usage);
      if (calls) {
        this.#runTools(agent, calls);
        return;
      }
      this.#forward(agent.finalChunks(), this.#droppedHeld);
      meta = { ...meta, usage: agent.usage };
    }
    const outcome = this.#settle(meta);
    outcome.status = 200;
    if (!this.#sink.streaming) {
      this.#sink.startStream({ ...this.#run.headers(true, this.#overheadMs(performance.now(), 0)), ...agent?.headers() },
        this.#wire.streamContentType);
    }
    // A post-hook may have failed the request (PLUGIN_TIMEOUT): the headers went out, so it ends as a stream error.
    afterPostHooks(this.#plugins, this.#ctx, outcome, this.#reached, () => {
      if (outcome.error) this.#abandonFill();
      else this.#fill?.end(meta.usage);
      this.#fill = null;
      this.#sink.end(outcome.error ? this.#wire.streamError(outcome.error) : this.#wire.end());
    });
  }

  onError(error: ErrorData, times?: AttemptTimes, usage?: UsageData): void {
    this.#ticket = null;
    this.#tracer?.error(this.#job, this.#retries, error, times);
    const now = performance.now();
    this.#run.waitedMs += now - this.#submittedAt;
    logFailure(this.#ctx, error);
    // A stream that broke after the provider reported usage was billed for it, whatever comes next (a retry, a
    // fallback, the error to the client): the record, the cost metrics and budgets count it.
    if (usage) this.#account(usage);
    this.#run.fail(error);
    this.#judgeKey(verdictOf(error.code));
    const sink = this.#sink;
    if (!sink.aborted && this.#retryLater(error, now)) return;
    this.#abandonFill();
    this.#releasePermit();
    // The turns of an agent loop the model answered before this failure were billed: the record says what they cost.
    const spent = this.#agent?.usage ?? null;
    if (spent) this.#account(spent);
    const outcome = this.#settledOutcome();
    outcome.error = error;
    outcome.status = statusOf(error);
    outcome.upstreamMs = this.#run.waitedMs + this.#run.backoffMs + this.#run.toolMs;
    sink.access.upstreamMs = this.#run.waitedMs;
    afterPostHooks(this.#plugins, this.#ctx, outcome, this.#reached, () => {
      const final = outcome.error;
      // The post-hooks ran for this attempt; a plugin may have turned the error into an answer.
      if (final && !sink.aborted && mayFallBack(final, sink.streaming) && this.#run.fallBack()) return;
      if (!sink.streaming) {
        if (final) this.#run.logExhausted(this.#ctx.logger);
        respondOutcome(sink, this.#wire, outcome, this.#run.headers(!final, this.#overheadMs(performance.now(), 0)), this.#run.failures);
        return;
      }
      // Headers went out already: the error travels as a stream event, then the stream ends cleanly.
      if (final) sink.access.errorCode = final.code.toLowerCase();
      sink.end(this.#wire.streamError(final ?? error));
    });
  }

  /** Schedules a retry of the same job when the failure allows one; false when it does not. */
  #retryLater(error: ErrorData, now: number): boolean {
    const network = this.#pool?.provider.network;
    if (!network || this.#retries >= network.maxRetries || !isRetryable(error, this.#sink.streaming)) return false;
    const delay = retryDelayMs(this.#retries + 1, network.retryBackoffInitialMs, network.retryBackoffMaxMs,
      error.retryAfter, this.#deadline - now);
    if (delay === null) return false;
    this.#retries++;
    this.#run.countRetry();
    if (this.#ctx.logger.isLevelEnabled('info')) {
      this.#ctx.logger.info({ provider: this.#pool!.provider.name, retry: this.#retries, delayMs: delay, code: error.code },
        'retrying after a retryable failure');
    }
    this.#backoffFrom = now;
    this.#backoff = setTimeout(() => this.#submit(), delay);
    return true;
  }

  /** Tells the key's breakers what this try said about the key or the model on it. */
  #judgeKey(verdict: Verdict): void {
    this.#pass?.judge(verdict);
  }

  /** The call is over without (another) verdict: a probe it held is free for the next request. */
  #releasePermit(): void {
    this.#pass?.release();
    this.#pass = null;
  }

  /** `meta.upstreamMs` must be in `run.waitedMs` already. */
  #settle(meta: ResultMeta): Outcome {
    const outcome = this.#settledOutcome();
    // Plugins (the metrics plugin's overhead) see every wait of the request: failed tries, backoffs, this answer, and
    // the MCP tools an agent loop ran.
    outcome.upstreamMs = this.#run.waitedMs + this.#run.backoffMs + this.#run.toolMs;
    outcome.usage = meta.usage;
    this.#sink.access.upstreamMs = this.#run.waitedMs;
    // Priced where the answer settles: the provider answered, so what it reported is what it billed.
    this.#account(meta.usage);
    return outcome;
  }

  /**
   * The tokens the provider reported, and their price, onto the request's record: added to what an attempt before
   * this one (a fallback's primary) already spent, so the record, the cost metrics and budgets see every one.
   */
  #account(usage: UsageData | null): void {
    const access = this.#sink.access;
    if (usage) {
      access.tokensIn = (access.tokensIn ?? 0) + usage.promptTokens;
      access.tokensOut = (access.tokensOut ?? 0) + usage.completionTokens;
    }
    this.#costs?.record(access, this.#pool!.provider.name, this.#job!, usage, this.#ctx.dialect === 'completions');
  }

  #upstreamMayResume(): void {
    this.#paused = false;
    this.#ticket?.resume();
  }

  clientAborted(): void {
    if (this.#backoff) {
      // The client left while we waited to retry: nothing is in the pool, so nothing else needs cancelling.
      clearTimeout(this.#backoff);
      this.#backoff = null;
    }
    this.#ticket?.cancel();
    this.#ticket = null;
    this.#agent?.abort();
    this.#abandonFill();
    // A client leaving says nothing about the key.
    this.#releasePermit();
    // The answer was already settled (post-hooks ran or are running): the abort changes nothing for plugins.
    if (this.#settled) return;
    const outcome = this.#settledOutcome();
    clientClosed(outcome, this.#ctx.provider);
    void this.#plugins.runPost(this.#ctx, outcome, this.#reached, this.#ctx.hookTimeoutMs);
  }
}
