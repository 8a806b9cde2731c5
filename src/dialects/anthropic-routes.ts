// The Anthropic SDK's routes under `/anthropic` (its base URL is `${gateway}/anthropic`): messages, count_tokens
// and the model list. One function, so src/gateway.ts adds them as one line.
//
// count_tokens: a provider whose adapter has a token counter (capability `countTokens`) answers it itself. For any
// other provider the gateway answers an estimate, labelled `x-heimdall-token-count: estimate`, so a client such
// as Claude Code, which counts before it sends, works with every provider; see `estimateInputTokens`.

import type { ProviderConfig } from '../config/types.js';
import { PROVIDER_FACTS } from '../contract/providers.js';
import { GatewayError, toErrorData } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, NativePrefix, Route } from '../http/server.js';
import { loggedLike } from '../observability/request-log.js';
import { createInferenceHandler, type PipelineDeps } from '../pipeline/index.js';
import { createModelResolver } from '../pipeline/model-name.js';
import { unavailableHeader, type ModelCatalog, type ModelEntry } from '../pipeline/models.js';
import { respondError } from '../pipeline/respond.js';
import { routeModel } from '../pipeline/route.js';
import { anthropicCountTokens, anthropicMessages, readAnthropicBody, toOpenAIRequest } from './anthropic.js';
import { anthropicErrorBody } from './anthropic-wire.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Claude's tokenizer averages about 3.5 characters of English or code per token. */
const CHARS_PER_TOKEN = 3.5;
/** Anthropic's documented upper bound for one image (≈1.15 megapixels at 750 pixels per token). */
const TOKENS_PER_IMAGE = 1600;
/** Anthropic's documented cost of a PDF page: its text (1,500–3,000 tokens) plus the page as an image. */
const TOKENS_PER_PDF_PAGE = 3000;
/** The system prompt Anthropic adds when tools are given (Claude 4 models, tool_choice auto). */
const TOOL_SYSTEM_PROMPT_TOKENS = 346;
/** Role markers and separators around each message. */
const TOKENS_PER_MESSAGE = 3;

function pdfPages(data: unknown): number {
  if (typeof data !== 'string') return 1;
  const pages = Buffer.from(data, 'base64').toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g);
  return Math.max(1, pages?.length ?? 0);
}

/** Characters and fixed costs of one content block; thinking of earlier turns is not counted, as Anthropic does not. */
function blockCost(block: unknown, cost: { chars: number; tokens: number }): void {
  if (typeof block === 'string') {
    cost.chars += block.length;
    return;
  }
  if (!isObject(block)) return;
  switch (block.type) {
    case 'text':
      cost.chars += String(block.text ?? '').length;
      return;
    case 'image':
      cost.tokens += TOKENS_PER_IMAGE;
      return;
    case 'document': {
      const source = isObject(block.source) ? block.source : {};
      if (source.type === 'text') cost.chars += String(source.data ?? '').length;
      else cost.tokens += TOKENS_PER_PDF_PAGE * pdfPages(source.data);
      return;
    }
    case 'tool_use':
      cost.chars += String(block.name ?? '').length + JSON.stringify(block.input ?? {}).length;
      return;
    case 'tool_result':
      if (Array.isArray(block.content)) for (const inner of block.content) blockCost(inner, cost);
      else blockCost(block.content ?? '', cost);
  }
}

/**
 * A count of a Messages request's input tokens without the provider's tokenizer: characters / 3.5 for text, tool
 * definitions and tool calls as their JSON, Anthropic's documented fixed costs for images, PDF pages and the tools
 * system prompt. Good to within roughly ±20 % on English prose and code; it is labelled an estimate for that reason.
 */
export function estimateInputTokens(request: Json): number {
  const cost = { chars: 0, tokens: 0 };
  const system = request.system;
  if (Array.isArray(system)) for (const block of system) blockCost(block, cost);
  else blockCost(system ?? '', cost);
  const messages = Array.isArray(request.messages) ? request.messages : [];
  for (const message of messages) {
    cost.tokens += TOKENS_PER_MESSAGE;
    const content = isObject(message) ? message.content : undefined;
    if (Array.isArray(content)) for (const block of content) blockCost(block, cost);
    else blockCost(content ?? '', cost);
  }
  if (Array.isArray(request.tools) && request.tools.length > 0) {
    cost.tokens += TOOL_SYSTEM_PROMPT_TOKENS;
    for (const tool of request.tools) {
      const { cache_control: _ignored, ...definition } = isObject(tool) ? tool : {};
      cost.chars += JSON.stringify(definition).length;
    }
  }
  return Math.ceil(cost.chars / CHARS_PER_TOKEN) + cost.tokens;
}

function countTokensHandler(deps: PipelineDeps) {
  const counted = createInferenceHandler(deps, anthropicCountTokens);
  const resolveModel = createModelResolver(deps.providers, deps.modelAliases, anthropicCountTokens.defaultProvider);
  return loggedLike((request: IncomingRequest, sink: ResponseSink): void => {
    let body: Json;
    try {
      body = readAnthropicBody(request);
      toOpenAIRequest(body, true);
    } catch (error) {
      respondError(sink, { errorBody: anthropicErrorBody }, error instanceof GatewayError ? error.data : toErrorData(error));
      return;
    }
    let provider: ProviderConfig;
    try {
      provider = routeModel(resolveModel(body.model as string), deps.providers).provider;
    } catch {
      // The pipeline answers an unknown provider or model with its own error, in the route's shape.
      counted(request, sink);
      return;
    }
    if (PROVIDER_FACTS[provider.adapter]?.capabilities.countTokens) {
      counted(request, sink);
      return;
    }
    sink.json(200, JSON.stringify({ input_tokens: estimateInputTokens(body) }),
      { 'x-heimdall-token-count': 'estimate', 'x-heimdall-provider': provider.name });
  }, counted);
}

interface AnthropicModel {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

/** The configured models (as /v1/models lists them) in Anthropic's shape; the default provider's are listed bare, as this route takes them. */
function anthropicModels(listed: readonly ModelEntry[]): AnthropicModel[] {
  const prefix = `${anthropicMessages.defaultProvider}/`;
  return listed.map((model) => {
    const id = model.id.startsWith(prefix) ? model.id.slice(prefix.length) : model.id;
    return { type: 'model', id, display_name: id, created_at: new Date(model.created * 1000).toISOString() };
  });
}

const refuse = (sink: ResponseSink, code: 'INVALID_REQUEST' | 'UNKNOWN_ROUTE', message: string, param: string | null = null) =>
  respondError(sink, { errorBody: anthropicErrorBody }, new GatewayError(code, message, { param }).data);

/** GET /anthropic/v1/models, with Anthropic's `limit`, `after_id` and `before_id` paging. */
function modelsHandler(catalog: ModelCatalog) {
  return (request: IncomingRequest, sink: ResponseSink): void => {
    const query = new URLSearchParams(request.query);
    const limitText = query.get('limit');
    const limit = limitText === null ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      refuse(sink, 'INVALID_REQUEST', 'limit: Input should be an integer between 1 and 1000', 'limit');
      return;
    }
    void catalog.list(null, request.requestId).then(({ data, unavailable }) => {
      sink.json(200, pageOf(anthropicModels(data), limit, query.get('after_id'), query.get('before_id')), unavailableHeader(unavailable));
    });
  };
}

/** One page of the list, as Anthropic pages: `limit` models after `after_id`, or before `before_id`. */
function pageOf(all: readonly AnthropicModel[], limit: number, after: string | null, before: string | null): string {
  let page = all;
  if (before !== null) {
    const end = all.findIndex((model) => model.id === before);
    page = end === -1 ? [] : all.slice(Math.max(0, end - limit), end);
  } else if (after !== null) {
    const start = all.findIndex((model) => model.id === after);
    page = start === -1 ? [] : all.slice(start + 1, start + 1 + limit);
  } else {
    page = all.slice(0, limit);
  }
  const firstAt = page.length > 0 ? all.indexOf(page[0]) : -1;
  const hasMore = page.length > 0 && (before !== null ? firstAt > 0 : firstAt + page.length < all.length);
  return JSON.stringify({ data: page, has_more: hasMore, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null });
}

/** GET /anthropic/v1/models/{id}: one model of the list (an id with a slash may come percent-encoded, as the SDK sends it). */
function modelHandler(catalog: ModelCatalog) {
  const base = '/anthropic/v1/models/';
  return (request: IncomingRequest, sink: ResponseSink): void => {
    let id: string;
    try {
      id = decodeURIComponent(request.path.slice(base.length));
    } catch {
      refuse(sink, 'INVALID_REQUEST', 'model_id: not a valid percent-encoded model id', 'model_id');
      return;
    }
    void catalog.list(null, request.requestId).then(({ data }) => {
      const model = anthropicModels(data).find((candidate) => candidate.id === id);
      if (model) sink.json(200, JSON.stringify(model));
      else refuse(sink, 'UNKNOWN_ROUTE', `model: '${id}' is not a configured model or alias`, 'model_id');
    });
  };
}

/** Any other path under `/anthropic`: a not_found_error the SDK raises as NotFoundError. */
export const anthropicPrefix: NativePrefix = Object.freeze({
  prefix: '/anthropic',
  errorBody: (error: Parameters<typeof anthropicErrorBody>[0]) => anthropicErrorBody(error),
  served: 'the gateway serves /anthropic/v1/messages, /v1/messages/count_tokens and /v1/models',
});

/** The routes under `/anthropic/v1`, their errors in Anthropic's shape. */
export function anthropicRoutes(deps: PipelineDeps, catalog: ModelCatalog): Route[] {
  const common = { errorBody: anthropicPrefix.errorBody } as const;
  return [
    { ...common, method: 'post', path: '/anthropic/v1/messages', readBody: true, handler: createInferenceHandler(deps, anthropicMessages) },
    { ...common, method: 'post', path: '/anthropic/v1/messages/count_tokens', readBody: true, handler: countTokensHandler(deps) },
    { ...common, method: 'get', path: '/anthropic/v1/models', readBody: false, handler: modelsHandler(catalog) },
    { ...common, method: 'get', path: '/anthropic/v1/models/*', readBody: false, handler: modelHandler(catalog) },
  ];
}
