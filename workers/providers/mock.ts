// The keyless built-in provider: answers inside the worker with a deterministic echo of the last user message,
// after the configured latency, in the configured number of stream chunks. It makes the default config work
// with no keys and gives benchmarks an upstream with no network cost. Behaviour by model name:
// `mock/<anything>` echoes; `mock/error-<status>` fails as an upstream answering that status would;
// `mock/tool-call` calls a tool: the request's tool whose name the last user message names, with the first JSON
// object in that message as its arguments, and once the conversation ends with tool results, answers with them (a
// model to try MCP's agent mode with, and to test it). A rerank job scores each document by the query words it holds.
// Embeddings are a hashed bag of the input's words (64 dimensions, or `dimensions`), unit length: texts that share
// words are near, so the response cache's semantic layer can be tried with no embedding API.

import type { JobData, RerankAnswer, RerankRequest, UsageData } from '../../src/contract/messages.js';
import type { ProviderInit } from '../../src/contract/worker-init.js';
import type { InProcessAdapter, InProcessIo } from './types.js';
import { withToolsParsed } from './added-tools.js';

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

interface PlannedCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** `mock/tool-call`: the call to make, or null when the conversation ends with tool results (or names no tool). */
function planToolCall(job: JobData): PlannedCall | null {
  const messages = Array.isArray(job.body.messages) ? job.body.messages as { role?: unknown }[] : [];
  if (messages.at(-1)?.role === 'tool') return null;
  const text = lastUserText(messages);
  const tools = Array.isArray(job.body.tools) ? job.body.tools as { function?: { name?: unknown }; name?: unknown }[] : [];
  const name = tools.map((tool) => tool.function?.name ?? tool.name).find((n): n is string => typeof n === 'string' && text.includes(n));
  if (!name) return null;
  const json = /\{.*\}/s.exec(text)?.[0] ?? '{}';
  return { id: `call_mock_${++completionCounter}`, type: 'function', function: { name, arguments: json } };
}

/** `mock/tool-call` after the tools ran: their results, as the answer. */
function toolResultsText(messages: unknown): string {
  const list = Array.isArray(messages) ? messages as { role?: unknown; content?: unknown }[] : [];
  let from = list.length;
  while (from > 0 && list[from - 1]?.role === 'tool') from--;
  return `Tool results: ${list.slice(from).map((m) => String(m.content)).join('; ')}`;
}

/** `rerank` jobs: each document scored by the share of the query's words it holds, best first, ties by index. */
function mockRerank(request: RerankRequest): Omit<RerankAnswer, 'id'> {
  const words = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
  const query = words(request.query);
  const scored = request.documents.map((document, index) => {
    const held = words(document);
    const hits = [...query].filter((word) => held.has(word)).length;
    return { index, relevance_score: query.size === 0 ? 0 : Math.round((hits / query.size) * 1000) / 1000 };
  }).sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index);
  const top = typeof request.top_n === 'number' ? scored.slice(0, request.top_n) : scored;
  const tokens = Math.ceil((request.query.length + request.documents.join('').length) / 4);
  return { results: top, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

function openAIUsage(usage: UsageData) {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens };
}

const DEFAULT_DIMENSIONS = 64;

/** FNV-1a of a word: where it lands in the vector, and with which sign. */
function wordHash(word: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ word.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function bagOfWords(text: string, dimensions: number): { vector: number[]; words: number } {
  const vector = new Array<number>(dimensions).fill(0);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  for (const word of words) {
    const hash = wordHash(word);
    vector[hash % dimensions] += hash & 0x80000000 ? -1 : 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return { vector: vector.map((x) => Math.round((x / norm) * 1e6) / 1e6), words: words.length };
}

function embeddings(job: JobData, io: InProcessIo): void {
  const input = job.body.input;
  const texts = (Array.isArray(input) ? input : [input]).map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
  const requested = job.body.dimensions;
  const dimensions = typeof requested === 'number' && Number.isInteger(requested) && requested > 0 && requested <= 4096
    ? requested : DEFAULT_DIMENSIONS;
  let tokens = 0;
  const data = texts.map((text, index) => {
    const { vector, words } = bagOfWords(text, dimensions);
    tokens += words;
    return { object: 'embedding', index, embedding: vector };
  });
  const usage: UsageData = { promptTokens: tokens, completionTokens: 0, totalTokens: tokens };
  io.result(JSON.stringify({ object: 'list', data, model: job.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }), usage);
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
    if (job.kind === 'rerank') {
      const answer = mockRerank(job.body as RerankRequest);
      io.result(JSON.stringify({ id: `rerank-mock-${++completionCounter}`, ...answer }), answer.usage.total_tokens === undefined ? null
        : { promptTokens: answer.usage.total_tokens, completionTokens: 0, totalTokens: answer.usage.total_tokens });
      return;
    }
    if (job.kind === 'embeddings') {
      embeddings(job, io);
      return;
    }
    const planned = planReply(job, provider);
    const { usage } = planned;
    let { text, finishReason } = planned;
    const call = job.model === 'tool-call' ? planToolCall(withToolsParsed(job)) : null;
    if (call) finishReason = 'tool_calls';
    else if (job.model === 'tool-call' && (job.body.messages as { role?: unknown }[] | undefined)?.at?.(-1)?.role === 'tool') text = toolResultsText(job.body.messages);
    const id = `chatcmpl-mock-${++completionCounter}`;
    const created = Math.floor(Date.now() / 1000);
    if (!job.stream) {
      const message = call ? { role: 'assistant', content: null, tool_calls: [call], refusal: null }
        : { role: 'assistant', content: text, refusal: null };
      io.result(JSON.stringify({
        id, object: 'chat.completion', created, model: job.model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        usage: openAIUsage(usage),
      }), usage);
      return;
    }
    const chunk = (delta: object, finish: string | null) => JSON.stringify({
      id, object: 'chat.completion.chunk', created, model: job.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    if (call) {
      io.chunks([chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, ...call }] }, null), chunk({}, finishReason)]);
      io.end(usage);
      return;
    }
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
