// Google's Gemini API (generativelanguage.googleapis.com): the generateContent wire format of gemini-shared.ts,
// an API key in `x-goog-api-key`, embeddings through `:batchEmbedContents`, token counts through `:countTokens`,
// OpenAI's speech, transcription and image endpoints as gemini-media.ts translates them.

import type { FilesRequest, JobData } from '../../src/contract/messages.js';
import { forwardFilesCall } from './files-forward.js';
import { geminiBatchRequest, openAIBatchAnswerOfGemini } from './gemini-batches.js';
import { geminiImageCall, geminiMediaAnswer, geminiSpeechCall, geminiTranscriptionCall, type GeminiMediaCall } from './gemini-media.js';
import { joinUrl } from '../upstream/url.js';
import {
  embeddingInputs, geminiChatAnswer, geminiChatRequest, geminiErrorMessage, geminiStreamEvent, geminiTokenCountAnswer,
  openAIEmbeddingList, parseJsonObject,
} from './gemini-shared.js';
import { modelListAnswer, type CallTarget, type ChatAnswer, type HttpAdapter, type UpstreamCall } from './types.js';

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

/** `models/<name>` for a bare name; resource names (`models/…`, `tunedModels/…`) are kept as given. */
const resourceOf = (model: string) => (model.includes('/') ? model : `models/${model}`);

const urlFor = (target: CallTarget, model: string, action: string) =>
  joinUrl(target.baseUrl ?? DEFAULT_BASE_URL, `/v1beta/${resourceOf(model)}:${action}`);

const mediaCall = (target: CallTarget, model: string, { action, body, droppedParams }: GeminiMediaCall): UpstreamCall =>
  ({ url: urlFor(target, model, action), body: JSON.stringify(body), droppedParams });

export const gemini: HttpAdapter = {
  id: 'gemini',
  transport: 'http',
  auth: { kind: 'header', name: 'x-goog-api-key' },
  streamFormat: 'sse',

  chatCall(job: JobData, target: CallTarget): UpstreamCall {
    const { body, droppedParams } = geminiChatRequest(job);
    const action = job.stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    return { url: urlFor(target, job.model, action), body: JSON.stringify(body), droppedParams };
  },
  chatAnswer: geminiChatAnswer,
  streamEvent: geminiStreamEvent,
  errorMessage: geminiErrorMessage,

  countTokensCall(job: JobData, target: CallTarget): UpstreamCall {
    // Only a whole `generateContentRequest` lets the count include the system instruction and tools.
    const { body, droppedParams } = geminiChatRequest(job);
    return { url: urlFor(target, job.model, 'countTokens'),
      body: JSON.stringify({ generateContentRequest: { model: resourceOf(job.model), ...body } }), droppedParams };
  },
  countTokensAnswer: geminiTokenCountAnswer,

  listModelsCall(_job: JobData, target: CallTarget): UpstreamCall {
    return { method: 'GET', url: joinUrl(target.baseUrl ?? DEFAULT_BASE_URL, '/v1beta/models?pageSize=1000'), body: '', droppedParams: [] };
  },

  listModelsAnswer(text: string): ChatAnswer {
    const answer = JSON.parse(text) as { models?: unknown };
    if (!Array.isArray(answer?.models)) throw new SyntaxError('the model list has no models array');
    // `models/gemini-2.0-flash` → the bare name requests use.
    return modelListAnswer(answer.models.map((model: { name?: unknown } | null) =>
      (typeof model?.name === 'string' ? model.name.replace(/^models\//, '') : null)));
  },

  embeddingsCall(job: JobData, target: CallTarget): UpstreamCall {
    const { texts, dimensions, droppedParams } = embeddingInputs(job);
    const model = resourceOf(job.model);
    const requests = texts.map((text) => ({
      model, content: { parts: [{ text }] }, ...(dimensions !== null ? { outputDimensionality: dimensions } : {}),
    }));
    return { url: urlFor(target, job.model, 'batchEmbedContents'), body: JSON.stringify({ requests }), droppedParams };
  },

  embeddingsAnswer(text: string, job: JobData): ChatAnswer {
    const embeddings = parseJsonObject(text).embeddings as { values?: number[] }[] | undefined;
    if (!Array.isArray(embeddings)) throw new SyntaxError('the answer has no embeddings array');
    // batchEmbedContents reports no token counts.
    return openAIEmbeddingList(embeddings.map((e) => e.values ?? []), job, null);
  },

  speechCall: (job: JobData, target: CallTarget) => mediaCall(target, job.model, geminiSpeechCall(job)),
  transcriptionCall: (job: JobData, target: CallTarget) => mediaCall(target, job.model, geminiTranscriptionCall(job)),
  imageGenerationCall: (job: JobData, target: CallTarget) => mediaCall(target, job.model, geminiImageCall(job)),
  mediaAnswer: geminiMediaAnswer,

  /** OpenAI's Batch API through Gemini's batches (gemini-batches.ts). */
  openAIBatchCall(request: FilesRequest, target: CallTarget): UpstreamCall {
    return forwardFilesCall(target.baseUrl ?? DEFAULT_BASE_URL, geminiBatchRequest(request));
  },
  openAIBatchAnswer: openAIBatchAnswerOfGemini,

  /** Files (`/v1beta/files`, uploads at `/upload/v1beta/files`) and batches (`/v1beta/batches`, `:batchGenerateContent`). */
  filesCall(request: FilesRequest, target: CallTarget): UpstreamCall {
    return forwardFilesCall(target.baseUrl ?? DEFAULT_BASE_URL, request);
  },
};
