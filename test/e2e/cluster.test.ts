// Cluster mode through the built command: N processes on one port under one supervisor, the config validated once,
// /health reporting the processes, and signals: one stop however many copies arrive, no orphan left.
import { describe, expect, it } from 'vitest';
import { configFile, listeningPort, run, runNpmStart } from './cli-harness.js';
import { alive, chat, childPids, logLines, runInOwnGroup, sleep, startCluster, stopAndCheckNoOrphans, until } from './cluster-harness.js';

const MOCK = { providers: { mock: {} } };

describe('heimdall --processes', () => {
  it('serves from two processes on one port, reports them in /health, prints the summary once, stops with no orphan', async () => {
    const cluster = await startCluster(MOCK, ['--processes', '2']);
    const pids = childPids(cluster.gateway.child.pid!);
    expect(pids).toHaveLength(2);
    const health = await chat(cluster.port, false, '/health', '', 'GET');
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', processes: { up: 2, configured: 2 } });
    // New connections: the kernel spreads them over both processes' listening sockets.
    for (let i = 0; i < 60; i++) expect((await chat(cluster.port)).status).toBe(200);
    const answeredBy = new Set(logLines(cluster.gateway).filter((line) => line.log === 'access').map((line) => line.process));
    expect([...answeredBy].sort()).toEqual([1, 2]);
    expect(logLines(cluster.gateway).filter((line) => line.msg?.startsWith('config: '))).toHaveLength(1);
    expect(cluster.gateway.output()).toContain('(2 processes)');
    await stopAndCheckNoOrphans(cluster);
  });

  it('takes the count from HEIMDALL_PROCESSES and the config file, the flag first', async () => {
    const fromEnv = await startCluster(MOCK, [], { HEIMDALL_PROCESSES: '2' });
    expect(childPids(fromEnv.gateway.child.pid!)).toHaveLength(2);
    await stopAndCheckNoOrphans(fromEnv);
    const fromFile = await startCluster({ ...MOCK, heimdall: { processes: 3 } }, ['--processes', '2']);
    expect(childPids(fromFile.gateway.child.pid!)).toHaveLength(2);
    await stopAndCheckNoOrphans(fromFile);
  });

  it('leaves no orphan when the supervisor itself is killed: each process drains and exits on its own', async () => {
    const cluster = await startCluster(MOCK, ['--processes', '2']);
    const pids = childPids(cluster.gateway.child.pid!);
    expect(pids).toHaveLength(2);
    cluster.gateway.child.kill('SIGKILL');
    await until('every process to exit', () => pids.every((pid) => !alive(pid)), 15_000);
    expect(cluster.gateway.output()).toContain('"reason":"supervisor gone"');
  });

  it('refuses a bad config once, before starting any process, with the lines of a single process', async () => {
    const file = configFile(JSON.stringify({ providers: { mock: { concurrency_and_buffer_size: { concurency: 3 } } } }));
    const single = run(['--config', file, '--port', '0']);
    const cluster = run(['--config', file, '--port', '0', '--processes', '2']);
    expect(await single.exited).toBe(2);
    expect(await cluster.exited).toBe(2);
    expect(cluster.output()).toBe(single.output());
    expect(cluster.output()).toContain('concurency');
  });

  it('fails with the message of a single process when a process cannot start (a plugin that does not load)', async () => {
    const file = configFile(JSON.stringify({ providers: { mock: {} }, plugins: ['./no-such-plugin.js'] }));
    const single = run(['--config', file, '--port', '0', '--host', '127.0.0.1']);
    const cluster = run(['--config', file, '--port', '0', '--host', '127.0.0.1', '--processes', '2']);
    expect(await single.exited).toBe(2);
    expect(await cluster.exited).toBe(2);
    const failure = (output: string) => output.split('\n').filter((line) => line.startsWith('heimdall: '));
    expect(failure(single.output())).toHaveLength(1);
    expect(failure(cluster.output())).toEqual(failure(single.output()));
    expect(childPids(cluster.child.pid!)).toEqual([]);
  });

  it('refuses a bad --processes value with exit 2', async () => {
    const started = run(['--processes', 'many', '--port', '0']);
    expect(await started.exited).toBe(2);
    expect(started.output()).toContain("--processes: expected 'auto' or a whole number from 1 to 256, got 'many'");
  });

  it('fails like a single process when the port is taken, and leaves no process behind', async () => {
    const first = await startCluster(MOCK);
    const second = run(['--port', String(first.port), '--host', '127.0.0.1', '--processes', '2']);
    expect(await second.exited).toBe(2);
    expect(second.output()).toContain('address already in use');
    expect(childPids(second.child.pid!)).toEqual([]);
    first.gateway.child.kill('SIGTERM');
    expect(await first.gateway.exited).toBe(0);
  });
});

const SLOW = { providers: { mock: { mock_config: { latency_ms: 800 } } } };

describe('a signal to the whole process group', () => {
  it('counts once for npm start: a request in flight gets its answer (the issue\'s repro)', async () => {
    const file = configFile(JSON.stringify(SLOW));
    const npm = runNpmStart(['--config', file, '--port', '0', '--host', '127.0.0.1']);
    const port = await listeningPort(npm);
    const answer = chat(port);
    await sleep(200);
    process.kill(-npm.child.pid!, 'SIGTERM');
    expect((await answer).status).toBe(200);
    await until('the gateway to stop', () => npm.output().includes('"msg":"stopped"'));
    expect(npm.output()).not.toContain('second signal');
  });

  it('counts once for kill -TERM -- -PGID against --processes 2: the answer arrives, the tree exits 0, no orphan', async () => {
    const file = configFile(JSON.stringify(SLOW));
    const gateway = runInOwnGroup(['--config', file, '--port', '0', '--host', '127.0.0.1', '--processes', '2']);
    try {
      const port = await listeningPort(gateway);
      const pids = childPids(gateway.child.pid!);
      const answers = [chat(port), chat(port), chat(port)];
      await sleep(200);
      process.kill(-gateway.child.pid!, 'SIGTERM');
      for (const answer of answers) expect((await answer).status).toBe(200);
      expect(await gateway.exited).toBe(0);
      expect(gateway.output()).not.toContain('second signal');
      await until('every process to exit', () => pids.every((pid) => !alive(pid)), 10_000);
    } finally {
      try {
        process.kill(-gateway.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('a deliberate second signal after a pause still exits at once, taking every process with it', async () => {
    const cluster = await startCluster({ client: { shutdown_grace_seconds: 60 },
      providers: { mock: { mock_config: { latency_ms: 30_000 } } } }, ['--processes', '2']);
    const pids = childPids(cluster.gateway.child.pid!);
    const stuck = chat(cluster.port).catch(() => 'cut off');
    await sleep(300);
    cluster.gateway.child.kill('SIGTERM');
    await until('the shutdown to begin', () => cluster.gateway.output().includes('shutting down'));
    await sleep(1_300);
    cluster.gateway.child.kill('SIGTERM');
    expect(await cluster.gateway.exited).toBe(1);
    expect(cluster.gateway.output()).toContain('second signal: exiting now');
    await until('every process to exit', () => pids.every((pid) => !alive(pid)), 10_000);
    expect(await stuck).toBe('cut off');
  });
});
