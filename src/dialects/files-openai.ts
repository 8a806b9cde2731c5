// OpenAI's Files and Batch APIs on /v1, /openai/v1 and /openai, as the `openai` SDK calls them: upload (multipart),
// list, retrieve, content and delete a file; create, list, retrieve and cancel a batch, and Bifrost's
// `GET /v1/batches/{id}/results` (the batch's output file, once it has one). They reach a provider whose files API
// is OpenAI's. As in Bifrost, the provider is named by the `x-model-provider` header, a `provider` field (the
// SDK's `extra_body`, a form part of an upload) or query parameter, or a batch's `model` as `provider/model`; on the
// SDK's drop-in prefixes a call that names none goes to `openai` (to `azure` when it comes from `AzureOpenAI`, which
// sends `api-version`), on /v1 it must name one. A call about an id goes to the provider and key that made it,
// whatever it names.

import type { ProviderConfig } from '../config/types.js';
import { PROVIDER_FACTS, type FilesApi } from '../contract/providers.js';
import { HeldFiles } from '../pipeline/held-files.js';
import {
  countsCall, heldBatchCall, heldFileCall, holdUpload, namedProvider, resultsCall, servesTranslated, translatedFor, type TranslatedOperation,
} from './files-openai-translated.js';
import { GatewayError, openAIErrorBody } from '../errors/gateway-error.js';
import { hasApiVersion } from './azure.js';
import { azureBatchCreate, azureFilesProvider, azureUpload } from './files-azure.js';
import type { IncomingRequest, Route } from '../http/server.js';
import {
  bodyAsIs, filesRoute, idsOf, isJsonObject, jsonBody, queryWithoutProvider, segmentAfter, type FilesDeps, type FilesOperation,
  type FilesRouteApi, type PreparedCall,
} from '../pipeline/files.js';

const API: FilesApi = 'openai';

/** What the operations need besides the request: the providers, and the batch files the gateway holds. */
interface Context {
  readonly deps: FilesDeps;
  readonly held: HeldFiles;
}

/**
 * An upload's form, without the gateway's own `provider` part (re-encoded only when it had one); for a provider
 * served through its own batch API, held by the gateway.
 */
async function uploadCall(request: IncomingRequest, ctx: Context): Promise<PreparedCall> {
  const asIs = bodyAsIs(request);
  if (!asIs.contentType || !/^multipart\/form-data/i.test(asIs.contentType)) {
    throw new GatewayError('INVALID_REQUEST', `upload the file as multipart/form-data with 'file' and 'purpose' parts (got content-type '${asIs.contentType ?? ''}')`);
  }
  let form: FormData;
  try {
    form = await new Response(asIs.body ?? new Uint8Array(0), { headers: { 'content-type': asIs.contentType } }).formData();
  } catch (error) {
    throw new GatewayError('INVALID_REQUEST', `the multipart body could not be read: ${(error as Error).message}`);
  }
  if (!(form.get('file') instanceof Blob)) throw new GatewayError('INVALID_REQUEST', "'file' is required: the file as a part of the form", { param: 'file' });
  const provider = form.get('provider');
  const named = ctx.deps.providers.get(namedProvider(request, provider) ?? '');
  if (named && servesTranslated(named)) return holdUpload(ctx.held, named, form);
  const upstream = { method: 'POST' as const, path: '/v1/files', query: '', ...asIs };
  if (typeof provider !== 'string') return { upstream };
  form.delete('provider');
  const encoded = new Response(form);
  return { provider, upstream: { ...upstream, contentType: encoded.headers.get('content-type'), body: new Uint8Array(await encoded.arrayBuffer()) } };
}

function batchCreateCall(request: IncomingRequest, ctx: Context): PreparedCall {
  const body = jsonBody(request);
  const provider = typeof body.provider === 'string' ? body.provider : null;
  const model = typeof body.model === 'string' ? body.model : null;
  const inputFile = typeof body.input_file_id === 'string' ? body.input_file_id : null;
  if (!inputFile) throw new GatewayError('INVALID_REQUEST', "'input_file_id' is required: the id of an uploaded JSONL file", { param: 'input_file_id' });
  const held = ctx.held.get(inputFile);
  if (held) return heldBatchCall(held, model);
  // `provider` and `model` are the gateway's (Bifrost's `extra_body` fields): OpenAI's batch takes neither.
  const { provider: _provider, model: _model, ...rest } = body;
  return { provider, model, refersTo: inputFile, upstream: { method: 'POST', path: '/v1/batches', query: '',
    contentType: 'application/json', body: Buffer.from(JSON.stringify(rest)) } };
}

const get = (path: string, query: string, id: string | null = null): PreparedCall =>
  ({ id, upstream: { method: 'GET', path, query: queryWithoutProvider(query), contentType: null, body: null } });

const remembered = (json: unknown) => ({ remember: idsOf(json) });

/** A batch's id, and its output and error files', which live in the batch's account: `files.content` reads them. */
function batchFiles(json: unknown): { remember: string[] } {
  const batches = isJsonObject(json) ? (Array.isArray(json.data) ? json.data : [json]) : [];
  const files = batches.flatMap((batch) => (isJsonObject(batch) ? [batch.output_file_id, batch.error_file_id] : []))
    .filter((id): id is string => typeof id === 'string' && id !== '');
  return { remember: [...idsOf(json), ...files] };
}

function operations(prefix: string, ctx: Context): FilesOperation[] {
  const { held } = ctx;
  const fileId = (request: IncomingRequest) => segmentAfter(request.path, '/files/');
  const batchId = (request: IncomingRequest) => segmentAfter(request.path, '/batches/');
  const fileCall = (request: IncomingRequest, what: 'retrieve' | 'content' | 'delete', call: () => PreparedCall) =>
    heldFileCall(held, fileId(request), what) ?? call();
  const translated = (operation: TranslatedOperation) => (prepared: PreparedCall, provider: ProviderConfig) =>
    translatedFor(operation, held, prepared, provider);
  return [
    { method: 'post', path: `${prefix}/files`, readBody: true, prepare: (request) => uploadCall(request, ctx), learn: remembered,
      forTarget: (prepared, provider, keyIndex) => translatedFor('upload', held, prepared, provider) ?? azureUpload(prepared.upstream, provider, keyIndex) },
    { method: 'get', path: `${prefix}/files`, readBody: false, lists: true, prepare: (request) => get('/v1/files', request.query), learn: remembered,
      forTarget: translated('files-list') },
    { method: 'get', path: `${prefix}/files/:id`, label: `${prefix}/files/{id}`, readBody: false, forTarget: translated('file'),
      prepare: (request) => fileCall(request, 'retrieve', () => get(`/v1/files/${encodeURIComponent(fileId(request))}`, request.query, fileId(request))) },
    { method: 'get', path: `${prefix}/files/:id/content`, label: `${prefix}/files/{id}/content`, readBody: false, forTarget: translated('file-content'),
      prepare: (request) => fileCall(request, 'content',
        () => get(`/v1/files/${encodeURIComponent(fileId(request))}/content`, request.query, fileId(request))) },
    { method: 'delete', path: `${prefix}/files/:id`, label: `${prefix}/files/{id}`, readBody: false, forTarget: translated('file'),
      prepare: (request) => fileCall(request, 'delete', () => ({ ...get(`/v1/files/${encodeURIComponent(fileId(request))}`, request.query, fileId(request)),
        upstream: { method: 'DELETE', path: `/v1/files/${encodeURIComponent(fileId(request))}`, query: '', contentType: null, body: null } })),
      learn: (_json, prepared) => ({ forget: prepared.id ? [prepared.id] : [] }) },
    { method: 'post', path: `${prefix}/batches`, readBody: true, prepare: (request) => batchCreateCall(request, ctx),
      learn: (json, prepared) => {
        const learned = batchFiles(json);
        const input = prepared.upstream.inputFileId;
        if (input) for (const id of idsOf(json)) held.noteBatch(id, input);
        return learned;
      },
      forTarget: (prepared, provider) => translatedFor('batch-create', held, prepared, provider) ?? azureBatchCreate(prepared.upstream, provider) },
    { method: 'get', path: `${prefix}/batches`, readBody: false, lists: true, prepare: (request) => get('/v1/batches', request.query), learn: batchFiles,
      forTarget: translated('batches-list') },
    { method: 'get', path: `${prefix}/batches/:id`, label: `${prefix}/batches/{id}`, readBody: false, forTarget: translated('batch'),
      prepare: (request) => get(`/v1/batches/${encodeURIComponent(batchId(request))}`, request.query, batchId(request)), learn: batchFiles,
      followUp: countsCall },
    { method: 'post', path: `${prefix}/batches/:id/cancel`, label: `${prefix}/batches/{id}/cancel`, readBody: true, forTarget: translated('batch-cancel'),
      prepare: (request) => ({ id: batchId(request), upstream: { method: 'POST', path: `/v1/batches/${encodeURIComponent(batchId(request))}/cancel`,
        query: '', contentType: null, body: null } }) },
    // Bifrost's: the batch's results, which OpenAI keeps in the batch's output file.
    { method: 'get', path: `${prefix}/batches/:id/results`, label: `${prefix}/batches/{id}/results`, readBody: false, forTarget: translated('batch-results'),
      prepare: (request) => get(`/v1/batches/${encodeURIComponent(batchId(request))}`, '', batchId(request)),
      followUp: (json, provider) => {
        // Not JSON: the results themselves, from a provider whose batch API answers them at once.
        if (json === undefined) return null;
        const output = isJsonObject(json) ? json.output_file_id : undefined;
        if (typeof output !== 'string' || output === '') {
          const status = isJsonObject(json) && typeof json.status === 'string' ? json.status : 'unknown';
          throw new GatewayError('INVALID_REQUEST', `the batch has no results yet (status '${status}'); ask again once it is completed`);
        }
        return resultsCall(output, provider);
      } },
  ];
}

/**
 * On the drop-in prefixes, an `AzureOpenAI` client's call (it sends `api-version`) goes to the azure provider unless
 * the call names another; the uploads and batches an azure provider gets are put in its terms (files-azure.ts).
 */
function withAzure(operation: FilesOperation, deps: FilesDeps): FilesOperation {
  const named = (prepared: PreparedCall, request: IncomingRequest): PreparedCall =>
    (prepared.provider || !hasApiVersion(request) ? prepared : { ...prepared, provider: azureFilesProvider(deps.providers) });
  return { ...operation, prepare: (request) => {
    const prepared = operation.prepare(request);
    return prepared instanceof Promise ? prepared.then((ready) => named(ready, request)) : named(prepared, request);
  } };
}

/** Where a provider with a files or batches API of its own, which these routes do not translate to, serves it. */
const OWN_ROUTES: Readonly<Partial<Record<FilesApi, string>>> = {
  vertex: 'its batch prediction reads and writes Cloud Storage or BigQuery: use /genai/v1/projects/{project}/locations/{location}/batchPredictionJobs',
};

/** The providers these routes reach: OpenAI's files API natively, or OpenAI's Batch API through their own. */
function refuses(provider: ProviderConfig): string | null {
  const facts = PROVIDER_FACTS[provider.adapter]?.capabilities;
  if (provider.name === provider.adapter && (facts?.files === API || facts?.openAIBatches)) return null;
  const serves = Object.entries(PROVIDER_FACTS).filter(([, f]) => f.capabilities.files === API || f.capabilities.openAIBatches).map(([id]) => id);
  const own = provider.name === provider.adapter && facts?.files ? OWN_ROUTES[facts.files] : undefined;
  return `provider '${provider.name}' cannot serve this files or batches API${own ? ` (${own})` : ''}; on these routes it is served by: ${serves.join(', ')}`;
}

const shape = { errorBody: (error: Parameters<typeof openAIErrorBody>[0]) => openAIErrorBody(error), forwardHeaders: [], refuses };
const ON_V1: FilesRouteApi = Object.freeze({ api: API, defaultProvider: null, ...shape });
const DROP_IN: FilesRouteApi = Object.freeze({ api: API, defaultProvider: 'openai', ...shape });

/** `maxHeldBytes`: the batch files the gateway holds for providers served through their own batch API, together. */
export function openAIFilesRoutes(deps: FilesDeps, maxHeldBytes: number): Route[] {
  const ctx: Context = { deps, held: new HeldFiles(maxHeldBytes) };
  return [
    ...operations('/v1', ctx).map((operation) => filesRoute(deps, ON_V1, operation)),
    ...['/openai/v1', '/openai'].flatMap((prefix) => operations(prefix, ctx).map((operation) => filesRoute(deps, DROP_IN, withAzure(operation, deps)))),
  ];
}
