// POST /v1/chat/completions and /v1/embeddings, stage by stage: parse (and take `fallbacks`) → virtual key →
// route → capabilities → pre-hooks → MCP tools (src/mcp/tools.ts, narrowed by the virtual key) → the response cache
// (src/pipeline/cache.ts: a hit answers here, a miss goes on and stores the answer) → dispatch to the provider's pool
// (retries there, and the agent loop of src/mcp/agent.ts when the gateway may run a tool itself) → post-hooks →
// respond (JSON, or SSE chunk by chunk). When the provider fails in a way that may fall back, the next fallback goes
// through route, capabilities, pre-hooks and dispatch again. Reading this file is reading the request's path; each stage is its
// own file.

import type { Logger } from 'pino';
import type { ProviderConfig } from '../config/types.js';
import { NO_MODEL_SLOT } from '../contract/metrics-layout.js';
import type { JobData } from '../contract/messages.js';
import type { ProviderPool } from '../dispatch/pool.js';
import type { ClientWire, Dialect } from '../dialects/dialect.js';
import { GatewayError, statusOf, toErrorData } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest } from '../http/server.js';
import type { PreHookResult } from '../plugins/contract.js';
import { pluginFailure, type PluginRunner, type PreHooksRun } from '../plugins/runner.js';
import type { ErrorData } from '../errors/error-data.js';
import { AgentLoop } from '../mcp/agent.js';
import type { McpCatalog } from '../mcp/catalog.js';
import { addedTools, McpTools, type AddedTools, type ToolSet } from '../mcp/tools.js';
import { PROVIDER_FACTS } from '../contract/providers.js';
import { ContentCapture, logRequestsOf, type RequestLogSettings } from '../observability/request-log.js';
import { checkCapabilities, sendsNative } from './capabilities.js';
import { completionAsChunks } from './completion-chunks.js';
import { RequestContext } from './context.js';
import { logFailure, ProviderCall } from './dispatch.js';
import { RequestRun, takeFallbacks, type PipelineMetrics } from './fallbacks.js';
import type { ParsedRequest } from './parse.js';
import { afterPostHooks, clientClosed, newOutcome, respondError, respondOutcome, writePieces } from './respond.js';
import type { CircuitBreakers } from './breaker.js';
import { mayFallBack } from './retry.js';
import { createModelResolver } from './model-name.js';
import { withExtraFields } from './extra-fields.js';
import { routeModel, type RouteTarget } from './route.js';
import type { CostMeter } from '../pricing/meter.js';
import { admitRequest, type Governed } from './governance.js';
import type { Governance } from '../governance/gate.js';
import { cacheDirectives, type CacheAnswer, type CacheFill, type ResponseCache } from '../cache/index.js';
import { answerFromCache, cacheHeaders } from './cache.js';
import type { Tracer } from '../observability/tracing/tracer.js';

export interface PipelineDeps {
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  readonly modelAliases: Readonly<Record<string, string>>;
  readonly pools: ReadonlyMap<string, ProviderPool>;
  readonly plugins: PluginRunner;
  readonly logger: Logger;
  /** The front thread's metrics shard, for the retry and fallback counters. */
  readonly metrics?: PipelineMetrics;
  /** Key choice skips keys whose breaker is open; absent, no key is ever skipped. */
  readonly breakers?: CircuitBreakers;
  /** `client.extra_fields`: Bifrost's `extra_fields` on the /v1 answers (their dialects declare it); absent: off. */
  readonly extraFields?: boolean;
  /** Configured providers no adapter serves: a request for one is told so, not that it is unknown. */
  readonly unsupportedProviders?: ReadonlySet<string>;
  /** The MCP tools requests are given; absent, the request path does no MCP work at all. */
  readonly mcp?: McpCatalog;
  /** Virtual keys, budgets and rate limits (src/governance); absent, every request is let through. */
  readonly governance?: Governance | null;
  /** The request log, when it is on: each request is marked for it, and its content captured when that is kept. */
  readonly requestLog?: RequestLogSettings | null;
  /** Prices each answer into its access record and the cost metrics; absent, nothing is priced. */
  readonly costs?: CostMeter;
  /** `client.mcp_agent_depth`: the most rounds of tools the agent loop runs for one request (default 10). */
  readonly mcpAgentDepth?: number;
  /** The response cache (`semantic_cache` plugin entry); absent, no request looks at a cache. */
  readonly cache?: ResponseCache | null;
  /** Decides which requests are traced (src/observability/tracing); absent, none is and no stage pays for it. */
  readonly tracer?: Tracer | null;
}

export const DEFAULT_MCP_AGENT_DEPTH = 10;

/** One tool cache per catalog, shared by the routes' handlers. */
const toolCaches = new WeakMap<McpCatalog, McpTools>();

function toolsOf(catalog: McpCatalog): McpTools {
  let tools = toolCaches.get(catalog);
  if (!tools) toolCaches.set(catalog, (tools = new McpTools(catalog)));
  return tools;
}

/**
 * The request's MCP tools for this attempt, in the shape it sends (the chat request, which each provider's adapter
 * translates, or the client's own Responses or Messages request on a native attempt); null when it gets none.
 */
function toolsFor(set: ToolSet, sent: { kind: string; body: Record<string, unknown> }, native: boolean,
  target: RouteTarget): AddedTools | null {
  // Bedrock's InvokeModel bodies declare tools in each family's own shape, which MCP's tools are not written in.
  if (native) return sent.kind === 'invoke' ? null : addedTools(set, sent.kind === 'messages' ? 'messages' : 'responses', sent.body.tools);
  // A provider without tools is not given any: the request still works, without them.
  if (PROVIDER_FACTS[target.provider.adapter]?.capabilities.tools === false) return null;
  return addedTools(set, 'chat', sent.body.tools);
}

export function createInferenceHandler(deps: PipelineDeps, dialect: Dialect) {
  const { plugins } = deps;
  const mcp = deps.mcp ? toolsOf(deps.mcp) : null;
  const agentDepth = deps.mcpAgentDepth ?? DEFAULT_MCP_AGENT_DEPTH;
  const logged = deps.requestLog ? dialect.name : '';
  const logContent = deps.requestLog?.content === true;
  const resolveModel = createModelResolver(deps.providers, deps.modelAliases, dialect.defaultProvider);
  const extraFields = deps.extraFields === true ? dialect.extraFields : undefined;
  const cache = deps.cache ?? null;

  /** A plugin answered instead of the provider, with a response or an error. */
  const shortCircuit = (ctx: RequestContext, sink: ResponseSink, wire: ClientWire, parsed: ParsedRequest, run: RequestRun,
    reached: number, short: Exclude<PreHookResult, void | undefined>, failure: ErrorData | undefined) => {
    const outcome = newOutcome(parsed.stream);
    outcome.shortCircuited = true;
    if ('error' in short) {
      outcome.error = failure ?? pluginFailure(short.error.message, short.error.status ?? 400);
      outcome.status = statusOf(outcome.error);
    } else {
      outcome.status = short.response.status ?? 200;
      outcome.body = JSON.stringify(short.response.body);
    }
    afterPostHooks(plugins, ctx, outcome, reached, () => {
      const chunks = parsed.stream && !outcome.error && outcome.status === 200 ? completionAsChunks(outcome.body) : null;
      const headers = run.headers(!outcome.error, performance.now() - ctx.receivedAt - run.waitedMs - run.backoffMs);
      if (!chunks) {
        respondOutcome(sink, wire, outcome, headers, run.failures);
        return;
      }
      const content = sink.access.content;
      if (content) {
        content.attempt('chat', false);
        for (const chunk of chunks) content.chunk(chunk);
      }
      // A streamed request gets its short-circuit answer as a stream too, as the client's SDK expects.
      sink.startStream(headers, wire.streamContentType);
      writePieces(sink, chunks.map((chunk) => wire.chunk(chunk)));
      sink.end(wire.end());
    });
  };

  const afterPreHooks = (ctx: RequestContext, sink: ResponseSink, wire: ClientWire, parsed: ParsedRequest,
    target: RouteTarget, run: RequestRun, native: boolean, pre: PreHooksRun) => {
    if (sink.aborted) {
      // The client left while an async pre-hook ran: the plugins it reached still get their post-hooks.
      const outcome = newOutcome(parsed.stream);
      clientClosed(outcome, target.provider.name);
      void plugins.runPost(ctx, outcome, pre.reached, ctx.hookTimeoutMs);
      return;
    }
    if (pre.shortCircuit) {
      shortCircuit(ctx, sink, wire, parsed, run, pre.reached, pre.shortCircuit, pre.failure);
      return;
    }
    // A native attempt sends the client's own request, and its answer goes back as the provider wrote it.
    const sent = native && parsed.native ? parsed.native : parsed;
    ctx.droppedByRoute = native ? null : parsed.dropped ?? null;
    const attemptWire = native && dialect.nativeWire ? dialect.nativeWire() : wire;
    const callWire = extraFields ? withExtraFields(attemptWire, { ...extraFields, provider: target.provider.name, model: target.model,
      receivedAt: ctx.receivedAt, fallbackIndex: run.index, chunks: extraFields.chunks && !native }, parsed.stream) : attemptWire;
    sink.access.content?.attempt(sent.kind, attemptWire !== wire);
    const job: JobData = {
      kind: sent.kind,
      requestId: ctx.requestId,
      model: target.model,
      keyIndex: target.keyIndex,
      stream: parsed.stream,
      includeUsage: parsed.includeUsage,
      body: sent.body,
      modelLabel: deps.metrics?.modelIndex(target.model) ?? NO_MODEL_SLOT,
    };
    // After the pre-hooks, so that a tool a plugin added wins over an MCP tool of its name, as the client's do.
    const set = ctx.mcpTools;
    const added = set ? toolsFor(set, sent, native, target) : null;
    let loop: AgentLoop | null = null;
    if (added) {
      job.tools = added.text;
      if (!native && set!.anyAuto) loop = new AgentLoop(deps.mcp!, set!, added.theirs, agentDepth, ctx.requestId, ctx.trace);
    }
    const dispatch = (fill: CacheFill | null) => new ProviderCall(ctx, sink, callWire, plugins, pre.reached, run, loop, deps.costs ?? null,
      fill).start(deps.pools.get(target.provider.name)!, job, target.breaker);
    if (!cache) {
      dispatch(null);
      return;
    }
    // A request given MCP tools is answered with what those tools return now: never from a cache.
    const plan = added ? null : cache.plan({ directives: ctx.cacheDirectives!, dialect: dialect.name, kind: sent.kind, native,
      stream: parsed.stream, provider: target.provider.name, model: target.model, virtualKey: sink.access.virtualKeyId, body: sent.body });
    if (!plan) {
      cache.bypassed();
      sink.access.cache = 'bypass';
      run.cacheHeaders = cacheHeaders(null);
      dispatch(null);
      return;
    }
    const answered = (answer: CacheAnswer) => {
      run.cacheHeaders = cacheHeaders(answer);
      if (answer.result !== 'miss') {
        if (answerFromCache(plugins, ctx, sink, callWire, parsed, run, pre.reached, answer)) return;
        run.cacheHeaders = { 'x-heimdall-cache': 'miss' };
      }
      sink.access.cache = 'miss';
      dispatch(answer.result === 'miss' ? answer.fill : null);
    };
    const answer = cache.lookup(plan, ctx.requestId);
    if (!(answer instanceof Promise)) {
      answered(answer);
      return;
    }
    void answer.then((settled) => {
      if (!sink.aborted) {
        answered(settled);
        return;
      }
      if (settled.result === 'miss') settled.fill?.abandon();
      const outcome = newOutcome(parsed.stream);
      clientClosed(outcome, target.provider.name);
      void plugins.runPost(ctx, outcome, pre.reached, ctx.hookTimeoutMs);
    });
  };

  /** The configured `providers.<name>.fallbacks` of the request's primary provider. */
  const defaultFallbacks = (model: string): readonly string[] => {
    const slash = model.indexOf('/');
    return (slash > 0 && deps.providers.get(model.slice(0, slash))?.fallbacks) || [];
  };

  /** Candidate `index` of the run (0: the primary, then each fallback): route, capabilities, pre-hooks, dispatch. */
  const attempt = (ctx: RequestContext, sink: ResponseSink, wire: ClientWire, run: RequestRun, index: number,
    governed: Governed | null): void => {
    run.index = index;
    if (index > 0 && ctx.logger.isLevelEnabled('info')) {
      ctx.logger.info({ fallbackIndex: index, model: run.candidates[index] }, 'trying the next fallback');
    }
    const parsed = run.requestFor(index);
    let target: RouteTarget;
    let native: boolean;
    try {
      target = routeModel(run.candidates[index], deps.providers, deps.breakers, deps.unsupportedProviders,
        governed?.keyFilter(run.candidates[index]) ?? null);
      native = sendsNative(parsed, target);
      // Agent mode reads the model's answers as chat: a request the chat translation carries goes through it.
      if (native && ctx.mcpTools?.anyAuto && parsed.native!.untranslatable === null) native = false;
      if (!native) checkCapabilities(parsed, target);
    } catch (error) {
      const data = error instanceof GatewayError ? error.data : toErrorData(error);
      logFailure(ctx, data);
      run.fail(data);
      // A fallback that cannot route (unknown provider, no key for the model) is skipped, as Bifrost does.
      if ((index > 0 || mayFallBack(data, false)) && run.fallBack()) return;
      run.logExhausted(ctx.logger);
      respondError(sink, wire, data, run.failures.length > 1 ? run.headers(false, 0) : undefined, run.failures);
      return;
    }
    ctx.provider = target.provider.name;
    ctx.model = target.model;
    const access = sink.access;
    access.provider = target.provider.name;
    access.model = target.model;
    access.keyName = target.keyIndex >= 0 ? target.provider.keys[target.keyIndex]?.name ?? '' : '';
    access.stream = parsed.stream;
    ctx.hookTimeoutMs = target.provider.network.requestTimeoutSeconds * 1000;
    // Each attempt's pre-hooks get the timeout: a fallback's, after a primary that used up its own, are not cut short.
    const pre = plugins.runPre(ctx, parsed.body, performance.now() + ctx.hookTimeoutMs, ctx.hookTimeoutMs);
    if (pre instanceof Promise) void pre.then((settled) => afterPreHooks(ctx, sink, wire, parsed, target, run, native, settled));
    else afterPreHooks(ctx, sink, wire, parsed, target, run, native, pre);
  };

  const start = (ctx: RequestContext, sink: ResponseSink, parsed: ParsedRequest, fallbacks: readonly string[],
    governed: Governed | null) => {
    const access = sink.access;
    const wire = dialect.wire(parsed);
    access.content?.parsed(parsed.kind, wire);
    ctx.kind = parsed.kind;
    ctx.stream = parsed.stream;
    ctx.dialect = dialect.name;
    if (mcp && parsed.kind === 'chat') ctx.mcpTools = mcp.forRequest(ctx.headers, governed?.key ?? null);
    const run = new RequestRun(parsed, fallbacks, deps.metrics, access);
    if (fallbacks.length > 0) run.next = (index) => attempt(ctx, sink, wire, run, index, governed);
    attempt(ctx, sink, wire, run, 0, governed);
  };

  const tracer = deps.tracer ?? null;

  return logRequestsOf(function handleInference(request: IncomingRequest, sink: ResponseSink): void {
    const ctx = new RequestContext(request, deps.logger);
    const access = sink.access;
    if (tracer) access.trace = ctx.trace = tracer.start(request);
    if (logged) {
      access.dialect = logged;
      if (logContent) access.content = new ContentCapture(request.body, request.headers['content-type']);
    }
    let parsed: ParsedRequest;
    let fallbacks: readonly string[];
    const fail = (error: unknown) => {
      const data = error instanceof GatewayError ? error.data : toErrorData(error);
      logFailure(ctx, data);
      respondError(sink, dialect, data);
    };
    const governance = deps.governance;
    let key = null;
    try {
      // Who is asking comes before what is asked: a request without a valid key learns nothing of its body's faults.
      if (governance) key = governance.identify(request.headers);
      parsed = dialect.parse(request);
      if (cache) ctx.cacheDirectives = cacheDirectives(request.headers);
      if (logged) access.modelRequested = parsed.body.model;
      const weighted = key ? governance!.routeBare(key, parsed.body.model, deps.providers, deps.modelAliases) : null;
      parsed.body.model = weighted ? weighted[0] : resolveModel(parsed.body.model);
      if (ctx.trace) ctx.trace.model = parsed.body.model;
      fallbacks = takeFallbacks(parsed.body)?.map(resolveModel) ?? weighted?.slice(1) ?? defaultFallbacks(parsed.body.model);
    } catch (error) {
      fail(error);
      return;
    }
    if (!key) {
      start(ctx, sink, parsed, fallbacks, null);
      return;
    }
    access.virtualKeyId = key.id;
    const admitted = admitRequest(governance!, key, request, parsed, fallbacks, deps.providers, sink, dialect);
    if (admitted instanceof Promise) {
      void admitted.then((governed) => {
        if (governed && !sink.aborted) start(ctx, sink, parsed, fallbacks, governed);
        else if (governed) governed.admission.settle('', '', null, null, false);
      }, fail);
    } else if (admitted) {
      start(ctx, sink, parsed, fallbacks, admitted);
    }
  }, logged);
}
