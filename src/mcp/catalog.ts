// The MCP tools the gateway knows, as the request path sees them: listed, filtered, executed. The manager
// (connections to MCP servers) implements it; injection and the agent loop only read it.
export interface McpTool {
  /** `<client>_<tool>`: the name models see. */
  readonly name: string;
  readonly client: string;
  /** The tool's own name on its server. */
  readonly tool: string;
  readonly description: string;
  /** JSON Schema of the arguments. */
  readonly inputSchema: Readonly<Record<string, unknown>>;
  /** Listed in the client's `tools_to_auto_execute`. */
  readonly autoExecute: boolean;
}

export interface McpToolFilter {
  /** `x-bf-mcp-include-clients`; null: no filter. */
  readonly includeClients?: readonly string[] | null;
  /** `x-bf-mcp-include-tools`; null: no filter. */
  readonly includeTools?: readonly string[] | null;
  /** The virtual key's `mcp_configs`: client → its tools the key may use (null: all); a client not in it: none.
   * Absent or null: the request presents no virtual key. */
  readonly keyTools?: ReadonlyMap<string, ReadonlySet<string> | null> | null;
}

/** A virtual key as the MCP filters read it (governance's VirtualKey is one). */
export interface McpKeyGrant {
  readonly id: string;
  readonly mcpTools: ReadonlyMap<string, ReadonlySet<string> | null>;
}

export interface McpToolResult {
  /** The tool's content as the text a `role: tool` message carries. */
  readonly content: string;
  /** The tool reported an error: the model is told, the request does not fail. */
  readonly isError: boolean;
}

export interface McpCallContext {
  readonly requestId: string;
  readonly signal?: AbortSignal;
}

export interface McpCatalog {
  /** Bumped whenever any server's tool list changes: caches of serialized tool lists key on it. */
  readonly version: number;
  /** Permitted tools (config's tools_to_execute applied, then the filter). */
  tools(filter?: McpToolFilter): readonly McpTool[];
  get(name: string): McpTool | undefined;
  /** Runs a permitted tool. Unknown / not permitted / bad arguments / timeout reject with a GatewayError of the
   * error table; a tool that reports an error resolves with isError. Plugin tool hooks run inside. */
  execute(name: string, args: Record<string, unknown>, ctx: McpCallContext): Promise<McpToolResult>;
  /** Added by mcp-core: the agent loop reports how many model turns one request took (heimdall_mcp_agent_turns). */
  recordAgentTurns?(turns: number): void;
}
