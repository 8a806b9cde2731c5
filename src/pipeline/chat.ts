// POST /v1/chat/completions and /v1/embeddings, stage by stage: parse → route → capabilities → pre-hooks →
// dispatch to the provider's pool → post-hooks → respond (JSON, or SSE chunk by chunk). Reading this file is
// reading the request's path.

import type { Logger } from 'pino';
import type { ResultMeta, StreamEndMeta } from '../contract/messages.js';
import type { ProviderPool, Ticket } from '../dispatch/pool.js';
import { ERROR_CODES } from '../errors/codes.js';
import type { ErrorData } from '../errors/error-data.js';
import { openAIErrorBody, statusOf, toErrorData, GatewayError } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest } from '../http/server.js';
import type { Outcome } from '../plugins/contract.js';
import { pluginFailure, type PluginRunner } from '../plugins/runner.js';
import type { ProviderConfig } from '../config/types.js';
import { RequestContext } from './context.js';
import { checkCapabilities } from './capabilities.js';
import { parseChatRequest, parseEmbeddingsRequest, type ParsedRequest } from './parse.js';
import { completionAsChunks } from './completion-chunks.js';
import { routeModel, type RouteTarget } from './route.js';

export interface ChatDeps {
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  readonly pools: ReadonlyMap<string, ProviderPool>;
  readonly plugins: PluginRunner;
  readonly logger: Logger;
}

const SSE_DONE = 'data: [DONE]\n\n';

function errorHeaders(error: ErrorData): Record<string, string> | undefined {
  return error.retryAfter !== undefined ? { 'retry-after': String(error.retryAfter) } : undefined;
}

/** Parameters the provider could not take are dropped, never silently: the client is told in this header. */
function droppedHeader(dropped: string[] | null): Record<string, string> | undefined {
  return dropped && dropped.length > 0 ? { 'x-heimdall-dropped-params': dropped.join(',') } : undefined;
}

function newOutcome(stream: boolean): Outcome {
  return { status: 0, body: null, error: null, usage: null, stream, upstreamMs: 0, firstChunkMs: null, shortCircuited: false };
}

const PARSERS = { chat: parseChatRequest, embeddings: parseEmbeddingsRequest } as const;

export function createInferenceHandler(deps: ChatDeps, kind: keyof typeof PARSERS) {
  const parse = PARSERS[kind];
  const { plugins } = deps;

  const logFailure = (ctx: RequestContext, error: ErrorData) => {
    const level = ERROR_CODES[error.code].logLevel;
    if (ctx.logger.isLevelEnabled(level)) ctx.logger[level]({ code: error.code, provider: error.provider }, error.message);
  };

  const respondError = (sink: ResponseSink, error: ErrorData) => {
    sink.json(statusOf(error), openAIErrorBody(error), errorHeaders(error));
  };

  /** Post-hooks, then the final answer from the outcome they may have changed. */
  const finish = (ctx: RequestContext, sink: ResponseSink, outcome: Outcome, reached: number, send: () => void) => {
    const ran = plugins.runPost(ctx, outcome, reached);
    if (ran) void ran.then(send);
    else send();
  };

  const respondOutcome = (sink: ResponseSink, outcome: Outcome) => () => {
    if (outcome.error) respondError(sink, outcome.error);
    else sink.json(outcome.status, outcome.body ?? 'null');
  };

  const dispatch = (ctx: RequestContext, sink: ResponseSink, parsed: ParsedRequest, target: RouteTarget, reached: number) => {
    const pool = deps.pools.get(target.provider.name)!;
    const outcome = newOutcome(parsed.stream);
    let ticket: Ticket | null = null;
    let paused = false;

    const fail = (error: ErrorData) => {
      logFailure(ctx, error);
      outcome.error = error;
      outcome.status = statusOf(error);
      finish(ctx, sink, outcome, reached, () => {
        if (!sink.streaming) {
          respondOutcome(sink, outcome)();
          return;
        }
        // Headers went out already: the error travels as an SSE event, then the stream ends cleanly.
        sink.end(`data: ${openAIErrorBody(outcome.error ?? error)}\n\n`);
      });
    };

    const settleMeta = (meta: ResultMeta) => {
      outcome.upstreamMs = meta.upstreamMs;
      outcome.usage = meta.usage;
    };

    const writeChunks = (chunks: string[], dropped: string[] | null) => {
      if (!sink.streaming) {
        outcome.firstChunkMs = performance.now() - ctx.receivedAt;
        sink.startStream(droppedHeader(dropped));
      }
      let text = '';
      for (const chunk of chunks) {
        const kept = plugins.hasChunkHooks ? plugins.chunk(ctx, chunk) : chunk;
        if (kept !== null) text += `data: ${kept}\n\n`;
      }
      if (text && !sink.write(text) && !paused) {
        // The client reads slower than the provider writes: stop reading upstream until its socket drains.
        paused = true;
        ticket?.pause();
        sink.onWritable(() => {
          paused = false;
          ticket?.resume();
        });
      }
    };

    try {
      ticket = pool.submit({
        kind: parsed.kind,
        requestId: ctx.requestId,
        model: target.model,
        keyIndex: target.keyIndex,
        stream: parsed.stream,
        includeUsage: parsed.includeUsage,
        body: parsed.body,
      }, {
        onResult: (status, body, meta) => {
          settleMeta(meta);
          outcome.status = status;
          outcome.body = body;
          const dropped = meta.droppedParams;
          finish(ctx, sink, outcome, reached, () => {
            if (outcome.error) respondError(sink, outcome.error);
            else sink.json(outcome.status, outcome.body ?? 'null', droppedHeader(dropped));
          });
        },
        onChunks: writeChunks,
        onEnd: (meta: StreamEndMeta) => {
          settleMeta(meta);
          outcome.status = 200;
          if (!sink.streaming) sink.startStream();
          finish(ctx, sink, outcome, reached, () => sink.end(SSE_DONE));
        },
        onError: fail,
      });
    } catch (error) {
      fail(toErrorData(error));
      return;
    }
    sink.onAbort(() => {
      ticket?.cancel();
      // The answer was already settled (post-hooks ran or are running): the abort changes nothing for plugins.
      if (outcome.status !== 0) return;
      outcome.error = { code: 'CLIENT_CLOSED', message: 'the client closed the connection', provider: target.provider.name };
      outcome.status = 499;
      void plugins.runPost(ctx, outcome, reached);
    });
  };

  const afterPreHooks = (ctx: RequestContext, sink: ResponseSink, parsed: ParsedRequest, target: RouteTarget,
    run: { reached: number; shortCircuit: import('../plugins/contract.js').PreHookResult | null }) => {
    if (sink.aborted) {
      // The client left while an async pre-hook ran: the plugins it reached still get their post-hooks.
      const outcome = newOutcome(parsed.stream);
      outcome.error = { code: 'CLIENT_CLOSED', message: 'the client closed the connection', provider: target.provider.name };
      outcome.status = 499;
      void plugins.runPost(ctx, outcome, run.reached);
      return;
    }
    const short = run.shortCircuit;
    if (!short) {
      dispatch(ctx, sink, parsed, target, run.reached);
      return;
    }
    const outcome = newOutcome(parsed.stream);
    outcome.shortCircuited = true;
    if ('error' in short) {
      outcome.error = pluginFailure(short.error.message, short.error.status ?? 400);
      outcome.status = statusOf(outcome.error);
    } else if (short.response) {
      outcome.status = short.response.status ?? 200;
      outcome.body = JSON.stringify(short.response.body);
    }
    finish(ctx, sink, outcome, run.reached, () => {
      const chunks = parsed.stream && !outcome.error && outcome.status === 200 ? completionAsChunks(outcome.body) : null;
      if (!chunks) {
        respondOutcome(sink, outcome)();
        return;
      }
      // A streamed request gets its short-circuit answer as a stream too, as the client's SDK expects.
      sink.startStream();
      sink.end(`${chunks.map((chunk) => `data: ${chunk}\n\n`).join('')}${SSE_DONE}`);
    });
  };

  return function handleInference(request: IncomingRequest, sink: ResponseSink): void {
    const ctx = new RequestContext(request, deps.logger);
    let parsed: ParsedRequest;
    let target: RouteTarget;
    try {
      parsed = parse(request.body);
      target = routeModel(parsed.body.model, deps.providers);
      checkCapabilities(parsed, target);
    } catch (error) {
      const data = error instanceof GatewayError ? error.data : toErrorData(error);
      logFailure(ctx, data);
      respondError(sink, data);
      return;
    }
    ctx.kind = parsed.kind;
    ctx.provider = target.provider.name;
    ctx.model = target.model;
    ctx.stream = parsed.stream;
    const run = plugins.runPre(ctx, parsed.body);
    if (run instanceof Promise) void run.then((settled) => afterPreHooks(ctx, sink, parsed, target, settled));
    else afterPreHooks(ctx, sink, parsed, target, run);
  };
}
