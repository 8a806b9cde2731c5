// The plugin contract, the public API a user's plugin module is written against.
//
// - Pre-hooks run in config order. One may short-circuit with a response or an error; the plugins after it,
//   the provider and MCP are then skipped.
// - Post-hooks run in reverse order, and only for plugins whose pre-hook ran (the short-circuiting one
//   included), so what a pre-hook opened a post-hook can close.
// - `onStreamChunk` runs per streamed chunk, in config order; it may rewrite a chunk or drop it (null).
// - Around each MCP tool call (the execute endpoint, agent mode, `/mcp`): `preToolHook` in config order, which may
//   change the arguments or answer in the tool's place (then the tool and the later pre-hooks are skipped), and
//   `postToolHook` in reverse order for the plugins whose `preToolHook` was reached, which may replace the result.
//
// A plugin module's default export is a factory `(config, api) => plugin`, or a plugin object.

import type { Logger } from 'pino';
import type { JobKind, UsageData } from '../contract/messages.js';
import type { MetricsLayout, MetricsShard } from '../contract/metrics-layout.js';
import type { ErrorData } from '../errors/error-data.js';

// Re-exported so that a plugin author can name every type the hooks receive from the one entry point
// (`heimdall-gateway/plugin`, in package.json's `exports`).
export type { ErrorCode } from '../errors/codes.js';
export type { ErrorData, JobKind, MetricsLayout, MetricsShard, UsageData };

export interface ChatRequestBody {
  model: string;
  messages: unknown[];
  stream?: boolean;
  [field: string]: unknown;
}

export interface PluginContext {
  readonly requestId: string;
  /** Which endpoint: `chat` (the request has `messages`; Responses and legacy completions arrive as chat too),
   * `embeddings` (it has `input`), `count_tokens` (a chat request to count), or a media kind (`speech`,
   * `transcription` with its `file` as bytes, `image_generation`: OpenAI's own request bodies). */
  readonly kind: JobKind;
  /** Request headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** `performance.now()` at arrival. */
  readonly receivedAt: number;
  readonly provider: string;
  readonly model: string;
  readonly stream: boolean;
  /** Scratch space shared by the hooks of one request. */
  readonly values: Map<string, unknown>;
  readonly logger: Logger;
}

export interface ShortCircuitResponse {
  status?: number;
  /** A chat.completion object (or any JSON) for a non-streamed request. */
  body: unknown;
}

export interface ShortCircuitError {
  status?: number;
  message: string;
}

export type PreHookResult = void | undefined | { response: ShortCircuitResponse } | { error: ShortCircuitError };

export interface Outcome {
  status: number;
  /** The chat.completion as JSON text (non-streamed success); a post-hook may replace it. */
  body: string | null;
  error: ErrorData | null;
  usage: UsageData | null;
  stream: boolean;
  /** Milliseconds spent waiting on the provider. */
  upstreamMs: number;
  /** Milliseconds from arrival to the first streamed chunk, for streams that produced one. */
  firstChunkMs: number | null;
  /** A plugin answered; the provider was not called. */
  shortCircuited: boolean;
}

type MaybePromise<T> = T | Promise<T>;

/** One MCP tool call, as the tool hooks see it; a pre-hook may change `arguments`. */
export interface ToolCall {
  /** `<client>_<tool>`, the name models see. */
  readonly name: string;
  readonly client: string;
  /** The tool's name on its server. */
  readonly tool: string;
  arguments: Record<string, unknown>;
}

/** What a tool call came to: the text a `role: tool` message carries, and whether the tool reported an error. */
export interface ToolResult {
  readonly content: string;
  readonly isError: boolean;
}

export interface ToolHookContext {
  /** The request the call belongs to (the execute request, the agent-mode request, the `/mcp` request). */
  readonly requestId: string;
  readonly logger: Logger;
}

/** Answer in the tool's place, or refuse the call (PLUGIN_REJECTED with `status`, 400 by default). */
export type PreToolHookResult = void | undefined | { result: ToolResult } | { error: ShortCircuitError };

export interface Plugin {
  readonly name: string;
  preHook?(ctx: PluginContext, request: ChatRequestBody): MaybePromise<PreHookResult>;
  postHook?(ctx: PluginContext, outcome: Outcome): MaybePromise<void>;
  onStreamChunk?(ctx: PluginContext, chunk: string): string | null;
  preToolHook?(ctx: ToolHookContext, call: ToolCall): MaybePromise<PreToolHookResult>;
  /** Returns a result to replace the tool's, or nothing to keep it. */
  postToolHook?(ctx: ToolHookContext, call: ToolCall, result: ToolResult): MaybePromise<ToolResult | void | undefined>;
  close?(): MaybePromise<void>;
}

/** What the gateway hands a plugin factory. */
export interface PluginApi {
  readonly logger: Logger;
  readonly metrics: {
    readonly layout: MetricsLayout;
    readonly shard: MetricsShard;
    providerIndex(name: string): number;
    /** The model's slot in the `model` label; every model past the label's capacity shares the `other` slot. */
    modelIndex(model: string): number;
  };
}

export type PluginFactory = (config: Readonly<Record<string, unknown>>, api: PluginApi) => MaybePromise<Plugin>;
