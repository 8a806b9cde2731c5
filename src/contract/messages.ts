// The messages that cross between the front thread and a provider worker, and their msgpack codec.
// Every message is an array whose first element is its kind and second the request's id within the channel,
// so both sides switch on one small integer before touching the rest.

import { Packr } from 'msgpackr';
import type { ErrorData } from '../errors/error-data.js';

/** Front → worker. */
export const MSG_JOB = 1;
export const MSG_CANCEL = 2;
/** The client's socket is backed up: stop reading the upstream body for this stream until MSG_RESUME. */
export const MSG_PAUSE = 3;
export const MSG_RESUME = 4;

/** Worker → front. */
export const MSG_RESULT = 10;
/**
 * One or more OpenAI chat-completion chunks, already serialised, in order. The first of a stream also carries
 * the parameters the adapter dropped, so they can go into the response headers.
 */
export const MSG_CHUNKS = 11;
export const MSG_STREAM_END = 12;
export const MSG_ERROR = 13;
/** The worker is serving its ring: sent once, first, so the front knows the thread started. */
export const MSG_READY = 14;
/**
 * Bytes of an upstream answer streamed through as they came (a passthrough call's SSE or chunked answer), in order;
 * the first message carries the answer's head and no bytes, sent as soon as the upstream's headers arrive.
 */
export const MSG_BYTES = 15;

/**
 * Either way: the next message was too large for the ring and crossed through the channel's MessagePort instead,
 * transferred (src/contract/large-messages.ts); it stands in the ring at the message's place, so order holds.
 */
export const MSG_PORTED = 15;

/**
 * What the provider billed, as its answer said. `promptTokens` includes the cached reads and cache writes, and
 * `completionTokens` the reasoning, as OpenAI counts them; the details are absent when the provider did not report
 * them. Media answers add what their price is counted in.
 */
export interface UsageData {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Input tokens read from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
  cachedTokens?: number;
  /** Input tokens written to the prompt cache (Anthropic `cache_creation_input_tokens`, Bedrock `cacheWriteInputTokens`). */
  cacheWriteTokens?: number;
  /** Output tokens spent reasoning (OpenAI `reasoning_tokens`, Gemini `thoughtsTokenCount`). */
  reasoningTokens?: number;
  /** Images an image generation answered. */
  images?: number;
  /** Seconds of audio a transcription read. */
  audioSeconds?: number;
}

/**
 * What the client asked for; each kind has its own adapter transforms. `count_tokens` carries a chat request and
 * answers `{"input_tokens": N}`, counted by the provider's own endpoint. `list_models` carries nothing and answers `{"models": [id, …]}`, the
 * provider's own list. The media kinds carry OpenAI's own request
 * (a transcription's file as bytes) and answer the upstream's body as it came, with its content type.
 * `responses` carries OpenAI's Responses request as the client sent it and answers the provider's body as it came; its
 * stream's chunks are whole SSE blocks (`event: <type>\ndata: <json>\n\n`), not chat chunks. `messages` is the same
 * for Anthropic's Messages API. `invoke` is Bedrock's InvokeModel body of the model's family, as the client sent it: its
 * answer as Bedrock wrote it, its stream's chunks each event's JSON (a `chunk` frame's bytes). `files` carries a FilesRequest (a files or batches call in the provider's own API) and
 * answers the upstream's body as it came, with its content type and the headers FILES_ANSWER_HEADERS names.
 * `rerank` carries a RerankRequest and answers a RerankAnswer, whatever the provider's own rerank API. `tokenize`
 * carries `{text}` and answers Cohere's `{tokens, token_strings}`, from a provider with that tokenizer.
 */
export type JobKind = 'chat' | 'embeddings' | 'count_tokens' | 'list_models' | 'responses' | 'messages' | 'invoke' | 'files'
  | 'rerank' | 'tokenize' | MediaKind;

/** A rerank job's body: the query and the documents' texts, in the client's order. */
export interface RerankRequest {
  query: string;
  documents: string[];
  /** How many of the best results to answer; absent: all. */
  top_n?: number;
  /** Fields of the client's request beyond these, for a provider that takes them (`max_tokens_per_doc`). */
  [field: string]: unknown;
}

/** A rerank job's answer: the results best first, each by its document's index in the request. */
export interface RerankAnswer {
  id: string;
  results: { index: number; relevance_score: number }[];
  /** What the provider counts: Cohere's search units, or tokens. */
  usage: { search_units?: number; prompt_tokens?: number; total_tokens?: number };
}

/** OpenAI's audio and images endpoints: `speech` answers audio bytes, `transcription` JSON or text, the image kinds
 * JSON. `transcription`, `image_edit` and `image_variation` carry a multipart form's fields, files as JobFiles. */
export type MediaKind = 'speech' | 'transcription' | 'image_generation' | 'image_edit' | 'image_variation';

export const MEDIA_KINDS: readonly JobKind[] = Object.freeze(['speech', 'transcription', 'image_generation', 'image_edit', 'image_variation']);

export const isMediaKind = (kind: JobKind): kind is MediaKind => MEDIA_KINDS.includes(kind);

/** A file of a multipart request as it travels in a job's body. */
export interface JobFile {
  bytes: Uint8Array;
  name: string;
  type: string;
}

/**
 * A files or batches call in the provider's own API, for a `files` job: the client spoke that API, so the request
 * goes on as it came, to the provider's endpoint, with the chosen key's credentials. The body crosses the ring as
 * bytes; a body bigger than a slot takes the ring's overflow path, as a transcription's audio does.
 */
export interface FilesRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The path in the provider's API (`/v1/files/file-abc/content`, `/{bucket}/{key}` for S3), percent-encoded. */
  path: string;
  /** The query string without `?`; '' for none. */
  query: string;
  contentType: string | null;
  body: Uint8Array | null;
  /** Request headers of the provider's API that travel on (`anthropic-beta`, Google's upload protocol headers). */
  headers: Record<string, string>;
  /**
   * A passthrough call: a successful answer the upstream streams (`text/event-stream`, or a body without a length)
   * comes back as MSG_BYTES while it arrives, rather than read whole. Absent: read whole.
   */
  streamThrough?: boolean;
  /**
   * A step of OpenAI's Batch API that the provider serves through its own batch API (capability `openAIBatches`):
   * the adapter writes the call (a create's body is OpenAI batch JSONL) and answers in OpenAI's shapes. Absent: the
   * call is in the provider's own API, as it came.
   */
  translate?: OpenAIBatchStep;
  /** The batch's input file, as the gateway holds it, for the OpenAI batch object's `input_file_id`. */
  inputFileId?: string;
  /** An upload's file name, as the client gave it (translate `upload`). */
  fileName?: string;
  /** The OpenAI batch object a `counts` step completes, as read by the step before. */
  batch?: string;
}

/** What a client learns of a streamed-through answer before its bytes: the upstream's status and content type. */
export interface StreamHead {
  status: number;
  contentType: string;
}

/** The output file of a batch served through OpenAI's Batch API translated: this prefix, then the provider's batch id. */
export const BATCH_OUTPUT_FILE_PREFIX = 'file-heimdall-out-';

/**
 * create: the JSONL body to a batch (for a provider that stores the file: the batch create's JSON, naming it);
 * batch and cancel: one batch; list: the batches; results: the output JSONL. For a provider that stores OpenAI
 * batch files itself (capability `storesOpenAIBatchFiles`): upload: the JSONL to its storage, translated;
 * files-list: the batch files there; file and file-delete: one file; file-content: a file's content (an output
 * file's as OpenAI's output lines); counts: a finished batch's request counts, added to the `batch` read before.
 */
export type OpenAIBatchStep = 'create' | 'batch' | 'cancel' | 'list' | 'results' | 'upload' | 'files-list' | 'file' | 'file-delete'
  | 'file-content' | 'counts';

/** Response headers a files answer carries back to the client: S3's ETag, Google's upload session headers. */
export const FILES_ANSWER_HEADERS: readonly string[] = Object.freeze(['etag', 'last-modified', 'content-length']);

export interface JobData {
  kind: JobKind;
  requestId: string;
  /** The model name the provider knows, without the `provider/` prefix. */
  model: string;
  /** Index into the provider's keys as handed to the worker at start; -1 for keyless providers. */
  keyIndex: number;
  stream: boolean;
  /** The client asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** The slot of `model` in the metrics' model label (src/observability/label-table.ts), which workers count by. */
  modelLabel: number;
  /** The OpenAI-shaped request body as the client sent it (plugins may have changed it); `model` here is ignored. */
  body: Record<string, unknown>;
  /**
   * Tools the gateway adds (MCP): the JSON text of an array of tools in the job's own format (chat's, or the native
   * Responses or Messages request's), to append to `body.tools`. Text made once per tool list, not per request: it
   * crosses to the worker as one string, and an OpenAI-compatible upstream body takes it as it is.
   */
  tools?: string;
  /**
   * Present only on a traced request (src/observability/tracing): the worker reports its timings with the final
   * message, and a non-empty value is the `traceparent` sent to the upstream.
   */
  trace?: string;
}

/**
 * A traced try's times as the worker saw them: epoch milliseconds on its own clock (`performance.timeOrigin` plus
 * `performance.now()`) when the job reached the worker, when the request went upstream and when its response
 * headers came (0: never), then the upstream's HTTP status (0: none).
 */
export type AttemptTimes = [jobStart: number, upstreamStart: number, headers: number, upstreamStatus: number];

export interface ResultMeta {
  /** Milliseconds spent waiting on the upstream (headers and body), for the overhead metric. */
  upstreamMs: number;
  usage: UsageData | null;
  /** Parameters the adapter could not send to this provider, reported back to the client. */
  droppedParams: string[] | null;
  /** Media answers: the upstream's content type, sent to the client with the body as it is. */
  contentType?: string;
  /** Files answers: the upstream's headers among FILES_ANSWER_HEADERS. */
  headers?: Record<string, string>;
  /** Traced jobs only. */
  times?: AttemptTimes;
}

export interface StreamEndMeta extends ResultMeta {
  /** Milliseconds from the job reaching the worker to the first content chunk. */
  firstTokenMs: number | null;
  /**
   * The stream's last chunks when they came in the same upstream read as its end (always, for an answer the
   * upstream sent at once): one message, one wake-up of the front and one write to the client instead of two.
   */
  chunks?: string[];
}

export type FrontToWorker =
  /** The last number: milliseconds left of the request's total budget (default_request_timeout_in_seconds). */
  | [typeof MSG_JOB, number, JobData, number]
  | [typeof MSG_CANCEL, number]
  | [typeof MSG_PAUSE, number]
  | [typeof MSG_RESUME, number];

export type WorkerToFront =
  /** The body is bytes for a binary media answer (speech). */
  | [typeof MSG_RESULT, number, number, string | Uint8Array, ResultMeta]
  | [typeof MSG_CHUNKS, number, string[], string[] | null]
  | [typeof MSG_STREAM_END, number, StreamEndMeta]
  /** The head comes alone, first, with empty bytes; every later message has bytes and a null head. */
  | [typeof MSG_BYTES, number, Uint8Array, StreamHead | null]
  /**
   * The times come with a traced job's error only (else null when the usage follows); the usage with a stream that
   * failed after the provider reported some (it billed those tokens).
   */
  | [typeof MSG_ERROR, number, ErrorData, (AttemptTimes | null)?, UsageData?]
  | [typeof MSG_READY, 0];

// Records off: a shared structure table would have to be synchronised between threads. Instead the gateway's own
// objects (a job's fields, a result's metadata) cross as positional arrays: a map would spell out every key in
// every message, and decoding a key costs more than its value. Only the client's body, and the rare error, stay maps.
// Bytes (a media answer, an uploaded file) are copied out as they are decoded: ring readers reuse the buffer a message
// is decoded from.
const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });
/** For a message whose buffer was transferred to this thread: nobody reuses it, so its bytes may stay views into it. */
const ownedUnpackr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: false });

/** What msgpackr starts its arena with, and what it gets back after a large message took its arena away. */
const ARENA_BYTES = 8192;

/** The three counts, then the details in USAGE_DETAILS' order (null where absent), only when there is one. */
type WireUsage = [number, number, number, ...(number | null)[]] | null;

const USAGE_DETAILS = ['cachedTokens', 'cacheWriteTokens', 'reasoningTokens', 'images', 'audioSeconds'] as const;
export type UsageDetail = typeof USAGE_DETAILS[number];

/**
 * A UsageData from counts as a provider's answer had them: each detail is kept when it is a finite number, left out
 * otherwise (absent is "not reported", never 0).
 */
export function usageData(promptTokens: number, completionTokens: number, totalTokens: number,
  details?: Readonly<Partial<Record<UsageDetail, unknown>>>): UsageData {
  const usage: UsageData = { promptTokens, completionTokens, totalTokens };
  if (details) {
    for (const field of USAGE_DETAILS) {
      const value = details[field];
      if (typeof value === 'number' && Number.isFinite(value)) usage[field] = value;
    }
  }
  return usage;
}

function usageToWire(usage: UsageData | null): WireUsage {
  if (!usage) return null;
  const wire: WireUsage = [usage.promptTokens, usage.completionTokens, usage.totalTokens];
  let last = -1;
  USAGE_DETAILS.forEach((field, i) => {
    if (usage[field] !== undefined) last = i;
  });
  for (let i = 0; i <= last; i++) wire.push(usage[USAGE_DETAILS[i]] ?? null);
  return wire;
}

function usageFromWire(wire: WireUsage): UsageData | null {
  if (!wire) return null;
  const usage: UsageData = { promptTokens: wire[0], completionTokens: wire[1], totalTokens: wire[2] };
  for (let i = 3; i < wire.length; i++) {
    const value = wire[i];
    if (value !== null && value !== undefined) usage[USAGE_DETAILS[i - 3]] = value;
  }
  return usage;
}

/**
 * The message as it is packed: the same kinds, with jobs and metadata flattened. A field added to JobData or the
 * metadata needs its place here and in fromWire, whose typed literals refuse a missing required field (an optional
 * one would be dropped without a word: the codec test lists every field).
 */
function toWire(message: FrontToWorker | WorkerToFront): unknown[] {
  switch (message[0]) {
    case MSG_JOB: {
      const job = message[2];
      return [MSG_JOB, message[1], message[3], job.kind, job.requestId, job.model, job.keyIndex, job.stream,
        job.includeUsage, job.body, job.modelLabel, job.tools ?? null, job.trace ?? null];
    }
    case MSG_RESULT: {
      const meta = message[4];
      return [MSG_RESULT, message[1], message[2], message[3], meta.upstreamMs, usageToWire(meta.usage), meta.droppedParams,
        meta.contentType ?? null, meta.headers ?? null, meta.times ?? null];
    }
    case MSG_STREAM_END: {
      const meta = message[2];
      return [MSG_STREAM_END, message[1], meta.upstreamMs, usageToWire(meta.usage), meta.droppedParams, meta.firstTokenMs,
        meta.times ?? null, meta.chunks ?? null];
    }
    default:
      return message;
  }
}

function fromWire(wire: unknown[]): FrontToWorker | WorkerToFront {
  switch (wire[0]) {
    case MSG_JOB: {
      const job: JobData = { kind: wire[3] as JobKind, requestId: wire[4] as string, model: wire[5] as string,
        keyIndex: wire[6] as number, stream: wire[7] as boolean, includeUsage: wire[8] as boolean,
        body: wire[9] as Record<string, unknown>, modelLabel: wire[10] as number };
      if (wire[11] !== null) job.tools = wire[11] as string;
      if (wire[12] !== null && wire[12] !== undefined) job.trace = wire[12] as string;
      return [MSG_JOB, wire[1] as number, job, wire[2] as number];
    }
    case MSG_RESULT: {
      const meta: ResultMeta = { upstreamMs: wire[4] as number, usage: usageFromWire(wire[5] as WireUsage),
        droppedParams: wire[6] as string[] | null };
      if (wire[7] !== null) meta.contentType = wire[7] as string;
      if (wire[8] !== null && wire[8] !== undefined) meta.headers = wire[8] as Record<string, string>;
      if (wire[9] !== null && wire[9] !== undefined) meta.times = wire[9] as AttemptTimes;
      return [MSG_RESULT, wire[1] as number, wire[2] as number, wire[3] as string | Uint8Array, meta];
    }
    case MSG_STREAM_END: {
      const meta: StreamEndMeta = { upstreamMs: wire[2] as number, usage: usageFromWire(wire[3] as WireUsage),
        droppedParams: wire[4] as string[] | null, firstTokenMs: wire[5] as number | null };
      if (wire[6] !== null && wire[6] !== undefined) meta.times = wire[6] as AttemptTimes;
      if (wire[7] !== null && wire[7] !== undefined) meta.chunks = wire[7] as string[];
      return [MSG_STREAM_END, wire[1] as number, meta];
    }
    default:
      return wire as FrontToWorker | WorkerToFront;
  }
}

/**
 * The result is a view into msgpackr's reusable arena: it is valid until the next encode, so the caller copies
 * it (into a ring slot) at once and never keeps or posts it.
 */
export function encodeMessage(message: FrontToWorker | WorkerToFront): Uint8Array {
  return packr.pack(toWire(message));
}

export function decodeMessage<T extends FrontToWorker | WorkerToFront>(bytes: Uint8Array): T {
  return fromWire(packr.unpack(bytes) as unknown[]) as T;
}

/** Decodes a message this thread owns the buffer of (one transferred to it): its bytes fields are views, not copies. */
export function decodeOwnedMessage<T extends FrontToWorker | WorkerToFront>(bytes: Uint8Array): T {
  return fromWire(ownedUnpackr.unpack(bytes) as unknown[]) as T;
}

/**
 * The bytes of the last `encodeMessage` in memory the caller owns and may transfer to another thread. A message that
 * outgrew msgpackr's arena was packed into an arena made for it alone (msgpackr starts a new one at offset 0 whenever
 * it grows or runs out, and never writes to the old one again): that one is taken as it is, no copy, and msgpackr
 * given a small one back, so a thread does not keep an arena the size of its largest message for ever. A message
 * that fitted the arena shares it with messages still waiting in a ring's backlog, so it is copied out.
 */
export function takeEncoded(bytes: Uint8Array): Uint8Array {
  // Not `slice`: msgpackr's arena is a Buffer, whose slice is a view. A copy in a buffer of its own.
  if (bytes.byteOffset !== 0) return new Uint8Array(bytes);
  packr.useBuffer(Buffer.allocUnsafeSlow(ARENA_BYTES));
  return bytes;
}
