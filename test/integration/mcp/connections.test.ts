// The connections to MCP servers on their own, against the SDK-written test servers: a stdio server that crashes
// mid-call and is reconnected, a tool list that changes (pushed over stdio, found by the sync interval over HTTP), a
// server that is down at start and comes up later, and stdio processes stopped on close and on reconfigure.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { McpClientConfig, McpConfig } from '../../../dist/src/config/types.js';
import { McpConnections } from '../../../dist/src/mcp/connections.js';
import { STDIO_SERVER, startStreamableServer } from '../../fakes/mcp/index.js';
import { eventually } from '../harness.js';

const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'heimdall-mcp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const pids = (file: string): number[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

function stdio(name: string, pidFile: string, extra: Partial<McpClientConfig> = {}): McpClientConfig {
  return { name, connectionType: 'stdio', command: process.execPath, args: ['--import', 'tsx', STDIO_SERVER, name],
    env: { MCP_FAKE_PID_FILE: pidFile }, url: null, headers: {}, toolsToExecute: null, toolsToAutoExecute: [], ping: true,
    syncIntervalMs: 0, ...extra };
}
function http(name: string, url: string, extra: Partial<McpClientConfig> = {}): McpClientConfig {
  return { name, connectionType: 'http', command: null, args: [], env: {}, url, headers: {}, toolsToExecute: null,
    toolsToAutoExecute: [], ping: true, syncIntervalMs: 0, ...extra };
}
const config = (...clients: McpClientConfig[]): McpConfig => ({ clients, agentDepth: 10, toolTimeoutMs: 5_000 });
const toolNames = (connections: McpConnections, client: string) =>
  connections.view().clients.find((c) => c.name === client)?.tools.map((t) => t.tool) ?? [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a stdio MCP server', () => {
  it('that crashes mid-call fails that call (502) and is reconnected', async () => {
    const pidFile = join(dir, 'crash.pids');
    const connections = new McpConnections(config(stdio('s', pidFile)), logger);
    try {
      await connections.start();
      expect(connections.view().clients[0]).toMatchObject({ state: 'connected', reconnects: 0 });
      await expect(connections.call('s', 'crash', {}, 5_000)).rejects.toMatchObject({ data: { code: 'MCP_SERVER_FAILED' } });
      const first = pids(pidFile)[0];
      await eventually(() => alive(first), (up) => !up);
      const view = await eventually(() => connections.view().clients[0], (c) => c.state === 'connected' && c.reconnects === 1, 30_000);
      expect(view.tools.length).toBeGreaterThan(0);
      expect(pids(pidFile)).toHaveLength(2);
      expect(await connections.call('s', 'echo', { text: 'back' }, 5_000)).toEqual({ content: 'back', isError: false });
    } finally {
      await connections.close();
    }
    for (const pid of pids(pidFile)) expect(alive(pid)).toBe(false);
  }, 60_000);

  it('announcing a changed tool list is listed again at once', async () => {
    const connections = new McpConnections(config(stdio('s', join(dir, 'changed.pids'))), logger);
    const versions: number[] = [];
    connections.onChange((view) => versions.push(view.version));
    try {
      await connections.start();
      expect(toolNames(connections, 's')).not.toContain('brand_new');
      await connections.call('s', 'add_tool', { name: 'brand_new' }, 5_000);
      await eventually(() => toolNames(connections, 's'), (names) => names.includes('brand_new'), 3_000);
      expect(versions.length).toBeGreaterThan(1);
    } finally {
      await connections.close();
    }
  }, 30_000);

  it('is stopped when the connections close, and replaced when its settings change on reconfigure', async () => {
    const pidFile = join(dir, 'reconfigure.pids');
    const connections = new McpConnections(config(stdio('s', pidFile)), logger);
    await connections.start();
    const [first] = pids(pidFile);
    expect(alive(first)).toBe(true);
    await connections.reconfigure(config(stdio('s', pidFile, { args: ['--import', 'tsx', STDIO_SERVER, 'renamed'] })));
    expect(alive(first)).toBe(false);
    const [, second] = pids(pidFile);
    expect(connections.view().clients[0].state).toBe('connected');
    // Unchanged settings keep their connection.
    await connections.reconfigure(config(stdio('s', pidFile, { args: ['--import', 'tsx', STDIO_SERVER, 'renamed'] })));
    expect(pids(pidFile)).toHaveLength(2);
    await connections.reconfigure(null);
    expect(alive(second)).toBe(false);
    expect(connections.view().clients).toEqual([]);
    await connections.close();
  }, 40_000);
});

describe('an HTTP MCP server', () => {
  it('down at start does not fail start-up, is shown disconnected, and is connected once it is up', async () => {
    const port = await freePort();
    const connections = new McpConnections(config(http('h', `http://127.0.0.1:${port}/mcp`)), logger);
    let server: Awaited<ReturnType<typeof startStreamableServer>> | null = null;
    try {
      await connections.start();
      expect(connections.view().clients[0]).toMatchObject({ state: 'disconnected', tools: [] });
      expect(connections.view().clients[0].lastError).toMatch(/could not connect/);
      await expect(connections.call('h', 'echo', { text: 'x' }, 1_000)).rejects.toMatchObject({ data: { code: 'MCP_SERVER_UNAVAILABLE' } });
      server = await startStreamableServer('h', port);
      await eventually(() => connections.view().clients[0].state, (state) => state === 'connected', 10_000);
      expect(await connections.call('h', 'echo', { text: 'x' }, 1_000)).toEqual({ content: 'x', isError: false });
    } finally {
      await connections.close();
      await server?.close();
    }
  });

  it('that stops answering pings is shown disconnected and reconnected once it answers again', async () => {
    const server = await startStreamableServer('hung');
    const connections = new McpConnections(config(http('h', server.url)), logger, { intervalMs: 100, timeoutMs: 300 });
    const state = () => connections.view().clients[0];
    try {
      await connections.start();
      expect(state()).toMatchObject({ state: 'connected', reconnects: 0 });
      const before = server.seen.requests;
      // Pings are sent and answered while it is healthy: the connection stays as it is.
      await eventually(() => server.seen.requests, (n) => n >= before + 3, 3_000);
      expect(state()).toMatchObject({ state: 'connected', reconnects: 0 });
      server.answer!(false);
      await eventually(() => state(), (s) => s.state === 'disconnected', 5_000);
      expect(state().lastError).toMatch(/^ping failed/);
      await expect(connections.call('h', 'echo', { text: 'x' }, 1_000)).rejects.toMatchObject({ data: { code: 'MCP_SERVER_UNAVAILABLE' } });
      server.answer!(true);
      await eventually(() => state(), (s) => s.state === 'connected', 10_000);
      expect(state().reconnects).toBe(1);
      expect(state().lastError).toBeNull();
      expect(await connections.call('h', 'echo', { text: 'back' }, 5_000)).toMatchObject({ content: 'back', isError: false });
    } finally {
      server.answer!(true);
      await connections.close();
      await server.close();
    }
  });

  it('has its tool list re-listed every sync interval', async () => {
    const server = await startStreamableServer('synced');
    const connections = new McpConnections(config(http('h', server.url, { syncIntervalMs: 200 })), logger);
    try {
      await connections.start();
      await connections.call('h', 'add_tool', { name: 'synced_later' }, 5_000);
      await eventually(() => toolNames(connections, 'h'), (names) => names.includes('synced_later'), 3_000);
    } finally {
      await connections.close();
      await server.close();
    }
  });
});
