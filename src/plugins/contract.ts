// The plugin contract, the public API a user's plugin module is written against.
//
// - Pre-hooks run in config order. One may short-circuit with a response or an error; the plugins after it,
//   the provider and MCP are then skipped.
// - Post-hooks run in reverse order, and only for plugins whose pre-hook ran (the short-circuiting one
//   included), so what a pre-hook opened a post-hook can close.
// - `onStreamChunk` runs per streamed chunk, in config order; it may rewrite a chunk or drop it (null).
//
// A plugin module's default export is a factory `(config, api) => plugin`, or a plugin object.

import type { Logger } from 'pino';
import type { JobKind, UsageData } from '../contract/messages.js';
import type { MetricsLayout, MetricsShard } from '../contract/metrics-layout.js';
import type { Pricing } from '../pricing/index.js';
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

export interface Plugin {
  readonly name: string;
  preHook?(ctx: PluginContext, request: ChatRequestBody): MaybePromise<PreHookResult>;
  postHook?(ctx: PluginContext, outcome: Outcome): MaybePromise<void>;
  onStreamChunk?(ctx: PluginContext, chunk: string): string | null;
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
  /** Prices per provider and model, `pricing_overrides` applied: `worstCase()` before dispatch, `costOf()` after. */
  readonly pricing?: Pricing;
}

export type PluginFactory = (config: Readonly<Record<string, unknown>>, api: PluginApi) => MaybePromise<Plugin>;
