// A stream's chunks, as the request log captures them, made into the one message a non-streamed request would have
// got: OpenAI chat chunks into a chat.completion (which the client's dialect then writes in its own shape), and the
// SSE blocks of a native stream into that API's final object (Anthropic's Message, OpenAI Responses' response).
// Accumulated as the chunks arrive, so an open stream holds its answer's text, not every chunk it was framed in: a
// long answer (thousands of chunks, seconds apart) would otherwise keep each chunk alive to its end, old enough for
// the major GC to mark, and several times the text's size.

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Characters of text an accumulator keeps, across all of an answer's texts; past them it notes the cut. */
export interface TextBudget {
  left: number;
  cut: boolean;
}

const unlimited = (): TextBudget => ({ left: Infinity, cut: false });

// Pieces are joined every so often: a delta taken out of a chunk may be a slice that keeps the whole chunk alive, and
// one string per delta costs a header each; a joined string is a flat copy of its text alone.
const PIECES_PER_JOIN = 64;

/** Text that grows by small pieces (a stream's deltas), held as a few flat strings. */
class GrowingText {
  #joined = '';
  #pieces: string[] = [];

  constructor(private readonly budget: TextBudget) {}

  add(piece: string): void {
    if (piece.length === 0) return;
    if (piece.length > this.budget.left) {
      if (this.budget.left > 0) this.#pieces.push(piece.slice(0, this.budget.left));
      this.budget.left = 0;
      this.budget.cut = true;
    } else {
      this.budget.left -= piece.length;
      this.#pieces.push(piece);
    }
    if (this.#pieces.length >= PIECES_PER_JOIN) {
      this.#joined += this.#pieces.join('');
      this.#pieces = [];
    }
  }

  toString(): string {
    return this.#pieces.length === 0 ? this.#joined : this.#joined + this.#pieces.join('');
  }
}

/** What a stream's chunks are made into, chunk by chunk. */
export interface StreamAnswer {
  add(chunk: string): void;
  /** The final message as JSON text. */
  text(): string;
}

interface ToolCall {
  id?: unknown;
  name: string;
  arguments: GrowingText;
}

interface Choice {
  index: number;
  role: string;
  content: GrowingText | null;
  reasoning: GrowingText | null;
  refusal: GrowingText | null;
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

/** OpenAI chat.completion.chunk JSON texts → a chat.completion JSON text. */
export class ChatCompletionAnswer implements StreamAnswer {
  #id: unknown = null;
  #model: unknown = null;
  #created: unknown = null;
  #usage: unknown = null;
  readonly #choices: Choice[] = [];

  constructor(private readonly budget: TextBudget = unlimited()) {}

  add(text: string): void {
    // The envelope (id, model, created) comes from the first chunk that is parsed; later ones only add to it.
    const quick = this.#id != null && this.#model != null && this.#created != null ? textOnlyChunk(text) : null;
    if (quick !== null) {
      const choice = this.#choice(quick.choice);
      if (quick.toolCall === null) (choice.content ??= this.#text()).add(quick.text);
      else this.#addToolCalls(choice, [{ index: quick.toolCall, function: { arguments: quick.text } }]);
      return;
    }
    const chunk = parseJson(text);
    if (!isObject(chunk)) return;
    this.#id ??= chunk.id;
    this.#model ??= chunk.model;
    this.#created ??= chunk.created;
    if (chunk.usage) this.#usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const raw of chunk.choices as unknown[]) {
      if (!isObject(raw)) continue;
      const choice = this.#choice(typeof raw.index === 'number' ? raw.index : 0);
      if (raw.finish_reason) choice.finishReason = raw.finish_reason;
      const delta = isObject(raw.delta) ? raw.delta : null;
      if (!delta) continue;
      if (typeof delta.role === 'string') choice.role = delta.role;
      if (typeof delta.content === 'string') (choice.content ??= this.#text()).add(delta.content);
      if (typeof delta.refusal === 'string') (choice.refusal ??= this.#text()).add(delta.refusal);
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (typeof reasoning === 'string') (choice.reasoning ??= this.#text()).add(reasoning);
      if (Array.isArray(delta.tool_calls)) this.#addToolCalls(choice, delta.tool_calls as unknown[]);
    }
  }

  text(): string {
    const text = (value: GrowingText | null) => (value === null ? null : value.toString());
    return JSON.stringify({
      id: this.#id, object: 'chat.completion', created: this.#created, model: this.#model,
      choices: this.#choices.filter(Boolean).map((c) => ({
        index: c.index,
        message: { role: c.role, content: text(c.content), ...(c.reasoning !== null ? { reasoning_content: text(c.reasoning) } : {}),
          ...(c.refusal !== null ? { refusal: text(c.refusal) } : {}),
          ...(c.toolCalls ? { tool_calls: c.toolCalls.filter(Boolean).map((call) => ({ ...(call.id !== undefined ? { id: call.id } : {}),
            type: 'function', function: { name: call.name, arguments: call.arguments.toString() } })) } : {}) },
        finish_reason: c.finishReason,
      })),
      ...(this.#usage ? { usage: this.#usage } : {}),
    });
  }

  #text(): GrowingText {
    return new GrowingText(this.budget);
  }

  #choice(index: number): Choice {
    return (this.#choices[index] ??=
      { index, role: 'assistant', content: null, reasoning: null, refusal: null, toolCalls: null, finishReason: null });
  }

  #addToolCalls(choice: Choice, deltas: readonly unknown[]): void {
    const calls = (choice.toolCalls ??= []);
    for (const delta of deltas) {
      if (!isObject(delta)) continue;
      const index = typeof delta.index === 'number' ? delta.index : calls.length;
      const call = (calls[index] ??= { name: '', arguments: this.#text() });
      if (delta.id !== undefined) call.id = delta.id;
      const fn = isObject(delta.function) ? delta.function : null;
      if (typeof fn?.name === 'string') call.name += fn.name;
      if (typeof fn?.arguments === 'string') call.arguments.add(fn.arguments);
    }
  }
}

/** The `data:` JSON of each SSE block in `text` (`event: x\ndata: {...}\n\n`), with its event name. */
function* sseEvents(text: string): Generator<{ event: string; data: Json }> {
  for (const part of text.split('\n\n')) {
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

interface ContentBlock {
  block: Json;
  text: GrowingText | null;
  thinking: GrowingText | null;
  partialJson: GrowingText | null;
}

/** A native Anthropic Messages stream's SSE blocks → the Message they spell out. */
export class AnthropicMessageAnswer implements StreamAnswer {
  #message: Json = { type: 'message', role: 'assistant', content: [] };
  readonly #content: ContentBlock[] = [];

  constructor(private readonly budget: TextBudget = unlimited()) {}

  add(blocks: string): void {
    for (const { event, data } of sseEvents(blocks)) {
      if (event === 'message_start' && isObject(data.message)) this.#message = { ...data.message };
      else if (event === 'content_block_start' && isObject(data.content_block) && typeof data.index === 'number') {
        this.#content[data.index] = { block: { ...data.content_block }, text: null, thinking: null, partialJson: null };
      } else if (event === 'content_block_delta' && isObject(data.delta) && typeof data.index === 'number') {
        const block = (this.#content[data.index] ??= { block: { type: 'text', text: '' }, text: null, thinking: null, partialJson: null });
        const delta = data.delta;
        if (typeof delta.text === 'string') (block.text ??= new GrowingText(this.budget)).add(delta.text);
        if (typeof delta.thinking === 'string') (block.thinking ??= new GrowingText(this.budget)).add(delta.thinking);
        if (typeof delta.partial_json === 'string') (block.partialJson ??= new GrowingText(this.budget)).add(delta.partial_json);
      } else if (event === 'message_delta') {
        if (isObject(data.delta)) Object.assign(this.#message, data.delta);
        if (isObject(data.usage)) this.#message.usage = { ...(isObject(this.#message.usage) ? this.#message.usage : {}), ...data.usage };
      }
    }
  }

  text(): string {
    const content = this.#content.filter(Boolean).map(({ block, text, thinking, partialJson }) => {
      const out: Json = { ...block };
      if (text !== null) out.text = String(out.text ?? '') + text.toString();
      if (thinking !== null) out.thinking = String(out.thinking ?? '') + thinking.toString();
      if (partialJson === null) return out;
      const json = partialJson.toString();
      return { ...out, input: parseJson(json) ?? json };
    });
    return JSON.stringify({ ...this.#message, content });
  }
}

/** A native OpenAI Responses stream's SSE blocks → its final `response` object (`response.completed` and its kin). */
export class ResponsesObjectAnswer implements StreamAnswer {
  #last: unknown = null;
  readonly #text: GrowingText;

  constructor(budget: TextBudget = unlimited()) {
    this.#text = new GrowingText(budget);
  }

  add(blocks: string): void {
    for (const { event, data } of sseEvents(blocks)) {
      if (isObject(data.response)) this.#last = data.response;
      if (event === 'response.output_text.delta' && typeof data.delta === 'string') this.#text.add(data.delta);
    }
  }

  text(): string {
    const last = this.#last;
    // A stream cut short has no final response: its text so far says what the client got.
    return JSON.stringify(isObject(last) && Array.isArray(last.output) && last.output.length > 0 ? last
      : { ...(isObject(last) ? last : {}), output_text: this.#text.toString() });
  }
}

/** Bedrock's InvokeModel events have a shape per model family: kept as the list of events they are, up to the budget. */
export class EventListAnswer implements StreamAnswer {
  readonly #events: string[] = [];

  constructor(private readonly budget: TextBudget = unlimited()) {}

  add(event: string): void {
    if (event.length > this.budget.left) {
      this.budget.cut = true;
      return;
    }
    this.budget.left -= event.length;
    this.#events.push(event);
  }

  text(): string {
    return `[${this.#events.join(',')}]`;
  }
}

/** OpenAI chat.completion.chunk JSON texts, all at hand (a cached stream's), → a chat.completion JSON text. */
export function chatCompletionOf(chunks: readonly string[]): string {
  const answer = new ChatCompletionAnswer();
  for (const chunk of chunks) answer.add(chunk);
  return answer.text();
}
