// Assembles a running gateway from a validated config: metrics memory → pools → plugins → HTTP. `main.ts` is
// the command line around it; tests start it in-process on port 0.

import type { Logger } from 'pino';
import type { GatewayConfig, ProviderConfig } from './config/types.js';
import { BREAKER_STATES, createMetricsBuffer, createMetricsLayout, MetricsShard } from './contract/metrics-layout.js';
import { DEFAULT_RING_SHAPE, type RingShape } from './contract/ring-layout.js';
import { ProviderPool } from './dispatch/pool.js';
import { startHttpServer, type HttpServer, type Route } from './http/server.js';
import { createMetricsRegistry } from './observability/metrics.js';
import { loadPlugins } from './plugins/load.js';
import { PluginRunner } from './plugins/runner.js';
import { bedrockConverse, bedrockPrefix, bedrockRoutes } from './dialects/bedrock.js';
import { anthropicPrefix, anthropicRoutes } from './dialects/anthropic-routes.js';
import { openAIMoreRoutes } from './dialects/openai-more-routes.js';
import { openAIChat, openAIDropInChat, openAIDropInEmbeddings, openAIEmbeddings } from './dialects/openai.js';
import { CircuitBreakers, OPEN } from './pipeline/breaker.js';
import { genaiPrefix, genaiRoutes } from './dialects/genai.js';
import { genaiModelRoutes } from './dialects/genai-models.js';
import { createInferenceHandler } from './pipeline/index.js';
import { createModelCatalog, createModelsHandler } from './pipeline/models.js';

const WORKER_FILE = new URL('../workers/provider-worker.js', import.meta.url).href;

export interface GatewayOptions {
  logger: Logger;
  ringShape?: RingShape;
}

export interface Gateway {
  readonly port: number;
  readonly pools: ReadonlyMap<string, ProviderPool>;
  /** Stops accepting, lets in-flight requests finish for up to the grace period, then closes everything. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(config: GatewayConfig, options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const providerNames = config.providers.map((provider) => provider.name);
  const layout = createMetricsLayout(providerNames);
  const shardCount = 1 + config.providers.reduce((n, provider) => n + provider.concurrency.threads, 0);
  const metricsBuffer = createMetricsBuffer(layout, shardCount);
  const frontShard = new MetricsShard(metricsBuffer, layout, 0);

  const pools = new Map<string, ProviderPool>();
  let nextShard = 1;
  config.providers.forEach((provider, providerIndex) => {
    pools.set(provider.name, new ProviderPool(provider, {
      providerIndex,
      firstShard: nextShard,
      metricsBuffer,
      metricsProviders: providerNames,
      dropExcessRequests: config.client.dropExcessRequests,
      logLevel: config.server.logLevel,
      workerFile: WORKER_FILE,
      ringShape: options.ringShape ?? DEFAULT_RING_SHAPE,
      onWorkerDeath: (name, error, lost) => logger.error({ provider: name, lost, err: error },
        'a provider worker died; its requests in flight got WORKER_DIED and the thread is being replaced'),
    }));
    nextShard += provider.concurrency.threads;
  });

  const closePools = () => Promise.all([...pools.values()].map((pool) => pool.close(0)));
  let plugins: PluginRunner;
  try {
    await Promise.all([...pools.values()].map((pool) => pool.ready()));
    plugins = new PluginRunner(await loadPlugins(config.plugins, {
      logger,
      metrics: { layout, shard: frontShard, providerIndex: (name) => providerNames.indexOf(name) },
    }), logger);
  } catch (error) {
    await closePools();
    throw error;
  }

  const breakers = new CircuitBreakers(config.providers, (breaker, state) => {
    frontShard.add(layout.breakerTransitions.seriesOffset(providerNames.indexOf(breaker.provider), state));
    const level = state === OPEN ? 'warn' : 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level]({ provider: breaker.provider, key: breaker.key, model: breaker.model ?? undefined, state: BREAKER_STATES[state] },
        'circuit breaker changed state');
    }
  });
  const registry = createMetricsRegistry(layout, metricsBuffer, shardCount, () =>
    [...pools.values()].map((pool) => ({ name: pool.provider.name, concurrencyLimit: pool.provider.concurrency.concurrency,
      stats: () => pool.stats() })), () => breakers.all());

  let closing = false;
  const providers = new Map<string, ProviderConfig>(config.providers.map((provider) => [provider.name, provider]));
  const inference = { providers, modelAliases: config.modelAliases, pools, plugins, logger, breakers,
    metrics: { layout, shard: frontShard, providerIndex: (name: string) => providerNames.indexOf(name) } };
  const chat = createInferenceHandler(inference, openAIChat);
  const embeddings = createInferenceHandler(inference, openAIEmbeddings);
  const dropInChat = createInferenceHandler(inference, openAIDropInChat);
  const dropInEmbeddings = createInferenceHandler(inference, openAIDropInEmbeddings);
  const catalog = createModelCatalog(config.providers, config.modelAliases, pools);
  const models = createModelsHandler(catalog);
  const routes: Route[] = [
    { method: 'post', path: '/v1/chat/completions', readBody: true, handler: chat },
    { method: 'post', path: '/v1/embeddings', readBody: true, handler: embeddings },
    { method: 'get', path: '/v1/models', readBody: false, handler: models },
    // The OpenAI SDK's drop-in: its base URL with or without `/v1`.
    ...['/openai/v1', '/openai'].flatMap((prefix): Route[] => [
      { method: 'post', path: `${prefix}/chat/completions`, label: '/openai', readBody: true, handler: dropInChat },
      { method: 'post', path: `${prefix}/embeddings`, label: '/openai', readBody: true, handler: dropInEmbeddings },
      { method: 'get', path: `${prefix}/models`, label: '/openai', readBody: false, handler: models },
    ]),
    ...bedrockRoutes(createInferenceHandler(inference, bedrockConverse)),
    ...anthropicRoutes(inference, catalog),
    ...openAIMoreRoutes(inference),
    // Google's GenAI SDK's drop-in (`httpOptions.baseUrl` at `/genai`).
    ...genaiRoutes((dialect) => createInferenceHandler(inference, dialect)),
    ...genaiModelRoutes(catalog, config.providers),
    { method: 'get', path: '/health', readBody: false, handler: (_request, sink) => {
      sink.json(closing ? 503 : 200, JSON.stringify({ status: closing ? 'shutting_down' : 'ok' }));
    } },
    { method: 'get', path: '/metrics', readBody: false, handler: (_request, sink) => {
      void registry.metrics().then((text) => {
        sink.text(200, registry.contentType, text);
      });
    } },
  ];

  let server: HttpServer;
  try {
    server = await startHttpServer({
      host: config.server.host,
      port: config.server.port,
      maxBodyBytes: Math.floor(config.client.maxRequestBodySizeMb * 1024 * 1024),
      routes,
      nativePrefixes: [anthropicPrefix, genaiPrefix, bedrockPrefix],
      metrics: { layout, shard: frontShard },
    });
  } catch (error) {
    await closePools();
    throw error;
  }

  return {
    port: server.port,
    pools,
    async close(graceMs = config.client.shutdownGraceSeconds * 1000) {
      if (closing) return;
      closing = true;
      server.stopListening();
      await Promise.all([...pools.values()].map((pool) => pool.close(graceMs)));
      await plugins.close();
      server.closeAll();
    },
  };
}
