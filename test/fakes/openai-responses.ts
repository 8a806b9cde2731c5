// The openai fake's `POST /v1/responses`: OpenAI's Responses API as it answers, JSON or streamed as typed SSE events
// (`event: <type>` + `data: <json>`, each with its `sequence_number`, ending with `response.completed` and no
// `[DONE]`). It echoes what a stateful request names (`previous_response_id`, `store`, built-in tools) and, for a
// `web_search` tool, adds the `web_search_call` item OpenAI's servers run: what only the native API can do.

import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { openStream, tokensOf, type AnsweredExchange } from './fake-server.js';

type Json = Record<string, unknown>;

const idOf = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

/** The last user text of a Responses `input` (a string, or items with string or part content). */
function lastUserText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  for (const item of [...input].reverse()) {
    const { role, content } = (item ?? {}) as { role?: unknown; content?: unknown };
    if (role !== 'user') continue;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) return content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join(' ');
  }
  return '';
}

/** The response object for `body`, before (`in_progress`, no output) or after the model answered. */
function responseObject(body: Json, id: string, createdAt: number, output: Json[], status: string, usage: Json | null): Json {
  return {
    id, object: 'response', created_at: createdAt, status, background: body.background ?? false, error: null,
    incomplete_details: null, instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null,
    model: body.model, output, parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null, reasoning: { effort: null, summary: null },
    store: body.store ?? true, temperature: body.temperature ?? 1, text: body.text ?? { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto', tools: body.tools ?? [], top_p: body.top_p ?? 1, truncation: 'disabled',
    usage, user: body.user ?? null, metadata: body.metadata ?? {},
  };
}

/** Answers a Responses request; `send` writes a JSON answer. A request without `model` or `input` gets OpenAI's 400. */
export function answerResponses(res: ServerResponse, record: AnsweredExchange & { events: string[]; content: string; completed: boolean },
  body: Json, sendJson: (status: number, answer: Json) => void): void {
  if (typeof body.model !== 'string' || body.input === undefined) {
    const param = typeof body.model !== 'string' ? 'model' : 'input';
    sendJson(400, { error: { message: `Missing required parameter: '${param}'.`, type: 'invalid_request_error', param, code: 'missing_required_parameter' } });
    return;
  }
  const id = idOf('resp');
  const createdAt = Math.floor(Date.now() / 1000);
  const said = lastUserText(body.input);
  const text = `The quick brown fox. You said: ${said}`;
  const searches = Array.isArray(body.tools) && body.tools.some((tool: { type?: unknown }) => tool?.type === 'web_search');
  const search: Json[] = searches ? [{ type: 'web_search_call', id: idOf('ws'), status: 'completed', action: { type: 'search', query: said } }] : [];
  const messageId = idOf('msg');
  const part = { type: 'output_text', text, annotations: [], logprobs: [] };
  const message = { type: 'message', id: messageId, status: 'completed', role: 'assistant', content: [part] };
  const input = tokensOf(JSON.stringify(body.input) + String(body.instructions ?? ''));
  const output = tokensOf(text);
  const usage = { input_tokens: input, input_tokens_details: { cached_tokens: 0 }, output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input + output };
  record.content = text;
  if (body.stream !== true) {
    sendJson(200, responseObject(body, id, createdAt, [...search, message], 'completed', usage));
    return;
  }
  openStream(res, record, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': idOf('req') });
  let sequence = 0;
  const emit = (type: string, fields: Json) => {
    const data = JSON.stringify({ type, sequence_number: sequence++, ...fields });
    record.events.push(data);
    res.write(`event: ${type}\ndata: ${data}\n\n`);
  };
  const inProgress = responseObject(body, id, createdAt, [], 'in_progress', null);
  emit('response.created', { response: inProgress });
  emit('response.in_progress', { response: inProgress });
  search.forEach((item, index) => {
    emit('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress' } });
    emit('response.web_search_call.completed', { output_index: index, item_id: item.id });
    emit('response.output_item.done', { output_index: index, item });
  });
  const at = { item_id: messageId, output_index: search.length, content_index: 0 };
  emit('response.output_item.added', { output_index: search.length, item: { ...message, status: 'in_progress', content: [] } });
  emit('response.content_part.added', { ...at, part: { ...part, text: '' } });
  for (const piece of text.match(/\S+\s*/g) ?? []) emit('response.output_text.delta', { ...at, delta: piece, logprobs: [] });
  emit('response.output_text.done', { ...at, text, logprobs: [] });
  emit('response.content_part.done', { ...at, part });
  emit('response.output_item.done', { output_index: search.length, item: message });
  emit('response.completed', { response: responseObject(body, id, createdAt, [...search, message], 'completed', usage) });
  res.end(() => {
    record.completed = true;
  });
}
