// The "done when": a new user runs `npm start` with no config, sends a request, and finds it with
// `curl localhost:8080/api/logs` (loopback, no credentials: the admin API's default).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listeningPort, run, runNpmStart } from './cli-harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The records `/api/logs` lists once the first batch is stored (they are written a moment after the answer). */
async function firstLogs(port: number): Promise<{ id: string; request: string; status: number }[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const page = await fetch(`http://127.0.0.1:${port}/api/logs`);
    expect(page.status).toBe(200);
    const { logs } = (await page.json()) as { logs: { id: string; request: string; status: number }[] };
    if (logs.length > 0 || Date.now() >= deadline) return logs;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm start, one request, GET /api/logs', () => {
  it('finds the request, with its content, in the embedded SQLite log', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'heimdall-data-'));
    dirs.push(dataDir);
    const started = runNpmStart(['--port', '0', '--host', '127.0.0.1'], { HEIMDALL_DATA_DIR: dataDir });
    const port = await listeningPort(started);
    expect(started.output()).toContain('loopback clients only');
    const answer = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { 'x-request-id': 'first-request' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'is this logged?' }] }) });
    expect(answer.status).toBe(200);
    const logs = await firstLogs(port);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ id: 'first-request', status: 200 });
    expect(logs[0].request).toContain('is this logged?');
    started.child.kill('SIGTERM');
  }, 120_000);

  it('starts and logs under Node flags that worker threads refuse in a list of their own (heap size, title)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'heimdall-data-'));
    dirs.push(dataDir);
    const started = run(['--port', '0', '--host', '127.0.0.1'], { HEIMDALL_DATA_DIR: dataDir }, undefined,
      ['--max-old-space-size=1024', '--title=heimdall-test']);
    const port = await listeningPort(started);
    const answer = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { 'x-request-id': 'flagged' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(answer.status).toBe(200);
    expect((await firstLogs(port)).map((log) => log.id)).toEqual(['flagged']);
    expect(started.output()).not.toContain('the request log thread failed');
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  }, 60_000);
});
