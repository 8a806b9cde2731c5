// Bedrock's InvokeModel and InvokeModelWithResponseStream for a native `invoke` job: the client's body, of whatever
// model family, goes to `/model/{id}/invoke` as it came, and the answer back as Bedrock wrote it. A stream's chunks
// are each `chunk` event's JSON (its `bytes`, decoded), which the front frames again for the client. The usage is
// what Bedrock counted: the `x-amzn-bedrock-*-token-count` headers of an answer (else the family's own counts in the
// body), and a stream's last chunk's `amazon-bedrock-invocationMetrics`, which also marks its end.

import { usageData, type JobData, type UsageData } from '../../src/contract/messages.js';
import { isObject, parseObject, type Json } from './json.js';
import type { ChatAnswer, StreamEvent, StreamState, StreamStep, UpstreamCall } from './types.js';

/** Statuses of the exceptions a Bedrock stream may send inside it (the SDK's error table). */
const EXCEPTION_STATUS: Readonly<Record<string, number>> = {
  validationException: 400,
  accessDeniedException: 403,
  resourceNotFoundException: 404,
  modelTimeoutException: 408,
  throttlingException: 429,
  modelNotReadyException: 429,
  internalServerException: 500,
  // AWS says 424 (Failed Dependency): the model failed, which to a client is an upstream failure, not its request.
  modelStreamErrorException: 502,
  serviceUnavailableException: 503,
};

function messageOf(data: Json, fallback: string): string {
  const message = data.message ?? data.Message;
  return typeof message === 'string' && message !== '' ? message : fallback;
}

/** A stream event that is not one of the operation's own: an exception (a failed step), or nothing to forward. */
export function exceptionStep(event: StreamEvent): StreamStep {
  const name = event.event ?? '';
  let data: Json = {};
  try {
    const parsed: unknown = JSON.parse(event.data);
    if (isObject(parsed)) data = parsed;
  } catch {
    if (event.data.trim() !== '') data = { message: event.data.trim() };
  }
  // Exceptions are named `…Exception`; an error frame of the framing itself names its code and has a message.
  if (/exception$/i.test(name) || typeof data.message === 'string') {
    const key = name.charAt(0).toLowerCase() + name.slice(1);
    const message = `${name}: ${messageOf(data, 'stream failed')}`;
    return { chunks: [], done: false, error: { status: Object.hasOwn(EXCEPTION_STATUS, key) ? EXCEPTION_STATUS[key] : 500, message } };
  }
  return { chunks: [], done: false };
}

export function invokeCall(job: JobData, url: string): UpstreamCall {
  return { url, headers: { accept: job.stream ? 'application/vnd.amazon.eventstream' : 'application/json' }, body: JSON.stringify(job.body),
    droppedParams: [] };
}

const count = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** The family's own counts in an answer, where it has them (Mistral's and DeepSeek's have none in the body). */
function bodyUsage(answer: Json): [number | null, number | null] {
  const usage = isObject(answer.usage) ? answer.usage : {};
  const meta = isObject(answer.meta) && isObject(answer.meta.billed_units) ? answer.meta.billed_units : {};
  const results = Array.isArray(answer.results) ? answer.results as Json[] : null;
  return [
    count(usage.input_tokens) ?? count(usage.inputTokens) ?? count(usage.prompt_tokens) ?? count(answer.prompt_token_count)
      ?? count(answer.inputTextTokenCount) ?? count(meta.input_tokens),
    count(usage.output_tokens) ?? count(usage.outputTokens) ?? count(usage.completion_tokens) ?? count(answer.generation_token_count)
      ?? (results ? results.reduce((sum, result) => sum + (count(result.tokenCount) ?? 0), 0) : null) ?? count(meta.output_tokens),
  ];
}

function usageOf(input: number | null, output: number | null): UsageData | null {
  if (input === null && output === null) return null;
  return usageData(input ?? 0, output ?? 0, (input ?? 0) + (output ?? 0));
}

export function invokeAnswer(text: string, header: (name: string) => string | undefined): ChatAnswer {
  const answer = parseObject(text, 'the answer');
  const counted = (name: string) => {
    const value = header(`x-amzn-bedrock-${name}-token-count`);
    return value === undefined || !/^\d+$/.test(value) ? null : Number(value);
  };
  const [input, output] = bodyUsage(answer);
  return { body: text, usage: usageOf(counted('input') ?? input, counted('output') ?? output) };
}

export function invokeEvent(event: StreamEvent, state: StreamState): StreamStep {
  if (event.event !== 'chunk') return exceptionStep(event);
  const payload = parseObject(event.data, 'the stream event');
  if (typeof payload.bytes !== 'string') throw new SyntaxError('a chunk event has no bytes');
  const json = Buffer.from(payload.bytes, 'base64').toString('utf8');
  const data = parseObject(json, 'the chunk');
  const metrics = data['amazon-bedrock-invocationMetrics'];
  if (!isObject(metrics)) return { chunks: [json], done: false };
  state.usage = usageOf(count(metrics.inputTokenCount), count(metrics.outputTokenCount));
  return { chunks: [json], done: true };
}
