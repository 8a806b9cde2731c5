/**
 * What the h2c port (src/http/h2c-bridge.ts) costs: CPU µs per request of one gateway process (every thread, the
 * bridge's included) in front of the built-in mock, for the same chat request sent over HTTP/1.1 to the gateway's
 * port and over HTTP/2 cleartext to its h2c port, side by side, alternating, `--reps` times; medians, ranges and the
 * ratio. HTTP/1.1 load: an undici Pool of `--connections` kept-alive connections. h2c load: as many HTTP/2 sessions,
 * one stream in flight on each (what the AWS SDK's default handler does: `disableConcurrentStreams`). For scale, the
 * floor: the same h2c load against a bare node:http2 server in a process of its own that answers a fixed chat
 * completion at once (what HTTP/2 in Node costs before any gateway work).
 *
 *   npx tsc -b && node dist/bench/h2c.js [--reps 3] [--requests 5000] [--connections 32] [--stream] [--before MAIN_JS]
 *
 * `--before` names another build's dist/src/main.js (a worktree of the commit before a change, built): its gateway
 * runs beside this one, and its h2c port is a fourth mode, `h2c before`, so a change is measured against what it
 * replaces in the same run.
 *
 * Prints the figures, then one JSON line.
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { bool, num, parseFlags, str } from './args.js';
import { freePort, killAll, spawnChild, stop, waitForHealth, waitForListening } from './children.js';
import { processTicks } from './procfs.js';

const flags = parseFlags(process.argv.slice(2));
const reps = num(flags, 'reps', 3);
const requests = num(flags, 'requests', 5_000);
const connections = num(flags, 'connections', 32);
const streamed = bool(flags, 'stream');
const before = str(flags, 'before', '');
const MAIN = new URL('../src/main.js', import.meta.url).pathname;
const BODY = JSON.stringify({ model: 'mock/echo', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }], stream: streamed });
const work = mkdtempSync(join(tmpdir(), 'heimdall-h2c-bench-'));
const ANSWER = JSON.stringify({ id: 'chatcmpl-floor', object: 'chat.completion', created: 0, model: 'echo',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Echo: hello' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } });

/** The floor's server (this file run with `--floor-server PORT`): reads each body, answers ANSWER. */
async function floorServer(port: number): Promise<void> {
  const { createServer } = await import('node:http2');
  const server = createServer();
  server.on('stream', (stream) => {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': Buffer.byteLength(ANSWER) });
      stream.end(ANSWER);
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`LISTENING ${port}`));
}

type Lane = () => Promise<number>;

/** Closed loop: `connections` lanes, each one request in flight, until `count` are answered; the non-200 count. */
async function drive(count: number, lane: Lane): Promise<number> {
  let sent = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (sent < count) {
      sent++;
      if ((await lane()) !== 200) failed++;
    }
  }));
  return failed;
}

function http1(url: string): { lane: Lane; close: () => Promise<void> } {
  const pool = new Pool(url, { connections, pipelining: 1 });
  return {
    lane: async () => {
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', body: BODY, headers: { 'content-type': 'application/json' } });
      await res.body.dump();
      return res.statusCode;
    },
    close: () => pool.close(),
  };
}

function http2(url: string): { lane: Lane; close: () => Promise<void> } {
  const sessions: ClientHttp2Session[] = Array.from({ length: connections }, () => connect(url));
  let next = 0;
  return {
    lane: () => new Promise<number>((resolve, reject) => {
      const session = sessions[next++ % sessions.length];
      const stream = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(BODY)) });
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', () => undefined);
      stream.on('end', () => resolve(status));
      stream.on('error', reject);
      stream.end(BODY);
    }),
    close: async () => {
      await Promise.all(sessions.map((session) => new Promise<void>((done) => session.close(() => done()))));
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;

async function main() {
  const file = join(work, 'config.json');
  writeFileSync(file, JSON.stringify({ client: { access_log: false, enable_logging: false },
    providers: { mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 },
      concurrency_and_buffer_size: { concurrency: 1000, buffer_size: 5000, threads: 1 } } } }));
  const port = await freePort();
  const h2cPort = await freePort();
  const child = spawnChild('heimdall', process.execPath, [MAIN, '--config', file, '--port', String(port), '--h2c-port', String(h2cPort),
    '--host', '127.0.0.1', '--log-level', 'warn']);
  const floorPort = await freePort();
  const floor = spawnChild('floor', process.execPath, [new URL(import.meta.url).pathname, '--floor-server', String(floorPort)]);
  const [beforePort, beforeH2cPort] = before ? [await freePort(), await freePort()] : [0, 0];
  const old = before ? spawnChild('before', process.execPath, [before, '--config', file, '--port', String(beforePort),
    '--h2c-port', String(beforeH2cPort), '--host', '127.0.0.1', '--log-level', 'warn']) : null;
  try {
    await waitForHealth(child, `http://127.0.0.1:${port}/health`, 15_000);
    if (old) await waitForHealth(old, `http://127.0.0.1:${beforePort}/health`, 15_000);
    await waitForListening(floor);
    const modes: Record<string, () => { lane: Lane; close: () => Promise<void> }> = { 'HTTP/1.1': () => http1(`http://127.0.0.1:${port}`),
      h2c: () => http2(`http://127.0.0.1:${h2cPort}`), 'h2c floor': () => http2(`http://127.0.0.1:${floorPort}`),
      ...(old ? { 'h2c before': () => http2(`http://127.0.0.1:${beforeH2cPort}`) } : {}) };
    const pids: Record<string, number> = { 'HTTP/1.1': child.pid!, h2c: child.pid!, 'h2c floor': floor.pid!, ...(old ? { 'h2c before': old.pid! } : {}) };
    const names = Object.keys(modes);
    const runs: Record<string, { cpuUs: number; rps: number }[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (let rep = 0; rep < reps; rep++) {
      // The order rotates, so that a machine getting busier does not always weigh on one mode.
      for (let i = 0; i < names.length; i++) {
        const name = names[(rep + i) % names.length];
        const client = modes[name]();
        await drive(Math.min(1000, requests / 5), client.lane);
        const before = processTicks(pids[name])!;
        const started = performance.now();
        const failed = await drive(requests, client.lane);
        const seconds = (performance.now() - started) / 1000;
        const ticks = processTicks(pids[name])! - before;
        await client.close();
        if (failed > 0) console.log(`  (${failed} of ${requests} ${name} requests did not answer 200)`);
        runs[name].push({ cpuUs: (ticks * 10_000) / requests, rps: requests / seconds });
      }
    }
    const summary = Object.fromEntries(names.map((name) => [name, { cpuUsMedian: median(runs[name].map((r) => r.cpuUs)),
      cpuUsRange: range(runs[name].map((r) => r.cpuUs)), rpsMedian: median(runs[name].map((r) => r.rps)) }]));
    console.log(`CPU µs per ${streamed ? 'streamed ' : ''}request (gateway process, ${requests} requests, ${connections} connections, ${reps} reps):`);
    for (const name of names) {
      const s = summary[name];
      console.log(`  ${name.padEnd(10)} ${s.cpuUsMedian.toFixed(1)} µs (range ${s.cpuUsRange}), ${Math.round(s.rpsMedian)} req/s, `
        + `${(s.cpuUsMedian / summary['HTTP/1.1'].cpuUsMedian).toFixed(2)}× HTTP/1.1`);
    }
    console.log(JSON.stringify({ scenario: 'h2c', streamed, requests, connections, reps, summary, runs }));
  } finally {
    await Promise.all([stop(child), stop(floor), ...(old ? [stop(old)] : [])]);
  }
}

try {
  if (flags.has('floor-server')) await floorServer(num(flags, 'floor-server', 0));
  else await main();
} finally {
  if (!flags.has('floor-server')) {
    killAll();
    rmSync(work, { recursive: true, force: true });
  }
}
