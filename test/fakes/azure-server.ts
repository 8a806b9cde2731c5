// A fake of Azure OpenAI's data plane on node:http, for tests: `POST /openai/deployments/{deployment}/chat/completions`
// and `/embeddings`, with the `api-version` query parameter and the `api-key` header. It answers as Azure does:
// OpenAI's JSON and chunks plus content-filter annotations (`prompt_filter_results` on the answer and in a first
// stream frame with empty `choices`, `content_filter_results` on every choice), Azure's error bodies (`{"error":
// {"code": "401", …}}`, the 400 `content_filter` error with its `innererror`) and [DONE] at the end of a stream.
// The body's `model` is ignored: the deployment in the path names the model.
//
// What a request gets is its Scenario, chosen (first match wins) by:
//   1. the header `x-fake-scenario` holding a Scenario as JSON;
//   2. a scenario registered with `fake.script(deployment, scenario)`;
//   3. the deployment's name: error-<status>; content-filter (the 400 content_filter error); filtered (finish
//      reason content_filter); async-filter (the asynchronous filter's annotation frames, with no delta);
//      break-after-<n> (n stream events, then the socket is destroyed); tools (calls the request's first tool);
//      anything else is a plain success echoing the last user message;
//   4. the options given to `startFakeAzure`.

import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  FakeServer, type FakeServerApi, openaiEmbeddings, openStream, parseJson, retryAfterFor, scenarioOrBadHeader, sendJson as sendJsonOf, tokensOf,
} from './fake-server.js';

export interface AzureFakeToolCall {
  name: string;
  arguments: string;
}

export interface AzureScenario {
  content?: string;
  toolCalls?: AzureFakeToolCall[];
  error?: { status: number; message?: string; retryAfter?: string | null };
  /** Answer 400 with `error.code: "content_filter"` (the prompt was filtered). */
  promptFiltered?: boolean;
  /** The completion was filtered: finish_reason content_filter. */
  completionFiltered?: boolean;
  /** Streams: the asynchronous filter's mode, annotation frames without delta between the content chunks. */
  asyncFilter?: boolean;
  /** Streams: write this many events (the prompt annotation counts), then destroy the socket. */
  breakAfterEvents?: number;
}

export interface FakeAzureOptions extends AzureScenario {
  /** When set, a request whose `api-key` header differs gets Azure's 401. */
  apiKey?: string;
  /** Deployment → the model it runs (answers carry the model); a deployment not listed runs a model of its own name. */
  deployments?: Record<string, string>;
  /** When set, deployments not in `deployments` get Azure's 404 DeploymentNotFound. */
  strictDeployments?: boolean;
}

export interface AzureRecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly deployment: string | null;
  readonly operation: string | null;
  readonly apiVersion: string | null;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
  readonly scenario: AzureScenario;
  status: number;
  /** Streams: the `data:` payloads written, [DONE] included. */
  readonly events: string[];
  responseBody: string | null;
  content: string;
}

/** `script(deployment, scenario)`: here requests name a deployment, not a model. */
export type FakeAzure = FakeServerApi<AzureRecordedRequest, AzureScenario>;

const SAFE = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};
const VIOLENT = { ...SAFE, violence: { filtered: true, severity: 'medium' } };
const PROMPT_FILTER_RESULTS = [{ prompt_index: 0, content_filter_results: SAFE }];
const DEFAULT_TOOL: AzureFakeToolCall = { name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' };

/** Azure's own error bodies; 400 and 500 pass OpenAI's envelope through, the gateway's (401, 404, 429) are Azure's. */
function errorBody(status: number, message: string | undefined): object {
  switch (status) {
    case 401:
      return { error: { code: '401', message: message ?? 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } };
    case 404:
      return { error: { code: 'DeploymentNotFound', message: message ?? 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.' } };
    case 429:
      return { error: { code: '429', message: message ?? 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.' } };
    default:
      if (status >= 500) {
        return { error: { message: message ?? 'The server had an error processing your request. Sorry about that! You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error.', type: 'server_error', param: null, code: null } };
      }
      return { error: { message: message ?? "Invalid value for 'messages': the request was rejected.", type: 'invalid_request_error', param: 'messages', code: null } };
  }
}

const CONTENT_FILTER_ERROR = {
  error: {
    message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
    type: null,
    param: 'prompt',
    code: 'content_filter',
    status: 400,
    innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: VIOLENT },
  },
};

export function azureScenarioFromDeployment(deployment: string): AzureScenario {
  let match: RegExpExecArray | null;
  if ((match = /(?:^|-)error-(\d{3})$/.exec(deployment))) return { error: { status: Number(match[1]) } };
  if (/content-filter$/.test(deployment)) return { promptFiltered: true };
  if (/(?:^|-)filtered$/.test(deployment)) return { completionFiltered: true };
  if (/async-filter$/.test(deployment)) return { asyncFilter: true };
  if ((match = /break-after-(\d+)$/.exec(deployment))) return { breakAfterEvents: Number(match[1]) };
  if (/(?:^|-)tools$/.test(deployment)) return { toolCalls: [DEFAULT_TOOL] };
  return {};
}

function lastUserText(body: Record<string, unknown> | undefined): string {
  const messages = Array.isArray(body?.messages) ? (body.messages as { role?: string; content?: unknown }[]) : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user' && typeof messages[i].content === 'string') return messages[i].content as string;
  }
  return '';
}

const splitWords = (text: string) => text.match(/\S+\s*|\s+/g) ?? [text];
const randomId = (prefix: string) => `${prefix}${randomBytes(14).toString('base64url')}`;
const ROUTE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings|audio\/speech|audio\/transcriptions|images\/generations)$/;

export async function startFakeAzure(options: FakeAzureOptions = {}): Promise<FakeAzure> {
  const { apiKey, deployments = {}, strictDeployments = false, ...defaults } = options;

  const sendJson = (res: ServerResponse, record: AzureRecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}) => {
    sendJsonOf(res, record, status, body, { 'apim-request-id': randomBytes(16).toString('hex'), 'x-ms-region': 'Sweden Central', ...headers });
  };

  const fake = await FakeServer.start<AzureRecordedRequest, AzureScenario>((req, res, raw, rawBytes) => {
    const multipart = (req.headers['content-type'] ?? '').startsWith('multipart/form-data');
    const body = multipart ? undefined : parseJson<Record<string, unknown>>(raw);
    const url = new URL(req.url ?? '/', 'http://fake');
    const route = ROUTE.exec(url.pathname);
    const deployment = route ? decodeURIComponent(route[1]) : null;
    const scenario = scenarioOrBadHeader(() => fake.pickScenario(req.headers, deployment ?? '', azureScenarioFromDeployment, defaults));
    const record = fake.record({
      method: req.method ?? '', path: req.url ?? '', deployment, operation: route ? route[2] : null,
      apiVersion: url.searchParams.get('api-version'), headers: req.headers, body, scenario, status: 0, events: [],
      responseBody: null, content: '',
    });
    const form = multipart ? new Response(rawBytes, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData() : null;
    try {
      answer(res, record, form);
    } catch {
      res.destroy();
    }
  });

  function answer(res: ServerResponse, record: AzureRecordedRequest, form: Promise<FormData> | null): void {
    if (record.method !== 'POST' || !record.deployment || !record.apiVersion) {
      sendJson(res, record, 404, { error: { code: '404', message: 'Resource not found' } });
      return;
    }
    if (apiKey !== undefined && record.headers['api-key'] !== apiKey) {
      sendJson(res, record, 401, errorBody(401, undefined));
      return;
    }
    if (strictDeployments && !Object.hasOwn(deployments, record.deployment)) {
      sendJson(res, record, 404, errorBody(404, undefined));
      return;
    }
    const { scenario, body } = record;
    if (scenario.error) {
      const { status, message, retryAfter } = scenario.error;
      const wait = retryAfterFor(status, retryAfter, [429]);
      sendJson(res, record, status, errorBody(status, message), wait === null ? {} : { 'retry-after': wait, 'retry-after-ms': String(Number(wait) * 1000) });
      return;
    }
    if (scenario.promptFiltered) {
      sendJson(res, record, 400, CONTENT_FILTER_ERROR);
      return;
    }
    const model = deployments[record.deployment] ?? record.deployment;
    if (record.operation === 'audio/transcriptions' && form) {
      void form.then((fields) => transcription(res, record, fields), () => sendJson(res, record, 400, errorBody(400, 'Could not parse multipart form')));
      return;
    }
    if (!body) {
      sendJson(res, record, 400, errorBody(400, 'The request body is not valid JSON.'));
      return;
    }
    if (record.operation === 'embeddings') embeddings(res, record, body, model);
    else if (record.operation === 'audio/speech') speech(res, record, body);
    else if (record.operation === 'images/generations') images(res, record, body);
    else chat(res, record, body, model);
  }

  /** Audio bytes: an MP3 frame header, then the input text (Azure's TTS deployments answer as OpenAI's). */
  function speech(res: ServerResponse, record: AzureRecordedRequest, body: Record<string, unknown>): void {
    if (typeof body.input !== 'string') {
      sendJson(res, record, 400, errorBody(400, "'input' is a required property"));
      return;
    }
    const audio = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.from(body.input)]);
    record.status = 200;
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': audio.length, 'apim-request-id': randomBytes(16).toString('hex') });
    res.end(audio);
  }

  function transcription(res: ServerResponse, record: AzureRecordedRequest, form: FormData): void {
    const file = form.get('file');
    if (file === null || typeof file === 'string') {
      sendJson(res, record, 400, errorBody(400, "'file' is a required property"));
      return;
    }
    sendJson(res, record, 200, { text: `Transcribed ${file.size} bytes of ${file.name}` });
  }

  /** Azure's DALL-E answer: OpenAI's, with the content filter's results on each image and on the prompt. */
  function images(res: ServerResponse, record: AzureRecordedRequest, body: Record<string, unknown>): void {
    if (typeof body.prompt !== 'string') {
      sendJson(res, record, 400, errorBody(400, "'prompt' is a required property"));
      return;
    }
    const count = typeof body.n === 'number' ? body.n : 1;
    const data = Array.from({ length: count }, (_, i) => ({ url: `https://dalleprodsec.blob.core.windows.net/private/images/${i}.png`,
      revised_prompt: body.prompt, content_filter_results: SAFE, prompt_filter_results: SAFE }));
    sendJson(res, record, 200, { created: Math.floor(Date.now() / 1000), data });
  }

  function embeddings(res: ServerResponse, record: AzureRecordedRequest, body: Record<string, unknown>, model: string): void {
    const { inputs, data } = openaiEmbeddings(body);
    const tokens = inputs.reduce<number>((sum, input) => sum + tokensOf(String(input)), 0);
    sendJson(res, record, 200, { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }

  function chat(res: ServerResponse, record: AzureRecordedRequest, body: Record<string, unknown>, model: string): void {
    const { scenario } = record;
    const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: string } }[]) : [];
    const toolCalls = scenario.toolCalls?.map((call, index) => ({
      id: randomId('call_'),
      type: 'function',
      function: { name: index === 0 && tools[0]?.function?.name ? tools[0].function.name : call.name, arguments: call.arguments },
    }));
    const content = toolCalls ? '' : scenario.content ?? `You said: ${lastUserText(body)}`;
    const promptTokens = tokensOf(JSON.stringify(body.messages ?? ''));
    const completionTokens = tokensOf(toolCalls ? toolCalls.map((call) => call.function.arguments).join('') : content);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const finishReason = scenario.completionFiltered ? 'content_filter' : toolCalls ? 'tool_calls' : 'stop';
    const id = randomId('chatcmpl-');
    const created = Math.floor(Date.now() / 1000);
    const fingerprint = 'fp_b705f0c291';

    if (body.stream !== true) {
      record.content = content;
      sendJson(res, record, 200, {
        choices: [{
          content_filter_results: scenario.completionFiltered ? VIOLENT : SAFE,
          finish_reason: finishReason,
          index: 0,
          logprobs: null,
          message: {
            content: toolCalls ? null : content,
            refusal: null,
            role: 'assistant',
            ...(toolCalls ? { tool_calls: toolCalls } : {}),
          },
        }],
        created,
        id,
        model,
        object: 'chat.completion',
        prompt_filter_results: PROMPT_FILTER_RESULTS,
        system_fingerprint: fingerprint,
        usage,
      });
      return;
    }

    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const frame = (choices: object[], extra: object = {}) => ({
      choices, created, id, model, object: 'chat.completion.chunk', system_fingerprint: fingerprint,
      ...(includeUsage ? { usage: null } : {}), ...extra,
    });
    const choice = (delta: object, finish: string | null, filter: object = SAFE) => ({
      ...(scenario.asyncFilter ? {} : { content_filter_results: filter }), delta, finish_reason: finish, index: 0, logprobs: null,
    });
    const annotation = (finish: string | null, filter: object, offset: number) => ({
      choices: [{ index: 0, finish_reason: finish, content_filter_results: filter,
        content_filter_offsets: { check_offset: offset, start_offset: 0, end_offset: offset } }],
      created: 0, id: '', model: '', object: '', usage: null,
    });

    const events: object[] = [];
    events.push({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: PROMPT_FILTER_RESULTS,
      ...(includeUsage ? { usage: null } : {}) });
    if (toolCalls) {
      events.push(frame([choice({ role: 'assistant', content: null, refusal: null, tool_calls: toolCalls.map((call, index) => ({
        index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } })) }, null, {})]));
      toolCalls.forEach((call, index) => {
        const size = Math.max(1, Math.ceil(call.function.arguments.length / 3));
        for (let at = 0; at < call.function.arguments.length; at += size) {
          events.push(frame([choice({ tool_calls: [{ index, function: { arguments: call.function.arguments.slice(at, at + size) } }] }, null)]));
        }
      });
    } else {
      events.push(frame([choice({ role: 'assistant', content: '', refusal: null }, null, {})]));
      let offset = 0;
      for (const piece of splitWords(content)) {
        record.content += piece;
        offset += piece.length;
        events.push(frame([choice({ content: piece }, null)]));
        if (scenario.asyncFilter) events.push(annotation(null, SAFE, offset));
      }
    }
    if (scenario.asyncFilter && scenario.completionFiltered) {
      // The asynchronous filter ends a filtered completion with an annotation frame carrying the finish reason.
      events.push(annotation('content_filter', { violence: { filtered: true, severity: 'medium' } }, content.length));
    } else {
      events.push(frame([choice({}, finishReason, scenario.completionFiltered ? VIOLENT : {})]));
    }
    if (includeUsage) events.push(frame([], { usage }));

    openStream(res, record, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache',
      'apim-request-id': randomBytes(16).toString('hex') });
    let written = 0;
    for (const event of [...events.map((e) => JSON.stringify(e)), '[DONE]']) {
      record.events.push(event);
      res.write(`data: ${event}\n\n`);
      written++;
      if (scenario.breakAfterEvents !== undefined && written >= scenario.breakAfterEvents) {
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
    }
    res.end();
  }

  const { url, requests, script, requestsWithId, reset, close } = fake;
  return { url, requests, script, requestsWithId, reset, close };
}
