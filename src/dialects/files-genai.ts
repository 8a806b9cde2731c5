// Google's Files and Batch APIs under /genai, as `@google/genai` calls them: `files.upload` (Google's resumable
// protocol), `files.list`, `files.get`, `files.delete`; `batches.create` (`models/{model}:batchGenerateContent`),
// `batches.list`, `batches.get`, `batches.cancel`, `batches.delete`. They reach a provider whose files API is Google's.
//
// The resumable upload is held by the gateway, as Bifrost does: `start` opens a session here (its upload URL points
// back at the gateway), each `upload` chunk (the SDK sends 8 MiB ones) is kept in it, and `finalize` sends the whole
// file to the provider in one multipart upload, with the key the call is routed to. A session holds at most
// client.max_request_body_size_mb, all sessions together four times that; a session left unfinished is dropped
// after an hour.

import { randomUUID } from 'node:crypto';
import type { FilesApi } from '../contract/providers.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import {
  bodyAsIs, createFilesHandler, filesRoute, gatewayOrigin, idsOf, isJsonObject, jsonBody, PROVIDER_HEADER, queryWithoutProvider,
  segmentAfter, type FilesDeps, type FilesOperation, type FilesRouteApi, type PreparedCall, type ProviderAnswer,
} from '../pipeline/files.js';
import { genaiErrorBody } from './genai-answer.js';

const API: FilesApi = 'genai';
const UPLOAD_PATH = '/genai/upload/v1beta/files';
const SESSION_TTL_MS = 60 * 60 * 1000;

interface UploadSession {
  readonly metadata: Record<string, unknown>;
  readonly mimeType: string;
  readonly provider: string | null;
  readonly parts: Buffer[];
  size: number;
  readonly openedAt: number;
}

/** Open resumable uploads, bounded in bytes; what the gateway keeps of a file until the provider has it. */
export class UploadSessions {
  readonly #sessions = new Map<string, UploadSession>();
  readonly #maxBytes: number;
  #buffered = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  open(metadata: Record<string, unknown>, mimeType: string, provider: string | null): string {
    this.#expire();
    const id = randomUUID();
    this.#sessions.set(id, { metadata, mimeType, provider, parts: [], size: 0, openedAt: Date.now() });
    return id;
  }

  /** Adds a chunk; the session when it was the last one (and the session is closed). */
  take(id: string, chunk: Buffer | null, last: boolean): UploadSession | null {
    const session = this.#sessions.get(id);
    if (!session) throw new GatewayError('RESOURCE_NOT_FOUND', `no open upload '${id}': it finished, expired, or never started`);
    const size = chunk?.length ?? 0;
    if (session.size + size > this.#maxBytes || this.#buffered + size > this.#maxBytes * 4) {
      this.#close(id, session);
      throw new GatewayError('BODY_TOO_LARGE', `the upload is larger than ${this.#maxBytes} bytes (client.max_request_body_size_mb), `
        + 'or the gateway holds too many uploads at once');
    }
    if (chunk && size > 0) session.parts.push(chunk);
    session.size += size;
    this.#buffered += size;
    if (!last) return null;
    this.#close(id, session);
    return session;
  }

  #close(id: string, session: UploadSession): void {
    this.#sessions.delete(id);
    this.#buffered -= session.size;
  }

  #expire(): void {
    const now = Date.now();
    for (const [id, session] of this.#sessions) {
      if (now - session.openedAt < SESSION_TTL_MS) break;
      this.#close(id, session);
    }
  }
}

/** Google's multipart upload of one file: its metadata as JSON, then its bytes. */
function multipartRelated(metadata: Record<string, unknown>, mimeType: string, parts: readonly Buffer[]): { contentType: string; body: Buffer } {
  const boundary = `heimdall-${randomUUID()}`;
  const head = Buffer.from(`--${boundary}\r\ncontent-type: application/json; charset=utf-8\r\n\r\n${JSON.stringify(metadata)}\r\n`
    + `--${boundary}\r\ncontent-type: ${mimeType}\r\n\r\n`);
  return { contentType: `multipart/related; boundary=${boundary}`, body: Buffer.concat([head, ...parts, Buffer.from(`\r\n--${boundary}--\r\n`)]) };
}

const sessionAnswer = (status: string, headers: Record<string, string> = {}): PreparedCall => ({
  upstream: { method: 'POST', path: '', query: '', contentType: null, body: null },
  answerNow: { status: 200, contentType: 'application/json', body: '{}', headers: { 'x-goog-upload-status': status, ...headers } },
});

function uploadOperation(sessions: UploadSessions): FilesOperation {
  return {
    method: 'post', path: UPLOAD_PATH, readBody: true,
    prepare(request): PreparedCall {
      const command = (request.headers['x-goog-upload-command'] ?? '').toLowerCase();
      const uploadId = new URLSearchParams(request.query).get('upload_id');
      if (command === 'start') {
        const body = jsonBody(request);
        const file = isJsonObject(body.file) ? body.file : {};
        const mimeType = request.headers['x-goog-upload-header-content-type'] || (typeof file.mimeType === 'string' ? file.mimeType : '')
          || 'application/octet-stream';
        const id = sessions.open({ file: { ...file, mimeType } }, mimeType, request.headers[PROVIDER_HEADER] || null);
        return sessionAnswer('active', { 'x-goog-upload-url': `${gatewayOrigin(request)}${UPLOAD_PATH}?upload_id=${id}`,
          'x-goog-upload-chunk-granularity': '8388608' });
      }
      if (!uploadId || !command.includes('upload')) {
        throw new GatewayError('INVALID_REQUEST', "upload with Google's resumable protocol: 'x-goog-upload-command: start', then "
          + "'upload' chunks to the URL it answers with, the last one 'upload, finalize'");
      }
      const session = sessions.take(uploadId, request.body, command.includes('finalize'));
      if (!session) return sessionAnswer('active');
      const { contentType, body } = multipartRelated(session.metadata, session.mimeType, session.parts);
      return { provider: session.provider, upstream: { method: 'POST', path: '/upload/v1beta/files', query: 'uploadType=multipart',
        contentType, body, headers: { 'x-goog-upload-protocol': 'multipart' } } };
    },
    learn: (json) => ({ remember: isJsonObject(json) && isJsonObject(json.file) ? idsOf(json.file, 'name') : [] }),
    answer: (answer: ProviderAnswer) => ({ ...answer, headers: { ...answer.headers, 'x-goog-upload-status': 'final' } }),
  };
}

function operations(version: string): FilesOperation[] {
  const fileId = (request: IncomingRequest) => `files/${segmentAfter(request.path, '/files/')}`;
  // `batches/abc` or `batches/abc:cancel`: the id ends at the method.
  const batchName = (request: IncomingRequest) => segmentAfter(request.path, '/batches/').replace(/:[A-Za-z]+$/, '');
  const batchId = (request: IncomingRequest) => `batches/${batchName(request)}`;
  const get = (path: string, request: IncomingRequest, id: string | null = null): PreparedCall =>
    ({ id, upstream: { method: 'GET', path, query: queryWithoutProvider(request.query), contentType: null, body: null } });
  const del = (path: string, id: string): PreparedCall => ({ id, upstream: { method: 'DELETE', path, query: '', contentType: null, body: null } });
  const forgotten = (_json: unknown, prepared: PreparedCall) => ({ forget: prepared.id ? [prepared.id] : [] });
  const base = `/genai/${version}`;
  return [
    { method: 'get', path: `${base}/files`, readBody: false, lists: true, prepare: (request) => get(`/${version}/files`, request),
      learn: (json) => ({ remember: idsOf(json, 'name', 'files') }) },
    { method: 'get', path: `${base}/files/:id`, label: `${base}/files/{id}`, readBody: false,
      prepare: (request) => get(`/${version}/${fileId(request)}`, request, fileId(request)) },
    { method: 'delete', path: `${base}/files/:id`, label: `${base}/files/{id}`, readBody: false,
      prepare: (request) => del(`/${version}/${fileId(request)}`, fileId(request)), learn: forgotten },
    { method: 'get', path: `${base}/batches`, readBody: false, lists: true, prepare: (request) => get(`/${version}/batches`, request),
      learn: (json) => ({ remember: idsOf(json, 'name', 'operations') }) },
    { method: 'get', path: `${base}/batches/:id`, label: `${base}/batches/{id}`, readBody: false,
      prepare: (request) => get(`/${version}/${batchId(request)}`, request, batchId(request)) },
    { method: 'post', path: `${base}/batches/:id`, label: `${base}/batches/{id}:cancel`, readBody: true,
      prepare: (request) => {
        if (!request.path.endsWith(':cancel')) throw new GatewayError('UNKNOWN_ROUTE', `no GenAI method at ${request.path}: batches/{id}:cancel`);
        return { id: batchId(request), upstream: { method: 'POST', path: `/${version}/${batchId(request)}:cancel`, query: '',
          contentType: null, body: null } };
      } },
    { method: 'delete', path: `${base}/batches/:id`, label: `${base}/batches/{id}`, readBody: false,
      prepare: (request) => del(`/${version}/${batchId(request)}`, batchId(request)), learn: forgotten },
  ];
}

/** `models/{model}:batchGenerateContent`: the model's provider, a batch's input file's owner, or `gemini`. */
function batchCreateOperation(): FilesOperation {
  return {
    method: 'post', path: '/genai/v1beta/models/*', readBody: true,
    prepare(request): PreparedCall {
      const match = /^\/genai\/(v1beta|v1)\/models\/(.+):batchGenerateContent$/.exec(request.path);
      if (!match) throw new GatewayError('UNKNOWN_ROUTE', `no GenAI method at ${request.path}`);
      const body = jsonBody(request);
      const batch = isJsonObject(body.batch) ? body.batch : {};
      const input = isJsonObject(batch.inputConfig) ? batch.inputConfig : isJsonObject(batch.input_config) ? batch.input_config : {};
      const fileName = input.fileName ?? input.file_name;
      let model: string;
      try {
        model = decodeURIComponent(match[2]);
      } catch {
        throw new GatewayError('INVALID_REQUEST', `the model in the path is not valid percent-encoding: '${match[2]}'`, { param: 'model' });
      }
      return { model, refersTo: typeof fileName === 'string' ? fileName : null,
        upstream: { method: 'POST', path: `/${match[1]}/models/{model}:batchGenerateContent`, query: '', ...bodyAsIs(request) } };
    },
    learn: (json) => ({ remember: idsOf(json, 'name') }),
  };
}

const GENAI_FILES: FilesRouteApi = Object.freeze({
  api: API,
  defaultProvider: 'gemini',
  errorBody: (error: Parameters<typeof genaiErrorBody>[0]) => genaiErrorBody(error),
  forwardHeaders: [],
});

export function genaiFilesRoutes(deps: FilesDeps, maxUploadBytes: number): Route[] {
  const sessions = new UploadSessions(maxUploadBytes);
  return [uploadOperation(sessions), ...operations('v1beta')].map((operation) => filesRoute(deps, GENAI_FILES, operation));
}

/** The handler `genaiRoutes` gives `:batchGenerateContent`. */
export function genaiBatchCreateHandler(deps: FilesDeps): RouteHandler {
  return createFilesHandler(deps, GENAI_FILES, batchCreateOperation());
}
