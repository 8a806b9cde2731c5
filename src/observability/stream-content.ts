// A stream's chunks, as the request log captured them, made into the one message a non-streamed request would have
// got: OpenAI chat chunks into a chat.completion (which the client's dialect then writes in its own shape), and the
// SSE blocks of a native stream into that API's final object (Anthropic's Message, OpenAI Responses' response).
// Runs once per logged stream, after its response is complete: never per chunk.

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

interface ToolCall {
  id?: unknown;
  type: string;
  function: { name: string; arguments: string };
}

interface Choice {
  index: number;
  role: string;
  content: string | null;
  reasoning: string | null;
  refusal: string | null;
  toolCalls: ToolCall[] | null;
  finishReason: unknown;
}

// Most chunks of a stream only add text to one choice, or arguments to one of its tool calls. JSON.parse costs ~2 µs
// of CPU for each such ~170-byte chunk on this VM, a fifth of the front thread's extra time per stream over the bare
// hop; one anchored match of the whole chunk costs a sixth of that. It takes a chunk only when nothing in it but that
// text matters to the answer: the envelope's scalar fields (id, model and created are the first parsed chunk's),
// exactly one choice whose delta is `{"content":"…"}` or `{"tool_calls":[{"index":i,"function":{"arguments":"…"}}]}`
// alone, no logprobs, no finish reason. Anything else, pretty-printed JSON included, is parsed.
const SCALAR = '(?:"[^"\\\\]*"|-?\\d+(?:\\.\\d+)?|null|true|false)';
const FIELD = `"[a-z_]+":${SCALAR}`;
const STRING = '"((?:[^"\\\\]|\\\\.)*)"';
const DELTA = `(?:\\{"content":${STRING}\\}|\\{"tool_calls":\\[\\{"index":(\\d+),"function":\\{"arguments":${STRING}\\}\\}\\]\\})`;
const TEXT_ONLY_CHUNK = new RegExp(`^\\{(?:${FIELD},)*"choices":\\[\\{"index":(\\d+),"delta":${DELTA}`
  + `(?:,"logprobs":null)?,"finish_reason":null\\}\\](?:,${FIELD})*\\}$`);

interface TextOnly {
  choice: number;
  /** The tool call the text belongs to, or null for the message's content. */
  toolCall: number | null;
  text: string;
}

/** What a chunk that only adds text adds, else null (the chunk needs a parse). */
function textOnlyChunk(chunk: string): TextOnly | null {
  const match = TEXT_ONLY_CHUNK.exec(chunk);
  if (match === null) return null;
  const raw = match[2] ?? match[4];
  const text = raw.includes('\\') ? parseJson(`"${raw}"`) : raw;
  if (typeof text !== 'string') return null;
  return { choice: Number(match[1]), toolCall: match[3] === undefined ? null : Number(match[3]), text };
}

const newChoice = (index: number): Choice =>
  ({ index, role: 'assistant', content: null, reasoning: null, refusal: null, toolCalls: null, finishReason: null });

/** OpenAI chat.completion.chunk JSON texts → a chat.completion JSON text. */
export function chatCompletionOf(chunks: readonly string[]): string {
  let id: unknown = null;
  let model: unknown = null;
  let created: unknown = null;
  let usage: unknown = null;
  const choices: Choice[] = [];
  for (const text of chunks) {
    // The envelope (id, model, created) comes from the first chunk that is parsed; later ones only add to it.
    const quick = id != null && model != null && created != null ? textOnlyChunk(text) : null;
    if (quick !== null) {
      const choice = (choices[quick.choice] ??= newChoice(quick.choice));
      if (quick.toolCall === null) choice.content = (choice.content ?? '') + quick.text;
      else addToolCalls(choice, [{ index: quick.toolCall, function: { arguments: quick.text } }]);
      continue;
    }
    const chunk = parseJson(text);
    if (!isObject(chunk)) continue;
    id ??= chunk.id;
    model ??= chunk.model;
    created ??= chunk.created;
    if (chunk.usage) usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) continue;
    for (const raw of chunk.choices as unknown[]) {
      if (!isObject(raw)) continue;
      const index = typeof raw.index === 'number' ? raw.index : 0;
      const choice = (choices[index] ??= newChoice(index));
      if (raw.finish_reason) choice.finishReason = raw.finish_reason;
      const delta = isObject(raw.delta) ? raw.delta : null;
      if (!delta) continue;
      if (typeof delta.role === 'string') choice.role = delta.role;
      if (typeof delta.content === 'string') choice.content = (choice.content ?? '') + delta.content;
      if (typeof delta.refusal === 'string') choice.refusal = (choice.refusal ?? '') + delta.refusal;
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (typeof reasoning === 'string') choice.reasoning = (choice.reasoning ?? '') + reasoning;
      if (Array.isArray(delta.tool_calls)) addToolCalls(choice, delta.tool_calls as unknown[]);
    }
  }
  return JSON.stringify({
    id, object: 'chat.completion', created, model,
    choices: choices.filter(Boolean).map((c) => ({
      index: c.index,
      message: { role: c.role, content: c.content, ...(c.reasoning !== null ? { reasoning_content: c.reasoning } : {}),
        ...(c.refusal !== null ? { refusal: c.refusal } : {}), ...(c.toolCalls ? { tool_calls: c.toolCalls.filter(Boolean) } : {}) },
      finish_reason: c.finishReason,
    })),
    ...(usage ? { usage } : {}),
  });
}

function addToolCalls(choice: Choice, deltas: readonly unknown[]): void {
  const calls = (choice.toolCalls ??= []);
  for (const delta of deltas) {
    if (!isObject(delta)) continue;
    const index = typeof delta.index === 'number' ? delta.index : calls.length;
    const call = (calls[index] ??= { type: 'function', function: { name: '', arguments: '' } });
    if (delta.id !== undefined) call.id = delta.id;
    const fn = isObject(delta.function) ? delta.function : null;
    if (typeof fn?.name === 'string') call.function.name += fn.name;
    if (typeof fn?.arguments === 'string') call.function.arguments += fn.arguments;
  }
}

/** The `data:` JSON of each SSE block (`event: x\ndata: {...}\n\n`), with its event name. */
function* sseEvents(blocks: readonly string[]): Generator<{ event: string; data: Json }> {
  for (const block of blocks) {
    for (const part of block.split('\n\n')) {
      let event = '';
      let data = '';
      for (const line of part.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trimStart();
      }
      const parsed = data ? parseJson(data) : null;
      if (isObject(parsed)) yield { event: event || String(parsed.type ?? ''), data: parsed };
    }
  }
}

/** A native Anthropic Messages stream → the Message it spelled out. */
export function anthropicMessageOf(blocks: readonly string[]): string {
  let message: Json = { type: 'message', role: 'assistant', content: [] };
  const content: Json[] = [];
  for (const { event, data } of sseEvents(blocks)) {
    if (event === 'message_start' && isObject(data.message)) message = { ...data.message };
    else if (event === 'content_block_start' && isObject(data.content_block) && typeof data.index === 'number') {
      content[data.index] = { ...data.content_block };
    } else if (event === 'content_block_delta' && isObject(data.delta) && typeof data.index === 'number') {
      const block = (content[data.index] ??= { type: 'text', text: '' });
      const delta = data.delta;
      if (typeof delta.text === 'string') block.text = String(block.text ?? '') + delta.text;
      if (typeof delta.thinking === 'string') block.thinking = String(block.thinking ?? '') + delta.thinking;
      if (typeof delta.partial_json === 'string') block.partial_json = String(block.partial_json ?? '') + delta.partial_json;
    } else if (event === 'message_delta') {
      if (isObject(data.delta)) Object.assign(message, data.delta);
      if (isObject(data.usage)) message.usage = { ...(isObject(message.usage) ? message.usage : {}), ...data.usage };
    }
  }
  message.content = content.filter(Boolean).map((block) => {
    if (typeof block.partial_json !== 'string') return block;
    const { partial_json: json, ...rest } = block;
    return { ...rest, input: parseJson(json as string) ?? json };
  });
  return JSON.stringify(message);
}

/** A native OpenAI Responses stream → its final `response` object (from `response.completed` and its kin). */
export function responsesObjectOf(blocks: readonly string[]): string {
  let last: unknown = null;
  let text = '';
  for (const { event, data } of sseEvents(blocks)) {
    if (isObject(data.response)) last = data.response;
    if (event === 'response.output_text.delta' && typeof data.delta === 'string') text += data.delta;
  }
  // A stream cut short has no final response: its text so far says what the client got.
  return JSON.stringify(isObject(last) && Array.isArray(last.output) && last.output.length > 0 ? last
    : { ...(isObject(last) ? last : {}), output_text: text });
}
