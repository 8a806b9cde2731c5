// OpenAI's Batch API for a provider whose batch API is not OpenAI's (capability `openAIBatches`: Anthropic's Message
// Batches), as Bifrost serves it: the client uploads its batch JSONL through /v1/files naming that provider, creates
// the batch, polls it and reads its output file with the `openai` SDK. The provider keeps no such file, so the
// gateway holds it (held-files.ts); a batch created from it sends its lines to the provider's batch API, each chat
// request in the provider's terms, and the batch, its list and its output come back in OpenAI's shapes
// (FilesRequest.translate, which the provider's adapter writes and reads). A provider whose batches read a file of
// its own (capability `storesOpenAIBatchFiles`: Bedrock's jobs read S3) gets the upload itself, to write in its batch
// format, and serves the file's calls; a batch's results are then its output file. What has no counterpart there
// (listing or uploading other files) is a 400 that says so.

import { BATCH_OUTPUT_FILE_PREFIX, type OpenAIBatchStep } from '../contract/messages.js';
import { PROVIDER_FACTS } from '../contract/providers.js';
import type { ProviderConfig } from '../config/types.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest } from '../http/server.js';
import { isJsonObject, PROVIDER_HEADER, type PreparedCall } from '../pipeline/files.js';
import type { HeldFile, HeldFiles } from '../pipeline/held-files.js';

type Upstream = PreparedCall['upstream'];

const BATCH_URLS = ['/v1/chat/completions'];
/** OpenAI's own bound on a batch's requests. */
const MAX_LINES = 50_000;

/** Whether the provider serves OpenAI's Batch API through its own batch API. */
export const servesTranslated = (provider: ProviderConfig | undefined): boolean =>
  provider !== undefined && provider.name === provider.adapter && PROVIDER_FACTS[provider.adapter]?.capabilities.openAIBatches === true;

const refuse = (provider: string, what: string): GatewayError => new GatewayError('INVALID_REQUEST', `provider '${provider}' serves `
  + `OpenAI's Batch API through its own batch API, and keeps no OpenAI files: ${what}`, { param: 'provider' });

/** The provider an upload names: the header, the query, or the form's `provider` part. */
export function namedProvider(request: IncomingRequest, formPart: unknown): string | null {
  return request.headers[PROVIDER_HEADER] || new URLSearchParams(request.query).get('provider') || (typeof formPart === 'string' ? formPart : null);
}

/** The batch file's lines, checked as OpenAI checks them, so that the provider's batch is not refused half-made. */
function checkLines(text: string): void {
  const seen = new Set<string>();
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new GatewayError('INVALID_REQUEST', 'the batch file has no requests', { param: 'file' });
  if (lines.length > MAX_LINES) throw new GatewayError('INVALID_REQUEST', `the batch file has ${lines.length} requests; at most ${MAX_LINES}`, { param: 'file' });
  lines.forEach((line, i) => {
    const at = `line ${i + 1} of the batch file`;
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch (error) {
      throw new GatewayError('INVALID_REQUEST', `${at} is not JSON: ${(error as Error).message}`, { param: 'file' });
    }
    if (!isJsonObject(request) || typeof request.custom_id !== 'string' || request.custom_id === '') {
      throw new GatewayError('INVALID_REQUEST', `${at} needs a string custom_id`, { param: 'file' });
    }
    if (seen.has(request.custom_id)) throw new GatewayError('INVALID_REQUEST', `${at} repeats custom_id '${request.custom_id}'`, { param: 'file' });
    seen.add(request.custom_id);
    if (request.method !== 'POST' || !BATCH_URLS.includes(String(request.url))) {
      throw new GatewayError('INVALID_REQUEST', `${at}: only POST ${BATCH_URLS.join(', ')} is translated for this provider`, { param: 'file' });
    }
    const body = request.body;
    if (!isJsonObject(body) || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      throw new GatewayError('INVALID_REQUEST', `${at} needs a body with a model and messages`, { param: 'file' });
    }
  });
}

export const heldFileObject = (file: HeldFile) => ({ id: file.id, object: 'file', bytes: file.bytes.length, created_at: file.createdAt,
  filename: file.filename, purpose: 'batch', status: 'processed', expires_at: null, status_details: null });

const json = (status: number, body: unknown): PreparedCall =>
  ({ upstream: { method: 'GET', path: '', query: '', contentType: null, body: null },
    answerNow: { status, headers: {}, contentType: 'application/json', body: JSON.stringify(body) } });

/** Whether the provider keeps the batch file itself (Bedrock, in the key's S3 bucket) rather than the gateway. */
const storesFiles = (provider: ProviderConfig): boolean => PROVIDER_FACTS[provider.adapter]?.capabilities.storesOpenAIBatchFiles === true;

/** The batch file's lines, each model without the provider's `provider/` prefix (the provider knows it without). */
function bareLines(text: string, provider: string): string[] {
  const prefix = `${provider}/`;
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const request = JSON.parse(line) as { body: { model: string } };
    const bare = request.body.model.startsWith(prefix) ? request.body.model.slice(prefix.length) : request.body.model;
    return JSON.stringify({ ...request, body: { ...request.body, model: bare } });
  });
}

const modelOf = (line: string): string => (JSON.parse(line) as { body: { model: string } }).body.model;

/**
 * An upload for such a provider: a batch file, held, or for a provider that keeps it, sent there to be written in
 * its own batch format (one model per batch there, so one model per file); anything else has no counterpart.
 */
export async function holdUpload(held: HeldFiles, provider: ProviderConfig, form: FormData): Promise<PreparedCall> {
  const file = form.get('file');
  if (form.get('purpose') !== 'batch' || !(file instanceof File)) {
    throw refuse(provider.name, `upload batch input files (purpose 'batch'), which ${storesFiles(provider) ? 'it keeps' : 'the gateway holds for it'}`);
  }
  const bytes = Buffer.from(await file.arrayBuffer());
  checkLines(bytes.toString('utf8'));
  if (!storesFiles(provider)) return json(200, heldFileObject(held.hold(provider.name, file.name || 'batch.jsonl', bytes)));
  const lines = bareLines(bytes.toString('utf8'), provider.name);
  const models = [...new Set(lines.map(modelOf))];
  if (models.length > 1) {
    throw new GatewayError('INVALID_REQUEST', `provider '${provider.name}' runs one model per batch, and the batch file names `
      + `${models.length}: ${models.join(', ')}; upload one file per model`, { param: 'file' });
  }
  return { provider: provider.name, model: models[0], upstream: { method: 'PUT', path: '/v1/files', query: '', contentType: 'application/jsonl',
    body: Buffer.from(lines.join('\n') + '\n'), translate: 'upload', fileName: file.name || 'batch.jsonl' } };
}

/** A call about a held file: answered by the gateway. */
export function heldFileCall(held: HeldFiles, id: string, what: 'retrieve' | 'content' | 'delete'): PreparedCall | null {
  const file = held.get(id);
  if (!file) return null;
  if (what === 'delete') {
    held.delete(id);
    return json(200, { id, object: 'file', deleted: true });
  }
  if (what === 'retrieve') return json(200, heldFileObject(file));
  return { upstream: { method: 'GET', path: '', query: '', contentType: null, body: null },
    answerNow: { status: 200, headers: {}, contentType: 'application/jsonl', body: file.bytes.toString('utf8') } };
}

/** A batch of a held file: its lines, models without the `provider/` prefix, to the provider's batch API. */
export function heldBatchCall(file: HeldFile, model: string | null): PreparedCall {
  const lines = bareLines(file.bytes.toString('utf8'), file.provider);
  return { provider: file.provider, model: model ?? modelOf(lines[0]),
    upstream: { method: 'POST', path: '/v1/batches', query: '', contentType: 'application/jsonl', body: Buffer.from(lines.join('\n')),
      translate: 'create', inputFileId: file.id } };
}

/** The OpenAI operations, by what they do, as such a provider takes them. */
export type TranslatedOperation = 'upload' | 'files-list' | 'file' | 'file-content' | 'batch-create' | 'batches-list' | 'batch'
  | 'batch-cancel' | 'batch-results';

const STEPS: Partial<Record<TranslatedOperation, OpenAIBatchStep>> = { 'batches-list': 'list', batch: 'batch', 'batch-cancel': 'cancel',
  'batch-results': 'results' };

/**
 * The call as the chosen provider takes it: for a provider served through its own batch API, the translated step;
 * for any other, as prepared (a held file's batch cannot go to it).
 */
export function translatedFor(operation: TranslatedOperation, held: HeldFiles, prepared: PreparedCall, provider: ProviderConfig): Upstream | undefined {
  const upstream = prepared.upstream;
  if (!servesTranslated(provider)) {
    if (upstream.translate) {
      throw new GatewayError('INVALID_REQUEST', "the batch's input file is held for the provider its upload named, not "
        + `'${provider.name}'; create the batch without naming another provider`, { param: 'provider' });
    }
    return undefined;
  }
  if (storesFiles(provider)) return storedStep(operation, prepared, provider);
  const id = prepared.id ?? '';
  if (operation === 'batch-create') {
    if (upstream.translate === 'create') return undefined;
    throw refuse(provider.name, "upload the batch's input file through this gateway naming the provider, then create the batch from it");
  }
  if (operation === 'file-content' && id.startsWith(BATCH_OUTPUT_FILE_PREFIX)) {
    return { method: 'GET', path: `/v1/batches/${encodeURIComponent(id.slice(BATCH_OUTPUT_FILE_PREFIX.length))}`, query: '', contentType: null,
      body: null, translate: 'results' };
  }
  const step = STEPS[operation];
  if (!step) throw refuse(provider.name, 'this files call has no counterpart there');
  return { ...upstream, method: step === 'cancel' ? 'POST' : 'GET', translate: step, ...(step === 'batch' || step === 'cancel'
    ? { inputFileId: held.inputOf(id) } : {}) };
}

/**
 * The step for a provider that keeps the batch files: its files are its own (retrieved, read, deleted there), a
 * batch names its input file, and a batch's results are its output file, read once the batch is read.
 */
function storedStep(operation: TranslatedOperation, prepared: PreparedCall, provider: ProviderConfig): Upstream | undefined {
  const upstream = prepared.upstream;
  switch (operation) {
    case 'upload':
      if (upstream.translate === 'upload') return undefined;
      throw refuse(provider.name, 'upload batch input files naming the provider');
    case 'batch-create': {
      const input = prepared.refersTo ?? '';
      return { ...upstream, translate: 'create', inputFileId: input };
    }
    case 'file':
      return { ...upstream, translate: upstream.method === 'DELETE' ? 'file-delete' : 'file' };
    case 'file-content':
      return { ...upstream, translate: 'file-content' };
    case 'batch-results':
      return { ...upstream, method: 'GET', translate: 'batch' };
    case 'files-list':
      return { ...upstream, translate: 'files-list' };
    default: {
      const step = STEPS[operation]!;
      return { ...upstream, method: step === 'cancel' ? 'POST' : 'GET', translate: step };
    }
  }
}

/**
 * The call that reads a batch's results, once the batch (in OpenAI's shape) names its output file: the file's
 * content, translated for a provider that keeps it, else as OpenAI serves it.
 */
export function resultsCall(output: string, provider: ProviderConfig): Upstream {
  const call: Upstream = { method: 'GET', path: `/v1/files/${encodeURIComponent(output)}/content`, query: '', contentType: null, body: null };
  return servesTranslated(provider) && storesFiles(provider) ? { ...call, translate: 'file-content' } : call;
}

/**
 * For a provider that keeps the batch files, a finished batch's request counts are in a file beside its output
 * (Bedrock's manifest): the call that reads them into the batch, or null when there is nothing to read.
 */
export function countsCall(batch: unknown, provider: ProviderConfig): Upstream | null {
  if (!servesTranslated(provider) || !storesFiles(provider) || !isJsonObject(batch)) return null;
  const output = batch.output_file_id;
  if (typeof output !== 'string' || output === '') return null;
  return { method: 'GET', path: `/v1/files/${encodeURIComponent(output)}/content`, query: '', contentType: null, body: null, translate: 'counts',
    batch: JSON.stringify(batch) };
}
