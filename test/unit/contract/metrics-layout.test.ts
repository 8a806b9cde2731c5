import { describe, expect, it } from 'vitest';
import { createMetricsBuffer, createMetricsLayout, ERROR_CODE_LABELS, errorCodeLabelIndex, MetricsShard, NO_MODEL_SLOT }
  from '../../../src/contract/metrics-layout.js';
import { createMetricsRegistry } from '../../../src/observability/metrics.js';
import { LabelTable } from '../../../src/observability/label-table.js';

describe('shared metrics layout', () => {
  const models = new LabelTable(['', 'gpt-4o'], 2);
  const spec = { providers: ['openai', 'mock'], modelSlots: models.size };
  const layout = createMetricsLayout(spec, models.values);

  it('gives every family its own non-overlapping range', () => {
    let end = 0;
    for (const family of layout.families) {
      expect(family.offset).toBe(end);
      end += family.width;
    }
    expect(layout.shardLength).toBe(end);
  });

  it('is the same in a worker, which has the spec and not the model names', () => {
    const worker = createMetricsLayout(spec);
    expect(worker.shardLength).toBe(layout.shardLength);
    expect(worker.families.map((family) => [family.name, family.offset]))
      .toEqual(layout.families.map((family) => [family.name, family.offset]));
  });

  it('maps label indexes to offsets and back, in label order', () => {
    const family = layout.tokens;
    for (let p = 0; p < 2; p++) {
      for (let m = 0; m < models.size; m++) {
        for (let d = 0; d < 2; d++) {
          const series = (family.seriesOffset(p, m, d) - family.offset) / family.seriesWidth;
          const labels = family.labelsOf(series);
          expect(labels).toEqual({ provider: ['openai', 'mock'][p], model: models.values[m], direction: ['input', 'output'][d] });
          expect(Object.keys(labels)).toEqual(['provider', 'model', 'direction']);
        }
      }
    }
  });

  it('has a slot per error code, so a 429 is told from a 5xx', () => {
    expect(errorCodeLabelIndex('UPSTREAM_RATE_LIMITED')).toBe(ERROR_CODE_LABELS.indexOf('upstream_rate_limited'));
    expect(errorCodeLabelIndex('UPSTREAM_RATE_LIMITED')).not.toBe(errorCodeLabelIndex('UPSTREAM_ERROR'));
    expect(errorCodeLabelIndex('NOT_A_CODE')).toBe(-1);
  });

  it('sums every thread\'s shard at scrape time into prom-client\'s exposition', async () => {
    const buffer = createMetricsBuffer(layout, 3);
    const shards = [0, 1, 2].map((i) => new MetricsShard(buffer, layout, i));
    const gpt = models.indexOf('gpt-4o');
    const late = models.indexOf('o3');
    shards[1].add(layout.upstreamRequests.seriesOffset(0, gpt), 2);
    shards[2].add(layout.upstreamRequests.seriesOffset(0, gpt), 3);
    shards[2].add(layout.upstreamRequests.seriesOffset(0, NO_MODEL_SLOT), 1);
    shards[1].add(layout.upstreamErrors.seriesOffset(0, late, errorCodeLabelIndex('UPSTREAM_RATE_LIMITED')));
    shards[0].observe(layout.overhead, layout.overhead.seriesOffset(1, gpt), 0.0003);
    shards[2].observe(layout.overhead, layout.overhead.seriesOffset(1, gpt), 0.02);
    shards[0].observe(layout.upstreamLatency, layout.upstreamLatency.seriesOffset(0, gpt), 250);
    const registry = createMetricsRegistry({ layout, buffer, shardCount: 3, pools: () => [
      { name: 'openai', concurrencyLimit: 10, stats: () => ({ threads: 2, inFlight: 5, queued: 1, slotsInUse: 0 }) },
    ] });
    const text = await registry.metrics();
    expect(text).toContain('heimdall_upstream_requests_total{provider="openai",model="gpt-4o"} 5');
    expect(text).toContain('heimdall_upstream_requests_total{provider="openai",model=""} 1');
    expect(text).toContain('heimdall_upstream_errors_total{provider="openai",model="o3",code="upstream_rate_limited"} 1');
    expect(text).toContain('heimdall_overhead_seconds_bucket{provider="mock",model="gpt-4o",le="0.00025"} 0');
    expect(text).toContain('heimdall_overhead_seconds_bucket{provider="mock",model="gpt-4o",le="0.0005"} 1');
    expect(text).toContain('heimdall_overhead_seconds_bucket{provider="mock",model="gpt-4o",le="+Inf"} 2');
    expect(text).toContain('heimdall_overhead_seconds_count{provider="mock",model="gpt-4o"} 2');
    // A four-minute call lands in a bucket of its own, not only in +Inf.
    expect(text).toContain('heimdall_upstream_latency_seconds_bucket{provider="openai",model="gpt-4o",le="120"} 0');
    expect(text).toContain('heimdall_upstream_latency_seconds_bucket{provider="openai",model="gpt-4o",le="300"} 1');
    expect(text).toContain('heimdall_pool_threads{provider="openai"} 2');
    expect(text).toContain('heimdall_pool_utilization{provider="openai"} 0.5');
    expect(text).toMatch(/^heimdall_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v\d+[^"]*",platform="[a-z0-9]+",arch="[a-z0-9]+"\} 1$/m);
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).not.toContain('heimdall_process_');
    expect(text).not.toContain('heimdall_upstream_requests_total{provider="mock"');
  });
});
