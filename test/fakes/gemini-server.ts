// A fake of Google's Gemini `generateContent` API on node:http, for tests, in both of its homes:
//   Gemini API  POST /v1beta/models/{model}:{action}            (API key in `x-goog-api-key`, or `?key=`)
//   Vertex AI   POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{model}:{action}
//               (an OAuth2 access token this fake issued, as `authorization: Bearer …`)
//   OAuth2      POST /token  (the JWT-bearer grant: verifies the RS256 signature with the test key pair's public
//               key, the audience, scope and lifetime, and issues an access token)
// Actions: generateContent, streamGenerateContent (`?alt=sse`: one GenerateContentResponse per `data:`, CRLF
// framed, no [DONE]; without alt=sse a JSON array, as Google does), countTokens (Gemini API: `contents` alone or a
// whole `generateContentRequest` with its `model`; Vertex: `contents`, `systemInstruction`, `tools`,
// `generationConfig` at the top; answers `totalTokens`, counting contents as generateContent's promptTokenCount
// does, plus the system instruction and tools), batchEmbedContents (Gemini API), predict (Vertex embeddings, and
// Imagen's images on both APIs). Requests are checked as strictly as Google does for what the adapters send (unknown
// fields, roles, part shapes), so a bad transform fails here rather than in production.
// Media through generateContent: a `*-tts` model answers only `responseModalities: ["AUDIO"]` with a prebuilt voice,
// in 24 kHz 16-bit PCM (fakeSpeechPcm: each character of the text one sample); an `*-image*` model answers
// ["TEXT", "IMAGE"] with one PNG (fakeImageBytes); audio in an inlineData part is "transcribed" as
// `Transcribed <n> bytes of <mimeType>`.
// Claude on Vertex: `publishers/anthropic/models/{m}:rawPredict|streamRawPredict`, with `anthropic_version:
// "vertex-2023-10-16"` in the body and no `model`, is answered by a fake Anthropic API given as `options.anthropicUrl`
// (Vertex passes Anthropic's answers, events and errors on as they are); so is Claude's token counter,
// `publishers/anthropic/models/count-tokens:rawPredict`, with the model in the body.
//
// What a request gets is its Scenario, chosen (first match wins) by the `x-fake-scenario` header (JSON), a
// scenario registered with `fake.script(model, …)`, or the model name's suffix:
//   error-<status>   fails with that status in Google's error envelope (429 and 503 carry Retry-After and RetryInfo)
//   tools            calls the request's first declared function (or get_weather); once the request carries the
//                    function's response, answers with text about it
//   truncated        streams content, then ends the body without a finishReason (non-streamed: a cut-off body)
//   stream-error     streams one chunk, then an `{"error":…}` event (503 UNAVAILABLE)
//   blocked          the prompt is blocked: promptFeedback.blockReason SAFETY, no candidates
//   max-tokens       finishReason MAX_TOKENS;  safety: finishReason SAFETY
//   latency-<ms>     waits before answering
// anything else answers `Echo: <last user text>` (or the scenario's `content`).

import { createVerify, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { charVector, FakeServer, type FakeServerApi, parseJson, retryAfterFor, sendJson as sendJsonOf, tokensOf, whenClosed } from './fake-server.js';

type Json = Record<string, unknown>;

export interface FakeGeminiToolCall {
  name: string;
  args: Json;
  /** Sent on the call's part, as Gemini 2.5+ signs the thinking behind a call. */
  thoughtSignature?: string;
}

export interface FakeGeminiScenario {
  latencyMs?: number;
  content?: string;
  /** Stream pieces; default: the content in three pieces. */
  chunks?: string[];
  toolCalls?: FakeGeminiToolCall[];
  error?: { status: number; message?: string; retryAfter?: string | null };
  finishReason?: string;
  truncated?: boolean;
  streamError?: boolean;
  blocked?: boolean;
  usage?: { promptTokenCount: number; candidatesTokenCount: number; thoughtsTokenCount?: number; cachedContentTokenCount?: number };
}

/** What `GET /v1beta/models` lists. */
export const FAKE_GEMINI_MODELS: readonly string[] = Object.freeze(['gemini-2.0-flash', 'gemini-2.5-pro', 'text-embedding-004']);

export interface FakeGeminiOptions {
  /** Gemini API: the only key accepted (else Google's 400 API_KEY_INVALID). Unset: any key. */
  apiKey?: string;
  /** Vertex: the service account whose JWTs /token accepts. Unset: Vertex routes accept any bearer token. */
  serviceAccount?: { clientEmail: string; publicKey: KeyObject | string };
  /** Lifetime of issued access tokens, in seconds (Google: 3599). */
  tokenLifetimeS?: number;
  /** A fake Anthropic API that answers Claude models on Vertex; unset, those routes answer 404. */
  anthropicUrl?: string;
}

export interface FakeGeminiRequest {
  readonly seq: number;
  readonly api: 'gemini' | 'vertex';
  /** Vertex's publisher of the model; `google` on the Gemini API. */
  readonly publisher: 'google' | 'anthropic';
  readonly path: string;
  readonly model: string;
  readonly action: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Json | undefined;
  readonly scenario: FakeGeminiScenario;
  status: number;
  /** The `data:` payloads written. */
  readonly events: string[];
  responseBody: string | null;
  readonly closed: Promise<void>;
  completed: boolean;
}

export interface FakeTokenRequest {
  readonly header: Json;
  readonly claims: Json;
  readonly granted: boolean;
  readonly token: string | null;
  readonly error: string | null;
}

export interface FakeGemini extends Omit<FakeServerApi<FakeGeminiRequest, FakeGeminiScenario>, 'requestsWithId'> {
  readonly tokenRequests: FakeTokenRequest[];
  /** Forgets the tokens issued so far: the next Vertex call with one of them gets 401. */
  revokeTokens(): void;
}

const DEFAULT_TOOL: FakeGeminiToolCall = { name: 'get_weather', args: { location: 'Paris', unit: 'celsius' } };

const ERRORS: Record<number, { status: string; message: string }> = {
  400: { status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument.' },
  401: { status: 'UNAUTHENTICATED', message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.' },
  403: { status: 'PERMISSION_DENIED', message: 'Permission denied on resource project.' },
  404: { status: 'NOT_FOUND', message: 'Requested entity was not found.' },
  429: { status: 'RESOURCE_EXHAUSTED', message: 'You exceeded your current quota, please check your plan and billing details.' },
  500: { status: 'INTERNAL', message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting' },
  503: { status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' },
};

export function scenarioFromModel(model: string): FakeGeminiScenario {
  let match: RegExpExecArray | null;
  if ((match = /error-(\d{3})$/.exec(model))) return { error: { status: Number(match[1]) } };
  if (/-tools$/.test(model)) return { toolCalls: [] };
  if (/-truncated$/.test(model)) return { truncated: true };
  if (/-stream-error$/.test(model)) return { streamError: true };
  if (/-blocked$/.test(model)) return { blocked: true };
  if (/-max-tokens$/.test(model)) return { finishReason: 'MAX_TOKENS' };
  if (/-safety$/.test(model)) return { finishReason: 'SAFETY' };
  if ((match = /latency-(\d+)$/.exec(model))) return { latencyMs: Number(match[1]) };
  return {};
}

const GEMINI_PATH = /^\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/;
const VERTEX_PATH = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^/:]+):([A-Za-z]+)$/;

const REQUEST_KEYS = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'safetySettings',
  'cachedContent', 'labels']);
const GENERATION_KEYS = new Set(['temperature', 'topP', 'topK', 'candidateCount', 'maxOutputTokens', 'stopSequences',
  'presencePenalty', 'frequencyPenalty', 'seed', 'responseMimeType', 'responseSchema', 'responseJsonSchema',
  'responseLogprobs', 'logprobs', 'thinkingConfig', 'responseModalities', 'mediaResolution', 'speechConfig', 'imageConfig']);
/** Gemini's prebuilt speech voices (a few of the 30). */
const VOICES = new Set(['Zephyr', 'Puck', 'Charon', 'Kore', 'Fenrir', 'Leda', 'Orus', 'Aoede', 'Callirrhoe', 'Autonoe', 'Enceladus']);
const ASPECT_RATIOS = new Set(['1:1', '3:4', '4:3', '9:16', '16:9']);
const IMAGEN_PARAMETERS = new Set(['sampleCount', 'aspectRatio', 'personGeneration', 'outputOptions', 'sampleImageSize', 'imageSize',
  'negativePrompt', 'seed', 'addWatermark', 'enhancePrompt', 'safetySetting', 'language']);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The fake's speech for a text: one 16-bit little-endian sample per UTF-16 unit, its code. */
export function fakeSpeechPcm(text: string): Buffer {
  const pcm = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) pcm.writeUInt16LE(text.charCodeAt(i), i * 2);
  return pcm;
}

/** The fake's image `index` for a prompt: a PNG signature, then the prompt and the index. */
export const fakeImageBytes = (prompt: string, index = 0): Buffer => Buffer.concat([PNG_SIGNATURE, Buffer.from(`${prompt}#${index}`)]);
const PART_KEYS = new Set(['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode',
  'codeExecutionResult']);
const PART_META = new Set(['thought', 'thoughtSignature', 'videoMetadata', 'partMetadata']);

class BadRequest extends Error {}

function checkParts(parts: unknown, where: string): void {
  if (!Array.isArray(parts) || parts.length === 0) throw new BadRequest(`* ${where}.parts: contents.parts must not be empty.`);
  for (const part of parts as Json[]) {
    const data = Object.keys(part).filter((k) => !PART_META.has(k));
    const unknown = data.find((k) => !PART_KEYS.has(k));
    if (unknown) throw new BadRequest(`Invalid JSON payload received. Unknown name "${unknown}" at '${where}.parts[0]': Cannot find field.`);
    if (data.length !== 1) throw new BadRequest(`* ${where}.parts[0].data: required oneof field 'data' must have one initialized field`);
    const inline = part.inlineData as Json | undefined;
    if (inline && (typeof inline.mimeType !== 'string' || typeof inline.data !== 'string')) {
      throw new BadRequest(`* ${where}.parts[0].inline_data: mime_type and data are required`);
    }
    const response = part.functionResponse as Json | undefined;
    if (response && (typeof response.name !== 'string' || !response.response || typeof response.response !== 'object'
      || Array.isArray(response.response))) {
      throw new BadRequest(`* ${where}.parts[0].function_response: name and a response object are required`);
    }
  }
}

/** The checks Google applies that a wrong transform would trip. */
function checkGenerateRequest(body: Json | undefined): void {
  if (!body) throw new BadRequest('Invalid JSON payload received.');
  for (const key of Object.keys(body)) {
    if (!REQUEST_KEYS.has(key)) throw new BadRequest(`Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
  }
  if (!Array.isArray(body.contents) || body.contents.length === 0) {
    throw new BadRequest('* GenerateContentRequest.contents: contents is not specified');
  }
  (body.contents as Json[]).forEach((content, i) => {
    if (content.role !== undefined && content.role !== 'user' && content.role !== 'model') {
      throw new BadRequest('Please use a valid role: user, model.');
    }
    checkParts(content.parts, `contents[${i}]`);
  });
  if (body.systemInstruction !== undefined) checkParts((body.systemInstruction as Json).parts, 'system_instruction');
  for (const key of Object.keys((body.generationConfig as Json | undefined) ?? {})) {
    if (!GENERATION_KEYS.has(key)) {
      throw new BadRequest(`Invalid JSON payload received. Unknown name "${key}" at 'generation_config': Cannot find field.`);
    }
  }
  for (const tool of (body.tools as Json[] | undefined) ?? []) {
    for (const declaration of (tool.functionDeclarations as Json[] | undefined) ?? []) {
      if (typeof declaration.name !== 'string') throw new BadRequest('* tools[0].function_declarations[0].name: name is required');
      if (declaration.parameters && declaration.parametersJsonSchema) {
        throw new BadRequest('parameters and parameters_json_schema are mutually exclusive');
      }
    }
  }
}

function lastUserText(body: Json | undefined): string {
  const contents = (body?.contents as { role?: string; parts?: Json[] }[] | undefined) ?? [];
  for (let i = contents.length - 1; i >= 0; i--) {
    if (contents[i].role !== 'user') continue;
    const text = (contents[i].parts ?? []).map((p) => (typeof p.text === 'string' ? p.text : '')).join('');
    if (text) return text;
  }
  return '';
}

function lastUserAudio(body: Json | undefined): { mimeType: string; data: string } | null {
  const last = ((body?.contents as { role?: string; parts?: Json[] }[] | undefined) ?? []).filter((c) => c.role === 'user').at(-1);
  const part = last?.parts?.find((p) => typeof (p.inlineData as Json | undefined)?.mimeType === 'string'
    && ((p.inlineData as Json).mimeType as string).startsWith('audio/'));
  return (part?.inlineData as { mimeType: string; data: string } | undefined) ?? null;
}

function lastFunctionResponse(body: Json | undefined): Json | null {
  const last = ((body?.contents as { parts?: Json[] }[] | undefined) ?? []).at(-1);
  const part = last?.parts?.find((p) => p.functionResponse);
  return (part?.functionResponse as Json | undefined) ?? null;
}

function splitInThree(text: string): string[] {
  const words = text.match(/\S+\s*/g) ?? [text];
  const size = Math.max(1, Math.ceil(words.length / 3));
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += size) pieces.push(words.slice(i, i + size).join(''));
  return pieces;
}

function verifyJwt(assertion: string, publicKey: KeyObject | string): { header: Json; claims: Json; valid: boolean } {
  const [h, p, s] = assertion.split('.');
  const decode = (part: string | undefined): Json => {
    try {
      return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Json;
    } catch {
      return {};
    }
  };
  const header = decode(h);
  const claims = decode(p);
  const valid = header.alg === 'RS256' && typeof s === 'string'
    && createVerify('RSA-SHA256').update(`${h}.${p}`).verify(publicKey, Buffer.from(s, 'base64url'));
  return { header, claims, valid };
}

export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const tokenRequests: FakeTokenRequest[] = [];
  const tokens = new Map<string, number>();

  /** Google's JSON answer; noted on the record when there is one. */
  const sendJson = (res: ServerResponse, record: FakeGeminiRequest | null, status: number, body: unknown,
    headers: Record<string, string> = {}) => sendJsonOf(res, record, status, body, { 'content-type': 'application/json; charset=UTF-8', ...headers });

  const errorBody = (status: number, message?: string, details?: Json[]) => {
    const known = ERRORS[status] ?? ERRORS[status >= 500 ? 500 : 400];
    return { error: { code: status, message: message ?? known.message, status: known.status, ...(details ? { details } : {}) } };
  };

  const sendError = (res: ServerResponse, record: FakeGeminiRequest | null, status: number, message?: string,
    retryAfter?: string | null, details?: Json[]) => {
    const after = retryAfterFor(status, retryAfter, [429, 503]);
    const retryInfo = after !== null ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${after}s` }] : undefined;
    sendJson(res, record, status, errorBody(status, message, details ?? retryInfo), after === null ? {} : { 'retry-after': after });
  };

  const handleToken = (res: ServerResponse, raw: string) => {
    const form = new URLSearchParams(raw);
    const refuse = (description: string, header: Json = {}, claims: Json = {}) => {
      tokenRequests.push({ header, claims, granted: false, token: null, error: description });
      sendJson(res, null, 400, { error: 'invalid_grant', error_description: description });
    };
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return refuse('Invalid grant_type.');
    const account = options.serviceAccount;
    if (!account) return refuse('This fake has no service account configured.');
    const { header, claims, valid } = verifyJwt(form.get('assertion') ?? '', account.publicKey);
    const now = Math.floor(Date.now() / 1000);
    if (!valid) return refuse('Invalid JWT Signature.', header, claims);
    if (claims.iss !== account.clientEmail) return refuse('Invalid issuer.', header, claims);
    if (claims.aud !== `${fake.url}/token`) return refuse('Invalid JWT: Token must be for this token endpoint (aud).', header, claims);
    if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes('https://www.googleapis.com/auth/cloud-platform')) {
      return refuse('Invalid scope.', header, claims);
    }
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp - claims.iat > 3600
      || claims.exp < now || claims.iat > now + 60) {
      return refuse('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.', header, claims);
    }
    const token = `ya29.fake-${randomBytes(16).toString('hex')}`;
    const lifetime = options.tokenLifetimeS ?? 3599;
    tokens.set(token, Date.now() + lifetime * 1000);
    tokenRequests.push({ header, claims, granted: true, token, error: null });
    sendJson(res, null, 200, { access_token: token, expires_in: lifetime, token_type: 'Bearer' });
  };

  const authorized = (api: 'gemini' | 'vertex', req: IncomingMessage, res: ServerResponse, record: FakeGeminiRequest): boolean => {
    if (api === 'gemini') {
      const key = req.headers['x-goog-api-key'] ?? new URL(req.url ?? '', 'http://x').searchParams.get('key');
      if (typeof key !== 'string' || key === '' || (options.apiKey !== undefined && key !== options.apiKey)) {
        sendError(res, record, 400, 'API key not valid. Please pass a valid API key.', null, [{
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com',
          metadata: { service: 'generativelanguage.googleapis.com' },
        }]);
        return false;
      }
      return true;
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expires = bearer ? tokens.get(bearer) : undefined;
    if (!bearer || (options.serviceAccount && (expires === undefined || expires < Date.now()))) {
      sendError(res, record, 401);
      return false;
    }
    return true;
  };

  const candidateResponse = (record: FakeGeminiRequest, parts: Json[], finishReason: string | null, usage: Json | null): Json => {
    const candidate: Json = { content: { parts, role: 'model' }, ...(finishReason ? { finishReason } : {}), index: 0 };
    return {
      candidates: [candidate],
      ...(usage ? { usageMetadata: usage } : {}),
      modelVersion: record.model,
      ...(record.api === 'vertex' ? { createTime: new Date().toISOString() } : {}),
      responseId: responseIds.get(record) ?? '',
    };
  };
  const responseIds = new WeakMap<FakeGeminiRequest, string>();

  /** What the model "says" for this request: text, or function calls. */
  const plan = (record: FakeGeminiRequest) => {
    const scenario = record.scenario;
    const body = record.body;
    const promptTokens = scenario.usage?.promptTokenCount ?? tokensOf(JSON.stringify(body?.contents ?? ''));
    if (scenario.toolCalls) {
      const answered = lastFunctionResponse(body);
      if (!answered) {
        const declared = ((body?.tools as { functionDeclarations?: { name: string }[] }[] | undefined) ?? [])
          .flatMap((t) => t.functionDeclarations ?? [])[0];
        const calls = scenario.toolCalls.length > 0 ? scenario.toolCalls
          : [{ ...DEFAULT_TOOL, name: declared?.name ?? DEFAULT_TOOL.name }];
        const candidatesTokens = scenario.usage?.candidatesTokenCount ?? 12;
        return { parts: calls.map((call) => ({ functionCall: { name: call.name, args: call.args },
          ...(call.thoughtSignature ? { thoughtSignature: call.thoughtSignature } : {}) })), text: null,
          finishReason: 'STOP', promptTokens, candidatesTokens };
      }
      const text = scenario.content ?? `The tool ${String(answered.name)} said ${JSON.stringify(answered.response)}.`;
      return { parts: null, text, finishReason: 'STOP', promptTokens, candidatesTokens: scenario.usage?.candidatesTokenCount ?? tokensOf(text) };
    }
    const audio = lastUserAudio(body);
    const echoed = lastUserText(body);
    const text = scenario.content ?? (audio ? `Transcribed ${Buffer.from(audio.data, 'base64').length} bytes of ${audio.mimeType}`
      : echoed ? `Echo: ${echoed}` : 'Hello from the fake Gemini.');
    return { parts: null, text, finishReason: scenario.finishReason ?? 'STOP', promptTokens,
      candidatesTokens: scenario.usage?.candidatesTokenCount ?? tokensOf(text) };
  };

  const usageOf = (record: FakeGeminiRequest, promptTokens: number, candidatesTokens: number | null): Json => {
    const extra = record.scenario.usage ?? { promptTokenCount: promptTokens, candidatesTokenCount: candidatesTokens ?? 0 };
    const thoughts = extra.thoughtsTokenCount ?? 0;
    const total = promptTokens + (candidatesTokens ?? 0) + thoughts;
    return {
      promptTokenCount: promptTokens,
      ...(candidatesTokens !== null ? { candidatesTokenCount: candidatesTokens } : {}),
      totalTokenCount: total,
      ...(extra.cachedContentTokenCount !== undefined ? { cachedContentTokenCount: extra.cachedContentTokenCount } : {}),
      ...(extra.thoughtsTokenCount !== undefined ? { thoughtsTokenCount: extra.thoughtsTokenCount } : {}),
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
    };
  };

  const generate = (record: FakeGeminiRequest, res: ServerResponse, streaming: boolean, sse: boolean) => {
    try {
      checkGenerateRequest(record.body);
    } catch (error) {
      if (error instanceof BadRequest) return sendError(res, record, 400, error.message);
      throw error;
    }
    const modality = mediaModality(record);
    if (typeof modality === 'string' && modality.startsWith('!')) return sendError(res, record, 400, modality.slice(1));
    const scenario = record.scenario;
    const { parts: planned, text, finishReason, promptTokens, candidatesTokens } = plan(record);
    const usage = usageOf(record, promptTokens, candidatesTokens);
    let parts: Json[] | null = planned;
    if (modality === 'AUDIO') {
      parts = [{ inlineData: { mimeType: 'audio/L16;codec=pcm;rate=24000', data: fakeSpeechPcm(lastUserText(record.body)).toString('base64') } }];
    } else if (modality === 'IMAGE') {
      parts = [{ text: 'Here is the image.' }, { inlineData: { mimeType: 'image/png', data: fakeImageBytes(lastUserText(record.body)).toString('base64') } }];
    }
    if (scenario.blocked) {
      const blocked = { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [] },
        usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens }, modelVersion: record.model,
        responseId: responseIds.get(record) };
      if (!streaming) {
        sendJson(res, record, 200, blocked);
        return;
      }
      return writeStream(record, res, [blocked], sse);
    }
    if (!streaming) {
      const answer = candidateResponse(record, parts ?? [{ text }], finishReason, usage);
      record.status = 200;
      if (scenario.truncated) {
        const full = JSON.stringify(answer);
        const cut = full.slice(0, Math.floor(full.length / 2));
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(cut) });
        res.end(cut);
        record.responseBody = cut;
        return;
      }
      sendJson(res, record, 200, answer);
      return;
    }
    const events: Json[] = [];
    if (parts) {
      events.push(candidateResponse(record, parts, finishReason, usage));
    } else {
      const pieces = scenario.chunks ?? splitInThree(text!);
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        events.push(candidateResponse(record, [{ text: piece }],
          last && !scenario.truncated ? finishReason : null,
          last && !scenario.truncated ? usage : { promptTokenCount: promptTokens, totalTokenCount: promptTokens }));
      });
    }
    if (scenario.streamError) {
      events.splice(1);
      events.push(errorBody(503));
    }
    return writeStream(record, res, events, sse);
  };

  /**
   * The media a generateContent request asks for (`AUDIO`, `IMAGE`, or null for text), or `!<message>` when the
   * model cannot answer it, as Google refuses a modality or a voice the model lacks.
   */
  const mediaModality = (record: FakeGeminiRequest): string | null => {
    const config = (record.body?.generationConfig as Json | undefined) ?? {};
    const modalities = (config.responseModalities as string[] | undefined) ?? ['TEXT'];
    const tts = /-tts$/.test(record.model);
    const imageModel = /-image/.test(record.model);
    if (modalities.includes('AUDIO')) {
      if (!tts || modalities.length !== 1) return '!Model does not support the requested response modality or combination of modalities.';
      const voice = ((config.speechConfig as Json | undefined)?.voiceConfig as { prebuiltVoiceConfig?: { voiceName?: unknown } } | undefined)
        ?.prebuiltVoiceConfig?.voiceName;
      if (typeof voice !== 'string' || !VOICES.has(voice)) return `!Voice name ${String(voice)} is not supported. Please use a valid voice name.`;
      return 'AUDIO';
    }
    if (tts) return '!This model only supports audio output: set generationConfig.responseModalities to ["AUDIO"].';
    if (config.speechConfig !== undefined) return '!speechConfig is only supported with the AUDIO response modality.';
    if (modalities.includes('IMAGE')) {
      if (!imageModel) return '!Model does not support the requested response modality or combination of modalities.';
      const ratio = (config.imageConfig as Json | undefined)?.aspectRatio;
      if (ratio !== undefined && !ASPECT_RATIOS.has(ratio as string)) return `!Unsupported aspect ratio: ${String(ratio)}.`;
      return 'IMAGE';
    }
    if (config.imageConfig !== undefined) return '!imageConfig is only supported with the IMAGE response modality.';
    return null;
  };

  /** Imagen's `:predict`: one instance with a prompt, the parameters Imagen knows; `sampleCount` PNGs. */
  const imagen = (record: FakeGeminiRequest, res: ServerResponse) => {
    const body = record.body ?? {};
    const instances = body.instances as Json[] | undefined;
    if (!Array.isArray(instances) || instances.length !== 1 || typeof instances[0].prompt !== 'string' || instances[0].prompt === '') {
      return sendError(res, record, 400, 'Invalid instances: exactly one instance with a non-empty prompt is required.');
    }
    const parameters = (body.parameters as Json | undefined) ?? {};
    const unknown = Object.keys(parameters).find((key) => !IMAGEN_PARAMETERS.has(key));
    if (unknown) return sendError(res, record, 400, `Invalid JSON payload received. Unknown name "${unknown}" at 'parameters': Cannot find field.`);
    const count = (parameters.sampleCount as number | undefined) ?? 4;
    if (!Number.isInteger(count) || count < 1 || count > 4) return sendError(res, record, 400, 'sampleCount must be between 1 and 4.');
    if (parameters.aspectRatio !== undefined && !ASPECT_RATIOS.has(parameters.aspectRatio as string)) {
      return sendError(res, record, 400, `Unsupported aspect ratio: ${String(parameters.aspectRatio)}.`);
    }
    const prompt = instances[0].prompt;
    sendJson(res, record, 200, { predictions: Array.from({ length: count }, (_, i) => ({ mimeType: 'image/png',
      bytesBase64Encoded: fakeImageBytes(prompt, i).toString('base64') })) });
  };

  /** Claude on Vertex: checked as Vertex does, then answered by the fake Anthropic API, whose answer goes back as it is. */
  const claude = async (record: FakeGeminiRequest, res: ServerResponse) => {
    const anthropicError = (status: number, message: string) => sendJsonOf(res, record, status,
      { type: 'error', error: { type: 'invalid_request_error', message } }, { 'content-type': 'application/json' });
    if (!options.anthropicUrl) return sendError(res, record, 404, `Publisher model ${record.model} was not found.`);
    if (record.model === 'count-tokens') return claudeCountTokens(record, res, anthropicError);
    if (record.action !== 'rawPredict' && record.action !== 'streamRawPredict') {
      return sendError(res, record, 400, `Method ${record.action} is not supported for Anthropic models: use rawPredict or streamRawPredict.`);
    }
    const { anthropic_version: version, ...body } = record.body ?? {};
    if (version !== 'vertex-2023-10-16') return anthropicError(400, 'anthropic_version: Input should be \'vertex-2023-10-16\'');
    if ('model' in body) return anthropicError(400, 'model: Extra inputs are not permitted');
    if ((record.action === 'streamRawPredict') !== (body.stream === true)) {
      return anthropicError(400, 'stream: streamRawPredict needs "stream": true, rawPredict takes no stream');
    }
    await relayToAnthropic(record, res, '/v1/messages', { model: record.model, ...body });
  };

  /** Sends the request on to the fake Anthropic API and its answer back as it came, as Vertex passes Claude's on. */
  const relayToAnthropic = async (record: FakeGeminiRequest, res: ServerResponse, path: string, body: Json) => {
    const upstream = await fetch(`${options.anthropicUrl}${path}`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'vertex', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(body) });
    record.status = upstream.status;
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    const text = await upstream.text();
    record.responseBody = text;
    res.end(text);
  };

  /**
   * Claude's token counter on Vertex, `publishers/anthropic/models/count-tokens:rawPredict`: Anthropic's count_tokens
   * body with the model in it (the URL names no model); `anthropic_version` may come along. Counted by the fake
   * Anthropic API, whose answer (`{"input_tokens": N}`, or its error) goes back as it is.
   */
  const claudeCountTokens = async (record: FakeGeminiRequest, res: ServerResponse,
    anthropicError: (status: number, message: string) => void) => {
    if (record.action !== 'rawPredict') return sendError(res, record, 400, `Method ${record.action} is not supported for count-tokens: use rawPredict.`);
    const { anthropic_version: version, ...body } = record.body ?? {};
    if (version !== undefined && version !== 'vertex-2023-10-16') return anthropicError(400, 'anthropic_version: Input should be \'vertex-2023-10-16\'');
    if (typeof body.model !== 'string' || !/^claude-/.test(body.model)) {
      return anthropicError(400, 'model: Field required: the Claude model to count tokens for');
    }
    await relayToAnthropic(record, res, '/v1/messages/count_tokens', body);
  };

  const writeStream = (record: FakeGeminiRequest, res: ServerResponse, events: Json[], sse: boolean) => {
    record.status = 200;
    if (!sse) {
      // Without alt=sse Google streams one JSON array.
      const text = `[${events.map((e) => JSON.stringify(e)).join(',\r\n')}]`;
      for (const event of events) record.events.push(JSON.stringify(event));
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(text);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    for (const event of events) {
      const data = JSON.stringify(event);
      record.events.push(data);
      res.write(`data: ${data}\r\n\r\n`);
    }
    res.end();
  };

  const countTokens = (record: FakeGeminiRequest, res: ServerResponse) => {
    const body = record.body ?? {};
    let request: Json = body;
    try {
      if (record.api === 'gemini' && body.generateContentRequest !== undefined) {
        if (Object.keys(body).length !== 1) throw new BadRequest('Invalid JSON payload received. Send contents or generateContentRequest.');
        const { model, ...rest } = body.generateContentRequest as Json;
        if (model !== `models/${record.model}`) {
          throw new BadRequest(`* CountTokensRequest.generate_content_request.model: Model name (${String(model)}) does not match models/${record.model}.`);
        }
        request = rest;
      } else {
        const allowed = record.api === 'gemini' ? ['contents'] : ['contents', 'systemInstruction', 'tools', 'generationConfig'];
        const unknown = Object.keys(body).find((key) => !allowed.includes(key));
        if (unknown) throw new BadRequest(`Invalid JSON payload received. Unknown name "${unknown}": Cannot find field.`);
      }
      checkGenerateRequest(request);
    } catch (error) {
      if (error instanceof BadRequest) return sendError(res, record, 400, error.message);
      throw error;
    }
    const extra = (key: string) => (request[key] !== undefined ? tokensOf(JSON.stringify(request[key])) : 0);
    const totalTokens = tokensOf(JSON.stringify(request.contents)) + extra('systemInstruction') + extra('tools');
    sendJson(res, record, 200, { totalTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: totalTokens }] });
  };

  const embed = (record: FakeGeminiRequest, res: ServerResponse) => {
    if (record.action === 'predict' && /^imagen-/.test(record.model)) return imagen(record, res);
    const body = record.body ?? {};
    record.status = 200;
    if (record.action === 'batchEmbedContents' && record.api === 'gemini') {
      const reqs = body.requests as { model?: string; content?: { parts?: { text?: string }[] }; outputDimensionality?: number }[] | undefined;
      if (!Array.isArray(reqs) || reqs.length === 0) return sendError(res, record, 400, '* BatchEmbedContentsRequest.requests: requests is empty');
      for (const r of reqs) {
        if (r.model !== `models/${record.model}`) {
          return sendError(res, record, 400, `Model name in request (${String(r.model)}) does not match models/${record.model}.`);
        }
        if (!r.content?.parts?.length) return sendError(res, record, 400, '* content.parts must not be empty');
      }
      const embeddings = reqs.map((r) => ({ values: charVector(r.content!.parts!.map((p) => p.text ?? '').join(''), r.outputDimensionality ?? 8) }));
      sendJson(res, record, 200, { embeddings });
      return;
    }
    if (record.action === 'predict' && record.api === 'vertex') {
      const instances = body.instances as { content?: unknown }[] | undefined;
      if (!Array.isArray(instances) || instances.length === 0 || !instances.every((i) => typeof i.content === 'string')) {
        return sendError(res, record, 400, 'Invalid instances: each needs a string content.');
      }
      const dimensions = ((body.parameters as Json | undefined)?.outputDimensionality as number | undefined) ?? 8;
      const predictions = instances.map((i) => ({ embeddings: { statistics: { truncated: false, token_count: tokensOf(i.content as string) },
        values: charVector(i.content as string, dimensions) } }));
      const characters = instances.reduce((n, i) => n + (i.content as string).length, 0);
      sendJson(res, record, 200, { predictions, metadata: { billableCharacterCount: characters } });
      return;
    }
    sendError(res, record, 404, `Method ${record.action} is not found for this API.`);
  };

  const listModels = (req: IncomingMessage, res: ServerResponse) => {
    const record: FakeGeminiRequest = fake.record({
      seq: fake.nextSeq(), api: 'gemini', publisher: 'google', path: req.url ?? '', model: '', action: 'list', headers: req.headers, body: undefined,
      scenario: {}, status: 0, events: [], responseBody: null, completed: false, closed: whenClosed(res, () => {
        record.completed = res.writableFinished;
      }),
    });
    if (!authorized('gemini', req, res, record)) return;
    sendJson(res, record, 200, { models: FAKE_GEMINI_MODELS.map((id) => ({ name: `models/${id}`, version: '001', displayName: id,
      inputTokenLimit: 1048576, outputTokenLimit: 8192, supportedGenerationMethods: ['generateContent', 'countTokens'] })) });
  };

  const fake = await FakeServer.start<FakeGeminiRequest, FakeGeminiScenario>((req, res, raw) => {
    void (async () => {
      const parsedUrl = new URL(req.url ?? '/', 'http://fake');
      if (req.method === 'POST' && parsedUrl.pathname === '/token') return handleToken(res, raw);
      if (req.method === 'GET' && parsedUrl.pathname === '/v1beta/models') return listModels(req, res);
      const gemini = GEMINI_PATH.exec(parsedUrl.pathname);
      const vertex = VERTEX_PATH.exec(parsedUrl.pathname);
      if (req.method !== 'POST' || (!gemini && !vertex)) return sendError(res, null, 404, `No route for ${req.method} ${parsedUrl.pathname}.`);
      const api = gemini ? 'gemini' : 'vertex';
      const publisher = gemini ? 'google' : vertex![4] as 'google' | 'anthropic';
      const model = decodeURIComponent(gemini ? gemini[1] : vertex![5]);
      const action = gemini ? gemini[2] : vertex![6];
      const body = parseJson<Json>(raw);
      const scenario = fake.pickScenario(req.headers, model, scenarioFromModel);
      const record: FakeGeminiRequest = fake.record({
        seq: fake.nextSeq(), api, publisher, path: req.url ?? '', model, action, headers: req.headers, body, scenario, status: 0, events: [],
        responseBody: null, completed: false, closed: whenClosed(res, () => {
          record.completed = res.writableFinished;
        }),
      });
      responseIds.set(record, randomBytes(9).toString('base64url'));
      if (!authorized(api, req, res, record)) return;
      if (raw && body === undefined) return sendError(res, record, 400, 'Invalid JSON payload received.');
      // Claude's scenarios (model suffixes included) are the fake Anthropic API's.
      if (publisher === 'anthropic') return await claude(record, res);
      if (scenario.latencyMs) await new Promise((resolve) => setTimeout(resolve, scenario.latencyMs));
      if (scenario.error) return sendError(res, record, scenario.error.status, scenario.error.message, scenario.error.retryAfter);
      if (action === 'generateContent') return generate(record, res, false, false);
      if (action === 'streamGenerateContent') return generate(record, res, true, parsedUrl.searchParams.get('alt') === 'sse');
      if (action === 'countTokens') return countTokens(record, res);
      return embed(record, res);
    })().catch((error: unknown) => {
      if (!res.headersSent) sendError(res, null, 500, String(error));
      else res.destroy();
    });
  });

  const { url, requests, script, reset, close } = fake;
  return {
    url,
    requests,
    tokenRequests,
    script,
    revokeTokens: () => tokens.clear(),
    reset() {
      reset();
      tokenRequests.length = 0;
    },
    close: () => close('resolve'),
  };
}
