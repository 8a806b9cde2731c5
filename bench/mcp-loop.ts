// Where the MCP clients live: on the front thread's event loop, or on a thread of their own. Runs the example MCP
// server (examples/mcp-server, over stdio) and calls its `repeat` tool with results of 1 KB, 100 KB and 1 MB, four
// calls at a time, with the client (a) on this thread and (b) on a worker thread that this thread posts calls to.
// Reports, for this thread only (the front's share): busy time per call (event-loop utilization), and the event
// loop's worst delay while the calls ran, which is what a request waiting on the front thread would see.
//
//   npx tsc -b && node dist/bench/mcp-loop.js [--calls 200]

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import pino from 'pino';
import type { McpConfig } from '../src/config/types.js';
import { McpConnections } from '../src/mcp/connections.js';

const SERVER = fileURLToPath(new URL('../../examples/mcp-server/server.mjs', import.meta.url));
const CONFIG: McpConfig = { agentDepth: 10, toolTimeoutMs: 30_000, clients: [{ name: 'ex', connectionType: 'stdio',
  command: process.execPath, args: [SERVER], env: {}, url: null, headers: {}, toolsToExecute: null, toolsToAutoExecute: [],
  ping: false, syncIntervalMs: 0 }] };
const SIZES = [1_000, 100_000, 1_000_000];
const CONCURRENCY = 4;

type Call = (bytes: number) => Promise<number>;

async function measure(call: Call, bytes: number, calls: number): Promise<{ busyUsPerCall: number; maxDelayMs: number; p99DelayMs: number }> {
  for (let i = 0; i < 10; i++) await call(bytes);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const before = performance.eventLoopUtilization();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < calls) await call(bytes);
  }));
  const elu = performance.eventLoopUtilization(before);
  delay.disable();
  return { busyUsPerCall: (elu.active * 1000) / calls, maxDelayMs: delay.max / 1e6, p99DelayMs: delay.percentile(99) / 1e6 };
}

async function onThisThread(): Promise<{ call: Call; close: () => Promise<void> }> {
  const connections = new McpConnections(CONFIG, pino({ level: 'silent' }));
  await connections.start();
  return {
    call: async (bytes) => (await connections.call('ex', 'repeat', { text: 'x', times: bytes }, 30_000)).content.length,
    close: () => connections.close(),
  };
}

async function onWorker(): Promise<{ call: Call; close: () => Promise<void> }> {
  const worker = new Worker(fileURLToPath(import.meta.url));
  await new Promise((resolve) => worker.once('message', resolve));
  const pending = new Map<number, (length: number) => void>();
  let id = 0;
  worker.on('message', (message: { id: number; content: string }) => {
    pending.get(message.id)?.(message.content.length);
    pending.delete(message.id);
  });
  return {
    call: (bytes) => new Promise((resolve) => {
      pending.set(++id, resolve);
      worker.postMessage({ id, bytes });
    }),
    close: async () => {
      await worker.terminate();
    },
  };
}

if (!isMainThread) {
  const connections = new McpConnections(CONFIG, pino({ level: 'silent' }));
  await connections.start();
  parentPort!.on('message', (message: { id: number; bytes: number }) => {
    void connections.call('ex', 'repeat', { text: 'x', times: message.bytes }, 30_000)
      .then((result) => parentPort!.postMessage({ id: message.id, content: result.content }));
  });
  parentPort!.postMessage('ready');
} else {
  const at = process.argv.indexOf('--calls');
  const calls = at > 0 ? Number(process.argv[at + 1]) : 200;
  const rows: string[] = [];
  for (const [where, start] of [['front event loop', onThisThread], ['worker thread', onWorker]] as const) {
    const setup = await start();
    for (const bytes of SIZES) {
      const m = await measure(setup.call, bytes, bytes >= 1_000_000 ? Math.max(20, calls / 10) : calls);
      rows.push(`| ${where} | ${bytes / 1000} KB | ${m.busyUsPerCall.toFixed(0)} | ${m.p99DelayMs.toFixed(1)} | ${m.maxDelayMs.toFixed(1)} |`);
    }
    await setup.close();
  }
  console.log('| MCP client on | result | front busy µs per call | loop delay p99 ms | loop delay max ms |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  process.exit(0);
}
