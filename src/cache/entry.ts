// One cached answer, as the client's wire got it before writing: a JSON answer's body, or a stream's chunks in
// order. Stored as JSON text in Redis; kept as the object in memory.

import type { UsageData } from '../contract/messages.js';
import { completionAsChunks } from '../pipeline/completion-chunks.js';
import { chatCompletionOf } from '../observability/stream-content.js';

export interface CacheEntry {
  /** The answer as JSON text (a chat.completion, embeddings list, or a native API's object); null for a stream. */
  readonly body: string | null;
  /** A stream's chunks as the wire took them (chat.completion.chunk JSON, or a native API's SSE blocks). */
  readonly chunks: readonly string[] | null;
  /** Chat chunks and completions can be converted into each other; a native API's answers cannot. */
  readonly convertible: boolean;
  readonly usage: UsageData | null;
  /** Epoch milliseconds: the `age` header. */
  readonly storedAt: number;
}

export function entryBytes(entry: CacheEntry): number {
  let bytes = 64 + (entry.body?.length ?? 0) * 2;
  for (const chunk of entry.chunks ?? []) bytes += 16 + chunk.length * 2;
  return bytes;
}

/** The entry as a JSON answer; null when it is a stream that cannot be one. */
export function bodyOf(entry: CacheEntry): string | null {
  if (entry.body !== null) return entry.body;
  return entry.convertible && entry.chunks ? chatCompletionOf(entry.chunks) : null;
}

const isUsageChunk = (chunk: string) => chunk.includes('"choices":[]') && chunk.includes('"usage"');

/**
 * The entry as stream chunks for a client that asked for a stream; null when it is a JSON answer that cannot be one.
 * The usage chunk goes only to a client that asked for it (`stream_options.include_usage`), as the provider does.
 */
export function chunksOf(entry: CacheEntry, includeUsage: boolean): readonly string[] | null {
  const chunks = entry.chunks ?? (entry.convertible ? completionAsChunks(entry.body) : null);
  if (!chunks || !entry.convertible) return chunks;
  const withoutUsage = chunks.filter((chunk) => !isUsageChunk(chunk));
  if (!includeUsage) return withoutUsage;
  if (withoutUsage.length < chunks.length || !entry.usage) return chunks;
  // A stream stored without its usage chunk, asked for with one: made from the usage the provider reported.
  const base = JSON.parse(withoutUsage[0] ?? '{}') as { id?: unknown; created?: unknown; model?: unknown };
  const { promptTokens, completionTokens, totalTokens } = entry.usage;
  return [...withoutUsage, JSON.stringify({ id: base.id, object: 'chat.completion.chunk', created: base.created, model: base.model,
    choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: totalTokens } })];
}

export function parseEntry(text: string): CacheEntry | null {
  try {
    const value = JSON.parse(text) as CacheEntry;
    if (typeof value !== 'object' || value === null || typeof value.storedAt !== 'number') return null;
    if ((value.body === null) === (value.chunks === null)) return null;
    return value;
  } catch {
    return null;
  }
}
