// The `heimdall` command as users and acceptance checks run it: built JS, a config file, flags, signals.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const MAIN = new URL('../../dist/src/main.js', import.meta.url).pathname;
const children: ChildProcess[] = [];

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (data) => { output += data; });
  child.stderr!.on('data', (data) => { output += data; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function listeningPort(started: Run): Promise<number> {
  const deadline = Date.now() + 15_000;
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

function configFile(content: string, name = 'config.json'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'heimdall-cli-')), name);
  writeFileSync(file, content);
  return file;
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('heimdall command', () => {
  it('starts on the embedded default config with no keys, answers mock/echo, and stops with exit 0 on SIGTERM', async () => {
    const gateway = run(['--port', '0', '--host', '127.0.0.1']);
    const port = await listeningPort(gateway);
    const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST', body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'first curl' }] }),
    });
    expect(response.status).toBe(200);
    const answer = await response.json() as { choices: { message: { content: string } }[] };
    expect(answer.choices[0].message.content).toBe('Echo: first curl');
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(gateway.output()).toContain('"msg":"stopped"');
  });

  it('runs on a YAML config given as --config, with PORT and HOST from the environment', async () => {
    const file = configFile('providers:\n  mock:\n    mock_config:\n      latency_ms: 1\nclient:\n  max_request_body_size_mb: 1\n', 'config.yaml');
    const gateway = run(['--config', file, '--log-level', 'info'], { PORT: '0', HOST: '127.0.0.1' });
    const port = await listeningPort(gateway);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(gateway.output()).toContain(`"source":"${file}"`);
  });

  it('logs the effective config with keys redacted and never prints a key', async () => {
    const file = configFile(JSON.stringify({
      providers: { openai: { keys: [{ value: 'env.MY_OPENAI_KEY', models: ['*'] }], network_config: { base_url: 'http://127.0.0.1:9' } } },
    }));
    const gateway = run(['--config', file, '--port', '0', '--host', '127.0.0.1'], { MY_OPENAI_KEY: 'sk-very-secret-value' });
    await listeningPort(gateway);
    expect(gateway.output()).toContain('effective config');
    expect(gateway.output()).toContain('"***"');
    expect(gateway.output()).not.toContain('sk-very-secret-value');
  });

  it('refuses a misspelt key with its path, a did-you-mean hint and exit code 2, without a stack trace', async () => {
    const file = configFile(JSON.stringify({ providers: { mock: { network_config: { base_urll: 'http://x' } } } }));
    const gateway = run(['--config', file, '--port', '0']);
    expect(await gateway.exited).toBe(2);
    expect(gateway.output()).toContain('providers.mock.network_config.base_urll');
    expect(gateway.output()).toContain("did you mean 'base_url'");
    expect(gateway.output()).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown flag and a bad port with exit code 2', async () => {
    const flag = run(['--prot', '9000']);
    expect(await flag.exited).toBe(2);
    expect(flag.output()).toContain('usage: heimdall');
    const port = run(['--port', 'eighty']);
    expect(await port.exited).toBe(2);
    expect(port.output()).toContain("--port must be a port number");
  });
});
