// Stage 3b, MCP tools in requests: the permitted tools of the catalog, filtered by the request's headers, added to
// the request's `tools` in the shape the attempt sends (the pipeline's chat request, which each provider's adapter
// translates into its own tool format, or the client's own Responses or Messages request on a native attempt).
// A tool the client already sent under the same name is the client's: it is not added again.
//
// The tools' JSON text is made once per catalog version and filter, not per request: a job carries it as one string
// (JobData.tools), which the worker appends to the body's tools (workers/providers/added-tools.ts). So plugins' hooks
// see the client's own tools only. The filters stack as in Bifrost: the config's `tools_to_execute` (applied by the
// catalog), then the request's `x-bf-mcp-include-clients` / `x-bf-mcp-include-tools`, then its virtual key's
// `mcp_configs`. A tool must pass every one of them.

import type { McpCatalog, McpKeyGrant, McpTool, McpToolFilter } from './catalog.js';

/** The request headers (lower case) that narrow the tools, Bifrost's names so its users' clients work unchanged. */
export const INCLUDE_CLIENTS_HEADER = 'x-bf-mcp-include-clients';
export const INCLUDE_TOOLS_HEADER = 'x-bf-mcp-include-tools';

/** The request shapes tools are added to. */
export type ToolFormat = 'chat' | 'responses' | 'messages';

/** The tool as `format` writes it: the pipeline's chat request, OpenAI's Responses request, Anthropic's Messages. */
function toolIn(format: ToolFormat, tool: McpTool): object {
  const { name, description, inputSchema } = tool;
  if (format === 'chat') return { type: 'function', function: { name, description, parameters: inputSchema } };
  if (format === 'responses') return { type: 'function', name, description, parameters: inputSchema };
  return { name, description, input_schema: inputSchema };
}

/** The permitted tools for one filter, and their JSON text in each request shape, made once (a shape on first use). */
export class ToolSet {
  readonly tools: readonly McpTool[];
  /** Some tool may run inside the gateway (`tools_to_auto_execute`): a request given this set is in agent mode. */
  readonly anyAuto: boolean;
  readonly #parts = new Map<ToolFormat, readonly string[]>();
  readonly #whole = new Map<ToolFormat, string>();

  constructor(tools: readonly McpTool[]) {
    this.tools = tools;
    this.anyAuto = tools.some((tool) => tool.autoExecute);
  }

  /** Each tool's JSON in `format`, in the set's order. */
  parts(format: ToolFormat): readonly string[] {
    let parts = this.#parts.get(format);
    if (!parts) this.#parts.set(format, (parts = this.tools.map((tool) => JSON.stringify(toolIn(format, tool)))));
    return parts;
  }

  /** The JSON array of every tool in `format`. */
  text(format: ToolFormat): string {
    let text = this.#whole.get(format);
    if (text === undefined) this.#whole.set(format, (text = `[${this.parts(format).join(',')}]`));
    return text;
  }
}

/** Past this many distinct header filters in one catalog version, their cache starts over (the headers are the
 * client's). A virtual key's own set is kept apart: there are as many as the config has keys. */
const MAX_CACHED_FILTERS = 64;

/** A comma-separated header as a list; absent or blank: no filter. */
function listOf(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const list = value.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  return list.length > 0 ? list : null;
}

/** The name of a tool the client sent, in any of the three shapes; '' when it has none. */
function nameOf(tool: unknown): string {
  if (typeof tool !== 'object' || tool === null) return '';
  const own = (tool as { name?: unknown }).name;
  if (typeof own === 'string') return own;
  const fn = (tool as { function?: { name?: unknown } }).function;
  return typeof fn?.name === 'string' ? fn.name : '';
}

export class McpTools {
  readonly catalog: McpCatalog;
  #version = -1;
  /** By header filter (and key id): bounded. */
  readonly #sets = new Map<string, ToolSet | null>();
  /** By key id alone (no header filter): one per configured virtual key at most. */
  readonly #keySets = new Map<string, ToolSet | null>();

  constructor(catalog: McpCatalog) {
    this.catalog = catalog;
  }

  /** The tools this request may be given (its headers and its virtual key narrow them); null when there are none. */
  forRequest(headers: Readonly<Record<string, string>>, key: McpKeyGrant | null = null): ToolSet | null {
    const clients = headers[INCLUDE_CLIENTS_HEADER];
    const names = headers[INCLUDE_TOOLS_HEADER];
    const byHeaders = clients !== undefined || names !== undefined;
    if (this.catalog.version !== this.#version) {
      this.#sets.clear();
      this.#keySets.clear();
      this.#version = this.catalog.version;
    }
    if (byHeaders && this.#sets.size >= MAX_CACHED_FILTERS) this.#sets.clear();
    // A header value holds no newline: the last two parts are the headers', whatever the key's id holds.
    const cache = byHeaders || key === null ? this.#sets : this.#keySets;
    const id = byHeaders ? `${key?.id ?? ''}\n${clients ?? ''}\n${names ?? ''}` : key?.id ?? '';
    let set = cache.get(id);
    if (set === undefined) {
      const filter: McpToolFilter = { includeClients: listOf(clients), includeTools: listOf(names), keyTools: key?.mcpTools ?? null };
      const tools = this.catalog.tools(filter);
      set = tools.length > 0 ? new ToolSet(tools) : null;
      cache.set(id, set);
    }
    return set;
  }
}

/** What one attempt adds: the tools' JSON text for the job (JobData.tools), and the names the request sent itself. */
export interface AddedTools {
  readonly text: string;
  /** Tools of these names are the client's (or a plugin's), whatever the catalog holds: the agent loop never runs them. */
  readonly theirs: ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The set's tools in `format` as the JSON text of an array, less those the request's own `tools` name (the request's
 * win); null when none is left, or when its `tools` is not an array (the provider will refuse that).
 */
export function addedTools(set: ToolSet, format: ToolFormat, own: unknown): AddedTools | null {
  if (own === undefined || own === null) return { text: set.text(format), theirs: NONE };
  if (!Array.isArray(own)) return null;
  const theirs = new Set<string>();
  for (const tool of own) theirs.add(nameOf(tool));
  const parts = set.parts(format);
  const kept: string[] = [];
  for (let i = 0; i < parts.length; i++) if (!theirs.has(set.tools[i].name)) kept.push(parts[i]);
  if (kept.length === 0) return null;
  return { text: kept.length === parts.length ? set.text(format) : `[${kept.join(',')}]`, theirs };
}
