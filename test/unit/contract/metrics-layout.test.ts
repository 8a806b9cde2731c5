import { describe, expect, it } from 'vitest';
import { createMetricsBuffer, createMetricsLayout, MetricsShard, routeLabelIndex, statusLabelIndex }
  from '../../../src/contract/metrics-layout.js';
import { createMetricsRegistry } from '../../../src/observability/metrics.js';

describe('shared metrics layout', () => {
  const layout = createMetricsLayout(['openai', 'mock']);

  it('gives every family its own non-overlapping range', () => {
    let end = 0;
    for (const family of layout.families) {
      expect(family.offset).toBe(end);
      end += family.width;
    }
    expect(layout.shardLength).toBe(end);
  });

  it('maps label indexes to offsets and back', () => {
    const family = layout.tokens;
    for (let p = 0; p < 2; p++) {
      for (let d = 0; d < 2; d++) {
        const series = (family.seriesOffset(p, d) - family.offset) / family.seriesWidth;
        expect(family.labelsOf(series)).toEqual({ provider: ['openai', 'mock'][p], direction: ['input', 'output'][d] });
      }
    }
  });

  it('folds unknown statuses and routes into "other"', () => {
    expect(statusLabelIndex(418)).toBe(statusLabelIndex(999));
    expect(routeLabelIndex('/nope')).toBe(routeLabelIndex('other'));
    expect(statusLabelIndex(200)).toBe(0);
  });

  it('sums every thread\'s shard at scrape time into prom-client\'s exposition', async () => {
    const buffer = createMetricsBuffer(layout, 3);
    const shards = [0, 1, 2].map((i) => new MetricsShard(buffer, layout, i));
    shards[1].add(layout.upstreamRequests.seriesOffset(0), 2);
    shards[2].add(layout.upstreamRequests.seriesOffset(0), 3);
    shards[0].observe(layout.overhead, layout.overhead.seriesOffset(1), 0.0003);
    shards[2].observe(layout.overhead, layout.overhead.seriesOffset(1), 0.02);
    const registry = createMetricsRegistry(layout, buffer, 3, () => [
      { name: 'openai', concurrencyLimit: 10, stats: () => ({ threads: 2, inFlight: 5, queued: 1, slotsInUse: 0 }) },
    ]);
    const text = await registry.metrics();
    expect(text).toContain('heimdall_upstream_requests_total{provider="openai"} 5');
    expect(text).toContain('heimdall_overhead_seconds_bucket{provider="mock",le="0.00025"} 0');
    expect(text).toContain('heimdall_overhead_seconds_bucket{provider="mock",le="0.0005"} 1');
    expect(text).toContain('heimdall_overhead_seconds_bucket{provider="mock",le="+Inf"} 2');
    expect(text).toContain('heimdall_overhead_seconds_count{provider="mock"} 2');
    expect(text).toContain('heimdall_pool_threads{provider="openai"} 2');
    expect(text).toContain('heimdall_pool_utilization{provider="openai"} 0.5');
    expect(text).not.toContain('heimdall_upstream_requests_total{provider="mock"}');
  });
});
