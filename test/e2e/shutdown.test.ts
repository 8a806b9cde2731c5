// Graceful shutdown of the built `heimdall` command, signalled as an orchestrator does: a stream in flight at SIGTERM
// completes and the process exits 0 with its last log line written; new connections are refused meanwhile while
// /health says 503 on a connection still open; a stream still running at the grace deadline ends with an error event;
// a second signal exits at once.

import { connect } from 'node:net';
import { Client } from 'undici';
import { describe, expect, it } from 'vitest';
import { configFile, listeningPort, run, type Run } from './cli-harness.js';

function startWith(mockConfig: object, graceSeconds: number): { gateway: Run; port: Promise<number> } {
  const file = configFile(JSON.stringify({ client: { shutdown_grace_seconds: graceSeconds }, providers: { mock: { mock_config: mockConfig } } }));
  const gateway = run(['--config', file, '--port', '0', '--host', '127.0.0.1']);
  return { gateway, port: listeningPort(gateway) };
}

/** Opens a stream and reads its first bytes, so it is certainly in flight; `rest()` reads it to its end. */
async function openStream(port: number, content: string): Promise<{ first: string; rest(): Promise<string> }> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST', body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content }], stream: true }),
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const first = decoder.decode((await reader.read()).value);
  return {
    first,
    async rest() {
      let text = '';
      for (let next = await reader.read(); !next.done; next = await reader.read()) text += decoder.decode(next.value);
      return text;
    },
  };
}

/** Fifty words: the mock streams at most a word per chunk. */
const LONG = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ');

const events = (text: string): string[] => text.split('\n\n').filter((block) => block.startsWith('data: ')).map((block) => block.slice(6));
const contentOf = (data: string[]): string => data.filter((d) => d !== '[DONE]')
  .map((d) => (JSON.parse(d) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');

async function logged(gateway: Run, message: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!gateway.output().includes(`"msg":"${message}`)) {
    if (Date.now() > deadline) throw new Error(`no '${message}' log line:\n${gateway.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function connectionRefused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('heimdall on SIGTERM', () => {
  it('lets a stream in flight finish, refuses new connections, answers /health 503, exits 0 with the last log line written', async () => {
    const { gateway, port: starting } = startWith({ chunk_count: 10, chunk_interval_ms: 150 }, 10);
    const port = await starting;
    const keptOpen = new Client(`http://127.0.0.1:${port}`);
    try {
      expect((await keptOpen.request({ path: '/health', method: 'GET' })).statusCode).toBe(200);
      const stream = await openStream(port, 'finish me');

      gateway.child.kill('SIGTERM');
      await logged(gateway, 'shutting down');
      const health = await keptOpen.request({ path: '/health', method: 'GET' });
      expect(health.statusCode).toBe(503);
      expect(await health.body.json()).toMatchObject({ status: 'shutting_down' });
      expect(await connectionRefused(port)).toBe('ECONNREFUSED');

      const data = events(stream.first + await stream.rest());
      expect(data.at(-1)).toBe('[DONE]');
      expect(contentOf(data)).toBe('Echo: finish me');
      expect(await gateway.exited).toBe(0);
      const lines = gateway.output().trim().split('\n');
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: 'stopped' });
    } finally {
      await keptOpen.destroy();
    }
  });

  it('ends a stream still running at the grace deadline with a provider_shutting_down event and a clean end, then exits 0', async () => {
    const { gateway, port: starting } = startWith({ chunk_count: 50, chunk_interval_ms: 200 }, 1);
    const stream = await openStream(await starting, LONG);
    gateway.child.kill('SIGTERM');
    // rest() rejects if the connection is cut rather than ended.
    const data = events(stream.first + await stream.rest());
    expect(data).not.toContain('[DONE]');
    const last = JSON.parse(data.at(-1)!) as { error: { code: string; type: string } };
    expect(last.error).toMatchObject({ code: 'provider_shutting_down', type: 'api_error' });
    expect(await gateway.exited).toBe(0);
    expect(gateway.output()).toContain('"msg":"stopped"');
  });

  it('exits at once, with code 1, on a second signal during the grace period', async () => {
    const { gateway, port: starting } = startWith({ chunk_count: 50, chunk_interval_ms: 200 }, 30);
    const stream = await openStream(await starting, LONG);
    gateway.child.kill('SIGTERM');
    await logged(gateway, 'shutting down');
    // A copy within a second is the same signal (sent to the process group, or forwarded): wait past that.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    gateway.child.kill('SIGINT');
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain('"msg":"second signal: exiting now"');
    expect(gateway.output()).not.toContain('"msg":"stopped"');
    // The stream did not get to finish: the process went away under it.
    const rest = await stream.rest().then((text) => text, () => 'cut off');
    expect(rest).not.toContain('[DONE]');
  });
});
