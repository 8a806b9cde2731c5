/**
 * What configured providers cost in memory before and after they are used: the RSS of an idle gateway with 1, 5 and
 * 20 configured providers (one of them the built-in mock, the rest OpenAI-compatible at an address never dialled),
 * the same 20 in cluster mode with 2 processes (supervisor and children summed), the time to the first answer from a
 * cold pool and from a warm one, and the RSS once every provider's pool has served one request (all threads up),
 * whose difference to the idle figure divided by the threads started is what one provider thread costs, and the part
 * of it that is the threads' V8 heaps as they report them in /metrics (`heimdall_pool_memory_bytes`).
 * Bifrost's published figures stand beside them: 120 MB idle, 1.3 GB peak at 5k RPS (t3.medium).
 *
 *   node dist/bench/memory-idle.js [--counts 1,5,20] [--repeat 3] [--settle-s 3] [--heimdall-js dist/src/main.js]
 *     [--baseline-js dist-before/src/main.js]   (another build measured in the same run, for a before/after ratio)
 *     [--young-mb 0]   (resource_limits.max_young_generation_size_mb of every provider; 0: V8's default)
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { num, parseFlags, str } from './args.js';
import { freePort, killAll, spawnChild, stop, waitForHealth } from './children.js';
import { alignedColumns } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2));
const counts = str(flags, 'counts', '1,5,20').split(',').map(Number);
const repeat = num(flags, 'repeat', 3);
const settleS = num(flags, 'settle-s', 3);
/** `resource_limits.max_young_generation_size_mb` for every provider; 0: V8's default. */
const youngMb = num(flags, 'young-mb', 0);
const limits = youngMb > 0 ? { concurrency_and_buffer_size: { resource_limits: { max_young_generation_size_mb: youngMb } } } : {};
const builds: [string, string][] = [['heimdall', resolve(str(flags, 'heimdall-js', join(HERE, '../src/main.js')))]];
if (flags.has('baseline-js')) builds.unshift(['baseline', resolve(str(flags, 'baseline-js', ''))]);

function statusField(pid: number, field: string): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } catch {
    return 0;
  }
}

/** The process and its descendants (a cluster's supervisor and its children). */
function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    for (const tid of safeList(`/proc/${all[i]}/task`)) {
      const text = safeRead(`/proc/${all[i]}/task/${tid}/children`);
      for (const child of text.split(' ').filter(Boolean)) all.push(Number(child));
    }
  }
  return all;
}

const safeList = (path: string) => { try { return readdirSync(path); } catch { return []; } };
const safeRead = (path: string) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };

/** RSS in MiB and threads of the whole tree. */
function footprint(pid: number): { rssMiB: number; threads: number } {
  let kib = 0;
  let threads = 0;
  for (const p of tree(pid)) {
    kib += statusField(p, 'VmRSS');
    threads += statusField(p, 'Threads');
  }
  return { rssMiB: kib / 1024, threads };
}

function configFor(providers: number): Record<string, unknown> {
  const entries: [string, unknown][] = [['mock', { mock_config: { latency_ms: 0, chunk_count: 1, chunk_interval_ms: 0 }, ...limits }]];
  for (let i = 1; i < providers; i++) {
    entries.push([`idle${i}`, {
      keys: [{ value: 'sk-idle', models: ['*'], weight: 1 }],
      custom_provider_config: { base_provider_type: 'openai' },
      // Refused at once when a request wakes the pool: the answer is an error, the thread is up.
      network_config: { base_url: 'http://127.0.0.1:9', max_retries: 0 },
      ...limits,
    }]);
  }
  return { providers: Object.fromEntries(entries) };
}

async function timedPost(url: string, model: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) });
  await response.arrayBuffer();
  return performance.now() - started;
}

interface Sample { idle: number; threads: number; coldMs: number; warmMs: number; allWarm: number; allThreads: number; heapPerThread: number }

/** The sum of every series of `name` with `kind="<kind>"` in a /metrics exposition. */
function metricSum(text: string, name: string, kind: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(`kind="${kind}"`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function measure(js: string, providers: number, processes: number): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-memory-'));
  const config = join(dir, 'heimdall.json');
  writeFileSync(config, JSON.stringify(configFor(providers)));
  const port = await freePort();
  const gateway = spawnChild('heimdall', process.execPath, [js, '--config', config, '--port', String(port), '--log-level', 'error',
    '--processes', String(processes)]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(gateway, `${base}/health`, 180_000);
    await sleep(settleS * 1000);
    const idle = footprint(gateway.pid);
    // Listing, health and metrics are what an idle gateway is asked; they must not change the figure much.
    await fetch(`${base}/v1/models`).then((r) => r.arrayBuffer());
    await fetch(`${base}/metrics`).then((r) => r.arrayBuffer());
    const url = `${base}/v1/chat/completions`;
    const coldMs = await timedPost(url, 'mock/echo');
    const warmMs = await timedPost(url, 'mock/echo');
    for (let i = 1; i < providers; i++) await timedPost(url, `idle${i}/gpt-4o`);
    await sleep(settleS * 1000);
    const all = footprint(gateway.pid);
    // What the workers report of themselves (docs/memory.md): their V8 heaps, committed, as of their last job.
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    const heapPerThread = metricSum(metrics, 'heimdall_pool_memory_bytes', 'heap_total') / 1048576 / Math.max(1, all.threads - idle.threads);
    return { idle: idle.rssMiB, threads: idle.threads, coldMs, warmMs, allWarm: all.rssMiB, allThreads: all.threads, heapPerThread };
  } finally {
    await stop(gateway, 10_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const spread = (values: number[], digits: number) => `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

async function main(): Promise<void> {
  const cases: [number, number][] = [...counts.map((n): [number, number] => [n, 1]), [Math.max(...counts), 2]];
  const rows: string[][] = [];
  for (const [label, js] of builds) {
    for (const [providers, processes] of cases) {
      const samples: Sample[] = [];
      // Interleaving the builds would be fairer on a loaded machine, but each run is short: repeat and take the median.
      for (let i = 0; i < repeat; i++) {
        const what = `${label}: ${providers} provider(s), ${processes} process(es), run ${i + 1}/${repeat}`;
        try {
          samples.push(await measure(js, providers, processes));
          console.error(`${what}: idle ${samples.at(-1)!.idle.toFixed(1)} MiB`);
        } catch (error) {
          // A loaded machine may fail a start or a request; the row keeps the runs that went through.
          console.error(`${what} failed: ${(error as Error).message}`);
        }
      }
      if (samples.length === 0) {
        rows.push([label, String(providers), String(processes), 'failed', '', '', '', '', '', '', '']);
        continue;
      }
      const perThread = samples.map((s) => (s.allWarm - s.idle) / Math.max(1, s.allThreads - s.threads));
      rows.push([label, String(providers), String(processes), spread(samples.map((s) => s.idle), 1),
        String(median(samples.map((s) => s.threads))), spread(samples.map((s) => s.coldMs), 0), spread(samples.map((s) => s.warmMs), 1),
        spread(samples.map((s) => s.allWarm), 1), String(median(samples.map((s) => s.allThreads))), spread(perThread, 1),
        spread(samples.map((s) => s.heapPerThread), 1)]);
    }
  }
  console.log(`idle memory, median (min–max) of up to ${repeat} runs; 'all used' after one request to every provider`);
  for (const line of alignedColumns(['build', 'providers', 'processes', 'idle RSS MiB', 'threads', 'cold 1st answer ms',
    'warm answer ms', 'all used RSS MiB', 'threads', 'MiB per started thread', 'V8 heap MiB per thread (/metrics)'], rows)) console.log(line);
  console.log('Bifrost (published, t3.medium): 120 MB idle; 1.3 GB peak at 5k RPS. Goal: 20 providers idle < 150 MB.');
}

main().catch((error: unknown) => {
  console.error(error);
  killAll();
  process.exitCode = 1;
});
