// OpenAI's audio and images endpoints: `/v1/audio/speech` (JSON in, audio bytes out), `/v1/audio/transcriptions`
// (multipart in, JSON or text out), `/v1/images/generations` (JSON in and out), `/v1/images/edits` and
// `/v1/images/variations` (multipart in, JSON out). There is nothing to translate here: the providers whose
// capability `media` lists the endpoint get the request as the client wrote it with the model rewritten; those that
// speak OpenAI's format pass the upstream's answer back as it was, with its content type, and the others' adapters
// (gemini, vertex, bedrock) translate both ways in the worker.

import type { JobFile, MediaKind } from '../contract/messages.js';
import { GatewayError, openAIErrorBody } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, RouteHandler } from '../http/server.js';
import { loggedLike } from '../observability/request-log.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseModelRequest, type ParsedRequest } from '../pipeline/parse.js';
import { respondError } from '../pipeline/respond.js';
import { withExtraFieldsOn, type Dialect } from './dialect.js';
import { OPENAI_WIRE } from './openai.js';

type Fields = Record<string, unknown>;

function invalid(message: string, param: string): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

const present = (value: unknown): boolean => value !== undefined && value !== null;

function refuseStreaming(request: Fields, field: string, value: unknown, what: string): void {
  if (present(request[field]) && request[field] !== value) invalid(`streamed ${what} are not supported by this gateway; leave '${field}' out`, field);
}

function requireString(request: Fields, field: string): void {
  if (typeof request[field] !== 'string' || request[field] === '') invalid(`'${field}' is required and must be a non-empty string`, field);
}

const asParsed = (kind: MediaKind, body: Fields): ParsedRequest =>
  ({ kind, body: body as ChatRequestBody, stream: false, includeUsage: false });

function parseSpeech(request: IncomingRequest): ParsedRequest {
  const body = parseModelRequest(request.body);
  requireString(body, 'input');
  if (typeof body.voice !== 'string' && !(typeof body.voice === 'object' && body.voice !== null)) {
    invalid("'voice' is required: a voice name like \"alloy\", or {\"id\": …}", 'voice');
  }
  refuseStreaming(body, 'stream_format', 'audio', 'speech events');
  return asParsed('speech', body);
}

function parseImageGeneration(request: IncomingRequest): ParsedRequest {
  const body = parseModelRequest(request.body);
  requireString(body, 'prompt');
  refuseStreaming(body, 'stream', false, 'images');
  return asParsed('image_generation', body);
}

/** The fields of each multipart request's form, read before the pipeline runs (reading a form is async). */
const forms = new WeakMap<IncomingRequest, Fields>();

/** A multipart form as plain fields: a file as its bytes, name and type; `name[]` parts (texts or files) as a list
 * under `name`. */
async function readForm(request: IncomingRequest): Promise<Fields> {
  const contentType = request.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    throw new GatewayError('INVALID_REQUEST', `send the request as multipart/form-data, the file as a file part (got content-type '${contentType}')`);
  }
  let form: FormData;
  try {
    form = await new Response(request.body ?? new Uint8Array(0), { headers: { 'content-type': contentType } }).formData();
  } catch (error) {
    throw new GatewayError('INVALID_REQUEST', `the multipart body could not be read: ${(error as Error).message}`);
  }
  const fields: Fields = {};
  for (const [name, value] of form) {
    const field = typeof value === 'string' ? value
      : { bytes: new Uint8Array(await value.arrayBuffer()), name: value.name || name.replace('[]', ''), type: value.type } satisfies JobFile;
    if (name.endsWith('[]')) ((fields[name.slice(0, -2)] ??= []) as unknown[]).push(field);
    else fields[name] = field;
  }
  return fields;
}

/** A multipart route's handler: reads the form, then runs the pipeline, which finds the fields by the request. */
export function withForm(handler: RouteHandler): RouteHandler {
  return loggedLike((request: IncomingRequest, sink: ResponseSink) => {
    readForm(request).then((fields) => {
      forms.set(request, fields);
      handler(request, sink);
    }, (error: unknown) => {
      respondError(sink, OPENAI_WIRE, error instanceof GatewayError ? error.data : { code: 'INTERNAL', message: String(error) });
    });
  }, handler);
}

function formOf(request: IncomingRequest): Fields {
  const fields = forms.get(request);
  if (!fields) throw new Error('a multipart request reached the pipeline without its form being read');
  return fields;
}

const isFile = (value: unknown): boolean => typeof value === 'object' && value !== null && (value as JobFile).bytes instanceof Uint8Array;

function parseTranscription(request: IncomingRequest): ParsedRequest {
  const fields = formOf(request);
  if (!isFile(fields.file)) invalid("'file' is required: the audio as a file part of the form", 'file');
  requireString(fields, 'model');
  refuseStreaming(fields, 'stream', 'false', 'transcriptions');
  return asParsed('transcription', fields);
}

/** An edit: one image part or several (`image[]`), a prompt, optionally a mask. Streamed edits are refused. */
function parseImageEdit(request: IncomingRequest): ParsedRequest {
  const fields = formOf(request);
  const images = Array.isArray(fields.image) ? fields.image : [fields.image];
  if (images.length === 0 || !images.every(isFile)) invalid("'image' is required: the image (or images, as image[]) as file parts of the form", 'image');
  if (present(fields.mask) && !isFile(fields.mask)) invalid("'mask' must be a file part", 'mask');
  requireString(fields, 'model');
  requireString(fields, 'prompt');
  refuseStreaming(fields, 'stream', 'false', 'image edits');
  return asParsed('image_edit', fields);
}

function parseImageVariation(request: IncomingRequest): ParsedRequest {
  const fields = formOf(request);
  if (!isFile(fields.image)) invalid("'image' is required: one image as a file part of the form", 'image');
  requireString(fields, 'model');
  return asParsed('image_variation', fields);
}

function mediaDialect(name: string, parse: Dialect['parse'], defaultProvider: string | null): Dialect {
  return Object.freeze<Dialect>({ name, defaultProvider, parse, wire: () => OPENAI_WIRE, errorBody: (error) => openAIErrorBody(error) });
}

/** On /v1 (`provider/model`) and on the drop-in prefixes (a bare model means `openai`). */
// Speech answers audio bytes, which carry no extra_fields.
export const speech = [mediaDialect('speech', parseSpeech, null), mediaDialect('speech', parseSpeech, 'openai')] as const;
export const transcription = [withExtraFieldsOn(mediaDialect('transcription', parseTranscription, null), 'transcription'),
  mediaDialect('transcription', parseTranscription, 'openai')] as const;
export const imageGeneration = [withExtraFieldsOn(mediaDialect('image_generation', parseImageGeneration, null), 'image_generation'),
  mediaDialect('image_generation', parseImageGeneration, 'openai')] as const;
export const imageEdit = [withExtraFieldsOn(mediaDialect('image_edit', parseImageEdit, null), 'image_edit'),
  mediaDialect('image_edit', parseImageEdit, 'openai')] as const;
export const imageVariation = [withExtraFieldsOn(mediaDialect('image_variation', parseImageVariation, null), 'image_variation'),
  mediaDialect('image_variation', parseImageVariation, 'openai')] as const;
