// Google's `models.list` and `models.get` on `/genai/v1beta/models[/{model}]`: the models /v1/models lists (the
// configured ones and the providers' own lists), in Google's Model shape. The `gemini` provider's are named bare (`models/gemini-2.0-flash`), as the GenAI routes take
// them; the others as `models/provider/model`. Token limits are given only when known, and the gateway knows none.

import type { ProviderConfig } from '../config/types.js';
import { PROVIDER_FACTS, type Capabilities } from '../contract/providers.js';
import { errorData, statusOf } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import { unavailableHeader, type ModelCatalog, type ModelEntry } from '../pipeline/models.js';
import { genaiErrorBody } from './genai-answer.js';

interface GoogleModel {
  name: string;
  displayName: string;
  supportedGenerationMethods: string[];
}

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const DEFAULT_PROVIDER = 'gemini';

/** The GenAI methods the gateway serves for a provider that can do what each needs. */
function methodsOf(capabilities: Capabilities | undefined): string[] {
  if (!capabilities) return [];
  return [
    ...(capabilities.chat ? ['generateContent'] : []),
    ...(capabilities.chat && capabilities.stream ? ['streamGenerateContent'] : []),
    ...(capabilities.countTokens ? ['countTokens'] : []),
    ...(capabilities.embeddings ? ['embedContent', 'batchEmbedContents'] : []),
  ];
}

function googleModels(listed: readonly ModelEntry[], adapters: ReadonlyMap<string, string>): GoogleModel[] {
  return listed.map((model) => {
    const id = model.id.startsWith(`${DEFAULT_PROVIDER}/`) ? model.id.slice(DEFAULT_PROVIDER.length + 1) : model.id;
    const adapter = adapters.get(model.owned_by);
    return { name: `models/${id}`, displayName: id,
      supportedGenerationMethods: methodsOf(adapter === undefined ? undefined : PROVIDER_FACTS[adapter]?.capabilities) };
  });
}

function refuse(sink: ResponseSink, code: 'INVALID_REQUEST' | 'UNKNOWN_ROUTE', message: string): void {
  const error = errorData(code, message);
  sink.json(statusOf(error), genaiErrorBody(error));
}

/** The page token is the offset of the page's first model, opaque as Google's are. */
const tokenOf = (offset: number): string => Buffer.from(String(offset)).toString('base64url');

function offsetOf(token: string): number | null {
  const offset = Number(Buffer.from(token, 'base64url').toString());
  return Number.isInteger(offset) && offset > 0 ? offset : null;
}

function listHandler(catalog: ModelCatalog, adapters: ReadonlyMap<string, string>): RouteHandler {
  return (request: IncomingRequest, sink: ResponseSink): void => {
    const query = new URLSearchParams(request.query);
    const sizeText = query.get('pageSize');
    const size = sizeText === null || sizeText === '' ? DEFAULT_PAGE_SIZE : Number(sizeText);
    if (!Number.isInteger(size) || size < 0) {
      refuse(sink, 'INVALID_REQUEST', `pageSize must be a non-negative integer, got '${sizeText}'`);
      return;
    }
    const token = query.get('pageToken');
    const offset = token === null || token === '' ? 0 : offsetOf(token);
    if (offset === null) {
      refuse(sink, 'INVALID_REQUEST', `pageToken '${token}' is not one this gateway gave`);
      return;
    }
    void catalog.list(null, request.requestId).then(({ data, unavailable }) => {
      const all = googleModels(data, adapters);
      const end = offset + Math.min(size === 0 ? DEFAULT_PAGE_SIZE : size, MAX_PAGE_SIZE);
      sink.json(200, JSON.stringify({ models: all.slice(offset, end), ...(end < all.length ? { nextPageToken: tokenOf(end) } : {}) }),
        unavailableHeader(unavailable));
    });
  };
}

function getHandler(catalog: ModelCatalog, adapters: ReadonlyMap<string, string>): RouteHandler {
  return (request: IncomingRequest, sink: ResponseSink): void => {
    const path = request.path.slice(request.path.indexOf('/models/') + 1);
    let name: string;
    try {
      name = decodeURIComponent(path);
    } catch {
      refuse(sink, 'INVALID_REQUEST', `the model in the path is not valid percent-encoding: '${path}'`);
      return;
    }
    void catalog.list(null, request.requestId).then(({ data }) => {
      const model = googleModels(data, adapters).find((candidate) => candidate.name === name);
      if (model) sink.json(200, JSON.stringify(model));
      else refuse(sink, 'UNKNOWN_ROUTE', `${name} is not a configured model or alias`);
    });
  };
}

/** `GET models` and `GET models/{model}` on both API versions. */
export function genaiModelRoutes(catalog: ModelCatalog, providers: readonly ProviderConfig[]): Route[] {
  const adapters = new Map(providers.map((provider) => [provider.name, provider.adapter]));
  const list = listHandler(catalog, adapters);
  const get = getHandler(catalog, adapters);
  return ['/genai/v1beta', '/genai/v1'].flatMap((version): Route[] => [
    { method: 'get', path: `${version}/models`, errorBody: genaiErrorBody, readBody: false, handler: list },
    { method: 'get', path: `${version}/models/*`, errorBody: genaiErrorBody, readBody: false, handler: get },
  ]);
}
