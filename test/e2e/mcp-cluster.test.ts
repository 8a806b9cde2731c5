// MCP in cluster mode, through the built command: the supervisor owns the MCP connections, so a stdio server is
// spawned once for the whole gateway (not once per process); every process runs its tools over IPC; `/mcp` keeps no
// session, so a client's requests may land on any process; a reload replaces the server; a stop leaves none behind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { stdioClient } from '../fakes/mcp/index.js';
import { alive, chat, childPids, logLines, startCluster, until } from './cluster-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'heimdall-mcp-cluster-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pids = (file: string): number[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const parentOf = (pid: number): number => Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
const execute = (port: number, name: string, args: string) => chat(port, false, '/v1/mcp/tool/execute',
  JSON.stringify({ id: 'call_1', type: 'function', function: { name, arguments: args } }));

describe('MCP with --processes 2', () => {
  it('spawns a stdio server once, serves its tools from every process and /mcp across them, replaces it on reload', async () => {
    const pidFile = join(dir, 'stdio.pids');
    const config = (name: string) => ({ providers: { mock: {} },
      mcp: { client_configs: [stdioClient('tools', { stdio_config: { command: process.execPath,
        args: ['--import', 'tsx', new URL('../fakes/mcp/stdio-server.ts', import.meta.url).pathname, name], envs: ['MCP_FAKE_PID_FILE'] } })] } });
    // Spawning the server through tsx and starting the MCP thread take seconds on a loaded machine.
    const cluster = await startCluster(config('first'), ['--processes', '2'], { MCP_FAKE_PID_FILE: pidFile }, 60_000);
    const supervisor = cluster.gateway.child.pid!;
    try {
      // On a loaded machine the server may still be starting when the gateway listens (start-up waits 10 s for it).
      await until('the tool to be served', async () => (await execute(cluster.port, 'tools_echo', '{"text":"up"}')).status === 200, 60_000);
      expect(pids(pidFile)).toHaveLength(1);
      const [server] = pids(pidFile);
      expect(parentOf(server)).toBe(supervisor);
      // The two gateway processes and the one MCP server are the supervisor's children.
      expect(childPids(supervisor)).toHaveLength(3);

      // New connections each: the kernel spreads them over both processes, and each runs the tool.
      for (let i = 0; i < 20; i++) {
        const answer = await execute(cluster.port, 'tools_echo', `{"text":"n${i}"}`);
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: `n${i}` });
      }
      // Access lines reach stdout within 100 ms of their request: wait for both processes' before reading them.
      const servers = (route: string) => new Set(logLines(cluster.gateway).filter((line) => line.log === 'access' && line.route === route)
        .map((line) => line.process));
      await until('both processes logged', () => servers('/v1/mcp/tool/execute').size >= 2, 3000).catch(() => undefined);
      expect([...servers('/v1/mcp/tool/execute')].sort()).toEqual([1, 2]);
      expect(pids(pidFile)).toHaveLength(1);

      // An MCP client whose every request opens a new connection: no session ties it to the process it started on.
      const client = new Client({ name: 'test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${cluster.port}/mcp`), {
        fetch: (url, init) => undiciFetch(url, { ...init, dispatcher: new Agent({ pipelining: 0 }) } as never) as never,
      }));
      for (let i = 0; i < 10; i++) {
        expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('tools_echo');
        expect(await client.callTool({ name: 'tools_echo', arguments: { text: `m${i}` } })).toMatchObject({ content: [{ text: `m${i}` }] });
      }
      await client.close();
      await until('both processes logged', () => servers('/mcp').size >= 2, 3000).catch(() => undefined);
      expect([...servers('/mcp')].sort()).toEqual([1, 2]);

      // A reload with a changed server: the old process is stopped, one new one spawned.
      writeFileSync(cluster.file, JSON.stringify(config('second')));
      process.kill(supervisor, 'SIGHUP');
      await until('the server to be replaced', () => pids(pidFile).length === 2 && !alive(server), 30_000);
      await until('the new processes to serve the tool', async () => (await execute(cluster.port, 'tools_echo', '{"text":"after"}')).status === 200, 30_000);
      expect(pids(pidFile)).toHaveLength(2);
    } finally {
      cluster.gateway.child.kill('SIGTERM');
      expect(await cluster.gateway.exited).toBe(0);
    }
    for (const pid of pids(pidFile)) expect(alive(pid)).toBe(false);
  }, 150_000);
});
