// Agent mode: when the model calls only tools the config lets the gateway run (`tools_to_auto_execute`), the gateway
// runs them (several at once, up to a bound), adds the assistant's turn and the tools' results to the conversation,
// and asks the model again, until the model answers without tool calls or `mcp_agent_depth` rounds of tools ran.
// A turn that calls any other tool (the client's own, or an MCP tool that may not run by itself) ends the loop: that
// answer goes to the client, none of its calls run, and the client runs them (the MCP ones through
// /v1/mcp/tool/execute), with `heimdall_mcp.messages` holding the turns the gateway added so far.
//
// The loop reads the pipeline's shape, OpenAI chat answers and chunks, whatever the provider. One AgentLoop lives
// per request attempt in agent mode, owned by its ProviderCall; a request not in agent mode never makes one.
//
// Streams: every turn is streamed from the provider. A turn's chunks are held until it says what it is: text goes
// to the client as it comes (so the final turn streams as it is generated); tool-call deltas and the finish of a
// turn with tool calls are held, and dropped if the gateway runs the calls, or released if the turn turns out final.

import type { RequestTrace } from '../observability/tracing/spans.js';
import type { UsageData } from '../contract/messages.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { McpCatalog, McpToolResult } from './catalog.js';
import type { ToolSet } from './tools.js';

/** The tool calls of one turn run at most this many at once. */
export const MAX_PARALLEL_TOOL_CALLS = 8;

/** The response header listing the MCP tools the gateway ran, in the order they were called. */
export const TOOLS_RUN_HEADER = 'x-heimdall-mcp-tools-run';
/** The response header telling how many times the model was called. */
export const AGENT_TURNS_HEADER = 'x-heimdall-mcp-agent-turns';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface AssistantMessage {
  role?: string;
  content?: unknown;
  tool_calls?: unknown;
}

interface ChatAnswer {
  choices?: { message?: AssistantMessage; finish_reason?: unknown }[];
  usage?: Record<string, unknown>;
  [field: string]: unknown;
}

interface ChunkChoice {
  index?: number;
  delta?: { role?: unknown; content?: unknown; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] };
  finish_reason?: unknown;
}

interface Chunk {
  choices?: ChunkChoice[];
  usage?: unknown;
  [field: string]: unknown;
}

/** A stream turn's tool call as its deltas build it. */
interface CallDraft {
  id: string;
  name: string;
  arguments: string;
}

type StreamMode = 'hold' | 'text' | 'all';

/** The usage of every turn summed, its optional counts (cache, reasoning) too: the request is priced from it. */
export function addUsage(sum: UsageData | null, usage: UsageData | null): UsageData | null {
  if (!usage) return sum;
  if (!sum) return { ...usage };
  const total: UsageData = { promptTokens: sum.promptTokens + usage.promptTokens,
    completionTokens: sum.completionTokens + usage.completionTokens, totalTokens: sum.totalTokens + usage.totalTokens };
  for (const field of OPTIONAL_USAGE) {
    if (sum[field] !== undefined || usage[field] !== undefined) total[field] = (sum[field] ?? 0) + (usage[field] ?? 0);
  }
  return total;
}

const OPTIONAL_USAGE = ['cachedTokens', 'cacheWriteTokens', 'reasoningTokens', 'images', 'audioSeconds'] as const;

const openAIUsage = (usage: UsageData) => ({ prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens,
  total_tokens: usage.totalTokens });

/** Runs `work` over `items` with at most `bound` running at once; results in the items' order. */
export async function mapBounded<T, R>(items: readonly T[], bound: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(bound, items.length) }, lane));
  return results;
}

export class AgentLoop {
  readonly #catalog: McpCatalog;
  readonly #set: ToolSet;
  readonly #theirs: ReadonlySet<string>;
  readonly #depth: number;
  readonly #requestId: string;
  /** Times the model answered (a stream's turn counts once it ended). */
  turns = 0;
  /** A stream's turn is under way: what the client is told counts it. */
  #turnOpen = false;
  /** Rounds of tools the gateway ran. */
  rounds = 0;
  /** The MCP tools run, in call order (names as the model sees them). */
  readonly toolsRun: string[] = [];
  /** The assistant turns and tool results the gateway added to the conversation. */
  readonly added: object[] = [];
  /** Every turn's usage, summed. */
  usage: UsageData | null = null;
  #abort: AbortController | null = null;
  // The current stream turn.
  #mode: StreamMode = 'hold';
  #pending: string[] = [];
  #calls: CallDraft[] = [];
  #manual = false;
  /** The turn's text so far: an intermediate turn's goes into the assistant message the loop adds. */
  #content = '';
  #usageChunk: Chunk | null = null;
  /** A chunk of an earlier turn reached the client: later turns' role chunks are not repeated. */
  #forwardedAny = false;

  /** @param theirs names of tools the request sent itself: never run here, whatever the catalog holds. */
  readonly #trace: RequestTrace | null;

  constructor(catalog: McpCatalog, set: ToolSet, theirs: ReadonlySet<string>, depth: number, requestId: string,
    trace: RequestTrace | null = null) {
    this.#trace = trace;
    this.#catalog = catalog;
    this.#set = set;
    this.#theirs = theirs;
    this.#depth = depth;
    this.#requestId = requestId;
  }

  /** A tool the loop may run: one of this request's tools, listed in `tools_to_auto_execute`. */
  #auto(name: string): boolean {
    if (this.#theirs.has(name)) return false;
    for (const tool of this.#set.tools) if (tool.name === name) return tool.autoExecute;
    return false;
  }

  /** The calls to run now, or null: the turn is final (no calls, a call the loop may not run, or the depth reached). */
  #toRun(calls: readonly ToolCall[]): readonly ToolCall[] | null {
    if (calls.length === 0 || this.rounds >= this.#depth) return null;
    for (const call of calls) if (!this.#auto(call.function.name)) return null;
    return calls;
  }

  /** Response headers saying what the loop did so far; none when no tool ran. */
  headers(): Record<string, string> | undefined {
    if (this.toolsRun.length === 0) return undefined;
    return { [TOOLS_RUN_HEADER]: this.toolsRun.join(','), [AGENT_TURNS_HEADER]: String(this.#turnsSoFar()) };
  }

  /** The extension field of the final answer: which tools ran and the turns the client's history lacks. */
  #extension(): object {
    return { tools_run: this.toolsRun, turns: this.#turnsSoFar(), messages: this.added };
  }

  #turnsSoFar(): number {
    return this.turns + (this.#turnOpen ? 1 : 0);
  }

  // ----- answers (non-streamed turns)

  /**
   * A non-streamed turn's answer (a chat.completion as JSON text). Returns the calls to run, or null when the answer
   * is final; `finalAnswer` then gives the body to send.
   */
  answered(text: string, usage: UsageData | null): readonly ToolCall[] | null {
    this.turns++;
    this.usage = addUsage(this.usage, usage);
    let answer: ChatAnswer;
    try {
      answer = JSON.parse(text) as ChatAnswer;
    } catch {
      return null;
    }
    const choices = answer.choices;
    if (!Array.isArray(choices) || choices.length !== 1) return null;
    const message = choices[0].message;
    const calls = Array.isArray(message?.tool_calls) ? message.tool_calls as ToolCall[] : [];
    const run = this.#toRun(calls.filter((call) => typeof call?.function?.name === 'string'));
    if (run && run.length === calls.length) {
      this.#lastAssistant = { role: 'assistant', content: message?.content ?? null, tool_calls: calls };
      return run;
    }
    return null;
  }

  #lastAssistant: object | null = null;

  /** The final answer's body: usage summed over every turn, and `heimdall_mcp` when tools ran. */
  finalAnswer(text: string): string {
    this.#catalog.recordAgentTurns?.(this.turns);
    if (this.turns <= 1 && this.toolsRun.length === 0) return text;
    let answer: ChatAnswer;
    try {
      answer = JSON.parse(text) as ChatAnswer;
    } catch {
      return text;
    }
    if (this.usage) answer.usage = { ...answer.usage, ...openAIUsage(this.usage) };
    answer.heimdall_mcp = this.#extension();
    return JSON.stringify(answer);
  }

  // ----- running tools

  /**
   * Runs a turn's calls (at most MAX_PARALLEL_TOOL_CALLS at once) and adds the turn and its results to `messages`.
   * A call that fails (bad arguments, a timeout, a tool gone) becomes a tool message saying so: the model is told,
   * the request goes on. Resolves false when the client left meanwhile.
   */
  async runTools(calls: readonly ToolCall[], body: Record<string, unknown>): Promise<boolean> {
    this.rounds++;
    const abort = (this.#abort = new AbortController());
    const results = await mapBounded(calls, MAX_PARALLEL_TOOL_CALLS, (call) => this.#execute(call, abort.signal));
    this.#abort = null;
    if (abort.signal.aborted) return false;
    const assistant = this.#lastAssistant ?? { role: 'assistant', content: null, tool_calls: calls };
    this.#lastAssistant = null;
    const turn: object[] = [assistant];
    for (let i = 0; i < calls.length; i++) {
      this.toolsRun.push(calls[i].function.name);
      turn.push({ role: 'tool', tool_call_id: calls[i].id, content: results[i].content });
    }
    this.added.push(...turn);
    const messages = Array.isArray(body.messages) ? body.messages : [];
    body.messages = [...messages, ...turn];
    return true;
  }

  async #execute(call: ToolCall, signal: AbortSignal): Promise<McpToolResult> {
    const trace = this.#trace;
    if (!trace) return this.#executeUntraced(call, signal);
    const started = performance.now();
    const result = await this.#executeUntraced(call, signal);
    trace.tool(call.function.name, call.id, started, performance.now(), result.isError ? result.content.slice(0, 200) : null);
    return result;
  }

  async #executeUntraced(call: ToolCall, signal: AbortSignal): Promise<McpToolResult> {
    let args: unknown;
    try {
      const text = call.function.arguments;
      args = text === undefined || text.trim() === '' ? {} : JSON.parse(text);
    } catch (error) {
      return { content: `Error: the arguments are not valid JSON: ${(error as Error).message}`, isError: true };
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      return { content: 'Error: the arguments must be a JSON object', isError: true };
    }
    try {
      return await this.#catalog.execute(call.function.name, args as Record<string, unknown>, { requestId: this.#requestId, signal });
    } catch (error) {
      const message = error instanceof GatewayError ? error.message : 'the tool call failed';
      return { content: `Error: ${message}`, isError: true };
    }
  }

  /** The client left: tool calls in flight are cancelled. */
  abort(): void {
    this.#abort?.abort();
  }

  // ----- streams

  /** One stream turn's chunks as they come: those the client gets now. */
  streamChunks(chunks: readonly string[]): string[] {
    this.#turnOpen = true;
    const out: string[] = [];
    for (const text of chunks) {
      let chunk: Chunk;
      try {
        chunk = JSON.parse(text) as Chunk;
      } catch {
        out.push(text);
        continue;
      }
      const choice = chunk.choices?.[0];
      if (!choice) {
        // The usage chunk: it goes out at the end, with every turn's usage.
        if (chunk.usage) this.#usageChunk = chunk;
        else out.push(text);
        continue;
      }
      const deltaCalls = choice.delta?.tool_calls;
      if (Array.isArray(deltaCalls)) this.#draft(deltaCalls);
      if (this.#mode === 'all') {
        this.#forward(out, text, chunk);
        continue;
      }
      if (this.#manual) {
        // A call the loop may not run: this turn is the last; what was held goes out in order.
        this.#mode = 'all';
        for (const held of this.#pending) this.#forward(out, held, null);
        this.#pending = [];
        this.#forward(out, text, chunk);
        continue;
      }
      const content = choice.delta?.content;
      if (typeof content === 'string') this.#content += content;
      const callish = Array.isArray(deltaCalls) || (choice.finish_reason != null && this.#calls.length > 0);
      if (callish) {
        this.#pending.push(text);
        continue;
      }
      if (this.#mode === 'hold' && typeof content === 'string' && content.length > 0) {
        this.#mode = 'text';
        const held = this.#pending;
        this.#pending = [];
        for (const piece of held) this.#forward(out, piece, null);
      }
      if (this.#mode === 'text') this.#forward(out, text, chunk);
      else this.#pending.push(text);
    }
    return out;
  }

  #draft(deltas: NonNullable<NonNullable<ChunkChoice['delta']>['tool_calls']>): void {
    for (const delta of deltas) {
      const index = typeof delta.index === 'number' ? delta.index : this.#calls.length;
      const draft = (this.#calls[index] ??= { id: '', name: '', arguments: '' });
      if (typeof delta.id === 'string') draft.id = delta.id;
      if (typeof delta.function?.name === 'string') {
        draft.name += delta.function.name;
        if (!this.#auto(draft.name)) this.#manual = true;
      }
      if (typeof delta.function?.arguments === 'string') draft.arguments += delta.function.arguments;
    }
  }

  /** Adds a chunk for the client: a later turn's bare role chunk is left out; a final finish carries `heimdall_mcp`. */
  #forward(out: string[], text: string, parsed: Chunk | null): void {
    const chunk = parsed ?? JSON.parse(text) as Chunk;
    const choice = chunk.choices?.[0];
    const delta = choice?.delta;
    if (this.#forwardedAny && choice && choice.finish_reason == null && delta && !delta.tool_calls &&
      (delta.content === undefined || delta.content === '' || delta.content === null)) return;
    this.#forwardedAny = true;
    if (choice && choice.finish_reason != null && this.toolsRun.length > 0) {
      chunk.heimdall_mcp = this.#extension();
      out.push(JSON.stringify(chunk));
      return;
    }
    out.push(text);
  }

  /**
   * A stream turn ended. Returns the calls to run (the held chunks are dropped), or null: the turn is final, and
   * `finalChunks` gives what the client still gets.
   */
  streamEnded(usage: UsageData | null): readonly ToolCall[] | null {
    this.turns++;
    this.#turnOpen = false;
    this.usage = addUsage(this.usage, usage);
    const calls: ToolCall[] = this.#calls.filter((draft) => draft !== undefined).map((draft) => ({ id: draft.id, type: 'function' as const,
      function: { name: draft.name, arguments: draft.arguments } }));
    const run = this.#mode === 'all' ? null : this.#toRun(calls);
    if (run) {
      this.#lastAssistant = { role: 'assistant', content: this.#content || null, tool_calls: calls };
      this.#mode = 'hold';
      this.#content = '';
      this.#pending = [];
      this.#calls = [];
      this.#manual = false;
      this.#usageChunk = null;
    }
    return run;
  }

  /** What a final stream turn still owes the client: its held chunks, then the usage chunk with every turn's usage. */
  finalChunks(): string[] {
    this.#catalog.recordAgentTurns?.(this.turns);
    const out: string[] = [];
    for (const held of this.#pending) this.#forward(out, held, null);
    this.#pending = [];
    const usageChunk = this.#usageChunk;
    if (usageChunk) {
      if (this.usage) usageChunk.usage = openAIUsage(this.usage);
      out.push(JSON.stringify(usageChunk));
    }
    return out;
  }
}
