/**
 * Streams shaped like a model's answers, many at once: the baseline proxy and Heimdall side by side, each in front of
 * its own realistic mock (`realistic-upstream.ts`: a few tokens per chunk, 200–2,000 chunks per answer, 10–30 ms
 * apart, a fifth of the answers streaming a tool call's arguments). `--streams` (default 1,000) clients stream
 * closed-loop through the target; the mock's first answers are random parts of whole ones, so streams end and are
 * replaced at the steady rate from the start. After `--warmup` seconds the window of `--duration` seconds counts:
 *
 * - CPU per chunk: the target process's CPU (every thread, schedstat) over the chunks the mock sent in the window;
 *   CPU per stream is that times the mean answer ((min + max) / 2 chunks), so the per-stream costs (the request,
 *   the headers, the end, the request log's record) are counted at the rate streams really start and end.
 * - CPU per chunk delivered: the same CPU over the SSE events the clients received in the window. A target that
 *   falls behind leaves chunks the mock counts as sent in socket buffers (or its own queues) that no client has yet;
 *   this figure does not count them.
 * - Memory per open stream: the target's RSS during the window (median of one sample a second) minus its RSS with a
 *   tenth of the streams open (after the same warm-up), over the streams added between the two.
 *
 * The targets alternate within each repetition (the order flips every other one), fresh processes each time; the
 * target is pinned to CPU 0 and the mock to CPU 1 when the machine has two CPUs (the bench's own client is not).
 *
 *   npm run build && node dist/bench/stream-realistic.js [--streams 1000] [--reps 3] [--warmup 5] [--duration 10]
 *     [--chunks-min 200] [--chunks-max 2000] [--gap-min-ms 10] [--gap-max-ms 30] [--tool-share 0.2]
 *     [--targets baseline,heimdall] [--heimdall-js dist/src/main.js]
 *
 * Targets: `baseline`, `heimdall`, `heimdall-nolog` (the request log off: its share of the cost) and
 * `heimdall-before` (the build at --before-js, e.g. a copy of main's dist: before and after in one run).
 *
 * The last line of stdout is a one-line JSON summary.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { num, parseFlags, str } from './args.js';
import { killAll, onPath, spawnChild, stop, waitForHealth, waitForListening, freePort, type Child } from './children.js';
import { cpuSnapshot } from './procfs.js';
import { median, range } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const streams = Math.max(1, Math.floor(num(flags, 'streams', 1000)));
const reps = Math.max(1, Math.floor(num(flags, 'reps', 3)));
const warmupS = num(flags, 'warmup', 5);
const durationS = num(flags, 'duration', 10);
const chunksMin = Math.floor(num(flags, 'chunks-min', 200));
const chunksMax = Math.floor(num(flags, 'chunks-max', 2000));
const gapMin = num(flags, 'gap-min-ms', 10);
const gapMax = num(flags, 'gap-max-ms', 30);
const toolShare = num(flags, 'tool-share', 0.2);
const targets = str(flags, 'targets', 'baseline,heimdall').split(',').filter(Boolean);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const heimdallJs = resolve(str(flags, 'heimdall-js', here('../src/main.js')));
const beforeJs = flags.has('before-js') ? resolve(str(flags, 'before-js', '')) : null;
const pin = availableParallelism() >= 2 && onPath('taskset');
const workDir = mkdtempSync(join(tmpdir(), 'heimdall-bench-streams-'));
const meanChunks = (chunksMin + chunksMax) / 2;
const body = JSON.stringify({ model: 'openai/gpt-4o-mini', stream: true,
  messages: [{ role: 'user', content: 'What will the weather be in Paris for the next three days?' }] });

process.on('exit', () => {
  killAll();
  rmSync(workDir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

const cpuNs = (pid: number): number => [...cpuSnapshot(pid).values()].reduce((a, b) => a + b, 0);

async function counters(mockPort: number): Promise<{ chunks: number; streams: number }> {
  const response = await fetch(`http://127.0.0.1:${mockPort}/counters`);
  return await response.json() as { chunks: number; streams: number };
}

/** `streams` clients, each streaming answer after answer until stopped; counts what they got. */
class Clients {
  ok = 0;
  failed = 0;
  open = 0;
  /** SSE events received, counted by their blank-line ends. */
  delivered = 0;
  #running = true;
  readonly #pool: Pool;
  readonly #loops: Promise<void>[] = [];

  readonly #path: string;

  constructor(url: string) {
    const { origin, pathname } = new URL(url);
    this.#path = pathname;
    this.#pool = new Pool(origin, { connections: streams, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
  }

  /** Opens `count` more streaming clients. */
  add(count: number): void {
    for (let i = 0; i < count; i++) this.#loops.push(this.#loop(this.#path));
  }

  async #loop(path: string): Promise<void> {
    while (this.#running) {
      this.open++;
      try {
        const response = await this.#pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        let endedInNewline = false;
        for await (const part of response.body as AsyncIterable<Buffer>) {
          // An event ends at "\n\n", which a read may split between two parts.
          if (endedInNewline && part[0] === 0x0a) this.delivered++;
          for (let at = part.indexOf('\n\n'); at !== -1; at = part.indexOf('\n\n', at + 2)) this.delivered++;
          endedInNewline = part[part.length - 1] === 0x0a && part[part.length - 2] !== 0x0a;
        }
        if (response.statusCode === 200) this.ok++;
        else this.failed++;
      } catch {
        this.failed++;
        await sleep(100);
      } finally {
        this.open--;
      }
    }
  }

  async close(): Promise<void> {
    this.#running = false;
    await this.#pool.destroy();
    await Promise.allSettled(this.#loops);
  }
}

interface Window {
  target: string;
  rep: number;
  cpuUsPerChunk: number;
  cpuMsPerStream: number;
  chunksPerSecond: number;
  deliveredPerSecond: number;
  cpuUsPerDelivered: number;
  streamsEnded: number;
  openStreams: number;
  rssFewMiB: number;
  rssLoadedMiB: number;
  kibPerOpenStream: number;
  failed: number;
}

async function startTarget(target: string, mockPort: number): Promise<{ child: Child; port: number }> {
  const cpus = pin ? '0' : undefined;
  if (target === 'baseline') {
    const child = spawnChild('baseline', process.execPath, [here('./baseline-proxy.js'), '--port', '0', '--upstream',
      `http://127.0.0.1:${mockPort}`, '--connections', String(streams + 16)], cpus);
    return { child, port: await waitForListening(child) };
  }
  const config = join(workDir, `heimdall-${Date.now()}.json`);
  // `heimdall-nolog`: the request log off, to show its share; `heimdall-before`: another build (--before-js).
  const client = target === 'heimdall-nolog' ? { client: { enable_logging: false } } : {};
  writeFileSync(config, JSON.stringify({ ...client, providers: { openai: { keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
    network_config: { base_url: `http://127.0.0.1:${mockPort}`, max_conns_per_host: 10_000 },
    concurrency_and_buffer_size: { concurrency: 20_000, buffer_size: 20_000, threads: 1 } } } }));
  const port = await freePort();
  const js = target === 'heimdall-before' ? beforeJs : heimdallJs;
  if (!js) throw new Error('heimdall-before needs --before-js PATH');
  const child = spawnChild(target, process.execPath, [js, '--config', config, '--port', String(port), '--log-level', 'warn'], cpus);
  await waitForHealth(child, `http://127.0.0.1:${port}/health`, 30_000);
  return { child, port };
}

async function measure(target: string, rep: number): Promise<Window> {
  const mock = spawnChild('mock', process.execPath, [here('./realistic-upstream.js'), '--port', '0', '--chunks-min', String(chunksMin),
    '--chunks-max', String(chunksMax), '--gap-min-ms', String(gapMin), '--gap-max-ms', String(gapMax), '--tool-share',
    String(toolShare), '--partial-first', String(streams)], pin ? '1' : undefined);
  const children: Child[] = [mock];
  try {
    const mockPort = await waitForListening(mock);
    const { child, port } = await startTarget(target, mockPort);
    children.push(child);
    // Memory per open stream is the slope between a tenth of the streams and all of them: what the process holds
    // anyway once it served some (compiled code, pools, the heap's own headroom) is not charged to the streams.
    const clients = new Clients(`http://127.0.0.1:${port}/v1/chat/completions`);
    const few = Math.max(1, Math.floor(streams / 10));
    clients.add(few);
    await sleep(warmupS * 1000);
    const fewRss: number[] = [];
    for (let i = 0; i < 3; i++) {
      await sleep(1000);
      fewRss.push(rssBytes(child.pid));
    }
    const rssIdle = median(fewRss) ?? 0;
    const fewOpen = clients.open;
    clients.add(streams - few);
    await sleep(warmupS * 1000);
    const cpu0 = cpuNs(child.pid);
    const count0 = await counters(mockPort);
    const ok0 = clients.ok;
    const delivered0 = clients.delivered;
    const t0 = performance.now();
    const rss: number[] = [];
    const open: number[] = [];
    while (performance.now() - t0 < durationS * 1000) {
      await sleep(1000);
      rss.push(rssBytes(child.pid));
      open.push(clients.open);
    }
    const cpu1 = cpuNs(child.pid);
    const count1 = await counters(mockPort);
    const seconds = (performance.now() - t0) / 1000;
    const ended = clients.ok - ok0;
    const delivered = clients.delivered - delivered0;
    const failed = clients.failed;
    await clients.close();
    const chunks = count1.chunks - count0.chunks;
    const cpuUsPerChunk = (cpu1 - cpu0) / 1000 / Math.max(1, chunks);
    const rssLoaded = median(rss) ?? 0;
    const openMedian = median(open) ?? streams;
    return { target, rep, cpuUsPerChunk, cpuMsPerStream: (cpuUsPerChunk * meanChunks) / 1000, chunksPerSecond: chunks / seconds,
      deliveredPerSecond: delivered / seconds, cpuUsPerDelivered: (cpu1 - cpu0) / 1000 / Math.max(1, delivered), streamsEnded: ended, openStreams: openMedian, rssFewMiB: rssIdle / 2 ** 20, rssLoadedMiB: rssLoaded / 2 ** 20,
      kibPerOpenStream: (rssLoaded - rssIdle) / 1024 / Math.max(1, openMedian - fewOpen), failed };
  } finally {
    for (const child of children.reverse()) await stop(child);
  }
}

const windows: Window[] = [];
for (let rep = 1; rep <= reps; rep++) {
  const order = rep % 2 === 1 ? targets : [...targets].reverse();
  for (const target of order) {
    const w = await measure(target, rep);
    windows.push(w);
    process.stderr.write(`rep ${rep} ${target}: ${w.cpuUsPerChunk.toFixed(1)} µs/chunk, ${w.cpuMsPerStream.toFixed(1)} ms/stream, `
      + `${Math.round(w.chunksPerSecond)} chunks/s, ${Math.round(w.deliveredPerSecond)} delivered/s `
      + `(${w.cpuUsPerDelivered.toFixed(1)} µs each), ${w.openStreams} open, ${w.kibPerOpenStream.toFixed(1)} KiB/open stream, `
      + `${w.streamsEnded} ended, ${w.failed} failed\n`);
  }
}

const fmt = (value: number | null, digits = 1) => (value === null ? '–' : value.toFixed(digits));
const spreadOf = (values: number[], digits = 1) => {
  const r = range(values);
  return r ? `${r[0].toFixed(digits)}–${r[1].toFixed(digits)}` : '–';
};
const summary: Record<string, unknown> = { streams, reps, warmupS, durationS, chunksMin, chunksMax, gapMin, gapMax, toolShare, pinned: pin };
const baselineCpu = median(windows.filter((w) => w.target === 'baseline').map((w) => w.cpuUsPerChunk));
const baselineDelivered = median(windows.filter((w) => w.target === 'baseline').map((w) => w.cpuUsPerDelivered));
console.log(`\n${streams} concurrent streams, ${chunksMin}–${chunksMax} chunks per answer (mean ${meanChunks}), ${gapMin}–${gapMax} ms apart, `
  + `${Math.round(toolShare * 100)} % tool calls; ${reps} repetition(s) × ${durationS} s after ${warmupS} s; medians (range)`);
console.log('| target | CPU µs per chunk | CPU ms per stream | ÷ baseline | chunks/s | CPU µs per chunk delivered | ÷ baseline | delivered/s '
  + '| streams open | KiB per open stream | RSS at a tenth → all streams, MiB | failed |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const target of targets) {
  const mine = windows.filter((w) => w.target === target);
  const cpu = median(mine.map((w) => w.cpuUsPerChunk));
  const perStream = median(mine.map((w) => w.cpuMsPerStream));
  const kib = median(mine.map((w) => w.kibPerOpenStream));
  const ratio = cpu !== null && baselineCpu ? cpu / baselineCpu : null;
  const perDelivered = median(mine.map((w) => w.cpuUsPerDelivered));
  const deliveredRatio = perDelivered !== null && baselineDelivered ? perDelivered / baselineDelivered : null;
  console.log(`| ${target} | ${fmt(cpu)} (${spreadOf(mine.map((w) => w.cpuUsPerChunk))}) | ${fmt(perStream, 2)} (${spreadOf(mine.map((w) => w.cpuMsPerStream), 2)}) `
    + `| ${fmt(ratio, 2)} | ${fmt(median(mine.map((w) => w.chunksPerSecond)), 0)} `
    + `| ${fmt(perDelivered)} (${spreadOf(mine.map((w) => w.cpuUsPerDelivered))}) | ${fmt(deliveredRatio, 2)} `
    + `| ${fmt(median(mine.map((w) => w.deliveredPerSecond)), 0)} | ${fmt(median(mine.map((w) => w.openStreams)), 0)} `
    + `| ${fmt(kib)} (${spreadOf(mine.map((w) => w.kibPerOpenStream))}) | ${fmt(median(mine.map((w) => w.rssFewMiB)), 0)} → `
    + `${fmt(median(mine.map((w) => w.rssLoadedMiB)), 0)} | ${mine.reduce((a, w) => a + w.failed, 0)} |`);
  summary[target] = { cpu_us_per_chunk: cpu, cpu_ms_per_stream: perStream, cpu_ratio_vs_baseline: ratio,
    cpu_us_per_delivered_chunk: perDelivered, delivered_ratio_vs_baseline: deliveredRatio, kib_per_open_stream: kib };
}
console.log(JSON.stringify({ ...summary, windows }));
process.exit(0);
