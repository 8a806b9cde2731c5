// Assembles a running gateway from a validated config: metrics memory → pools → plugins → HTTP. `main.ts` is
// the command line around it; tests start it in-process on port 0.

import type { Logger } from 'pino';
import type { GatewayConfig, ProviderConfig } from './config/types.js';
import { BREAKER_STATES, createMetricsBuffer, createMetricsLayout, MetricsShard } from './contract/metrics-layout.js';
import { DEFAULT_RING_SHAPE, type RingShape } from './contract/ring-layout.js';
import { ProviderPool } from './dispatch/pool.js';
import { LeaseClient, type LeaseTransport } from './dispatch/leases.js';
import { startHttpServer, type HttpServer, type Route } from './http/server.js';
import { logsRoutes } from './http/logs-api.js';
import { governanceRoutes } from './http/governance-api.js';
import { HttpMetrics } from './observability/http-metrics.js';
import { renderProcessMetrics, type MetricsSnapshot } from './observability/cluster-metrics.js';
import { createMetricsRegistry, createMetricsSnapshotter } from './observability/metrics.js';
import { modelLabelTable } from './observability/model-labels.js';
import { memoryGauges } from './observability/memory-metrics.js';
import { loadPlugins } from './plugins/load.js';
import { PluginRunner } from './plugins/runner.js';
import { bedrockConverse, bedrockPrefix, bedrockRoutes } from './dialects/bedrock.js';
import { anthropicPrefix, anthropicRoutes } from './dialects/anthropic-routes.js';
import { openAIMoreRoutes } from './dialects/openai-more-routes.js';
import { azureRoutes } from './dialects/azure.js';
import { rerankRoutes } from './dialects/rerank.js';
import { coherePrefix, cohereRoutes } from './dialects/cohere.js';
import { bundleRoutes } from './dialects/bundles.js';
import { anthropicComplete } from './dialects/anthropic-complete.js';
import { responsesInputTokensRoutes } from './dialects/responses-input-tokens.js';
import { bedrockInvoke, bedrockInvokeRoutes } from './dialects/bedrock-invoke.js';
import { passthroughRoutes } from './dialects/passthrough.js';
import { asyncJobRoutes } from './http/async-jobs.js';
import { openAIChat, openAIDropInChat, openAIDropInEmbeddings, openAIEmbeddings } from './dialects/openai.js';
import { CircuitBreakers, OPEN } from './pipeline/breaker.js';
import { genaiPrefix, genaiRoutes } from './dialects/genai.js';
import { genaiModelRoutes } from './dialects/genai-models.js';
import { filesRoutes, genaiBatchCreateHandler } from './dialects/files-routes.js';
import { MemoryResourceOwners, StoredResourceOwners, type ResourceOwners } from './pipeline/resource-owners.js';
import { createInferenceHandler } from './pipeline/index.js';
import type { McpCatalog } from './mcp/catalog.js';
import { createModelCatalog, createModelHandler, createModelsHandler } from './pipeline/models.js';
import { VERSION } from './version.js';
import { mcpNotConfiguredRoutes } from './mcp/entry.js';
import type { StartedMcp } from './mcp/index.js';
import type { McpTransport } from './mcp/remote.js';
import { createPricing } from './pricing/index.js';
import { CostMeter } from './pricing/meter.js';
import { createGovernance } from './governance/create.js';
import { GovernanceMetrics } from './governance/metrics.js';
import type { Pricing } from './governance/gate.js';
import type { CounterStore } from './governance/counters.js';
import type { ErrorData } from './errors/error-data.js';
import { METRIC_DROPPED, METRIC_WRITTEN, type RequestLog } from './stores/request-log.js';
import { errorData, openAIErrorBody, statusOf } from './errors/gateway-error.js';
import { ResponseCache } from './cache/index.js';
import { createEmbedder } from './pipeline/cache.js';
import { METRIC_SPANS_DROPPED, METRIC_SPANS_EXPORTED, TraceExporter } from './observability/tracing/exporter.js';
import { Tracer } from './observability/tracing/tracer.js';

const WORKER_FILE = new URL('../workers/provider-worker.js', import.meta.url).href;

export interface GatewayOptions {
  logger: Logger;
  ringShape?: RingShape;
  /** Listen with SO_REUSEPORT beside the other processes of a cluster (see `startHttpServer`). */
  sharePort?: boolean;
  /** In a cluster: how many gateway processes are up, which `/health` reports. */
  processes?: () => { up: number; configured: number };
  /** In a cluster: asks the supervisor to reload the config (`POST /api/reload`); absent, reload is refused. */
  reload?: () => Promise<ReloadOutcome>;
  /** In a cluster: the whole cluster's `/metrics` text, which `/metrics` answers with instead of this process's. */
  clusterMetrics?: () => Promise<string>;
  /** Cluster mode: the channel to the primary's ledger, so that provider limits hold gateway-wide (docs/limits.md). */
  leases?: LeaseTransport;
  /** Cluster mode: the channel to the supervisor's MCP connections, which this process uses instead of its own. */
  mcp?: McpTransport;
  /** An MCP catalog to use instead of the config's `mcp` block's connections (embedding, tests). */
  mcpCatalog?: McpCatalog;
  /** The agent loop's depth with `mcpCatalog`; default: the config's `client.mcp_agent_depth`, else 10. */
  mcpAgentDepth?: number;
  /**
   * Which provider and key own each file and batch id; absent, memory in front of the request log's store when there
   * is one, else memory alone (docs/files-and-batches.md).
   */
  resourceOwners?: ResourceOwners;
  /** Prices for budgets (src/governance): a request's cost and a model's output limit. */
  pricing?: Pricing | null;
  /**
   * Where request records go and the admin API reads them (`openConfiguredRequestLog`); the gateway owns it from
   * here: it closes it, after the requests in flight, when it closes or fails to start.
   */
  requestLog?: RequestLog | null;
  /** Cluster mode without Redis: budgets and rate limits counted by the supervisor (src/governance/remote.ts). */
  governanceCounters?: () => CounterStore;
}

/** What a reload came to, as `POST /api/reload` answers it. */
export type ReloadOutcome =
  | { readonly ok: true; readonly processes: number }
  | { readonly ok: false; readonly code: 'CONFIG_INVALID' | 'RELOAD_UNAVAILABLE' | 'RELOAD_FAILED'; readonly message: string };

export interface Gateway {
  readonly port: number;
  readonly pools: ReadonlyMap<string, ProviderPool>;
  /** The request log (sink and reader), or null when logging is off. */
  readonly requestLog: RequestLog | null;
  /** Everything this process's /metrics exposes, as structured-clone-able data for renderClusterMetrics. */
  metricsSnapshot(): Promise<MetricsSnapshot>;
  /**
   * Stops accepting, lets in-flight requests finish for up to the grace period, then closes everything. With
   * `handOverMs` (a process of a cluster, whose port stays served by the others), it first serves for that long
   * the requests its kept-alive connections still send, closing each connection after its response.
   */
  close(graceMs?: number, handOverMs?: number): Promise<void>;
}

export async function startGateway(config: GatewayConfig, options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const providerNames = config.providers.map((provider) => provider.name);
  // The model label's values: configured models first, then the first distinct ones requests name, then `other`.
  const modelLabels = modelLabelTable(config);
  const metricsSpec = { providers: providerNames, modelSlots: modelLabels.size };
  const layout = createMetricsLayout(metricsSpec, modelLabels.values);
  const shardCount = 1 + config.providers.reduce((n, provider) => n + provider.concurrency.threads, 0);
  const metricsBuffer = createMetricsBuffer(layout, shardCount);
  const frontShard = new MetricsShard(metricsBuffer, layout, 0);
  const pipelineMetrics = { layout, shard: frontShard, providerIndex: (name: string) => providerNames.indexOf(name),
    modelIndex: (model: string) => modelLabels.indexOf(model) };

  const pools = new Map<string, ProviderPool>();
  const leases = options.leases ? new LeaseClient(options.leases) : null;
  let nextShard = 1;
  config.providers.forEach((provider, providerIndex) => {
    pools.set(provider.name, new ProviderPool(provider, {
      providerIndex,
      firstShard: nextShard,
      metricsBuffer,
      metricsSpec,
      dropExcessRequests: config.client.dropExcessRequests,
      logLevel: config.server.logLevel,
      workerFile: WORKER_FILE,
      ringShape: options.ringShape ?? DEFAULT_RING_SHAPE,
      largeMessageBytes: config.largeMessageBytes,
      leases,
      onWorkerDeath: (name, error, lost) => logger.error({ provider: name, lost, err: error },
        'a provider worker died; its requests in flight got WORKER_DIED and the thread is being replaced'),
    }));
    nextShard += provider.concurrency.threads;
  });

  const requestLog = options.requestLog ?? null;
  const closePools = () => Promise.all([...[...pools.values()].map((pool) => pool.close(0)), requestLog?.close()]);
  const pricing = createPricing(config.providers);
  let plugins: PluginRunner;
  let mcp: StartedMcp | null = null;
  try {
    await Promise.all([...pools.values()].map((pool) => pool.ready()));
    plugins = new PluginRunner(await loadPlugins(config.plugins, {
      logger,
      metrics: pipelineMetrics,
      pricing,
    }), logger);
    // The MCP SDK is loaded only when MCP is configured: it takes as long to load as the rest of the gateway.
    if (config.mcp) {
      const { startMcp } = await import('./mcp/index.js');
      mcp = await startMcp(config.mcp, { plugins, logger, logLevel: config.server.logLevel, remote: options.mcp });
    }
  } catch (error) {
    await closePools();
    throw error;
  }
  const closeMcp = () => mcp?.catalog.close() ?? Promise.resolve();
  const providers = new Map<string, ProviderConfig>(config.providers.map((provider) => [provider.name, provider]));
  // After the pools: the semantic layer embeds through the embedding provider's pool.
  const cache = config.cache ? await ResponseCache.create(config.cache,
    config.cache.embedding ? createEmbedder(config.cache.embedding, providers, pools, pricing) : null, logger) : null;

  const breakers = new CircuitBreakers(config.providers, (breaker, state) => {
    frontShard.add(layout.breakerTransitions.seriesOffset(providerNames.indexOf(breaker.provider), state));
    const level = state === OPEN ? 'warn' : 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level]({ provider: breaker.provider, key: breaker.key, model: breaker.model ?? undefined, state: BREAKER_STATES[state] },
        'circuit breaker changed state');
    }
  });
  // The exporter's thread starts only when tracing is on: off, no request pays anything for it.
  const traceExporter = config.tracing ? new TraceExporter(config.tracing, VERSION, logger) : null;
  const tracer = config.tracing && traceExporter ? new Tracer(config.tracing, traceExporter) : null;
  const governanceMetrics = new GovernanceMetrics();
  const httpMetrics = new HttpMetrics(providerNames, modelLabels, config.client.prometheusLabels);
  const registryOptions = { layout, buffer: metricsBuffer, shardCount, http: httpMetrics, pools: () =>
    [...pools.values()].map((pool) => ({ name: pool.provider.name, concurrencyLimit: pool.provider.concurrency.concurrency,
      stats: () => pool.stats() })), breakers: () => breakers.all(),
    ...(mcp ? { extraFamilies: mcp.metrics.families } : {}),
    extraGauges: [...(mcp ? [mcp.connectedGauge] : []), ...memoryGauges(() => pools.values())],
    counters: () => {
      const counts = requestLog?.counters();
      const spans = traceExporter?.counters();
      return [...counts ? [{ ...METRIC_DROPPED, value: counts.dropped }, { ...METRIC_WRITTEN, value: counts.written }] : [],
        ...spans ? [{ ...METRIC_SPANS_DROPPED, value: spans.dropped }, { ...METRIC_SPANS_EXPORTED, value: spans.exported }] : []];
    },
    labelled: () => cache ? [...governanceMetrics.families(), ...cache.families()] : governanceMetrics.families() };
  const registry = createMetricsRegistry(registryOptions);
  const metricsSnapshot = createMetricsSnapshotter(registryOptions, registry);
  const { clusterMetrics } = options;

  let closing = false;
  let governance;
  let governanceState;
  try {
    const setup = await createGovernance(config, options.pricing ?? pricing, logger, {
      onDecision: (key, outcome) => governanceMetrics.decision(key, outcome),
      onSpend: (key, usd) => governanceMetrics.spend(key, usd),
    }, { store: requestLog?.governance ?? null, ...(options.governanceCounters ? { shared: options.governanceCounters } : {}) });
    governance = setup?.gate ?? null;
    governanceState = setup?.state ?? null;
    governanceMetrics.attach(governance);
  } catch (error) {
    await Promise.all([closePools(), cache?.close(), traceExporter?.close()]);
    throw error;
  }
  const costs = new CostMeter(pricing, pipelineMetrics);
  const catalogInUse = options.mcpCatalog ?? mcp?.catalog;
  const inference = { providers, modelAliases: config.modelAliases, pools, plugins, logger, breakers,
    unsupportedProviders: new Set(config.unsupportedProviders), extraFields: config.client.extraFields,
    metrics: pipelineMetrics, costs, ...(catalogInUse ? { mcp: catalogInUse } : {}),
    mcpAgentDepth: options.mcpAgentDepth ?? config.mcp?.agentDepth, governance,
    requestLog: requestLog ? { content: config.requestLog.content } : null, cache, tracer };
  const chat = createInferenceHandler(inference, openAIChat);
  const embeddings = createInferenceHandler(inference, openAIEmbeddings);
  const dropInChat = createInferenceHandler(inference, openAIDropInChat);
  const dropInEmbeddings = createInferenceHandler(inference, openAIDropInEmbeddings);
  // Azure OpenAI's deployment routes, and its Responses calls on the drop-in prefix.
  const azure = azureRoutes(inference);
  const catalog = createModelCatalog(config.providers, config.modelAliases, pools);
  const models = createModelsHandler(catalog);
  const maxBodyBytes = config.client.maxRequestBodyBytes;
  const owners = options.resourceOwners
    ?? (requestLog ? new StoredResourceOwners(requestLog.owners) : new MemoryResourceOwners());
  const files = { providers, pools, owners, logger, requestLog: inference.requestLog };
  const routes: Route[] = [
    { method: 'post', path: '/v1/chat/completions', readBody: true, handler: chat },
    { method: 'post', path: '/v1/embeddings', readBody: true, handler: embeddings },
    { method: 'get', path: '/v1/models', readBody: false, handler: models },
    { method: 'get', path: '/v1/models/*', readBody: false,
      handler: createModelHandler(catalog, config.providers, '/v1/models/') },
    // The OpenAI SDK's drop-in: its base URL with or without `/v1`.
    ...['/openai/v1', '/openai'].flatMap((prefix): Route[] => [
      { method: 'get', path: `${prefix}/models/*`, readBody: false,
        handler: createModelHandler(catalog, config.providers, `${prefix}/models/`) },
      { method: 'post', path: `${prefix}/chat/completions`, readBody: true, handler: dropInChat },
      { method: 'post', path: `${prefix}/embeddings`, readBody: true, handler: dropInEmbeddings },
      { method: 'get', path: `${prefix}/models`, readBody: false, handler: models },
    ]),
    ...bedrockRoutes(createInferenceHandler(inference, bedrockConverse)),
    ...anthropicRoutes(inference, catalog),
    ...azure.routes,
    ...openAIMoreRoutes(inference, azure.responses),
    ...rerankRoutes((dialect) => createInferenceHandler(inference, dialect)),
    ...cohereRoutes((dialect) => createInferenceHandler(inference, dialect)),
    ...responsesInputTokensRoutes(inference),
    ...bedrockInvokeRoutes(createInferenceHandler(inference, bedrockInvoke)),
    { method: 'post', path: '/anthropic/v1/complete', readBody: true, handler: createInferenceHandler(inference, anthropicComplete),
      errorBody: anthropicComplete.errorBody },
    // Google's GenAI SDK's drop-in (`httpOptions.baseUrl` at `/genai`).
    ...genaiRoutes((dialect) => createInferenceHandler(inference, dialect), { batchGenerateContent: genaiBatchCreateHandler(files) }),
    ...filesRoutes(files, maxBodyBytes),
    ...passthroughRoutes(files, anthropicPrefix, genaiPrefix),
    ...genaiModelRoutes(catalog, config.providers),
    ...(mcp ? mcp.routes(governance ?? null) : mcpNotConfiguredRoutes()),
    // Liveness: the process answers. Readiness (/ready): it should be sent traffic; a load balancer or Kubernetes
    // takes it out of rotation while it drains, and while a provider cannot serve: its started pool has no thread
    // left, or its last start failed. A cold pool is ready: it starts on the request that needs it.
    { method: 'get', path: '/health', readBody: false, handler: (_request, sink) => {
      sink.json(closing ? 503 : 200, JSON.stringify({ status: closing ? 'shutting_down' : 'ok', version: VERSION,
        ...(options.processes ? { processes: options.processes() } : {}), ...(mcp ? { mcp: mcp.health() } : {}) }));
    } },
    // Behind the admin guard, as every /api/* route (src/http/admin-guard.ts).
    { method: 'post', path: '/api/reload', readBody: false, handler: (_request, sink) => {
      const refuse = (error: ErrorData) => sink.json(statusOf(error), openAIErrorBody(error));
      if (!options.reload) {
        refuse(errorData('RELOAD_UNAVAILABLE', 'reload needs the supervisor: start with --processes 2 or more (or auto); '
          + 'a single process (--processes 1, the default) must be restarted to apply a new config'));
        return;
      }
      void options.reload().then((outcome) => {
        if (outcome.ok) sink.json(200, JSON.stringify({ status: 'reloaded', processes: outcome.processes }));
        else refuse(errorData(outcome.code, outcome.message));
      }, (error: unknown) => refuse(errorData('RELOAD_FAILED', (error as Error).message)));
    } },
    ...logsRoutes(requestLog?.reader ?? null),
    ...governanceRoutes(governance && governanceState ? { gate: governance, state: governanceState } : null, logger),
    { method: 'get', path: '/ready', readBody: false, handler: (_request, sink) => {
      // While draining, threads end on purpose: only the status says why.
      const withoutThreads = closing ? [] : [...pools.values()]
        .filter((pool) => !pool.serviceable).map((pool) => pool.provider.name);
      const status = closing ? 'shutting_down' : withoutThreads.length > 0 ? 'not_ready' : 'ready';
      sink.json(status === 'ready' ? 200 : 503, JSON.stringify({ status, version: VERSION,
        ...(withoutThreads.length > 0 ? { providers_without_threads: withoutThreads } : {}) }));
    } },
    { method: 'get', path: '/metrics', readBody: false, handler: (_request, sink) => {
      const exposition = clusterMetrics ? clusterMetrics() : metricsSnapshot().then(renderProcessMetrics);
      exposition.then((text) => sink.text(200, registry.contentType, text), (error: unknown) => {
        // In cluster mode a scrape that cannot see every process must fail loudly, not answer this process's share
        // (every counter would seem to drop); 503 because the next scrape may well succeed.
        logger.error({ err: error }, 'the /metrics exposition could not be built');
        sink.json(503, openAIErrorBody(errorData('INTERNAL', 'the metrics could not be gathered; retry the scrape', { status: 503 })));
      });
    } },
  ];

  const nativePrefixes = [anthropicPrefix, genaiPrefix, bedrockPrefix, coherePrefix];
  routes.push(...asyncJobRoutes(routes, requestLog?.asyncJobs ?? null, config.client.asyncJobResultTtlSeconds),
    ...bundleRoutes(routes, nativePrefixes));
  let server: HttpServer;
  try {
    server = await startHttpServer({
      host: config.server.host,
      port: config.server.port,
      allowedOrigins: config.client.allowedOrigins,
      maxBodyBytes,
      maxBodySetting: config.client.maxRequestBodySetting,
      routes,
      nativePrefixes,
      metrics: httpMetrics,
      accessLog: config.client.accessLog ? logger.child({ log: 'access' }) : null,
      admin: config.admin,
      requestLog: requestLog?.sink ?? null,
      sharePort: options.sharePort,
    });
  } catch (error) {
    await Promise.all([closePools(), closeMcp(), traceExporter?.close()]);
    await governance?.store.close();
    await cache?.close();
    throw error;
  }

  return {
    port: server.port,
    pools,
    requestLog,
    metricsSnapshot,
    async close(graceMs = config.client.shutdownGraceSeconds * 1000, handOverMs = 0) {
      if (closing) return;
      closing = true;
      if (handOverMs > 0) {
        server.handOver();
        await new Promise((resolve) => setTimeout(resolve, Math.min(handOverMs, graceMs)));
      }
      server.stopListening();
      await Promise.all([...pools.values()].map((pool) => pool.close(graceMs)));
      // After the requests in flight: an agent-mode request may still be calling tools while it drains, and the
      // records of those requests are the last ones pushed.
      await closeMcp();
      // Before the log: the spend not yet written goes to the log's store.
      await governance?.store.close();
      await requestLog?.close();
      await plugins.close();
      await cache?.close();
      // Last: the traces of the requests that drained above go out before the thread ends.
      await traceExporter?.close();
      server.closeAll();
    },
  };
}
