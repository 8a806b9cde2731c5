// Contract tests for provider `bedrock` through the real, built gateway: the `openai` SDK is the client, the fake
// Bedrock Runtime (proved with the AWS SDK in test/fakes/bedrock-server.test.ts) the upstream. Each scenario checks
// both ends: what the client got, and what reached the upstream, which checked every request's SigV4 signature
// with the key's secret.

import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeImage, startFakeBedrock, type FakeBedrock, type RecordedBedrockRequest } from '../../fakes/bedrock-server.js';
import { apiError, collect, collectUntilFailure, expectEnvelope, type Harness, postChat, sseData, startGatewayWith, user } from '../harness.js';

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

const CREDENTIALS = { accessKeyId: 'AKIDGATEWAYTEST', secretAccessKey: 'gateway/test+secret', sessionToken: 'gateway-session-token' };
const API_KEY = 'bedrock-api-key-gateway';
const REGION = 'eu-west-3';
const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
const TITAN = 'amazon.titan-embed-text-v2:0';

let fake: FakeBedrock;
let h: Harness<FakeBedrock>;
let counter = 0;

beforeAll(async () => {
  fake = await startFakeBedrock({ credentials: [CREDENTIALS], apiKeys: [API_KEY], region: REGION });
  const network_config = { base_url: fake.url, default_request_timeout_in_seconds: 30 };
  const concurrency_and_buffer_size = { concurrency: 50, buffer_size: 50, threads: 1 };
  h = await startGatewayWith(fake, () => ({ providers: {
    bedrock: {
      // No value: the key authenticates by its access key pair alone.
      keys: [{ models: ['*'], bedrock_key_config: { access_key: CREDENTIALS.accessKeyId,
        secret_key: CREDENTIALS.secretAccessKey, session_token: CREDENTIALS.sessionToken, region: REGION,
        deployments: { haiku: HAIKU } } }],
      network_config, concurrency_and_buffer_size,
    },
    // A custom provider on the bedrock adapter whose key is a Bedrock API key (bearer), not an access key pair.
    'bedrock-keyed': {
      keys: [{ value: API_KEY, models: ['*'], bedrock_key_config: { region: REGION } }],
      custom_provider_config: { base_provider_type: 'bedrock' },
      network_config, concurrency_and_buffer_size,
    },
  } }));
});

afterAll(async () => {
  await h?.close();
});

const nextId = () => `bedrock-itest-${++counter}`;
const withId = (requestId: string) => ({ headers: { 'x-request-id': requestId } });

function upstreamOf(requestId: string): RecordedBedrockRequest {
  const seen = fake.requestsWithId(requestId);
  expect(seen).toHaveLength(1);
  return seen[0];
}


/** Reads a stream that must fail part-way; returns what arrived and the error. */
async function brokenStream(stream: AsyncIterable<Chunk>): Promise<{ received: Chunk[]; error: APIError }> {
  const { received, failure: error } = await collectUntilFailure(stream);
  expect(error).toBeInstanceOf(APIError);
  return { received, error: error as APIError };
}

const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('chat through provider bedrock', () => {
  it('answers a chat.completion converted from Converse; the upstream got a signed Converse request', async () => {
    const requestId = nextId();
    const { data, response } = await h.client.chat.completions.create({
      model: `bedrock/${HAIKU}`,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'what is the capital of France?' }],
      temperature: 0.2, max_tokens: 200,
    }, withId(requestId)).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe(HAIKU);
    const upstream = upstreamOf(requestId);
    expect(data.choices[0].message.content).toBe(upstream.content);
    expect(data.choices[0].message.content).toContain('You said: what is the capital of France?');
    expect(data.choices[0].finish_reason).toBe('stop');
    const usage = JSON.parse(upstream.responseBody!).usage;
    expect(data.usage).toMatchObject({ prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.totalTokens });

    expect(upstream.path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(upstream.body).toEqual({ messages: [{ role: 'user', content: [{ text: 'what is the capital of France?' }] }],
      system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 200, temperature: 0.2 } });
    expect(upstream.auth).toMatchObject({ scheme: 'sigv4', accessKeyId: CREDENTIALS.accessKeyId, region: REGION, service: 'bedrock', verified: true });
    expect(upstream.headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
  });

  it('streams Converse events as OpenAI chunks: role first, the text, the finish; no usage chunk unless asked', async () => {
    const requestId = nextId();
    const chunks = await collect(await h.client.chat.completions.create(
      { model: `bedrock/${HAIKU}`, messages: user('tell me a story'), stream: true }, withId(requestId)));
    const upstream = upstreamOf(requestId);
    expect(upstream.path).toMatch(/\/converse-stream$/);
    expect(upstream.auth.verified).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(upstream.content);
    expect(text).toContain('tell me a story');
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage || c.choices.length === 0)).toBe(false);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('ends a stream with the usage chunk when the client asks for it', async () => {
    const requestId = nextId();
    const chunks = await collect(await h.client.chat.completions.create(
      { model: `bedrock/${HAIKU}`, messages: user('count me'), stream: true, stream_options: { include_usage: true } }, withId(requestId)));
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const metadata = upstreamOf(requestId).events.find((e) => e.type === 'metadata')!.payload.usage as Record<string, number>;
    expect(last.usage).toMatchObject({ prompt_tokens: metadata.inputTokens, completion_tokens: metadata.outputTokens, total_tokens: metadata.totalTokens });
  });

  it('maps tools to toolConfig and tool use back to tool_calls; the tool result goes back as toolResult', async () => {
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: `bedrock/${HAIKU}-tools`, messages: user('weather in Paris?'),
      tools: [weatherTool], tool_choice: 'required' }, withId(requestId));
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    const call = data.choices[0].message.tool_calls![0] as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(call.id).toMatch(/^tooluse_/);
    expect(data.choices[0].message.content).toBeNull();
    expect(upstreamOf(requestId).body!.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'get_weather', description: 'Weather by city',
      inputSchema: { json: weatherTool.function.parameters } } }], toolChoice: { any: {} } });

    const followId = nextId();
    const follow = await h.client.chat.completions.create({ model: `bedrock/${HAIKU}`, tools: [weatherTool], messages: [
      ...user('weather in Paris?'), data.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '21C and sunny' },
    ] }, withId(followId));
    expect(follow.choices[0].finish_reason).toBe('stop');
    expect(upstreamOf(followId).body!.messages).toEqual([
      { role: 'user', content: [{ text: 'weather in Paris?' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: call.id, name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: call.id, content: [{ text: '21C and sunny' }] } }] },
    ]);
  });

  it('streams a tool call as tool_calls deltas: id and name, then argument fragments', async () => {
    const chunks = await collect(await h.client.chat.completions.create(
      { model: `bedrock/${HAIKU}-tools`, messages: user('weather?'), tools: [weatherTool], stream: true }));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(deltas[0].id).toMatch(/^tooluse_/);
    expect(deltas.length).toBeGreaterThan(2);
    expect(JSON.parse(deltas.map((d) => d.function?.arguments ?? '').join(''))).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
  });

  it('sends a data: URL image as base64 bytes; an http image URL is refused with a clear 400 before any call', async () => {
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: `bedrock/${HAIKU}`, messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
    ] }] }, withId(requestId));
    expect(data.choices[0].message.content).toContain('what is this?');
    expect((upstreamOf(requestId).body!.messages as { content: unknown[] }[])[0].content[1])
      .toEqual({ image: { format: 'png', source: { bytes: PNG } } });

    const before = fake.requests.length;
    const error = await apiError(h.client.chat.completions.create({ model: `bedrock/${HAIKU}`, messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('does not fetch image URLs');
    expect(fake.requests.length).toBe(before);
  });

  it('reports the parameters Converse cannot take in x-heimdall-dropped-params, and sends the rest', async () => {
    const requestId = nextId();
    const { response } = await h.client.chat.completions.create({ model: `bedrock/${HAIKU}`, messages: user('hi'),
      seed: 42, presence_penalty: 0.5, top_p: 0.8, stop: ['never'] }, withId(requestId)).withResponse();
    expect(response.headers.get('x-heimdall-dropped-params')).toBe('seed,presence_penalty');
    expect(upstreamOf(requestId).body!.inferenceConfig).toEqual({ topP: 0.8, stopSequences: ['never'] });
  });

  it('maps the stop reasons: max_tokens → length, stop_sequence → stop with the text cut', async () => {
    const cut = await h.client.chat.completions.create({ model: `bedrock/${HAIKU}`, messages: user('hi'), max_completion_tokens: 3 });
    expect(cut.choices[0].finish_reason).toBe('length');
    expect(cut.choices[0].message.content).toBe('The quick brown');
    const stopped = await h.client.chat.completions.create({ model: `bedrock/${HAIKU}`, messages: user('hi'), stop: 'fox' });
    expect(stopped.choices[0].finish_reason).toBe('stop');
    expect(stopped.choices[0].message.content).toBe('The quick brown ');
  });

  it('calls the model id the key\'s deployments map an alias to', async () => {
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: 'bedrock/haiku', messages: user('alias') }, withId(requestId));
    expect(data.model).toBe('haiku');
    expect(upstreamOf(requestId).modelId).toBe(HAIKU);
  });

  it('authenticates a key whose value is a Bedrock API key with a bearer token instead of signing', async () => {
    const requestId = nextId();
    const data = await h.client.chat.completions.create({ model: `bedrock-keyed/${HAIKU}`, messages: user('keyed') }, withId(requestId));
    expect(data.choices[0].message.content).toContain('keyed');
    const upstream = upstreamOf(requestId);
    expect(upstream.auth.scheme).toBe('bearer');
    expect(upstream.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(upstream.headers['x-amz-date']).toBeUndefined();
  });
});

describe('errors through provider bedrock', () => {
  it.each([
    [400, 400, 'upstream_bad_request', OpenAI.BadRequestError, 'Malformed input request'],
    [401, 401, 'upstream_auth', OpenAI.AuthenticationError, 'security token included in the request is invalid'],
    [403, 403, 'upstream_forbidden', OpenAI.PermissionDeniedError, "don't have access to the model"],
    [429, 429, 'upstream_rate_limited', OpenAI.RateLimitError, 'Too many requests'],
    [500, 502, 'upstream_error', OpenAI.InternalServerError, 'unexpected error during processing'],
  ])('Bedrock %i → %i %s with the OpenAI envelope and Bedrock\'s message', async (upstreamStatus, status, code, kind, message) => {
    const error = await apiError(h.client.chat.completions.create({ model: `bedrock/${HAIKU}-error-${upstreamStatus}`, messages: user('x') }));
    expect(error).toBeInstanceOf(kind);
    expect(error.status).toBe(status);
    expectEnvelope({ error: error.error }, code);
    expect(error.message).toContain(message);
    expect(error.message).toContain('bedrock: ');
    if (upstreamStatus === 429) expect(error.headers?.get('retry-after')).toBe('1');
  });

  it('a Converse validation error (a conversation that starts with the assistant) comes back as 400 with Bedrock\'s words', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: `bedrock/${HAIKU}`,
      messages: [{ role: 'assistant', content: 'I speak first' }, { role: 'user', content: 'hi' }] }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('A conversation must start with a user message');
  });

  it('an exception as the stream\'s first news fails the request with its own status (throttling → 429)', async () => {
    const error = await apiError((async () => {
      await collect(await h.client.chat.completions.create({ model: `bedrock/${HAIKU}-exception-throttlingException`, messages: user('x'), stream: true }));
    })());
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.code).toBe('upstream_rate_limited');
    expect(error.message).toContain('throttlingException');
  });

  it('an exception after content has gone out ends the stream with an SSE error event the SDK throws', async () => {
    const { received, error } = await brokenStream(await h.client.chat.completions.create(
      { model: `bedrock/${HAIKU}-exception-modelStreamErrorException-after-3`, messages: user('x'), stream: true }));
    expect(error.code).toBe('stream_interrupted');
    expect(error.message).toContain('modelStreamErrorException');
    expect(received.map((c) => c.choices[0].delta.content).join('')).toBe('The quick ');
  });

  it('a stream truncated mid-frame ends with an SSE error event after what had arrived (raw view)', async () => {
    const requestId = nextId();
    const response = await postChat(h.url, { model: `bedrock/${HAIKU}-truncate-3`, messages: user('x'), stream: true }, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    const events = sseData(await response.text());
    expect(upstreamOf(requestId).events.map((e) => e.type)).toEqual(['messageStart', 'contentBlockDelta', 'contentBlockDelta', '(truncated)']);
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[0]).choices[0].delta).toEqual({ role: 'assistant', content: 'The ' });
    expect(JSON.parse(events[1]).choices[0].delta).toEqual({ content: 'quick ' });
    const envelope = expectEnvelope(JSON.parse(events[2]), 'stream_interrupted');
    expect(envelope.message).toContain('ended before its end marker');
  });

  it('a connection broken mid-stream ends with stream_interrupted through the SDK', async () => {
    const { received, error } = await brokenStream(await h.client.chat.completions.create(
      { model: `bedrock/${HAIKU}-break-after-4`, messages: user('x'), stream: true }));
    expect(error.code).toBe('stream_interrupted');
    expect(received.length).toBe(3);
  });
});

describe('embeddings through provider bedrock', () => {
  it('embeds one input with Titan; the SDK\'s default base64 decodes to the fake\'s vector', async () => {
    const requestId = nextId();
    const result = await h.client.embeddings.create({ model: `bedrock/${TITAN}`, input: 'embed this', dimensions: 256 }, withId(requestId));
    const upstream = upstreamOf(requestId);
    expect(upstream.path).toBe('/model/amazon.titan-embed-text-v2%3A0/invoke');
    expect(upstream.body).toEqual({ inputText: 'embed this', dimensions: 256 });
    expect(upstream.auth.verified).toBe(true);
    const vector = JSON.parse(upstream.responseBody!).embedding as number[];
    expect(result.data).toHaveLength(1);
    expect(result.data[0].embedding).toHaveLength(256);
    expect(Array.from(result.data[0].embedding)).toEqual(Array.from(new Float32Array(vector)));
    expect(result.usage.prompt_tokens).toBe(JSON.parse(upstream.responseBody!).inputTextTokenCount);
  });

  it('answers floats when asked for floats', async () => {
    const result = await h.client.embeddings.create({ model: `bedrock/${TITAN}`, input: ['only one'], encoding_format: 'float' });
    expect(result.data[0].embedding).toHaveLength(1024);
    expect(typeof result.data[0].embedding[0]).toBe('number');
  });

  it('refuses several inputs in one request with a 400 that says why, before any call', async () => {
    const before = fake.requests.length;
    const error = await apiError(h.client.embeddings.create({ model: `bedrock/${TITAN}`, input: ['one', 'two'] }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('Titan embeddings take one text per request, not 2 inputs');
    expect(fake.requests.length).toBe(before);
  });
});

describe('Cohere embeddings through provider bedrock', () => {
  const COHERE = 'cohere.embed-english-v3';

  it('embeds a list of texts in one InvokeModel call with texts, input_type and embedding_types', async () => {
    const requestId = nextId();
    const result = await h.client.embeddings.create({ model: `bedrock/${COHERE}`, input: ['first', 'second'], encoding_format: 'float' }, withId(requestId));
    const upstream = upstreamOf(requestId);
    expect(upstream.path).toBe(`/model/${COHERE}/invoke`);
    expect(upstream.body).toEqual({ texts: ['first', 'second'], input_type: 'search_document', embedding_types: ['float'] });
    expect(upstream.auth.verified).toBe(true);
    const vectors = (JSON.parse(upstream.responseBody!) as { embeddings: { float: number[][] } }).embeddings.float;
    expect(result.data.map((item) => item.index)).toEqual([0, 1]);
    expect(result.data.map((item) => item.embedding)).toEqual(vectors);
  });

  it('takes Cohere\'s own input_type; the SDK\'s default base64 decodes to the vectors; dimensions only for Embed v4', async () => {
    const requestId = nextId();
    const { data, response } = await h.client.embeddings.create({ model: `bedrock/${COHERE}`, input: 'a query', dimensions: 256,
      input_type: 'search_query' } as never, withId(requestId)).withResponse();
    const upstream = upstreamOf(requestId);
    expect(upstream.body).toEqual({ texts: ['a query'], input_type: 'search_query', embedding_types: ['float'] });
    expect(Array.from(data.data[0].embedding)).toEqual(Array.from(new Float32Array((JSON.parse(upstream.responseBody!) as { embeddings: { float: number[][] } }).embeddings.float[0])));
    expect(response.headers.get('x-heimdall-dropped-params')).toBe('dimensions');
    const v4 = nextId();
    const small = await h.client.embeddings.create({ model: 'bedrock/cohere.embed-v4:0', input: 'x', dimensions: 256, encoding_format: 'float' }, withId(v4));
    expect(upstreamOf(v4).body).toMatchObject({ output_dimension: 256 });
    expect(small.data[0].embedding).toHaveLength(256);
  });

  it('a bad input_type → Bedrock\'s 400, as the SDK\'s BadRequestError', async () => {
    const error = await apiError(h.client.embeddings.create({ model: `bedrock/${COHERE}`, input: 'x', input_type: 'nonsense' } as never));
    expect(error.status).toBe(400);
    expect(error.message).toContain('input_type');
  });
});

describe('images through provider bedrock', () => {
  it('Titan Image Generator: TEXT_IMAGE with n, the size and quality; n base64 images back', async () => {
    const requestId = nextId();
    const images = await h.client.images.generate({ model: 'bedrock/amazon.titan-image-generator-v2:0', prompt: 'a fjord at dawn', n: 3,
      size: '1024x1024', quality: 'hd' }, withId(requestId));
    const upstream = upstreamOf(requestId);
    expect(upstream.path).toBe('/model/amazon.titan-image-generator-v2%3A0/invoke');
    expect(upstream.body).toEqual({ taskType: 'TEXT_IMAGE', textToImageParams: { text: 'a fjord at dawn' },
      imageGenerationConfig: { numberOfImages: 3, width: 1024, height: 1024, quality: 'premium' } });
    expect(images.data!.map((image) => image.b64_json)).toEqual([0, 1, 2].map((i) => fakeImage('a fjord at dawn', i)));
  });

  it('a size Titan does not make → Bedrock\'s 400 naming it', async () => {
    const error = await apiError(h.client.images.generate({ model: 'bedrock/amazon.titan-image-generator-v1', prompt: 'x', size: '1792x1024' }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('1792x1024 is not a supported size');
  });

  it('Stability: prompt and the nearest aspect ratio, one image; n > 1 and a url answer reported as dropped', async () => {
    const requestId = nextId();
    const { data, response } = await h.client.images.generate({ model: 'bedrock/stability.sd3-5-large-v1:0', prompt: 'a longship', n: 2,
      size: '1536x1024', response_format: 'url' }, withId(requestId)).withResponse();
    expect(upstreamOf(requestId).body).toEqual({ prompt: 'a longship', output_format: 'png', aspect_ratio: '3:2' });
    expect(data.data!.map((image) => image.b64_json)).toEqual([fakeImage('a longship')]);
    expect(response.headers.get('x-heimdall-dropped-params')?.split(',').sort()).toEqual(['n', 'response_format']);
  });

  it('an image Stability\'s filter removed → 502 with the filter\'s reason', async () => {
    const error = await apiError(h.client.images.generate({ model: 'bedrock/stability.stable-image-core-v1:1', prompt: 'something forbidden' }));
    expect(error.status).toBe(502);
    expect(error.message).toContain('Filter reason: prompt');
  });

  it('speech and transcription stay refused: Bedrock has neither', async () => {
    const error = await apiError(h.client.audio.speech.create({ model: 'bedrock/amazon.nova-sonic-v1:0', voice: 'alloy', input: 'x' }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_capability');
  });
});

describe('every request the gateway sent to bedrock', () => {
  it('carried a SigV4 Authorization of the right shape and an x-amz-date, and verified with the key\'s secret', () => {
    const signed = fake.requests.filter((r) => r.auth.scheme !== 'bearer');
    expect(signed.length).toBeGreaterThan(15);
    for (const request of signed) {
      expect(request.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDENTIALS.accessKeyId}/\\d{8}/${REGION}/bedrock/aws4_request, `
        + 'SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*x-amz-date;x-amz-security-token[a-z0-9;-]*, Signature=[0-9a-f]{64}$'));
      expect(request.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
      expect(request.auth).toMatchObject({ verified: true, problem: null });
    }
  });
});
