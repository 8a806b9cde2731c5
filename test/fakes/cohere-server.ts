// A fake of Cohere's v2 API (`POST /v2/chat`, `POST /v2/embed`, `POST /v2/rerank`, and v1's `POST /v1/tokenize`) on node:http, for tests. It answers in Cohere's
// wire format: the chat JSON (`message.content[]`, `finish_reason`, `usage.billed_units`/`usage.tokens`), the
// typed SSE events of a stream (`event: <type>` + `data: {"type": …}`, from message-start to message-end, no
// [DONE]), the embed-by-type JSON, and the `{"id", "message"}` error body. It records every request.
//
// What a request gets is its Scenario, chosen (first match wins) by:
//   1. the header `x-fake-scenario` holding a Scenario as JSON;
//   2. a scenario registered with `fake.script(model, scenario)`;
//   3. the model's name: error-<status> (Cohere's error body; 429 carries Retry-After), break-after-<n> (n stream
//      events, then the socket is destroyed), no-end (the stream ends without message-end), tools (calls the
//      request's first tool, or get_weather), max-tokens (finish MAX_TOKENS), gen-error (message-end with ERROR);
//      anything else is a plain success echoing the last user message;
//   4. the options given to `startFakeCohere`.

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  charVector, FakeServer, type FakeServerApi, modelOf, openStream, parseJson, retryAfterFor, scenarioOrBadHeader, sendJson as sendJsonOf, tokensOf,
  whenClosed,
} from './fake-server.js';

export interface CohereFakeToolCall {
  name: string;
  /** The arguments as JSON text. */
  arguments: string;
  id?: string;
}

export interface CohereFakeError {
  status: number;
  message?: string;
  /** Sent as Retry-After; 429 gets '1' unless given (null: none). */
  retryAfter?: string | null;
}

export interface CohereScenario {
  content?: string;
  /** Streamed pieces of the content (default: word by word). */
  chunks?: string[];
  toolCalls?: CohereFakeToolCall[];
  toolPlan?: string;
  finishReason?: string;
  /** message-end's `delta.error` (with finishReason ERROR). */
  generationError?: string;
  error?: CohereFakeError;
  /** Streams: write this many events, then destroy the socket. */
  breakAfterEvents?: number;
  /** Streams: end the response without message-end. */
  omitEnd?: boolean;
  usage?: { billed: [number, number]; tokens: [number, number] };
}

export interface FakeCohereOptions extends CohereScenario {
  /** When set, a request whose Bearer token differs gets Cohere's 401. */
  apiKey?: string;
}

export interface CohereRecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
  readonly scenario: CohereScenario;
  status: number;
  /** Streams: the events written, as [type, data]. */
  readonly events: [string, string][];
  responseBody: string | null;
  /** The text the fake answered with (joined pieces for a stream). */
  content: string;
  readonly closed: Promise<void>;
}

export type FakeCohere = FakeServerApi<CohereRecordedRequest, CohereScenario>;

const DEFAULT_TOOL: CohereFakeToolCall = { name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' };

const ERROR_MESSAGES: Record<number, string> = {
  400: 'invalid request: message must be at least 1 token long or tool results must be specified.',
  401: 'invalid api token',
  404: "model 'unknown' not found, make sure the correct model ID was used and that you have access to the model.",
  429: 'You are using a Trial key, which is limited to 20 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits.',
  500: 'internal server error, this has been reported to our developers. id 7a5f3f3c-6a1e-4b8e-9d5c-0c3f2c1d9e8a',
  503: 'service unavailable',
};

export function cohereScenarioFromModel(model: string): CohereScenario {
  let match: RegExpExecArray | null;
  if ((match = /(?:^|-)error-(\d{3})$/.exec(model))) return { error: { status: Number(match[1]) } };
  if ((match = /break-after-(\d+)$/.exec(model))) return { breakAfterEvents: Number(match[1]) };
  if (/no-end$/.test(model)) return { omitEnd: true };
  if (/(?:^|-)tools$/.test(model)) return { toolCalls: [DEFAULT_TOOL], toolPlan: 'I will look up the weather.' };
  if (/max-tokens$/.test(model)) return { finishReason: 'MAX_TOKENS' };
  if (/gen-error$/.test(model)) return { finishReason: 'ERROR', generationError: 'the model failed to generate a response' };
  return {};
}

function lastUserText(body: Record<string, unknown> | undefined): string {
  const messages = Array.isArray(body?.messages) ? (body.messages as { role?: string; content?: unknown }[]) : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role !== 'user') continue;
    if (typeof message.content === 'string') return message.content;
    if (Array.isArray(message.content)) {
      return (message.content as { type?: string; text?: string }[]).filter((p) => p.type === 'text').map((p) => p.text).join(' ');
    }
  }
  return '';
}

const splitWords = (text: string) => text.match(/\S+\s*|\s+/g) ?? [text];

export async function startFakeCohere(options: FakeCohereOptions = {}): Promise<FakeCohere> {
  const { apiKey, ...defaults } = options;

  const sendJson = (res: ServerResponse, record: CohereRecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}) => {
    sendJsonOf(res, record, status, body, { 'x-debug-trace-id': randomUUID().replaceAll('-', ''), ...headers });
  };

  const sendError = (res: ServerResponse, record: CohereRecordedRequest, error: CohereFakeError) => {
    const retryAfter = retryAfterFor(error.status, error.retryAfter, [429]);
    const message = error.message ?? ERROR_MESSAGES[error.status] ?? ERROR_MESSAGES[error.status >= 500 ? 500 : 400];
    sendJson(res, record, error.status, { id: randomUUID(), message }, retryAfter === null ? {} : { 'retry-after': retryAfter });
  };

  const fake = await FakeServer.start<CohereRecordedRequest, CohereScenario>((req, res, raw) => {
    const body = parseJson<Record<string, unknown>>(raw);
    const scenario = scenarioOrBadHeader(() => fake.pickScenario(req.headers, modelOf(body), cohereScenarioFromModel, defaults));
    const record = fake.record({
      method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, scenario, status: 0, events: [],
      responseBody: null, content: '', closed: whenClosed(res),
    });
    try {
      answer(res, record);
    } catch {
      res.destroy();
    }
  });

  function answer(res: ServerResponse, record: CohereRecordedRequest): void {
    const { body, scenario } = record;
    if (record.method !== 'POST' || !['/v2/chat', '/v2/embed', '/v2/rerank', '/v1/tokenize'].includes(record.path)) {
      sendJson(res, record, 404, { message: `no route for ${record.method} ${record.path}` });
      return;
    }
    if (apiKey !== undefined && record.headers.authorization !== `Bearer ${apiKey}`) {
      sendError(res, record, { status: 401 });
      return;
    }
    if (!body || typeof body.model !== 'string') {
      sendError(res, record, { status: 400, message: 'invalid request: model is required' });
      return;
    }
    if (scenario.error) {
      sendError(res, record, scenario.error);
      return;
    }
    if (record.path === '/v2/embed') {
      embed(res, record, body);
      return;
    }
    if (record.path === '/v2/rerank') {
      rerank(res, record, body);
      return;
    }
    if (record.path === '/v1/tokenize') {
      tokenize(res, record, body);
      return;
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      sendError(res, record, { status: 400, message: 'invalid request: messages must not be empty' });
      return;
    }
    chat(res, record, body);
  }

  /** Scores each document by the share of the query's words it holds; Cohere refuses fields it does not know. */
  function rerank(res: ServerResponse, record: CohereRecordedRequest, body: Record<string, unknown>): void {
    const unknown = Object.keys(body).filter((name) => !['model', 'query', 'documents', 'top_n', 'max_tokens_per_doc', 'priority'].includes(name));
    const { query, documents, top_n: topN } = body;
    if (unknown.length > 0 || typeof query !== 'string' || !Array.isArray(documents) || !documents.every((d) => typeof d === 'string')
      || (topN !== undefined && !(Number.isInteger(topN) && (topN as number) > 0))) {
      sendError(res, record, { status: 400, message: `invalid request: ${unknown.length > 0 ? `unknown field ${unknown[0]}` : 'query and documents (strings) are required'}` });
      return;
    }
    const words = (text: string) => new Set(text.toLowerCase().match(/\w+/g) ?? []);
    const asked = words(query);
    const results = (documents as string[]).map((document, index) => {
      const held = words(document);
      return { index, relevance_score: [...asked].filter((word) => held.has(word)).length / Math.max(1, asked.size) };
    }).sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index).slice(0, (topN as number | undefined) ?? documents.length);
    sendJson(res, record, 200, { id: randomUUID(), results, meta: { api_version: { version: '2' }, billed_units: { search_units: 1 } } });
  }

  /** One token per word, each id its length times 1000 plus its position: deterministic, and reversible by the test. */
  function tokenize(res: ServerResponse, record: CohereRecordedRequest, body: Record<string, unknown>): void {
    if (typeof body.text !== 'string' || body.text === '') {
      sendError(res, record, { status: 400, message: 'invalid request: text must be a non-empty string' });
      return;
    }
    const strings = body.text.match(/\S+/g) ?? [];
    sendJson(res, record, 200, { tokens: strings.map((word, index) => word.length * 1000 + index), token_strings: strings,
      meta: { api_version: { version: '1' } } });
  }

  function embed(res: ServerResponse, record: CohereRecordedRequest, body: Record<string, unknown>): void {
    const texts = body.texts;
    if (!Array.isArray(texts) || typeof body.input_type !== 'string') {
      sendError(res, record, { status: 400, message: 'invalid request: texts and input_type are required' });
      return;
    }
    const dimension = typeof body.output_dimension === 'number' ? body.output_dimension : 8;
    const vectors = (texts as string[]).map((text) => charVector(text, dimension));
    const tokens = (texts as string[]).reduce((sum, text) => sum + tokensOf(text), 0);
    sendJson(res, record, 200, {
      id: randomUUID(),
      texts,
      embeddings: { float: vectors },
      meta: { api_version: { version: '2' }, billed_units: { input_tokens: tokens } },
      response_type: 'embeddings_by_type',
    });
  }

  function chat(res: ServerResponse, record: CohereRecordedRequest, body: Record<string, unknown>): void {
    const { scenario } = record;
    const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: string } }[]) : [];
    const toolCalls = scenario.toolCalls?.map((call, index) => ({
      id: call.id ?? `${index === 0 && tools[0]?.function?.name ? tools[0].function.name : call.name}_${randomUUID().slice(0, 12)}`,
      type: 'function' as const,
      function: { name: index === 0 && tools[0]?.function?.name ? tools[0].function.name : call.name, arguments: call.arguments },
    }));
    const content = toolCalls ? '' : scenario.content ?? `You said: ${lastUserText(body)}`;
    const promptTokens = tokensOf(JSON.stringify(body.messages));
    const completionTokens = tokensOf(toolCalls ? toolCalls.map((c) => c.function.arguments).join('') : content);
    const usage = {
      billed_units: { input_tokens: scenario.usage?.billed[0] ?? promptTokens, output_tokens: scenario.usage?.billed[1] ?? completionTokens },
      tokens: { input_tokens: scenario.usage?.tokens[0] ?? promptTokens + 60, output_tokens: scenario.usage?.tokens[1] ?? completionTokens },
    };
    const finishReason = scenario.finishReason ?? (toolCalls ? 'TOOL_CALL' : 'COMPLETE');
    const id = randomUUID();

    if (body.stream !== true) {
      record.content = content;
      sendJson(res, record, 200, {
        id,
        message: {
          role: 'assistant',
          ...(toolCalls ? { tool_plan: scenario.toolPlan ?? '', tool_calls: toolCalls } : { content: [{ type: 'text', text: content }] }),
        },
        finish_reason: finishReason,
        usage,
      });
      return;
    }

    openStream(res, record, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let written = 0;
    /** Writes one event; false once the fake broke the connection on purpose. */
    const send = (type: string, data: Record<string, unknown>): boolean => {
      if (res.destroyed) return false;
      const text = JSON.stringify({ type, ...data });
      record.events.push([type, text]);
      written++;
      res.write(`event: ${type}\ndata: ${text}\n\n`);
      if (scenario.breakAfterEvents !== undefined && written >= scenario.breakAfterEvents) {
        // Let the bytes go out before the connection does.
        setTimeout(() => res.socket?.destroy(), 20);
        return false;
      }
      return true;
    };

    const steps: [string, Record<string, unknown>][] = [];
    steps.push(['message-start', { id, delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } }]);
    if (toolCalls) {
      for (const piece of splitWords(scenario.toolPlan ?? '')) {
        if (piece) steps.push(['tool-plan-delta', { delta: { message: { tool_plan: piece } } }]);
      }
      toolCalls.forEach((call, index) => {
        steps.push(['tool-call-start', { index, delta: { message: { tool_calls: { id: call.id, type: 'function',
          function: { name: call.function.name, arguments: '' } } } } }]);
        const size = Math.max(1, Math.ceil(call.function.arguments.length / 3));
        for (let at = 0; at < call.function.arguments.length; at += size) {
          steps.push(['tool-call-delta', { index, delta: { message: { tool_calls: { function: {
            arguments: call.function.arguments.slice(at, at + size) } } } } }]);
        }
        steps.push(['tool-call-end', { index }]);
      });
    } else {
      steps.push(['content-start', { index: 0, delta: { message: { content: { type: 'text', text: '' } } } }]);
      for (const piece of scenario.chunks ?? splitWords(content)) {
        record.content += piece;
        steps.push(['content-delta', { index: 0, delta: { message: { content: { text: piece } } } }]);
      }
      steps.push(['content-end', { index: 0 }]);
    }
    if (!scenario.omitEnd) {
      steps.push(['message-end', { id, delta: { finish_reason: finishReason,
        ...(scenario.generationError ? { error: scenario.generationError } : {}), usage } }]);
    }
    for (const [type, data] of steps) if (!send(type, data)) return;
    res.end();
  }

  const { url, requests, script, requestsWithId, reset, close } = fake;
  return { url, requests, script, requestsWithId, reset, close };
}
