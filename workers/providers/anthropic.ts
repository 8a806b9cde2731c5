// Anthropic's Messages API (POST /v1/messages, and /v1/messages/count_tokens for count_tokens jobs), key in
// `x-api-key`. The conversion to and from OpenAI's format is in anthropic-shared.ts; this file adds where the call
// goes and how it is framed.
//
// The API version is pinned to 2023-06-01: the transforms are written against it, and later versions refuse
// fields (temperature, top_p, top_k) that OpenAI clients send. Beta features go in network_config.extra_headers
// (`anthropic-beta`). A `messages` job (the /anthropic route's request as the client sent it, for what the chat
// translation cannot carry) goes to /v1/messages as it is, with the client's own `anthropic-beta` values, which the
// route carries in the body as `anthropic_beta` (Bedrock's name for them).


import type { FilesRequest, JobData } from '../../src/contract/messages.js';
import { forwardFilesCall } from './files-forward.js';
import { messageBatchRequest, openAIBatchAnswer } from './anthropic-batches.js';
import { joinUrl } from '../upstream/url.js';
import {
  anthropicCountTokensAnswer, anthropicCountTokensRequest, anthropicErrorMessage, anthropicStreamStep, chatCompletionFromMessage, nativeMessageAnswer, nativeMessageEvent, toAnthropicRequest,
} from './anthropic-shared.js';
import { modelListAnswer, type CallTarget, type ChatAnswer, type HttpAdapter, type StreamEvent, type StreamState, type StreamStep, type UpstreamCall } from './types.js';

const DEFAULT_BASE_URL = 'https://api.anthropic.com';
const API_VERSION = '2023-06-01';

/** The configured `anthropic-beta` flags (network_config.extra_headers), whatever the header's spelling. */
function configuredBetas(target: CallTarget): string[] {
  const headers = target.extraHeaders ?? {};
  const name = Object.keys(headers).find((header) => header.toLowerCase() === 'anthropic-beta');
  return name === undefined ? [] : headers[name].split(',').map((beta) => beta.trim()).filter(Boolean);
}

/**
 * A call to `path` of the Messages API, with the version header every endpoint needs; a client's beta flags join
 * the configured ones (the call's header replaces the configured one, so it carries both).
 */
function messagesApiCall(target: CallTarget, path: string, request: object | null, droppedParams: string[],
  betas: readonly string[] = []): UpstreamCall {
  const all = betas.length > 0 ? [...new Set([...configuredBetas(target), ...betas])] : [];
  return {
    ...(request === null ? { method: 'GET' as const } : {}),
    url: joinUrl(target.baseUrl ?? DEFAULT_BASE_URL, path),
    headers: { 'anthropic-version': API_VERSION, ...(all.length > 0 ? { 'anthropic-beta': all.join(',') } : {}) },
    body: request === null ? '' : JSON.stringify(request),
    droppedParams,
  };
}

/** The client's beta flags, carried in the body as `anthropic_beta` (Bedrock's name), for the `anthropic-beta` header. */
function betasIn(body: Record<string, unknown>): string[] {
  const betas = body.anthropic_beta;
  return Array.isArray(betas) ? betas.filter((beta): beta is string => typeof beta === 'string') : [];
}

export const anthropic: HttpAdapter = {
  id: 'anthropic',
  transport: 'http',
  auth: { kind: 'header', name: 'x-api-key' },
  streamFormat: 'sse',

  chatCall(job: JobData, target: CallTarget): UpstreamCall {
    const { body, droppedParams } = toAnthropicRequest(job.body);
    return messagesApiCall(target, '/v1/messages', { model: job.model, ...body, ...(job.stream ? { stream: true } : {}) },
      droppedParams, betasIn(job.body));
  },

  chatAnswer(text: string, job: JobData): ChatAnswer {
    return chatCompletionFromMessage(text, job.model);
  },

  messagesCall(job: JobData, target: CallTarget): UpstreamCall {
    const { anthropic_beta: _betas, ...body } = job.body;
    return messagesApiCall(target, '/v1/messages', { ...body, model: job.model }, [], betasIn(job.body));
  },

  messagesAnswer: nativeMessageAnswer,

  messagesEvent(event: StreamEvent, state: StreamState): StreamStep {
    return nativeMessageEvent(event, state);
  },

  countTokensCall(job: JobData, target: CallTarget): UpstreamCall {
    const { request, droppedParams } = anthropicCountTokensRequest(job);
    return messagesApiCall(target, '/v1/messages/count_tokens', request, droppedParams, betasIn(job.body));
  },

  listModelsCall(_job: JobData, target: CallTarget): UpstreamCall {
    return messagesApiCall(target, '/v1/models?limit=1000', null, []);
  },

  listModelsAnswer(text: string): ChatAnswer {
    const answer = JSON.parse(text) as { data?: unknown };
    if (!Array.isArray(answer?.data)) throw new SyntaxError('the model list has no data array');
    return modelListAnswer(answer.data.map((model: { id?: unknown } | null) => model?.id));
  },

  countTokensAnswer: anthropicCountTokensAnswer,

  streamEvent(event: StreamEvent, state: StreamState): StreamStep {
    return anthropicStreamStep(event.data, state);
  },

  errorMessage: anthropicErrorMessage,

  /** OpenAI's Batch API through Message Batches (anthropic-batches.ts). */
  openAIBatchCall(request: FilesRequest, target: CallTarget): UpstreamCall {
    return anthropic.filesCall!(messageBatchRequest(request), target);
  },

  openAIBatchAnswer,

  /** The Files API (beta) and Message Batches, as the /anthropic routes received them; the client's beta flags join the configured ones. */
  filesCall(request: FilesRequest, target: CallTarget): UpstreamCall {
    const client = (request.headers['anthropic-beta'] ?? '').split(',').map((beta) => beta.trim()).filter(Boolean);
    const betas = [...new Set([...configuredBetas(target), ...client])];
    return forwardFilesCall(target.baseUrl ?? DEFAULT_BASE_URL, request,
      { 'anthropic-version': request.headers['anthropic-version'] ?? API_VERSION, ...(betas.length > 0 ? { 'anthropic-beta': betas.join(',') } : {}) });
  },
};
