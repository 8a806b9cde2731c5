// MCP's HTTP routes:
// - `POST /v1/mcp/tool/execute` (Bifrost's): one assistant tool call in, the `role: tool` message out; with
//   `?format=responses`, a Responses `function_call` item in and its `function_call_output` item out.
// - `/mcp`: Heimdall as an MCP server (streamable HTTP) over the aggregated, filtered tools, for Claude Desktop,
//   Cursor or any MCP client. Both narrow the tools to a virtual key's `mcp_configs` when the client presents one. Served by the SDK's `createMcpHandler` through a Web Request/Response bridge. It keeps
//   no session between requests (the SDK's stateless serving), so a client's next request may land on any process
//   of a cluster.

import { createMcpHandler, ProtocolError, ProtocolErrorCode, Server } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, openAIErrorBody, statusOf, toErrorData, GatewayError } from '../errors/gateway-error.js';
import { MCP_ROUTES } from './entry.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, Route } from '../http/server.js';
import { VERSION } from '../version.js';
import type { McpKeyGrant, McpToolFilter } from './catalog.js';
import { headerList, type McpToolCatalog } from './tool-catalog.js';

/** The request's `x-bf-mcp-include-clients` / `x-bf-mcp-include-tools` (Bifrost's headers), and its virtual key's tools. */
export function filterOf(headers: Readonly<Record<string, string>>, key: McpKeyGrant | null = null): McpToolFilter {
  return { includeClients: headerList(headers['x-bf-mcp-include-clients']), includeTools: headerList(headers['x-bf-mcp-include-tools']),
    keyTools: key?.mcpTools ?? null };
}

/**
 * Finds the virtual key a request presents (governance's `identify`): null when it presents none and none is
 * required; throws the refusal (401) for a key that is not one, inactive, or missing where one is required.
 */
export interface KeyIdentifier {
  identify(headers: Readonly<Record<string, string>>): McpKeyGrant | null;
}

/** The MCP routes over the catalog (a gateway without MCP serves `mcpNotConfiguredRoutes` instead). */
export function mcpRoutes(catalog: McpToolCatalog, logger: Logger, keys: KeyIdentifier | null = null): Route[] {
  const execute = executeHandler(catalog, logger, keys);
  const server = mcpServerHandler(catalog, logger, keys);
  return MCP_ROUTES.map((route) => ({ ...route, readBody: route.method === 'post',
    handler: route.path === '/v1/mcp/tool/execute' ? execute : server }));
}

function fail(sink: ResponseSink, error: ErrorData): void {
  sink.access.errorCode = error.code.toLowerCase();
  sink.json(statusOf(error), openAIErrorBody(error));
}

interface ToolCallIn {
  readonly id: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The tool call of an execute request, in chat (`tool_calls[]` item) or Responses (`function_call` item) format. */
function parseToolCall(body: Buffer | null, format: 'chat' | 'responses'): ToolCallIn {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body?.toString('utf8') ?? '');
  } catch {
    throw new GatewayError('INVALID_JSON', 'the body is not valid JSON');
  }
  if (!isObject(parsed)) throw new GatewayError('INVALID_REQUEST', 'the body must be a JSON object: one tool call');
  let id: unknown;
  let name: unknown;
  let rawArgs: unknown;
  if (format === 'chat') {
    const fn = parsed.function;
    if (!isObject(fn)) {
      throw new GatewayError('INVALID_REQUEST', "expected an assistant tool call: {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}"
        + (parsed.type === 'function_call' ? ' (a Responses function_call item goes to ?format=responses)' : ''), { param: 'function' });
    }
    [id, name, rawArgs] = [parsed.id, fn.name, fn.arguments];
  } else {
    if (parsed.type !== 'function_call') {
      throw new GatewayError('INVALID_REQUEST', 'expected a Responses function_call item: {"type": "function_call", "call_id", "name", "arguments"}', { param: 'type' });
    }
    [id, name, rawArgs] = [parsed.call_id, parsed.name, parsed.arguments];
  }
  if (typeof name !== 'string' || name === '') throw new GatewayError('INVALID_REQUEST', 'the tool call has no name', { param: 'name' });
  if (id !== undefined && typeof id !== 'string') throw new GatewayError('INVALID_REQUEST', 'the tool call id must be a string', { param: 'id' });
  return { id: (id as string | undefined) ?? '', name, args: parseArguments(rawArgs) };
}

/** `arguments` as models write it, a JSON string of an object; an object as it is; absent or "" as {}. */
function parseArguments(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  if (isObject(raw)) return raw;
  if (typeof raw !== 'string') throw new GatewayError('MCP_INVALID_ARGUMENTS', 'arguments must be a JSON object, or a string of one', { param: 'arguments' });
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new GatewayError('MCP_INVALID_ARGUMENTS', 'arguments is not valid JSON', { param: 'arguments' });
  }
  if (!isObject(value)) throw new GatewayError('MCP_INVALID_ARGUMENTS', 'arguments must be a JSON object', { param: 'arguments' });
  return value;
}

function executeHandler(catalog: McpToolCatalog, logger: Logger, keys: KeyIdentifier | null) {
  return (request: IncomingRequest, sink: ResponseSink): void => {
    const format = new URLSearchParams(request.query).get('format') ?? 'chat';
    let call: ToolCallIn;
    try {
      // Who is asking comes first, as on the inference routes.
      const key = keys?.identify(request.headers) ?? null;
      if (key) sink.access.virtualKeyId = key.id;
      if (format !== 'chat' && format !== 'responses') {
        throw new GatewayError('INVALID_REQUEST', `format must be 'chat' or 'responses', not '${format}'`, { param: 'format' });
      }
      call = parseToolCall(request.body, format);
      checkPermitted(catalog, call.name, request.headers, key);
    } catch (error) {
      fail(sink, toErrorData(error));
      return;
    }
    const abort = new AbortController();
    sink.onAbort({ clientAborted: () => abort.abort() });
    catalog.execute(call.name, call.args, { requestId: request.requestId, signal: abort.signal }).then((result) => {
      if (sink.aborted) return;
      const body = format === 'chat'
        ? { role: 'tool', tool_call_id: call.id, content: result.content }
        : { type: 'function_call_output', call_id: call.id, output: result.content };
      sink.json(200, JSON.stringify(body), result.isError ? { 'x-heimdall-tool-error': 'true' } : undefined);
    }, (error: unknown) => {
      if (!(error instanceof GatewayError)) logger.error({ err: error, requestId: request.requestId }, 'MCP tool execution failed');
      if (!sink.aborted) fail(sink, toErrorData(error));
    });
  };
}

/** 404 for a tool no server has, 403 for one the config, the request's filter headers or its virtual key do not permit. */
function checkPermitted(catalog: McpToolCatalog, name: string, headers: Readonly<Record<string, string>>, key: McpKeyGrant | null): void {
  if (!catalog.exists(name)) return; // execute answers MCP_UNKNOWN_TOOL with the known names
  if (!catalog.get(name)) return; // execute answers MCP_TOOL_NOT_PERMITTED
  if (!catalog.permits(name, filterOf(headers))) {
    throw new GatewayError('MCP_TOOL_NOT_PERMITTED', `MCP tool '${name}' is left out by the request's x-bf-mcp-include-clients / x-bf-mcp-include-tools headers`);
  }
  if (key && !catalog.permits(name, filterOf(headers, key))) {
    throw new GatewayError('MCP_TOOL_NOT_PERMITTED', `virtual key '${key.id}' may not use MCP tool '${name}' (its mcp_configs)`);
  }
}

/** Heimdall's own tools as an MCP server: one fresh low-level Server per HTTP request, over the catalog. */
function mcpServerHandler(catalog: McpToolCatalog, logger: Logger, keys: KeyIdentifier | null) {
  const handler = createMcpHandler((ctx) => {
    const headers: Record<string, string> = {};
    ctx.requestInfo?.headers.forEach((value, name) => {
      headers[name] = value;
    });
    // The same headers passed `identify` before the request reached the SDK: this finds the same key, or none.
    const key = keys?.identify(headers) ?? null;
    const filter = filterOf(headers, key);
    const requestId = headers['x-request-id'] ?? 'mcp';
    const server = new Server({ name: 'heimdall', version: VERSION }, { capabilities: { tools: {} } });
    server.setRequestHandler('tools/list', () => ({
      tools: catalog.tools(filter).map((tool) => ({ name: tool.name, description: tool.description,
        inputSchema: tool.inputSchema as { type: 'object'; [key: string]: unknown } })),
    }));
    server.setRequestHandler('tools/call', async (request, callCtx) => {
      const name = request.params.name;
      try {
        checkPermitted(catalog, name, headers, key);
        const result = await catalog.execute(name, request.params.arguments ?? {}, { requestId, signal: callCtx.mcpReq.signal });
        return { content: [{ type: 'text', text: result.content }], isError: result.isError };
      } catch (error) {
        const data = toErrorData(error);
        // The caller's mistakes are protocol errors; the tool's server failing is the tool's error, as MCP reports those.
        if (['MCP_UNKNOWN_TOOL', 'MCP_TOOL_NOT_PERMITTED', 'MCP_INVALID_ARGUMENTS'].includes(data.code)) {
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, data.message);
        }
        return { content: [{ type: 'text', text: `${data.code.toLowerCase()}: ${data.message}` }], isError: true };
      }
    });
    return server;
  }, { onerror: (error) => logger.debug({ err: error }, 'MCP server request failed') });

  return (request: IncomingRequest, sink: ResponseSink): void => {
    try {
      const key = keys?.identify(request.headers) ?? null;
      if (key) sink.access.virtualKeyId = key.id;
    } catch (error) {
      fail(sink, toErrorData(error));
      return;
    }
    const abort = new AbortController();
    sink.onAbort({ clientAborted: () => abort.abort() });
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) headers.set(name, value);
    headers.set('x-request-id', request.requestId);
    const web = new Request(`http://${request.headers.host ?? 'localhost'}${request.path}${request.query ? `?${request.query}` : ''}`, {
      method: request.method, headers, signal: abort.signal,
      ...(request.method === 'POST' ? { body: request.body ? new Uint8Array(request.body) : new Uint8Array() } : {}),
    });
    void handler.fetch(web).then((response) => relay(response, sink), (error: unknown) => {
      logger.error({ err: error, requestId: request.requestId }, 'the MCP server failed');
      if (!sink.aborted) fail(sink, errorData('INTERNAL', 'the MCP server failed'));
    });
  };
}

/** A Web Response written to the sink: whole, or chunk by chunk for an SSE stream. */
async function relay(response: Response, sink: ResponseSink): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'content-type' && name !== 'content-length') headers[name] = value;
  });
  const contentType = response.headers.get('content-type') ?? 'application/json';
  if (!contentType.startsWith('text/event-stream') || !response.body || response.status !== 200) {
    const body = new Uint8Array(await response.arrayBuffer());
    if (sink.aborted) return;
    sink.text(response.status, contentType, body, headers);
    return;
  }
  sink.startStream(headers, contentType);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (sink.aborted) {
      await reader.cancel().catch(() => undefined);
      return;
    }
    if (done) break;
    if (!sink.write(value)) await new Promise<void>((resolve) => sink.onWritable(resolve));
  }
  sink.end();
}
