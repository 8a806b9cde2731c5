// MCP's series, written by the front thread only (tool calls are made from it), so they live in its memory as the
// HTTP series do (SparseFamily: only series that occurred take memory). Labels stay bounded: clients are the
// configured ones, tools the first TOOL_SLOTS distinct names, then `other`.

import { DURATION_BUCKETS } from '../contract/metrics-layout.js';
import { SparseFamily } from '../observability/http-metrics.js';
import { LabelTable } from '../observability/label-table.js';

const TOOL_SLOTS = 256;
/** `ok`, `tool_error` (the tool answered with isError), or the error code of a call that failed. */
const OUTCOMES = ['ok', 'tool_error', 'mcp_unknown_tool', 'mcp_tool_not_permitted', 'mcp_invalid_arguments', 'mcp_tool_timeout',
  'mcp_server_unavailable', 'mcp_server_failed', 'plugin_rejected', 'plugin_failed', 'client_closed'];
const AGENT_TURN_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100];

export class McpMetrics {
  readonly clients: LabelTable;
  readonly tools = new LabelTable([], TOOL_SLOTS);
  readonly outcomes = new LabelTable(OUTCOMES, 0);
  readonly calls: SparseFamily;
  readonly duration: SparseFamily;
  readonly agentTurns: SparseFamily;

  /** `clients`: the configured client names ('' is for a call to a tool no client has). */
  constructor(clients: readonly string[]) {
    this.clients = new LabelTable(['', ...clients], 0);
    this.calls = new SparseFamily('heimdall_mcp_tool_calls_total',
      'MCP tool calls by client, tool and outcome: ok, tool_error (the tool reported an error), or the error code.',
      'counter', [['client', this.clients], ['tool', this.tools], ['outcome', this.outcomes]]);
    this.duration = new SparseFamily('heimdall_mcp_tool_duration_seconds',
      'Time an MCP tool call took, plugin tool hooks included, by client and tool.', 'histogram',
      [['client', this.clients], ['tool', this.tools]], DURATION_BUCKETS);
    this.agentTurns = new SparseFamily('heimdall_mcp_agent_turns',
      'Model turns per agent-mode request (1: the model called no tool Heimdall ran).', 'histogram', [], AGENT_TURN_BUCKETS);
  }

  get families(): readonly SparseFamily[] {
    return [this.calls, this.duration, this.agentTurns];
  }

  toolCall(client: string, tool: string, outcome: string, seconds: number): void {
    const series = this.clients.indexOf(client) * this.tools.size + this.tools.indexOf(tool);
    this.calls.add(series * this.outcomes.size + this.outcomes.indexOf(outcome));
    this.duration.observe(series, seconds);
  }

  agentRequest(turns: number): void {
    this.agentTurns.observe(0, turns);
  }
}

export const MCP_CONNECTED_GAUGE = {
  name: 'heimdall_mcp_client_connected',
  help: 'Whether the gateway is connected to the MCP server of each configured client: 1 connected, 0 not.',
  labelNames: ['client'],
} as const;
