// The adapter contract. An adapter is a small set of pure transforms plus declarations of its quirks (how it
// authenticates, how its stream is framed); the shared code in workers/upstream/ switches on the declarations
// and never on a provider's name. A capability an adapter lacks (no `embeddingsCall`) is refused by the front
// thread from src/contract/providers.ts before a job is ever sent.

import type { JobData, UsageData } from '../../src/contract/messages.js';
import type { KeyInit, ProviderInit } from '../../src/contract/worker-init.js';

export type { KeyInit };

/** How a call is authenticated; workers/upstream/auth.ts applies it after the adapter built the call. */
export type AuthStyle =
  | { readonly kind: 'bearer' }
  | { readonly kind: 'header'; readonly name: string }
  /** AWS Signature V4 with the key's `bedrock_key_config` credentials. */
  | { readonly kind: 'aws-sigv4'; readonly service: string }
  /** An OAuth2 access token from the service account in the key's `vertex_key_config.auth_credentials`. */
  | { readonly kind: 'google-oauth' }
  | { readonly kind: 'none' };

/** How the provider frames a streamed answer; workers/upstream/decoders.ts picks the decoder from this. */
export type StreamFormat = 'sse' | 'aws-eventstream';

/** One event of a stream, whatever its framing: SSE's `event:`/`data:`, or an event-stream message's type and payload. */
export interface StreamEvent {
  event: string | null;
  data: string;
}

/** Where and with what a call goes: the configured base URL (or null) and the chosen key. */
export interface CallTarget {
  readonly baseUrl: string | null;
  readonly key: KeyInit;
}

export interface UpstreamCall {
  /** Absolute URL. */
  url: string;
  /** Headers the provider needs besides auth and content type (e.g. `anthropic-version`). */
  headers?: Record<string, string>;
  body: string;
  /** Request fields this provider cannot take; the gateway reports them to the client. */
  droppedParams: string[];
}

export interface ChatAnswer {
  /** The OpenAI-shaped answer (a chat.completion, or an embeddings list), serialised. */
  body: string;
  usage: UsageData | null;
}

/** Per-stream scratch space an adapter may use between events. */
export interface StreamState {
  /** The client asked for the usage chunk; when false the adapter still collects usage but does not forward it. */
  readonly includeUsage: boolean;
  readonly model: string;
  usage: UsageData | null;
  /** Anything the adapter needs to carry from event to event (message id, open tool calls, …). */
  scratch: Record<string, unknown>;
}

export interface StreamStep {
  /** OpenAI chat.completion.chunk objects, serialised, to forward in order. */
  chunks: string[];
  /** The provider signalled the normal end of the stream. */
  done: boolean;
  /** The provider reported an error inside the stream (e.g. an SSE `error` event), with the status it implies. */
  error?: { status: number; message: string };
}

export interface HttpAdapter {
  readonly id: string;
  readonly transport: 'http';
  readonly auth: AuthStyle;
  readonly streamFormat: StreamFormat;
  chatCall(job: JobData, target: CallTarget): UpstreamCall;
  chatAnswer(text: string, job: JobData): ChatAnswer;
  streamEvent(event: StreamEvent, state: StreamState): StreamStep;
  /** The human-readable message inside the provider's error body, or null when there is none. */
  errorMessage(text: string): string | null;
  embeddingsCall?(job: JobData, target: CallTarget): UpstreamCall;
  embeddingsAnswer?(text: string, job: JobData): ChatAnswer;
  /** The chat request of a `count_tokens` job as a call to the provider's token counter. */
  countTokensCall?(job: JobData, target: CallTarget): UpstreamCall;
  /** The counter's answer as `{"input_tokens": N}`. */
  countTokensAnswer?(text: string, job: JobData): ChatAnswer;
}

/** The job's call, by its kind; throws when the adapter lacks that kind (the front refuses it before, normally). */
export function callFor(adapter: HttpAdapter, job: JobData, target: CallTarget): UpstreamCall {
  if (job.kind === 'chat') return adapter.chatCall(job, target);
  const build = job.kind === 'embeddings' ? adapter.embeddingsCall : adapter.countTokensCall;
  if (!build) throw new Error(`this provider has no ${job.kind.replace('_', ' ')} endpoint`);
  return build.call(adapter, job, target);
}

/** The upstream's answer to the job's call, as the pipeline's shape for that kind. */
export function answerFor(adapter: HttpAdapter, text: string, job: JobData): ChatAnswer {
  if (job.kind === 'chat') return adapter.chatAnswer(text, job);
  const read = job.kind === 'embeddings' ? adapter.embeddingsAnswer : adapter.countTokensAnswer;
  return read!.call(adapter, text, job);
}

/** Emits what an in-process adapter produces; each method mirrors one worker-to-front message. */
export interface InProcessIo {
  readonly signal: AbortSignal;
  result(body: string, usage: UsageData | null): void;
  chunks(chunks: string[]): void;
  end(usage: UsageData | null): void;
  upstreamError(status: number, message: string): void;
  /** Waits as the upstream would; resolves early (and the caller stops) when the job is aborted. */
  sleep(ms: number): Promise<void>;
}

/** A provider that answers inside the worker, with no HTTP: the keyless mock used by defaults and benchmarks. */
export interface InProcessAdapter {
  readonly id: string;
  readonly transport: 'in-process';
  run(job: JobData, provider: ProviderInit, io: InProcessIo): Promise<void>;
}

export type ProviderAdapter = HttpAdapter | InProcessAdapter;
