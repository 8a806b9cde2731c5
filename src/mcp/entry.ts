// The part of MCP a gateway loads whether or not MCP is configured: no SDK here. Loading the MCP SDK (and its schemas)
// takes as long as loading the rest of the gateway, so `gateway.ts` and the supervisor import `./index.js` and
// `./host-thread.js` only when the config has MCP clients.

import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, Route } from '../http/server.js';

/** How long start-up waits for the MCP servers' first connection attempts; slower ones join when they connect. */
export const MCP_START_WAIT_MS = 10_000;

export const MCP_ROUTES = [
  { method: 'post', path: '/v1/mcp/tool/execute' },
  { method: 'post', path: '/mcp' },
  { method: 'get', path: '/mcp' },
] as const;

/** The MCP routes of a gateway without MCP: each says so, rather than that the path does not exist. */
export function mcpNotConfiguredRoutes(): Route[] {
  const handler = (_request: IncomingRequest, sink: ResponseSink) => {
    const error = errorData('MCP_NOT_CONFIGURED', 'no MCP client is configured (mcp.client_configs in the config file)');
    sink.access.errorCode = error.code.toLowerCase();
    sink.json(statusOf(error), openAIErrorBody(error));
  };
  return MCP_ROUTES.map((route) => ({ ...route, readBody: route.method === 'post', handler }));
}
