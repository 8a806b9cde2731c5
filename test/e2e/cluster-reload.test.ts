// Zero-downtime reload: SIGHUP or POST /api/reload re-reads the config file and replaces the processes one at a
// time; every request of a steady load is answered, on new and on kept-alive connections. A config with a mistake
// is refused with the start-up lines and the running processes keep serving.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFile, listeningPort, run } from './cli-harness.js';
import { chat, childPids, load, sleep, startCluster, stopAndCheckNoOrphans, until, type Cluster } from './cluster-harness.js';

const config = (latencyMs: number) => ({ providers: { mock: { mock_config: { latency_ms: latencyMs } } } });

async function reloadUnderLoad(cluster: Cluster, reload: () => Promise<void>): Promise<void> {
  const before = childPids(cluster.gateway.child.pid!);
  const fresh = load(cluster.port, 4, false);
  const kept = load(cluster.port, 4, true);
  await until('traffic to flow', () => fresh.tally.ok > 10 && kept.tally.ok > 10);
  await reload();
  await until('the old processes to exit', () => {
    const now = childPids(cluster.gateway.child.pid!);
    return now.length === 2 && now.every((pid) => !before.includes(pid));
  }, 30_000);
  const okAfter = fresh.tally.ok + kept.tally.ok;
  await until('traffic on the new processes', () => fresh.tally.ok + kept.tally.ok > okAfter + 20);
  const tallies = [await fresh.stop(), await kept.stop()];
  for (const tally of tallies) expect(tally.statuses).toEqual({});
  if (migratesRequests()) {
    for (const tally of tallies) expect(tally.errors).toEqual({});
  } else {
    // Without tcp_migrate_req, Linux resets the connections still in the accept queue of a listener that closes:
    // at most a few per replaced process, and never a refused connection.
    const errors = tallies.flatMap((tally) => Object.entries(tally.errors));
    expect(errors.filter(([code]) => code !== 'ECONNRESET')).toEqual([]);
    expect(errors.reduce((n, [, count]) => n + count, 0)).toBeLessThanOrEqual(before.length * 2);
  }
}

/** Linux ≥ 5.14 hands a closing SO_REUSEPORT listener's pending connections to another listener when this is 1. */
function migratesRequests(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

describe('a rolling reload under load', () => {
  it('POST /api/reload replaces every process; no request is refused or answered with an error', async () => {
    const cluster = await startCluster(config(20), ['--processes', '2']);
    await reloadUnderLoad(cluster, async () => {
      writeFileSync(cluster.file, JSON.stringify(config(30)));
      const answer = await chat(cluster.port, false, '/api/reload', '');
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ status: 'reloaded', processes: 2 });
    });
    expect(cluster.gateway.output()).toContain('"msg":"config reloaded"');
    await stopAndCheckNoOrphans(cluster);
  });

  it('SIGHUP does the same', async () => {
    const cluster = await startCluster(config(20), ['--processes', '2']);
    await reloadUnderLoad(cluster, async () => {
      cluster.gateway.child.kill('SIGHUP');
      await until('the reload', () => cluster.gateway.output().includes('"msg":"config reloaded"'), 30_000);
    });
    await stopAndCheckNoOrphans(cluster);
  });
});

describe('a reload with a mistake in the config', () => {
  it('is refused with the start-up lines (400 for /api/reload); the running processes keep serving', async () => {
    const cluster = await startCluster(config(0), ['--processes', '2']);
    const before = childPids(cluster.gateway.child.pid!);
    writeFileSync(cluster.file, JSON.stringify({ providers: { mock: { mock_config: { latency_ms: -1 } } } }));
    const start = run(['--config', cluster.file, '--port', '0']);
    expect(await start.exited).toBe(2);
    const answer = await chat(cluster.port, false, '/api/reload', '');
    expect(answer.status).toBe(400);
    const error = (JSON.parse(answer.body) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('config_invalid');
    const startLines = start.output().replace(/^heimdall: /, '').trimEnd();
    expect(error.message).toBe(startLines);
    // The supervisor's lines reach this process through a pipe, which may be read after the 400 it answered.
    await until('the refusal in the supervisor\'s output', () => cluster.gateway.output().includes(start.output()), 5_000);
    expect(cluster.gateway.output()).toContain(start.output());

    cluster.gateway.child.kill('SIGHUP');
    await until('the refusal of the SIGHUP reload', () => cluster.gateway.output().split(start.output()).length > 2);
    await sleep(300);
    expect(childPids(cluster.gateway.child.pid!).sort()).toEqual(before.sort());
    expect((await chat(cluster.port)).status).toBe(200);
    await stopAndCheckNoOrphans(cluster);
  });
});

describe('a reload whose new process does not start', () => {
  it('answers 500 reload_failed; the running processes keep serving, and no restart loop follows', async () => {
    const crashFile = join(mkdtempSync(join(tmpdir(), 'heimdall-crash-')), 'crash');
    const cluster = await startCluster(config(0), ['--processes', '2'], { HEIMDALL_TEST_CRASH_AT_START: crashFile });
    const before = childPids(cluster.gateway.child.pid!);
    writeFileSync(crashFile, '');
    const answer = await chat(cluster.port, false, '/api/reload', '');
    expect(answer.status).toBe(500);
    const error = (JSON.parse(answer.body) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('reload_failed');
    expect(error.message).toContain('the running processes keep serving');
    await sleep(1_000);
    expect(childPids(cluster.gateway.child.pid!).sort()).toEqual(before.sort());
    expect(cluster.gateway.output()).not.toContain('restartInMs');
    expect((await chat(cluster.port)).status).toBe(200);
    await stopAndCheckNoOrphans(cluster);
  });
});

/** An address of this machine that is not loopback, to call the gateway as another host would. */
const external = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4')?.address;

describe('POST /api/reload from another host', () => {
  it.runIf(external)('is refused with 403 admin_loopback_only, while 127.0.0.1 on the same wildcard socket may reload', async () => {
    const file = configFile(JSON.stringify(config(0)));
    const gateway = run(['--config', file, '--port', '0', '--host', '0.0.0.0', '--processes', '2']);
    const port = await listeningPort(gateway);
    const refused = await fetch(`http://${external}:${port}/api/reload`, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'admin_loopback_only', type: 'permission_error' } });
    const allowed = await fetch(`http://127.0.0.1:${port}/api/reload`, { method: 'POST' });
    expect(allowed.status).toBe(200);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });
});

describe('POST /api/reload without the supervisor', () => {
  it('answers 409 saying that reload needs --processes', async () => {
    const gateway = run(['--port', '0', '--host', '127.0.0.1']);
    const port = await listeningPort(gateway);
    const answer = await chat(port, false, '/api/reload', '');
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'reload_unavailable', type: 'invalid_request_error' } });
    expect(answer.body).toContain('--processes 2 or more');
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });
});
