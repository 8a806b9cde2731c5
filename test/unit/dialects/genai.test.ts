import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import type { IncomingRequest } from '../../../src/http/server.js';
import {
  countTokensResponse, embedContentResponse, GenAIStream, genaiErrorBody, generateContentResponse, googleStatus,
} from '../../../src/dialects/genai-answer.js';
import { chatRequestOf, countTokensRequestOf, embeddingsRequestOf, toJsonSchema } from '../../../src/dialects/genai-request.js';
import { GENAI_DIALECTS, modelOf } from '../../../src/dialects/genai.js';

type Json = Record<string, unknown>;

const user = (text: string) => ({ role: 'user', parts: [{ text }] });

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError');
}

describe('GenAI paths', () => {
  it('read the model up to the last colon, slashes and colons of its own included', () => {
    expect(modelOf('/genai/v1beta/models/gemini-2.0-flash:generateContent')).toBe('gemini-2.0-flash');
    expect(modelOf('/genai/v1/models/openai/gpt-4o-mini:countTokens')).toBe('openai/gpt-4o-mini');
    expect(modelOf('/genai/v1beta/models/bedrock%2Fanthropic.claude-v1:0:generateContent')).toBe('bedrock/anthropic.claude-v1:0');
    expect(refusal(() => modelOf('/genai/v1beta/models/gemini-2.0-flash')).data.param).toBe('model');
    expect(refusal(() => modelOf('/genai/v1beta/models/%E0%A4%A:generateContent')).message).toContain('percent-encoding');
  });

  it('parse into the kind of each action, the model from the path', () => {
    const request = (path: string, body: Json): IncomingRequest => ({ method: 'POST', path, query: '', headers: {}, requestId: 'r',
      receivedAt: 0, body: Buffer.from(JSON.stringify(body)) });
    const stream = GENAI_DIALECTS.streamGenerateContent.parse(request('/genai/v1beta/models/m:streamGenerateContent', { contents: [user('hi')] }));
    expect(stream).toMatchObject({ kind: 'chat', stream: true, includeUsage: true,
      body: { model: 'm', stream: true, stream_options: { include_usage: true } } });
    const counted = GENAI_DIALECTS.countTokens.parse(request('/genai/v1beta/models/m:countTokens', { contents: [user('hi')] }));
    expect(counted).toMatchObject({ kind: 'count_tokens', stream: false });
    const embedded = GENAI_DIALECTS.embedContent.parse(request('/genai/v1beta/models/e:embedContent', { content: { parts: [{ text: 'x' }] } }));
    expect(embedded).toEqual({ kind: 'embeddings', stream: false, includeUsage: false, body: { model: 'e', input: 'x' } });
    expect(refusal(() => GENAI_DIALECTS.generateContent.parse({ ...request('/genai/v1beta/models/m:generateContent', {}), body: Buffer.from('{') }))
      .data.code).toBe('INVALID_JSON');
  });
});

describe('GenAI requests → OpenAI chat', () => {
  it('translates contents, system instruction, media and generation config', () => {
    const body = chatRequestOf({
      systemInstruction: { role: 'user', parts: [{ text: 'be brief' }, { text: 'and kind' }] },
      contents: [
        { role: 'user', parts: [{ text: 'look' }, { inlineData: { mimeType: 'image/png', data: 'AAAA' } },
          { fileData: { mimeType: 'application/pdf', fileUri: 'gs://b/doc.pdf' } }, { inlineData: { mimeType: 'audio/wav', data: 'UklG' } }] },
        { role: 'model', parts: [{ text: 'seen' }] },
        user('more'),
      ],
      generationConfig: { temperature: 0.1, topP: 0.9, topK: 5, maxOutputTokens: 10, stopSequences: ['x'], candidateCount: 2,
        seed: 7, presencePenalty: 0.5, frequencyPenalty: 0.25, responseMimeType: 'application/json', thinkingConfig: { thinkingBudget: 2048 } },
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
    }, 'gemini/gemini-2.5-flash');
    expect(body).toEqual({
      model: 'gemini/gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'be brief\nand kind' },
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          { type: 'file', file: { file_data: 'gs://b/doc.pdf' } }, { type: 'input_audio', input_audio: { data: 'UklG', format: 'wav' } }] },
        { role: 'assistant', content: 'seen' },
        { role: 'user', content: 'more' },
      ],
      temperature: 0.1, top_p: 0.9, top_k: 5, max_tokens: 10, stop: ['x'], n: 2, seed: 7, presence_penalty: 0.5,
      frequency_penalty: 0.25, response_format: { type: 'json_object' }, reasoning_effort: 'medium',
      google: { safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
        // The thinking config as sent, for Gemini: the effort beside it is the nearest level.
        thinkingConfig: { thinkingBudget: 2048 } },
    });
  });

  it('pairs function calls and responses by id, or by name in order, keeps thought signatures and leaves unsigned thoughts out', () => {
    const { messages } = chatRequestOf({ contents: [
      user('go'),
      { role: 'model', parts: [
        { text: 'planning', thought: true },
        { functionCall: { name: 'a', args: { n: 1 } }, thoughtSignature: 'sig-a' },
        { functionCall: { name: 'a', args: { n: 2 } } },
        { functionCall: { id: 'given', name: 'b' } },
      ] },
      { role: 'user', parts: [
        { functionResponse: { id: 'given', name: 'b', response: { ok: true } } },
        { functionResponse: { name: 'a', response: { n: 1 } } },
        { functionResponse: { name: 'a', response: { n: 2 } } },
        { text: 'thanks' },
      ] },
    ] }, 'm') as { messages: Json[] };
    expect(messages[1]).toEqual({ role: 'assistant', content: null, tool_calls: [
      { id: 'call_0', type: 'function', function: { name: 'a', arguments: '{"n":1}' }, extra_content: { google: { thought_signature: 'sig-a' } } },
      { id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"n":2}' } },
      { id: 'given', type: 'function', function: { name: 'b', arguments: '{}' } },
    ] });
    expect(messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'given', content: '{"ok":true}' },
      { role: 'tool', tool_call_id: 'call_0', content: '{"n":1}' },
      { role: 'tool', tool_call_id: 'call_1', content: '{"n":2}' },
      { role: 'user', content: 'thanks' },
    ]);
  });

  it('sends a signed thought back as a thinking block, whole or joined from a stream\'s pieces', () => {
    const assistantOf = (parts: Json[]) => (chatRequestOf({ contents: [user('q'), { role: 'model', parts }] }, 'm') as { messages: Json[] }).messages[1];
    const block = { role: 'assistant', content: 'a', thinking_blocks: [{ type: 'thinking', thinking: 'hmm, yes', signature: 'S' }] };
    expect(assistantOf([{ text: 'hmm, yes', thought: true, thoughtSignature: 'S' }, { text: 'a' }])).toEqual(block);
    expect(assistantOf([{ text: 'hmm, ', thought: true }, { text: 'yes', thought: true }, { text: '', thought: true, thoughtSignature: 'S' },
      { text: 'a' }])).toEqual(block);
  });

  it('translates tools, Gemini schemas and function calling modes', () => {
    const tools = [{ functionDeclarations: [
      { name: 'f', description: 'd', parameters: { type: 'OBJECT', properties: { a: { type: 'STRING', nullable: true, propertyOrdering: [] },
        list: { type: 'ARRAY', items: { type: 'INTEGER' } } }, required: ['a'] } },
      { name: 'g', parametersJsonSchema: { type: 'object', additionalProperties: false } },
    ] }];
    const body = chatRequestOf({ contents: [user('x')], tools, toolConfig: { functionCallingConfig: { mode: 'ANY' } } }, 'm');
    expect(body.tools).toEqual([
      { type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object', required: ['a'],
        properties: { a: { type: ['string', 'null'] }, list: { type: 'array', items: { type: 'integer' } } } } } },
      { type: 'function', function: { name: 'g', parameters: { type: 'object', additionalProperties: false } } },
    ]);
    expect(body.tool_choice).toBe('required');
    const choice = (config: Json) => chatRequestOf({ contents: [user('x')], tools, toolConfig: { functionCallingConfig: config } }, 'm').tool_choice;
    expect(choice({ mode: 'NONE' })).toBe('none');
    expect(choice({ mode: 'AUTO' })).toBe('auto');
    expect(choice({ mode: 'ANY', allowedFunctionNames: ['f'] })).toEqual({ type: 'function', function: { name: 'f' } });
    expect(choice({ mode: 'ANY', allowedFunctionNames: ['f', 'g'] })).toEqual({ type: 'allowed_tools',
      allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'g' } }] } });
    expect(refusal(() => choice({ mode: 'SOMETIMES' })).message).toContain('AUTO, ANY, NONE');
    expect(refusal(() => chatRequestOf({ contents: [user('x')], toolConfig: { retrievalConfig: {} } }, 'm')).data.param).toBe('toolConfig.retrievalConfig');
    expect(toJsonSchema({ anyOf: [{ type: 'STRING' }], nullable: true }, 's')).toEqual({ anyOf: [{ type: 'string' }, { type: 'null' }] });
  });

  it('maps response schemas and thinking levels', () => {
    const config = (generationConfig: Json) => chatRequestOf({ contents: [user('x')], generationConfig }, 'm');
    expect(config({ responseMimeType: 'application/json', responseJsonSchema: { type: 'object' } }).response_format)
      .toEqual({ type: 'json_schema', json_schema: { name: 'response', schema: { type: 'object' } } });
    expect(config({ thinkingConfig: { thinkingLevel: 'HIGH', includeThoughts: true } }).reasoning_effort).toBe('high');
    expect(config({ thinkingConfig: { thinkingBudget: 0 } }).reasoning_effort).toBe('none');
    expect(config({ thinkingConfig: { thinkingBudget: -1 } }).reasoning_effort).toBeUndefined();
    expect(config({ responseModalities: ['TEXT'] })).not.toHaveProperty('responseModalities');
  });

  it('refuses what it cannot translate, naming the field, as Google refuses unknown fields', () => {
    const refused = (body: Json) => refusal(() => chatRequestOf(body, 'm'));
    expect(refused({ contents: [] }).data.param).toBe('contents');
    expect(refused({ contents: [user('x')], cachedContent: 'c' }).message).toContain("unknown field 'cachedContent'");
    expect(refused({ contents: [user('x')], generationConfig: { responseLogprobs: 'yes' } }).data.param).toBe('generationConfig.responseLogprobs');
    expect(refused({ contents: [user('x')], generationConfig: { logprobs: -1 } }).data.param).toBe('generationConfig.logprobs');
    expect(refused({ contents: [user('x')], generationConfig: { mediaResolution: 'TINY' } }).data.param).toBe('generationConfig.mediaResolution');
    expect(refused({ contents: [user('x')], safetySettings: {} }).data.param).toBe('safetySettings');
    expect(refused({ contents: [user('x')], generationConfig: { speechConfig: {} } }).data.param).toBe('generationConfig.speechConfig');
    expect(refused({ contents: [user('x')], tools: [{ googleSearch: {} }] }).message).toContain('only functionDeclarations');
    expect(refused({ contents: [{ role: 'system', parts: [{ text: 'x' }] }] }).message).toContain("'user' or 'model'");
    expect(refused({ contents: [{ role: 'user', parts: [{ executableCode: {} }] }] }).data.param).toBe('contents[0].parts[0].executableCode');
    expect(refused({ contents: [user('x'), { role: 'user', parts: [{ functionResponse: { name: 'f', response: {} } }] }] }).message)
      .toContain('answers no earlier functionCall');
    expect(refused({ contents: [user('x')], generationConfig: { responseSchema: { type: 'OBJECT' } } }).message).toContain('application/json');
  });

  it("carries Google's own settings in `google`, and logprobs as OpenAI's", () => {
    const safetySettings = [{ category: 'HARM_CATEGORY_HATE_SPEECH', threshold: 'BLOCK_LOW_AND_ABOVE' }];
    expect(chatRequestOf({ contents: [user('x')], safetySettings, labels: { team: 'a' },
      generationConfig: { mediaResolution: 'MEDIA_RESOLUTION_HIGH', responseLogprobs: true, logprobs: 2 } }, 'm')).toEqual({
      model: 'm', messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 2,
      google: { safetySettings, labels: { team: 'a' }, mediaResolution: 'MEDIA_RESOLUTION_HIGH' } });
    expect(chatRequestOf({ contents: [user('x')] }, 'm')).not.toHaveProperty('google');
  });

  it('countTokens takes contents or a whole generateContentRequest', () => {
    expect(countTokensRequestOf({ contents: [user('x')] }, 'm')).toEqual({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(countTokensRequestOf({ generateContentRequest: { model: 'models/m', contents: [user('x')], systemInstruction: { parts: [{ text: 's' }] } } }, 'm'))
      .toEqual({ model: 'm', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'x' }] });
    expect(refusal(() => countTokensRequestOf({ contents: [user('x')], generateContentRequest: {} }, 'm')).message).toContain('not both');
  });

  it('embeddings: one text, or a batch that must agree on its dimensions', () => {
    expect(embeddingsRequestOf({ content: { parts: [{ text: 'a' }, { text: 'b' }] }, outputDimensionality: 3, taskType: 'RETRIEVAL_DOCUMENT' }, 'e', false))
      .toEqual({ model: 'e', input: 'ab', dimensions: 3 });
    expect(embeddingsRequestOf({ requests: [{ model: 'models/e', content: { parts: [{ text: 'a' }] } }, { content: { parts: [{ text: 'b' }] } }] }, 'e', true))
      .toEqual({ model: 'e', input: ['a', 'b'] });
    expect(refusal(() => embeddingsRequestOf({ requests: [{ content: { parts: [{ text: 'a' }] }, outputDimensionality: 2 },
      { content: { parts: [{ text: 'b' }] } }] }, 'e', true)).message).toContain('same outputDimensionality');
    expect(refusal(() => embeddingsRequestOf({ content: { parts: [{ inlineData: { mimeType: 'image/png', data: 'A' } }] } }, 'e', false)).message)
      .toContain('only text');
  });
});

describe('OpenAI answers → GenAI', () => {
  it('writes a GenerateContentResponse: parts, finish reasons, usage with thoughts apart', () => {
    const response = JSON.parse(generateContentResponse(JSON.stringify({
      id: 'chatcmpl-abc', model: 'gpt-4o-mini',
      choices: [
        { index: 0, finish_reason: 'tool_calls', message: { content: null, reasoning_content: 'why',
          tool_calls: [{ id: 'call_1', function: { name: 'f', arguments: '{"a":1}' }, extra_content: { google: { thought_signature: 'S' } } }] } },
        { index: 1, finish_reason: 'length', message: { content: 'cut' } },
        { index: 2, finish_reason: 'content_filter', message: { content: null, refusal: 'no' } },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14, completion_tokens_details: { reasoning_tokens: 4 },
        prompt_tokens_details: { cached_tokens: 2 } },
    })));
    expect(response).toEqual({
      candidates: [
        { index: 0, finishReason: 'STOP', content: { role: 'model', parts: [{ text: 'why', thought: true },
          { functionCall: { id: 'call_1', name: 'f', args: { a: 1 } }, thoughtSignature: 'S' }] } },
        { index: 1, finishReason: 'MAX_TOKENS', content: { role: 'model', parts: [{ text: 'cut' }] } },
        { index: 2, finishReason: 'SAFETY', content: { role: 'model', parts: [{ text: 'no' }] } },
      ],
      usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 5, thoughtsTokenCount: 4, totalTokenCount: 14, cachedContentTokenCount: 2 },
      modelVersion: 'gpt-4o-mini', responseId: 'abc',
    });
  });

  it('writes Claude thinking blocks as signed thoughts', () => {
    const response = JSON.parse(generateContentResponse(JSON.stringify({ choices: [{ finish_reason: 'stop', message: { content: 'a',
      reasoning_content: 'hmm', thinking_blocks: [{ type: 'thinking', thinking: 'hmm', signature: 'SIG' }] } }] })));
    expect(response.candidates[0].content.parts).toEqual([{ text: 'hmm', thought: true, thoughtSignature: 'SIG' }, { text: 'a' }]);
  });

  it('writes embeddings in order and token counts', () => {
    const list = JSON.stringify({ data: [{ index: 1, embedding: [2] }, { index: 0, embedding: [1] }] });
    expect(JSON.parse(embedContentResponse(list, true))).toEqual({ embeddings: [{ values: [1] }, { values: [2] }] });
    expect(JSON.parse(embedContentResponse(list, false))).toEqual({ embedding: { values: [1] } });
    expect(JSON.parse(countTokensResponse('{"input_tokens":42}'))).toEqual({ totalTokens: 42 });
  });

  it('writes errors in Google\'s envelope with the gateway code as ErrorInfo', () => {
    expect(JSON.parse(genaiErrorBody({ code: 'UPSTREAM_RATE_LIMITED', message: 'slow down', provider: 'gemini' }))).toEqual({ error: {
      code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'UPSTREAM_RATE_LIMITED', domain: 'heimdall', metadata: { provider: 'gemini' } }],
    } });
    expect(JSON.parse(genaiErrorBody({ code: 'UPSTREAM_BAD_REQUEST', message: 'x', status: 422 })).error).toMatchObject({ code: 422, status: 'INVALID_ARGUMENT' });
    expect([400, 401, 403, 404, 429, 500, 503, 504, 599].map(googleStatus)).toEqual(['INVALID_ARGUMENT', 'UNAUTHENTICATED',
      'PERMISSION_DENIED', 'NOT_FOUND', 'RESOURCE_EXHAUSTED', 'INTERNAL', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL']);
  });
});

describe('OpenAI chunks → GenAI stream', () => {
  const chunk = (delta: Json, finish: string | null = null, index = 0) =>
    JSON.stringify({ id: 'chatcmpl-s1', model: 'm1', choices: [{ index, delta, finish_reason: finish }] });
  const usage = JSON.stringify({ id: 'chatcmpl-s1', model: 'm1', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
  const events = (text: string) => text.split('\r\n\r\n').filter(Boolean).map((event) => {
    expect(event.startsWith('data: ')).toBe(true);
    return JSON.parse(event.slice(6)) as Json;
  });

  it('sends text as it comes, and holds tool calls and the finish for the last event, with the usage', () => {
    const stream = new GenAIStream(true);
    expect(stream.contentType).toBe('text/event-stream');
    expect(stream.chunk(chunk({ role: 'assistant', content: '' }))).toBe('');
    expect(events(stream.chunk(chunk({ content: 'Hi' })))).toEqual([{ candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, index: 0 }],
      modelVersion: 'm1', responseId: 's1' }]);
    expect(stream.chunk(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }))).toBe('');
    expect(stream.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }))).toBe('');
    expect(stream.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, 'tool_calls'))).toBe('');
    expect(events(stream.chunk(usage))).toEqual([{
      candidates: [{ content: { role: 'model', parts: [{ functionCall: { id: 'call_1', name: 'f', args: { a: 1 } } }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 }, modelVersion: 'm1', responseId: 's1',
    }]);
    expect(stream.end()).toBe('');
  });

  it('streams thinking as it comes, and a Claude block\'s signature on an empty thought part after it', () => {
    const stream = new GenAIStream(true);
    expect(events(stream.chunk(chunk({ reasoning_content: 'hmm' })))[0].candidates).toEqual([{ content: { role: 'model',
      parts: [{ text: 'hmm', thought: true }] }, index: 0 }]);
    expect(events(stream.chunk(chunk({ thinking_blocks: [{ type: 'thinking', thinking: 'hmm', signature: 'S' }] })))[0].candidates)
      .toEqual([{ content: { role: 'model', parts: [{ text: '', thought: true, thoughtSignature: 'S' }] }, index: 0 }]);
  });

  it('ends a stream without usage with its held finish', () => {
    const stream = new GenAIStream(true);
    stream.chunk(chunk({ content: 'x' }, 'length'));
    expect(events(stream.end())).toEqual([{ candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'MAX_TOKENS', index: 0 }],
      modelVersion: 'm1', responseId: 's1' }]);
  });

  it('frames one JSON array without SSE, an error as its last element', () => {
    const stream = new GenAIStream(false);
    expect(stream.contentType).toContain('application/json');
    const text = stream.chunk(chunk({ content: 'a' })) + stream.chunk(chunk({ content: 'b' }, 'stop')) + stream.chunk(usage) + stream.end();
    const array = JSON.parse(text) as Json[];
    expect(array).toHaveLength(3);
    expect(array[2]).toMatchObject({ candidates: [{ finishReason: 'STOP' }], usageMetadata: { totalTokenCount: 7 } });
    expect(new GenAIStream(false).end()).toBe('[]');
    const failing = new GenAIStream(false);
    const failed = JSON.parse(failing.chunk(chunk({ content: 'a' })) + failing.error({ code: 'STREAM_INTERRUPTED', message: 'gone' })) as Json[];
    expect(failed[1]).toMatchObject({ error: { code: 502, message: 'gone', status: 'UNAVAILABLE' } });
  });
});
