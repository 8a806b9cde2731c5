// Vertex AI's batch prediction (`batchPredictionJobs`) under /genai, as `@google/genai` calls it in Vertex mode
// (`vertexai: true`, its baseUrl at the gateway's /genai): `batches.create`, `list`, `get`, `cancel`, `delete`, at
// `/{v1,v1beta1}/projects/{project}/locations/{location}/batchPredictionJobs[/{id}[:cancel]]`. They reach the vertex
// provider, under the project and region of the key that serves them (the client's are its business with Google, as
// its credentials are), and a job is served by the key that made it afterwards.
//
// A job reads its requests from Cloud Storage (`gs://` JSONL) or BigQuery (`bq://` table) and writes its predictions
// there: Heimdall holds no such storage, so it passes the URIs on and the vertex key's service account must be able to
// read and write them. A job without them (the SDK's inline requests, which Vertex itself has no form for) is a 400
// naming what is needed.

import type { FilesApi } from '../contract/providers.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest, Route } from '../http/server.js';
import {
  filesRoute, isJsonObject, jsonBody, queryWithoutProvider, type FilesDeps, type FilesOperation, type FilesRouteApi, type PreparedCall,
} from '../pipeline/files.js';
import { genaiErrorBody } from './genai-answer.js';

const API: FilesApi = 'vertex';
const JOBS = 'batchPredictionJobs';

const invalid = (message: string, param: string): GatewayError => new GatewayError('INVALID_REQUEST', message, { param });

const STORAGE = 'Vertex AI batch prediction reads its requests from Cloud Storage or BigQuery and writes its predictions there; '
  + 'Heimdall holds no such storage, so upload the JSONL to a bucket (or load a table) that the vertex key\'s service account can '
  + 'read and write, and name it';

/** A Cloud Storage URI with a bucket, or a BigQuery URI with a project. */
const GCS = /^gs:\/\/[^/]+/;
const BIGQUERY = /^bq:\/\/[^/.]+\./;
const names = (value: unknown, form: RegExp): boolean => typeof value === 'string' && form.test(value);

function checkStorage(body: Record<string, unknown>): void {
  const input = isJsonObject(body.inputConfig) ? body.inputConfig : null;
  const uris = input && isJsonObject(input.gcsSource) ? input.gcsSource.uris : undefined;
  const table = input && isJsonObject(input.bigquerySource) ? input.bigquerySource.inputUri : undefined;
  const gcs = Array.isArray(uris) && uris.length > 0 && uris.every((uri) => names(uri, GCS));
  if (!gcs && !names(table, BIGQUERY)) {
    throw invalid(`${STORAGE}: inputConfig.gcsSource.uris (gs://…) or inputConfig.bigquerySource.inputUri (bq://…)`, 'inputConfig');
  }
  const output = isJsonObject(body.outputConfig) ? body.outputConfig : null;
  const prefix = output && isJsonObject(output.gcsDestination) ? output.gcsDestination.outputUriPrefix : undefined;
  const outTable = output && isJsonObject(output.bigqueryDestination) ? output.bigqueryDestination.outputUri : undefined;
  if (!names(prefix, GCS) && !names(outTable, BIGQUERY)) {
    throw invalid(`${STORAGE}: outputConfig.gcsDestination.outputUriPrefix (gs://…) or outputConfig.bigqueryDestination.outputUri (bq://…)`,
      'outputConfig');
  }
}

/** `publishers/google/models/gemini-2.0-flash` (or a bare name) → the model the key must allow. */
function modelOf(body: Record<string, unknown>): string {
  if (typeof body.model !== 'string' || body.model === '') throw invalid("'model' is required: the model that answers the requests", 'model');
  return body.model.slice(body.model.lastIndexOf('/') + 1);
}

function createCall(request: IncomingRequest): PreparedCall {
  const body = jsonBody(request);
  const model = modelOf(body);
  checkStorage(body);
  return { model, upstream: { method: 'POST', path: `/${JOBS}`, query: '', contentType: 'application/json', body: Buffer.from(JSON.stringify(body)) } };
}

/** The job id in `…/batchPredictionJobs/{id}[:cancel]`, and whether the call cancels it. */
function jobOf(request: IncomingRequest): { id: string; cancel: boolean } {
  const segment = request.path.slice(request.path.lastIndexOf('/') + 1);
  const cancel = segment.endsWith(':cancel');
  const id = cancel ? segment.slice(0, -':cancel'.length) : segment;
  if (!/^\d+$/.test(id)) throw invalid(`'${id}' is not a batch prediction job id (a number)`, 'name');
  return { id, cancel };
}

/** The gateway's key for a job's id: its number, which Vertex names under the project that ran it. */
const ownerKey = (id: string) => `${JOBS}/${id}`;

/** The jobs an answer names (one job, or a list's `batchPredictionJobs`), by ownerKey. */
function jobsIn(json: unknown): string[] {
  if (!isJsonObject(json)) return [];
  const jobs = Array.isArray(json[JOBS]) ? json[JOBS] as unknown[] : [json];
  return jobs.flatMap((job) => {
    const name = isJsonObject(job) && typeof job.name === 'string' ? /batchPredictionJobs\/(\d+)$/.exec(job.name) : null;
    return name ? [ownerKey(name[1])] : [];
  });
}

function operations(version: string): FilesOperation[] {
  const base = `/genai/${version}/projects/:project/locations/:location/${JOBS}`;
  const label = `/genai/${version}/projects/{project}/locations/{location}/${JOBS}`;
  const about = (request: IncomingRequest, method: 'GET' | 'POST' | 'DELETE', suffix = ''): PreparedCall => {
    const { id } = jobOf(request);
    return { id: ownerKey(id), upstream: { method, path: `/${JOBS}/${id}${suffix}`, query: method === 'GET' ? queryWithoutProvider(request.query) : '',
      contentType: method === 'POST' ? 'application/json' : null, body: method === 'POST' ? Buffer.from('{}') : null } };
  };
  const remembered = (json: unknown) => ({ remember: jobsIn(json) });
  return [
    { method: 'post', path: base, label, readBody: true, prepare: createCall, learn: remembered },
    { method: 'get', path: base, label, readBody: false, lists: true, learn: remembered,
      prepare: (request) => ({ upstream: { method: 'GET', path: `/${JOBS}`, query: queryWithoutProvider(request.query), contentType: null, body: null } }) },
    { method: 'get', path: `${base}/:id`, label: `${label}/{id}`, readBody: false, prepare: (request) => about(request, 'GET'), learn: remembered },
    { method: 'post', path: `${base}/:id`, label: `${label}/{id}:cancel`, readBody: true, prepare: (request) => {
      if (!jobOf(request).cancel) throw new GatewayError('UNKNOWN_ROUTE', `no batch prediction operation at ${request.path}; cancel is POST …/{id}:cancel`);
      return about(request, 'POST', ':cancel');
    } },
    { method: 'delete', path: `${base}/:id`, label: `${label}/{id}`, readBody: false, prepare: (request) => about(request, 'DELETE'),
      learn: (_json, prepared) => ({ forget: prepared.id ? [prepared.id] : [] }) },
  ];
}

const VERTEX_JOBS: FilesRouteApi = Object.freeze({
  api: API,
  defaultProvider: 'vertex',
  errorBody: (error: Parameters<typeof genaiErrorBody>[0]) => genaiErrorBody(error),
  forwardHeaders: [],
});

export function vertexBatchRoutes(deps: FilesDeps): Route[] {
  return ['v1', 'v1beta1'].flatMap((version) => operations(version).map((operation) => filesRoute(deps, VERTEX_JOBS, operation)));
}
