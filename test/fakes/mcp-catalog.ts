// An MCP catalog in memory, for tests of what the request path does with tools (injection, the agent loop) without
// MCP servers: each tool is a function. It records every call, how many ran at once, and how often the tool list was
// asked for, so a test can tell the serialized list is made once per version.

import { GatewayError } from '../../dist/src/errors/gateway-error.js';
import type { McpCallContext, McpCatalog, McpTool, McpToolFilter, McpToolResult } from '../../dist/src/mcp/catalog.js';

export interface FakeTool {
  client: string;
  tool: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  autoExecute?: boolean;
  /** What a call answers; default: the arguments echoed as JSON. */
  run?: (args: Record<string, unknown>, ctx: McpCallContext) => Promise<McpToolResult> | McpToolResult;
}

export interface FakeToolCallRecord {
  name: string;
  args: Record<string, unknown>;
  requestId: string;
}

export class FakeCatalog implements McpCatalog {
  version = 1;
  readonly calls: FakeToolCallRecord[] = [];
  /** How many times `tools()` was asked. */
  listed = 0;
  /** The most calls that ran at the same time. */
  peakRunning = 0;
  #running = 0;
  #tools: McpTool[] = [];
  #runs = new Map<string, FakeTool['run']>();

  constructor(tools: readonly FakeTool[]) {
    this.setTools(tools);
  }

  /** Replaces the tool list and bumps the version, as a server's `tools/list_changed` would. */
  setTools(tools: readonly FakeTool[]): void {
    this.#tools = tools.map((tool) => Object.freeze({
      name: `${tool.client}_${tool.tool}`,
      client: tool.client,
      tool: tool.tool,
      description: tool.description ?? `${tool.tool} of ${tool.client}`,
      inputSchema: tool.inputSchema ?? { type: 'object', properties: {} },
      autoExecute: tool.autoExecute ?? false,
    }));
    this.#runs = new Map(tools.map((tool) => [`${tool.client}_${tool.tool}`, tool.run]));
    this.version++;
  }

  tools(filter?: McpToolFilter): readonly McpTool[] {
    this.listed++;
    const clients = filter?.includeClients;
    const names = filter?.includeTools;
    return this.#tools.filter((tool) => (!clients || clients.includes(tool.client)) &&
      (!names || names.includes(tool.name) || names.includes(`${tool.client}_*`)));
  }

  get(name: string): McpTool | undefined {
    return this.#tools.find((tool) => tool.name === name);
  }

  async execute(name: string, args: Record<string, unknown>, ctx: McpCallContext): Promise<McpToolResult> {
    if (!this.get(name)) throw new GatewayError('INVALID_REQUEST', `no MCP tool '${name}'`);
    this.calls.push({ name, args, requestId: ctx.requestId });
    this.#running++;
    this.peakRunning = Math.max(this.peakRunning, this.#running);
    try {
      const run = this.#runs.get(name);
      return run ? await run(args, ctx) : { content: JSON.stringify(args), isError: false };
    } finally {
      this.#running--;
    }
  }
}
