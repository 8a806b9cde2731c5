// The `/bedrock` route through the real, built gateway, with `@aws-sdk/client-bedrock-runtime` as the client (its
// `endpoint` at `${gateway}/bedrock`): Converse and ConverseStream to the bedrock provider (the fake Bedrock Runtime
// behind it) and across providers (the fake OpenAI server, the built-in mock), tool use there and back, errors as
// the SDK's typed exceptions, and a stream failing part-way as an exception event.

import {
  AccessDeniedException, ApplyGuardrailCommand, BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, ModelStreamErrorException,
  ResourceNotFoundException, ServiceUnavailableException, ThrottlingException, ValidationException,
  type ConverseStreamOutput, type Message, type Tool,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBedrock, type FakeBedrock, type RecordedBedrockRequest } from '../../fakes/bedrock-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { openaiProvider, startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

const CREDENTIALS = { accessKeyId: 'AKIDGATEWAYTEST', secretAccessKey: 'gateway/test+secret' };
const REGION = 'eu-west-3';
const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';

let h: Harness<FakeBedrock>;
let openai: FakeOpenAI;
let client: BedrockRuntimeClient;
let counter = 0;
/** The x-request-id the next SDK call sends, and the headers of the last answer it read. */
let requestId = '';
let answerHeaders: Record<string, string> = {};

beforeAll(async () => {
  openai = await startFakeOpenAI();
  const fake = await startFakeBedrock({ credentials: [CREDENTIALS], region: REGION });
  try {
    h = await startGatewayWith(fake, (fakeUrl) => ({ client: { max_request_body_size_mb: 1 }, providers: {
      bedrock: {
        keys: [{ models: ['*'], bedrock_key_config: { access_key: CREDENTIALS.accessKeyId, secret_key: CREDENTIALS.secretAccessKey,
          region: REGION } }],
        network_config: { base_url: fakeUrl, default_request_timeout_in_seconds: 30 },
        concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 },
      },
      openai: openaiProvider(openai.url),
      mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
    } }));
  } catch (error) {
    await openai.close();
    throw error;
  }
  // Dummy credentials: the gateway does not check the client's signature, its own keys sign upstream. HTTP/1.1:
  // this client defaults to HTTP/2, which the gateway does not speak.
  client = new BedrockRuntimeClient({ endpoint: `${h.url}/bedrock`, region: 'us-east-1', maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client-secret' } });
  client.middlewareStack.add((next) => async (args) => {
    (args.request as { headers: Record<string, string> }).headers['x-request-id'] = requestId;
    const out = await next(args);
    answerHeaders = (out.response as { headers: Record<string, string> }).headers;
    return out;
  }, { step: 'finalizeRequest', name: 'heimdallRequestId' });
});

afterAll(async () => {
  client?.destroy();
  await h?.close();
  await openai?.close();
});

const nextId = () => {
  requestId = `bedrock-dialect-${++counter}`;
  return requestId;
};

function upstreamOf(id: string): RecordedBedrockRequest {
  const seen = h.fake.requestsWithId(id);
  expect(seen).toHaveLength(1);
  return seen[0];
}

const hello = (text: string): Message[] => [{ role: 'user', content: [{ text }] }];

/** Every event of a ConverseStream answer, and the error it ended with, if any. */
async function readStream(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<{ events: ConverseStreamOutput[]; error: unknown }> {
  const events: ConverseStreamOutput[] = [];
  const error = await (async () => {
    for await (const event of stream!) events.push(event);
  })().then(() => null, (e: unknown) => e);
  return { events, error };
}

const streamedText = (events: ConverseStreamOutput[]) => events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata: { httpStatusCode?: number } }> {
  return await rejectionOf(promise, Error) as Error & { $metadata: { httpStatusCode?: number } };
}

const weatherTool: Tool = { toolSpec: { name: 'get_weather', description: 'Weather by city',
  inputSchema: { json: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } } } };

describe('Converse to the bedrock provider (a bare model id)', () => {
  it('answers in Converse shape; the upstream got the same request back as Converse', async () => {
    const id = nextId();
    const answer = await client.send(new ConverseCommand({
      modelId: HAIKU,
      system: [{ text: 'Be brief.' }],
      messages: hello('what is the capital of France?'),
      inferenceConfig: { maxTokens: 200, temperature: 0.2, topP: 0.9 },
    }));
    const upstream = upstreamOf(id);
    expect(answerHeaders['x-heimdall-provider']).toBe('bedrock');
    expect(upstream.path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(upstream.body).toEqual({ messages: hello('what is the capital of France?'), system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 200, temperature: 0.2, topP: 0.9 } });
    expect(answer.output?.message?.role).toBe('assistant');
    expect(answer.output?.message?.content).toEqual([{ text: upstream.content }]);
    expect(answer.stopReason).toBe('end_turn');
    const usage = JSON.parse(upstream.responseBody!).usage;
    expect(answer.usage).toEqual({ inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, totalTokens: usage.totalTokens });
    expect(answer.metrics?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(answer.$metadata.httpStatusCode).toBe(200);
  });

  it('streams event-stream frames the SDK reads: messageStart, text deltas, messageStop, metadata with the usage', async () => {
    const id = nextId();
    const answer = await client.send(new ConverseStreamCommand({ modelId: HAIKU, messages: hello('tell me a story') }));
    const { events, error } = await readStream(answer.stream);
    expect(error).toBeNull();
    const upstream = upstreamOf(id);
    expect(upstream.path).toMatch(/\/converse-stream$/);
    expect(events[0].messageStart).toEqual({ role: 'assistant' });
    expect(streamedText(events)).toBe(upstream.content);
    expect(events.at(-2)!.messageStop?.stopReason).toBe('end_turn');
    const metadata = upstream.events.find((e) => e.type === 'metadata')!.payload.usage as Record<string, number>;
    expect(events.at(-1)!.metadata?.usage).toEqual({ inputTokens: metadata.inputTokens, outputTokens: metadata.outputTokens,
      totalTokens: metadata.totalTokens });
    expect(events.at(-1)!.metadata?.metrics?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('answers reasoning as a reasoningContent block before the text, and streams it as reasoning deltas', async () => {
    h.fake.script(`${HAIKU}-reasoning`, { reasoning: 'Paris is the capital.', content: 'Paris.' });
    nextId();
    const answer = await client.send(new ConverseCommand({ modelId: `${HAIKU}-reasoning`, messages: hello('capital of France?') }));
    expect(answer.output?.message?.content).toEqual([{ reasoningContent: { reasoningText: { text: 'Paris is the capital.',
      signature: 'c2lnbmF0dXJl' } } }, { text: 'Paris.' }]);

    nextId();
    const streamed = await client.send(new ConverseStreamCommand({ modelId: `${HAIKU}-reasoning`, messages: hello('capital of France?') }));
    const { events, error } = await readStream(streamed.stream);
    expect(error).toBeNull();
    const reasoning = events.filter((e) => e.contentBlockDelta?.delta?.reasoningContent);
    expect(reasoning.map((e) => e.contentBlockDelta!.delta!.reasoningContent!.text).join('')).toBe('Paris is the capital.');
    expect(reasoning.every((e) => e.contentBlockDelta!.contentBlockIndex === 0)).toBe(true);
    expect(streamedText(events)).toBe('Paris.');
  });

  it('round-trips tool use: toolSpec and toolChoice there, toolUse back, then toolUse and toolResult in the history', async () => {
    const id = nextId();
    const asked = await client.send(new ConverseCommand({ modelId: `${HAIKU}-tools`, messages: hello('weather in Paris?'),
      toolConfig: { tools: [weatherTool], toolChoice: { any: {} } } }));
    expect(upstreamOf(id).body!.toolConfig).toEqual({ tools: [weatherTool], toolChoice: { any: {} } });
    expect(asked.stopReason).toBe('tool_use');
    const use = asked.output!.message!.content!.find((block) => block.toolUse)!.toolUse!;
    expect(use).toMatchObject({ name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } });
    expect(use.toolUseId).toMatch(/^tooluse_/);

    const followId = nextId();
    const answer = await client.send(new ConverseCommand({ modelId: HAIKU, toolConfig: { tools: [weatherTool] }, messages: [
      ...hello('weather in Paris?'),
      asked.output!.message!,
      { role: 'user', content: [{ toolResult: { toolUseId: use.toolUseId, content: [{ json: { celsius: 21 } }] } },
        { text: 'and in words?' }] },
    ] }));
    expect(answer.stopReason).toBe('end_turn');
    expect(upstreamOf(followId).body!.messages).toEqual([
      ...hello('weather in Paris?'),
      { role: 'assistant', content: [{ toolUse: { toolUseId: use.toolUseId, name: 'get_weather', input: use.input } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: use.toolUseId, content: [{ text: '{"celsius":21}' }] } }, { text: 'and in words?' }] },
    ]);
  });

  it('streams a tool use as contentBlockStart, input deltas and contentBlockStop', async () => {
    nextId();
    const answer = await client.send(new ConverseStreamCommand({ modelId: `${HAIKU}-tools`, messages: hello('weather?'),
      toolConfig: { tools: [weatherTool] } }));
    const { events, error } = await readStream(answer.stream);
    expect(error).toBeNull();
    const start = events.find((e) => e.contentBlockStart)!.contentBlockStart!;
    expect(start.start?.toolUse?.name).toBe('get_weather');
    const input = events.filter((e) => e.contentBlockDelta?.contentBlockIndex === start.contentBlockIndex)
      .map((e) => e.contentBlockDelta!.delta!.toolUse!.input).join('');
    expect(JSON.parse(input)).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(events.some((e) => e.contentBlockStop?.contentBlockIndex === start.contentBlockIndex)).toBe(true);
    expect(events.find((e) => e.messageStop)!.messageStop!.stopReason).toBe('tool_use');
  });
});

describe('Converse to the bedrock provider and back loses nothing', () => {
  const SIGNATURE = 'c2lnbmF0dXJl';
  const REDACTED = 'b3BhcXVlIHJlYXNvbmluZw==';
  const base64 = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('base64');

  it('carries additionalModelRequestFields to Bedrock\'s, reporting nothing dropped', async () => {
    const id = nextId();
    const fields = { top_k: 5, thinking: { type: 'enabled', budget_tokens: 1024 }, anthropic_beta: ['interleaved-thinking-2025-05-14'] };
    await client.send(new ConverseCommand({ modelId: HAIKU, messages: hello('hi'), additionalModelRequestFields: fields }));
    expect(upstreamOf(id).body!.additionalModelRequestFields).toEqual(fields);
    expect(answerHeaders['x-heimdall-dropped-params']).toBeUndefined();
  });

  it('keeps a failed tool result\'s status: "error" upstream, its text as the client wrote it', async () => {
    const id = nextId();
    await client.send(new ConverseCommand({ modelId: HAIKU, toolConfig: { tools: [weatherTool] }, messages: [
      ...hello('weather in Atlantis?'),
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { location: 'Atlantis' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', status: 'error', content: [{ text: 'no such city' }] } }] },
    ] }));
    expect(upstreamOf(id).body!.messages).toContainEqual({ role: 'user',
      content: [{ toolResult: { toolUseId: 'tooluse_1', status: 'error', content: [{ text: 'no such city' }] } }] });
  });

  it('answers signed and redacted reasoning, and takes them back in the history as they were', async () => {
    h.fake.script(`${HAIKU}-signed`, { reasoning: 'Paris is the capital.', redactedReasoning: REDACTED, content: 'Paris.' });
    nextId();
    const answer = await client.send(new ConverseCommand({ modelId: `${HAIKU}-signed`, messages: hello('capital of France?') }));
    const [signed, redacted, text] = answer.output!.message!.content!;
    expect(signed).toEqual({ reasoningContent: { reasoningText: { text: 'Paris is the capital.', signature: SIGNATURE } } });
    expect(base64(redacted.reasoningContent?.redactedContent)).toBe(REDACTED);
    expect(text).toEqual({ text: 'Paris.' });

    const id = nextId();
    await client.send(new ConverseCommand({ modelId: HAIKU, messages: [...hello('capital of France?'), answer.output!.message!,
      ...hello('and of Italy?')] }));
    expect(upstreamOf(id).body!.messages).toEqual([...hello('capital of France?'), { role: 'assistant', content: [
      { reasoningContent: { reasoningText: { text: 'Paris is the capital.', signature: SIGNATURE } } },
      { reasoningContent: { redactedContent: REDACTED } }, { text: 'Paris.' }] }, ...hello('and of Italy?')]);
  });

  it('streams the signature and the redacted reasoning as reasoning deltas of their blocks', async () => {
    nextId();
    const streamed = await client.send(new ConverseStreamCommand({ modelId: `${HAIKU}-signed`, messages: hello('capital of France?') }));
    const { events, error } = await readStream(streamed.stream);
    expect(error).toBeNull();
    const reasoning = events.filter((e) => e.contentBlockDelta?.delta?.reasoningContent).map((e) => e.contentBlockDelta!);
    const signed = reasoning.filter((d) => d.contentBlockIndex === 0).map((d) => d.delta!.reasoningContent!);
    expect(signed.map((r) => r.text ?? '').join('')).toBe('Paris is the capital.');
    expect(signed.at(-1)).toEqual({ signature: SIGNATURE });
    const redacted = reasoning.filter((d) => d.contentBlockIndex === 1);
    expect(redacted).toHaveLength(1);
    expect(base64(redacted[0].delta!.reasoningContent!.redactedContent)).toBe(REDACTED);
    expect(events.find((e) => e.contentBlockDelta?.delta?.text)!.contentBlockDelta!.contentBlockIndex).toBe(2);
    expect(streamedText(events)).toBe('Paris.');
  });

  it('reports cache reads and writes in the usage, answered and streamed', async () => {
    const usage = { inputTokens: 5, outputTokens: 3, cacheReadInputTokens: 20, cacheWriteInputTokens: 10 };
    h.fake.script(`${HAIKU}-cached`, { content: 'ok', usage });
    nextId();
    const answer = await client.send(new ConverseCommand({ modelId: `${HAIKU}-cached`, messages: hello('hi') }));
    expect(answer.usage).toEqual({ ...usage, totalTokens: 38 });
    nextId();
    const streamed = await client.send(new ConverseStreamCommand({ modelId: `${HAIKU}-cached`, messages: hello('hi') }));
    const { events, error } = await readStream(streamed.stream);
    expect(error).toBeNull();
    expect(events.at(-1)!.metadata?.usage).toEqual({ ...usage, totalTokens: 38 });
  });
});

describe('Converse across providers (provider/model, URL-encoded by the SDK)', () => {
  it('reaches the openai provider and answers in Converse shape', async () => {
    const id = nextId();
    const answer = await client.send(new ConverseCommand({ modelId: 'openai/gpt-4o-mini', system: [{ text: 'Be brief.' }],
      messages: hello('hi there'), inferenceConfig: { maxTokens: 50, stopSequences: ['END'] } }));
    expect(answerHeaders['x-heimdall-provider']).toBe('openai');
    const [upstream] = openai.requestsWithId(id);
    expect(upstream.body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 50, stop: ['END'],
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi there' }] });
    expect(answer.output?.message?.content).toEqual([{ text: upstream.content }]);
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.usage?.totalTokens).toBe(answer.usage!.inputTokens! + answer.usage!.outputTokens!);
  });

  it('asks openai for tool calls and answers toolUse; streams them too', async () => {
    nextId();
    const asked = await client.send(new ConverseCommand({ modelId: 'openai/gpt-4o-mini-tools', messages: hello('weather?'),
      toolConfig: { tools: [weatherTool], toolChoice: { tool: { name: 'get_weather' } } } }));
    const [upstream] = openai.requestsWithId(requestId);
    expect(upstream.body).toMatchObject({ tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather by city',
      parameters: weatherTool.toolSpec!.inputSchema!.json } }], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    expect(asked.stopReason).toBe('tool_use');
    const use = asked.output!.message!.content!.find((block) => block.toolUse)!.toolUse!;
    expect(use).toMatchObject({ name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } });

    nextId();
    const streamed = await client.send(new ConverseStreamCommand({ modelId: 'openai/gpt-4o-mini-tools', messages: hello('weather?'),
      toolConfig: { tools: [weatherTool] } }));
    const { events, error } = await readStream(streamed.stream);
    expect(error).toBeNull();
    const start = events.find((e) => e.contentBlockStart)!.contentBlockStart!;
    const input = events.filter((e) => e.contentBlockDelta?.delta?.toolUse).map((e) => e.contentBlockDelta!.delta!.toolUse!.input).join('');
    expect({ name: start.start?.toolUse?.name, input: JSON.parse(input) }).toEqual({ name: use.name, input: use.input });
    expect(events.find((e) => e.messageStop)!.messageStop!.stopReason).toBe('tool_use');
  });

  it('tells openai of a failed tool result in its text, as OpenAI tool messages have no error flag', async () => {
    const id = nextId();
    await client.send(new ConverseCommand({ modelId: 'openai/gpt-4o-mini', toolConfig: { tools: [weatherTool] }, messages: [
      ...hello('weather in Atlantis?'),
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { location: 'Atlantis' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'call_1', status: 'error', content: [{ text: 'no such city' }] } }] },
    ] }));
    const [upstream] = openai.requestsWithId(id);
    expect(upstream.body?.messages?.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: 'Error: no such city' });
  });

  it('falls back when additionalModelRequestFields names fallbacks, as the body of a chat request would', async () => {
    nextId();
    const answer = await client.send(new ConverseCommand({ modelId: `${HAIKU}-error-503`, messages: hello('hi'),
      additionalModelRequestFields: { fallbacks: ['mock/echo'] } }));
    expect(answerHeaders['x-heimdall-provider']).toBe('mock');
    expect(answerHeaders['x-heimdall-fallback-index']).toBe('1');
    expect(answer.output?.message?.content?.[0]?.text).toBe('Echo: hi');
  });

  it('streams from the built-in mock, ending with the usage', async () => {
    nextId();
    const answer = await client.send(new ConverseStreamCommand({ modelId: 'mock/echo', messages: hello('hello mock') }));
    const { events, error } = await readStream(answer.stream);
    expect(error).toBeNull();
    expect(answerHeaders['x-heimdall-provider']).toBe('mock');
    expect(streamedText(events)).not.toBe('');
    expect(events.at(-1)!.metadata?.usage?.outputTokens).toBeGreaterThan(0);
  });
});

describe('errors, as the SDK\'s own exception classes', () => {
  it.each([
    [`${HAIKU}-error-403`, AccessDeniedException, 403],
    [`${HAIKU}-error-404`, ResourceNotFoundException, 404],
    [`${HAIKU}-error-429`, ThrottlingException, 429],
    [`${HAIKU}-error-503`, ServiceUnavailableException, 503],
    ['openai/gpt-4o-mini-error-429', ThrottlingException, 429],
  ] as const)('%s → %s', async (modelId, kind, status) => {
    nextId();
    const error = await rejection(client.send(new ConverseCommand({ modelId, messages: hello('hi') })));
    expect(error).toBeInstanceOf(kind);
    expect(error.$metadata.httpStatusCode).toBe(status);
  });

  it('refuses bad input with a ValidationException, body {"message"} and x-amzn-errortype', async () => {
    nextId();
    const error = await rejection(client.send(new ConverseCommand({ modelId: HAIKU, messages: [] })));
    expect(error).toBeInstanceOf(ValidationException);
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.message).toContain("'messages' must be a non-empty array");

    const raw = await fetch(`${h.url}/bedrock/model/${encodeURIComponent(HAIKU)}/converse`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: hello('x'), guardrailConfig: { guardrailIdentifier: 'g' } }) });
    expect(raw.status).toBe(400);
    expect(raw.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(await raw.json()).toEqual({ message: "'guardrailConfig' is not supported: guardrails are not applied by the gateway" });

    // Invalid UTF-8 is refused as on /v1, never passed on as U+FFFD.
    const badUtf8 = await fetch(`${h.url}/bedrock/model/${encodeURIComponent(HAIKU)}/converse`, { method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":[{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}]}')]) });
    expect(badUtf8.status).toBe(400);
    expect(badUtf8.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(((await badUtf8.json()) as { message: string }).message).toContain('not valid UTF-8');
  });

  it('answers another Bedrock Runtime operation with a ResourceNotFoundException naming what is served', async () => {
    nextId();
    // InvokeModel is served (bedrock-invoke.test.ts); ApplyGuardrail is not.
    const error = await rejection(client.send(new ApplyGuardrailCommand({ guardrailIdentifier: 'g1', guardrailVersion: '1', source: 'INPUT',
      content: [{ text: { text: 'x' } }] })));
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error.$metadata.httpStatusCode).toBe(404);
    expect(error.message).toContain('Converse and ConverseStream');
  });

  it('answers any unknown path or method under /bedrock with the x-amzn-errortype header', async () => {
    const unknown = await fetch(`${h.url}/bedrock/guardrail/g1/version/1/apply`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await unknown.json()).toEqual({ message: expect.stringContaining('Converse and ConverseStream') });
    const wrongMethod = await fetch(`${h.url}/bedrock/model/${encodeURIComponent(HAIKU)}/converse`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('x-amzn-errortype')).toBe('ValidationException');
  });

  it('a body over max_request_body_size_mb is a 413 with the x-amzn-errortype header', async () => {
    const response = await fetch(`${h.url}/bedrock/model/${encodeURIComponent(HAIKU)}/converse`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: hello('x'.repeat(1_200_000)) }) });
    expect(response.status).toBe(413);
    expect(response.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(await response.json()).toEqual({ message: expect.stringContaining('max_request_body_size_mb') });
  });

  it('fails a stream that fails before its first event as an HTTP error the SDK raises', async () => {
    nextId();
    const error = await rejection(client.send(new ConverseStreamCommand({ modelId: `${HAIKU}-exception-throttlingException`,
      messages: hello('hi') })));
    expect(error).toBeInstanceOf(ThrottlingException);
    expect(error.$metadata.httpStatusCode).toBe(429);
  });

  it.each([
    [`${HAIKU}-exception-internalServerException-after-3`, 'the bedrock provider'],
    ['openai/gpt-4o-mini-break-after-3', 'the openai provider'],
  ])('ends a stream %s breaks part-way (%s) with an exception event the SDK raises', async (modelId) => {
    nextId();
    const answer = await client.send(new ConverseStreamCommand({ modelId, messages: hello('tell me more') }));
    const { events, error } = await readStream(answer.stream);
    expect(streamedText(events)).not.toBe('');
    expect(events.some((e) => e.messageStop)).toBe(false);
    expect(error).toBeInstanceOf(ModelStreamErrorException);
    expect((error as Error).message).not.toBe('');
  });
});
