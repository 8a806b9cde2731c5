// Anthropic's Files API (beta) and Message Batches under /anthropic, as `@anthropic-ai/sdk` calls them
// (`client.beta.files.*`, `client.messages.batches.*`): they reach a provider whose files API is Anthropic's, with
// the client's `anthropic-beta` flags. A batch's `results_url` points at the provider, whose results the SDK fetches
// from it directly: in the gateway's answers it points back at the gateway's own results route.

import type { FilesApi } from '../contract/providers.js';
import type { IncomingRequest, Route } from '../http/server.js';
import {
  bodyAsIs, filesRoute, gatewayOrigin, idsOf, isJsonObject, queryWithoutProvider, segmentAfter, type FilesDeps, type FilesOperation,
  type FilesRouteApi, type PreparedCall, type ProviderAnswer,
} from '../pipeline/files.js';
import { anthropicErrorBody } from './anthropic-wire.js';

const API: FilesApi = 'anthropic';
const PREFIX = '/anthropic';

const call = (method: 'GET' | 'POST' | 'DELETE', path: string, request: IncomingRequest, id: string | null = null): PreparedCall => ({
  id,
  upstream: { method, path, query: queryWithoutProvider(request.query), ...(method === 'GET' || method === 'DELETE'
    ? { contentType: null, body: null } : bodyAsIs(request)) },
});

const remembered = (json: unknown) => ({ remember: idsOf(json) });
const forgotten = (_json: unknown, prepared: PreparedCall) => ({ forget: prepared.id ? [prepared.id] : [] });

/** Each batch's `results_url` at the gateway's results route; the rest of the answer as the provider wrote it. */
function resultsHere(answer: ProviderAnswer, request: IncomingRequest): ProviderAnswer {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(answer.body).toString('utf8'));
  } catch {
    return answer;
  }
  const origin = gatewayOrigin(request);
  const point = (batch: unknown) => {
    if (isJsonObject(batch) && typeof batch.results_url === 'string' && typeof batch.id === 'string') {
      batch.results_url = `${origin}${PREFIX}/v1/messages/batches/${encodeURIComponent(batch.id)}/results`;
    }
  };
  point(json);
  if (isJsonObject(json) && Array.isArray(json.data)) json.data.forEach(point);
  return { ...answer, body: Buffer.from(JSON.stringify(json)) };
}

function operations(): FilesOperation[] {
  const fileId = (request: IncomingRequest) => segmentAfter(request.path, '/files/');
  const batchId = (request: IncomingRequest) => segmentAfter(request.path, '/batches/');
  const file = (request: IncomingRequest, rest = '') => `/v1/files/${encodeURIComponent(fileId(request))}${rest}`;
  const batch = (request: IncomingRequest, rest = '') => `/v1/messages/batches/${encodeURIComponent(batchId(request))}${rest}`;
  return [
    { method: 'post', path: `${PREFIX}/v1/files`, readBody: true, prepare: (request) => call('POST', '/v1/files', request), learn: remembered },
    { method: 'get', path: `${PREFIX}/v1/files`, readBody: false, lists: true, prepare: (request) => call('GET', '/v1/files', request), learn: remembered },
    { method: 'get', path: `${PREFIX}/v1/files/:id`, label: `${PREFIX}/v1/files/{id}`, readBody: false,
      prepare: (request) => call('GET', file(request), request, fileId(request)) },
    { method: 'get', path: `${PREFIX}/v1/files/:id/content`, label: `${PREFIX}/v1/files/{id}/content`, readBody: false,
      prepare: (request) => call('GET', file(request, '/content'), request, fileId(request)) },
    { method: 'delete', path: `${PREFIX}/v1/files/:id`, label: `${PREFIX}/v1/files/{id}`, readBody: false,
      prepare: (request) => call('DELETE', file(request), request, fileId(request)), learn: forgotten },
    { method: 'post', path: `${PREFIX}/v1/messages/batches`, readBody: true,
      prepare: (request) => call('POST', '/v1/messages/batches', request), learn: remembered, answer: resultsHere },
    { method: 'get', path: `${PREFIX}/v1/messages/batches`, readBody: false,
      lists: true, prepare: (request) => call('GET', '/v1/messages/batches', request), learn: remembered, answer: resultsHere },
    { method: 'get', path: `${PREFIX}/v1/messages/batches/:id`, label: `${PREFIX}/v1/messages/batches/{id}`, readBody: false,
      prepare: (request) => call('GET', batch(request), request, batchId(request)), answer: resultsHere },
    { method: 'post', path: `${PREFIX}/v1/messages/batches/:id/cancel`, label: `${PREFIX}/v1/messages/batches/{id}/cancel`, readBody: true,
      prepare: (request) => call('POST', batch(request, '/cancel'), request, batchId(request)), answer: resultsHere },
    { method: 'get', path: `${PREFIX}/v1/messages/batches/:id/results`, label: `${PREFIX}/v1/messages/batches/{id}/results`, readBody: false,
      prepare: (request) => call('GET', batch(request, '/results'), request, batchId(request)) },
    { method: 'delete', path: `${PREFIX}/v1/messages/batches/:id`, label: `${PREFIX}/v1/messages/batches/{id}`, readBody: false,
      prepare: (request) => call('DELETE', batch(request), request, batchId(request)), learn: forgotten },
  ];
}

const ANTHROPIC_FILES: FilesRouteApi = Object.freeze({
  api: API,
  defaultProvider: 'anthropic',
  errorBody: (error: Parameters<typeof anthropicErrorBody>[0]) => anthropicErrorBody(error),
  forwardHeaders: ['anthropic-beta', 'anthropic-version'],
});

export function anthropicFilesRoutes(deps: FilesDeps): Route[] {
  return operations().map((operation) => filesRoute(deps, ANTHROPIC_FILES, operation));
}
