// Governance in cluster mode without Redis (`--processes 2`): the supervisor counts every process's budgets and
// rate limits, so a limit of N over both processes lets exactly N requests through, and a key created through the
// admin API on one process works on every process within a second.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { logLines, startCluster, stopAndCheckNoOrphans, until, type Cluster } from './cluster-harness.js';

let cluster: Cluster | undefined;
const folder = mkdtempSync(join(tmpdir(), 'heimdall-cluster-gov-'));

afterEach(() => {
  if (cluster?.gateway.child.exitCode === null) cluster.gateway.child.kill('SIGKILL');
  cluster = undefined;
  rmSync(folder, { recursive: true, force: true });
});

const KEY = 'sk-bf-cluster-twenty-an-hour';

/** One request on a new connection (so the kernel spreads them over both processes). */
function call(port: number, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false,
      headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const chat = (port: number, key: string) => call(port, 'POST', '/v1/chat/completions', { authorization: `Bearer ${key}` },
  JSON.stringify({ model: 'mock/echo', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }));

describe('governance over two processes without Redis', () => {
  it('lets exactly N of many concurrent requests through a rate limit of N, and shares admin changes', async () => {
    cluster = await startCluster({
      providers: { mock: { mock_config: { latency_ms: 20 } } },
      governance: {
        rate_limits: [{ id: 'twenty', request_max_limit: 20, request_reset_duration: '1h' }],
        virtual_keys: [{ id: 'vk-cluster', name: 'cluster', value: KEY, rate_limit_id: 'twenty',
          provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] }],
      },
    }, ['--processes', '2'], { HEIMDALL_DATA_DIR: folder });
    const port = cluster.port;

    const answers = await Promise.all(Array.from({ length: 80 }, () => chat(port, KEY)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60);
    // Both processes answered: each alone would have let 20 through.
    const pids = new Set(logLines(cluster.gateway).filter((line) => line.log === 'access' && line.virtualKey === 'vk-cluster')
      .map((line) => line.pid));
    expect(pids.size).toBe(2);

    // A key made on whichever process takes the call works on both: the other finds it in the store within its
    // 250 ms poll (the one-second promise is timed in test/integration/governance/admin.test.ts; here eight requests
    // per try on a loaded machine would time the machine).
    const created = await call(port, 'POST', '/api/governance/virtual-keys', {}, JSON.stringify({ name: 'new',
      provider_configs: [{ provider: 'mock', allowed_models: ['*'] }] }));
    expect(created.status).toBe(200);
    const value = (JSON.parse(created.body) as { virtual_key: { value: string } }).virtual_key.value;
    await until('the new key to work on both processes', async () =>
      (await Promise.all(Array.from({ length: 8 }, () => chat(port, value)))).every((a) => a.status === 200), 5000);
    const pidsServing = () => new Set(logLines(cluster!.gateway).filter((line) => line.log === 'access'
      && line.virtualKey === (JSON.parse(created.body) as { virtual_key: { id: string } }).virtual_key.id && line.status === 200).map((line) => line.pid));
    await until('both processes to have served the new key', async () => {
      await Promise.all(Array.from({ length: 8 }, () => chat(port, value)));
      return pidsServing().size === 2;
    }, 5000);
    await stopAndCheckNoOrphans(cluster);
  }, 60_000);
});
