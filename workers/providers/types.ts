// The adapter contract. An adapter is a small set of pure transforms plus declarations of its quirks (how it
// authenticates, how its stream is framed); the shared code in workers/upstream/ switches on the declarations
// and never on a provider's name. A capability an adapter lacks (no `embeddingsCall`) is refused by the front
// thread from src/contract/providers.ts before a job is ever sent.

import { usageData, type FilesRequest, type JobData, type RerankAnswer, type RerankRequest, type UsageData } from '../../src/contract/messages.js';
import type { KeyInit, ProviderInit } from '../../src/contract/worker-init.js';
import { withToolsParsed } from './added-tools.js';

export type { KeyInit };

/** How a call is authenticated; workers/upstream/auth.ts applies it after the adapter built the call. */
export type AuthStyle =
  | { readonly kind: 'bearer' }
  | { readonly kind: 'header'; readonly name: string }
  /** AWS Signature V4 with the key's `<keyConfig ?? service>_key_config` credentials (`bedrock_key_config`). */
  | { readonly kind: 'aws-sigv4'; readonly service: string; readonly keyConfig?: string }
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

/** What a translated files answer may need of its call: the headers and byte count sent, and the answer's FILES_ANSWER_HEADERS. */
export interface OpenAIBatchAnswerContext {
  readonly sentHeaders: Readonly<Record<string, string>>;
  readonly sentBytes: number;
  readonly answerHeaders: Readonly<Record<string, string>>;
}

/** Where and with what a call goes: the configured base URL (or null) and the chosen key. */
export interface CallTarget {
  readonly baseUrl: string | null;
  readonly key: KeyInit;
  /** `network_config.extra_headers`, sent under the call's own headers: for an adapter that adds to one of them. */
  readonly extraHeaders?: Readonly<Record<string, string>>;
}

export interface UpstreamCall {
  /** Absolute URL. */
  url: string;
  /** GET sends no body (`body` is then ignored); POST when absent. PUT and DELETE are files calls'. */
  method?: 'GET' | 'PUT' | 'DELETE';
  /** Headers the provider needs besides auth and content type (e.g. `anthropic-version`). */
  headers?: Record<string, string>;
  body: string;
  /** A multipart form (a transcription's file) sent instead of `body`; the runner encodes it with its boundary. */
  form?: FormData;
  /** Bytes sent instead of `body` (a files call's upload), with `contentType` (null: no content type at all). */
  bytes?: Uint8Array | null;
  contentType?: string | null;
  /** This call's auth when it is not the adapter's (Bedrock's files live in S3, signed for service `s3`). */
  auth?: AuthStyle;
  /** Request fields this provider cannot take; the gateway reports them to the client. */
  droppedParams: string[];
}

export interface ChatAnswer {
  /** The OpenAI-shaped answer (a chat.completion, or an embeddings list), serialised. */
  body: string;
  usage: UsageData | null;
}

/** A media job's answer: the upstream's body (text, or bytes for audio) and content type, which the client gets as they are. */
export interface MediaAnswer {
  body: string | Uint8Array;
  usage: UsageData | null;
  contentType: string;
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
  /** chatCall puts the gateway's added tools (JobData.tools, JSON text) into its body itself; else they come parsed
   * into `job.body.tools` (workers/providers/added-tools.ts). */
  readonly chatTakesToolsText?: boolean;
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
  /** The provider's list of models (capability `listModels`), a GET. */
  listModelsCall?(job: JobData, target: CallTarget): UpstreamCall;
  /** That list as `{"models": [id, …]}`, the ids as requests name them. */
  listModelsAnswer?(text: string, job: JobData): ChatAnswer;
  /** OpenAI's media endpoints (capability `media`, which lists the kinds an adapter has a call for). */
  speechCall?(job: JobData, target: CallTarget): UpstreamCall;
  transcriptionCall?(job: JobData, target: CallTarget): UpstreamCall;
  imageGenerationCall?(job: JobData, target: CallTarget): UpstreamCall;
  imageEditCall?(job: JobData, target: CallTarget): UpstreamCall;
  imageVariationCall?(job: JobData, target: CallTarget): UpstreamCall;
  /** A media answer in OpenAI's shape, from the provider's own API's; absent, the answer passes through as the
   * upstream sent it (the providers that speak OpenAI's format). A promise when making it takes long enough to
   * be done in slices (audio encoded on the worker), so the thread's other jobs go on meanwhile. */
  mediaAnswer?(text: string, job: JobData): MediaAnswer | Promise<MediaAnswer>;
  /** OpenAI's Responses API (capability `responses`): the client's request, model aside, as it came. */
  responsesCall?(job: JobData, target: CallTarget): UpstreamCall;
  /** Anthropic's Messages API (capability `messages`): the client's request, model aside, as it came; its answer as the
   * provider wrote it, with the usage read; its stream's events as whole SSE blocks. */
  messagesCall?(job: JobData, target: CallTarget): UpstreamCall;
  messagesAnswer?(text: string): ChatAnswer;
  messagesEvent?(event: StreamEvent, state: StreamState): StreamStep;
  /** Bedrock's InvokeModel (capability `invoke`): the client's body of the model's family, as it came; its answer as
   * the provider wrote it (`header` reads the answer's response headers), its stream's events each as its JSON. */
  invokeCall?(job: JobData, target: CallTarget): UpstreamCall;
  invokeAnswer?(text: string, header: (name: string) => string | undefined): ChatAnswer;
  invokeEvent?(event: StreamEvent, state: StreamState): StreamStep;
  /** Files and batches in the provider's own API (capability `files`): the client's call, sent where that API lives. */
  filesCall?(request: FilesRequest, target: CallTarget): UpstreamCall;
  /** A step of OpenAI's Batch API through the provider's own (capability `openAIBatches`, FilesRequest.translate),
   * and its answer in OpenAI's shape. */
  openAIBatchCall?(request: FilesRequest, target: CallTarget): UpstreamCall;
  openAIBatchAnswer?(request: FilesRequest, text: string, context: OpenAIBatchAnswerContext): { body: string; contentType: string };
  /** A `rerank` job (capability `rerank`): its RerankRequest body as a call to the provider's rerank API, and that
   * API's answer as a RerankAnswer. */
  rerankCall?(job: JobData, target: CallTarget): UpstreamCall;
  rerankAnswer?(text: string, job: JobData): ChatAnswer;
  /** A `tokenize` job (capability `tokenize`): `{text}` to the provider's tokenizer; its answer as it came. */
  tokenizeCall?(job: JobData, target: CallTarget): UpstreamCall;
}

const MEDIA_CALLS = { speech: 'speechCall', transcription: 'transcriptionCall', image_generation: 'imageGenerationCall',
  image_edit: 'imageEditCall', image_variation: 'imageVariationCall' } as const;

/** The job's call, by its kind; throws when the adapter lacks that kind (the front refuses it before, normally). */
export function callFor(adapter: HttpAdapter, job: JobData, target: CallTarget): UpstreamCall {
  if (job.kind === 'chat') return adapter.chatCall(adapter.chatTakesToolsText ? job : withToolsParsed(job), target);
  if (job.kind === 'files') {
    const request = job.body as unknown as FilesRequest;
    const build = request.translate ? adapter.openAIBatchCall : adapter.filesCall;
    if (!build) throw new Error(request.translate ? "this provider cannot serve OpenAI's Batch API" : 'this provider has no files or batches API');
    return build.call(adapter, request, target);
  }
  const build = job.kind === 'embeddings' ? adapter.embeddingsCall
    : job.kind === 'responses' ? adapter.responsesCall
    : job.kind === 'messages' ? adapter.messagesCall
    : job.kind === 'invoke' ? adapter.invokeCall
    : job.kind === 'count_tokens' ? adapter.countTokensCall
    : job.kind === 'rerank' ? adapter.rerankCall
    : job.kind === 'tokenize' ? adapter.tokenizeCall
      : job.kind === 'list_models' ? adapter.listModelsCall : adapter[MEDIA_CALLS[job.kind]];
  if (!build) throw new Error(`this provider has no ${job.kind.replace('_', ' ')} endpoint`);
  return build.call(adapter, withToolsParsed(job), target);
}

/**
 * Usage as OpenAI's audio and image answers report it: `input_tokens`/`output_tokens` (gpt-image-1,
 * gpt-4o-transcribe), or `{"type": "duration", "seconds"}` (whisper-1); plus the images an image answer holds and a
 * verbose transcription's `duration`. Null when the answer says none of it.
 */
function mediaUsage(text: string): UsageData | null {
  let parsed: { usage?: { seconds?: unknown } | null; data?: unknown; duration?: unknown } | null;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object') return null;
  const tokens = inputOutputUsage(parsed.usage);
  const seconds = parsed.usage?.seconds ?? parsed.duration;
  const images = Array.isArray(parsed.data) ? parsed.data.length : undefined;
  if (!tokens && typeof seconds !== 'number' && images === undefined) return null;
  return usageData(tokens?.promptTokens ?? 0, tokens?.completionTokens ?? 0, tokens?.totalTokens ?? 0,
    { ...tokens, audioSeconds: seconds, images });
}

/** OpenAI's `input_tokens`/`output_tokens` usage (Responses, media), with its cached and reasoning details. */
function inputOutputUsage(value: unknown): UsageData | null {
  const usage = value as { input_tokens?: unknown; output_tokens?: unknown; input_tokens_details?: { cached_tokens?: unknown } | null;
    output_tokens_details?: { reasoning_tokens?: unknown } | null } | null | undefined;
  if (typeof usage?.input_tokens !== 'number') return null;
  const output = typeof usage.output_tokens === 'number' ? usage.output_tokens : 0;
  return usageData(usage.input_tokens, output, usage.input_tokens + output, {
    cachedTokens: usage.input_tokens_details?.cached_tokens,
    reasoningTokens: usage.output_tokens_details?.reasoning_tokens,
  });
}

const TEXTUAL = /^(?:application\/json|text\/)/i;

/** A media answer as the upstream sent it: text (JSON, plain, subtitles) as text, anything else (audio) as bytes. */
export function mediaAnswer(bytes: Buffer, contentType: string | undefined): MediaAnswer {
  const type = contentType ?? 'application/octet-stream';
  if (!TEXTUAL.test(type)) return { body: bytes, usage: null, contentType: type };
  const text = bytes.toString('utf8');
  return { body: text, usage: /^application\/json/i.test(type) ? mediaUsage(text) : null, contentType: type };
}

/** The upstream's answer to the job's call, as the pipeline's shape for that kind. */
export function answerFor(adapter: HttpAdapter, text: string, job: JobData, header: (name: string) => string | undefined = () => undefined): ChatAnswer {
  if (job.kind === 'chat') return adapter.chatAnswer(text, job);
  if (job.kind === 'invoke') return adapter.invokeAnswer!(text, header);
  if (job.kind === 'responses') return responsesAnswer(text);
  if (job.kind === 'messages') return adapter.messagesAnswer!(text);
  if (job.kind === 'tokenize') return { body: text, usage: null };
  const read = job.kind === 'embeddings' ? adapter.embeddingsAnswer
    : job.kind === 'rerank' ? adapter.rerankAnswer
    : job.kind === 'list_models' ? adapter.listModelsAnswer : adapter.countTokensAnswer;
  return read!.call(adapter, text, job);
}

/** A Responses API answer, forwarded as the provider wrote it; its usage says `input_tokens`/`output_tokens` as media's does. */
function responsesAnswer(text: string): ChatAnswer {
  const parsed = JSON.parse(text) as { usage?: unknown } | null;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('the answer is not a JSON object');
  return { body: text, usage: inputOutputUsage(parsed.usage) };
}

// The events that end a Responses stream; the one that completes it carries the whole response and its usage.
const RESPONSES_FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed', 'error']);

/**
 * One event of a Responses stream as the SSE block it came as (`event: <type>` and `data: <json>`): the client gets
 * the provider's events untouched, so the chunks of a `responses` job are these blocks, not chat chunks.
 */
function responsesEvent(event: StreamEvent, state: StreamState): StreamStep {
  const block = `${event.event === null ? '' : `event: ${event.event}\n`}data: ${event.data}\n\n`;
  if (event.data === '[DONE]') return { chunks: [], done: true };
  const type = event.event ?? /"type"\s*:\s*"([^"]+)"/.exec(event.data)?.[1] ?? '';
  if (!RESPONSES_FINAL.has(type)) return { chunks: [block], done: false };
  const usage = (JSON.parse(event.data) as { response?: { usage?: unknown } }).response?.usage;
  if (usage) state.usage = inputOutputUsage(usage);
  return { chunks: [block], done: true };
}

/** How the job's stream events become its chunks: the adapter's chat transform, or a native stream's blocks. */
export function streamEventFor(adapter: HttpAdapter, job: JobData): (event: StreamEvent, state: StreamState) => StreamStep {
  if (job.kind === 'responses') return responsesEvent;
  if (job.kind === 'messages') return (event, state) => adapter.messagesEvent!(event, state);
  if (job.kind === 'invoke') return (event, state) => adapter.invokeEvent!(event, state);
  return (event, state) => adapter.streamEvent(event, state);
}

/** A rerank job's answer from the provider's scored results; the usage counts the tokens, when the provider says them. */
export function rerankAnswerOf(id: string, results: RerankAnswer['results'], usage: RerankAnswer['usage']): ChatAnswer {
  const answer: RerankAnswer = { id, results: [...results].sort((a, b) => b.relevance_score - a.relevance_score), usage };
  const tokens = usage.prompt_tokens ?? usage.total_tokens;
  return { body: JSON.stringify(answer), usage: tokens === undefined ? null : usageData(tokens, 0, tokens) };
}

/** A rerank request's fields beyond model, query and documents, that are set: each provider takes some, drops the rest. */
export function rerankOptions(request: RerankRequest): [string, unknown][] {
  return Object.entries(request).filter(([name, value]) =>
    name !== 'model' && name !== 'query' && name !== 'documents' && value !== undefined && value !== null);
}

/** The results of a provider's rerank answer, checked: each an in-range index with a numeric score. */
export function rerankResults(list: unknown, documents: number, read: (item: Record<string, unknown>) => [unknown, unknown]):
  RerankAnswer['results'] {
  if (!Array.isArray(list)) throw new SyntaxError('the answer has no list of results');
  return list.map((item: unknown) => {
    const [index, score] = read((item ?? {}) as Record<string, unknown>);
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= documents || typeof score !== 'number') {
      throw new SyntaxError('a result lacks a document index in range or a numeric score');
    }
    return { index, relevance_score: score };
  });
}

/** A list of models as a `list_models` answer; listing spends no tokens. */
export function modelListAnswer(ids: unknown[]): ChatAnswer {
  return { body: JSON.stringify({ models: ids.filter((id): id is string => typeof id === 'string' && id !== '') }), usage: null };
}

/** Emits what an in-process adapter produces; each method mirrors one worker-to-front message. */
export interface InProcessIo {
  readonly signal: AbortSignal;
  result(body: string, usage: UsageData | null): void;
  chunks(chunks: string[]): void;
  end(usage: UsageData | null): void;
  upstreamError(status: number, message: string): void;
  /**
   * Waits as the upstream would, and on while the client holds the stream (backpressure); resolves early (and the
   * caller stops) when the job is aborted.
   */
  sleep(ms: number): Promise<void>;
}

/** A provider that answers inside the worker, with no HTTP: the keyless mock used by defaults and benchmarks. */
export interface InProcessAdapter {
  readonly id: string;
  readonly transport: 'in-process';
  run(job: JobData, provider: ProviderInit, io: InProcessIo): Promise<void>;
}

export type ProviderAdapter = HttpAdapter | InProcessAdapter;
