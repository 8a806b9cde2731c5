// Config entries for the test MCP servers (tools.ts), for tests that start a gateway in front of them.
import { fileURLToPath } from 'node:url';

export { startSseServer, startStreamableServer, type FakeMcpServer } from './http-servers.js';

export const STDIO_SERVER = fileURLToPath(new URL('./stdio-server.ts', import.meta.url));

/** An `mcp.client_configs[]` entry that spawns the stdio test server (through tsx: the test tree is not compiled). */
export function stdioClient(name: string, extra: Record<string, unknown> = {}, envs: string[] = []): Record<string, unknown> {
  return {
    name,
    connection_type: 'stdio',
    stdio_config: { command: process.execPath, args: ['--import', 'tsx', STDIO_SERVER, name], envs },
    tools_to_execute: ['*'],
    ...extra,
  };
}

export function httpClient(name: string, url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, connection_type: 'http', connection_string: url, tools_to_execute: ['*'], ...extra };
}

export function sseClient(name: string, url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, connection_type: 'sse', connection_string: url, tools_to_execute: ['*'], ...extra };
}
