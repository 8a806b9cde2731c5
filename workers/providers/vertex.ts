// Gemini on Vertex AI: the generateContent wire format of gemini-shared.ts under a project and region, with an
// OAuth2 token for the key's service account (workers/upstream/auth/google-oauth.ts), embeddings through
// `:predict`, token counts through `:countTokens`, OpenAI's media endpoints as gemini-media.ts translates them
// (Imagen through `:predict`). The key's `vertex_key_config` gives `project_id`, `region` and `auth_credentials`;
// `network_config.base_url` replaces the regional host.
//
// Claude models (`claude-…`, Anthropic's publisher on Vertex) speak Anthropic's Messages API instead, at
// `publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict` for a stream): the body of anthropic-shared.ts
// without `model` (the URL names it) and with `anthropic_version: "vertex-2023-10-16"`; their answers and SSE events
// are Anthropic's. Their tokens are counted at one endpoint for every Claude model,
// `publishers/anthropic/models/count-tokens:rawPredict`, whose body is Anthropic's count_tokens request, `model`
// included, and whose answer is Anthropic's `{"input_tokens": N}`.

import type { FilesRequest, JobData } from '../../src/contract/messages.js';
import { forwardFilesCall } from './files-forward.js';
import { serviceAccountOf } from '../upstream/auth/google-oauth.js';
import { joinUrl } from '../upstream/url.js';
import { vertexRankAnswer, vertexRankBody, vertexRankUrlPath } from './vertex-rerank.js';
import {
  anthropicCountTokensAnswer, anthropicCountTokensRequest, anthropicErrorMessage, anthropicStreamStep, chatCompletionFromMessage, toAnthropicRequest,
} from './anthropic-shared.js';
import { geminiImageCall, geminiMediaAnswer, geminiSpeechCall, geminiTranscriptionCall, type GeminiMediaCall } from './gemini-media.js';
import {
  embeddingInputs, geminiChatAnswer, geminiChatRequest, geminiErrorMessage, geminiStreamEvent, geminiTokenCountAnswer,
  openAIEmbeddingList, parseJsonObject,
} from './gemini-shared.js';
import type { CallTarget, ChatAnswer, HttpAdapter, KeyInit, StreamEvent, StreamState, StreamStep, UpstreamCall } from './types.js';

/** The Messages API version Vertex takes in the body, in place of Anthropic's `anthropic-version` header. */
const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/** Claude's token counter: one resource for every Claude model, which the body names. */
const COUNT_TOKENS_RESOURCE = 'publishers/anthropic/models/count-tokens';

/** A Claude model of Anthropic's publisher, named bare (`claude-sonnet-4-5@20250929`) as Vertex's model garden lists it. */
const isClaude = (model: string) => /^claude-/.test(model);

interface VertexLocation {
  projectId: string;
  region: string;
}

function locationOf(key: KeyInit): VertexLocation {
  const config = key.configs.vertex_key_config as { project_id?: unknown; region?: unknown } | undefined;
  if (!config || typeof config !== 'object') throw new Error('the key needs a vertex_key_config with project_id, region and auth_credentials');
  const { project_id: projectId, region } = config;
  if (typeof projectId !== 'string' || projectId === '') throw new Error('vertex_key_config.project_id is required');
  if (typeof region !== 'string' || !/^[a-z0-9-]+$/.test(region)) {
    throw new Error('vertex_key_config.region is required (e.g. us-central1, or global)');
  }
  // Checked here so that a bad key file is the client's 400 with this message, not an auth failure later.
  serviceAccountOf(key);
  return { projectId, region };
}

/**
 * A model of the Google publisher (`gemini-2.0-flash`), or a resource under the location as given
 * (`endpoints/123` for a tuned model's endpoint, `publishers/x/models/y`).
 */
function urlFor(target: CallTarget, model: string, action: string): string {
  const { projectId, region } = locationOf(target.key);
  const host = region === 'global' ? 'https://aiplatform.googleapis.com' : `https://${region}-aiplatform.googleapis.com`;
  const resource = model.includes('/') ? model : `publishers/${isClaude(model) ? 'anthropic' : 'google'}/models/${model}`;
  const path = `/v1/projects/${encodeURIComponent(projectId)}/locations/${region}/${resource}:${action}`;
  return joinUrl(target.baseUrl ?? host, path);
}

const mediaCall = (target: CallTarget, model: string, { action, body, droppedParams }: GeminiMediaCall): UpstreamCall =>
  ({ url: urlFor(target, model, action), body: JSON.stringify(body), droppedParams });

/** Batch prediction jobs (`/batchPredictionJobs…`, as the /genai routes give them) under the key's project and region. */
function filesCall(request: FilesRequest, target: CallTarget): UpstreamCall {
  const { projectId, region } = locationOf(target.key);
  const host = region === 'global' ? 'https://aiplatform.googleapis.com' : `https://${region}-aiplatform.googleapis.com`;
  const base = joinUrl(target.baseUrl ?? host, `/v1/projects/${encodeURIComponent(projectId)}/locations/${region}`);
  return forwardFilesCall(base, request);
}

export const vertex: HttpAdapter = {
  filesCall,
  rerankCall(job, target) {
    const { host, path } = vertexRankUrlPath(locationOf(target.key).projectId);
    const { body, dropped } = vertexRankBody(job);
    return { url: joinUrl(target.baseUrl ?? host, path), body, droppedParams: dropped };
  },
  rerankAnswer: vertexRankAnswer,
  id: 'vertex',
  transport: 'http',
  auth: { kind: 'google-oauth' },
  streamFormat: 'sse',

  chatCall(job: JobData, target: CallTarget): UpstreamCall {
    if (isClaude(job.model)) {
      const { body, droppedParams } = toAnthropicRequest(job.body);
      const url = urlFor(target, job.model, job.stream ? 'streamRawPredict' : 'rawPredict');
      return { url, body: JSON.stringify({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...body, ...(job.stream ? { stream: true } : {}) }),
        droppedParams };
    }
    const url = urlFor(target, job.model, job.stream ? 'streamGenerateContent?alt=sse' : 'generateContent');
    const { body, droppedParams } = geminiChatRequest(job, true);
    return { url, body: JSON.stringify(body), droppedParams };
  },

  chatAnswer(text: string, job: JobData): ChatAnswer {
    return isClaude(job.model) ? chatCompletionFromMessage(text, job.model) : geminiChatAnswer(text, job);
  },

  streamEvent(event: StreamEvent, state: StreamState): StreamStep {
    return isClaude(state.model) ? anthropicStreamStep(event.data, state) : geminiStreamEvent(event, state);
  },

  /** Google's envelope for Vertex's own failures; Anthropic's for a Claude model's. */
  errorMessage: (text: string) => geminiErrorMessage(text) ?? anthropicErrorMessage(text),

  countTokensCall(job: JobData, target: CallTarget): UpstreamCall {
    if (isClaude(job.model)) {
      const { request, droppedParams } = anthropicCountTokensRequest(job);
      return { url: urlFor(target, COUNT_TOKENS_RESOURCE, 'rawPredict'), body: JSON.stringify(request), droppedParams };
    }
    const url = urlFor(target, job.model, 'countTokens');
    // Vertex counts contents, system instruction, tools and generation config; the rest (toolConfig, safety
    // settings) changes no input token, so it is left out rather than refused.
    const { body: { contents, systemInstruction, tools, generationConfig }, droppedParams } = geminiChatRequest(job);
    return { url, body: JSON.stringify({ contents, systemInstruction, tools, generationConfig }), droppedParams };
  },
  countTokensAnswer: (text: string, job: JobData): ChatAnswer => (isClaude(job.model) ? anthropicCountTokensAnswer(text) : geminiTokenCountAnswer(text)),

  embeddingsCall(job: JobData, target: CallTarget): UpstreamCall {
    const url = urlFor(target, job.model, 'predict');
    const { texts, dimensions, droppedParams } = embeddingInputs(job);
    const body = {
      instances: texts.map((content) => ({ content })),
      ...(dimensions !== null ? { parameters: { outputDimensionality: dimensions } } : {}),
    };
    return { url, body: JSON.stringify(body), droppedParams };
  },

  embeddingsAnswer(text: string, job: JobData): ChatAnswer {
    const predictions = parseJsonObject(text).predictions as
      { embeddings?: { values?: number[]; statistics?: { token_count?: number } } }[] | undefined;
    if (!Array.isArray(predictions)) throw new SyntaxError('the answer has no predictions array');
    let tokens = 0;
    for (const prediction of predictions) tokens += prediction.embeddings?.statistics?.token_count ?? 0;
    return openAIEmbeddingList(predictions.map((p) => p.embeddings?.values ?? []), job, tokens);
  },

  speechCall: (job: JobData, target: CallTarget) => mediaCall(target, job.model, geminiSpeechCall(job)),
  transcriptionCall: (job: JobData, target: CallTarget) => mediaCall(target, job.model, geminiTranscriptionCall(job)),
  imageGenerationCall: (job: JobData, target: CallTarget) => mediaCall(target, job.model, geminiImageCall(job)),
  mediaAnswer: geminiMediaAnswer,
};
