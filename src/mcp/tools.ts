// Stage 3b, MCP tools in requests: the permitted tools of the catalog, filtered by the request's headers, added to
// the request's `tools` in the shape the attempt sends (the pipeline's chat request, which each provider's adapter
// translates into its own tool format, or the client's own Responses or Messages request on a native attempt).
// A tool the client already sent under the same name is the client's: it is not added again.
//
// The tool objects are built once per catalog version and filter, not per request: a request copies an array of
// references to frozen objects. The filters stack as in Bifrost: the config's `tools_to_execute` (applied by the
// catalog), then the request's `x-bf-mcp-include-clients` / `x-bf-mcp-include-tools`.

import type { McpCatalog, McpTool, McpToolFilter } from './catalog.js';

/** The request headers (lower case) that narrow the tools, Bifrost's names so its users' clients work unchanged. */
export const INCLUDE_CLIENTS_HEADER = 'x-bf-mcp-include-clients';
export const INCLUDE_TOOLS_HEADER = 'x-bf-mcp-include-tools';

/** The request shapes tools are added to. */
export type ToolFormat = 'chat' | 'responses' | 'messages';

/** The permitted tools for one filter, in every shape a request may need, built once. */
export interface ToolSet {
  readonly tools: readonly McpTool[];
  /** `{type:'function', function:{name, description, parameters}}`: the pipeline's chat request. */
  readonly chat: readonly object[];
  /** `{type:'function', name, description, parameters}`: OpenAI's Responses request. */
  readonly responses: readonly object[];
  /** `{name, description, input_schema}`: Anthropic's Messages request. */
  readonly messages: readonly object[];
  /** Some tool may run inside the gateway (`tools_to_auto_execute`): the request is in agent mode. */
  readonly anyAuto: boolean;
}

/** Past this many distinct filters in one catalog version, the cache starts over (the headers are the client's). */
const MAX_CACHED_FILTERS = 256;

/** A comma-separated header as a list; absent or blank: no filter. */
function listOf(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const list = value.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  return list.length > 0 ? list : null;
}

function buildSet(tools: readonly McpTool[]): ToolSet {
  const freeze = <T extends object>(value: T): T => Object.freeze(value);
  return Object.freeze({
    tools,
    chat: freeze(tools.map((tool) => freeze({ type: 'function', function: freeze({ name: tool.name, description: tool.description,
      parameters: tool.inputSchema }) }))),
    responses: freeze(tools.map((tool) => freeze({ type: 'function', name: tool.name, description: tool.description,
      parameters: tool.inputSchema }))),
    messages: freeze(tools.map((tool) => freeze({ name: tool.name, description: tool.description, input_schema: tool.inputSchema }))),
    anyAuto: tools.some((tool) => tool.autoExecute),
  });
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
  readonly #sets = new Map<string, ToolSet | null>();

  constructor(catalog: McpCatalog) {
    this.catalog = catalog;
  }

  /** The tools this request may be given (its headers narrow them); null when there are none. */
  forRequest(headers: Readonly<Record<string, string>>): ToolSet | null {
    const clients = headers[INCLUDE_CLIENTS_HEADER];
    const names = headers[INCLUDE_TOOLS_HEADER];
    const key = clients === undefined && names === undefined ? '' : `${clients ?? ''}\n${names ?? ''}`;
    if (this.catalog.version !== this.#version || this.#sets.size >= MAX_CACHED_FILTERS) {
      this.#sets.clear();
      this.#version = this.catalog.version;
    }
    let set = this.#sets.get(key);
    if (set === undefined) {
      const filter: McpToolFilter = { includeClients: listOf(clients), includeTools: listOf(names) };
      const tools = this.catalog.tools(filter);
      set = tools.length > 0 ? buildSet(tools) : null;
      this.#sets.set(key, set);
    }
    return set;
  }
}

/**
 * Adds the set's tools to `body.tools` in `format`, less those the client sent under the same name. A `tools` that
 * is not an array is the client's mistake for the provider to report: it is left as it is. Returns how many were added.
 */
export function addTools(body: Record<string, unknown>, set: ToolSet, format: ToolFormat): number {
  const ours = set[format];
  const theirs = body.tools;
  if (theirs === undefined || theirs === null) {
    // A copy of the references: a plugin may push to the array; the frozen objects it holds are shared.
    body.tools = ours.slice();
    return ours.length;
  }
  if (!Array.isArray(theirs)) return 0;
  const sent = new Set<string>();
  for (const tool of theirs) sent.add(nameOf(tool));
  const merged = theirs.slice();
  for (let i = 0; i < ours.length; i++) if (!sent.has(set.tools[i].name)) merged.push(ours[i]);
  body.tools = merged;
  return merged.length - theirs.length;
}
