// OpenAI's `POST /v1/responses/input_tokens` (also on /openai/v1 and /openai): the input tokens a Responses request
// would take, as `{"object": "response.input_tokens", "input_tokens": N}`. The request is translated through chat as
// /v1/responses translates it; a provider with a token counter (capability `countTokens`: anthropic, gemini, vertex)
// counts it itself; for any other the gateway answers an estimate, labelled `x-heimdall-token-count: estimate`, as
// Anthropic's count_tokens route does (src/dialects/anthropic-routes.ts).

import { PROVIDER_FACTS } from '../contract/providers.js';
import { GatewayError, openAIErrorBody, toErrorData } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import { createInferenceHandler, type PipelineDeps } from '../pipeline/index.js';
import { createModelResolver } from '../pipeline/model-name.js';
import { parseModelRequest, type ParsedRequest } from '../pipeline/parse.js';
import { respondError } from '../pipeline/respond.js';
import { routeModel } from '../pipeline/route.js';
import { withExtraFieldsOn, type Dialect } from './dialect.js';
import { OPENAI_WIRE } from './openai.js';
import { translateResponsesRequest } from './responses-request.js';

/** Tokens per character of English prose and code, as the usual rule of thumb for OpenAI's tokenizers. */
const CHARS_PER_TOKEN = 4;
/** Role markers and separators around each message. */
const TOKENS_PER_MESSAGE = 3;

function countRequest(raw: Buffer | null): ParsedRequest {
  const request = parseModelRequest(raw);
  // Counting streams nothing; the fields that only shape an answer do not change the input.
  const { stream: _stream, stream_options: _options, ...rest } = request;
  const { parsed } = translateResponsesRequest(rest as typeof request);
  return { ...parsed, kind: 'count_tokens', stream: false, includeUsage: false };
}

/** The input tokens of a chat request without a tokenizer: characters / 4 for text, tools as their JSON. */
export function estimateChatInputTokens(parsed: ParsedRequest): number {
  let chars = 0;
  let tokens = 0;
  for (const message of parsed.body.messages as { content?: unknown; tool_calls?: unknown }[]) {
    tokens += TOKENS_PER_MESSAGE;
    const content = message.content;
    if (typeof content === 'string') chars += content.length;
    else if (Array.isArray(content)) {
      for (const part of content as { type?: unknown; text?: unknown }[]) if (typeof part?.text === 'string') chars += part.text.length;
    }
    if (message.tool_calls) chars += JSON.stringify(message.tool_calls).length;
  }
  if (Array.isArray(parsed.body.tools)) chars += JSON.stringify(parsed.body.tools).length;
  return Math.ceil(chars / CHARS_PER_TOKEN) + tokens;
}

const answerOf = (count: number): string => JSON.stringify({ object: 'response.input_tokens', input_tokens: count });

function countDialect(defaultProvider: string | null): Dialect {
  return Object.freeze<Dialect>({
    name: 'responses',
    defaultProvider,
    parse: (request) => countRequest(request.body),
    wire: () => ({ ...OPENAI_WIRE, answer: (body) => answerOf((JSON.parse(body) as { input_tokens: number }).input_tokens) }),
    errorBody: (error) => openAIErrorBody(error),
  });
}

function countHandler(deps: PipelineDeps, dialect: Dialect): RouteHandler {
  const counted = createInferenceHandler(deps, dialect);
  const resolveModel = createModelResolver(deps.providers, deps.modelAliases, dialect.defaultProvider);
  return (request: IncomingRequest, sink: ResponseSink): void => {
    let parsed: ParsedRequest;
    let provider;
    try {
      parsed = countRequest(request.body);
      provider = routeModel(resolveModel(parsed.body.model), deps.providers).provider;
    } catch (error) {
      // Bad input is answered here; an unknown provider or model by the pipeline, with its own error.
      if (error instanceof GatewayError && (error.data.code === 'INVALID_REQUEST' || error.data.code === 'INVALID_JSON')) {
        respondError(sink, OPENAI_WIRE, toErrorData(error));
      } else {
        counted(request, sink);
      }
      return;
    }
    if (PROVIDER_FACTS[provider.adapter]?.capabilities.countTokens) {
      counted(request, sink);
      return;
    }
    sink.json(200, answerOf(estimateChatInputTokens(parsed)), { 'x-heimdall-token-count': 'estimate', 'x-heimdall-provider': provider.name });
  };
}

/** The route on /v1 (`provider/model`) and on the drop-in prefixes (a bare model means `openai`). */
export function responsesInputTokensRoutes(deps: PipelineDeps): Route[] {
  const v1 = countHandler(deps, withExtraFieldsOn(countDialect(null), 'count_tokens'));
  const dropIn = countHandler(deps, countDialect('openai'));
  return [
    { method: 'post', path: '/v1/responses/input_tokens', readBody: true, handler: v1 },
    ...['/openai/v1', '/openai'].map((prefix): Route => ({ method: 'post', path: `${prefix}/responses/input_tokens`, readBody: true, handler: dropIn })),
  ];
}
