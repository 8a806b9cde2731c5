/** Child processes of a bench run: spawned fresh, optionally pinned, always killed on exit, Ctrl-C or error. */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createServer } from 'node:net';
import { request } from 'undici';

const TAIL_BYTES = 64 * 1024;
const live = new Set<ChildProcess>();

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

function tail(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (s: string) => {
    text += s;
    if (text.length > TAIL_BYTES) text = text.slice(-TAIL_BYTES);
  });
  return () => text;
}

/** Whether a command is on the PATH (wrk, chrt). */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

/**
 * How a background load runs: at the idle scheduling class (chrt --idle, needs no privilege to lower), or at the
 * lowest nice level where chrt is missing. It then takes only CPU time nothing at normal priority wants.
 */
const BACKGROUND = onPath('chrt') ? ['chrt', '--idle', '0'] : ['nice', '-n', '19'];

/**
 * `cpus` (e.g. "0") runs the command under `taskset -c`; `background` under BACKGROUND. Both exec the command, so
 * the pid is the command's own.
 */
export function spawnChild(name: string, command: string, args: string[], cpus?: string, background = false): Child {
  const pinned = cpus === undefined ? [command, ...args] : ['taskset', '-c', cpus, command, ...args];
  const [cmd, ...argv] = background ? [...BACKGROUND, ...pinned] : pinned;
  // Each child keeps its embedded stores (the request log) in a folder of its own, removed when it ends: not the
  // checkout's ./data, where the file would grow from run to run, each run inserting into a larger file than the last,
  // and a user's /api/logs would list the bench's requests.
  const dataDir = mkdtempSync(join(tmpdir(), 'heimdall-bench-data-'));
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HEIMDALL_DATA_DIR: dataDir } });
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  live.add(proc);
  const ended = (code: number | null): number | null => {
    live.delete(proc);
    rmSync(dataDir, { recursive: true, force: true });
    return code;
  };
  const exited = new Promise<number | null>((resolve) => {
    // 'close', not 'exit': 'exit' may come before the last of stdout is read, and a busy machine then lost a load
    // generator's summary line (wrk failed with exit 0 and no output).
    proc.once('close', (code, signal) => resolve(ended(code ?? (signal ? -1 : null))));
    proc.once('error', () => resolve(ended(-1)));
  });
  return { name, proc, pid: proc.pid, exited, stdout: tail(proc.stdout), stderr: tail(proc.stderr) };
}

/** The child's last non-empty lines of output, stdout's then stderr's. */
export function lastLines(child: Child, count = 12): string[] {
  return `${child.stdout()}\n${child.stderr()}`.split('\n').filter((line) => line.trim() !== '').slice(-count);
}

function describe(child: Child): string {
  const out = lastLines(child).join('\n');
  return out ? `\n--- last output of ${child.name} ---\n${out}` : '';
}

/** Resolves with the port from the child's `LISTENING <port>` line. */
export async function waitForListening(child: Child, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    const match = /^LISTENING (\d+)$/m.exec(child.stdout());
    if (match) return Number(match[1]);
    if (exitCode !== undefined) throw new Error(`${child.name} exited (${exitCode}) before listening${describe(child)}`);
    await sleep(10);
  }
  throw new Error(`${child.name} did not print LISTENING within ${timeoutMs} ms${describe(child)}`);
}

/** Polls `GET url` until it answers 200. */
export async function waitForHealth(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${child.name} exited (${exitCode}) before ready${describe(child)}`);
    try {
      const res = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      await res.body.dump();
      if (res.statusCode === 200) return;
      last = `HTTP ${res.statusCode}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${child.name} not healthy at ${url} within ${timeoutMs} ms (last: ${last})${describe(child)}`);
}

/** Waits for a child that ends by itself (a load generator), killing it if it overruns. */
export async function runToEnd(child: Child, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'overrun'>((resolve) => (timer = setTimeout(() => resolve('overrun'), timeoutMs)));
  const outcome = await Promise.race([child.exited, overrun]);
  clearTimeout(timer);
  if (outcome === 'overrun') {
    await stop(child);
    throw new Error(`${child.name} ran past ${timeoutMs} ms and was killed${describe(child)}`);
  }
  return outcome;
}

export async function stop(child: Child, graceMs = 3000): Promise<void> {
  if (!live.has(child.proc)) return;
  child.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    child.exited.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (late) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

/** Kills every child still running, synchronously, so it can run from an 'exit' handler. */
export function killAll(): void {
  for (const proc of live) proc.kill('SIGKILL');
  live.clear();
}

/** A port free on 127.0.0.1 right now, for a child to listen on. */
export function freePort(): Promise<number> {
  return new Promise((resolveP, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolveP(address.port) : reject(new Error('no port'))));
    });
  });
}
