import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { gemini } from '../../../../workers/providers/gemini.js';
import { geminiChatRequest, toGeminiSchema } from '../../../../workers/providers/gemini-shared.js';
import type { StreamState } from '../../../../workers/providers/types.js';

const target = { baseUrl: null, key: { value: 'AIza-1', configs: {} } };

const job = (body: Record<string, unknown>, extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r', model: 'gemini-2.0-flash', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'gemini/gemini-2.0-flash', ...body }, ...extra,
});

interface SentBody {
  contents: { role: string; parts: unknown[] }[];
  systemInstruction?: unknown;
  tools?: unknown;
  toolConfig?: unknown;
  generationConfig?: Record<string, unknown>;
}

const callBody = (body: Record<string, unknown>, extra: Partial<JobData> = {}) => {
  const call = gemini.chatCall(job(body, extra), target);
  return { call, sent: JSON.parse(call.body) as SentBody };
};

const state = (includeUsage = false): StreamState => ({ includeUsage, model: 'gemini-2.0-flash', usage: null, scratch: {} });
const step = (s: StreamState, data: unknown) => gemini.streamEvent({ event: null, data: JSON.stringify(data) }, s);
const answerOf = (data: unknown) => {
  const out = gemini.chatAnswer(JSON.stringify(data), job({}));
  return { body: JSON.parse(out.body) as OpenAI.Chat.Completions.ChatCompletion, usage: out.usage };
};
const parsed = (chunks: string[]) => chunks.map((c) => JSON.parse(c) as OpenAI.Chat.Completions.ChatCompletionChunk);

describe('Gemini adapter: requests', () => {
  it('builds generateContent and streamGenerateContent?alt=sse URLs, and keeps resource names', () => {
    expect(callBody({ messages: [{ role: 'user', content: 'hi' }] }).call.url)
      .toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent');
    expect(callBody({ messages: [{ role: 'user', content: 'hi' }] }, { stream: true }).call.url)
      .toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
    const tuned = gemini.chatCall(job({ messages: [{ role: 'user', content: 'hi' }] }, { model: 'tunedModels/abc' }),
      { ...target, baseUrl: 'http://127.0.0.1:9' });
    expect(tuned.url).toBe('http://127.0.0.1:9/v1beta/tunedModels/abc:generateContent');
    expect(gemini.auth).toEqual({ kind: 'header', name: 'x-goog-api-key' });
  });

  it('moves system and developer messages to systemInstruction and maps roles', () => {
    const { sent } = callBody({ messages: [
      { role: 'system', content: 'be brief' },
      { role: 'developer', content: [{ type: 'text', text: 'be kind' }] },
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'hi there' },
      { role: 'user', content: [{ type: 'text', text: 'and' }, { type: 'text', text: ' more' }] },
    ] });
    expect(sent.systemInstruction).toEqual({ parts: [{ text: 'be brief' }, { text: 'be kind' }] });
    expect(sent.contents).toEqual([
      { role: 'user', parts: [{ text: 'hello' }] },
      { role: 'model', parts: [{ text: 'hi there' }] },
      { role: 'user', parts: [{ text: 'and' }, { text: ' more' }] },
    ]);
  });

  it('sends data: URL images inline and http(s) URLs as file references', () => {
    const { sent, call } = callBody({ messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?size=2', detail: 'high' } },
      { type: 'image_url', image_url: { url: 'https://example.com/photo' } },
      { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
    ] }] });
    expect(sent.contents[0].parts).toEqual([
      { text: 'what is this?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=2' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/photo' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
    ]);
    expect(call.droppedParams).toEqual(['image_url.detail']);
    expect(() => callBody({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }))
      .toThrow(/scheme/);
  });

  it('maps assistant tool calls to functionCall and tool messages to functionResponse, by the call id', () => {
    const { sent } = callBody({ messages: [
      { role: 'user', content: 'weather in Paris and Rome?' },
      { role: 'assistant', content: null, tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
      ] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'tool', tool_call_id: 'call_2', content: 'noon' },
      { role: 'user', content: 'thanks' },
    ] });
    expect(sent.contents).toEqual([
      { role: 'user', parts: [{ text: 'weather in Paris and Rome?' }] },
      { role: 'model', parts: [
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
        { functionCall: { name: 'get_time', args: {} } },
      ] },
      { role: 'user', parts: [
        { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
        { functionResponse: { name: 'get_time', response: { result: 'noon' } } },
      ] },
      { role: 'user', parts: [{ text: 'thanks' }] },
    ]);
    expect(() => callBody({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: '1' }] }))
      .toThrow(/answers no earlier assistant tool call/);
    expect(() => callBody({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', function: { name: 'f', arguments: '[1]' } }] }] }))
      .toThrow(/not a JSON object/);
  });

  it('sends a failed tool result (is_error) under the functionResponse error key, and a successful one as before', () => {
    const turn = (isError: unknown, content: string) => callBody({ messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c', content, is_error: isError },
    ] }).sent.contents.at(-1);
    expect(turn(true, 'no such city')).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { error: 'no such city' } } }] });
    expect(turn(true, '{"code":404}')).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { error: { code: 404 } } } }] });
    expect(turn(false, 'sunny')).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { result: 'sunny' } } }] });
    expect(() => turn('yes', 'x')).toThrow(/is_error must be true or false/);
  });

  it('round-trips a function call\'s thought signature through extra_content.google, as Google\'s OpenAI layer does', () => {
    const { body } = answerOf({ candidates: [{ content: { role: 'model', parts: [
      { functionCall: { name: 'f', args: {} }, thoughtSignature: 'c2lnbmVk' }] }, finishReason: 'STOP' }] });
    const call = body.choices[0].message.tool_calls![0] as unknown as { id: string; extra_content: unknown };
    expect(call.extra_content).toEqual({ google: { thought_signature: 'c2lnbmVk' } });
    const { sent } = callBody({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: 'ok' }] });
    expect(sent.contents[1].parts).toEqual([{ functionCall: { name: 'f', args: {} }, thoughtSignature: 'c2lnbmVk' }]);
    const streamed = parsed(step(state(), { candidates: [{ content: { parts: [{ functionCall: { name: 'f', args: {} },
      thoughtSignature: 'c2lnbmVk' }] }, finishReason: 'STOP' }] }).chunks);
    expect(streamed[0].choices[0].delta.tool_calls![0]).toMatchObject({ extra_content: { google: { thought_signature: 'c2lnbmVk' } } });
  });

  it('maps tools and tool_choice; clean schemas as Schema, others as JSON Schema', () => {
    const clean = { type: 'object', properties: { city: { type: 'string', description: 'City' }, days: { type: ['integer', 'null'] } },
      required: ['city'] };
    const strict = { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false };
    const { sent, call } = callBody({
      messages: [{ role: 'user', content: 'x' }],
      tools: [
        { type: 'function', function: { name: 'a', description: 'A', parameters: clean } },
        { type: 'function', function: { name: 'b', parameters: strict, strict: true } },
      ],
      tool_choice: { type: 'function', function: { name: 'b' } },
    });
    expect(sent.tools).toEqual([{ functionDeclarations: [
      { name: 'a', description: 'A', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING', description: 'City' },
        days: { type: 'INTEGER', nullable: true } }, required: ['city'] } },
      { name: 'b', parametersJsonSchema: strict },
    ] }]);
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['b'] } });
    expect(call.droppedParams).toEqual(['tools.function.strict']);
    const tools = [{ type: 'function', function: { name: 'a' } }];
    for (const [choice, mode] of [['auto', 'AUTO'], ['none', 'NONE'], ['required', 'ANY']]) {
      expect(callBody({ messages: [{ role: 'user', content: 'x' }], tools, tool_choice: choice }).sent.toolConfig)
        .toEqual({ functionCallingConfig: { mode } });
    }
  });

  it('maps sampling parameters to generationConfig and response_format to a response schema', () => {
    const { sent, call } = callBody({
      messages: [{ role: 'user', content: 'x' }],
      temperature: 0.3, top_p: 0.9, max_tokens: 10, max_completion_tokens: 20, stop: 'END', n: 2, seed: 7,
      presence_penalty: 0.1, frequency_penalty: 0.2,
      response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object', properties: { a: { type: 'number' } } } } },
    });
    expect(sent.generationConfig).toEqual({
      temperature: 0.3, topP: 0.9, maxOutputTokens: 20, stopSequences: ['END'], candidateCount: 2, seed: 7,
      presencePenalty: 0.1, frequencyPenalty: 0.2, responseMimeType: 'application/json',
      responseSchema: { type: 'OBJECT', properties: { a: { type: 'NUMBER' } } },
    });
    expect(call.droppedParams).toEqual([]);
    const loose = callBody({ messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { $ref: '#/x' } } } }).sent;
    expect(loose.generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: { $ref: '#/x' } });
    expect(callBody({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }).sent.generationConfig)
      .toEqual({ responseMimeType: 'application/json' });
  });

  it('drops and reports what Gemini cannot take', () => {
    const { sent, call } = callBody({ messages: [{ role: 'user', content: 'x' }], stream: false, user: 'u1', logit_bias: { 1: 2 },
      parallel_tool_calls: true, tool_choice: 'auto', store: false, metadata: null });
    expect(call.droppedParams.sort()).toEqual(['logit_bias', 'parallel_tool_calls', 'tool_choice', 'user']);
    expect(sent).toEqual({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] });
  });

  it("maps logprobs, and hands the /genai route's Google settings back (labels only where the API takes them)", () => {
    const safetySettings = [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }];
    const body = { messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 4,
      google: { safetySettings, labels: { team: 'a' }, mediaResolution: 'MEDIA_RESOLUTION_LOW' } };
    const { sent, call } = callBody(body);
    expect(sent).toEqual({ contents: [{ role: 'user', parts: [{ text: 'x' }] }], safetySettings,
      generationConfig: { responseLogprobs: true, logprobs: 4, mediaResolution: 'MEDIA_RESOLUTION_LOW' } });
    expect(call.droppedParams).toEqual(['google.labels']);
    const labelled = geminiChatRequest(job(body), true);
    expect(labelled.body.labels).toEqual({ team: 'a' });
    expect(labelled.droppedParams).toEqual([]);
    expect(callBody({ messages: [{ role: 'user', content: 'x' }], google: 'x' }).call.droppedParams).toEqual(['google']);
  });

  it('maps reasoning_effort to a thinking budget, or a thinking level on Gemini 3', () => {
    expect(callBody({ messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low' }).sent.generationConfig)
      .toEqual({ thinkingConfig: { thinkingBudget: 1024 } });
    const three = gemini.chatCall(job({ messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'high' }, { model: 'gemini-3-pro' }), target);
    expect(JSON.parse(three.body).generationConfig).toEqual({ thinkingConfig: { thinkingLevel: 'high' } });
    // The top efforts of OpenAI (xhigh) and Anthropic (max, from the /anthropic route) are the largest budget, a high level.
    for (const effort of ['xhigh', 'max']) {
      expect(callBody({ messages: [{ role: 'user', content: 'x' }], reasoning_effort: effort }).sent.generationConfig)
        .toEqual({ thinkingConfig: { thinkingBudget: 24576 } });
      const top = gemini.chatCall(job({ messages: [{ role: 'user', content: 'x' }], reasoning_effort: effort }, { model: 'gemini-3-pro' }), target);
      expect(JSON.parse(top.body).generationConfig).toEqual({ thinkingConfig: { thinkingLevel: 'high' } });
    }
    // Anthropic's output_config members without a Gemini counterpart are dropped and reported.
    expect(callBody({ messages: [{ role: 'user', content: 'x' }], output_config: { task_budget: {} }, inference_geo: 'us' }).call.droppedParams.sort())
      .toEqual(['inference_geo', 'output_config']);
  });

  it('refuses requests it cannot express', () => {
    expect(() => callBody({ messages: [{ role: 'system', content: 'only a system prompt' }] })).toThrow(/no user or assistant content/);
    expect(() => callBody({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'web_search' }] })).toThrow(/tool type/);
  });
});

describe('Gemini adapter: answers', () => {
  const answer = answerOf;

  it('maps text, finish reason and usage', () => {
    const { body, usage } = answer({
      candidates: [{ content: { role: 'model', parts: [{ text: 'thinking…', thought: true }, { text: 'Hello' }, { text: ' world' }] },
        finishReason: 'MAX_TOKENS', index: 0 }],
      usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, thoughtsTokenCount: 3, cachedContentTokenCount: 4, totalTokenCount: 18 },
      modelVersion: 'gemini-2.0-flash-001', responseId: 'abc',
    });
    expect(body).toMatchObject({ id: 'chatcmpl-abc', object: 'chat.completion', model: 'gemini-2.0-flash-001' });
    expect(body.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'Hello world', refusal: null },
      logprobs: null, finish_reason: 'length' }]);
    expect(body.usage).toEqual({ prompt_tokens: 10, completion_tokens: 8, total_tokens: 18,
      prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 3 } });
    expect(usage).toEqual({ promptTokens: 10, completionTokens: 8, totalTokens: 18, cachedTokens: 4, reasoningTokens: 3 });
  });

  it('maps function calls to tool_calls with generated ids', () => {
    const { body } = answer({ candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] },
      finishReason: 'STOP' }] });
    const choice = body.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([{ id: expect.stringMatching(/^call_[0-9a-f]{24}$/), type: 'function',
      function: { name: 'f', arguments: '{"a":1}' } }]);
  });

  it.each([['SAFETY', 'content_filter'], ['RECITATION', 'content_filter'], ['BLOCKLIST', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'], ['SPII', 'content_filter'], ['STOP', 'stop'], ['OTHER', 'stop']])(
    'maps finishReason %s to %s', (reason, mapped) => {
      expect(answer({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: reason }] }).body.choices[0].finish_reason).toBe(mapped);
    });

  it('answers a blocked prompt with a content_filter refusal', () => {
    const { body } = answer({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 3, totalTokenCount: 3 } });
    expect(body.choices).toEqual([{ index: 0, message: { role: 'assistant', content: null, refusal: 'the prompt was blocked (SAFETY)' },
      logprobs: null, finish_reason: 'content_filter' }]);
    expect(() => gemini.chatAnswer('{"nothing":1}', job({}))).toThrow(/candidates/);
  });

  it('reads Google\'s error envelope', () => {
    expect(gemini.errorMessage('{"error":{"code":400,"message":"bad field","status":"INVALID_ARGUMENT"}}')).toBe('bad field');
    expect(gemini.errorMessage('[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]')).toBe('quota');
    expect(gemini.errorMessage('<html>')).toBeNull();
  });
});

describe('Gemini adapter: streams', () => {
  const textChunk = (text: string, extra: Record<string, unknown> = {}) =>
    ({ candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, ...extra }], responseId: 'r1', modelVersion: 'gemini-2.0-flash' });

  it('streams text deltas, ends on the finishReason chunk, and adds the usage chunk when asked', () => {
    const s = state(true);
    const first = step(s, { ...textChunk('Hel'), usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 } });
    expect(first.done).toBe(false);
    expect(parsed(first.chunks)).toEqual([{ id: 'chatcmpl-r1', object: 'chat.completion.chunk', created: expect.any(Number),
      model: 'gemini-2.0-flash', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, logprobs: null, finish_reason: null }] }]);
    const last = step(s, { ...textChunk('lo', { finishReason: 'STOP' }),
      usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6 } });
    expect(last.done).toBe(true);
    const out = parsed(last.chunks);
    expect(out.map((c) => c.choices[0]?.delta)).toEqual([{ content: 'lo' }, {}, undefined]);
    expect(out[1].choices[0].finish_reason).toBe('stop');
    expect(out[2]).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } });
    expect(s.usage).toEqual({ promptTokens: 4, completionTokens: 2, totalTokens: 6 });
  });

  it('keeps the usage chunk from clients that did not ask, but records the usage', () => {
    const s = state(false);
    const last = step(s, { ...textChunk('x', { finishReason: 'STOP' }), usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 } });
    expect(parsed(last.chunks).every((c) => c.usage === undefined && c.choices.length === 1)).toBe(true);
    expect(s.usage).toEqual({ promptTokens: 1, completionTokens: 1, totalTokens: 2 });
  });

  it('streams a function call as a header delta then the arguments, with finish_reason tool_calls', () => {
    const s = state();
    const out = parsed(step(s, { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] },
      finishReason: 'STOP', index: 0 }] }).chunks);
    expect(out.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', tool_calls: [{ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'f', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] },
      {},
    ]);
    expect(out[2].choices[0].finish_reason).toBe('tool_calls');
  });

  it('waits for every candidate to finish when n > 1', () => {
    const s = state();
    const both = { candidates: [{ content: { parts: [{ text: 'a' }] }, index: 0 }, { content: { parts: [{ text: 'b' }] }, index: 1 }] };
    expect(step(s, both).done).toBe(false);
    expect(step(s, { candidates: [{ content: { parts: [{ text: '' }] }, index: 0, finishReason: 'STOP' }] }).done).toBe(false);
    expect(step(s, { candidates: [{ content: { parts: [{ text: '!' }] }, index: 1, finishReason: 'STOP' }] }).done).toBe(true);
  });

  it('ends a blocked prompt with a content_filter chunk, and reports an error event with its status', () => {
    const blocked = step(state(), { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } });
    expect(blocked.done).toBe(true);
    expect(parsed(blocked.chunks).at(-1)!.choices[0].finish_reason).toBe('content_filter');
    expect(step(state(), { error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }))
      .toEqual({ chunks: [], done: false, error: { status: 503, message: 'overloaded' } });
  });
});

describe('Gemini adapter: embeddings', () => {
  const embedJob = (body: Record<string, unknown>): JobData => ({ modelLabel: 0, kind: 'embeddings', requestId: 'r', model: 'text-embedding-004',
    keyIndex: 0, stream: false, includeUsage: false, body: { model: 'gemini/text-embedding-004', ...body } });

  it('sends batchEmbedContents and answers an OpenAI list, in floats or base64', () => {
    const call = gemini.embeddingsCall!(embedJob({ input: ['a', 'b'], dimensions: 3, user: 'u' }), target);
    expect(call.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents');
    expect(JSON.parse(call.body)).toEqual({ requests: [
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'a' }] }, outputDimensionality: 3 },
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'b' }] }, outputDimensionality: 3 },
    ] });
    expect(call.droppedParams).toEqual(['user']);
    const text = JSON.stringify({ embeddings: [{ values: [0.5, -1] }, { values: [0.25, 2] }] });
    const floats = JSON.parse(gemini.embeddingsAnswer!(text, embedJob({ input: ['a', 'b'] })).body);
    expect(floats).toEqual({ object: 'list', model: 'text-embedding-004', usage: { prompt_tokens: 0, total_tokens: 0 },
      data: [{ object: 'embedding', index: 0, embedding: [0.5, -1] }, { object: 'embedding', index: 1, embedding: [0.25, 2] }] });
    const encoded = JSON.parse(gemini.embeddingsAnswer!(text, embedJob({ input: ['a', 'b'], encoding_format: 'base64' })).body);
    const bytes = Buffer.from(encoded.data[0].embedding, 'base64');
    expect(bytes.length).toBe(8);
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4)]).toEqual([0.5, -1]);
    expect(() => gemini.embeddingsCall!(embedJob({ input: [[1, 2, 3]] }), target)).toThrow(/token-id/);
  });
});

describe('Gemini adapter: list_models', () => {
  it('gets /v1beta/models and reads the names bare, as requests use them', () => {
    expect(gemini.listModelsCall!(job({}, { kind: 'list_models' }), target))
      .toMatchObject({ method: 'GET', url: 'https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000' });
    const list = '{"models":[{"name":"models/gemini-2.0-flash","displayName":"Gemini 2.0 Flash"},{"name":"tunedModels/mine"}]}';
    expect(gemini.listModelsAnswer!(list, job({}))).toEqual({ body: '{"models":["gemini-2.0-flash","tunedModels/mine"]}', usage: null });
    expect(() => gemini.listModelsAnswer!('{"data":[]}', job({}))).toThrow(/models array/);
  });
});

describe('Gemini adapter: counting tokens', () => {
  it('sends the whole request as generateContentRequest to :countTokens and answers input_tokens', () => {
    const counted = job({ messages: [{ role: 'system', content: 'brief' }, { role: 'user', content: 'hi' }] }, { kind: 'count_tokens' });
    const call = gemini.countTokensCall!(counted, target);
    expect(call.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:countTokens');
    expect(JSON.parse(call.body)).toEqual({ generateContentRequest: { model: 'models/gemini-2.0-flash',
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }], systemInstruction: { parts: [{ text: 'brief' }] } } });
    expect(gemini.countTokensAnswer!('{"totalTokens":7,"promptTokensDetails":[]}', counted))
      .toEqual({ body: '{"input_tokens":7}', usage: null });
    expect(() => gemini.countTokensAnswer!('{}', counted)).toThrow(/totalTokens/);
  });
});

describe('toGeminiSchema', () => {
  it('converts the OpenAPI subset and refuses the rest', () => {
    expect(toGeminiSchema({ type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } }))
      .toEqual({ type: 'ARRAY', items: { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }] } });
    expect(toGeminiSchema({ type: 'object', properties: { a: { const: 1 } } })).toBeNull();
    expect(toGeminiSchema({ type: ['string', 'number'] })).toBeNull();
  });
});
