// `heimdall --version` / `-v`, and SIGHUP, which a closing terminal or a supervisor's "reload" sends: logged and
// ignored until reload exists, where Node's default would end the gateway and every request in flight.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listeningPort, run } from './cli-harness.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('heimdall --version', () => {
  it.each(['--version', '-v'])('%s prints the package version and exits 0', async (flag) => {
    const started = run([flag]);
    expect(await started.exited).toBe(0);
    expect(started.output()).toBe(`${VERSION}\n`);
  });

  it('lists both in --help', async () => {
    const started = run(['--help']);
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain('-v, --version');
  });
});

describe('SIGHUP', () => {
  it('is logged and ignored: the gateway keeps serving, and SIGTERM still stops it cleanly', async () => {
    const gateway = run(['--port', '0', '--host', '127.0.0.1']);
    const port = await listeningPort(gateway);
    gateway.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!gateway.output().includes('SIGHUP ignored') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gateway.output()).toContain('SIGHUP ignored: config reload needs the supervisor');
    expect(gateway.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });
});
