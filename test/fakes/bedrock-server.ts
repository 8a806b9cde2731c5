// A fake of Amazon Bedrock Runtime on node:http, for tests: Converse (`POST /model/{modelId}/converse`), ConverseStream
// (`/converse-stream`, AWS event-stream framing built with the AWS SDK's own codec) and InvokeModel (`/invoke`) for
// the text models in each family's own body (bedrock-invoke-families.ts; also InvokeModelWithResponseStream), for
// Amazon Titan text embeddings, Cohere Embed (`texts`, `input_type`, `embedding_types`), Titan Image Generator and
// Nova Canvas (`taskType: TEXT_IMAGE`) and Stability's image models (`prompt`, `aspect_ratio`), each checked against
// its documented body; images are fakeImage(prompt, index); and the Agent Runtime's Rerank (`POST /rerank`). It answers in Bedrock's wire format, errors included (`{"message": …}` with the
// `x-amzn-errortype` header), and checks every request as Bedrock would before answering:
//   - authentication: a SigV4 `Authorization` header of the right shape with a matching `x-amz-date`, for the
//     `bedrock` service, recomputed with the known secret (by the AWS SDK's own signer) when the access key is one
//     of `credentials`; or `Authorization: Bearer <Bedrock API key>` when the key is one of `apiKeys`;
//   - the Converse request: alternating roles starting with user, well-formed content blocks (no blank text, images
//     as png/jpeg/gif/webp bytes in base64), toolConfig present when the history holds tool use, inference settings
//     in range. Unknown fields are refused, which is stricter than Bedrock may be: it catches adapter mistakes.
// Every request is recorded with what its authentication check found.
//
// What a request gets is its Scenario, chosen (first match wins) by the header `x-fake-scenario` (JSON), a scenario
// registered with `fake.script(modelId, scenario)`, or the model id's ending:
//   error-<status>                an HTTP error in Bedrock's shape (429 and 503 carry Retry-After)
//   tools                         calls the request's first tool (or get_weather)
//   truncate-<n>                  streams n event frames and half of the next, then ends the response
//   break-after-<n>               streams n event frames, then destroys the socket
//   exception-<type>[-after-<n>]  streams n frames (default 1: messageStart), then that exception frame
// anything else is a plain success.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { checkTextInvoke, isTextModel, textInvokeAnswer, textInvokeChunks, textInvokeReply } from './bedrock-invoke-families.js';
import { FakeServer, type FakeServerApi, openStream, parseJson, respond, retryAfterFor, scenarioOrBadHeader, tokensOf, whenClosed } from './fake-server.js';

export interface FakeAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface FakeToolUse {
  name: string;
  input: unknown;
  id?: string;
}

export interface FakeBedrockError {
  status: number;
  /** The exception name sent in `x-amzn-errortype`; by status when absent. */
  type?: string;
  message?: string;
  /** Sent as Retry-After; 429 and 503 get '1' unless given (null for none). */
  retryAfter?: string | null;
}

export interface BedrockScenario {
  latencyMs?: number;
  /** The assistant's text; streamed as `chunks` when given, else word by word. */
  content?: string;
  chunks?: string[];
  /** Tool calls; with `content` the text block comes first, as Claude writes it. */
  toolUses?: FakeToolUse[];
  /** A reasoning block before the answer, signed `c2lnbmF0dXJl`. */
  reasoning?: string;
  /** A redacted reasoning block (base64) after the reasoning, before the answer. */
  redactedReasoning?: string;
  stopReason?: string;
  usage?: { inputTokens: number; outputTokens: number; cacheReadInputTokens?: number; cacheWriteInputTokens?: number };
  error?: FakeBedrockError;
  /** Streams: after `afterEvents` frames (default 1), this exception frame, then the end. */
  exception?: { type: string; message?: string; afterEvents?: number };
  /** Streams: this many frames, then half of the next, then a clean end of the response. */
  truncateAfterEvents?: number;
  /** Streams: this many frames, then the socket is destroyed. */
  breakAfterEvents?: number;
}

export interface FakeBedrockOptions extends BedrockScenario {
  /** SigV4 keys the fake knows; their signatures are recomputed and must match. Others get 403. */
  credentials?: FakeAwsCredentials[];
  /** Bedrock API keys accepted as `Authorization: Bearer …`. */
  apiKeys?: string[];
  /** The region signatures must be scoped to (default us-east-1). */
  region?: string;
}

export interface AuthCheck {
  scheme: 'sigv4' | 'bearer' | 'none';
  accessKeyId: string | null;
  /** The `x-amz-date` header. */
  amzDate: string | null;
  region: string | null;
  service: string | null;
  signedHeaders: string[];
  /** SigV4: the signature was recomputed and matched (true), did not (false), or the key is unknown (null). */
  verified: boolean | null;
  /** Why the request was refused, or null. */
  problem: string | null;
}

export interface FakeEvent {
  type: string;
  payload: Record<string, unknown>;
}

export interface RecordedBedrockRequest {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly operation: 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream' | null;
  readonly modelId: string | null;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  readonly body: Record<string, unknown> | undefined;
  readonly scenario: BedrockScenario;
  readonly auth: AuthCheck;
  status: number;
  /** Streams: the frames written, in order (exceptions as `type` = their name). */
  readonly events: FakeEvent[];
  responseBody: string | null;
  /** The assistant text the fake produced. */
  content: string;
  clientAborted: boolean;
  readonly closed: Promise<void>;
}

export type FakeBedrock = FakeServerApi<RecordedBedrockRequest, BedrockScenario>;

const DEFAULT_CONTENT = 'The quick brown fox jumps over the lazy dog.';
const DEFAULT_TOOL_INPUT = { location: 'Paris', unit: 'celsius' };

const ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'ValidationException', message: 'Malformed input request, please reformat your input and try again.' },
  // Bedrock answers bad credentials with 403; a 401 is served on request so the status map can be exercised.
  401: { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' },
  403: { type: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." },
  404: { type: 'ResourceNotFoundException', message: 'Could not resolve the foundation model from the provided model identifier.' },
  408: { type: 'ModelTimeoutException', message: 'Model has timed out in processing the request. Try your request again.' },
  424: { type: 'ModelErrorException', message: 'The model returned an error.' },
  429: { type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
  500: { type: 'InternalServerException', message: 'The system encountered an unexpected error during processing. Try your request again.' },
  503: { type: 'ServiceUnavailableException', message: 'Bedrock is unable to process your request.' },
};

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** One ConverseStream frame, as Bedrock frames it. */
export function eventFrame(type: string, payload: Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

export function exceptionFrame(type: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

/** Bedrock pads stream payloads with a `p` field of random length, so sizes do not give the content away. */
const padding = () => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.slice(0, 1 + randomBytes(1)[0] % 40);

export function scenarioFromModel(modelId: string): BedrockScenario {
  let match: RegExpExecArray | null;
  if ((match = /(?:^|[-./:])error-(\d{3})$/.exec(modelId))) return { error: { status: Number(match[1]) } };
  if ((match = /truncate-(\d+)$/.exec(modelId))) return { truncateAfterEvents: Number(match[1]) };
  if ((match = /break-after-(\d+)$/.exec(modelId))) return { breakAfterEvents: Number(match[1]) };
  if ((match = /exception-([A-Za-z]+)(?:-after-(\d+))?$/.exec(modelId))) {
    return { exception: { type: match[1], afterEvents: match[2] === undefined ? 1 : Number(match[2]) } };
  }
  if (/(?:^|[-./:])tools$/.test(modelId)) return { toolUses: [{ name: '', input: DEFAULT_TOOL_INPUT }] };
  return {};
}

const words = (text: string) => text.match(/\S+\s*|\s+/g) ?? [text];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

// ---------------------------------------------------------------------------------------------------------------
// Authentication

const AUTH_PATTERN = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function amzDateToDate(amzDate: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)!;
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

async function checkAuth(req: IncomingMessage, rawBody: string, options: FakeBedrockOptions): Promise<AuthCheck> {
  const check: AuthCheck = { scheme: 'none', accessKeyId: null, amzDate: null, region: null, service: null, signedHeaders: [],
    verified: null, problem: null };
  const header = req.headers.authorization;
  if (!header) return { ...check, problem: 'MissingAuthenticationTokenException:Missing Authentication Token' };
  if (header.startsWith('Bearer ')) {
    check.scheme = 'bearer';
    if (!(options.apiKeys ?? []).includes(header.slice(7))) {
      check.problem = 'UnrecognizedClientException:The security token included in the request is invalid.';
    }
    return check;
  }
  check.scheme = 'sigv4';
  const parsed = AUTH_PATTERN.exec(header);
  const amzDate = typeof req.headers['x-amz-date'] === 'string' ? req.headers['x-amz-date'] : null;
  check.amzDate = amzDate;
  if (!parsed) return { ...check, problem: 'IncompleteSignatureException:Authorization header requires Credential, SignedHeaders and Signature.' };
  const [, accessKeyId, day, region, service, signedList] = parsed;
  Object.assign(check, { accessKeyId, region, service, signedHeaders: signedList.split(';') });
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return { ...check, problem: 'IncompleteSignatureException:Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.' };
  }
  if (!amzDate.startsWith(day)) return { ...check, problem: `InvalidSignatureException:Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${day}' != '${amzDate.slice(0, 8)}'` };
  if (Math.abs(Date.now() - amzDateToDate(amzDate).getTime()) > 15 * 60_000) return { ...check, problem: 'InvalidSignatureException:Signature expired' };
  if (service !== 'bedrock') return { ...check, problem: `InvalidSignatureException:Credential should be scoped to correct service: 'bedrock'.` };
  if (region !== (options.region ?? 'us-east-1')) return { ...check, problem: `InvalidSignatureException:Credential should be scoped to a valid region.` };
  for (const required of ['host', 'x-amz-date']) {
    if (!check.signedHeaders.includes(required)) return { ...check, problem: `InvalidSignatureException:'${required}' must be a signed header.` };
  }
  const contentHash = req.headers['x-amz-content-sha256'];
  if (typeof contentHash === 'string' && contentHash !== createHash('sha256').update(rawBody).digest('hex')) {
    return { ...check, problem: 'InvalidSignatureException:The provided x-amz-content-sha256 header does not match what was computed.' };
  }
  const known = options.credentials?.find((c) => c.accessKeyId === accessKeyId);
  if (!options.credentials) return check;
  if (!known) return { ...check, problem: 'UnrecognizedClientException:The security token included in the request is invalid.' };
  // Recompute with the AWS SDK's signer over exactly the signed headers as received.
  const headers: Record<string, string> = {};
  for (const name of check.signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) return { ...check, verified: false, problem: `InvalidSignatureException:signed header '${name}' is missing` };
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(req.url ?? '/', 'http://fake');
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signer = new SignatureV4({ credentials: known, region, service, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign({ method: req.method ?? 'POST', protocol: 'https:', hostname: String(req.headers.host),
    path: url.pathname, query, headers, body: rawBody }, { signingDate: amzDateToDate(amzDate) });
  check.verified = signed.headers.authorization === header;
  if (!check.verified) {
    check.problem = 'InvalidSignatureException:The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
  }
  return check;
}

// ---------------------------------------------------------------------------------------------------------------
// Request validation, with Bedrock's own wording where it is known

const CONVERSE_FIELDS = new Set(['messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields',
  'promptVariables', 'additionalModelResponseFieldPaths', 'requestMetadata', 'performanceConfig', 'serviceTier', 'outputConfig']);
const BLOCK_KINDS = new Set(['text', 'image', 'document', 'video', 'audio', 'toolUse', 'toolResult', 'guardContent', 'cachePoint',
  'reasoningContent', 'citationsContent', 'searchResult']);
const IMAGE_FORMATS = new Set(['png', 'jpeg', 'gif', 'webp']);
const DOCUMENT_FORMATS = new Set(['pdf', 'csv', 'doc', 'docx', 'xls', 'xlsx', 'html', 'txt', 'md']);

function validateBlock(block: unknown, at: string, role: string, toolIds: Set<string>): string | null {
  if (!isObject(block)) return `${at} must be an object.`;
  const kinds = Object.keys(block);
  if (kinds.length !== 1 || !BLOCK_KINDS.has(kinds[0])) return `${at} must hold exactly one content block member, got ${kinds.join(', ') || 'none'}.`;
  const value = block[kinds[0]];
  switch (kinds[0]) {
    case 'text':
      if (typeof value !== 'string') return `${at}.text must be a string.`;
      if (value.trim() === '') return `The text field in the ContentBlock object at ${at} is blank. Add text to the text field, and try again.`;
      return null;
    case 'image': {
      if (!isObject(value) || !IMAGE_FORMATS.has(String(value.format))) return `${at}.image.format must be one of png, jpeg, gif, webp.`;
      const source = isObject(value.source) ? value.source : {};
      if (typeof source.bytes === 'string') return source.bytes !== '' && BASE64.test(source.bytes) ? null : `${at}.image.source.bytes is not valid base64.`;
      if (isObject(source.s3Location) && typeof source.s3Location.uri === 'string') return null;
      return `${at}.image.source must hold bytes or s3Location.`;
    }
    case 'document': {
      if (!isObject(value) || !DOCUMENT_FORMATS.has(String(value.format))) return `${at}.document.format is not supported.`;
      if (typeof value.name !== 'string' || !/^[A-Za-z0-9()[\]-]+(?: [A-Za-z0-9()[\]-]+)*$/.test(value.name)) return `${at}.document.name is not valid.`;
      return isObject(value.source) && typeof value.source.bytes === 'string' && BASE64.test(value.source.bytes) ? null : `${at}.document.source.bytes is not valid base64.`;
    }
    case 'toolUse':
      if (role !== 'assistant') return `${at}: toolUse blocks belong to assistant messages.`;
      if (!isObject(value) || typeof value.toolUseId !== 'string' || typeof value.name !== 'string' || value.input === undefined) {
        return `${at}.toolUse needs toolUseId, name and input.`;
      }
      toolIds.add(value.toolUseId);
      return null;
    case 'toolResult':
      if (role !== 'user') return `${at}: toolResult blocks belong to user messages.`;
      if (!isObject(value) || typeof value.toolUseId !== 'string' || !Array.isArray(value.content)) return `${at}.toolResult needs toolUseId and content.`;
      if (!toolIds.has(value.toolUseId)) return `The toolResult at ${at} has no matching toolUse: ${value.toolUseId}.`;
      if (value.status !== undefined && value.status !== 'success' && value.status !== 'error') return `${at}.toolResult.status must be success or error.`;
      for (const [k, item] of value.content.entries()) {
        if (!isObject(item) || Object.keys(item).length !== 1) return `${at}.toolResult.content.${k} must hold one member.`;
      }
      return null;
    case 'reasoningContent': {
      if (role !== 'assistant') return `${at}: reasoningContent blocks belong to assistant messages.`;
      const text = isObject(value) && isObject(value.reasoningText) ? value.reasoningText : null;
      if (text) {
        const { text: words, signature } = text;
        return typeof words === 'string' && (signature === undefined || typeof signature === 'string') ? null : `${at}.reasoningContent.reasoningText needs text.`;
      }
      const redacted = isObject(value) ? value.redactedContent : undefined;
      return typeof redacted === 'string' && BASE64.test(redacted) ? null : `${at}.reasoningContent must hold reasoningText or redactedContent (base64).`;
    }
    default:
      return null;
  }
}

export function validateConverse(body: unknown): string | null {
  if (!isObject(body)) return 'The request body must be a JSON object.';
  for (const field of Object.keys(body)) if (!CONVERSE_FIELDS.has(field)) return `Unknown field '${field}' in the request.`;
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return 'The messages field must be a non-empty list.';
  const toolIds = new Set<string>();
  let usesTools = false;
  for (const [i, message] of messages.entries()) {
    if (!isObject(message) || (message.role !== 'user' && message.role !== 'assistant')) return `messages.${i}.role must be user or assistant.`;
    if (i === 0 && message.role !== 'user') return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
    if (i > 0 && (messages[i - 1] as { role: string }).role === message.role) {
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    }
    if (!Array.isArray(message.content) || message.content.length === 0) return `messages.${i}.content must be a non-empty list.`;
    for (const [j, block] of message.content.entries()) {
      const problem = validateBlock(block, `messages.${i}.content.${j}`, message.role, toolIds);
      if (problem) return problem;
      if (isObject(block) && ('toolUse' in block || 'toolResult' in block)) usesTools = true;
    }
  }
  if (body.system !== undefined) {
    if (!Array.isArray(body.system)) return 'system must be a list.';
    for (const [k, block] of body.system.entries()) {
      if (!isObject(block) || typeof block.text !== 'string' || block.text.trim() === '') return `system.${k} must be a non-blank text block.`;
    }
  }
  if (body.inferenceConfig !== undefined) {
    const config = body.inferenceConfig;
    if (!isObject(config)) return 'inferenceConfig must be an object.';
    for (const key of Object.keys(config)) if (!['maxTokens', 'temperature', 'topP', 'stopSequences'].includes(key)) return `Unknown field 'inferenceConfig.${key}'.`;
    if (config.maxTokens !== undefined && (!Number.isInteger(config.maxTokens) || (config.maxTokens as number) < 1)) return 'inferenceConfig.maxTokens must be an integer of at least 1.';
    for (const key of ['temperature', 'topP']) {
      const v = config[key];
      if (v !== undefined && (typeof v !== 'number' || v < 0 || v > 1)) return `inferenceConfig.${key} must be a number from 0 to 1.`;
    }
    if (config.stopSequences !== undefined && (!Array.isArray(config.stopSequences) || !config.stopSequences.every((s) => typeof s === 'string'))) {
      return 'inferenceConfig.stopSequences must be a list of strings.';
    }
  }
  if (body.additionalModelRequestFields !== undefined && !isObject(body.additionalModelRequestFields)) return 'additionalModelRequestFields must be an object.';
  if (usesTools && body.toolConfig === undefined) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  if (body.toolConfig !== undefined) {
    const config = body.toolConfig;
    if (!isObject(config) || !Array.isArray(config.tools) || config.tools.length === 0) return 'toolConfig.tools must be a non-empty list.';
    for (const [k, tool] of config.tools.entries()) {
      const spec = isObject(tool) && isObject(tool.toolSpec) ? tool.toolSpec : null;
      if (!spec || typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name)) return `toolConfig.tools.${k}.toolSpec.name is not valid.`;
      if (!isObject(spec.inputSchema) || !isObject(spec.inputSchema.json)) return `toolConfig.tools.${k}.toolSpec.inputSchema.json must be an object.`;
    }
    if (config.toolChoice !== undefined) {
      const choice = isObject(config.toolChoice) ? config.toolChoice : {};
      const keys = Object.keys(choice);
      if (keys.length !== 1 || !['auto', 'any', 'tool'].includes(keys[0])) return 'toolConfig.toolChoice must be one of auto, any, tool.';
      if (keys[0] === 'tool' && !(isObject(choice.tool) && typeof choice.tool.name === 'string')) return 'toolConfig.toolChoice.tool needs a name.';
    }
  }
  if (body.outputConfig !== undefined) {
    const format = isObject(body.outputConfig) && isObject(body.outputConfig.textFormat) ? body.outputConfig.textFormat : null;
    const schema = format && isObject(format.structure) && isObject(format.structure.jsonSchema) ? format.structure.jsonSchema.schema : null;
    if (!format || format.type !== 'json_schema' || typeof schema !== 'string') return 'outputConfig.textFormat needs type json_schema and structure.jsonSchema.schema as a string.';
    try {
      JSON.parse(schema);
    } catch {
      return 'outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON.';
    }
  }
  return null;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The fake's image `index` for a prompt, as base64: a PNG signature, then the prompt and the index. */
export const fakeImage = (prompt: string, index = 0): string => Buffer.concat([PNG_SIGNATURE, Buffer.from(`${prompt}#${index}`)]).toString('base64');

const COHERE_INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering'];
const TITAN_IMAGE_SIZES = new Set(['1024x1024', '768x768', '512x512', '768x1152', '384x576', '1152x768', '576x384', '768x1280',
  '384x640', '1280x768', '640x384', '896x1152', '448x576', '1152x896', '576x448', '768x1408', '384x704', '1408x768', '704x384',
  '640x1408', '320x704', '1408x640', '704x320', '1152x640', '1173x640']);
const STABILITY_RATIOS = new Set(['16:9', '1:1', '21:9', '2:3', '3:2', '4:5', '5:4', '9:16', '9:21']);

/** The InvokeModel body of each model family, checked as Bedrock's model validation does; null when it is fine. */
function validateInvoke(modelId: string, body: Record<string, unknown>): string | null {
  const extraneous = (allowed: string[]) => Object.keys(body).find((key) => !allowed.includes(key));
  if (/cohere\.embed/.test(modelId)) {
    const extra = extraneous(['texts', 'images', 'input_type', 'truncate', 'embedding_types', 'output_dimension', 'max_tokens', 'inputs']);
    if (extra) return `Malformed input request: extraneous key [${extra}] is not permitted, please reformat your input and try again.`;
    const texts = body.texts;
    if (!Array.isArray(texts) || texts.length === 0 || texts.length > 96 || !texts.every((t) => typeof t === 'string')) {
      return 'Malformed input request: #/texts: expected type: JSONArray of 1 to 96 strings, please reformat your input and try again.';
    }
    if (!COHERE_INPUT_TYPES.includes(body.input_type as string)) return 'Malformed input request: #/input_type: input_type is required and must be one of search_document, search_query, classification, clustering.';
    if (body.embedding_types !== undefined && (!Array.isArray(body.embedding_types) || !body.embedding_types.every((t) => ['float', 'int8', 'uint8', 'binary', 'ubinary'].includes(t as string)))) {
      return 'Malformed input request: #/embedding_types: invalid embedding type.';
    }
    if (body.output_dimension !== undefined && !/embed-v4/.test(modelId)) return 'Malformed input request: extraneous key [output_dimension] is not permitted, please reformat your input and try again.';
    return null;
  }
  if (/titan-image|nova-canvas/.test(modelId)) {
    const extra = extraneous(['taskType', 'textToImageParams', 'imageGenerationConfig']);
    if (extra) return `Malformed input request: extraneous key [${extra}] is not permitted, please reformat your input and try again.`;
    if (body.taskType !== 'TEXT_IMAGE') return 'Malformed input request: #/taskType: TEXT_IMAGE is the only task this fake takes.';
    const params = body.textToImageParams as Record<string, unknown> | undefined;
    if (typeof params?.text !== 'string' || params.text === '' || params.text.length > 512) return 'Malformed input request: #/textToImageParams/text: expected a string of 1 to 512 characters.';
    const config = (body.imageGenerationConfig ?? {}) as Record<string, unknown>;
    const extraConfig = Object.keys(config).find((key) => !['numberOfImages', 'height', 'width', 'cfgScale', 'seed', 'quality'].includes(key));
    if (extraConfig) return `Malformed input request: #/imageGenerationConfig: extraneous key [${extraConfig}] is not permitted.`;
    const n = config.numberOfImages ?? 1;
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 5) return 'Malformed input request: #/imageGenerationConfig/numberOfImages: must be between 1 and 5.';
    if ((config.width !== undefined || config.height !== undefined) && !TITAN_IMAGE_SIZES.has(`${String(config.width)}x${String(config.height)}`)) {
      return `Malformed input request: #/imageGenerationConfig: ${String(config.width)}x${String(config.height)} is not a supported size.`;
    }
    if (config.quality !== undefined && config.quality !== 'standard' && config.quality !== 'premium') return 'Malformed input request: #/imageGenerationConfig/quality: must be standard or premium.';
    return null;
  }
  if (/^stability\./.test(modelId)) {
    const extra = extraneous(['prompt', 'negative_prompt', 'aspect_ratio', 'mode', 'seed', 'output_format', 'image', 'strength']);
    if (extra) return `Malformed input request: extraneous key [${extra}] is not permitted, please reformat your input and try again.`;
    if (typeof body.prompt !== 'string' || body.prompt === '') return 'Malformed input request: #/prompt: expected a non-empty string.';
    if (body.aspect_ratio !== undefined && !STABILITY_RATIOS.has(body.aspect_ratio as string)) return `Malformed input request: #/aspect_ratio: ${String(body.aspect_ratio)} is not a valid enum value.`;
    if (body.output_format !== undefined && !['png', 'jpeg', 'webp'].includes(body.output_format as string)) return 'Malformed input request: #/output_format: must be png, jpeg or webp.';
    return null;
  }
  return validateTitan(modelId, body);
}

/** A successful InvokeModel answer of each model family. */
function invokeAnswer(modelId: string, body: Record<string, unknown>): { answer: string; tokens: number } {
  if (/cohere\.embed/.test(modelId)) {
    const texts = body.texts as string[];
    const vectors = texts.map((text) => vectorFor(text, typeof body.output_dimension === 'number' ? body.output_dimension : 1024));
    const byType = Array.isArray(body.embedding_types);
    return { tokens: texts.reduce((n, text) => n + tokensOf(text), 0), answer: JSON.stringify({ id: randomUUID(), texts,
      embeddings: byType ? { float: vectors } : vectors, response_type: byType ? 'embeddings_by_type' : 'embeddings_floats' }) };
  }
  if (/titan-image|nova-canvas/.test(modelId)) {
    const prompt = (body.textToImageParams as { text: string }).text;
    const n = ((body.imageGenerationConfig as { numberOfImages?: number } | undefined)?.numberOfImages) ?? 1;
    return { tokens: 0, answer: JSON.stringify({ images: Array.from({ length: n }, (_, i) => fakeImage(prompt, i)), error: null }) };
  }
  if (/^stability\./.test(modelId)) {
    const prompt = body.prompt as string;
    // A prompt asking for what the filter refuses comes back without its image, as Stability's content filter does.
    const filtered = /forbidden/.test(prompt);
    return { tokens: 0, answer: JSON.stringify({ seeds: [42], finish_reasons: [filtered ? 'Filter reason: prompt' : null],
      images: [filtered ? '' : fakeImage(prompt)] }) };
  }
  const v2 = /titan-embed-text-v2/.test(modelId);
  const embedding = vectorFor(String(body.inputText), typeof body.dimensions === 'number' ? body.dimensions : v2 ? 1024 : 1536);
  const tokens = tokensOf(String(body.inputText));
  return { tokens, answer: JSON.stringify({ embedding, inputTextTokenCount: tokens, ...(v2 ? { embeddingsByType: { float: embedding } } : {}) }) };
}

function validateTitan(modelId: string, body: unknown): string | null {
  if (!/titan-embed/.test(modelId)) return 'The provided model identifier is invalid.';
  if (!isObject(body) || typeof body.inputText !== 'string' || body.inputText === '') return 'Malformed input request: required key [inputText] not found, please reformat your input and try again.';
  const allowed = /titan-embed-text-v2/.test(modelId) ? ['inputText', 'dimensions', 'normalize', 'embeddingTypes'] : ['inputText'];
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) return `Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`;
  }
  if (body.dimensions !== undefined && ![256, 512, 1024].includes(body.dimensions as number)) return 'Malformed input request: dimensions must be 256, 512 or 1024.';
  return null;
}

/** A deterministic vector for a text: the same text always embeds the same. */
function vectorFor(text: string, size: number): number[] {
  const vector: number[] = [];
  let seed = [...text].reduce((h, ch) => (h * 31 + ch.codePointAt(0)!) >>> 0, 7);
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    vector.push(Math.round(((seed / 0xffffffff) * 2 - 1) * 1e6) / 1e6);
  }
  return vector;
}

// ---------------------------------------------------------------------------------------------------------------

function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as { role: string; content: unknown[] }[]) : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role !== 'user') continue;
    const texts = messages[i].content.filter((b): b is { text: string } => isObject(b) && typeof b.text === 'string');
    if (texts.length > 0) return texts.map((b) => b.text).join(' ');
  }
  return '';
}

interface Reply {
  blocks: Record<string, unknown>[];
  text: string;
  stopReason: string;
  usage: Record<string, number>;
}

function planReply(body: Record<string, unknown>, scenario: BedrockScenario): Reply {
  const toolNames = isObject(body.toolConfig) && Array.isArray(body.toolConfig.tools)
    ? (body.toolConfig.tools as { toolSpec: { name: string } }[]).map((t) => t.toolSpec.name) : [];
  const toolUses = scenario.toolUses?.map((use) => ({ ...use, name: use.name || toolNames[0] || 'get_weather',
    id: use.id ?? `tooluse_${randomBytes(11).toString('base64url')}` }));
  let text = scenario.content ?? (toolUses ? '' : (lastUserText(body) ? `${DEFAULT_CONTENT} You said: ${lastUserText(body)}` : DEFAULT_CONTENT));
  let stopReason = scenario.stopReason ?? (toolUses ? 'tool_use' : 'end_turn');
  const config = isObject(body.inferenceConfig) ? body.inferenceConfig : {};
  const stops = Array.isArray(config.stopSequences) ? (config.stopSequences as string[]) : [];
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0) {
      text = text.slice(0, at);
      stopReason = 'stop_sequence';
    }
  }
  if (typeof config.maxTokens === 'number' && words(text).length > config.maxTokens) {
    text = words(text).slice(0, config.maxTokens).join('').trimEnd();
    stopReason = 'max_tokens';
  }
  const blocks: Record<string, unknown>[] = [];
  if (scenario.reasoning) blocks.push({ reasoningContent: { reasoningText: { text: scenario.reasoning, signature: 'c2lnbmF0dXJl' } } });
  if (scenario.redactedReasoning) blocks.push({ reasoningContent: { redactedContent: scenario.redactedReasoning } });
  if (text !== '') blocks.push({ text });
  for (const use of toolUses ?? []) blocks.push({ toolUse: { toolUseId: use.id, name: use.name, input: use.input } });
  const inputTokens = scenario.usage?.inputTokens ?? tokensOf(JSON.stringify([body.system ?? [], body.messages]));
  const outputTokens = scenario.usage?.outputTokens ?? tokensOf(text + JSON.stringify(toolUses ?? ''));
  const usage: Record<string, number> = { inputTokens, outputTokens,
    totalTokens: inputTokens + outputTokens + (scenario.usage?.cacheReadInputTokens ?? 0) + (scenario.usage?.cacheWriteInputTokens ?? 0) };
  if (scenario.usage?.cacheReadInputTokens !== undefined) usage.cacheReadInputTokens = scenario.usage.cacheReadInputTokens;
  if (scenario.usage?.cacheWriteInputTokens !== undefined) usage.cacheWriteInputTokens = scenario.usage.cacheWriteInputTokens;
  return { blocks, text, stopReason, usage };
}

/** The ConverseStream events of a reply, in Bedrock's order. */
function streamEvents(reply: Reply, scenario: BedrockScenario): FakeEvent[] {
  const events: FakeEvent[] = [{ type: 'messageStart', payload: { role: 'assistant' } }];
  reply.blocks.forEach((block, index) => {
    if (isObject(block.reasoningContent) && typeof block.reasoningContent.redactedContent === 'string') {
      events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { reasoningContent: { redactedContent: block.reasoningContent.redactedContent } } } });
    } else if (isObject(block.reasoningContent)) {
      const reasoning = block.reasoningContent.reasoningText as { text: string; signature: string };
      for (const piece of words(reasoning.text)) events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { reasoningContent: { text: piece } } } });
      events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { reasoningContent: { signature: reasoning.signature } } } });
    } else if (typeof block.text === 'string') {
      for (const piece of scenario.chunks ?? words(block.text)) events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { text: piece } } });
    } else if (isObject(block.toolUse)) {
      const use = block.toolUse;
      events.push({ type: 'contentBlockStart', payload: { contentBlockIndex: index, start: { toolUse: { toolUseId: use.toolUseId, name: use.name } } } });
      const input = JSON.stringify(use.input);
      const size = Math.max(1, Math.ceil(input.length / 3));
      for (let at = 0; at < input.length; at += size) {
        events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { toolUse: { input: input.slice(at, at + size) } } } });
      }
    }
    events.push({ type: 'contentBlockStop', payload: { contentBlockIndex: index } });
  });
  events.push({ type: 'messageStop', payload: { stopReason: reply.stopReason } });
  events.push({ type: 'metadata', payload: { usage: reply.usage, metrics: { latencyMs: 120 } } });
  return events;
}

/** Rerank's request as the Agent Runtime checks it: one TEXT query, INLINE TEXT sources, a model ARN; the score of each
 * source is the share of the query's words it holds, and each result echoes its document unless a test asks not. */
function rerankAnswer(body: Record<string, unknown> | undefined): { problem: string } | { answer: unknown } {
  const query = (body?.queries as { type?: string; textQuery?: { text?: unknown } }[] | undefined)?.[0];
  const sources = body?.sources as { type?: string; inlineDocumentSource?: { type?: string; textDocument?: { text?: unknown } } }[] | undefined;
  const config = (body?.rerankingConfiguration as { type?: string; bedrockRerankingConfiguration?: {
    numberOfResults?: unknown; modelConfiguration?: { modelArn?: unknown } } } | undefined);
  const arn = config?.bedrockRerankingConfiguration?.modelConfiguration?.modelArn;
  if (query?.type !== 'TEXT' || typeof query.textQuery?.text !== 'string') return { problem: 'queries[0] must be a TEXT query' };
  if (!Array.isArray(sources) || sources.some((s) => s.type !== 'INLINE' || s.inlineDocumentSource?.type !== 'TEXT'
    || typeof s.inlineDocumentSource.textDocument?.text !== 'string')) return { problem: 'sources must be INLINE TEXT documents' };
  if (config?.type !== 'BEDROCK_RERANKING_MODEL' || typeof arn !== 'string' || !/^arn:aws:bedrock:[a-z0-9-]+::foundation-model\/.+/.test(arn)) {
    return { problem: 'rerankingConfiguration must name a foundation model ARN' };
  }
  const words = (text: string) => new Set(text.toLowerCase().match(/\w+/g) ?? []);
  const asked = words(query.textQuery.text);
  const texts = sources.map((s) => String(s.inlineDocumentSource!.textDocument!.text));
  const limit = typeof config.bedrockRerankingConfiguration?.numberOfResults === 'number' ? config.bedrockRerankingConfiguration.numberOfResults : texts.length;
  const results = texts.map((text, index) => {
    const held = words(text);
    return { index, relevanceScore: [...asked].filter((word) => held.has(word)).length / Math.max(1, asked.size),
      document: { type: 'TEXT', textDocument: { text } } };
  }).sort((a, b) => b.relevanceScore - a.relevanceScore || a.index - b.index).slice(0, limit);
  return { answer: { results } };
}

export async function startFakeBedrock(options: FakeBedrockOptions = {}): Promise<FakeBedrock> {
  const { credentials: _c, apiKeys: _k, region: _r, ...defaults } = options;

  const sendError = (res: ServerResponse, record: RecordedBedrockRequest, error: FakeBedrockError) => {
    const known = ERRORS[error.status] ?? { type: 'InternalServerException', message: 'An internal error occurred.' };
    const type = error.type ?? known.type;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-requestid': randomUUID(),
      // Bedrock's error type carries the service namespace after a colon; SDKs read the part before it.
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    };
    const retryAfter = retryAfterFor(error.status, error.retryAfter, [429, 503]);
    if (retryAfter !== null) headers['retry-after'] = retryAfter;
    respond(res, record, error.status, JSON.stringify({ message: error.message ?? known.message }), headers);
  };

  const fake = await FakeServer.start<RecordedBedrockRequest, BedrockScenario>((req, res, rawBody) => {
    void handle(req, res, rawBody).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `fake failure: ${(error as Error).message}` }));
    });
  });

  function rerank(res: ServerResponse, record: RecordedBedrockRequest, body: Record<string, unknown> | undefined): void {
    const outcome = rerankAnswer(body);
    if ('problem' in outcome) {
      sendError(res, record, { status: 400, type: 'ValidationException', message: outcome.problem });
      return;
    }
    respond(res, record, 200, JSON.stringify(outcome.answer), { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() });
  }

  /** InvokeModel on a text model: the family's own answer, or its chunks in `chunk` frames. */
  async function invokeText(res: ServerResponse, record: RecordedBedrockRequest, modelId: string, body: Record<string, unknown>, stream: boolean) {
    const problem = checkTextInvoke(modelId, body);
    const scenario = record.scenario;
    if (problem || scenario.error) {
      sendError(res, record, problem ? { status: 400, type: 'ValidationException', message: problem } : scenario.error!);
      return;
    }
    const reply = textInvokeReply(modelId, body, scenario.content ?? DEFAULT_CONTENT);
    record.content = reply.text;
    if (!stream) {
      respond(res, record, 200, JSON.stringify(textInvokeAnswer(modelId, body, reply)), { 'content-type': 'application/json',
        'x-amzn-requestid': randomUUID(), 'x-amzn-bedrock-input-token-count': String(reply.inputTokens),
        'x-amzn-bedrock-output-token-count': String(reply.outputTokens), 'x-amzn-bedrock-invocation-latency': '42' });
      return;
    }
    openStream(res, record, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID() });
    const write = (bytes: Uint8Array) => new Promise<void>((resolve) => res.write(bytes, () => resolve()));
    for (const [n, payload] of textInvokeChunks(modelId, body, reply).entries()) {
      if (res.destroyed) return;
      if (scenario.exception && n === (scenario.exception.afterEvents ?? 1)) {
        const { type } = scenario.exception;
        record.events.push({ type, payload: {} });
        await write(exceptionFrame(type, scenario.exception.message ?? `${type} raised by the fake`));
        break;
      }
      record.events.push({ type: 'chunk', payload });
      await write(eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(payload)).toString('base64') }));
    }
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const route = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/.exec(url.pathname);
    const modelId = route ? decodeURIComponent(route[1]) : null;
    const parsed = parseJson<unknown>(rawBody);
    const body = isObject(parsed) ? parsed : undefined;
    const scenario = scenarioOrBadHeader(() => fake.pickScenario(req.headers, modelId || null, scenarioFromModel, defaults));
    const auth = await checkAuth(req, rawBody, options);
    const record: RecordedBedrockRequest = fake.record({
      seq: fake.nextSeq(), method: req.method ?? '', path: req.url ?? '', operation: (route?.[2] ?? null) as RecordedBedrockRequest['operation'],
      modelId, headers: req.headers, rawBody, body, scenario, auth, status: 0, events: [], responseBody: null, content: '',
      clientAborted: false, closed: whenClosed(res, () => {
        // The client went away before the fake finished (and not because the fake broke the connection itself).
        record.clientAborted = !res.writableFinished && record.events.at(-1)?.type !== '(broken)';
      }),
    });

    if (auth.problem) {
      const [type, message] = [auth.problem.slice(0, auth.problem.indexOf(':')), auth.problem.slice(auth.problem.indexOf(':') + 1)];
      sendError(res, record, { status: 403, type, message });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/rerank') {
      rerank(res, record, body);
      return;
    }
    if (req.method !== 'POST' || !route) {
      sendError(res, record, { status: 404, type: 'UnknownOperationException', message: 'Unknown operation' });
      return;
    }
    if (scenario.latencyMs) await new Promise((resolve) => setTimeout(resolve, scenario.latencyMs));
    if (!body) {
      sendError(res, record, { status: 400, type: 'SerializationException', message: 'Unexpected content in the request body.' });
      return;
    }
    const operation = route[2];
    if ((operation === 'invoke' || operation === 'invoke-with-response-stream') && isTextModel(modelId!)) {
      await invokeText(res, record, modelId!, body, operation === 'invoke-with-response-stream');
      return;
    }
    if (operation === 'invoke-with-response-stream') {
      sendError(res, record, { status: 400, type: 'ValidationException', message: 'The model is unsupported for streaming.' });
      return;
    }
    const problem = operation === 'invoke' ? validateInvoke(modelId!, body) : validateConverse(body);
    if (problem) {
      sendError(res, record, { status: 400, type: 'ValidationException', message: problem });
      return;
    }
    if (scenario.error) {
      sendError(res, record, scenario.error);
      return;
    }
    if (operation === 'invoke') {
      const { answer, tokens } = invokeAnswer(modelId!, body);
      respond(res, record, 200, answer, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(),
        'x-amzn-bedrock-input-token-count': String(tokens), 'x-amzn-bedrock-invocation-latency': '42' });
      return;
    }

    const reply = planReply(body, scenario);
    record.content = reply.text;
    if (operation === 'converse') {
      const answer = JSON.stringify({ metrics: { latencyMs: 120 }, output: { message: { content: reply.blocks, role: 'assistant' } },
        stopReason: reply.stopReason, usage: reply.usage });
      respond(res, record, 200, answer, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() });
      return;
    }

    openStream(res, record, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID() });
    const events = streamEvents(reply, scenario);
    const write = (bytes: Uint8Array) => new Promise<void>((resolve) => res.write(bytes, () => resolve()));
    for (const [n, event] of events.entries()) {
      if (res.destroyed) return;
      if (scenario.exception && n === (scenario.exception.afterEvents ?? 1)) {
        const type = scenario.exception.type;
        record.events.push({ type, payload: { message: scenario.exception.message ?? `${type} raised by the fake` } });
        await write(exceptionFrame(type, scenario.exception.message ?? `${type} raised by the fake`));
        res.end();
        return;
      }
      const frame = eventFrame(event.type, { ...event.payload, p: padding() });
      if (scenario.truncateAfterEvents !== undefined && n === scenario.truncateAfterEvents) {
        record.events.push({ type: '(truncated)', payload: {} });
        await write(frame.subarray(0, Math.floor(frame.byteLength / 2)));
        res.end();
        return;
      }
      record.events.push(event);
      await write(frame);
      if (scenario.breakAfterEvents !== undefined && n + 1 >= scenario.breakAfterEvents) {
        record.events.push({ type: '(broken)', payload: {} });
        res.socket?.destroy();
        return;
      }
    }
    res.end();
  }

  const { url, requests, script, requestsWithId, reset, close } = fake;
  return { url, requests, script, requestsWithId, reset, close };
}
