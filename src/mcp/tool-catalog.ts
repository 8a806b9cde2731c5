// The MCP tools as the request path sees them (McpCatalog): built from the owner's view of the servers each time it
// changes (not per request), with each client's `tools_to_execute` applied; filtered per request by the
// `x-bf-mcp-include-*` headers and the virtual key's `mcp_configs`; executed with the arguments checked against the tool's input schema, inside the
// plugins' tool hooks, within `client.mcp_tool_execution_timeout`, and counted in the metrics.

import type { Logger } from 'pino';
import { z } from 'zod';
import type { McpConfig } from '../config/types.js';
import { errorData, gatewayErrorOf, GatewayError } from '../errors/gateway-error.js';
import type { PluginRunner } from '../plugins/runner.js';
import type { McpCallContext, McpCatalog, McpTool, McpToolFilter, McpToolResult } from './catalog.js';
import type { McpOwner, McpView } from './connections.js';
import type { McpMetrics } from './metrics.js';

interface Entry {
  readonly tool: McpTool;
  readonly permitted: boolean;
  /** The input schema as a validator, made on first use; null: the schema could not be read, the server checks. */
  validator?: z.ZodType | null;
}

/** A filter header's value as a list: comma-separated, trimmed; absent: null (no filter). */
export function headerList(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

export class McpToolCatalog implements McpCatalog {
  readonly #owner: McpOwner;
  readonly #config: McpConfig;
  readonly #plugins: PluginRunner;
  readonly #metrics: McpMetrics | null;
  readonly #logger: Logger;
  #version = 0;
  #entries = new Map<string, Entry>();
  #permitted: readonly McpTool[] = [];
  #view: McpView;

  constructor(owner: McpOwner, config: McpConfig, deps: { plugins: PluginRunner; metrics?: McpMetrics; logger: Logger }) {
    this.#owner = owner;
    this.#config = config;
    this.#plugins = deps.plugins;
    this.#metrics = deps.metrics ?? null;
    this.#logger = deps.logger;
    this.#view = owner.view();
    this.#rebuild();
    owner.onChange((view) => {
      this.#view = view;
      this.#rebuild();
    });
  }

  get version(): number {
    return this.#version;
  }

  /** The servers' state, for /health and the connected gauge. */
  get view(): McpView {
    return this.#view;
  }

  get config(): McpConfig {
    return this.#config;
  }

  #rebuild(): void {
    const entries = new Map<string, Entry>();
    const permitted: McpTool[] = [];
    for (const client of this.#view.clients) {
      const config = this.#config.clients.find((c) => c.name === client.name);
      if (!config) continue;
      for (const served of client.tools) {
        const allowed = config.toolsToExecute === null || config.toolsToExecute.includes(served.tool);
        const tool: McpTool = Object.freeze({
          name: `${client.name}_${served.tool}`,
          client: client.name,
          tool: served.tool,
          description: served.description,
          inputSchema: served.inputSchema,
          autoExecute: allowed && (config.toolsToAutoExecute === null || config.toolsToAutoExecute.includes(served.tool)),
        });
        // Two clients' names can meet (`a_b` + `c`, `a` + `b_c`): the first keeps the name, as models see one tool.
        if (entries.has(tool.name)) {
          this.#logger.warn({ tool: tool.name }, 'two MCP clients serve a tool of this name; the first configured keeps it');
          continue;
        }
        entries.set(tool.name, { tool, permitted: allowed });
        // A server that is down keeps its tools known (a call gets 503, not 404), but models are not offered them.
        if (allowed && client.state === 'connected') permitted.push(tool);
      }
    }
    this.#entries = entries;
    this.#permitted = Object.freeze(permitted);
    this.#version++;
  }

  tools(filter?: McpToolFilter): readonly McpTool[] {
    if ((filter?.includeClients ?? null) === null && (filter?.includeTools ?? null) === null && (filter?.keyTools ?? null) === null) {
      return this.#permitted;
    }
    return this.#permitted.filter((tool) => passes(tool, filter!));
  }

  /** Whether the tool may run for a request with this filter (its server connected or not). */
  permits(name: string, filter: McpToolFilter): boolean {
    const entry = this.#entries.get(name);
    return entry !== undefined && entry.permitted && passes(entry.tool, filter);
  }

  get(name: string): McpTool | undefined {
    const entry = this.#entries.get(name);
    return entry?.permitted ? entry.tool : undefined;
  }

  /** Whether a tool of this name exists at all, permitted or not (403 rather than 404). */
  exists(name: string): boolean {
    return this.#entries.has(name);
  }

  async execute(name: string, args: Record<string, unknown>, ctx: McpCallContext): Promise<McpToolResult> {
    const started = performance.now();
    const entry = this.#entries.get(name);
    const client = entry?.tool.client ?? '';
    const toolName = entry?.tool.tool ?? '';
    try {
      if (!entry) throw new GatewayError('MCP_UNKNOWN_TOOL', `no MCP tool '${name}'${this.#known()}`);
      if (!entry.permitted) {
        throw new GatewayError('MCP_TOOL_NOT_PERMITTED', `MCP tool '${name}' may not run: it is not in tools_to_execute of client '${client}'`);
      }
      const { tool } = entry;
      const logger = this.#logger.child({ requestId: ctx.requestId, tool: name });
      const result = await this.#plugins.runTool({ requestId: ctx.requestId, logger },
        { name, client: tool.client, tool: tool.tool, arguments: args },
        (call) => {
          this.#validate(entry, call.arguments);
          return this.#owner.call(tool.client, tool.tool, call.arguments, this.#config.toolTimeoutMs, ctx.signal);
        });
      this.#metrics?.toolCall(client, toolName, result.isError ? 'tool_error' : 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      const code = error instanceof GatewayError ? error.data.code.toLowerCase() : 'mcp_server_failed';
      this.#metrics?.toolCall(client, toolName, code, (performance.now() - started) / 1000);
      throw error;
    }
  }

  recordAgentTurns(turns: number): void {
    this.#metrics?.agentRequest(turns);
  }

  #validate(entry: Entry, args: Record<string, unknown>): void {
    if (entry.validator === undefined) {
      try {
        entry.validator = z.fromJSONSchema(entry.tool.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
      } catch (error) {
        this.#logger.debug({ tool: entry.tool.name, err: error }, 'the tool\'s input schema cannot be checked here; its server checks it');
        entry.validator = null;
      }
    }
    if (!entry.validator) return;
    const checked = entry.validator.safeParse(args);
    if (checked.success) return;
    const problems = checked.error.issues.map((issue) => `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
    throw gatewayErrorOf(errorData('MCP_INVALID_ARGUMENTS',
      `the arguments of ${entry.tool.name} do not match its input schema: ${problems.join('; ')}`, { param: 'arguments' }));
  }

  #known(): string {
    const known = [...this.#entries.keys()];
    return known.length === 0 ? ' (no MCP server is connected with tools)' : `; known tools: ${known.slice(0, 20).join(', ')}`;
  }

  close(): Promise<void> {
    return this.#owner.close();
  }
}

function passes(tool: McpTool, filter: McpToolFilter): boolean {
  const clients = filter.includeClients ?? null;
  const tools = filter.includeTools ?? null;
  return (clients === null || clients.includes(tool.client)) && (tools === null || tools.some((name) => matchesTool(name, tool)))
    && keyAllows(filter.keyTools ?? null, tool);
}

/** The virtual key's `mcp_configs` let the tool through (a request without a key: every tool). */
function keyAllows(keyTools: ReadonlyMap<string, ReadonlySet<string> | null> | null, tool: McpTool): boolean {
  if (keyTools === null) return true;
  const allowed = keyTools.get(tool.client);
  return allowed === null || (allowed !== undefined && allowed.has(tool.tool));
}

/** An `x-bf-mcp-include-tools` entry: `client-tool`, `client-*` (Bifrost's forms), or the tool's full `client_tool`. */
function matchesTool(pattern: string, tool: McpTool): boolean {
  if (pattern === tool.name) return true;
  const dash = pattern.indexOf('-');
  if (dash <= 0 || pattern.slice(0, dash) !== tool.client) return false;
  const rest = pattern.slice(dash + 1);
  return rest === '*' || rest === tool.tool;
}
