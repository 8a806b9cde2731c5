// Azure OpenAI: OpenAI's wire format behind a per-resource endpoint, where the deployment in the URL names the
// model (so the body carries none) and the `api-version` query parameter picks the API. The answers are
// OpenAI's with content-filter annotations added; the ones that carry no chat content (the prompt annotation
// that opens a stream, the asynchronous filter's annotation frames) are kept from clients, which expect every
// chunk to hold a `delta`.

import { jsonWithTools } from './added-tools.js';
import type { FilesRequest, JobData } from '../../src/contract/messages.js';
import { forwardFilesCall } from './files-forward.js';
import { joinUrl } from '../upstream/url.js';
import { createOpenAICompatible, providerBody, transcriptionForm } from './openai-compatible.js';
import type { CallTarget, HttpAdapter, KeyInit, StreamEvent, StreamState, StreamStep, UpstreamCall } from './types.js';

export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

interface AzureKeyConfig {
  readonly endpoint: string | null;
  /** Model name → deployment name; a model not listed is its own deployment. */
  readonly deployments: Readonly<Record<string, string>>;
  readonly apiVersion: string;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function readKeyConfig(key: KeyInit): AzureKeyConfig {
  const raw = key.configs.azure_key_config;
  if (raw === undefined || raw === null) return { endpoint: null, deployments: {}, apiVersion: AZURE_DEFAULT_API_VERSION };
  if (!isPlainObject(raw)) throw new Error('azure_key_config must be an object');
  let endpoint: string | null = null;
  if (raw.endpoint !== undefined && raw.endpoint !== null && raw.endpoint !== '') {
    if (typeof raw.endpoint !== 'string' || !URL.canParse(raw.endpoint)) {
      throw new Error(`azure_key_config.endpoint must be a URL like https://NAME.openai.azure.com, got ${JSON.stringify(raw.endpoint)}`);
    }
    endpoint = raw.endpoint;
  }
  const deployments: Record<string, string> = {};
  if (raw.deployments !== undefined && raw.deployments !== null) {
    if (!isPlainObject(raw.deployments)) throw new Error('azure_key_config.deployments must map model names to deployment names');
    for (const [model, deployment] of Object.entries(raw.deployments)) {
      if (typeof deployment !== 'string' || deployment === '') {
        throw new Error(`azure_key_config.deployments.${model} must be a deployment name`);
      }
      deployments[model] = deployment;
    }
  }
  let apiVersion = AZURE_DEFAULT_API_VERSION;
  if (raw.api_version !== undefined && raw.api_version !== null) {
    if (typeof raw.api_version !== 'string' || raw.api_version === '') throw new Error('azure_key_config.api_version must be a string');
    apiVersion = raw.api_version;
  }
  return { endpoint, deployments, apiVersion };
}

// A key's config is read and checked once, on its first call; a bad one fails every call with the same message.
const keyConfigs = new WeakMap<KeyInit, AzureKeyConfig | Error>();

function keyConfigOf(key: KeyInit): AzureKeyConfig {
  let config = keyConfigs.get(key);
  if (config === undefined) {
    try {
      config = readKeyConfig(key);
    } catch (error) {
      config = error as Error;
    }
    keyConfigs.set(key, config);
  }
  if (config instanceof Error) throw config;
  return config;
}

/** `{endpoint}/openai`, where every data-plane path lives; `network_config.base_url` replaces the endpoint. */
function azureResourceBase(target: CallTarget): string {
  const base = target.baseUrl ?? keyConfigOf(target.key).endpoint;
  if (!base) throw new Error('no endpoint: set azure_key_config.endpoint (https://NAME.openai.azure.com) or network_config.base_url');
  // An endpoint given with the `/openai` segment already on it is accepted as well.
  return /\/openai\/?$/.test(new URL(base).pathname) ? base : joinUrl(base, '/openai');
}

/** `{endpoint}/openai/deployments/{deployment}/{operation}?api-version=…`. */
function azureUrl(job: JobData, target: CallTarget, operation: string): string {
  const config = keyConfigOf(target.key);
  const deployment = Object.hasOwn(config.deployments, job.model) ? config.deployments[job.model] : job.model;
  return joinUrl(azureResourceBase(target), `/deployments/${encodeURIComponent(deployment)}/${operation}?api-version=${encodeURIComponent(config.apiVersion)}`);
}

/**
 * A files or batches call in OpenAI's form (`/v1/files…`, `/v1/batches…`) as Azure's: the same paths under the
 * resource's `/openai`, with the key's `api-version` in place of any the client sent.
 */
function azureFilesRequest(request: FilesRequest, apiVersion: string): FilesRequest {
  const query = new URLSearchParams(request.query);
  query.set('api-version', apiVersion);
  return { ...request, path: request.path.replace(/^\/v1(?=\/)/, ''), query: query.toString() };
}

/** The client's body less `model` (the deployment in the URL names it), and the fields it had to leave out. */
function azureBody(job: JobData): { body: string; droppedParams: string[] } {
  const { body, dropped } = providerBody(job, []);
  delete body.model;
  // Always ask for the usage chunk so token metrics work; the shared transform withholds it from clients that did not ask.
  if (job.stream) body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
  return { body: jsonWithTools(body, job.tools), droppedParams: dropped };
}

// Annotation frames carry `"object":""` (and an empty id); the prompt annotation has `"choices":[]` too. Only
// events that may be one of these are parsed; every other chunk goes through the OpenAI transform untouched.
const MAYBE_ANNOTATION = /"object"\s*:\s*""|"choices"\s*:\s*\[\s*\]/;
const CHUNK_ID = /"id"\s*:\s*"([^"]+)"/;

interface AnnotationChoice {
  index?: number;
  delta?: unknown;
  finish_reason?: string | null;
  content_filter_results?: unknown;
}

interface AzureChunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  choices?: AnnotationChoice[];
  usage?: unknown;
}

/** Keeps what a stream's real chunks say about themselves, to dress a finishing annotation as one of them. */
function remember(data: string, state: StreamState): void {
  if (state.scratch.id !== undefined) return;
  const id = CHUNK_ID.exec(data)?.[1];
  if (!id) return;
  const chunk = JSON.parse(data) as AzureChunk;
  state.scratch.id = id;
  state.scratch.created = chunk.created;
  state.scratch.model = chunk.model;
}

/** An annotation frame: dropped, unless it ends a choice (the asynchronous filter's `content_filter` finish). */
function annotationStep(chunk: AzureChunk, state: StreamState): StreamStep {
  // A frame in the annotation's place is whatever the upstream sent: only well-formed finishing choices count.
  const listed: unknown[] = Array.isArray(chunk.choices) ? chunk.choices : [];
  const finishing = listed.filter((choice): choice is AnnotationChoice => isPlainObject(choice) && Boolean(choice.finish_reason));
  if (finishing.length === 0) return { chunks: [], done: false };
  const choices = finishing.map((choice) => ({
    index: choice.index ?? 0,
    delta: {},
    logprobs: null,
    finish_reason: choice.finish_reason,
    ...(choice.content_filter_results ? { content_filter_results: choice.content_filter_results } : {}),
  }));
  const scratch = state.scratch;
  return {
    chunks: [JSON.stringify({
      id: scratch.id ?? '',
      object: 'chat.completion.chunk',
      created: scratch.created ?? Math.floor(Date.now() / 1000),
      model: scratch.model ?? state.model,
      choices,
    })],
    done: false,
  };
}

const openaiFormat = createOpenAICompatible({
  id: 'azure',
  defaultBaseUrl: null,
  auth: { kind: 'header', name: 'api-key' },
  // Azure lists deployments' models per resource, not in OpenAI's shape at the chat path's side.
  modelsPath: null,
});

export const azure: HttpAdapter = {
  ...openaiFormat,

  chatCall(job: JobData, target: CallTarget): UpstreamCall {
    return { url: azureUrl(job, target, 'chat/completions'), ...azureBody(job) };
  },

  streamEvent(event: StreamEvent, state: StreamState): StreamStep {
    const data = event.data;
    if (data !== '[DONE]' && MAYBE_ANNOTATION.test(data)) {
      const chunk = JSON.parse(data) as AzureChunk;
      const usage = chunk.usage !== null && typeof chunk.usage === 'object';
      const noChoices = !Array.isArray(chunk.choices) || chunk.choices.length === 0;
      if (chunk.object === '' || (noChoices && !usage)) return annotationStep(chunk, state);
    } else if (data !== '[DONE]') {
      remember(data, state);
    }
    return openaiFormat.streamEvent(event, state);
  },

  embeddingsCall(job: JobData, target: CallTarget): UpstreamCall {
    return { url: azureUrl(job, target, 'embeddings'), ...azureBody(job) };
  },

  // The deployment in the URL names the model, so the media bodies carry none either.
  speechCall(job: JobData, target: CallTarget): UpstreamCall {
    return { url: azureUrl(job, target, 'audio/speech'), ...azureBody(job) };
  },

  transcriptionCall(job: JobData, target: CallTarget): UpstreamCall {
    const { model: _model, ...fields } = job.body;
    return { url: azureUrl(job, target, 'audio/transcriptions'), body: '', form: transcriptionForm(fields), droppedParams: [] };
  },

  imageGenerationCall(job: JobData, target: CallTarget): UpstreamCall {
    return { url: azureUrl(job, target, 'images/generations'), ...azureBody(job) };
  },

  filesCall(request: FilesRequest, target: CallTarget): UpstreamCall {
    return forwardFilesCall(azureResourceBase(target), azureFilesRequest(request, keyConfigOf(target.key).apiVersion));
  },

  // Azure has image edits (gpt-image-1) but no variations: a variation is refused with the worker's clear 400.
  imageEditCall(job: JobData, target: CallTarget): UpstreamCall {
    const { model: _model, ...fields } = job.body;
    return { url: azureUrl(job, target, 'images/edits'), body: '', form: transcriptionForm(fields), droppedParams: [] };
  },
};
