/**
 * What one cluster-wide /metrics costs: N gateway processes' metrics (simulated in this process, each with its own
 * shared memory, label tables in its own order of first sight, HTTP families and prom-client registry, filled with
 * a realistic spread of series), merged two ways, in milliseconds:
 * - ours: each process builds a MetricsSnapshot, it crosses IPC as a structured clone (v8.serialize/deserialize
 *   here, what `serialization: 'advanced'` does), the primary runs renderClusterMetrics;
 * - prom-client's AggregatorRegistry: each process builds getMetricsAsJSON, it crosses node:cluster's default JSON
 *   IPC (JSON.stringify/parse here), the primary runs AggregatorRegistry.aggregate(...).metrics().
 * "one process" is a single process's own /metrics, through prom-client's registry and through its snapshot.
 * "per process" is what blocks each child's event loop (the children work in parallel); "primary" is the merge on one
 * core, deserializing N answers included; "scrape" is their sum, the latency a scrape adds beyond the IPC hops.
 *
 *   node --expose-gc dist/bench/cluster-metrics.js [--processes 2,4,8,16] [--providers 5] [--models 30] [--rounds 5]
 */

import { serialize, deserialize } from 'node:v8';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { createMetricsBuffer, createMetricsLayout, errorCodeLabelIndex, MetricsShard } from '../src/contract/metrics-layout.js';
import { AccessRecord } from '../src/observability/access-log.js';
import { renderClusterMetrics, renderProcessMetrics, type MetricsSnapshot } from '../src/observability/cluster-metrics.js';
import { HttpMetrics } from '../src/observability/http-metrics.js';
import { LabelTable } from '../src/observability/label-table.js';
import { DYNAMIC_MODEL_SLOTS } from '../src/observability/model-labels.js';
import { createMetricsRegistry, createMetricsSnapshotter } from '../src/observability/metrics.js';
import { parseFlags, num, str } from './args.js';
import { alignedColumns, median } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const processCounts = str(flags, 'processes', '2,4,8,16').split(',').map(Number);
const providerCount = num(flags, 'providers', 5);
const modelCount = num(flags, 'models', 30);
const rounds = num(flags, 'rounds', 5);
const THREADS_PER_PROVIDER = 2;
const ROUTES = ['/v1/chat/completions', '/v1/embeddings', '/anthropic/v1/messages', '/openai/v1/chat/completions'];
const ERROR_CODES = ['UPSTREAM_RATE_LIMITED', 'UPSTREAM_ERROR', 'UPSTREAM_TIMEOUT'];

interface SimulatedProcess {
  readonly registry: Registry;
  snapshot(): Promise<MetricsSnapshot>;
}

/** A deterministic shuffle, so each process meets the models in its own order and hands out its own slots. */
function shuffled<T>(values: readonly T[], seed: number): T[] {
  const out = [...values];
  let state = seed * 2_654_435_761 % 4_294_967_296 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function simulatedProcess(seed: number): SimulatedProcess {
  const providers = Array.from({ length: providerCount }, (_, i) => `provider-${i}`);
  const modelNames = Array.from({ length: modelCount }, (_, i) => `model-${i}`);
  const models = new LabelTable([''], DYNAMIC_MODEL_SLOTS);
  for (const model of shuffled(modelNames, seed)) models.indexOf(model);
  const layout = createMetricsLayout({ providers, modelSlots: models.size }, models.values);
  const shardCount = 1 + providerCount * THREADS_PER_PROVIDER;
  const buffer = createMetricsBuffer(layout, shardCount);
  const shards = Array.from({ length: shardCount }, (_, i) => new MetricsShard(buffer, layout, i));
  const http = new HttpMetrics(providers, models, []);
  for (const route of ROUTES) http.routes.indexOf(route);
  let n = seed;
  const next = () => (n = (n * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  providers.forEach((provider, p) => {
    for (const model of modelNames) {
      const m = models.indexOf(model);
      const worker = shards[1 + p * THREADS_PER_PROVIDER + (m % THREADS_PER_PROVIDER)];
      for (let call = 0; call < 20; call++) {
        worker.add(layout.upstreamRequests.seriesOffset(p, m));
        worker.add(layout.tokens.seriesOffset(p, m, 0), 100 + Math.floor(next() * 900));
        worker.add(layout.tokens.seriesOffset(p, m, 1), 10 + Math.floor(next() * 400));
        worker.observe(layout.upstreamLatency, layout.upstreamLatency.seriesOffset(p, m), next() * 8);
        shards[0].observe(layout.overhead, layout.overhead.seriesOffset(p, m), next() * 0.002);
        if (call % 4 === 0) worker.observe(layout.timeToFirstToken, layout.timeToFirstToken.seriesOffset(p, m), next() * 2);
      }
      for (const code of ERROR_CODES) worker.add(layout.upstreamErrors.seriesOffset(p, m, errorCodeLabelIndex(code)));
      shards[0].add(layout.retries.seriesOffset(p, m));
      // Each model is called through two of the routes, answered 200 and sometimes 429.
      for (const route of [ROUTES[m % ROUTES.length], ROUTES[(m + 1) % ROUTES.length]]) {
        for (const status of [200, 429]) {
          const access = new AccessRecord();
          access.routeIndex = http.routes.indexOf(route);
          access.methodIndex = http.methodIndex('POST');
          access.provider = provider;
          access.model = model;
          http.record(access, status, next() * 5);
        }
      }
    }
  });
  const options = { layout, buffer, shardCount, http, pools: () => providers.map((name) => ({ name, concurrencyLimit: 100,
    stats: () => ({ threads: THREADS_PER_PROVIDER, inFlight: 3, queued: 0, slotsInUse: 6 }) })),
  breakers: () => providers.map((provider) => ({ provider, key: 'default', model: null, state: 0 })) };
  const registry = createMetricsRegistry(options);
  return { registry, snapshot: createMetricsSnapshotter(options, registry) };
}

/** With --expose-gc, a collection before each timed step, so one side's garbage is not collected on the other's clock. */
const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});

async function timed<T>(work: () => Promise<T> | T): Promise<[T, number]> {
  collect();
  const start = performance.now();
  const value = await work();
  return [value, performance.now() - start];
}

interface Round {
  oursPerProcess: number; oursPrimary: number; oursBytes: number;
  promPerProcess: number; promPrimary: number; promBytes: number;
  series: number;
  /** One process's own /metrics through prom-client's registry (before this change), the reference. */
  single: number;
  /** One process's own /metrics now: snapshot and renderProcessMetrics. */
  singleNow: number;
}

async function round(processes: readonly SimulatedProcess[]): Promise<Round> {
  const oursPerProcess: number[] = [];
  const wires: Buffer[] = [];
  for (const p of processes) {
    const [wire, ms] = await timed(async () => serialize(await p.snapshot()));
    oursPerProcess.push(ms);
    wires.push(wire);
  }
  const [text, oursPrimary] = await timed(() =>
    renderClusterMetrics(wires.map((wire) => deserialize(wire) as MetricsSnapshot), { processes: processes.length, restarts: {} }));

  const promPerProcess: number[] = [];
  const jsons: string[] = [];
  for (const p of processes) {
    const [json, ms] = await timed(async () => JSON.stringify(await p.registry.getMetricsAsJSON()));
    promPerProcess.push(ms);
    jsons.push(json);
  }
  const [, promPrimary] = await timed(() =>
    AggregatorRegistry.aggregate(jsons.map((json) => JSON.parse(json) as Parameters<typeof AggregatorRegistry.aggregate>[0][number])).metrics());
  const [, single] = await timed(() => processes[0].registry.metrics());
  const [, singleNow] = await timed(async () => renderProcessMetrics(await processes[0].snapshot()));
  return {
    single, singleNow,
    oursPerProcess: median(oursPerProcess)!, oursPrimary, oursBytes: wires[0].length,
    promPerProcess: median(promPerProcess)!, promPrimary, promBytes: Buffer.byteLength(jsons[0]),
    series: text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length,
  };
}

const header = ['processes', 'samples', 'one process: prom-client', 'snapshot', 'ours: per process', 'primary', 'scrape', 'IPC bytes/process',
  'prom-client: per process', 'primary', 'scrape', 'IPC bytes/process'];
const rows: string[][] = [];
const ms = (value: number) => `${value.toFixed(1)} ms`;
const kb = (value: number) => `${(value / 1024).toFixed(0)} KiB`;
for (const count of processCounts) {
  const processes = Array.from({ length: count }, (_, i) => simulatedProcess(i + 1));
  await round(processes);
  const results: Round[] = [];
  for (let r = 0; r < rounds; r++) results.push(await round(processes));
  const med = (pick: (r: Round) => number) => median(results.map(pick))!;
  rows.push([String(count), String(results[0].series), ms(med((r) => r.single)), ms(med((r) => r.singleNow)),
    ms(med((r) => r.oursPerProcess)), ms(med((r) => r.oursPrimary)), ms(med((r) => r.oursPerProcess + r.oursPrimary)),
    kb(results[0].oursBytes),
    ms(med((r) => r.promPerProcess)), ms(med((r) => r.promPrimary)), ms(med((r) => r.promPerProcess + r.promPrimary)),
    kb(results[0].promBytes)]);
  for (const p of processes) p.registry.clear();
}
console.log(alignedColumns(header, rows).join('\n'));
if (!('gc' in globalThis)) console.log('NOTE: without --expose-gc each side may pay for the other\'s garbage');
console.log(`medians of ${rounds} rounds; ${providerCount} providers × ${modelCount} models, ${ROUTES.length} routes, ` +
  `${THREADS_PER_PROVIDER} threads per provider; samples = lines of the merged exposition (Node's default metrics included)`);
