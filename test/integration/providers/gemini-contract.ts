// The contract scenarios shared by the two providers of the Gemini wire format (gemini, vertex), run through the
// real, built gateway with the `openai` SDK as the client and the fake Gemini server (proved with @google/genai
// in test/fakes/gemini-server.test.ts) as the upstream. Each provider's test file starts the gateway and adds
// what is its own (authentication).

import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { FakeGemini, FakeGeminiRequest } from '../../fakes/gemini-server.js';
import { apiError, collect, expectEnvelope, type Harness, postChat, sseData, user } from '../harness.js';

export interface GeminiContractContext {
  /** The gateway's provider name: the model prefix. */
  readonly provider: string;
  /** The upstream path of a model action, as the fake records it. */
  path(model: string, action: string): string;
  fake(): FakeGemini;
  harness(): Harness<FakeGemini>;
  /** Checks the upstream request carried this provider's credentials. */
  expectAuthenticated(request: FakeGeminiRequest): void;
}

let counter = 0;


const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather by city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } },
};

export function describeGeminiContract(ctx: GeminiContractContext): void {
  const model = (name: string) => `${ctx.provider}/${name}`;
  const nextId = () => `${ctx.provider}-itest-${++counter}`;
  const upstreamOf = (requestId: string): FakeGeminiRequest => {
    const seen = ctx.fake().requests.filter((r) => r.headers['x-request-id'] === requestId);
    expect(seen).toHaveLength(1);
    return seen[0];
  };

  describe(`chat through provider ${ctx.provider}`, () => {
    it('answers a chat.completion converted from generateContent, with usage; the upstream got contents', async () => {
      const requestId = nextId();
      const { data, response } = await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash'),
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'capital of France?' }],
        temperature: 0.2, max_tokens: 64, stop: ['STOP'],
      }, { headers: { 'x-request-id': requestId } }).withResponse();
      expect(response.status).toBe(200);
      expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
      expect(data.object).toBe('chat.completion');
      expect(data.model).toBe('gemini-2.0-flash');
      expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'Echo: capital of France?' });
      expect(data.choices[0].finish_reason).toBe('stop');
      expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
      expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);

      const upstream = upstreamOf(requestId);
      expect(upstream.path).toBe(ctx.path('gemini-2.0-flash', 'generateContent'));
      ctx.expectAuthenticated(upstream);
      expect(upstream.body).toEqual({
        contents: [{ role: 'user', parts: [{ text: 'capital of France?' }] }],
        systemInstruction: { parts: [{ text: 'Be brief.' }] },
        generationConfig: { temperature: 0.2, maxOutputTokens: 64, stopSequences: ['STOP'] },
      });
    });

    it('streams chunks ending in finish_reason and the usage chunk when include_usage is set', async () => {
      const requestId = nextId();
      const chunks = await collect(await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash'), messages: user('one two three four five six'), stream: true,
        stream_options: { include_usage: true },
      }, { headers: { 'x-request-id': requestId } }));
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Echo: one two three four five six');
      expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
      const usage = chunks.at(-1)!;
      expect(usage.choices).toEqual([]);
      expect(usage.usage!.completion_tokens).toBeGreaterThan(0);
      expect(usage.usage!.total_tokens).toBe(usage.usage!.prompt_tokens + usage.usage!.completion_tokens);
      expect(upstreamOf(requestId).path).toBe(ctx.path('gemini-2.0-flash', 'streamGenerateContent?alt=sse'));
    });

    it('sends no usage chunk when include_usage was not asked', async () => {
      const chunks = await collect(await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash'), messages: user('a b c'), stream: true }));
      expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
      expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
    });

    it('calls tools: functionDeclarations and toolConfig go up, tool_calls come back', async () => {
      const requestId = nextId();
      const data = await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash-tools'), messages: user('weather in Paris?'), tools: [weatherTool], tool_choice: 'required',
      }, { headers: { 'x-request-id': requestId } });
      const choice = data.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.content).toBeNull();
      const call = choice.message.tool_calls![0];
      if (call.type !== 'function') throw new Error('expected a function call');
      expect(call.id).toMatch(/^call_/);
      expect(call.function.name).toBe('get_weather');
      expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
      expect(upstreamOf(requestId).body).toMatchObject({
        tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather by city',
          parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } }, required: ['location'] } }] }],
        toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      });
    });

    it('sends tool results back as functionResponse parts named after the call', async () => {
      const requestId = nextId();
      const data = await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash-tools'), tools: [weatherTool],
        messages: [
          { role: 'user', content: 'weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_abc', content: '{"temperature":21}' },
        ],
      }, { headers: { 'x-request-id': requestId } });
      expect(data.choices[0].message.content).toBe('The tool get_weather said {"temperature":21}.');
      expect(data.choices[0].finish_reason).toBe('stop');
      expect((upstreamOf(requestId).body!.contents as unknown[]).slice(1)).toEqual([
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { location: 'Paris' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temperature: 21 } } }] },
      ]);
    });

    it('streams tool calls as deltas the SDK reassembles', async () => {
      const runner = ctx.harness().client.chat.completions.stream({
        model: model('gemini-2.0-flash-tools'), messages: user('weather?'), tools: [weatherTool] });
      const final = await runner.finalChatCompletion();
      const choice = final.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls![0];
      if (call.type !== 'function') throw new Error('expected a function call');
      expect(call.function.name).toBe('get_weather');
      expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    });

    it('sends images: data: URLs inline, http URLs as file references', async () => {
      const requestId = nextId();
      await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash'),
        messages: [{ role: 'user', content: [
          { type: 'text', text: 'compare' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ] }],
      }, { headers: { 'x-request-id': requestId } });
      expect((upstreamOf(requestId).body!.contents as { parts: unknown[] }[])[0].parts).toEqual([
        { text: 'compare' },
        { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
        { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat.jpg' } },
      ]);
    });

    it('reports parameters Gemini cannot take in x-heimdall-dropped-params, and does not send them', async () => {
      const requestId = nextId();
      const { response } = await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash'), messages: user('hi'), user: 'end-user-1', logit_bias: { 42: 1 }, seed: 3,
      }, { headers: { 'x-request-id': requestId } }).withResponse();
      expect(response.headers.get('x-heimdall-dropped-params')!.split(',').sort()).toEqual(['logit_bias', 'user']);
      const sent = upstreamOf(requestId).body!;
      expect(sent.generationConfig).toEqual({ seed: 3 });
      expect(JSON.stringify(sent)).not.toContain('end-user-1');

      const raw = await postChat(ctx.harness().url, { model: model('gemini-2.0-flash'), messages: user('hi'), stream: true, user: 'u' });
      expect(raw.headers.get('x-heimdall-dropped-params')).toBe('user');
      await raw.text();
    });

    it('maps a blocked prompt to finish_reason content_filter', async () => {
      const data = await ctx.harness().client.chat.completions.create({ model: model('gemini-2.0-flash-blocked'), messages: user('x') });
      expect(data.choices[0].finish_reason).toBe('content_filter');
      expect(data.choices[0].message.refusal).toContain('SAFETY');
    });
  });

  describe(`errors through provider ${ctx.provider}`, () => {
    it.each([
      [400, 400, OpenAI.BadRequestError, 'upstream_bad_request', 'Request contains an invalid argument.'],
      [401, 401, OpenAI.AuthenticationError, 'upstream_auth', 'Request had invalid authentication credentials'],
      [429, 429, OpenAI.RateLimitError, 'upstream_rate_limited', 'You exceeded your current quota'],
      [500, 502, OpenAI.InternalServerError, 'upstream_error', 'An internal error has occurred'],
    ])('upstream %i → %i %s in the OpenAI envelope, with Google\'s message', async (upstream, status, ErrorClass, code, message) => {
      const error = await apiError(ctx.harness().client.chat.completions.create({
        model: model(`gemini-2.0-flash-error-${upstream}`), messages: user('hi') }));
      expect(error).toBeInstanceOf(ErrorClass);
      expect(error.status).toBe(status);
      expectEnvelope({ error: error.error }, code);
      expect(error.message).toContain(message);
      expect(error.message).toContain(ctx.provider);
      if (upstream === 429) expect(error.headers?.get('retry-after')).toBe('1');
    });

    it('a stream whose body ends without a finishReason → an SSE error event stream_interrupted after the content', async () => {
      const response = await postChat(ctx.harness().url, { model: model('gemini-2.0-flash-truncated'), messages: user('a b c d e f'), stream: true });
      expect(response.status).toBe(200);
      const events = sseData(await response.text());
      const last = JSON.parse(events.at(-1)!);
      expectEnvelope(last, 'stream_interrupted');
      expect(last.error.message).toContain('ended before its end marker');
      expect(events.slice(0, -1).map((e) => JSON.parse(e).choices[0].delta.content).join('')).toBe('Echo: a b c d e f');

      const stream = await ctx.harness().client.chat.completions.create({
        model: model('gemini-2.0-flash-truncated'), messages: user('x y z'), stream: true });
      const failure = await collect(stream).then(() => null, (e: unknown) => e);
      expect((failure as { code?: string }).code).toBe('stream_interrupted');
    });

    it('an error event inside the stream → stream_interrupted with the provider\'s message', async () => {
      const response = await postChat(ctx.harness().url, { model: model('gemini-2.0-flash-stream-error'), messages: user('a b c d e f'), stream: true });
      const events = sseData(await response.text());
      expect(JSON.parse(events[0]).choices[0].delta.content).toBe('Echo: a b ');
      const last = JSON.parse(events.at(-1)!);
      expectEnvelope(last, 'stream_interrupted');
      expect(last.error.message).toContain('The model is overloaded');
    });

    it('a request the adapter cannot express → 400 invalid_request naming the provider', async () => {
      const error = await apiError(ctx.harness().client.chat.completions.create({ model: model('gemini-2.0-flash'),
        messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: '1' }] }));
      expect(error.status).toBe(400);
      expect(error.message).toContain('answers no earlier assistant tool call');
    });
  });

  describe(`embeddings through provider ${ctx.provider}`, () => {
    it('answers an OpenAI embeddings list (base64 by the SDK\'s default, and floats)', async () => {
      const embeddingModel = ctx.provider === 'vertex' ? 'text-embedding-005' : 'text-embedding-004';
      const requestId = nextId();
      const encoded = await ctx.harness().client.embeddings.create({ model: model(embeddingModel), input: ['alpha', 'beta'], dimensions: 4 },
        { headers: { 'x-request-id': requestId } });
      expect(encoded.object).toBe('list');
      expect(encoded.data).toHaveLength(2);
      expect(encoded.data[0].embedding).toHaveLength(4);
      expect(encoded.data[1].index).toBe(1);
      const action = ctx.provider === 'vertex' ? 'predict' : 'batchEmbedContents';
      expect(upstreamOf(requestId).path).toBe(ctx.path(embeddingModel, action));

      const floats = await ctx.harness().client.embeddings.create({ model: model(embeddingModel), input: 'alpha', encoding_format: 'float' });
      expect(floats.data[0].embedding).toHaveLength(8);
      // The same vector, whichever the encoding.
      expect(floats.data[0].embedding.slice(0, 4).map((v) => Math.fround(v))).toEqual(encoded.data[0].embedding);
    });
  });
}
