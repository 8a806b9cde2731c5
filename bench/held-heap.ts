/**
 * What a request costs the front thread's heap while a slow provider holds it: the figure behind the isolation
 * scenario's slow neighbour, where every scavenge copies that state, and one that does not move with the machine's
 * noise (bytes, not milliseconds).
 *
 * A mock that answers after a minute, Heimdall in front of it, two heap snapshots of the front thread
 * (--heapsnapshot-signal): one with `--warm` requests held, one after `--held` more. The difference of the two heaps
 * (every node's self size; a snapshot collects garbage first) divided by `--held` is printed, with what it is made of.
 *
 *   node dist/bench/held-heap.js [--held 2000] [--warm 300] [--heimdall-js dist/src/main.js]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { num, parseFlags, str } from './args.js';
import { freePort, killAll, spawnChild, stop, waitForHealth, waitForListening, type Child } from './children.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const flags = parseFlags(process.argv.slice(2));
const held = num(flags, 'held', 2000);
const warm = num(flags, 'warm', 300);
const heimdallJs = resolve(str(flags, 'heimdall-js', join(HERE, '../src/main.js')));
const UPSTREAM_LATENCY_MS = 60_000;

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Self sizes of a snapshot by kind of node ("object:ProviderCall", "string", "closure:…"), and their count. */
function heapByKind(file: string): Map<string, { count: number; bytes: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < heap.nodes.length; i += fields.length) {
    const type = types[heap.nodes[i + typeAt]];
    // Strings are named by their contents: one kind for all of them.
    const kind = type.includes('string') ? 'string' : `${type}:${heap.strings[heap.nodes[i + nameAt]].slice(0, 40)}`;
    const entry = kinds.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.nodes[i + sizeAt];
    kinds.set(kind, entry);
  }
  return kinds;
}

/** Signals the gateway to write a snapshot and returns its path once written (the gateway answers again then). */
async function snapshot(gateway: Child, dir: string, healthUrl: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  gateway.proc.kill('SIGUSR2');
  for (;;) {
    await sleep(200);
    const written = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (written.length === 0) continue;
    // The front thread writes the snapshot synchronously: once it answers, the file is complete.
    await waitForHealth(gateway, healthUrl, 120_000);
    return join(dir, written[0]);
  }
}

/** Sends `count` requests that the slow provider will hold, without waiting for their answers. */
function hold(pool: Pool, count: number): void {
  const body = JSON.stringify({ model: 'slow/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, how are you today?' }] });
  for (let i = 0; i < count; i++) {
    pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body })
      .then((res) => res.body.dump(), () => undefined);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-held-'));
  const mock = spawnChild('mock-slow', process.execPath, [join(HERE, 'mock-upstream.js'), '--port', '0', '--latency-ms', String(UPSTREAM_LATENCY_MS)]);
  const mockPort = await waitForListening(mock);
  const config = join(dir, 'heimdall.json');
  writeFileSync(config, JSON.stringify({
    providers: {
      slow: {
        custom_provider_config: { base_provider_type: 'openai', is_key_less: true },
        network_config: { base_url: `http://127.0.0.1:${mockPort}`, max_conns_per_host: 10_000, default_request_timeout_in_seconds: 300 },
        concurrency_and_buffer_size: { concurrency: 20_000, buffer_size: 20_000 },
      },
    },
  }));
  const port = await freePort();
  const gateway = spawnChild('heimdall', process.execPath, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`, heimdallJs,
    '--config', config, '--port', String(port), '--log-level', 'warn']);
  const healthUrl = `http://127.0.0.1:${port}/health`;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: warm + held + 10, headersTimeout: 0, bodyTimeout: 0 });
  try {
    await waitForHealth(gateway, healthUrl, 20_000);
    hold(pool, warm);
    await sleep(2_000);
    const before = heapByKind(await snapshot(gateway, dir, healthUrl));
    hold(pool, held);
    await sleep(2_000 + held);
    const after = heapByKind(await snapshot(gateway, dir, healthUrl));
    const growth = [...after].map(([kind, a]) => {
      const b = before.get(kind) ?? { count: 0, bytes: 0 };
      return { kind, count: (a.count - b.count) / held, bytes: (a.bytes - b.bytes) / held };
    }).sort((x, y) => y.bytes - x.bytes);
    const total = growth.reduce((sum, g) => sum + g.bytes, 0);
    console.log(`front thread's heap per request held by a slow provider: ${total.toFixed(0)} bytes`
      + ` (${held} requests held beside ${warm}; ${heimdallJs})`);
    console.log('  bytes  objects  kind');
    for (const g of growth.filter((g) => g.bytes >= 8)) {
      console.log(`${g.bytes.toFixed(0).padStart(7)}  ${g.count.toFixed(2).padStart(7)}  ${g.kind}`);
    }
    console.log(JSON.stringify({ held_heap_bytes_per_request: Math.round(total), held, warm }));
  } finally {
    await pool.destroy();
    await stop(gateway);
    await stop(mock);
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('exit', killAll);
main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
