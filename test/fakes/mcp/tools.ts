// The tools every test MCP server serves, written with the SDK's own McpServer so the gateway meets a real server:
// `echo` and `add` (a schema to validate against), `fail` (reports an error), `hang` (never answers; counts the
// cancellations it receives), `large` (N bytes of text), `crash` (the process dies mid-call, for stdio),
// `add_tool` (adds a tool and announces `notifications/tools/list_changed`) and `stats`.
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** Shared by every server instance in this process (a stateless HTTP server builds one per request). */
export const serverState = { cancelled: 0, hanging: 0, calls: 0, extraTools: [] as string[] };

export function buildToolServer(name: string): McpServer {
  const server = new McpServer({ name, version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
  const text = (t: string, isError = false) => ({ content: [{ type: 'text' as const, text: t }], isError });
  server.registerTool('echo', { description: 'Echoes the text back', inputSchema: z.object({ text: z.string() }) },
    ({ text: t }) => {
      serverState.calls++;
      return text(t);
    });
  server.registerTool('add', { description: 'Adds two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) },
    ({ a, b }) => text(String(a + b)));
  server.registerTool('fail', { description: 'Always reports an error' }, () => text('the tool failed on purpose', true));
  server.registerTool('hang', { description: 'Never answers' }, (ctx) => new Promise((_, reject) => {
    serverState.hanging++;
    ctx.mcpReq.signal.addEventListener('abort', () => {
      serverState.cancelled++;
      serverState.hanging--;
      reject(new Error('cancelled'));
    });
  }));
  server.registerTool('large', { description: 'Returns N bytes of text', inputSchema: z.object({ bytes: z.number().int().min(0) }) },
    ({ bytes }) => text('x'.repeat(bytes)));
  server.registerTool('crash', { description: 'Kills the server process mid-call' }, () => {
    setImmediate(() => process.exit(3));
    return new Promise(() => undefined);
  });
  server.registerTool('stats', { description: 'What the server saw' }, () => text(JSON.stringify(serverState)));
  server.registerTool('add_tool', { description: 'Adds a tool and announces the change', inputSchema: z.object({ name: z.string() }) },
    ({ name: added }) => {
      serverState.extraTools.push(added);
      registerExtra(server, added);
      return text(`added ${added}`);
    });
  for (const extra of serverState.extraTools) registerExtra(server, extra);
  return server;
}

function registerExtra(server: McpServer, name: string): void {
  server.registerTool(name, { description: `Added at run time: ${name}` }, () => ({ content: [{ type: 'text', text: name }] }));
}
