// The `heimdall` command as users and acceptance checks run it: built JS, a config file, flags, signals.
import { describe, expect, it } from 'vitest';
import { configFile, listeningPort, run, runNpmStart } from './cli-harness.js';

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

  it('under `npm start`, a SIGTERM sent to npm (as a supervisor sends it) stops the gateway and frees its port', async () => {
    const started = runNpmStart(['--port', '0', '--host', '127.0.0.1']);
    const port = await listeningPort(started);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain('"msg":"stopped"');
    // Nothing left behind listening: a gateway orphaned by its npm would still answer.
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
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

  it('logs a failed request on both threads with its request id, batched yet flushed within a moment', async () => {
    const gateway = run(['--port', '0', '--host', '127.0.0.1', '--log-level', 'debug']);
    const port = await listeningPort(gateway);
    const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST', headers: { 'x-request-id': 'req-log-check-1' },
      body: JSON.stringify({ model: 'mock/error-503', messages: [{ role: 'user', content: 'fail please' }] }),
    });
    expect(response.status).toBe(503);
    // Lines wait in a buffer for at most LOG_FLUSH_MS (100 ms): well within this wait, with no further traffic.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const all = gateway.output().split('\n').filter((line) => line.includes('req-log-check-1'))
      .map((line) => JSON.parse(line) as { thread: string; requestId: string; code?: string; log?: string; errorCode?: string });
    // Besides the failure's lines, the request's access line.
    expect(all.filter((line) => line.log === 'access').map((line) => line.errorCode)).toEqual(['upstream_unavailable']);
    const lines = all.filter((line) => line.log !== 'access');
    expect(lines.map((line) => line.thread).sort()).toEqual(['front', 'worker']);
    expect(lines.every((line) => line.requestId === 'req-log-check-1' && line.code === 'UPSTREAM_UNAVAILABLE')).toBe(true);
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
