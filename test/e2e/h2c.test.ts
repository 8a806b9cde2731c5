// `heimdall --h2c-port`: the built command with HTTP/2 cleartext on a second port, in one process and in cluster
// mode (where the supervisor serves it in front of the shared port), used by `@aws-sdk/client-bedrock-runtime` with
// its default handler, which speaks HTTP/2 only.

import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { listeningPort, run, type Run } from './cli-harness.js';

/** The h2c port from the gateway's log line that announces it. */
async function h2cPort(started: Run, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const line of started.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { h2cPort?: number };
      if (entry.h2cPort) return entry.h2cPort;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no h2c port announced:\n${started.output()}`);
}

async function converseOverH2c(port: number): Promise<string[]> {
  const client = new BedrockRuntimeClient({ endpoint: `http://127.0.0.1:${port}/bedrock`, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'any', secretAccessKey: 'any' } });
  try {
    const messages = [{ role: 'user' as const, content: [{ text: 'Hi' }] }];
    const answer = await client.send(new ConverseCommand({ modelId: 'mock/echo', messages }));
    const streamed = await client.send(new ConverseStreamCommand({ modelId: 'mock/echo', messages }));
    let text = '';
    for await (const event of streamed.stream ?? []) text += event.contentBlockDelta?.delta?.text ?? '';
    return [answer.output?.message?.content?.[0]?.text ?? '', text];
  } finally {
    client.destroy();
  }
}

describe('heimdall --h2c-port', () => {
  it.each([
    ['one process', []],
    ['cluster mode', ['--processes', '2']],
  ])('%s: the AWS SDK\'s default handler works on the h2c port; both ports stop on SIGTERM', async (_name, extra) => {
    const gateway = run(['--port', '0', '--h2c-port', '0', '--host', '127.0.0.1', ...extra]);
    try {
      const port = await listeningPort(gateway, 30_000);
      const h2c = await h2cPort(gateway);
      expect(h2c).not.toBe(port);
      expect(await converseOverH2c(h2c)).toEqual(['Echo: Hi', 'Echo: Hi']);
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      await expect(converseOverH2c(h2c)).rejects.toThrow();
    } finally {
      if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    }
  }, 60_000);

  it('refuses an h2c port equal to the HTTP/1.1 port, naming the setting', async () => {
    const gateway = run(['--port', '18999', '--h2c-port', '18999', '--host', '127.0.0.1']);
    expect(await gateway.exited).not.toBe(0);
    expect(gateway.output()).toContain('heimdall.h2c_port');
  });
});
