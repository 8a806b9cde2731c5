// The Google GenAI drop-in (`/genai`) through the real, built gateway with the official `@google/genai` SDK as the
// client: same-provider (the fake Gemini API, also serving Vertex paths, behind providers `gemini` and `vertex`) and
// cross-provider (the fake OpenAI server, the fake Anthropic API, the built-in mock), streams, function calls,
// thinking, countTokens, embeddings, and errors, which the SDK must raise as its ApiError with Google's envelope.

import {
  ApiError, FinishReason, GoogleGenAI, HarmBlockThreshold, HarmCategory, MediaResolution, Type, type Content, type GenerateContentResponse,
} from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { startFakeVertex, type FakeVertex } from '../../fakes/vertex-server.js';
import { collect, eventually, metricSum, openaiProvider, startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

let vertex: FakeVertex;
let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let h: Harness<FakeVertex['fake']>;
let ai: GoogleGenAI;

beforeAll(async () => {
  openai = await startFakeOpenAI();
  anthropic = await startFakeAnthropic();
  vertex = await startFakeVertex();
  const upstream = { network_config: { base_url: vertex.fake.url, default_request_timeout_in_seconds: 30 },
    concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 } };
  h = await startGatewayWith(vertex.fake, () => ({ client: { max_request_body_size_mb: 1 }, providers: {
    gemini: { keys: [{ value: 'AIza-upstream', models: ['*'], weight: 1 }], ...upstream },
    vertex: { keys: [{ value: 'service-account', models: ['*'], weight: 1, vertex_key_config: vertex.keyConfig() }], ...upstream },
    openai: openaiProvider(openai.url),
    anthropic: { keys: [{ value: 'sk-ant-upstream', models: ['*'], weight: 1 }], network_config: { base_url: anthropic.url } },
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }));
  ai = new GoogleGenAI({ apiKey: 'client-key-not-checked', httpOptions: { baseUrl: `${h.url}/genai` } });
});

afterAll(async () => {
  await h?.close();
  await openai?.close();
  await anthropic?.close();
});

beforeEach(() => {
  vertex.fake.reset();
  openai.reset();
  anthropic.reset();
});

const lookupWeather = {
  functionDeclarations: [{
    name: 'lookup_weather', description: 'Weather for a city',
    parameters: { type: Type.OBJECT, properties: { location: { type: Type.STRING } }, required: ['location'] },
  }],
};

async function apiErrorOf(promise: Promise<unknown>): Promise<{ status: number; body: { error: { code: number; status: string; message: string } } }> {
  const error = await rejectionOf(promise, ApiError);
  // The SDK's message is the error body as JSON (after "got status: …. " for an error inside a stream).
  const body = JSON.parse(error.message.slice(error.message.indexOf('{'))) as { error: { code: number; status: string; message: string } };
  return { status: error.status, body };
}

const textOf = (chunks: GenerateContentResponse[]) => chunks.map((chunk) => chunk.text ?? '').join('');

describe('generateContent', () => {
  it('sends a bare model to the gemini provider and answers Google\'s GenerateContentResponse', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hello genai',
      config: { systemInstruction: 'be brief', temperature: 0.3, topK: 20, maxOutputTokens: 64, stopSequences: ['END'] } });
    expect(response.text).toBe('Echo: hello genai');
    expect(response.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(response.modelVersion).toBe('gemini-2.0-flash');
    expect(response.sdkHttpResponse!.headers!['x-heimdall-provider']).toBe('gemini');
    const usage = response.usageMetadata!;
    expect(usage.promptTokenCount).toBeGreaterThan(0);
    expect(usage.totalTokenCount).toBe(usage.promptTokenCount! + usage.candidatesTokenCount!);

    const seen = vertex.fake.requests[0];
    expect(seen.path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    expect(response.responseId).toBe(JSON.parse(seen.responseBody!).responseId);
    expect(seen.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'hello genai' }] }],
      systemInstruction: { parts: [{ text: 'be brief' }] },
      generationConfig: { temperature: 0.3, topK: 20, maxOutputTokens: 64, stopSequences: ['END'] },
    });
  });

  it('reaches vertex as vertex/<model>, and maps MAX_TOKENS back', async () => {
    const response = await ai.models.generateContent({ model: 'vertex/gemini-2.0-flash-max-tokens', contents: 'hi' });
    expect(response.candidates![0].finishReason).toBe(FinishReason.MAX_TOKENS);
    expect(vertex.fake.requests[0].api).toBe('vertex');
  });

  it('reaches the openai provider cross-provider, with the system instruction and JSON schema translated', async () => {
    const response = await ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: 'hi there', config: {
      systemInstruction: 'answer in JSON', responseMimeType: 'application/json',
      responseSchema: { type: Type.OBJECT, properties: { answer: { type: Type.STRING, nullable: true } } },
    } });
    expect(response.text).toContain('You said: hi there');
    expect(response.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(response.usageMetadata!.promptTokenCount).toBeGreaterThan(0);
    const body = openai.requests[0].body!;
    expect(body.model).toBe('gpt-4o-mini');
    expect(body.messages).toEqual([{ role: 'system', content: 'answer in JSON' }, { role: 'user', content: 'hi there' }]);
    expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'response',
      schema: { type: 'object', properties: { answer: { type: ['string', 'null'] } } } } });
  });

  it('reaches the built-in mock, counted under its operation\'s route label', async () => {
    const counted = async () => metricSum(await (await fetch(`${h.url}/metrics`)).text(), 'heimdall_http_requests_total',
      { route: '/genai/v1beta/models/{model}:generateContent', method: 'POST', status: '200' }) ?? 0;
    const before = await counted();
    const response = await ai.models.generateContent({ model: 'mock/echo', contents: 'ping' });
    expect(response.text).toBe('Echo: ping');
    expect(await eventually(counted, (value) => value === before + 1)).toBe(before + 1);
  });
});

describe("Google's own settings (safety, labels, media resolution, logprobs)", () => {
  const safetySettings = [{ category: HarmCategory.HARM_CATEGORY_HARASSMENT, threshold: HarmBlockThreshold.BLOCK_ONLY_HIGH }];
  const config = { safetySettings, labels: { team: 'search' }, mediaResolution: MediaResolution.MEDIA_RESOLUTION_LOW,
    responseLogprobs: true, logprobs: 3 };

  it('reach gemini and vertex as the client sent them (the Gemini API has no labels: dropped and reported)', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi', config });
    expect(vertex.fake.requests[0].body).toMatchObject({ safetySettings,
      generationConfig: { mediaResolution: 'MEDIA_RESOLUTION_LOW', responseLogprobs: true, logprobs: 3 } });
    expect(vertex.fake.requests[0].body).not.toHaveProperty('labels');
    expect(response.sdkHttpResponse!.headers!['x-heimdall-dropped-params']).toBe('google.labels');

    const onVertex = await ai.models.generateContent({ model: 'vertex/gemini-2.0-flash', contents: 'hi', config });
    expect(vertex.fake.requests[1].body).toMatchObject({ safetySettings, labels: { team: 'search' },
      generationConfig: { mediaResolution: 'MEDIA_RESOLUTION_LOW', responseLogprobs: true, logprobs: 3 } });
    expect(onVertex.sdkHttpResponse!.headers!['x-heimdall-dropped-params']).toBeUndefined();
  });

  it('reach openai as logprobs and top_logprobs; the rest is dropped and reported', async () => {
    const response = await ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: 'hi', config });
    const body = openai.requests[0].body!;
    expect(body).toMatchObject({ logprobs: true, top_logprobs: 3 });
    expect(body).not.toHaveProperty('google');
    expect(response.sdkHttpResponse!.headers!['x-heimdall-dropped-params']).toBe('google');
  });
});

describe('generateContentStream', () => {
  it('streams from gemini as SSE GenerateContentResponses, usage on the last', async () => {
    const chunks = await collect(await ai.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'one two three four' }));
    expect(chunks.length).toBeGreaterThan(1);
    expect(textOf(chunks)).toBe('Echo: one two three four');
    // Each event of a text answer has text, the last one included, as `process.stdout.write(chunk.text)` needs.
    expect(chunks.every((chunk) => typeof chunk.text === 'string')).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(last.usageMetadata!.totalTokenCount).toBeGreaterThan(0);
    expect(vertex.fake.requests[0].path).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
  });

  it.each(['openai/gpt-4o-mini', 'mock/echo'])('streams cross-provider from %s', async (model) => {
    const chunks = await collect(await ai.models.generateContentStream({ model, contents: 'stream me please' }));
    expect(textOf(chunks)).toContain('stream me please');
    expect(chunks.at(-1)!.candidates![0].finishReason).toBe(FinishReason.STOP);
    expect(chunks.at(-1)!.usageMetadata!.candidatesTokenCount).toBeGreaterThan(0);
  });

  it('answers one JSON array without alt=sse, on /v1 too', async () => {
    const response = await fetch(`${h.url}/genai/v1/models/mock/echo:streamGenerateContent`, { method: 'POST',
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'array please' }] }] }) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const events = await response.json() as GenerateContentResponse[];
    expect(events.map((event) => event.candidates?.[0]?.content?.parts?.[0]?.text ?? '').join('')).toBe('Echo: array please');
    expect(events.at(-1)!.candidates![0].finishReason).toBe('STOP');
  });
});

describe('function calling', () => {
  it('round-trips functionCall → functionResponse with gemini, the thought signature included', async () => {
    vertex.fake.script('gemini-2.5-flash-signed', { toolCalls: [{ name: 'lookup_weather', args: { location: 'Oslo' }, thoughtSignature: 'c2lnbmVk' }] });
    const config = { tools: [lookupWeather], toolConfig: { functionCallingConfig: { mode: 'ANY' as never, allowedFunctionNames: ['lookup_weather'] } } };
    const asked: Content = { role: 'user', parts: [{ text: 'weather in Oslo?' }] };
    const first = await ai.models.generateContent({ model: 'gemini-2.5-flash-signed', contents: [asked], config });
    expect(first.functionCalls).toEqual([expect.objectContaining({ name: 'lookup_weather', args: { location: 'Oslo' } })]);
    const called = first.candidates![0].content!;
    expect(called.parts![0].thoughtSignature).toBe('c2lnbmVk');
    expect(vertex.fake.requests[0].body).toMatchObject({
      tools: [{ functionDeclarations: [{ name: 'lookup_weather',
        parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } }, required: ['location'] } }] }],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['lookup_weather'] } },
    });

    vertex.fake.script('gemini-2.5-flash-signed', { toolCalls: [] });
    const answered: Content = { role: 'user', parts: [{ functionResponse: { name: 'lookup_weather', response: { celsius: 7 } } }] };
    const second = await ai.models.generateContent({ model: 'gemini-2.5-flash-signed', contents: [asked, called, answered], config });
    expect(second.text).toBe('The tool lookup_weather said {"celsius":7}.');
    expect(vertex.fake.requests[1].body!.contents).toEqual([
      { role: 'user', parts: [{ text: 'weather in Oslo?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'lookup_weather', args: { location: 'Oslo' } }, thoughtSignature: 'c2lnbmVk' }] },
      { role: 'user', parts: [{ functionResponse: { name: 'lookup_weather', response: { celsius: 7 } } }] },
    ]);
  });

  it('round-trips with the openai provider: the call id pairs the tool message with its call', async () => {
    const asked: Content = { role: 'user', parts: [{ text: 'weather?' }] };
    const first = await ai.models.generateContent({ model: 'openai/gpt-4o-mini-tools', contents: [asked], config: { tools: [lookupWeather] } });
    const call = first.functionCalls![0];
    expect(call.name).toBe('lookup_weather');
    expect(call.id).toMatch(/^call_/);
    expect(openai.requests[0].body!.tools).toEqual([{ type: 'function', function: { name: 'lookup_weather', description: 'Weather for a city',
      parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } } }]);

    const called = first.candidates![0].content!;
    const answered: Content = { role: 'user', parts: [{ functionResponse: { id: call.id, name: 'lookup_weather', response: { celsius: 7 } } }] };
    await ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: [asked, called, answered], config: { tools: [lookupWeather] } });
    const messages = openai.requests[1].body!.messages as { role: string; tool_calls?: { id: string }[]; tool_call_id?: string; content?: unknown }[];
    expect(messages[1].tool_calls![0].id).toBe(call.id);
    expect(messages[2]).toEqual({ role: 'tool', tool_call_id: call.id, content: '{"celsius":7}' });
  });

  it('streams a function call whole, in the candidate\'s last event', async () => {
    const chunks = await collect(await ai.models.generateContentStream({ model: 'openai/gpt-4o-mini-tools', contents: 'weather?',
      config: { tools: [lookupWeather] } }));
    const calls = chunks.flatMap((chunk) => chunk.functionCalls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0].name).toBe('lookup_weather');
    expect(chunks.at(-1)!.functionCalls).toEqual(calls);
  });
});

describe('thinking', () => {
  it('answers Claude\'s signed thinking as a thought part, and hands it back as the thinking block', async () => {
    const asked: Content = { role: 'user', parts: [{ text: 'hello' }] };
    const first = await ai.models.generateContent({ model: 'anthropic/claude-sonnet-4-5-thinking', contents: [asked] });
    const [thought, answer] = first.candidates![0].content!.parts!;
    expect(thought).toMatchObject({ thought: true, text: 'The user greets me; a short, friendly answer fits.' });
    expect(thought.thoughtSignature).toMatch(/^[A-Za-z0-9+/=]{20,}$/);
    expect(answer.thought).toBeUndefined();
    expect(first.text).toBe(answer.text);

    const again: Content = { role: 'user', parts: [{ text: 'and again' }] };
    await ai.models.generateContent({ model: 'anthropic/claude-sonnet-4-5', contents: [asked, first.candidates![0].content!, again] });
    expect(anthropic.requests[1].body!.messages![1]).toEqual({ role: 'assistant', content: [
      { type: 'thinking', thinking: thought.text, signature: thought.thoughtSignature },
      { type: 'text', text: answer.text },
    ] });
  });

  it('streams the thinking, then its signature, and takes the streamed parts back as the thinking block', async () => {
    const asked: Content = { role: 'user', parts: [{ text: 'hello' }] };
    const chunks = await collect(await ai.models.generateContentStream({ model: 'anthropic/claude-sonnet-4-5-thinking', contents: [asked] }));
    const parts = chunks.flatMap((chunk) => chunk.candidates?.[0]?.content?.parts ?? []);
    const thought = parts.filter((part) => part.thought).map((part) => part.text).join('');
    expect(thought).toBe('The user greets me; a short, friendly answer fits.');
    const signature = parts.find((part) => part.thoughtSignature)!.thoughtSignature;

    await ai.models.generateContent({ model: 'anthropic/claude-sonnet-4-5', contents: [asked, { role: 'model', parts }, { role: 'user', parts: [{ text: 'more' }] }] });
    const sent = anthropic.requests[1].body!.messages![1].content as { type: string }[];
    expect(sent[0]).toEqual({ type: 'thinking', thinking: thought, signature });
  });
});

describe('countTokens', () => {
  it.each(['gemini', 'vertex'])('counts with %s\'s own counter', async (provider) => {
    const model = provider === 'gemini' ? 'gemini-2.0-flash' : 'vertex/gemini-2.0-flash';
    const counted = await ai.models.countTokens({ model, contents: 'how many tokens is this' });
    const generated = await ai.models.generateContent({ model, contents: 'how many tokens is this' });
    expect(counted.totalTokens).toBeGreaterThan(0);
    expect(counted.totalTokens).toBe(generated.usageMetadata!.promptTokenCount);
    expect(vertex.fake.requests[0].action).toBe('countTokens');
  });

  it('refuses a provider that cannot count with a 400 INVALID_ARGUMENT', async () => {
    const { status, body } = await apiErrorOf(ai.models.countTokens({ model: 'openai/gpt-4o-mini', contents: 'hi' }));
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(body.error.message).toContain("provider 'openai' does not support counting tokens");
    expect(openai.requests).toHaveLength(0);
  });
});

describe('embeddings', () => {
  it('embeds through batchEmbedContents with gemini', async () => {
    const response = await ai.models.embedContent({ model: 'text-embedding-004', contents: ['alpha', 'beta'], config: { outputDimensionality: 4 } });
    expect(response.embeddings!.map((e) => e.values!.length)).toEqual([4, 4]);
    expect(vertex.fake.requests[0].body).toEqual({ requests: [
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'alpha' }] }, outputDimensionality: 4 },
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'beta' }] }, outputDimensionality: 4 },
    ] });
  });

  it('embeds cross-provider with openai, and answers embedContent as embedding.values', async () => {
    const batch = await ai.models.embedContent({ model: 'openai/text-embedding-3-small', contents: ['alpha', 'beta'] });
    expect(batch.embeddings).toHaveLength(2);
    expect(openai.requests[0].body).toMatchObject({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    const single = await fetch(`${h.url}/genai/v1beta/models/openai/text-embedding-3-small:embedContent`, { method: 'POST',
      body: JSON.stringify({ content: { parts: [{ text: 'alpha' }] }, taskType: 'RETRIEVAL_QUERY' }) });
    expect(await single.json()).toEqual({ embedding: { values: batch.embeddings![0].values } });
  });
});

describe('errors in Google\'s shape', () => {
  // An upstream 500 is the gateway's 502 (the provider failed), which Google's mapping names UNAVAILABLE.
  it.each([[404, 404, 'NOT_FOUND'], [429, 429, 'RESOURCE_EXHAUSTED'], [401, 401, 'UNAUTHENTICATED'], [403, 403, 'PERMISSION_DENIED'],
    [500, 502, 'UNAVAILABLE']])('an upstream %i is the SDK\'s ApiError with status %i, %s', async (upstream, status, name) => {
    const { status: got, body } = await apiErrorOf(ai.models.generateContent({ model: `gemini-2.0-flash-error-${upstream}`, contents: 'hi' }));
    expect(got).toBe(status);
    expect(body.error).toMatchObject({ code: status, status: name });
    expect(body.error.message.length).toBeGreaterThan(0);
  });

  it('bad input is a 400 INVALID_ARGUMENT naming the field', async () => {
    const { status, body } = await apiErrorOf(ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi',
      config: { responseMimeType: 'text/x.enum' } }));
    expect(status).toBe(400);
    expect(body.error.status).toBe('INVALID_ARGUMENT');
    expect(body.error.message).toContain('responseMimeType');
    expect(vertex.fake.requests).toHaveLength(0);
  });

  it('an unknown provider is a 404 NOT_FOUND; an unknown method too', async () => {
    const { status, body } = await apiErrorOf(ai.models.generateContent({ model: 'nobody/some-model', contents: 'hi' }));
    // A bare name with a slash goes to gemini, which refuses the unknown model upstream.
    expect(status).toBe(404);
    expect(body.error.status).toBe('NOT_FOUND');
    const unknown = await fetch(`${h.url}/genai/v1beta/models/gemini-2.0-flash:predictLongRunning`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });

  it('an unknown path or method under /genai is a 404 NOT_FOUND in Google\'s envelope, not OpenAI\'s', async () => {
    const unknown = await fetch(`${h.url}/genai/v1beta/tunedModels`);
    expect(unknown.status).toBe(404);
    const body = await unknown.json() as { error: { code: number; status: string; message: string } };
    expect(body.error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
    expect(body.error.message).toContain('GET /genai/v1beta/tunedModels');
    const wrongMethod = await fetch(`${h.url}/genai/v1beta/models/gemini-2.0-flash:generateContent`, { method: 'PUT', body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ error: { code: 405, message: expect.stringContaining('PUT is not allowed') } });
  });

  it('a body over the limit is a 413 in Google\'s shape', async () => {
    const { status, body } = await apiErrorOf(ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'x'.repeat(1_100_000) }));
    expect(status).toBe(413);
    expect(body.error).toMatchObject({ code: 413, status: 'INVALID_ARGUMENT' });
    expect(body.error.message).toContain('max_request_body_size_mb');
  });

  it('an error after the stream started is its last SSE event, which the SDK raises', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.0-flash-stream-error', contents: 'one two three four' });
    const seen: GenerateContentResponse[] = [];
    const error = await rejectionOf((async () => {
      for await (const chunk of stream) seen.push(chunk);
    })(), ApiError);
    expect(seen.length).toBeGreaterThan(0);
    expect(error.status).toBeGreaterThanOrEqual(500);

    const raw = await fetch(`${h.url}/genai/v1beta/models/gemini-2.0-flash-stream-error:streamGenerateContent?alt=sse`, { method: 'POST',
      body: JSON.stringify({ contents: [{ parts: [{ text: 'one two three' }] }] }) });
    // Google frames SSE events with CRLF, as the gateway does.
    const events = (await raw.text()).split('\r\n\r\n').filter((event) => event !== '');
    expect(events.every((event) => event.startsWith('data: '))).toBe(true);
    expect(JSON.parse(events[0].slice(6))).toMatchObject({ candidates: [{ content: { role: 'model' } }] });
    expect(JSON.parse(events.at(-1)!.slice(6))).toMatchObject({ error: { code: (error as ApiError).status, status: 'UNAVAILABLE' } });
  });
});
