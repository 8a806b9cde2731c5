// A test MCP server over stdio, as a gateway spawns it: `node --import tsx test/fakes/mcp/stdio-server.ts [name]`.
// Writes its pid to $MCP_FAKE_PID_FILE (appending a line) so tests can tell how many copies were spawned and whether
// they are gone.
import { appendFileSync } from 'node:fs';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { buildToolServer } from './tools.js';

if (process.env.MCP_FAKE_PID_FILE) appendFileSync(process.env.MCP_FAKE_PID_FILE, `${process.pid}\n`);
serveStdio(() => buildToolServer(process.argv[2] ?? 'stdio-fake'));
