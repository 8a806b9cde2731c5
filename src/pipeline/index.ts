// POST /v1/chat/completions and /v1/embeddings, stage by stage: parse → route → capabilities → pre-hooks →
// dispatch to the provider's pool → post-hooks → respond (JSON, or SSE chunk by chunk). Reading this file is
// reading the request's path; each stage is its own file.

import type { Logger } from 'pino';
import type { ProviderConfig } from '../config/types.js';
import type { ProviderPool } from '../dispatch/pool.js';
import { GatewayError, statusOf, toErrorData } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest } from '../http/server.js';
import type { PreHookResult } from '../plugins/contract.js';
import { pluginFailure, type PluginRunner } from '../plugins/runner.js';
import { checkCapabilities } from './capabilities.js';
import { completionAsChunks } from './completion-chunks.js';
import { RequestContext } from './context.js';
import { logFailure, ProviderCall } from './dispatch.js';
import { parseChatRequest, parseEmbeddingsRequest, type ParsedRequest } from './parse.js';
import { afterPostHooks, clientClosed, newOutcome, respondError, respondOutcome, SSE_DONE, sseEvent } from './respond.js';
import { routeModel, type RouteTarget } from './route.js';

export interface PipelineDeps {
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  readonly pools: ReadonlyMap<string, ProviderPool>;
  readonly plugins: PluginRunner;
  readonly logger: Logger;
}

const PARSERS = { chat: parseChatRequest, embeddings: parseEmbeddingsRequest } as const;

export function createInferenceHandler(deps: PipelineDeps, kind: keyof typeof PARSERS) {
  const parse = PARSERS[kind];
  const { plugins } = deps;

  /** A plugin answered instead of the provider, with a response or an error. */
  const shortCircuit = (ctx: RequestContext, sink: ResponseSink, parsed: ParsedRequest, reached: number,
    short: Exclude<PreHookResult, void | undefined>) => {
    const outcome = newOutcome(parsed.stream);
    outcome.shortCircuited = true;
    if ('error' in short) {
      outcome.error = pluginFailure(short.error.message, short.error.status ?? 400);
      outcome.status = statusOf(outcome.error);
    } else {
      outcome.status = short.response.status ?? 200;
      outcome.body = JSON.stringify(short.response.body);
    }
    afterPostHooks(plugins, ctx, outcome, reached, () => {
      const chunks = parsed.stream && !outcome.error && outcome.status === 200 ? completionAsChunks(outcome.body) : null;
      if (!chunks) {
        respondOutcome(sink, outcome);
        return;
      }
      // A streamed request gets its short-circuit answer as a stream too, as the client's SDK expects.
      sink.startStream();
      sink.end(`${chunks.map(sseEvent).join('')}${SSE_DONE}`);
    });
  };

  const afterPreHooks = (ctx: RequestContext, sink: ResponseSink, parsed: ParsedRequest, target: RouteTarget,
    run: { reached: number; shortCircuit: PreHookResult | null }) => {
    if (sink.aborted) {
      // The client left while an async pre-hook ran: the plugins it reached still get their post-hooks.
      const outcome = newOutcome(parsed.stream);
      clientClosed(outcome, target.provider.name);
      void plugins.runPost(ctx, outcome, run.reached);
      return;
    }
    if (run.shortCircuit) {
      shortCircuit(ctx, sink, parsed, run.reached, run.shortCircuit);
      return;
    }
    new ProviderCall(ctx, sink, plugins, run.reached).start(deps.pools.get(target.provider.name)!, {
      kind: parsed.kind,
      requestId: ctx.requestId,
      model: target.model,
      keyIndex: target.keyIndex,
      stream: parsed.stream,
      includeUsage: parsed.includeUsage,
      body: parsed.body,
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
