// A whole chat.completion as the chunks a stream of it would have carried: for answers that did not come from
// a provider's stream (a plugin's short-circuit, a cache hit) sent to a client that asked for `stream: true`.

interface Completion {
  id?: unknown;
  created?: unknown;
  model?: unknown;
  choices?: { index?: number; message?: Record<string, unknown>; finish_reason?: unknown }[];
  usage?: unknown;
}

/** Null when the body is not a chat.completion (then it is sent as plain JSON). */
export function completionAsChunks(body: string | null): string[] | null {
  let completion: Completion;
  try {
    completion = JSON.parse(body ?? 'null') as Completion;
  } catch {
    return null;
  }
  if (!completion || typeof completion !== 'object' || !Array.isArray(completion.choices)) return null;
  const base = { id: completion.id ?? 'chatcmpl-heimdall', object: 'chat.completion.chunk',
    created: completion.created ?? Math.floor(Date.now() / 1000), model: completion.model ?? '' };
  const chunks: string[] = [];
  for (const [position, choice] of completion.choices.entries()) {
    const index = choice.index ?? position;
    chunks.push(JSON.stringify({ ...base, choices: [{ index, delta: { role: 'assistant', ...choice.message }, finish_reason: null }] }));
    chunks.push(JSON.stringify({ ...base, choices: [{ index, delta: {}, finish_reason: choice.finish_reason ?? 'stop' }] }));
  }
  if (completion.usage) chunks.push(JSON.stringify({ ...base, choices: [], usage: completion.usage }));
  return chunks;
}
