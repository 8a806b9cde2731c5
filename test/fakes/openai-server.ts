// A fake of OpenAI's Chat Completions API on node:http, for tests. It answers in OpenAI's wire format (the JSON
// of `chat.completion`, the SSE chunks of `chat.completion.chunk`, the `{"error":{…}}` envelope) and records
// every request it received, including when the client went away, so that a test can assert that an abort
// reached the upstream.
//
// What a request gets is its Scenario. It is chosen, first match wins, by:
//   1. the header `x-fake-scenario` holding a Scenario as JSON (handy when the SDK talks to the fake directly);
//   2. a scenario registered with `fake.script(model, scenario)` for the request's model;
//   3. the model's name, read by `scenarioFromModel`:
//        error-<status>     fails with that status in OpenAI's error envelope (429 and 503 carry Retry-After)
//        break-after-<n>    streams n chunk events (the role chunk counts), then destroys the socket
//        no-done            streams every chunk, then ends the response without `data: [DONE]`
//        endless-<ms>       streams a content chunk every <ms> until the client goes away
//        hang               streams the content, then neither finishes nor closes (an idle upstream)
//        latency-<ms>       waits <ms> before answering (the headers included)
//        tools              calls the request's first tool (or `get_weather`)
//      anything else is a plain success (the `scenarioFromModel` option replaces this grammar: see
//      faulty-upstream.ts);
//   4. the scenario of the request's route (see `route`), then the options given to `startFakeOpenAI`, as
//      defaults for every request.
//
// The media endpoints answer deterministically from the request: /v1/audio/speech sends audio bytes (a fixed
// frame header, then the input text) with the content type of `response_format`; /v1/audio/transcriptions reads the
// multipart form and answers `Transcribed <n> bytes of <file name>` as JSON, text or subtitles per
// `response_format`; /v1/images/generations answers `n` images as b64_json (or URLs).
//
// By default it serves OpenAI's paths, /v1/chat/completions, /v1/embeddings and the media ones; the `route` option lets one fake
// stand in for several OpenAI-compatible servers (a path prefix per provider, a path without /v1, a keyless
// local server, a server that streams its usage unasked).

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  breakOff, FakeServer, modelOf, openaiEmbeddings, openStream, parseJson, respond, retryAfterFor, scenarioOrBadHeader, sendJson as sendJsonOf, tokensOf,
  type WaitableFakeServerApi, whenClosed,
} from './fake-server.js';
import { answerResponses } from './openai-responses.js';

export interface FakeToolCall {
  name: string;
  /** The arguments as the JSON text OpenAI sends. */
  arguments: string;
  id?: string;
}

export interface FakeError {
  status: number;
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
  /** Sent as the Retry-After header; 429 and 503 get '1' unless given. */
  retryAfter?: string | null;
}

export interface Scenario {
  /** Milliseconds before anything is sent, headers included. */
  latencyMs?: number;
  /** The assistant's reply; streamed as `chunks` pieces when given, else word by word. */
  content?: string;
  chunks?: string[];
  /** Milliseconds between stream chunk events. */
  chunkIntervalMs?: number;
  /** Streams: milliseconds between sending the headers and the first chunk event (a slow first token). */
  firstChunkDelayMs?: number;
  toolCalls?: FakeToolCall[];
  error?: FakeError;
  /** Streams: write this many chunk events (the role chunk counts), then destroy the socket. */
  breakAfterChunks?: number;
  /** Streams: end the response cleanly but without `data: [DONE]`. */
  omitDone?: boolean;
  /** Destroy the connection before sending anything, headers included (after `latencyMs`). */
  resetBeforeHeaders?: boolean;
  /** JSON answers: announce the whole body's length, send half of it, then destroy the connection. */
  resetMidBody?: boolean;
  /** A 200 whose JSON answer is cut short (not JSON), or a stream with one event that is not JSON after the role chunk. */
  malformed?: boolean;
  /** Streams: after the role chunk, a content chunk every `chunkIntervalMs` until the client goes away. */
  endless?: boolean;
  /** Streams: after the content chunks, send nothing more but keep the connection open until the client leaves. */
  hang?: boolean;
  /** Endless streams: the content of every chunk (default `tick <n> `). */
  endlessPiece?: string;
  /**
   * Endless streams: stop producing content once a write had to wait this long for the reader (the reader
   * stopped reading, then caught up), and go on as a finite stream would (finish, or `hang`).
   */
  stopAfterStallMs?: number;
  /** The counts reported; cached and reasoning tokens are parts of prompt and completion tokens, 0 unless given. */
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number; reasoning_tokens?: number };
  /** Streams: put the usage on the finish chunk whether or not the request asked (`stream_options`), as Mistral
   * and Cerebras do; no separate usage chunk then. */
  usageUnasked?: boolean;
  /**
   * Serialise JSON the way Python's `json.dumps` does by default (`{"a": 1, "b": 2}`), as many OpenAI-compatible
   * servers written in Python do; OpenAI itself sends compact JSON.
   */
  spacedJson?: boolean;
}

/** What a request path serves, for fakes of servers other than OpenAI itself. */
export interface FakeRoute {
  endpoint: 'chat' | 'embeddings' | 'speech' | 'transcriptions' | 'images' | 'image-edits' | 'image-variations' | 'models' | 'responses';
  /** Accepts requests without an Authorization header, as a local server started without a key does. */
  keyless?: boolean;
  /** Defaults for every request on this route, under a scripted or model-named scenario. */
  scenario?: Scenario;
}

export interface FakeOpenAIOptions extends Scenario {
  /** When set, a request whose Bearer token differs gets OpenAI's 401 `invalid_api_key`. */
  apiKey?: string;
  /** Maps a request path (without its query) to what it serves; null is a 404. Default: OpenAI's two paths. */
  route?: (path: string) => FakeRoute | null;
  /** Reads a request's model name as its scenario; default: the grammar in this file's header. */
  scenarioFromModel?: (model: string) => Scenario;
  /** The ids `GET /v1/models` lists; default FAKE_OPENAI_MODELS. */
  models?: readonly string[];
}

export const FAKE_OPENAI_MODELS: readonly string[] = Object.freeze(['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small']);

/** OpenAI's own paths. */
export function openaiRoute(path: string): FakeRoute | null {
  if (path === '/v1/chat/completions') return { endpoint: 'chat' };
  if (path === '/v1/embeddings') return { endpoint: 'embeddings' };
  if (path === '/v1/audio/speech') return { endpoint: 'speech' };
  if (path === '/v1/audio/transcriptions') return { endpoint: 'transcriptions' };
  if (path === '/v1/images/generations') return { endpoint: 'images' };
  if (path === '/v1/images/edits') return { endpoint: 'image-edits' };
  if (path === '/v1/images/variations') return { endpoint: 'image-variations' };
  if (path === '/v1/models') return { endpoint: 'models' };
  if (path === '/v1/responses') return { endpoint: 'responses' };
  return null;
}

export interface RecordedRequest {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The body's bytes, as they came (a multipart form's file intact). */
  readonly rawBytes: Buffer;
  /** The body parsed as JSON; undefined when it was not JSON. */
  readonly body: ChatBody | undefined;
  readonly scenario: Scenario;
  readonly receivedAt: number;
  /** The status the fake answered with; 0 until the headers went out. */
  status: number;
  /** The `data:` payloads written, in order, `[DONE]` included. */
  readonly events: string[];
  /** Non-streamed answers: the JSON text sent. */
  responseBody: string | null;
  /** The content the fake sent as the assistant's reply (joined chunks, for a stream). */
  content: string;
  /** True when the fake completed its response (res.end) itself. */
  completed: boolean;
  /** True when the connection closed before the fake completed its response: the client went away. */
  clientAborted: boolean;
  /** True when the fake itself destroyed the connection mid-stream (`breakAfterChunks`). */
  brokenOff: boolean;
  /** performance.now() since when a write waits for the connection to drain (the reader is behind); else null. */
  stalledSince: number | null;
  /** The longest such wait so far, in milliseconds: how long the reader stopped reading. */
  longestStallMs: number;
  /** Bytes of the stream written so far; while stalled, how far the reader's side let the stream get. */
  bytesWritten: number;
  /** performance.now() when the longest stall ended (the reader caught up). */
  longestStallEndedAt: number | null;
  /** performance.now() of the last event written. */
  lastWriteAt: number | null;
  /** performance.now() when the exchange closed, either way. */
  closedAt: number | null;
  /** Resolves once the exchange closed, either way. */
  readonly closed: Promise<void>;
}

/** The most requests the fake had open at once, from when each arrived and closed: what a concurrency limit bounds. */
export function peakOpen(requests: readonly Pick<RecordedRequest, 'receivedAt' | 'closedAt'>[]): number {
  let peak = 0;
  for (const request of requests) {
    const open = requests.filter((other) => other.receivedAt <= request.receivedAt &&
      (other.closedAt === null || other.closedAt > request.receivedAt)).length;
    peak = Math.max(peak, open);
  }
  return peak;
}

export interface ChatBody {
  model?: unknown;
  messages?: { role: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  tools?: { type: string; function: { name: string } }[];
  tool_choice?: unknown;
  [field: string]: unknown;
}

export interface FakeOpenAI extends WaitableFakeServerApi<RecordedRequest, Scenario> {
  /** Exchanges still open (answered or not). */
  readonly openCount: number;
}

/** An MPEG audio frame header: what every fake speech answer starts with. */
export const SPEECH_FRAME = Buffer.from([0xff, 0xfb, 0x90, 0x64]);
const SPEECH_TYPES: Record<string, string> = { mp3: 'audio/mpeg', opus: 'audio/opus', aac: 'audio/aac', flac: 'audio/flac',
  wav: 'audio/wav', pcm: 'audio/pcm' };

const DEFAULT_CONTENT = 'The quick brown fox jumps over the lazy dog.';
const DEFAULT_TOOL: FakeToolCall = { name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' };

const ERROR_TYPES: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: "Invalid value for 'messages': the request was rejected." },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Country, region, or territory not supported' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist or you do not have access to it.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests. Please try again in 1s.' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request. Sorry about that!' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded, please try again later.' },
};

/** Reads the fault grammar of a model name; see the file's header. */
export function scenarioFromModel(model: string): Scenario {
  let match: RegExpExecArray | null;
  if ((match = /(?:^|[-/])error-(\d{3})$/.exec(model))) return { error: { status: Number(match[1]) } };
  if ((match = /break-after-(\d+)$/.exec(model))) return { breakAfterChunks: Number(match[1]) };
  if (/no-done$/.test(model)) return { omitDone: true };
  if (/(?:^|-)hang$/.test(model)) return { hang: true };
  if ((match = /endless-(\d+)$/.exec(model))) return { endless: true, chunkIntervalMs: Number(match[1]) };
  if ((match = /latency-(\d+)$/.exec(model))) return { latencyMs: Number(match[1]) };
  if (/(?:^|-)tools$/.test(model)) return { toolCalls: [DEFAULT_TOOL] };
  return {};
}

/** JSON with Python's default separators: ', ' and ': '. */
export function spacedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => spacedJson(item ?? null)).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}: ${spacedJson(item)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

const randomId = (prefix: string, bytes = 12) => `${prefix}${randomBytes(bytes).toString('hex')}`;

function lastUserText(body: ChatBody | undefined): string {
  const messages = Array.isArray(body?.messages) ? body!.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user' && typeof messages[i].content === 'string') return messages[i].content as string;
  }
  return '';
}

function splitWords(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let open = 0;
  const { apiKey, route: routeOf = openaiRoute, scenarioFromModel: scenarioOf = scenarioFromModel, models = FAKE_OPENAI_MODELS,
    ...baseScenario } = options;

  const fake = await FakeServer.start<RecordedRequest, Scenario>((req, res, rawBody, rawBytes) => {
    const body = parseJson<ChatBody>(rawBody);
    const scenario = scenarioOrBadHeader(() => fake.pickScenario(req.headers, modelOf(body), scenarioOf,
      { ...baseScenario, ...routeOf((req.url ?? '').split('?')[0])?.scenario }));
    const record: RecordedRequest = fake.record({
      seq: fake.nextSeq(),
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      rawBody,
      rawBytes,
      body,
      scenario,
      receivedAt: performance.now(),
      status: 0,
      events: [],
      responseBody: null,
      content: '',
      completed: false,
      clientAborted: false,
      brokenOff: false,
      stalledSince: null,
      longestStallMs: 0,
      bytesWritten: 0,
      longestStallEndedAt: null,
      lastWriteAt: null,
      closedAt: null,
      closed: whenClosed(res, () => {
        open--;
        record.completed = res.writableFinished;
        record.clientAborted = !res.writableFinished && !record.brokenOff;
        record.closedAt = performance.now();
      }),
    });
    open++;
    void answer(req, res, record).catch(() => res.destroy());
  });

  /** Resolves after `ms`, or early (false) when the client went away meanwhile. */
  const wait = (res: ServerResponse, ms: number) => new Promise<boolean>((resolve) => {
    if (res.destroyed) return resolve(false);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });

  const sendJson = (res: ServerResponse, record: RecordedRequest, status: number, body: unknown,
    headers: Record<string, string> = {}) => {
    sendJsonOf(res, record, status, body, { 'x-request-id': randomId('req_', 16), 'openai-processing-ms': '12', ...headers },
      record.scenario.spacedJson ? spacedJson : JSON.stringify);
  };

  const sendError = (res: ServerResponse, record: RecordedRequest, error: FakeError) => {
    const known = ERROR_TYPES[error.status] ?? ERROR_TYPES[error.status >= 500 ? 500 : 400];
    const retryAfter = retryAfterFor(error.status, error.retryAfter, [429, 503]);
    sendJson(res, record, error.status, {
      error: {
        message: error.message ?? known.message,
        type: error.type ?? known.type,
        param: error.param ?? null,
        code: error.code === undefined ? known.code : error.code,
      },
    }, retryAfter === null ? {} : { 'retry-after': retryAfter });
  };

  /** OpenAI's embeddings list: a deterministic 8-dimensional vector per input, from the input's characters. */
  function sendEmbeddings(res: ServerResponse, body: Record<string, unknown>): void {
    const { inputs, data } = openaiEmbeddings(body);
    const promptTokens = inputs.reduce((n: number, input) => n + Math.ceil(String(input).length / 4), 0);
    sendJsonOf(res, null, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
  }

  const missing = (res: ServerResponse, record: RecordedRequest, param: string) =>
    sendError(res, record, { status: 400, param, code: null, message: `Missing required parameter: '${param}'.` });

  /** Audio bytes: an MP3 frame header, then the input text, so a test can tell what was spoken. */
  function sendSpeech(res: ServerResponse, record: RecordedRequest, body: ChatBody): void {
    if (typeof body.input !== 'string') return missing(res, record, 'input');
    if (body.voice === undefined) return missing(res, record, 'voice');
    const format = typeof body.response_format === 'string' ? body.response_format : 'mp3';
    const type = SPEECH_TYPES[format];
    if (!type) return sendError(res, record, { status: 400, param: 'response_format', message: `Invalid value: '${format}'.` });
    const audio = Buffer.concat([SPEECH_FRAME, Buffer.from(body.input)]);
    record.status = 200;
    res.writeHead(200, { 'content-type': type, 'content-length': audio.length, 'x-request-id': randomId('req_', 16) });
    res.end(audio);
  }

  /** An edit (`image` or `image[]` parts, a `prompt`, an optional `mask`) or a variation (one `image`): each answered
   * image is a PNG signature, then the names and sizes of the images the form held (and the prompt). */
  async function sendImageEdit(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, edit: boolean): Promise<void> {
    let form: FormData;
    try {
      form = await new Response(record.rawBytes, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    } catch {
      return sendError(res, record, { status: 400, code: null, message: 'Could not parse multipart form' });
    }
    const images = [...form.getAll('image'), ...(edit ? form.getAll('image[]') : [])].filter((part): part is File => typeof part !== 'string');
    if (images.length === 0) return missing(res, record, 'image');
    const prompt = form.get('prompt');
    if (edit && typeof prompt !== 'string') return missing(res, record, 'prompt');
    if (!edit && prompt !== null) return sendError(res, record, { status: 400, param: 'prompt', message: "Unrecognized request argument supplied: prompt" });
    if (record.scenario.error) return sendError(res, record, record.scenario.error);
    const mask = form.get('mask');
    const described = `${images.map((image) => `${image.name}:${image.size}`).join(',')}${typeof mask === 'object' && mask ? ` mask:${mask.size}` : ''}`
      + `${typeof prompt === 'string' ? ` ${prompt}` : ''}`;
    const count = Number(form.get('n') ?? 1);
    const image = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(described)]).toString('base64');
    sendJson(res, record, 200, { created: Math.floor(Date.now() / 1000), data: Array.from({ length: count }, () => ({ b64_json: image })) });
  }

  async function sendTranscription(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    let form: FormData;
    try {
      form = await new Response(record.rawBytes, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    } catch {
      return sendError(res, record, { status: 400, code: null, message: 'Could not parse multipart form' });
    }
    const file = form.get('file');
    if (file === null || typeof file === 'string') return missing(res, record, 'file');
    const model = form.get('model');
    if (typeof model !== 'string') return missing(res, record, 'model');
    const scripted = scenarioFromModel(model).error ?? record.scenario.error;
    if (scripted) return sendError(res, record, scripted);
    const text = `Transcribed ${file.size} bytes of ${file.name}`;
    const format = form.get('response_format') ?? 'json';
    if (format === 'json') {
      sendJson(res, record, 200, { text, usage: { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 0, audio_tokens: 14 },
        output_tokens: tokensOf(text), total_tokens: 14 + tokensOf(text) } });
    } else if (format === 'verbose_json') {
      sendJson(res, record, 200, { task: 'transcribe', language: form.get('language') ?? 'english', duration: 1.5, text,
        segments: [], ...(form.getAll('timestamp_granularities[]').includes('word') ? { words: [] } : {}) });
    } else if (format === 'text' || format === 'srt' || format === 'vtt') {
      const body = format === 'text' ? `${text}\n` : format === 'srt' ? `1\n00:00:00,000 --> 00:00:01,500\n${text}\n`
        : `WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n${text}\n`;
      respond(res, record, 200, body, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    } else {
      sendError(res, record, { status: 400, param: 'response_format', message: `Invalid value: '${String(format)}'.` });
    }
  }

  /** `n` images: a PNG signature and the prompt, base64-encoded (or as URLs with response_format url). */
  function sendImages(res: ServerResponse, record: RecordedRequest, body: ChatBody): void {
    if (typeof body.prompt !== 'string') return missing(res, record, 'prompt');
    const count = typeof body.n === 'number' ? body.n : 1;
    const image = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(body.prompt)]).toString('base64');
    const data = Array.from({ length: count }, (_, i) => (body.response_format === 'url'
      ? { url: `https://images.example/${i}.png`, revised_prompt: body.prompt } : { b64_json: image }));
    sendJson(res, record, 200, { created: Math.floor(Date.now() / 1000), data,
      usage: { input_tokens: tokensOf(body.prompt), input_tokens_details: { text_tokens: tokensOf(body.prompt), image_tokens: 0 },
        output_tokens: 272 * count, total_tokens: tokensOf(body.prompt) + 272 * count } });
  }

  async function answer(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    const { scenario, body } = record;
    if (scenario.latencyMs && !(await wait(res, scenario.latencyMs))) return;
    if (scenario.resetBeforeHeaders) {
      record.brokenOff = true;
      res.socket?.destroy();
      return;
    }

    const route = routeOf(record.path.split('?')[0]);
    if (!route || req.method !== (route.endpoint === 'models' ? 'GET' : 'POST')) {
      sendError(res, record, { status: 404, code: 'unknown_url', message: `Unknown request URL: ${req.method} ${record.path}. Please check the URL for typos, or see the docs at https://platform.openai.com/docs/api-reference/.` });
      return;
    }
    const auth = req.headers.authorization;
    if (!auth && route.keyless) {
      // A local server started without a key takes any request.
    } else if (!auth || !/^Bearer \S+/.test(auth)) {
      sendError(res, record, { status: 401, code: null, message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)." });
      return;
    } else if (apiKey !== undefined && auth !== `Bearer ${apiKey}`) {
      sendError(res, record, { status: 401 });
      return;
    }
    if (route.endpoint === 'models') {
      if (scenario.error) sendError(res, record, scenario.error);
      else sendJson(res, record, 200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1715367049, owned_by: 'system' })) });
      return;
    }
    if (route.endpoint === 'transcriptions') {
      await sendTranscription(req, res, record);
      return;
    }
    if (route.endpoint === 'image-edits' || route.endpoint === 'image-variations') {
      await sendImageEdit(req, res, record, route.endpoint === 'image-edits');
      return;
    }
    if (!body) {
      sendError(res, record, { status: 400, code: null, message: 'We could not parse the JSON body of your request.' });
      return;
    }
    if (route.endpoint === 'speech' || route.endpoint === 'images') {
      if (scenario.error) sendError(res, record, scenario.error);
      else if (route.endpoint === 'speech') sendSpeech(res, record, body);
      else sendImages(res, record, body);
      return;
    }
    if (route.endpoint === 'embeddings') {
      if (scenario.error) sendError(res, record, scenario.error);
      else sendEmbeddings(res, body);
      return;
    }
    if (route.endpoint === 'responses') {
      if (scenario.error) sendError(res, record, scenario.error);
      else answerResponses(res, record, body as Record<string, unknown>, (status, answer) => sendJson(res, record, status, answer));
      return;
    }
    if (typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      sendError(res, record, { status: 400, param: typeof body.model !== 'string' ? 'model' : 'messages',
        code: typeof body.model !== 'string' ? null : 'empty_array',
        message: typeof body.model !== 'string' ? 'you must provide a model parameter' : "Invalid 'messages': empty array." });
      return;
    }
    if (scenario.error) {
      sendError(res, record, scenario.error);
      return;
    }

    const model = body.model;
    const requestedTool = Array.isArray(body.tools) && body.tools[0]?.function?.name;
    // The model-named `tools` scenario calls whichever tool the request offers first.
    const toolCalls = scenario.toolCalls?.map((call) => ({
      ...call,
      name: call === DEFAULT_TOOL && requestedTool ? requestedTool : call.name,
      id: call.id ?? randomId('call_', 12),
    }));
    const content = toolCalls ? '' : scenario.content ?? (lastUserText(body) ? `${DEFAULT_CONTENT} You said: ${lastUserText(body)}` : DEFAULT_CONTENT);
    const promptTokens = scenario.usage?.prompt_tokens ?? tokensOf(JSON.stringify(body.messages));
    const completionTokens = scenario.usage?.completion_tokens
      ?? tokensOf(toolCalls ? toolCalls.map((call) => call.arguments).join('') : content);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: scenario.usage?.cached_tokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: scenario.usage?.reasoning_tokens ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0 },
    };
    const id = randomId('chatcmpl-', 14);
    const created = Math.floor(Date.now() / 1000);
    const fingerprint = 'fp_f33640a400';
    const finishReason = toolCalls ? 'tool_calls' : 'stop';

    if (body.stream !== true) {
      record.content = content;
      const answer = {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{
          index: 0,
          message: {
            role: 'assistant',
            content: toolCalls ? null : content,
            ...(toolCalls ? { tool_calls: toolCalls.map((call) => ({ id: call.id, type: 'function',
              function: { name: call.name, arguments: call.arguments } })) } : {}),
            refusal: null,
            annotations: [],
          },
          logprobs: null,
          finish_reason: finishReason,
        }],
        usage,
        service_tier: 'default',
        system_fingerprint: fingerprint,
      };
      if (scenario.malformed || scenario.resetMidBody) {
        const text = JSON.stringify(answer);
        const half = text.slice(0, Math.floor(text.length / 2));
        record.status = 200;
        record.responseBody = half;
        const length = scenario.resetMidBody ? Buffer.byteLength(text) : Buffer.byteLength(half);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': length });
        if (scenario.malformed) {
          res.end(half);
          return;
        }
        await breakOff(res, record, new Promise<void>((resolve) => res.write(half, () => resolve())));
        return;
      }
      sendJson(res, record, 200, answer);
      return;
    }

    // A stream, in OpenAI's order: the role chunk, the deltas, the finish chunk, the usage chunk when asked, [DONE].
    const includeUsage = body.stream_options?.include_usage === true;
    const serialize = scenario.spacedJson ? spacedJson : JSON.stringify;
    const chunk = (delta: object, finish: string | null, withUsage?: object) => serialize({
      id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: fingerprint,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(withUsage ? { usage: withUsage } : includeUsage ? { usage: null } : {}),
    });
    openStream(res, record, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': randomId('req_', 16),
      'openai-processing-ms': '8',
    });

    if (scenario.firstChunkDelayMs && !(await wait(res, scenario.firstChunkDelayMs))) return;
    const interval = scenario.chunkIntervalMs ?? 0;
    let written = 0;
    /** Writes one SSE event; false once the exchange is over (broken off on purpose or by the client). */
    const send = async (data: string): Promise<boolean> => {
      if (res.destroyed) return false;
      if (written > 0 && interval > 0 && !(await wait(res, interval))) return false;
      record.events.push(data);
      written++;
      record.lastWriteAt = performance.now();
      let roomLeft = true;
      const event = `data: ${data}\n\n`;
      record.bytesWritten += Buffer.byteLength(event);
      const flushed = new Promise<void>((resolve) => {
        roomLeft = res.write(event, () => resolve());
      });
      if (!roomLeft) {
        // Like a real server, wait for the reader to catch up rather than buffer without bound.
        record.stalledSince = performance.now();
        const drained = await new Promise<boolean>((resolve) => {
          const onDrain = () => settle(true);
          const onClose = () => settle(false);
          const settle = (value: boolean) => {
            const now = performance.now();
            if (now - record.stalledSince! > record.longestStallMs) {
              record.longestStallMs = now - record.stalledSince!;
              record.longestStallEndedAt = now;
            }
            record.stalledSince = null;
            res.off('drain', onDrain);
            res.off('close', onClose);
            resolve(value);
          };
          res.on('drain', onDrain);
          res.on('close', onClose);
        });
        if (!drained) return false;
      }
      if (scenario.breakAfterChunks !== undefined && written >= scenario.breakAfterChunks) {
        await breakOff(res, record, flushed);
        return false;
      }
      return true;
    };

    const roleDelta = toolCalls
      ? { role: 'assistant', content: null, tool_calls: toolCalls.map((call, index) => ({ index, id: call.id, type: 'function',
        function: { name: call.name, arguments: '' } })), refusal: null }
      : { role: 'assistant', content: '', refusal: null };
    if (!(await send(chunk(roleDelta, null)))) return;
    if (scenario.malformed && !(await send('{"id": "chatcmpl-cut", "choices": [{"delta": {"content": "th'))) return;

    if (scenario.endless) {
      for (let n = 0; ; n++) {
        const piece = scenario.endlessPiece ?? `tick ${n} `;
        record.content += piece;
        if (!(await send(chunk({ content: piece }, null)))) return;
        const stallLimit = scenario.stopAfterStallMs;
        if (stallLimit !== undefined && record.longestStallMs >= stallLimit) break;
      }
    } else if (toolCalls) {
      for (const [index, call] of toolCalls.entries()) {
        // OpenAI streams the arguments' JSON in a few pieces.
        const size = Math.max(1, Math.ceil(call.arguments.length / 3));
        for (let at = 0; at < call.arguments.length; at += size) {
          if (!(await send(chunk({ tool_calls: [{ index, function: { arguments: call.arguments.slice(at, at + size) } }] }, null)))) return;
        }
      }
    } else {
      for (const piece of scenario.chunks ?? splitWords(content)) {
        record.content += piece;
        if (!(await send(chunk({ content: piece }, null)))) return;
      }
    }
    if (scenario.hang) {
      if (!res.destroyed) await once(res, 'close');
      return;
    }
    if (!(await send(chunk({}, finishReason, scenario.usageUnasked ? usage : undefined)))) return;
    if (includeUsage && !scenario.usageUnasked) {
      if (!(await send(serialize({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default',
        system_fingerprint: fingerprint, choices: [], usage })))) return;
    }
    if (!scenario.omitDone && !(await send('[DONE]'))) return;
    res.end();
  }

  const { url, port, requests, script, requestsWithId, waitForRequests, reset, close } = fake;
  return {
    url, port, requests, script, requestsWithId, waitForRequests,
    get openCount() {
      return open;
    },
    reset, close,
  };
}
