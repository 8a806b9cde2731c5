// The built-in metrics plugin: per-provider and per-model overhead and time to first token, written into the front
// thread's shard of the shared metrics memory. HTTP-level counts are recorded by the server for every request;
// upstream calls and tokens by the provider workers.

import type { Plugin, PluginFactory } from '../contract.js';

export const createMetricsPlugin: PluginFactory = (_config, api): Plugin => {
  const { layout, shard, providerIndex, modelIndex } = api.metrics;
  return {
    name: 'metrics',
    postHook(ctx, outcome) {
      if (outcome.shortCircuited) return;
      const index = providerIndex(ctx.provider);
      if (index < 0) return;
      const model = modelIndex(ctx.model);
      const totalSeconds = (performance.now() - ctx.receivedAt) / 1000;
      if (!outcome.error) {
        const overhead = Math.max(0, totalSeconds - outcome.upstreamMs / 1000);
        shard.observe(layout.overhead, layout.overhead.seriesOffset(index, model), overhead);
      }
      if (outcome.firstChunkMs !== null) {
        shard.observe(layout.timeToFirstToken, layout.timeToFirstToken.seriesOffset(index, model), outcome.firstChunkMs / 1000);
      }
    },
  };
};
