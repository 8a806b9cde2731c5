/**
 * Overload: floods one provider whose upstream accepts connections and never answers, and prints what the flood
 * costs Heimdall in memory. Figures, not pass/fail: the claim is that memory is bounded by `concurrency` and
 * `buffer_size` (with drop_excess_requests) or by the requests the clients keep open (without it), not by how many
 * were sent.
 *
 *   npx tsc -b && node dist/bench/overload.js [--requests 20000] [--connections 4000] [--concurrency 100]
 *     [--buffer 1000] [--timeout-s 10] [--variants drop,wait]
 *
 * Variants: `drop` (client.drop_excess_requests: true: the excess gets 429 at once) and `wait` (false: every
 * request waits for a slot until default_request_timeout_in_seconds, then gets 504). Each runs a fresh Heimdall.
 * The client side is this process: an undici Pool of `--connections` sockets (the per-process file limit caps it),
 * so requests beyond that wait here, not in the gateway.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { num, parseFlags, str } from './args.js';
import { freePort, killAll, spawnChild, stop, waitForHealth, type Child } from './children.js';
import { peakRssMiB } from './procfs.js';
import { median } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const requests = Math.floor(num(flags, 'requests', 20_000));
const connections = Math.floor(num(flags, 'connections', 4_000));
const concurrency = Math.floor(num(flags, 'concurrency', 100));
const bufferSize = Math.floor(num(flags, 'buffer', 1_000));
const timeoutS = Math.max(1, Math.floor(num(flags, 'timeout-s', 10)));
const variants = str(flags, 'variants', 'drop,wait').split(',').filter(Boolean);

const MAIN = new URL('../src/main.js', import.meta.url).pathname;
const BODY = JSON.stringify({ model: 'hung/gpt-4o-mini', messages: [{ role: 'user', content: 'are you there?' }] });

/** Resident set size in MiB right now, or null once the process is gone. */
function rssMiB(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** An upstream that takes every connection and every request and never answers any. */
async function startHungUpstream(): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('the hung upstream has no port');
  return {
    port: address.port,
    sockets,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

async function startHeimdall(upstreamPort: number, drop: boolean): Promise<{ child: Child; url: string }> {
  const config = {
    client: { drop_excess_requests: drop, shutdown_grace_seconds: 0 },
    providers: {
      hung: {
        keys: [{ value: 'sk-bench', models: ['*'] }],
        custom_provider_config: { base_provider_type: 'openai' },
        network_config: { base_url: `http://127.0.0.1:${upstreamPort}`, default_request_timeout_in_seconds: timeoutS },
        concurrency_and_buffer_size: { concurrency, buffer_size: bufferSize, threads: 1 },
      },
    },
  };
  const file = join(mkdtempSync(join(tmpdir(), 'heimdall-overload-')), 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const port = await freePort();
  const child = spawnChild('heimdall', process.execPath, [MAIN, '--config', file, '--port', String(port), '--host', '127.0.0.1',
    '--log-level', 'error']);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(child, `${url}/health`, 30_000);
  return { child, url };
}

const fmt = (value: number | null, digits = 0): string => (value === null ? '—' : value.toFixed(digits));

async function runVariant(variant: string): Promise<void> {
  const drop = variant === 'drop';
  if (!drop && variant !== 'wait') throw new Error(`unknown variant '${variant}' (drop, wait)`);
  const upstream = await startHungUpstream();
  const { child, url } = await startHeimdall(upstream.port, drop);
  const client = new Pool(url, { connections, pipelining: 1, headersTimeout: (timeoutS + 30) * 1000, bodyTimeout: 0 });
  try {
    const idleRss = rssMiB(child.pid);
    // Open the client's sockets first, so the flood measures the gateway's queueing, not TCP connection set-up.
    await Promise.all(Array.from({ length: connections }, async () => {
      const response = await client.request({ path: '/health', method: 'GET' });
      await response.body.dump();
    }));
    const connectedRss = rssMiB(child.pid);
    let peakRss = connectedRss ?? 0;
    let peakUpstream = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssMiB(child.pid) ?? 0);
      peakUpstream = Math.max(peakUpstream, upstream.sockets.size);
    }, 50);

    const statuses = new Map<string, number>();
    const latencyByStatus = new Map<string, number[]>();
    const started = performance.now();
    await Promise.all(Array.from({ length: requests }, async () => {
      const sent = performance.now();
      let key: string;
      try {
        const response = await client.request({ path: '/v1/chat/completions', method: 'POST',
          headers: { 'content-type': 'application/json' }, body: BODY });
        await response.body.dump();
        key = String(response.statusCode);
      } catch (error) {
        key = (error as { code?: string }).code ?? 'failed';
      }
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      const list = latencyByStatus.get(key) ?? [];
      list.push(performance.now() - sent);
      latencyByStatus.set(key, list);
    }));
    const elapsedS = (performance.now() - started) / 1000;
    clearInterval(sampler);
    // Give the gateway a moment to drop what it held for the flood, then read its resident size again.
    await sleep(2_000);
    const afterRss = rssMiB(child.pid);
    const highWater = peakRssMiB(child.pid);

    console.log(`\n${variant}: drop_excess_requests ${drop}, ${requests} requests over ${connections} connections, `
      + `concurrency ${concurrency}, buffer ${bufferSize}, timeout ${timeoutS} s — ${elapsedS.toFixed(1)} s`);
    for (const [status, count] of [...statuses].sort()) {
      console.log(`  ${status.padEnd(6)} ${String(count).padStart(6)}   median ${fmt(median(latencyByStatus.get(status)!), 1)} ms from send (waiting here for a free socket included)`);
    }
    console.log(`  Heimdall RSS MiB: idle ${fmt(idleRss, 1)}, ${connections} client connections open ${fmt(connectedRss, 1)}, `
      + `flood peak ${fmt(peakRss, 1)} (high-water ${fmt(highWater, 1)}), 2 s after ${fmt(afterRss, 1)}`);
    console.log(`  flood peak over connected, per request sent: ${fmt(((peakRss - (connectedRss ?? 0)) * 1024 * 1024) / requests, 0)} bytes`);
    console.log(`  upstream connections held at most: ${peakUpstream}`);
  } finally {
    await client.close();
    await stop(child);
    await upstream.close();
  }
}

process.on('exit', killAll);
for (const variant of variants) await runVariant(variant);
