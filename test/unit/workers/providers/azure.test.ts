import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { PROVIDER_FACTS } from '../../../../src/contract/providers.js';
import { azure } from '../../../../workers/providers/azure.js';
import type { CallTarget, KeyInit, StreamState } from '../../../../workers/providers/types.js';

const job = (extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r', model: 'gpt-4o', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0.1 }, ...extra,
});

const key = (config: unknown, value = 'azure-key'): KeyInit => ({ value, configs: config === undefined ? {} : { azure_key_config: config } });
const target = (config: unknown, baseUrl: string | null = null): CallTarget => ({ baseUrl, key: key(config) });
const state = (includeUsage = false): StreamState => ({ includeUsage, model: 'gpt-4o', usage: null, scratch: {} });

const ENDPOINT = 'https://contoso.openai.azure.com';

describe('azure adapter: declarations and facts', () => {
  it('authenticates with the api-key header, streams SSE, and has no embedded default (the endpoint is per key)', () => {
    expect(azure.auth).toEqual({ kind: 'header', name: 'api-key' });
    expect(azure.streamFormat).toBe('sse');
    expect(PROVIDER_FACTS.azure).toMatchObject({ envKey: null, canBeBase: false, keyless: false,
      capabilities: { chat: true, stream: true, tools: true, vision: true, embeddings: true } });
  });
});

describe('azure adapter: the call', () => {
  it('goes to the mapped deployment with the default api-version, and leaves model out of the body', () => {
    const call = azure.chatCall(job(), target({ endpoint: ENDPOINT, deployments: { 'gpt-4o': 'prod-4o' } }));
    expect(call.url).toBe(`${ENDPOINT}/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21`);
    expect(JSON.parse(call.body)).toEqual({ messages: [{ role: 'user', content: 'hi' }], temperature: 0.1 });
    expect(call.droppedParams).toEqual([]);
  });

  it('sends the media endpoints to the deployment too, with no model in the body or the form', () => {
    const config = { endpoint: ENDPOINT, deployments: { 'gpt-4o': 'prod-4o' } };
    const speech = azure.speechCall!(job({ kind: 'speech', body: { model: 'azure/gpt-4o', input: 'hi', voice: 'alloy' } }), target(config));
    expect(speech.url).toBe(`${ENDPOINT}/openai/deployments/prod-4o/audio/speech?api-version=2024-10-21`);
    expect(JSON.parse(speech.body)).toEqual({ input: 'hi', voice: 'alloy' });
    const transcription = azure.transcriptionCall!(job({ kind: 'transcription', body: { model: 'azure/gpt-4o',
      file: { bytes: new Uint8Array([1]), name: 'a.wav', type: 'audio/wav' } } }), target(config));
    expect(transcription.url).toContain('/deployments/prod-4o/audio/transcriptions?');
    expect([...transcription.form!.keys()]).toEqual(['file']);
    expect(azure.imageGenerationCall!(job({ kind: 'image_generation', body: { prompt: 'p' } }), target(config)).url)
      .toContain('/deployments/prod-4o/images/generations?');
  });

  it('uses the model name as the deployment when the map does not list it, and the key\'s api_version', () => {
    const call = azure.chatCall(job({ model: 'gpt-4o-mini' }), target({ endpoint: `${ENDPOINT}/`, deployments: { 'gpt-4o': 'x' },
      api_version: '2025-01-01-preview' }));
    expect(call.url).toBe(`${ENDPOINT}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-01-01-preview`);
  });

  it('lets network_config.base_url replace the endpoint, and takes an endpoint that already ends in /openai', () => {
    expect(azure.chatCall(job(), target({ endpoint: ENDPOINT }, 'http://127.0.0.1:9999')).url)
      .toBe('http://127.0.0.1:9999/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
    expect(azure.chatCall(job(), target({ endpoint: `${ENDPOINT}/openai/` })).url)
      .toBe(`${ENDPOINT}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`);
    expect(azure.chatCall(job(), target(undefined, 'http://fake:1')).url)
      .toBe('http://fake:1/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
  });

  it('escapes the deployment in the path', () => {
    expect(azure.chatCall(job({ model: 'a/b c' }), target({ endpoint: ENDPOINT })).url)
      .toBe(`${ENDPOINT}/openai/deployments/a%2Fb%20c/chat/completions?api-version=2024-10-21`);
  });

  it('asks for the usage chunk on streams, keeping the client\'s other stream options', () => {
    const body = JSON.parse(azure.chatCall(job({ stream: true, body: { messages: [], stream: true, stream_options: { x: 1 } } }),
      target({ endpoint: ENDPOINT })).body);
    expect(body.stream_options).toEqual({ x: 1, include_usage: true });
    expect(body.model).toBeUndefined();
  });

  it.each([
    [undefined, /no endpoint: set azure_key_config.endpoint/],
    [{ deployments: {} }, /no endpoint/],
    ['not-an-object', /azure_key_config must be an object/],
    [{ endpoint: 'contoso' }, /azure_key_config.endpoint must be a URL/],
    [{ endpoint: ENDPOINT, deployments: ['x'] }, /deployments must map model names/],
    [{ endpoint: ENDPOINT, deployments: { 'gpt-4o': 5 } }, /deployments.gpt-4o must be a deployment name/],
    [{ endpoint: ENDPOINT, api_version: 20241021 }, /api_version must be a string/],
  ])('refuses the key config %j with a clear message', (config, message) => {
    expect(() => azure.chatCall(job(), target(config))).toThrow(message);
  });

  it('builds the embeddings call on the deployment, without model', () => {
    const call = azure.embeddingsCall!(job({ kind: 'embeddings', model: 'text-embedding-3-small',
      body: { model: 'azure/text-embedding-3-small', input: ['a'], encoding_format: 'base64' } }),
    target({ endpoint: ENDPOINT, deployments: { 'text-embedding-3-small': 'emb' } }));
    expect(call.url).toBe(`${ENDPOINT}/openai/deployments/emb/embeddings?api-version=2024-10-21`);
    expect(JSON.parse(call.body)).toEqual({ input: ['a'], encoding_format: 'base64' });
  });
});

describe('azure adapter: answers', () => {
  it('forwards the answer (filter annotations and all) and reads its usage', () => {
    const text = JSON.stringify({ id: 'c', object: 'chat.completion', prompt_filter_results: [], choices: [{ index: 0,
      message: { role: 'assistant', content: 'x' }, finish_reason: 'content_filter', content_filter_results: {} }],
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
    expect(azure.chatAnswer(text, job())).toEqual({ body: text, usage: { promptTokens: 3, completionTokens: 1, totalTokens: 4 } });
  });

  it('reads the message of Azure\'s errors, the content filter\'s included', () => {
    expect(azure.errorMessage('{"error":{"code":"401","message":"Access denied due to invalid subscription key"}}'))
      .toBe('Access denied due to invalid subscription key');
    expect(azure.errorMessage('{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400}}'))
      .toBe('The response was filtered');
    expect(azure.errorMessage('upstream connect error')).toBeNull();
  });
});

describe('azure adapter: streams', () => {
  const promptAnnotation = '{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}';
  const roleChunk = '{"choices":[{"content_filter_results":{},"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1727000000,"id":"chatcmpl-A1","model":"gpt-4o-2024-08-06","object":"chat.completion.chunk","system_fingerprint":"fp_1"}';
  const asyncAnnotation = (finish: string | null) => `{"id":"","object":"","created":0,"model":"","choices":[{"index":0,"finish_reason":${JSON.stringify(finish)},"content_filter_results":{"violence":{"filtered":${finish !== null},"severity":"medium"}},"content_filter_offsets":{"check_offset":44,"start_offset":0,"end_offset":44}}],"usage":null}`;

  it('keeps the prompt annotation (empty choices, no usage) from the client, with or without usage null', () => {
    const s = state(true);
    expect(azure.streamEvent({ event: null, data: promptAnnotation }, s)).toEqual({ chunks: [], done: false });
    expect(azure.streamEvent({ event: null, data: promptAnnotation.replace('}]}', '}],"usage":null}') }, s).chunks).toEqual([]);
  });

  it('forwards real chunks untouched, and the usage chunk only to clients that asked', () => {
    expect(azure.streamEvent({ event: null, data: roleChunk }, state()).chunks).toEqual([roleChunk]);
    const usageChunk = '{"choices":[],"created":1727000000,"id":"chatcmpl-A1","model":"gpt-4o","object":"chat.completion.chunk","usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}';
    const hidden = state(false);
    expect(azure.streamEvent({ event: null, data: usageChunk }, hidden).chunks).toEqual([]);
    expect(hidden.usage).toEqual({ promptTokens: 9, completionTokens: 2, totalTokens: 11 });
    expect(azure.streamEvent({ event: null, data: usageChunk }, state(true)).chunks).toEqual([usageChunk]);
    expect(azure.streamEvent({ event: null, data: '[DONE]' }, state())).toEqual({ chunks: [], done: true });
  });

  it('drops the asynchronous filter\'s annotation frames, and turns a finishing one into a proper finish chunk', () => {
    const s = state();
    azure.streamEvent({ event: null, data: roleChunk }, s);
    expect(azure.streamEvent({ event: null, data: asyncAnnotation(null) }, s)).toEqual({ chunks: [], done: false });
    const step = azure.streamEvent({ event: null, data: asyncAnnotation('content_filter') }, s);
    expect(step.done).toBe(false);
    expect(step.chunks).toHaveLength(1);
    expect(JSON.parse(step.chunks[0])).toEqual({
      id: 'chatcmpl-A1', object: 'chat.completion.chunk', created: 1727000000, model: 'gpt-4o-2024-08-06',
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'content_filter',
        content_filter_results: { violence: { filtered: true, severity: 'medium' } } }],
    });
  });

  it('drops an annotation-like frame whose choices are not a list of choices, rather than failing on it', () => {
    // Found by the property test: `"choices":[]` nested deeper makes the frame look like an annotation.
    expect(azure.streamEvent({ event: null, data: '{"choices":0,"parts":{"choices":[]}}' }, state())).toEqual({ chunks: [], done: false });
    expect(azure.streamEvent({ event: null, data: '{"object":"","choices":[null,7,{"finish_reason":"stop"}]}' }, state()).chunks.map((c) => JSON.parse(c).choices))
      .toEqual([[{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]]);
  });

  it('forwards the content_filter finish of the default (synchronous) filter as sent', () => {
    const finish = '{"choices":[{"content_filter_results":{"violence":{"filtered":true,"severity":"medium"}},"delta":{},"finish_reason":"content_filter","index":0}],"created":1,"id":"chatcmpl-A1","model":"gpt-4o","object":"chat.completion.chunk"}';
    expect(azure.streamEvent({ event: null, data: finish }, state()).chunks).toEqual([finish]);
  });
});
