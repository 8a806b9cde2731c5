/**
 * What MCP tools in requests cost the gateway: CPU per chat request (every thread of the gateway process, from
 * /proc) with no MCP at all, and with an MCP catalog of N tools injected into every request (none auto-executed:
 * injection alone, one upstream call per request). With `--base REV`, the same gateway built from that git revision
 * (before MCP existed) runs too, so "no MCP" can be compared with a gateway that has no MCP code at all. A last
 * variant has no MCP but the client sends the same N tools itself: the cost of a request that big, which injection
 * should not exceed.
 * Non-streaming chat, closed loop, the gateway pinned to CPU 0 and the mock and load generator to CPU 1 (when there
 * are two); fresh processes per measurement, the variants interleaved in each repetition; median and range.
 *
 *   npm run bench:mcp                # = tsc -b && node dist/bench/mcp.js
 *   node dist/bench/mcp.js [--tools 50] [--reps 3] [--duration 5] [--warmup 2] [--connections 64] [--base main]
 *                          [--generator auto|wrk|node]
 *
 * The catalog is synthetic (in the gateway process, as src/mcp/catalog.ts's interface): what is measured is the
 * request path's work with the tools (their copy into the body, the job's encoding to the worker, the upstream
 * body), not an MCP server's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { num, parseFlags, str } from './args.js';
import { killAll, spawnChild, stop, waitForListening, type Child } from './children.js';
import { pickGenerator, runLoad, type GeneratorKind } from './generators.js';
import { cpuSnapshot } from './procfs.js';
import { alignedColumns, median, range, ratio } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = resolve(HERE, '../..');

/** A tool as MCP servers describe theirs: a sentence of description, a few typed arguments. */
function syntheticTool(i: number) {
  return Object.freeze({
    name: `server${i % 5}_tool_${i}`,
    client: `server${i % 5}`,
    tool: `tool_${i}`,
    description: `Tool number ${i}: looks up a record by its id and returns its fields as JSON, or an error when missing.`,
    inputSchema: Object.freeze({
      type: 'object',
      properties: {
        id: { type: 'string', description: 'The record id' },
        fields: { type: 'array', items: { type: 'string' }, description: 'Which fields to return' },
        limit: { type: 'integer', minimum: 1, maximum: 100 },
      },
      required: ['id'],
    }),
    autoExecute: false,
  });
}

/** A tool as a client sends it in a chat request. */
function chatTool(tool: ReturnType<typeof syntheticTool>) {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.inputSchema } };
}

/** The gateway child: `--dist` is the built tree to run (this one's, or the base revision's). */
async function runGateway(): Promise<void> {
  const dist = str(flags, 'dist', resolve(HERE, '..'));
  const toolCount = num(flags, 'tools', 0);
  const upstream = num(flags, 'upstream', 0);
  const { loadConfig } = await import(pathToFileURL(join(dist, 'src/config/load.js')).href) as typeof import('../src/config/load.js');
  const { startGateway } = await import(pathToFileURL(join(dist, 'src/gateway.js')).href) as typeof import('../src/gateway.js');
  const { default: pino } = await import('pino');
  const tools = Array.from({ length: toolCount }, (_, i) => syntheticTool(i));
  const catalog = {
    version: 1,
    tools: () => tools,
    get: (name: string) => tools.find((tool) => tool.name === name),
    execute: () => Promise.reject(new Error('no tool runs in this bench')),
  };
  const config = await loadConfig({
    raw: { providers: { openai: { keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
      network_config: { base_url: `http://127.0.0.1:${upstream}` },
      concurrency_and_buffer_size: { concurrency: 1000, buffer_size: 5000, threads: 1 } } } },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }), ...(toolCount > 0 ? { mcpCatalog: catalog } : {}) });
  process.stdout.write(`LISTENING ${gateway.port}\n`);
  process.once('SIGTERM', () => void gateway.close(1000).then(() => process.exit(0)));
}

interface Variant {
  name: string;
  dist: string;
  /** MCP tools in the gateway's catalog. */
  tools: number;
  /** Tools the client sends in its request. */
  sent: number;
}

interface Measured {
  variant: string;
  cpuUs: number;
  rps: number;
  failed: number;
}

/** The base revision built in a temporary directory (node_modules shared); removed at the end. */
function buildBase(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-base-'));
  execFileSync('sh', ['-c', `git -C "${REPO}" archive "${rev}" | tar -x -C "${dir}"`]);
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  execFileSync('npx', ['tsc', '-b'], { cwd: dir, stdio: 'inherit' });
  return dir;
}

async function measure(variant: Variant, upstream: number, generator: GeneratorKind, pins: { gateway?: string; load?: string }):
  Promise<Measured> {
  const args = [fileURLToPath(import.meta.url), '--role', 'gateway', '--dist', variant.dist, '--tools', String(variant.tools),
    '--upstream', String(upstream)];
  const gateway: Child = spawnChild(`gateway (${variant.name})`, process.execPath, args, pins.gateway);
  try {
    const port = await waitForListening(gateway, 30_000);
    const spec = { url: `http://127.0.0.1:${port}/v1/chat/completions`, headers: {}, connections: num(flags, 'connections', 64),
      cpus: pins.load, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'What is the weather?' }],
        ...(variant.sent > 0 ? { tools: Array.from({ length: variant.sent }, (_, i) => chatTool(syntheticTool(i))) } : {}) }) };
    const loadgen = join(HERE, 'loadgen.js');
    await runLoad(generator, { ...spec, seconds: num(flags, 'warmup', 2) }, tmpdir(), loadgen);
    const before = cpuSnapshot(gateway.pid);
    const result = await runLoad(generator, { ...spec, seconds: num(flags, 'duration', 5) }, tmpdir(), loadgen);
    const after = cpuSnapshot(gateway.pid);
    let ns = 0;
    for (const [tid, total] of after) ns += total - (before.get(tid) ?? 0);
    return { variant: variant.name, cpuUs: ns / 1000 / Math.max(1, result.requests), rps: result.rps, failed: result.requests - result.ok + result.errors };
  } finally {
    await stop(gateway);
  }
}

async function main(): Promise<void> {
  const toolCount = num(flags, 'tools', 50);
  const reps = num(flags, 'reps', 3);
  const rev = str(flags, 'base', '');
  const generator = pickGenerator(str(flags, 'generator', 'auto'));
  const twoCpus = availableParallelism() >= 2;
  const pins = twoCpus ? { gateway: '0', load: '1' } : {};
  const here = resolve(HERE, '..');
  const base = rev ? buildBase(rev) : null;
  const variants: Variant[] = [
    ...(base ? [{ name: `base ${rev}`, dist: join(base, 'dist'), tools: 0, sent: 0 }] : []),
    { name: 'no MCP', dist: here, tools: 0, sent: 0 },
    { name: `${toolCount} MCP tools`, dist: here, tools: toolCount, sent: 0 },
    { name: `${toolCount} client tools`, dist: here, tools: 0, sent: toolCount },
  ];
  const mock = spawnChild('mock', process.execPath, [join(HERE, 'mock-upstream.js'), '--port', '0'], pins.load);
  const all: Measured[] = [];
  try {
    const upstream = await waitForListening(mock);
    for (let rep = 1; rep <= reps; rep++) {
      for (const variant of variants) {
        const m = await measure(variant, upstream, generator, pins);
        all.push(m);
        process.stderr.write(`[mcp] rep ${rep}/${reps} ${variant.name.padEnd(16)} ${m.cpuUs.toFixed(1)} µs CPU/req, ${m.rps.toFixed(0)} req/s` +
          `${m.failed ? `, ${m.failed} failed` : ''}\n`);
      }
    }
  } finally {
    await stop(mock);
    if (base) rmSync(base, { recursive: true, force: true });
  }
  const noMcp = median(all.filter((m) => m.variant === 'no MCP').map((m) => m.cpuUs));
  const rows = variants.map((variant) => {
    const mine = all.filter((m) => m.variant === variant.name);
    const cpu = median(mine.map((m) => m.cpuUs));
    const spreadOf = range(mine.map((m) => m.cpuUs));
    return [variant.name, cpu?.toFixed(1) ?? '-', spreadOf ? `${spreadOf[0].toFixed(1)}–${spreadOf[1].toFixed(1)}` : '-',
      ratio(cpu, noMcp)?.toFixed(3) ?? '-', cpu !== null && noMcp !== null ? (cpu - noMcp).toFixed(1) : '-',
      median(mine.map((m) => m.rps))?.toFixed(0) ?? '-'];
  });
  const lines = alignedColumns(['variant', 'CPU µs/req', 'range', '÷ no MCP', '+ µs', 'req/s'], rows);
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'mcp', generator, pinned: twoCpus, tools: toolCount, reps, measurements: all })}\n`);
  if (all.some((m) => m.failed > 0)) process.exitCode = 1;
}

process.once('exit', killAll);
if (str(flags, 'role', '') === 'gateway') await runGateway();
else await main();
