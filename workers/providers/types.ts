// The adapter contract. An adapter is a small set of pure transforms plus declarations of its quirks (how it
// authenticates, how its stream is framed); the shared code in workers/upstream/ switches on the declarations
// and never on a provider's name.

import type { JobData, UsageData } from '../../src/contract/messages.js';
import type { ProviderInit } from '../../src/contract/worker-init.js';

export type AuthStyle =
  | { readonly kind: 'bearer' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'none' };

/** How the provider frames a streamed answer; the worker picks the decoder from this. */
export type StreamFormat = 'sse';

export interface SseEvent {
  event: string | null;
  data: string;
}

export interface UpstreamCall {
  /** Path (and query) appended to the provider's base URL. */
  path: string;
  body: string;
  /** Request fields this provider cannot take; the gateway reports them to the client. */
  droppedParams: string[];
}

export interface ChatAnswer {
  /** An OpenAI chat.completion, serialised. */
  body: string;
  usage: UsageData | null;
}

/** Per-stream scratch space an adapter may use between events. */
export interface StreamState {
  /** The client asked for the usage chunk; when false the adapter still collects usage but does not forward it. */
  readonly includeUsage: boolean;
  readonly model: string;
  usage: UsageData | null;
}

export interface StreamStep {
  /** OpenAI chat.completion.chunk objects, serialised, to forward in order. */
  chunks: string[];
  /** The provider signalled the normal end of the stream. */
  done: boolean;
}

export interface HttpAdapter {
  readonly id: string;
  readonly transport: 'http';
  readonly defaultBaseUrl: string | null;
  readonly auth: AuthStyle;
  readonly streamFormat: StreamFormat;
  chatCall(job: JobData): UpstreamCall;
  chatAnswer(text: string): ChatAnswer;
  streamEvent(event: SseEvent, state: StreamState): StreamStep;
  /** The human-readable message inside the provider's error body, or null when there is none. */
  errorMessage(text: string): string | null;
}

/** Emits what an in-process adapter produces; each method mirrors one worker-to-front message. */
export interface InProcessIo {
  readonly signal: AbortSignal;
  result(body: string, usage: UsageData | null): void;
  chunks(chunks: string[]): void;
  end(usage: UsageData | null): void;
  upstreamError(status: number, message: string): void;
  /** Waits as the upstream would; resolves early (and the caller stops) when the job is aborted or paused. */
  sleep(ms: number): Promise<void>;
}

/** A provider that answers inside the worker, with no HTTP: the keyless mock used by defaults and benchmarks. */
export interface InProcessAdapter {
  readonly id: string;
  readonly transport: 'in-process';
  run(job: JobData, provider: ProviderInit, io: InProcessIo): Promise<void>;
}

export type ProviderAdapter = HttpAdapter | InProcessAdapter;
