// MCP for a gateway process: the catalog the request path reads (absent when no MCP client is configured, so a
// gateway without MCP pays nothing), over connections this process owns, or, in a cluster, the supervisor's. Loaded
// only when the config has MCP clients (see entry.ts).

import type { Logger } from 'pino';
import type { McpConfig } from '../config/types.js';
import type { PluginRunner } from '../plugins/runner.js';
import type { Route } from '../http/server.js';
import type { ScrapeGauge } from '../observability/metrics.js';
import { MCP_START_WAIT_MS } from './entry.js';
import { McpThread } from './host-thread.js';
import { MCP_CONNECTED_GAUGE, McpMetrics } from './metrics.js';
import { RemoteMcpOwner, type McpTransport } from './remote.js';
import { mcpRoutes, type KeyIdentifier } from './routes.js';
import { McpToolCatalog } from './tool-catalog.js';

export interface StartedMcp {
  readonly catalog: McpToolCatalog;
  readonly metrics: McpMetrics;
  readonly connectedGauge: ScrapeGauge;
  /** POST /v1/mcp/tool/execute and /mcp; with governance, a virtual key presented narrows the tools to its own. */
  routes(governance: KeyIdentifier | null): Route[];
  /** The MCP part of /health: each server's state and tool count. */
  health(): unknown;
}

/**
 * Starts the MCP thread and its connections (or, with `remote`, attaches to the supervisor's) and builds the catalog.
 * Never fails for a server that is down: that server is retried in the background.
 */
export async function startMcp(config: McpConfig, deps: { plugins: PluginRunner; logger: Logger; logLevel: string; remote?: McpTransport }): Promise<StartedMcp> {
  const thread = deps.remote ? null : new McpThread(config, deps.logLevel, MCP_START_WAIT_MS, deps.logger);
  const owner = new RemoteMcpOwner(deps.remote ?? thread!.channel('front'), () => thread?.close() ?? Promise.resolve());
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([owner.ready(), new Promise<void>((resolve) => {
    timer = setTimeout(resolve, MCP_START_WAIT_MS + 5_000);
  })]);
  clearTimeout(timer);
  const metrics = new McpMetrics(config.clients.map((c) => c.name));
  const catalog = new McpToolCatalog(owner, config, { plugins: deps.plugins, metrics, logger: deps.logger });
  const connectedGauge: ScrapeGauge = {
    ...MCP_CONNECTED_GAUGE,
    // Every process of a cluster mirrors the supervisor's one connection per server: the same value, not a sum.
    aggregation: 'max',
    read: () => config.clients.map((client) => ({ labels: [client.name],
      value: catalog.view.clients.find((c) => c.name === client.name)?.state === 'connected' ? 1 : 0 })),
  };
  return { catalog, metrics, connectedGauge, routes: (governance) => mcpRoutes(catalog, deps.logger, governance), health: () => mcpHealth(catalog) };
}

function mcpHealth(catalog: McpToolCatalog): unknown {
  return {
    clients: catalog.view.clients.map((c) => ({ name: c.name, state: c.state, tools: c.tools.length, reconnects: c.reconnects,
      ...(c.lastError ? { last_error: c.lastError } : {}) })),
  };
}
