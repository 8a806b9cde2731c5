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

  it('starts with a short summary, the whole config only at debug, and never prints a secret', async () => {
    const file = configFile(JSON.stringify({
      providers: { openai: { keys: [{ value: 'env.MY_OPENAI_KEY', models: ['*'] }],
        network_config: { base_url: 'http://gw:url-password@127.0.0.1:9', extra_headers: { Cookie: 'sid=cookie-secret' } } } },
    }));
    const env = { MY_OPENAI_KEY: 'sk-very-secret-value' };
    const info = run(['--config', file, '--port', '0', '--host', '127.0.0.1'], env);
    await listeningPort(info);
    expect(info.output()).toContain('"msg":"providers: openai: 1 key, 1 thread, http://gw:***@127.0.0.1:9"');
    expect(info.output()).not.toContain('effective config');

    const debug = run(['--config', file, '--port', '0', '--host', '127.0.0.1', '--log-level', 'debug'], env);
    await listeningPort(debug);
    const dump = debug.output().split('\n').find((line) => line.includes('"msg":"effective config"'));
    expect(dump).toContain('"value":"***"');
    for (const output of [info.output(), debug.output()]) {
      for (const secret of ['sk-very-secret-value', 'url-password', 'cookie-secret']) expect(output).not.toContain(secret);
    }
  });

  it('refuses a setting it cannot enforce (required headers) with its name and exit code 2', async () => {
    const file = configFile(JSON.stringify({ client: { required_headers: ['x-tenant'] }, providers: { mock: {} } }));
    const gateway = run(['--config', file, '--port', '0']);
    expect(await gateway.exited).toBe(2);
    expect(gateway.output()).toContain('client.required_headers: requires the headers x-tenant on every request: '
      + 'Heimdall does not enforce this yet');
  });

  it('loads a Bifrost config with a provider it has no adapter for, warns, and answers it with 404', async () => {
    const file = configFile(JSON.stringify({
      $schema: 'https://www.getbifrost.ai/schema',
      client: { enable_governance: true, enforce_governance_header: false },
      providers: { mock: {}, elevenlabs: { keys: [{ name: 'voice', value: 'env.ELEVENLABS_API_KEY', models: ['*'], weight: 1 }] } },
      plugins: [{ name: 'otel', enabled: true, config: { collector_url: 'http://otel:4318', trace_type: 'genai_extension', protocol: 'http' } }],
    }));
    const gateway = run(['--config', file, '--port', '0', '--host', '127.0.0.1']);
    const port = await listeningPort(gateway);
    expect(gateway.output()).toContain("providers.elevenlabs: Heimdall has no adapter for Bifrost's provider 'elevenlabs' yet");
    // Bifrost's otel plugin is Heimdall's tracing: acted on, so not in the list of plugins that will not run.
    expect(gateway.output()).not.toContain('otel is not acted on');
    const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST', body: JSON.stringify({ model: 'elevenlabs/eleven_v3', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(404);
    const body = await response.json() as { error: { message: string; type: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain("provider 'elevenlabs' is in the config but Heimdall has no adapter for it yet");
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
