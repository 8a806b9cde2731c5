/**
 * Governance's cost and its budget bound, through real gateway processes (`dist/src/main.js`) in front of the
 * built-in mock provider:
 *
 *   cpu:        CPU µs per request of the gateway process (every thread) with a virtual key, a rate limit and a
 *               budget, against the same gateway without governance, side by side, alternating, `--reps` times;
 *               medians and ranges, and the ratio (goal ≤ 1.10). With `--redis URL`, the same with the counters in
 *               Redis, and the round trips per request from Redis's own command counts.
 *   overspend:  `--burst` (200) concurrent requests at a key whose budget has room for only a few; prints how many
 *               succeeded, what they cost, and the overspend against the stated bound (0: reservations hold the
 *               worst case, so spend can never pass the budget). With `--redis URL`, the burst is split over two
 *               gateway instances sharing the counters; and over one gateway of two processes without Redis, whose
 *               supervisor counts for both.
 *   cluster:    with `--cluster`, two more CPU modes on one gateway of two processes (CPU of the supervisor and both
 *               processes): without governance, and with the counters held by the supervisor (one IPC round trip
 *               per reservation).
 *   persisted:  with `--persisted`, two more CPU modes with the request log on (SQLite, content off): without
 *               governance, and with the in-memory counters whose spend is written to the log's store.
 *
 *   npx tsc -b && node dist/bench/governance.js [--reps 3] [--requests 20000] [--connections 32] [--burst 200] [--redis redis://127.0.0.1:6379] [--persisted] [--cluster]
 *
 * Prints the figures, then one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { Agent, Pool, request as undiciRequest } from 'undici';
import { bool, num, parseFlags, str } from './args.js';
import { freePort, killAll, spawnChild, stop, waitForHealth, type Child } from './children.js';
import { processTicks } from './procfs.js';

const flags = parseFlags(process.argv.slice(2));
const reps = num(flags, 'reps', 3);
const requests = num(flags, 'requests', 20_000);
const connections = num(flags, 'connections', 32);
const burst = num(flags, 'burst', 200);
const redisUrl = str(flags, 'redis', '');
const persisted = bool(flags, 'persisted');
const cluster = bool(flags, 'cluster');
const MAIN = new URL('../src/main.js', import.meta.url).pathname;
const KEY = 'sk-bf-bench-governance-key-0001';
const work = mkdtempSync(join(tmpdir(), 'heimdall-gov-bench-'));

// $1 per million input tokens, $2 per million output; the mock answers 10 prompt and 20 completion tokens.
const PRICES = [{ model_pattern: '*', match_type: 'wildcard', input_cost_per_token: 1e-6, output_cost_per_token: 2e-6,
  max_output_tokens: 4096 }];
const COST_USD = (10 * 1 + 20 * 2) / 1e6;
const BODY = JSON.stringify({ model: 'mock/echo', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] });

let stores = 0;
function config(governance: Record<string, unknown> | null, prefix = '', logged = false): Record<string, unknown> {
  return {
    // Access log and request log off, but in the `--persisted` modes: the figure is governance's own.
    client: { access_log: false, enable_logging: logged, disable_content_logging: true },
    ...(logged ? { logs_store: { enabled: true, type: 'sqlite', config: { path: join(work, `logs-${stores++}.db`) } } } : {}),
    providers: { mock: { mock_config: { latency_ms: 0, chunk_count: 1, chunk_interval_ms: 0, prompt_tokens: 10, completion_tokens: 20 },
      pricing_overrides: PRICES, concurrency_and_buffer_size: { concurrency: 1000, buffer_size: 5000, threads: 1 } } },
    ...(governance ? { governance: { ...governance, ...(redisUrl && prefix ? { state: { redis_url: redisUrl, key_prefix: prefix } } : {}) } } : {}),
  };
}

const governed = (maxUsd: number, usedUsd = 0) => ({
  budgets: [{ id: 'b', max_limit: maxUsd, reset_duration: '1d', current_usage: usedUsd }],
  rate_limits: [{ id: 'r', request_max_limit: 1e9, request_reset_duration: '1h' }],
  virtual_keys: [{ id: 'vk-bench', name: 'bench', value: KEY, budget_id: 'b', rate_limit_id: 'r',
    provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] }],
});

let files = 0;
async function startGateway(cfg: Record<string, unknown>, args: string[] = []): Promise<{ child: Child; url: string }> {
  const file = join(work, `config-${files++}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  const port = await freePort();
  const child = spawnChild('heimdall', process.execPath, [MAIN, '--config', file, '--port', String(port), '--host', '127.0.0.1',
    '--log-level', 'warn', ...args]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(child, `${url}/health`, 15_000);
  return { child, url };
}

/** Closed loop: `connections` requests in flight until `count` are answered; the statuses seen. */
async function load(url: string, count: number, headers: Record<string, string>): Promise<Map<number, number>> {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const statuses = new Map<number, number>();
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', body: BODY,
        headers: { 'content-type': 'application/json', ...headers } });
      await res.body.dump();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: connections }, lane));
  await pool.close();
  return statuses;
}

async function redisCommands(): Promise<number | null> {
  if (!redisUrl) return null;
  const client = createClient({ url: redisUrl });
  await client.connect();
  const info = await client.info('commandstats');
  await client.close();
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) calls += Number(match[2]);
  return calls;
}

/** CPU ticks of a process and its children (a supervisor and its gateway processes). */
function treeTicks(pid: number): number {
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n')
      .map((line) => Number(line.trim())).filter((child) => child > 0);
  } catch {
    // ps exits 1 when the process has no children: a single gateway process.
  }
  return [pid, ...children].reduce((sum, p) => sum + (processTicks(p) ?? 0), 0);
}

/** CPU µs per request of one gateway (every process of it) over `requests` requests, after a warm-up. */
async function cpuPerRequest(cfg: Record<string, unknown>, headers: Record<string, string>, args: string[] = []) {
  const { child, url } = await startGateway(cfg, args);
  try {
    await load(url, Math.min(2000, requests / 5), headers);
    const before = treeTicks(child.pid);
    const commandsBefore = await redisCommands();
    const started = performance.now();
    const statuses = await load(url, requests, headers);
    const seconds = (performance.now() - started) / 1000;
    const ticks = treeTicks(child.pid) - before;
    const commandsAfter = await redisCommands();
    const failed = requests - (statuses.get(200) ?? 0);
    if (failed > 0) console.log(`  (${failed} of ${requests} requests did not succeed: ${JSON.stringify([...statuses])})`);
    return { cpuUs: (ticks * 10_000) / requests, rps: requests / seconds,
      roundTrips: commandsBefore === null ? null : (commandsAfter! - commandsBefore) / requests };
  } finally {
    await stop(child);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;

async function cpuScenario() {
  const runs: Record<string, { cpuUs: number; rps: number; roundTrips: number | null }[]> = { none: [], memory: [], redis: [],
    'none+log': [], 'memory+log': [], 'none×2': [], 'memory×2': [] };
  const prefix = () => `heimdall:bench:${process.pid}:${Date.now()}:`;
  type Mode = readonly [string, () => ReturnType<typeof cpuPerRequest>];
  const modes: Mode[] = [
    ['none', () => cpuPerRequest(config(null), {})],
    ['memory', () => cpuPerRequest(config(governed(1e6)), { authorization: `Bearer ${KEY}` })],
  ];
  if (redisUrl) modes.push(['redis', () => cpuPerRequest(config(governed(1e6), prefix()), { authorization: `Bearer ${KEY}` })]);
  if (cluster) {
    const two = ['--processes', '2'];
    modes.push(['none×2', () => cpuPerRequest(config(null), {}, two)],
      ['memory×2', () => cpuPerRequest(config(governed(1e6)), { authorization: `Bearer ${KEY}` }, two)]);
  }
  if (persisted) {
    modes.push(['none+log', () => cpuPerRequest(config(null, '', true), {})],
      ['memory+log', () => cpuPerRequest(config(governed(1e6), '', true), { authorization: `Bearer ${KEY}` })]);
  }
  for (let rep = 0; rep < reps; rep++) {
    // The order rotates between repetitions, so that a machine getting busier does not always weigh on one mode.
    for (let i = 0; i < modes.length; i++) {
      const [name, run] = modes[(rep + i) % modes.length];
      runs[name].push(await run());
    }
  }
  const summary = Object.fromEntries(Object.entries(runs).filter(([, r]) => r.length > 0).map(([name, r]) => [name, {
    cpuUsMedian: median(r.map((x) => x.cpuUs)), cpuUsRange: range(r.map((x) => x.cpuUs)), rpsMedian: median(r.map((x) => x.rps)),
    roundTripsPerRequest: r[0].roundTrips,
  }]));
  console.log(`CPU µs per request (gateway process, ${requests} requests, ${connections} connections, ${reps} reps):`);
  for (const [name, s] of Object.entries(summary)) {
    // A mode with the request log on is compared with the one without governance that has it on too.
    const base = name.endsWith('+log') ? 'none+log' : name.endsWith('×2') ? 'none×2' : 'none';
    const ratio = s.cpuUsMedian / summary[base].cpuUsMedian;
    console.log(`  ${name.padEnd(10)} ${s.cpuUsMedian.toFixed(1)} µs (range ${s.cpuUsRange}), ${Math.round(s.rpsMedian)} req/s, `
      + `${ratio.toFixed(3)}× ${base}${s.roundTripsPerRequest !== null ? `, Redis commands per request ${s.roundTripsPerRequest.toFixed(2)}` : ''}`);
  }
  return summary;
}

/**
 * `burst` requests at once at a key with room for `room` of them; split over `instances` gateways sharing Redis, or
 * (`processes` 2) sent to one gateway of two processes counted by its supervisor.
 */
async function overspendScenario(instances: number, processes = 1) {
  const maxUsd = 0.01;
  // Room left: 5 worst cases (5 + 50 tokens... the worst case of BODY), so most of the burst must be refused.
  const worstUsd = (Buffer.byteLength(BODY) * 1 + 50 * 2) / 1e6;
  const usedUsd = maxUsd - 5 * worstUsd - 1e-6;
  const prefix = `heimdall:bench:overspend:${process.pid}:${Date.now()}:`;
  const gateways: { child: Child; url: string }[] = [];
  for (let i = 0; i < instances; i++) {
    gateways.push(await startGateway(config(governed(maxUsd, usedUsd), instances > 1 ? prefix : ''), ['--processes', String(processes)]));
  }
  try {
    const all = await Promise.all(Array.from({ length: burst }, async (_, i) => {
        // A new connection each, so that a gateway's processes share the burst.
      const agent = new Agent({ pipelining: 0 });
      const res = await undiciRequest(`${gateways[i % instances].url}/v1/chat/completions`, { method: 'POST', body: BODY,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, dispatcher: agent });
      await res.body.dump();
      await agent.close();
      return res.statusCode;
    }));
    const ok = all.filter((status) => status === 200).length;
    const refused = all.filter((status) => status === 402).length;
    const spent = usedUsd + ok * COST_USD;
    const overspend = Math.max(0, spent - maxUsd);
    const where = processes > 1 ? `1 instance of ${processes} processes, no Redis` : `${instances} instance${instances > 1 ? 's sharing Redis' : ''}`;
    console.log(`overspend (${burst} concurrent requests, ${where}): `
      + `budget $${maxUsd}, $${(maxUsd - usedUsd).toFixed(6)} left, worst case $${worstUsd.toFixed(6)}, real cost $${COST_USD.toFixed(6)}; `
      + `${ok} succeeded, ${refused} got 402, others ${burst - ok - refused}; spent $${spent.toFixed(6)}, overspend $${overspend.toFixed(6)} `
      + '(bound: $0 while a provider bills no more than the worst case)');
    return { instances, processes, burst, ok, refused, spentUsd: spent, maxUsd, overspendUsd: overspend, boundUsd: 0 };
  } finally {
    await Promise.all(gateways.map((g) => stop(g.child)));
  }
}

try {
  const overspend = [await overspendScenario(1), await overspendScenario(1, 2)];
  if (redisUrl) overspend.push(await overspendScenario(2));
  const cpu = await cpuScenario();
  console.log(JSON.stringify({ scenario: 'governance', cpu, overspend }));
} finally {
  killAll();
  rmSync(work, { recursive: true, force: true });
}
