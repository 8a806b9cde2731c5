// Runs the built `heimdall` command as users and acceptance checks do: a child process on a config file, its output
// collected, its port read from the start-up log line. Every child a test starts is killed after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const MAIN = new URL('../../dist/src/main.js', import.meta.url).pathname;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.spawnargs[0] === 'npm') killGroup(child.pid!);
    else if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

export interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** What a started gateway takes from the test's environment: PATH, and where its embedded stores go (test/data-dir.setup.ts). */
export function inherited(): Record<string, string> {
  const dataDir = process.env.HEIMDALL_DATA_DIR;
  return { PATH: process.env.PATH ?? '', ...(dataDir ? { HEIMDALL_DATA_DIR: dataDir } : {}) };
}

/**
 * The built command, or another copy of it at `main` (e.g. one installed from the packed package); `nodeFlags` go to
 * Node before the script, as an operator's `node --max-old-space-size=4096 dist/src/main.js` would.
 */
export function run(args: string[], env: Record<string, string> = {}, main = MAIN, nodeFlags: string[] = []): Run {
  return collected(spawn(process.execPath, [...nodeFlags, main, ...args], { env: { ...inherited(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** `npm start -- <args>` in the project's root, as the README's quick start runs the gateway. */
export function runNpmStart(args: string[], env: Record<string, string> = {}): Run {
  return collected(spawn('npm', ['start', '--', ...args], {
    cwd: ROOT, detached: true, env: { ...inherited(), HOME: process.env.HOME ?? ROOT, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/** npm runs in a process group of its own: whatever it started goes with it, even once npm itself has exited. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is empty already
  }
}

function collected(child: ChildProcess): Run {
  children.push(child);
  let output = '';
  child.stdout!.on('data', (data) => { output += data; });
  child.stderr!.on('data', (data) => { output += data; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function listeningPort(started: Run, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const line of started.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { port?: number; msg?: string };
      if (entry.msg?.startsWith('heimdall listening') && entry.port) return entry.port;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`gateway did not start:\n${started.output()}`);
}

export function configFile(content: string, name = 'config.json'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'heimdall-cli-')), name);
  writeFileSync(file, content);
  return file;
}
