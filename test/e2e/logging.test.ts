// The command's log as an operator reads it: levels by name on the front's and the workers' lines, the listening
// address as a URL that works (IPv6 in brackets), and an access line per request.
import { describe, expect, it } from 'vitest';
import { listeningPort, run } from './cli-harness.js';

const jsonLines = (output: string) => output.split('\n').filter((line) => line.startsWith('{'))
  .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('heimdall logs', () => {
  it('names levels, prints an IPv6 listen address in brackets, and logs each request once', async () => {
    const gateway = run(['--port', '0', '--host', '::1', '--log-level', 'debug']);
    const port = await listeningPort(gateway);
    const listening = jsonLines(gateway.output()).find((line) => String(line.msg).startsWith('heimdall listening'));
    expect(listening!.msg).toBe(`heimdall listening on http://[::1]:${port}`);
    const response = await fetch(`http://[::1]:${port}/v1/chat/completions`, {
      method: 'POST', headers: { 'x-request-id': 'e2e-access' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'logged' }] }),
    });
    expect(response.status).toBe(200);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    const lines = jsonLines(gateway.output());
    for (const line of lines) expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(line.level);
    expect(lines.some((line) => line.thread === 'worker' && line.level === 'debug')).toBe(true);
    const access = lines.filter((line) => line.log === 'access' && line.requestId === 'e2e-access');
    expect(access).toEqual([expect.objectContaining({ level: 'info', route: '/v1/chat/completions', status: 200, model: 'echo' })]);
  });
});
