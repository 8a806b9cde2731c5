// The keyless built-in provider: answers inside the worker with a deterministic echo of the last user message,
// after the configured latency, in the configured number of stream chunks. It makes the default config work
// with no keys and gives benchmarks an upstream with no network cost. Behaviour by model name:
// `mock/<anything>` echoes; `mock/error-<status>` fails as an upstream answering that status would.

import type { JobData, UsageData } from '../../src/contract/messages.js';
import type { ProviderInit } from '../../src/contract/worker-init.js';
import type { InProcessAdapter, InProcessIo } from './types.js';

let completionCounter = 0;

function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role?: unknown; content?: unknown };
    if (message?.role !== 'user') continue;
    if (typeof message.content === 'string') return message.content;
    if (Array.isArray(message.content)) {
      return message.content
        .map((part: { type?: unknown; text?: unknown }) => (part?.type === 'text' && typeof part.text === 'string' ? part.text : ''))
        .join('');
    }
  }
  return '';
}

function promptCharacters(messages: unknown): number {
  return Array.isArray(messages) ? JSON.stringify(messages).length : 0;
}

/** Splits text into at most `count` pieces on word boundaries, keeping the spaces so the pieces join back. */
function splitIntoChunks(text: string, count: number): string[] {
  const words = text.match(/\S+\s*/g) ?? [text];
  const pieces: string[] = [];
  const perPiece = Math.ceil(words.length / Math.max(1, count));
  for (let i = 0; i < words.length; i += perPiece) pieces.push(words.slice(i, i + perPiece).join(''));
  return pieces;
}

function planReply(job: JobData, provider: ProviderInit) {
  const options = provider.mock!;
  const echoed = lastUserText(job.body.messages);
  let words: string[] = (echoed ? `Echo: ${echoed}` : "Hello from Heimdall's mock provider.").match(/\S+\s*/g) ?? [];
  const maxTokens = job.body.max_completion_tokens ?? job.body.max_tokens;
  let finishReason = 'stop';
  if (typeof maxTokens === 'number' && maxTokens >= 0 && words.length > maxTokens) {
    words = words.slice(0, maxTokens);
    finishReason = 'length';
  }
  const text = words.join('').trimEnd();
  const promptTokens = options.promptTokens ?? Math.ceil(promptCharacters(job.body.messages) / 4);
  const completionTokens = options.completionTokens ?? words.length;
  const usage: UsageData = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
  return { text, finishReason, usage };
}

function openAIUsage(usage: UsageData) {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens };
}

export const mock: InProcessAdapter = {
  id: 'mock',
  transport: 'in-process',

  async run(job: JobData, provider: ProviderInit, io: InProcessIo): Promise<void> {
    const failure = /^error-(\d{3})$/.exec(job.model);
    const options = provider.mock!;
    if (options.latencyMs > 0) await io.sleep(options.latencyMs);
    if (io.signal.aborted) return;
    if (failure) {
      io.upstreamError(Number(failure[1]), `mock provider failing as asked by model '${job.model}'`);
      return;
    }
    const { text, finishReason, usage } = planReply(job, provider);
    const id = `chatcmpl-mock-${++completionCounter}`;
    const created = Math.floor(Date.now() / 1000);
    if (!job.stream) {
      io.result(JSON.stringify({
        id, object: 'chat.completion', created, model: job.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finishReason }],
        usage: openAIUsage(usage),
      }), usage);
      return;
    }
    const chunk = (delta: object, finish: string | null) => JSON.stringify({
      id, object: 'chat.completion.chunk', created, model: job.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    const pieces = splitIntoChunks(text, options.chunkCount);
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0 && options.chunkIntervalMs > 0) await io.sleep(options.chunkIntervalMs);
      if (io.signal.aborted) return;
      io.chunks([chunk(i === 0 ? { role: 'assistant', content: pieces[i] } : { content: pieces[i] }, null)]);
    }
    const tail = [chunk({}, finishReason)];
    if (job.includeUsage) {
      tail.push(JSON.stringify({ id, object: 'chat.completion.chunk', created, model: job.model, choices: [], usage: openAIUsage(usage) }));
    }
    io.chunks(tail);
    io.end(usage);
  },
};
