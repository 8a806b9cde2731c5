// The OpenAI wire format, shared by OpenAI itself and every server that speaks it (vLLM, Ollama's /v1,
// LM Studio, …). A provider of this family is this factory with its own id, base URL and auth.

import type { JobData, UsageData } from '../../src/contract/messages.js';
import { joinUrl } from '../upstream/url.js';
import type { AuthStyle, CallTarget, ChatAnswer, HttpAdapter, StreamEvent, StreamState, StreamStep, UpstreamCall } from './types.js';

export interface OpenAICompatibleOptions {
  readonly id: string;
  /** Null for servers that have no public endpoint (vLLM, SGLang): the config must give `base_url`. */
  readonly defaultBaseUrl: string | null;
  readonly auth?: AuthStyle;
  readonly chatPath?: string;
  /** Null when the provider has no embeddings endpoint. */
  readonly embeddingsPath?: string | null;
  /** Request fields the provider rejects: dropped before sending and reported to the client. */
  readonly unsupportedParams?: readonly string[];
}

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export function usageFromOpenAI(usage: OpenAIUsage | null | undefined): UsageData | null {
  if (!usage || typeof usage !== 'object') return null;
  const promptTokens = usage.prompt_tokens ?? 0;
  const completionTokens = usage.completion_tokens ?? 0;
  return { promptTokens, completionTokens, totalTokens: usage.total_tokens ?? promptTokens + completionTokens };
}

// Servers written in other languages put spaces in their JSON (`"usage": {`).
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const NULL_USAGE_FIRST = /"usage"\s*:\s*null\s*,\s*/;
const NULL_USAGE_AFTER = /,\s*"usage"\s*:\s*null/;

function withoutNullUsage(data: string): string {
  if (!data.includes('"usage"')) return data;
  return NULL_USAGE_FIRST.test(data) ? data.replace(NULL_USAGE_FIRST, '') : data.replace(NULL_USAGE_AFTER, '');
}

/** The request body for the provider: the client's fields less the ones it cannot take, with its model name. */
function providerBody(job: JobData, unsupported: readonly string[]): { body: Record<string, unknown>; dropped: string[] } {
  const body: Record<string, unknown> = { ...job.body, model: job.model };
  const dropped: string[] = [];
  for (const name of unsupported) {
    if (body[name] === undefined) continue;
    delete body[name];
    dropped.push(name);
  }
  return { body, dropped };
}

export function createOpenAICompatible(options: OpenAICompatibleOptions): HttpAdapter {
  const chatPath = options.chatPath ?? '/v1/chat/completions';
  const embeddingsPath = options.embeddingsPath === undefined ? '/v1/embeddings' : options.embeddingsPath;
  const unsupported = options.unsupportedParams ?? [];
  const baseOf = (target: CallTarget): string => {
    const base = target.baseUrl ?? options.defaultBaseUrl;
    if (!base) throw new Error('no base URL configured (network_config.base_url)');
    return base;
  };
  const adapter: HttpAdapter = {
    id: options.id,
    transport: 'http',
    auth: options.auth ?? { kind: 'bearer' },
    streamFormat: 'sse',

    chatCall(job: JobData, target: CallTarget): UpstreamCall {
      const { body, dropped } = providerBody(job, unsupported);
      // Always ask for the usage chunk so token metrics work; it is withheld from clients that did not ask.
      if (job.stream) body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
      return { url: joinUrl(baseOf(target), chatPath), body: JSON.stringify(body), droppedParams: dropped };
    },

    chatAnswer(text: string): ChatAnswer {
      const parsed = JSON.parse(text) as { usage?: OpenAIUsage; choices?: unknown };
      if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.choices)) {
        throw new SyntaxError('the answer has no choices array');
      }
      // Same wire format: forward the provider's bytes untouched rather than re-serialising them.
      return { body: text, usage: usageFromOpenAI(parsed.usage) };
    },

    streamEvent(event: StreamEvent, state: StreamState): StreamStep {
      if (event.data === '[DONE]') return { chunks: [], done: true };
      // Only the usage chunk needs parsing; every other chunk is forwarded as the provider sent it, less the
      // `"usage":null` that asking for usage adds to each chunk, for clients that did not ask.
      if (!USAGE_OBJECT.test(event.data)) {
        return { chunks: [state.includeUsage ? event.data : withoutNullUsage(event.data)], done: false };
      }
      const chunk = JSON.parse(event.data) as { usage?: OpenAIUsage; choices?: unknown[] };
      state.usage = usageFromOpenAI(chunk.usage);
      const usageOnly = !chunk.choices || chunk.choices.length === 0;
      return { chunks: usageOnly && !state.includeUsage ? [] : [event.data], done: false };
    },

    errorMessage(text: string): string | null {
      try {
        const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
        if (typeof parsed.error === 'string') return parsed.error;
        if (typeof parsed.error?.message === 'string') return parsed.error.message;
        if (typeof parsed.message === 'string') return parsed.message;
      } catch {
        // Not JSON: fall through to null and let the caller use the raw text.
      }
      return null;
    },
  };
  if (embeddingsPath !== null) {
    adapter.embeddingsCall = (job: JobData, target: CallTarget): UpstreamCall => {
      const { body, dropped } = providerBody(job, unsupported);
      return { url: joinUrl(baseOf(target), embeddingsPath), body: JSON.stringify(body), droppedParams: dropped };
    };
    adapter.embeddingsAnswer = (text: string): ChatAnswer => {
      const parsed = JSON.parse(text) as { data?: unknown; usage?: OpenAIUsage };
      if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.data)) throw new SyntaxError('the answer has no data array');
      return { body: text, usage: usageFromOpenAI(parsed.usage) };
    };
  }
  return adapter;
}
