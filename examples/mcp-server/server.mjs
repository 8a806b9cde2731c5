#!/usr/bin/env node
// A small MCP server for trying Heimdall's MCP support, written with the MCP SDK. Run from a Heimdall checkout:
//
//   node examples/mcp-server/server.mjs                 # over stdio: what an `mcp.client_configs[]` stdio entry spawns
//   node examples/mcp-server/server.mjs --http 3001     # streamable HTTP at http://127.0.0.1:3001/mcp
//
// Tools: `add` (two numbers), `word_count` (of a text), `repeat` (a text N times: large results), `now` (the time).
import { createServer } from 'node:http';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

const text = (value) => ({ content: [{ type: 'text', text: String(value) }] });

function buildServer() {
  const server = new McpServer({ name: 'heimdall-example', version: '1.0.0' });
  server.registerTool('add', { description: 'Adds two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) },
    ({ a, b }) => text(a + b));
  server.registerTool('word_count', { description: 'Counts the words of a text', inputSchema: z.object({ text: z.string() }) },
    ({ text: t }) => text(t.split(/\s+/).filter(Boolean).length));
  server.registerTool('repeat', { description: 'Repeats a text N times',
    inputSchema: z.object({ text: z.string(), times: z.number().int().min(0).max(10_000_000) }) },
  ({ text: t, times }) => text(t.repeat(times)));
  server.registerTool('now', { description: 'The current time, ISO 8601, UTC' }, () => text(new Date().toISOString()));
  return server;
}

const at = process.argv.indexOf('--http');
if (at < 0) {
  serveStdio(buildServer);
} else {
  const port = Number(process.argv[at + 1] ?? 3001);
  const handler = createMcpHandler(buildServer);
  createServer(async (req, res) => {
    const parts = [];
    for await (const part of req) parts.push(part);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const response = await handler.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers,
      body: req.method === 'POST' ? Buffer.concat(parts) : undefined }));
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) for await (const chunk of response.body) res.write(chunk);
    res.end();
  }).listen(port, '127.0.0.1', () => process.stderr.write(`MCP server on http://127.0.0.1:${port}/mcp\n`));
}
