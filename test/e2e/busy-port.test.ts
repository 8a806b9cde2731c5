// A port that is taken stops start-up with the reason and the address, whoever holds it: another Heimdall (which,
// with SO_REUSEPORT, would otherwise share the port and half of its traffic) or any other program.
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listeningPort, run } from './cli-harness.js';

/**
 * A port nobody listens on, chosen by the kernel. The gateway must be given it by number: a socket bound to port 0
 * gets a port that Linux does not share even with SO_REUSEPORT, which would hide the bug this file pins.
 */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('heimdall on a port already in use', () => {
  it('refuses to share a port with a Heimdall already listening there, and the first keeps serving', async () => {
    const first = run(['--port', String(await freePort()), '--host', '127.0.0.1']);
    const port = await listeningPort(first);

    const second = run(['--port', String(port), '--host', '127.0.0.1']);
    expect(await second.exited).toBe(2);
    expect(second.output()).toContain(`127.0.0.1:${port}: address already in use`);
    expect(second.output()).not.toContain('heimdall listening');

    // Every connection still reaches the first one: nothing was split off to a process that has gone.
    for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('says "address already in use" with the address when another program holds the port', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      const gateway = run(['--port', String(port), '--host', '127.0.0.1']);
      expect(await gateway.exited).toBe(2);
      expect(gateway.output()).toMatch(new RegExp(`heimdall: could not start: could not listen on 127\\.0\\.0\\.1:${port}: address already in use`));
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
