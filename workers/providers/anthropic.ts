// Anthropic's Messages API (POST /v1/messages), key in `x-api-key`. The conversion to and from OpenAI's format is
// in anthropic-shared.ts; this file adds where the call goes and how it is framed.
//
// The API version is pinned to 2023-06-01: the transforms are written against it, and later versions refuse
// fields (temperature, top_p, top_k) that OpenAI clients send. Beta features go in network_config.extra_headers
// (`anthropic-beta`).

import type { JobData } from '../../src/contract/messages.js';
import { joinUrl } from '../upstream/url.js';
import { anthropicErrorMessage, anthropicStreamStep, chatCompletionFromMessage, toAnthropicRequest } from './anthropic-shared.js';
import type { CallTarget, ChatAnswer, HttpAdapter, StreamEvent, StreamState, StreamStep, UpstreamCall } from './types.js';

const DEFAULT_BASE_URL = 'https://api.anthropic.com';
const API_VERSION = '2023-06-01';

export const anthropic: HttpAdapter = {
  id: 'anthropic',
  transport: 'http',
  auth: { kind: 'header', name: 'x-api-key' },
  streamFormat: 'sse',

  chatCall(job: JobData, target: CallTarget): UpstreamCall {
    const { body, droppedParams } = toAnthropicRequest(job.body);
    const request = { model: job.model, ...body, ...(job.stream ? { stream: true } : {}) };
    return {
      url: joinUrl(target.baseUrl ?? DEFAULT_BASE_URL, '/v1/messages'),
      headers: { 'anthropic-version': API_VERSION },
      body: JSON.stringify(request),
      droppedParams,
    };
  },

  chatAnswer(text: string, job: JobData): ChatAnswer {
    return chatCompletionFromMessage(text, job.model);
  },

  streamEvent(event: StreamEvent, state: StreamState): StreamStep {
    return anthropicStreamStep(event.data, state);
  },

  errorMessage: anthropicErrorMessage,
};
