// The rest of OpenAI's surface, on /v1 and on the SDK's drop-in prefixes (/openai/v1, /openai): Responses and
// legacy completions, each translated through chat so they reach every provider (Responses goes natively to the
// providers that have it), and the audio and images endpoints of OpenAI-format providers. One list, so the gateway
// adds it as one block.

import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import { loggedLike } from '../observability/request-log.js';
import { createInferenceHandler, type PipelineDeps } from '../pipeline/index.js';
import { completions, dropInCompletions } from './completions.js';
import type { Dialect } from './dialect.js';
import { imageEdit, imageGeneration, imageVariation, speech, transcription, withForm } from './media.js';
import { dropInResponses, responses } from './responses.js';
import { hasApiVersion } from './azure.js';

interface Endpoint {
  /** The path after the prefix. */
  readonly path: string;
  readonly dialect: Dialect;
  readonly dropIn: Dialect;
  /** Wraps the handler: what must happen before the pipeline (reading a multipart form). */
  readonly before?: (handler: RouteHandler) => RouteHandler;
}

/**
 * `azureResponses`: the handler of Azure's `/openai/responses?api-version=…` (src/dialects/azure.ts), which the
 * drop-in `/openai/responses` hands a request to when it carries `api-version`, as only Azure clients send it.
 */
export function openAIMoreRoutes(deps: PipelineDeps, azureResponses?: RouteHandler): Route[] {
  const endpoints: Endpoint[] = [
    { path: '/responses', dialect: responses, dropIn: dropInResponses },
    { path: '/completions', dialect: completions, dropIn: dropInCompletions },
    { path: '/audio/speech', dialect: speech[0], dropIn: speech[1] },
    { path: '/audio/transcriptions', dialect: transcription[0], dropIn: transcription[1], before: withForm },
    { path: '/images/generations', dialect: imageGeneration[0], dropIn: imageGeneration[1] },
    { path: '/images/edits', dialect: imageEdit[0], dropIn: imageEdit[1], before: withForm },
    { path: '/images/variations', dialect: imageVariation[0], dropIn: imageVariation[1], before: withForm },
  ];
  return endpoints.flatMap((endpoint): Route[] => {
    const wrap = endpoint.before ?? ((handler: RouteHandler) => handler);
    const onV1 = wrap(createInferenceHandler(deps, endpoint.dialect));
    const openai = wrap(createInferenceHandler(deps, endpoint.dropIn));
    const azure = endpoint.path === '/responses' ? azureResponses : undefined;
    const dropIn: RouteHandler = azure
      ? loggedLike((request: IncomingRequest, sink: ResponseSink) => (hasApiVersion(request) ? azure : openai)(request, sink), openai) : openai;
    return [
      { method: 'post', path: `/v1${endpoint.path}`, readBody: true, handler: onV1 },
      ...['/openai/v1', '/openai'].map((prefix): Route =>
        ({ method: 'post', path: `${prefix}${endpoint.path}`, readBody: true, handler: dropIn })),
    ];
  });
}
