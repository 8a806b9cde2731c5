// A fake of each provider's files and batches API, in its own wire format: OpenAI's Files and Batch APIs, Azure
// OpenAI's (OpenAI's under /openai with an api-version, batches naming deployments), Vertex AI's batch prediction jobs,
// Anthropic's Files API (beta) and Message Batches, Google's Gemini files (multipart upload) and batches, and
// Bedrock's model invocation jobs with the S3 objects they read. Each account (the key a request authenticates
// with) sees only its own files and batches, as at the providers: a call made with another key gets the provider's
// 404, which is how the tests see that the gateway sent a call with the key that owns the id. Batches finish at
// once, with one answer per request, so their results can be read straight away.

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { FakeServer, type WaitableFakeServerApi } from './fake-server.js';

export type FilesWire = 'openai' | 'azure' | 'anthropic' | 'gemini' | 'vertex' | 'bedrock';

export interface FilesRecordedRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly account: string;
  readonly bodyBytes: number;
}

interface StoredFile {
  readonly id: string;
  readonly name: string;
  readonly mimeType: string;
  readonly bytes: Buffer;
  readonly purpose: string;
  readonly createdAt: number;
}

type Json = Record<string, unknown>;

export interface FakeFiles extends WaitableFakeServerApi<FilesRecordedRequest, object> {
  readonly wire: FilesWire;
  /** The files of an account (a key value, or an AWS access key id). */
  filesOf(account: string): StoredFile[];
  /** The account that holds a file, batch or S3 object by its id (a batch job by its id or ARN); null: none. */
  ownerOf(id: string): string | null;
  /** Bedrock: runs every submitted model invocation job to its end now, as Bedrock would in its own time. */
  finishJobs(): void;
}

const id = (prefix: string) => `${prefix}${randomBytes(8).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

/** Who the request authenticates as: the bearer token, the API key header, or the SigV4 access key id. */
function accountOf(headers: IncomingHttpHeaders): string {
  const authorization = headers.authorization ?? '';
  const sigv4 = /Credential=([^/]+)\//.exec(authorization);
  if (sigv4) return sigv4[1];
  if (authorization.startsWith('Bearer ')) return authorization.slice(7);
  return String(headers['x-api-key'] ?? headers['x-goog-api-key'] ?? headers['api-key'] ?? '');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

const googleError = (res: ServerResponse, code: number, status: string, message: string) => send(res, code, { error: { code, message, status } });

/** The parts of a multipart/form-data or multipart/related body: headers and bytes. */
function multipartParts(contentType: string, body: Buffer): { headers: Record<string, string>; data: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return [];
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; data: Buffer }[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, split).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push({ headers, data: part.subarray(split + 4) });
    start = next;
  }
  return parts;
}

function formFields(contentType: string, body: Buffer): Map<string, { filename: string | null; type: string; data: Buffer }> {
  const fields = new Map<string, { filename: string | null; type: string; data: Buffer }>();
  for (const part of multipartParts(contentType, body)) {
    const disposition = part.headers['content-disposition'] ?? '';
    const name = /name="([^"]*)"/.exec(disposition)?.[1];
    if (name === undefined) continue;
    fields.set(name, { filename: /filename="([^"]*)"/.exec(disposition)?.[1] ?? null, type: part.headers['content-type'] ?? 'text/plain',
      data: part.data });
  }
  return fields;
}

/** Per account: its files and its batches (in the wire's own JSON shape). */
class Accounts {
  readonly files = new Map<string, Map<string, StoredFile>>();
  readonly batches = new Map<string, Map<string, Json>>();
  filesOf(account: string): Map<string, StoredFile> {
    let files = this.files.get(account);
    if (!files) this.files.set(account, (files = new Map()));
    return files;
  }
  batchesOf(account: string): Map<string, Json> {
    let batches = this.batches.get(account);
    if (!batches) this.batches.set(account, (batches = new Map()));
    return batches;
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, account: string, store: Accounts, url: URL) => void;

// ---------------------------------------------------------------------------------------------------------------
// OpenAI

const openaiNotFound = (res: ServerResponse, what: string) =>
  send(res, 404, { error: { message: `No such ${what}`, type: 'invalid_request_error', param: 'id', code: null } });

const openaiFile = (file: StoredFile) => ({ id: file.id, object: 'file', bytes: file.bytes.length, created_at: file.createdAt,
  filename: file.name, purpose: file.purpose, status: 'processed', expires_at: null, status_details: null });

const openaiList = (data: unknown[]) => ({ object: 'list', data, has_more: false,
  first_id: (data[0] as Json | undefined)?.id ?? null, last_id: (data.at(-1) as Json | undefined)?.id ?? null });

const openai: Handler = (req, res, body, account, store, url) => {
  const files = store.filesOf(account);
  const batches = store.batchesOf(account);
  const path = url.pathname;
  let match: RegExpExecArray | null;
  if (req.method === 'POST' && path === '/v1/files') {
    const fields = formFields(req.headers['content-type'] ?? '', body);
    const file = fields.get('file');
    const purpose = fields.get('purpose')?.data.toString();
    if (fields.has('provider')) return send(res, 400, { error: { message: 'Unrecognized request argument supplied: provider', type: 'invalid_request_error', param: null, code: null } });
    if (!file || !purpose) return send(res, 400, { error: { message: "'file' and 'purpose' are required", type: 'invalid_request_error', param: null, code: null } });
    const stored = { id: id('file-'), name: file.filename ?? 'upload', mimeType: file.type, bytes: Buffer.from(file.data), purpose, createdAt: now() };
    files.set(stored.id, stored);
    return send(res, 200, openaiFile(stored));
  }
  if (req.method === 'GET' && path === '/v1/files') return send(res, 200, openaiList([...files.values()].map(openaiFile)));
  if ((match = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path))) {
    const file = files.get(decodeURIComponent(match[1]));
    if (!file) return openaiNotFound(res, 'file');
    if (req.method === 'DELETE') {
      files.delete(file.id);
      return send(res, 200, { id: file.id, object: 'file', deleted: true });
    }
    if (match[2]) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return void res.end(file.bytes);
    }
    return send(res, 200, openaiFile(file));
  }
  if (req.method === 'POST' && path === '/v1/batches') {
    const request = JSON.parse(body.toString()) as Json;
    if ('provider' in request || 'model' in request) return send(res, 400, { error: { message: 'Unrecognized request argument', type: 'invalid_request_error', param: null, code: null } });
    const input = files.get(String(request.input_file_id));
    if (!input) return openaiNotFound(res, 'file');
    // Finished at once: one chat completion per line of the input.
    const lines = input.bytes.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Json);
    const output = lines.map((line) => JSON.stringify({ id: id('batch_req_'), custom_id: line.custom_id, error: null,
      response: { status_code: 200, request_id: id('req_'), body: { id: id('chatcmpl-'), object: 'chat.completion', created: now(),
        model: (line.body as Json).model, choices: [{ index: 0, message: { role: 'assistant', content: 'batched' }, finish_reason: 'stop' }] } } }));
    const outputFile = { id: id('file-'), name: 'batch_output.jsonl', mimeType: 'application/jsonl', bytes: Buffer.from(`${output.join('\n')}\n`),
      purpose: 'batch_output', createdAt: now() };
    files.set(outputFile.id, outputFile);
    const batch = { id: id('batch_'), object: 'batch', endpoint: request.endpoint, errors: null, input_file_id: input.id,
      completion_window: request.completion_window, status: 'completed', output_file_id: outputFile.id, error_file_id: null,
      created_at: now(), in_progress_at: now(), expires_at: now() + 86_400, finalizing_at: now(), completed_at: now(), failed_at: null,
      expired_at: null, cancelling_at: null, cancelled_at: null, request_counts: { total: lines.length, completed: lines.length, failed: 0 },
      metadata: request.metadata ?? null };
    batches.set(batch.id, batch);
    return send(res, 200, batch);
  }
  if (req.method === 'GET' && path === '/v1/batches') return send(res, 200, openaiList([...batches.values()]));
  if ((match = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path))) {
    const batch = batches.get(decodeURIComponent(match[1]));
    if (!batch) return openaiNotFound(res, 'batch');
    if (match[2] && req.method === 'POST') Object.assign(batch, { status: 'cancelling', cancelling_at: now() });
    return send(res, 200, batch);
  }
  openaiNotFound(res, 'route');
};

// ---------------------------------------------------------------------------------------------------------------
// Azure OpenAI: OpenAI's files and batches under /openai, each call with an api-version; a batch's endpoint and its
// lines' urls without /v1 (`/chat/completions`), each line's model one of the resource's deployments.

const AZURE_ENDPOINTS = ['/chat/completions', '/embeddings', '/completions', '/responses'];
/** The deployments the fake's resource has. */
export const AZURE_FAKE_DEPLOYMENTS = ['gpt-4o-mini-batch', 'gpt-4o-batch'];

const azureError = (res: ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });

const azure: Handler = (req, res, body, account, store, url) => {
  if (!url.searchParams.get('api-version')) return azureError(res, 404, '404', 'Resource not found');
  if (!url.pathname.startsWith('/openai/') || url.pathname.startsWith('/openai/v1/')) return azureError(res, 404, '404', 'Resource not found');
  const path = `/v1/${url.pathname.slice('/openai/'.length)}`;
  if (req.method === 'POST' && path === '/v1/batches') {
    const request = JSON.parse(body.toString()) as Json;
    if (!AZURE_ENDPOINTS.includes(String(request.endpoint))) {
      return azureError(res, 400, 'invalid_request', `The endpoint '${String(request.endpoint)}' is not supported; use one of ${AZURE_ENDPOINTS.join(', ')}.`);
    }
    const input = store.filesOf(account).get(String(request.input_file_id));
    for (const [i, line] of (input?.bytes.toString().split('\n').filter(Boolean) ?? []).entries()) {
      const parsed = JSON.parse(line) as { url?: unknown; body?: { model?: unknown } };
      if (parsed.url !== request.endpoint) return azureError(res, 400, 'invalid_request', `Line ${i + 1}: url '${String(parsed.url)}' is not the batch's endpoint.`);
      if (!AZURE_FAKE_DEPLOYMENTS.includes(String(parsed.body?.model))) {
        return azureError(res, 400, 'model_not_found', `Line ${i + 1}: the deployment '${String(parsed.body?.model)}' was not found.`);
      }
    }
  }
  openai(req, res, body, account, store, new URL(`${path}${url.search}`, 'http://fake'));
};

// ---------------------------------------------------------------------------------------------------------------
// Vertex AI batch prediction: jobs under a project and location, reading gs:// or bq:// and writing there. A job
// stays pending (Vertex runs it against the storage, which the fake has not got).

/** The project number Vertex names jobs under, whatever project id the call named. */
export const VERTEX_FAKE_PROJECT_NUMBER = '123456789012';


const vertex: Handler = (req, res, body, account, store, url) => {
  const match = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/batchPredictionJobs(?:\/(\d+))?(:cancel)?$/.exec(url.pathname);
  if (!match) return googleError(res, 404, 'NOT_FOUND', 'The requested URL was not found on this server.');
  const jobs = store.batchesOf(account);
  const [, , location, id, cancel] = match;
  if (!id) {
    if (req.method === 'GET') return send(res, 200, { batchPredictionJobs: [...jobs.values()] });
    const request = JSON.parse(body.toString()) as Json;
    const input = (request.inputConfig ?? {}) as Json;
    const output = (request.outputConfig ?? {}) as Json;
    const source = (input.gcsSource as { uris?: string[] } | undefined)?.uris?.[0] ?? (input.bigquerySource as { inputUri?: string } | undefined)?.inputUri;
    const destination = (output.gcsDestination as { outputUriPrefix?: string } | undefined)?.outputUriPrefix
      ?? (output.bigqueryDestination as { outputUri?: string } | undefined)?.outputUri;
    if (typeof request.model !== 'string' || !/^(publishers|projects)\//.test(request.model)) return googleError(res, 400, 'INVALID_ARGUMENT', 'model must be a resource name.');
    if (!source || !/^(gs|bq):\/\//.test(source) || !destination || !/^(gs|bq):\/\//.test(destination)) {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'inputConfig and outputConfig must name Cloud Storage or BigQuery locations.');
    }
    const number = String(Date.now() * 1000 + jobs.size).slice(-16);
    const job = { name: `projects/${VERTEX_FAKE_PROJECT_NUMBER}/locations/${location}/batchPredictionJobs/${number}`, displayName: request.displayName,
      model: request.model, inputConfig: input, outputConfig: output, state: 'JOB_STATE_PENDING', createTime: new Date().toISOString(),
      updateTime: new Date().toISOString() };
    jobs.set(number, job);
    return send(res, 200, job);
  }
  const job = jobs.get(id);
  if (!job) return googleError(res, 404, 'NOT_FOUND', `The BatchPredictionJob does not exist: ${id}`);
  if (cancel && req.method === 'POST') {
    Object.assign(job, { state: 'JOB_STATE_CANCELLING' });
    return send(res, 200, {});
  }
  if (req.method === 'DELETE') {
    jobs.delete(id);
    return send(res, 200, { name: `${String(job.name)}/operations/1`, done: true,
      metadata: { '@type': 'type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata' } });
  }
  return send(res, 200, job);
};

// ---------------------------------------------------------------------------------------------------------------
// Anthropic

const FILES_BETA = 'files-api-2025-04-14';
const anthropicError = (res: ServerResponse, status: number, type: string, message: string) =>
  send(res, status, { type: 'error', error: { type, message } });

const anthropicFile = (file: StoredFile) => ({ id: file.id, type: 'file', filename: file.name, mime_type: file.mimeType,
  size_bytes: file.bytes.length, created_at: new Date(file.createdAt * 1000).toISOString(), downloadable: true });

const anthropicList = (data: Json[]) => ({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });

const anthropic: Handler = (req, res, body, account, store, url) => {
  const version = String(req.headers['anthropic-version'] ?? '');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(version)) return anthropicError(res, 400, 'invalid_request_error', 'anthropic-version is required');
  const files = store.filesOf(account);
  const batches = store.batchesOf(account);
  const path = url.pathname;
  let match: RegExpExecArray | null;
  if (path.startsWith('/v1/files')) {
    // A beta under the first API version; SDKs that send a later version (2026-10-21) have it without the flag.
    if (version === '2023-06-01' && !String(req.headers['anthropic-beta'] ?? '').includes(FILES_BETA)) {
      return anthropicError(res, 400, 'invalid_request_error', `the Files API needs 'anthropic-beta: ${FILES_BETA}'`);
    }
    if (req.method === 'POST' && path === '/v1/files') {
      const file = formFields(req.headers['content-type'] ?? '', body).get('file');
      if (!file) return anthropicError(res, 400, 'invalid_request_error', 'file: Field required');
      const stored = { id: id('file_'), name: file.filename ?? 'upload', mimeType: file.type, bytes: Buffer.from(file.data), purpose: '', createdAt: now() };
      files.set(stored.id, stored);
      return send(res, 200, anthropicFile(stored));
    }
    if (req.method === 'GET' && path === '/v1/files') return send(res, 200, anthropicList([...files.values()].map(anthropicFile)));
    if ((match = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path))) {
      const file = files.get(decodeURIComponent(match[1]));
      if (!file) return anthropicError(res, 404, 'not_found_error', `File not found: ${match[1]}`);
      if (req.method === 'DELETE') {
        files.delete(file.id);
        return send(res, 200, { id: file.id, type: 'file_deleted' });
      }
      if (match[2]) {
        res.writeHead(200, { 'content-type': file.mimeType });
        return void res.end(file.bytes);
      }
      return send(res, 200, anthropicFile(file));
    }
  }
  if (req.method === 'POST' && path === '/v1/messages/batches') {
    const request = JSON.parse(body.toString()) as { requests?: { custom_id: string; params: Json }[] };
    if (!Array.isArray(request.requests) || request.requests.length === 0) return anthropicError(res, 400, 'invalid_request_error', 'requests: Field required');
    // Each request's params are a Messages request, checked when the batch is created; a model named `…-unknown`
    // errors when the batch runs, as a model the account cannot use does.
    for (const [i, item] of request.requests.entries()) {
      const params = item.params ?? {};
      const messages = params.messages as { role?: string; content?: unknown }[] | undefined;
      const problem = typeof item.custom_id !== 'string' ? 'custom_id: Field required'
        : typeof params.model !== 'string' ? 'params.model: Field required'
          : !Number.isInteger(params.max_tokens) ? 'params.max_tokens: Field required'
            : !Array.isArray(messages) || messages.length === 0 || messages.some((m) => m.role !== 'user' && m.role !== 'assistant')
              ? 'params.messages: roles must be user or assistant' : params.stream === true ? 'params.stream: streaming is not supported in batches' : null;
      if (problem) return anthropicError(res, 400, 'invalid_request_error', `requests.${i}.${problem}`);
    }
    const batchId = id('msgbatch_');
    const lastText = (params: Json) => {
      const content = (params.messages as { content: unknown }[]).at(-1)!.content;
      return typeof content === 'string' ? content : (content as { text?: string }[]).map((block) => block.text ?? '').join('');
    };
    const results = request.requests.map((item) => JSON.stringify({ custom_id: item.custom_id, result: /-unknown$/.test(String(item.params.model))
      ? { type: 'errored', error: { type: 'error', error: { type: 'not_found_error', message: `model: ${String(item.params.model)}` } } }
      : { type: 'succeeded', message: { id: id('msg_'), type: 'message', role: 'assistant', model: item.params.model,
        content: [{ type: 'text', text: `batched: ${lastText(item.params)}` }], stop_reason: 'end_turn', stop_sequence: null,
        usage: { input_tokens: 3, output_tokens: 1 } } } }));
    const errored = results.filter((line) => line.includes('"errored"')).length;
    const batch = { id: batchId, type: 'message_batch', processing_status: 'ended',
      request_counts: { processing: 0, succeeded: results.length - errored, errored, canceled: 0, expired: 0 },
      ended_at: new Date().toISOString(), created_at: new Date().toISOString(), expires_at: new Date(Date.now() + 86_400_000).toISOString(),
      archived_at: null, cancel_initiated_at: null,
      // As at Anthropic: an absolute URL at the provider's own host, which a client cannot reach through the gateway.
      results_url: `https://api.anthropic.com/v1/messages/batches/${batchId}/results`, _results: results };
    batches.set(batchId, batch);
    return send(res, 200, publicBatch(batch));
  }
  if (req.method === 'GET' && path === '/v1/messages/batches') return send(res, 200, anthropicList([...batches.values()].map(publicBatch)));
  if ((match = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/.exec(path))) {
    const batch = batches.get(decodeURIComponent(match[1]));
    if (!batch) return anthropicError(res, 404, 'not_found_error', `Batch not found: ${match[1]}`);
    if (req.method === 'DELETE') {
      batches.delete(batch.id as string);
      return send(res, 200, { id: batch.id, type: 'message_batch_deleted' });
    }
    if (match[2] === '/results') {
      res.writeHead(200, { 'content-type': 'application/binary' });
      return void res.end(`${(batch._results as string[]).join('\n')}\n`);
    }
    if (match[2] === '/cancel') Object.assign(batch, { processing_status: 'canceling', cancel_initiated_at: new Date().toISOString() });
    return send(res, 200, publicBatch(batch));
  }
  anthropicError(res, 404, 'not_found_error', `no route ${req.method} ${path}`);
};

function publicBatch(batch: Json): Json {
  const { _results: _hidden, ...visible } = batch;
  return visible;
}

// ---------------------------------------------------------------------------------------------------------------
// Gemini


function geminiFile(file: StoredFile, base: string): Json {
  const iso = new Date(file.createdAt * 1000).toISOString();
  return { name: file.id, displayName: file.name, mimeType: file.mimeType, sizeBytes: String(file.bytes.length), createTime: iso,
    updateTime: iso, expirationTime: new Date(file.createdAt * 1000 + 172_800_000).toISOString(),
    sha256Hash: createHash('sha256').update(file.bytes).digest('base64'), uri: `${base}/v1beta/${file.id}`, state: 'ACTIVE', source: 'UPLOADED' };
}

const gemini: Handler = (req, res, body, account, store, url) => {
  const files = store.filesOf(account);
  const batches = store.batchesOf(account);
  const path = url.pathname;
  const base = `http://${req.headers.host}`;
  let match: RegExpExecArray | null;
  if (req.method === 'POST' && path === '/upload/v1beta/files') {
    if (url.searchParams.get('uploadType') !== 'multipart') return googleError(res, 400, 'INVALID_ARGUMENT', 'uploadType=multipart expected');
    const parts = multipartParts(req.headers['content-type'] ?? '', body);
    if (parts.length !== 2) return googleError(res, 400, 'INVALID_ARGUMENT', 'a metadata part and a media part are required');
    const metadata = JSON.parse(parts[0].data.toString()) as { file?: { displayName?: string; mimeType?: string } };
    const stored = { id: `files/${randomBytes(6).toString('hex')}`, name: metadata.file?.displayName ?? '',
      mimeType: parts[1].headers['content-type'] ?? metadata.file?.mimeType ?? 'application/octet-stream', bytes: Buffer.from(parts[1].data),
      purpose: '', createdAt: now() };
    files.set(stored.id, stored);
    return send(res, 200, { file: geminiFile(stored, base) });
  }
  if (req.method === 'GET' && path === '/v1beta/files') return send(res, 200, { files: [...files.values()].map((file) => geminiFile(file, base)) });
  if ((match = /^\/v1beta\/(files\/[^/:]+)$/.exec(path))) {
    const file = files.get(match[1]);
    if (!file) return googleError(res, 404, 'NOT_FOUND', `File ${match[1]} not found.`);
    if (req.method === 'DELETE') {
      files.delete(file.id);
      return send(res, 200, {});
    }
    return send(res, 200, geminiFile(file, base));
  }
  if (req.method === 'POST' && (match = /^\/v1beta\/models\/([^/:]+):batchGenerateContent$/.exec(path))) {
    const request = JSON.parse(body.toString()) as { batch?: { displayName?: string; inputConfig?: { fileName?: string; requests?: { requests?: unknown[] } } } };
    const input = request.batch?.inputConfig;
    if (input?.fileName !== undefined && !files.has(input.fileName)) return googleError(res, 404, 'NOT_FOUND', `File ${input.fileName} not found.`);
    const count = input?.requests?.requests?.length ?? (input?.fileName ? files.get(input.fileName)!.bytes.toString().split('\n').filter(Boolean).length : 0);
    if (count === 0) return googleError(res, 400, 'INVALID_ARGUMENT', 'batch.inputConfig needs requests or a fileName');
    const name = `batches/${randomBytes(6).toString('hex')}`;
    const time = new Date().toISOString();
    const operation = { name, metadata: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch',
      model: `models/${match[1]}`, displayName: request.batch?.displayName ?? '', createTime: time, updateTime: time,
      batchStats: { requestCount: String(count), pendingRequestCount: String(count) }, state: 'BATCH_STATE_PENDING', name } };
    batches.set(name, operation);
    if (input?.requests?.requests) inlineRequests.set(operation, input.requests.requests as Json[]);
    return send(res, 200, operation);
  }
  if (req.method === 'GET' && path === '/v1beta/batches') return send(res, 200, { operations: [...batches.values()] });
  if ((match = /^\/v1beta\/(batches\/[^/:]+)(:cancel)?$/.exec(path))) {
    const batch = batches.get(match[1]);
    if (!batch) return googleError(res, 404, 'NOT_FOUND', `Batch ${match[1]} not found.`);
    if (req.method === 'DELETE') {
      batches.delete(match[1]);
      return send(res, 200, {});
    }
    if (match[2]) {
      (batch.metadata as Json).state = 'BATCH_STATE_CANCELLED';
      return send(res, 200, {});
    }
    runInline(batch);
    return send(res, 200, batch);
  }
  googleError(res, 404, 'NOT_FOUND', `no route ${req.method} ${path}`);
};

/** The inline requests of a Gemini batch, which run the first time the batch is read after its creation. */
const inlineRequests = new WeakMap<Json, Json[]>();

/**
 * A pending inline batch, run: each request answered with its last user text (a request without contents fails, as
 * Gemini's validation fails it), the responses inlined in the batch's output and the operation's response.
 */
function runInline(operation: Json): void {
  const requests = inlineRequests.get(operation);
  const metadata = operation.metadata as Json;
  if (!requests || metadata.state !== 'BATCH_STATE_PENDING') return;
  const responses = requests.map((item) => {
    const contents = ((item.request as Json | undefined)?.contents ?? []) as { parts?: { text?: string }[] }[];
    if (contents.length === 0) return { error: { code: 3, message: 'contents is required', status: 'INVALID_ARGUMENT' }, metadata: item.metadata };
    const text = (contents.at(-1)!.parts ?? []).map((part) => part.text ?? '').join('');
    return { metadata: item.metadata, response: { candidates: [{ content: { role: 'model', parts: [{ text: `batched: ${text}` }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 }, modelVersion: String(metadata.model).replace(/^models\//, ''),
      responseId: randomBytes(6).toString('hex') } };
  });
  const failed = responses.filter((item) => 'error' in item).length;
  const output = { inlinedResponses: { inlinedResponses: responses } };
  Object.assign(metadata, { state: 'BATCH_STATE_SUCCEEDED', endTime: new Date().toISOString(), output,
    batchStats: { requestCount: String(requests.length), successfulRequestCount: String(requests.length - failed), failedRequestCount: String(failed) } });
  Object.assign(operation, { done: true, response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput', ...output } });
}

// ---------------------------------------------------------------------------------------------------------------
// Bedrock (control plane) and S3 (path-style), on one host as a configured base_url puts them

const awsError = (res: ServerResponse, status: number, type: string, message: string) =>
  send(res, status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });

const s3Error = (res: ServerResponse, status: number, code: string, message: string) => {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
};

/** The SigV4 signing name a request was signed for (`Credential=AKID/date/region/service/aws4_request`), or null. */
const signedFor = (headers: IncomingHttpHeaders) => /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(headers.authorization ?? '')?.[1] ?? null;

const CONTROL_PLANE = /^\/model-invocation-job/;

const bedrock: Handler = (req, res, body, account, store, url) => {
  const objects = store.filesOf(account);
  const jobs = store.batchesOf(account);
  const path = url.pathname;
  let match: RegExpExecArray | null;
  // One host serves both here (a configured base_url); AWS's two services take only requests signed for them.
  const service = signedFor(req.headers);
  const wanted = CONTROL_PLANE.test(path) ? 'bedrock' : 's3';
  if (service !== null && service !== wanted) {
    if (wanted === 'bedrock') return awsError(res, 403, 'InvalidSignatureException', `Credential should be scoped to correct service: '${wanted}'.`);
    return s3Error(res, 403, 'SignatureDoesNotMatch', `The request signature is for service '${service}', not 's3'`);
  }
  if (req.method === 'POST' && path === '/model-invocation-job') {
    const request = JSON.parse(body.toString()) as Json & { inputDataConfig?: { s3InputDataConfig?: { s3Uri?: string } } };
    const input = request.inputDataConfig?.s3InputDataConfig?.s3Uri ?? '';
    const object = /^s3:\/\/(.+)$/.exec(input)?.[1];
    if (!request.jobName || !request.roleArn || !request.modelId || !object) return awsError(res, 400, 'ValidationException', 'jobName, roleArn, modelId and inputDataConfig are required');
    if (!objects.has(object)) return awsError(res, 400, 'ValidationException', `The input ${input} does not exist`);
    const jobId = randomBytes(6).toString('hex');
    const jobArn = `arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/${jobId}`;
    jobs.set(jobId, { jobArn, jobName: request.jobName, modelId: request.modelId, roleArn: request.roleArn, status: 'Submitted',
      submitTime: new Date().toISOString(), lastModifiedTime: new Date().toISOString(), inputDataConfig: request.inputDataConfig,
      outputDataConfig: request.outputDataConfig, ...(request.timeoutDurationInHours === undefined ? {} : { timeoutDurationInHours: request.timeoutDurationInHours }),
      jobExpirationTime: new Date(Date.now() + 24 * 3600_000).toISOString() });
    return send(res, 200, { jobArn });
  }
  if (req.method === 'GET' && path === '/model-invocation-jobs') {
    const all = [...jobs.values()];
    if (url.searchParams.get('sortOrder') === 'Descending') all.reverse();
    const max = Number(url.searchParams.get('maxResults') ?? all.length);
    return send(res, 200, { invocationJobSummaries: all.slice(0, max), ...(all.length > max ? { nextToken: 'more' } : {}) });
  }
  if ((match = /^\/model-invocation-job\/([^/]+)(\/stop)?$/.exec(path))) {
    const identifier = decodeURIComponent(match[1]);
    const job = jobs.get(identifier.slice(identifier.lastIndexOf('/') + 1));
    if (!job) return awsError(res, 404, 'ResourceNotFoundException', `Could not find job ${identifier}`);
    if (match[2] && req.method === 'POST') {
      job.status = 'Stopping';
      return send(res, 200, {});
    }
    return send(res, 200, job);
  }
  // S3, path-style: /{bucket}/{key}
  const [bucket, ...rest] = path.slice(1).split('/');
  const key = rest.join('/');
  if (req.method === 'GET' && !key && url.searchParams.get('list-type') === '2') {
    // ListObjectsV2: keys in UTF-8 binary order, after `start-after`, at most `max-keys` (1000 by default).
    const prefix = url.searchParams.get('prefix') ?? '';
    const after = url.searchParams.get('start-after') ?? '';
    const max = Number(url.searchParams.get('max-keys') ?? 1000);
    const matching = [...objects.values()].filter((object) => object.id.startsWith(`${bucket}/${prefix}`) && object.id.slice(bucket.length + 1) > after)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const contents = matching.slice(0, max).map((object) => `<Contents><Key>${object.id.slice(bucket.length + 1)}</Key>`
      + `<LastModified>${new Date(object.createdAt * 1000).toISOString()}</LastModified><ETag>"${etag(object.bytes)}"</ETag>`
      + `<Size>${object.bytes.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`);
    res.writeHead(200, { 'content-type': 'application/xml' });
    return void res.end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${bucket}</Name><Prefix>${prefix}</Prefix>`
      + `<KeyCount>${contents.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${matching.length > max}</IsTruncated>${contents.join('')}</ListBucketResult>`);
  }
  if (!bucket || !key) return s3Error(res, 400, 'InvalidRequest', 'bucket and key are required');
  const objectId = `${bucket}/${decodeURIComponent(key)}`;
  if (req.method === 'PUT') {
    objects.set(objectId, { id: objectId, name: key, mimeType: req.headers['content-type'] ?? 'binary/octet-stream', bytes: Buffer.from(body),
      purpose: '', createdAt: now() });
    res.writeHead(200, { etag: `"${etag(body)}"` });
    return void res.end();
  }
  const object = objects.get(objectId);
  if (!object) return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
  if (req.method === 'DELETE') {
    objects.delete(objectId);
    res.writeHead(204);
    return void res.end();
  }
  res.writeHead(200, { 'content-type': object.mimeType, etag: `"${etag(object.bytes)}"`, 'last-modified': new Date(object.createdAt * 1000).toUTCString() });
  res.end(object.bytes);
};

/** The last user turn's text of an InvokeModel body of either family (Anthropic's or Nova's messages). */
function lastUserText(input: Json): string {
  const messages = Array.isArray(input.messages) ? input.messages as Json[] : [];
  const content = messages.findLast((message) => message.role === 'user')?.content;
  if (typeof content === 'string') return content;
  return Array.isArray(content) ? (content as Json[]).map((block) => (typeof block.text === 'string' ? block.text : '')).join('') : '';
}

/** Why Bedrock would refuse a record's modelInput for the job's model, as InvokeModel's validation says it; null: none. */
function invalidInput(modelId: string, input: Json): string | null {
  if (/anthropic\.claude/.test(modelId)) {
    if (input.anthropic_version !== 'bedrock-2023-05-31') return 'anthropic_version: bedrock-2023-05-31 is required';
    if (typeof input.max_tokens !== 'number') return 'max_tokens: required';
    const extraneous = Object.keys(input).filter((name) => !['anthropic_version', 'anthropic_beta', 'max_tokens', 'messages', 'system', 'temperature', 'top_p',
      'top_k', 'stop_sequences', 'tools', 'tool_choice', 'thinking'].includes(name));
    if (extraneous.length > 0) return `extraneous key [${extraneous[0]}] is not permitted`;
  } else if (/amazon\.nova/.test(modelId)) {
    if (input.schemaVersion !== 'messages-v1') return 'schemaVersion: messages-v1 is required';
    const config = (input.inferenceConfig ?? {}) as Json;
    const unknown = Object.keys(config).filter((name) => !['max_new_tokens', 'temperature', 'top_p', 'top_k', 'stopSequences'].includes(name));
    if (unknown.length > 0) return `inferenceConfig.${unknown[0]} is not a valid field`;
  } else {
    return `the fake runs no batches for ${modelId}`;
  }
  return Array.isArray(input.messages) && input.messages.length > 0 ? null : 'messages: required';
}

/** A record's output, as the model's InvokeModel answers: a user turn saying "please fail" makes it fail. */
function recordOutput(modelId: string, input: Json): Json {
  const text = lastUserText(input);
  const invalid = invalidInput(modelId, input);
  if (invalid) return { error: { errorCode: 400, errorMessage: `Malformed input request: ${invalid}` } };
  if (text.includes('please fail')) return { error: { errorCode: 500, errorMessage: 'ModelErrorException: the model failed' } };
  if (/anthropic\.claude/.test(modelId)) {
    return { modelOutput: { id: `msg_bdrk_${randomBytes(6).toString('hex')}`, type: 'message', role: 'assistant', model: 'claude-3-haiku-20240307',
      content: [{ type: 'text', text: `batched: ${text}` }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 11, output_tokens: 4 } } };
  }
  return { modelOutput: { output: { message: { role: 'assistant', content: [{ text: `batched: ${text}` }] } }, stopReason: 'end_turn',
    usage: { inputTokens: 9, outputTokens: 4, totalTokens: 13 } } };
}

/**
 * Runs a job as Bedrock does: each record of its input object through the model, the outputs written to
 * `{output uri}/{job id}/{input name}.out` with a `manifest.json.out` of the counts beside it.
 */
function runJob(job: Json, objects: Map<string, StoredFile>): void {
  const input = ((job.inputDataConfig as Json).s3InputDataConfig as Json).s3Uri as string;
  const output = ((job.outputDataConfig as Json).s3OutputDataConfig as Json).s3Uri as string;
  const source = objects.get(input.slice('s3://'.length));
  const jobId = String(job.jobArn).slice(String(job.jobArn).lastIndexOf('/') + 1);
  const dir = `${output.slice('s3://'.length).replace(/\/?$/, '/')}${jobId}/`;
  const lines = (source?.bytes.toString('utf8') ?? '').split('\n').filter((line) => line.trim() !== '');
  const results = lines.map((line) => {
    const record = JSON.parse(line) as Json;
    return { recordId: record.recordId, modelInput: record.modelInput, ...recordOutput(String(job.modelId), (record.modelInput ?? {}) as Json) };
  });
  const failed = results.filter((result) => 'error' in result).length;
  const put = (id: string, text: string) => objects.set(id, { id, name: id.slice(id.indexOf('/') + 1), mimeType: 'binary/octet-stream',
    bytes: Buffer.from(text), purpose: '', createdAt: now() });
  put(`${dir}${input.slice(input.lastIndexOf('/') + 1)}.out`, results.map((result) => JSON.stringify(result)).join('\n') + '\n');
  put(`${dir}manifest.json.out`, JSON.stringify({ totalRecordCount: results.length, processedRecordCount: results.length,
    successRecordCount: results.length - failed, errorRecordCount: failed, inputTokenCount: 11 * results.length, outputTokenCount: 4 * results.length }));
  Object.assign(job, { status: !source ? 'Failed' : failed === 0 ? 'Completed' : failed === results.length ? 'Failed' : 'PartiallyCompleted',
    endTime: new Date().toISOString(), lastModifiedTime: new Date().toISOString(),
    ...(!source ? { message: `The input ${input} does not exist` } : failed > 0 ? { message: `${failed} of ${results.length} records failed` } : {}) });
}

const etag = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

const HANDLERS: Record<FilesWire, Handler> = { openai, azure, anthropic, gemini, vertex, bedrock };

export async function startFakeFiles(wire: FilesWire): Promise<FakeFiles> {
  const store = new Accounts();
  const handler = HANDLERS[wire];
  const fake = await FakeServer.start<FilesRecordedRequest, object>((req, res, _text, bytes) => {
    const account = accountOf(req.headers);
    fake.record({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, account, bodyBytes: bytes.length });
    try {
      handler(req, res, bytes, account, store, new URL(req.url ?? '/', 'http://fake'));
    } catch (error) {
      send(res, 500, { error: { message: `the fake failed: ${(error as Error).message}` } });
    }
  });
  return {
    wire,
    url: fake.url,
    port: fake.port,
    requests: fake.requests,
    script: fake.script,
    requestsWithId: fake.requestsWithId,
    waitForRequests: fake.waitForRequests,
    reset: () => fake.reset(),
    close: () => fake.close(),
    filesOf: (account) => [...store.filesOf(account).values()],
    ownerOf: (wanted) => {
      for (const [account, files] of store.files) if (files.has(wanted)) return account;
      for (const [account, batches] of store.batches) {
        if (batches.has(wanted) || [...batches.values()].some((batch) => batch.jobArn === wanted)) return account;
      }
      return null;
    },
    finishJobs: () => {
      for (const [account, jobs] of store.batches) {
        for (const job of jobs.values()) if (['Submitted', 'Validating', 'Scheduled', 'InProgress'].includes(String(job.status))) runJob(job, store.filesOf(account));
      }
    },
  };
}
