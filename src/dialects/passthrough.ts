// The passthrough routes, as Bifrost names them: `/openai_passthrough/…`, `/anthropic_passthrough/…` and
// `/genai_passthrough/…` send the provider-native path (the prefix taken off), query and body on unchanged to a
// provider of that API, with the gateway's key for it: for the provider's endpoints Heimdall has no route for. The
// provider is the one `x-model-provider` names, else the `provider/` of the body's `model`, else the route's own
// (openai, anthropic, gemini); it must be built on that API, and a custom provider must allow it
// (`custom_provider_config.allowed_requests.passthrough: true`), as Bifrost gates it. Answers come back as the
// provider sent them; errors in that API's shape. A streamed answer (an event stream, or a body without a length)
// streams through as it arrives, with backpressure; a call that asks for a stream needs
// `allowed_requests.passthrough_stream: true` on a custom provider, as Bifrost's own gate has it.

import type { ProviderConfig } from '../config/types.js';
import type { FilesApi } from '../contract/providers.js';
import type { ErrorData } from '../errors/error-data.js';
import { GatewayError, openAIErrorBody } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, NativePrefix, Route } from '../http/server.js';
import { ContentCapture, logRequestsOf } from '../observability/request-log.js';
import { bodyAsIs, filesRoute, type FilesDeps, type FilesOperation, type FilesRouteApi, type PreparedCall } from '../pipeline/files.js';

interface PassthroughApi {
  readonly prefix: string;
  readonly adapter: string;
  readonly api: FilesApi;
  readonly errorBody: (error: ErrorData) => string;
  readonly forwardHeaders: readonly string[];
  /** Whether the call asks for a stream, by its path or body. */
  readonly streams: (path: string, body: Record<string, unknown> | null) => boolean;
}

function invalid(message: string, param: string | null = null): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

/** The provider-native path after the prefix, refused when it could change where the URL points. */
function nativePath(path: string, prefix: string): string {
  const rest = path.slice(prefix.length) || '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return invalid(`the path '${rest}' is not valid percent-encoding`);
  }
  for (const candidate of [rest, decoded]) {
    if (candidate.startsWith('//') || candidate.includes('\\') || candidate.includes('://') || /[\u0000-\u001f\u007f]/.test(candidate)
      || candidate.split('/').includes('..') || candidate.slice(1).split('/')[0].includes('@')) {
      invalid(`the passthrough path '${rest}' is refused: it must be a plain path under the provider's base URL`);
    }
  }
  return rest;
}

function jsonOf(request: IncomingRequest): Record<string, unknown> | null {
  if (!request.body || !/json/i.test(request.headers['content-type'] ?? '')) return null;
  try {
    const parsed: unknown = JSON.parse(request.body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : null;
  } catch {
    // A body the provider may read otherwise goes on as it is.
    return null;
  }
}

function passthroughApi(api: PassthroughApi): FilesRouteApi {
  return {
    api: api.api,
    defaultProvider: api.adapter,
    errorBody: api.errorBody,
    forwardHeaders: api.forwardHeaders,
    refuses: (provider: ProviderConfig, prepared) => {
      if (provider.adapter !== api.adapter) {
        return `provider '${provider.name}' is not built on ${api.adapter}'s API, which ${api.prefix} forwards to`;
      }
      if (!provider.passthrough) {
        return `custom provider '${provider.name}' does not allow passthrough calls; `
          + 'set custom_provider_config.allowed_requests.passthrough: true to allow them';
      }
      return prepared.streams && !provider.passthroughStream
        ? `custom provider '${provider.name}' does not allow streamed passthrough calls; `
          + 'set custom_provider_config.allowed_requests.passthrough_stream: true to allow them'
        : null;
    },
  };
}

function operations(api: PassthroughApi): FilesOperation[] {
  return (['get', 'post', 'put', 'delete'] as const).map((method): FilesOperation => ({
    method,
    path: `${api.prefix}/*`,
    label: `${api.prefix}/*`,
    readBody: method !== 'get',
    prepare(request): PreparedCall {
      const path = nativePath(request.path, api.prefix);
      const json = jsonOf(request);
      return {
        // Whatever the call asked, an answer the provider streams goes on as it comes.
        upstream: { method: request.method.toUpperCase() as 'GET' | 'POST' | 'PUT' | 'DELETE', path, query: request.query, ...bodyAsIs(request),
          streamThrough: true },
        streams: api.streams(path, json),
        // `provider/model` names the provider when the prefix is a configured one; the key must allow the model.
        model: typeof json?.model === 'string' ? json.model : null,
      };
    },
  }));
}

const streamsByBody = (_path: string, body: Record<string, unknown> | null): boolean => body?.stream === true;

/**
 * The passthrough routes, each API's errors in its own shape. With the request log on, their calls are recorded
 * under the dialect `passthrough`: they are inference calls the gateway cannot read, but pays for.
 */
export function passthroughRoutes(deps: FilesDeps, anthropic: NativePrefix, genai: NativePrefix): Route[] {
  const apis: PassthroughApi[] = [
    { prefix: '/openai_passthrough', adapter: 'openai', api: 'openai', errorBody: (error) => openAIErrorBody(error), forwardHeaders: ['openai-beta'],
      streams: streamsByBody },
    { prefix: '/anthropic_passthrough', adapter: 'anthropic', api: 'anthropic', errorBody: anthropic.errorBody,
      forwardHeaders: ['anthropic-beta', 'anthropic-version'], streams: streamsByBody },
    { prefix: '/genai_passthrough', adapter: 'gemini', api: 'genai', errorBody: genai.errorBody, forwardHeaders: [],
      streams: (path) => path.includes(':streamGenerateContent') },
  ];
  const log = deps.requestLog ?? null;
  return apis.flatMap((api) => {
    const routeApi = passthroughApi(api);
    return operations(api).map((operation): Route => {
      const route = filesRoute(deps, routeApi, operation);
      if (!log) return route;
      const handler = route.handler;
      return { ...route, handler: logRequestsOf((request: IncomingRequest, sink: ResponseSink) => {
        if (log.content) sink.access.content = new ContentCapture(request.body, request.headers['content-type']);
        handler(request, sink);
      }, 'passthrough') };
    });
  });
}
