// Cluster mode as users run it: the built command with --processes, its processes found by parent pid, and a load
// generator that tells refused connections from requests lost in flight.
import { execFileSync, spawn } from 'node:child_process';
import { request, Agent } from 'node:http';
import { expect } from 'vitest';
import { configFile, inherited, listeningPort, run, type Run } from './cli-harness.js';

const MAIN = new URL('../../dist/src/main.js', import.meta.url).pathname;

export interface Cluster {
  gateway: Run;
  port: number;
  file: string;
}

export async function startCluster(config: object, args: string[] = [], env: Record<string, string> = {},
  startTimeoutMs?: number): Promise<Cluster> {
  const file = configFile(JSON.stringify(config));
  const gateway = run(['--config', file, '--port', '0', '--host', '127.0.0.1', ...args], env);
  return { gateway, port: await listeningPort(gateway, startTimeoutMs), file };
}

/** Like `run`, but in a process group of its own, so a test can signal the whole group as a terminal does. */
export function runInOwnGroup(args: string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { detached: true, env: inherited(),
    stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (data) => { output += data; });
  child.stderr.on('data', (data) => { output += data; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export function childPids(parent: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(parent)], { encoding: 'utf8' })
      .split('\n').map((line) => Number(line.trim())).filter((pid) => pid > 0);
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function logLines(gateway: Run): { msg?: string; [field: string]: unknown }[] {
  return gateway.output().split('\n').filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string });
}

export interface Answer {
  status: number;
  body: string;
}

const CHAT = JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hello' }] });

/** One chat request; `agent: false` opens a new connection for it. */
export function chat(port: number, agent: Agent | false = false, path = '/v1/chat/completions', body = CHAT,
  method = 'POST'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface Tally {
  ok: number;
  /** Answers other than 200, by status. */
  statuses: Record<string, number>;
  /** Failed requests by error code (ECONNREFUSED: the port refused a new connection). */
  errors: Record<string, number>;
}

/** `loops` clients sending chat requests back to back until `stop()`: new connections each, or kept alive. */
export function load(port: number, loops: number, keepAlive: boolean): { stop(): Promise<Tally>; tally: Tally } {
  const tally: Tally = { ok: 0, statuses: {}, errors: {} };
  let running = true;
  const clients = Array.from({ length: loops }, async () => {
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    while (running) {
      try {
        const answer = await chat(port, agent);
        if (answer.status === 200) tally.ok++;
        else tally.statuses[answer.status] = (tally.statuses[answer.status] ?? 0) + 1;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
        tally.errors[code] = (tally.errors[code] ?? 0) + 1;
      }
    }
    if (agent) agent.destroy();
  });
  return {
    tally,
    async stop() {
      running = false;
      await Promise.all(clients);
      return tally;
    },
  };
}

/** SIGTERM to the supervisor: it exits 0, and none of its processes is left. */
export async function stopAndCheckNoOrphans(cluster: Cluster): Promise<void> {
  const pids = childPids(cluster.gateway.child.pid!);
  expect(pids.length).toBeGreaterThan(0);
  cluster.gateway.child.kill('SIGTERM');
  expect(await cluster.gateway.exited).toBe(0);
  await until('every process to exit', () => pids.every((pid) => !alive(pid)), 10_000);
}
