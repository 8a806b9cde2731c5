// The fake is only worth something if the official SDK takes its answers for Bedrock's: point
// @aws-sdk/client-bedrock-runtime straight at it (no gateway) for Converse, ConverseStream, tool use, InvokeModel
// and errors. The SDK also signs every request itself, so the fake's SigV4 check is proved against the real signer.

import {
  AccessDeniedException,
  BedrockRuntimeClient,
  BedrockRuntimeServiceException,
  ConverseCommand,
  ConverseStreamCommand,
  InternalServerException,
  InvokeModelCommand,
  ThrottlingException,
  ValidationException,
  type ConverseStreamOutput,
  type Message,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SignableRequest } from '../../workers/upstream/auth.js';
import { signAwsRequest } from '../../workers/upstream/auth/aws-sigv4.js';
import { AwsEventStreamDecoder } from '../../workers/upstream/aws-eventstream.js';
import { startFakeBedrock, type FakeBedrock } from './bedrock-server.js';

const CREDENTIALS = { accessKeyId: 'AKIDFAKEBEDROCK', secretAccessKey: 'fake/secret+key', sessionToken: 'fake-session-token' };
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

let fake: FakeBedrock;
let client: BedrockRuntimeClient;

function sdk(options: Partial<ConstructorParameters<typeof BedrockRuntimeClient>[0]> = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    endpoint: fake.url,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
    // The SDK's default handler speaks HTTP/2 to Bedrock; the fake is an HTTP/1.1 server.
    requestHandler: new NodeHttpHandler(),
    ...options,
  });
}

beforeAll(async () => {
  fake = await startFakeBedrock({ credentials: [CREDENTIALS], apiKeys: ['bedrock-api-key-fake'] });
  client = sdk();
});

afterAll(async () => {
  client?.destroy();
  await fake.close();
});

beforeEach(() => fake.reset());

const hello: Message[] = [{ role: 'user', content: [{ text: 'hello fake' }] }];

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<ConverseStreamOutput[]> {
  const events: ConverseStreamOutput[] = [];
  for await (const event of stream!) events.push(event);
  return events;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a failure'); }, (error: unknown) => error);
}

describe('fake Bedrock, read by the official AWS SDK', () => {
  it('answers Converse with the SDK-parsed message, stop reason and usage; the SDK\'s signature verifies', async () => {
    const answer = await client.send(new ConverseCommand({ modelId: MODEL, messages: hello,
      system: [{ text: 'be brief' }], inferenceConfig: { maxTokens: 100, temperature: 0.2 } }));
    expect(answer.$metadata.httpStatusCode).toBe(200);
    expect(answer.output?.message?.role).toBe('assistant');
    expect(answer.output?.message?.content?.[0].text).toContain('hello fake');
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.usage!.totalTokens).toBe(answer.usage!.inputTokens! + answer.usage!.outputTokens!);
    const request = fake.requests[0];
    expect(request.path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(request.modelId).toBe(MODEL);
    expect(request.auth).toMatchObject({ scheme: 'sigv4', accessKeyId: CREDENTIALS.accessKeyId, region: 'us-east-1',
      service: 'bedrock', verified: true, problem: null });
    expect(request.auth.signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token']));
  });

  it('cuts at maxTokens and at a stop sequence with Bedrock\'s stop reasons', async () => {
    const cut = await client.send(new ConverseCommand({ modelId: MODEL, messages: hello, inferenceConfig: { maxTokens: 2 } }));
    expect(cut.stopReason).toBe('max_tokens');
    expect(cut.output?.message?.content?.[0].text).toBe('The quick');
    const stopped = await client.send(new ConverseCommand({ modelId: MODEL, messages: hello, inferenceConfig: { stopSequences: ['fox'] } }));
    expect(stopped.stopReason).toBe('stop_sequence');
    expect(stopped.output?.message?.content?.[0].text).toBe('The quick brown ');
  });

  it('calls the offered tool in a Converse answer, and takes the tool result back', async () => {
    const toolConfig = { tools: [{ toolSpec: { name: 'lookup', inputSchema: { json: { type: 'object' } } } }], toolChoice: { any: {} } };
    const answer = await client.send(new ConverseCommand({ modelId: `${MODEL}-tools`, messages: hello, toolConfig }));
    expect(answer.stopReason).toBe('tool_use');
    const use = answer.output?.message?.content?.[0].toolUse;
    expect(use).toMatchObject({ name: 'lookup', input: { location: 'Paris', unit: 'celsius' } });
    expect(use!.toolUseId).toMatch(/^tooluse_/);
    const followUp = await client.send(new ConverseCommand({ modelId: MODEL, toolConfig, messages: [
      ...hello, answer.output!.message!, { role: 'user', content: [{ toolResult: { toolUseId: use!.toolUseId, content: [{ text: '21C' }] } }] },
    ] }));
    expect(followUp.stopReason).toBe('end_turn');
  });

  it('streams ConverseStream events the SDK decodes, ending with messageStop and metadata', async () => {
    const answer = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: hello }));
    const events = await collect(answer.stream);
    expect(Object.keys(events[0])).toEqual(['messageStart']);
    expect(events[0].messageStart?.role).toBe('assistant');
    const text = events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');
    expect(text).toBe(fake.requests[0].content);
    expect(text).toContain('hello fake');
    expect(events.at(-2)?.messageStop?.stopReason).toBe('end_turn');
    expect(events.at(-1)?.metadata?.usage?.outputTokens).toBeGreaterThan(0);
    expect(fake.requests[0].auth.verified).toBe(true);
    expect(fake.requests[0].path).toMatch(/\/converse-stream$/);
  });

  it('streams a tool call as contentBlockStart then input fragments that join into the JSON input', async () => {
    const toolConfig = { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } }] };
    const events = await collect((await client.send(new ConverseStreamCommand({ modelId: `${MODEL}-tools`, messages: hello, toolConfig }))).stream);
    const start = events.find((e) => e.contentBlockStart)!.contentBlockStart!;
    expect(start.start?.toolUse?.name).toBe('get_weather');
    const input = events.map((e) => e.contentBlockDelta?.delta?.toolUse?.input ?? '').join('');
    expect(JSON.parse(input)).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe('tool_use');
  });

  it('frames its stream so that the gateway\'s decoder reads, at every split, the events the SDK reads', async () => {
    const unsigned = await fetch(`${fake.url}/model/m/converse-stream`, { method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'x' }] }] }) });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toMatch(/^MissingAuthenticationTokenException:/);

    const viaSdk = await collect((await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: hello }))).stream);
    // The same request signed by the gateway's signer, read raw.
    const request: SignableRequest = { method: 'POST', url: `${fake.url}/model/${encodeURIComponent(MODEL)}/converse-stream`,
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: hello }) };
    await signAwsRequest(request, CREDENTIALS, { region: 'us-east-1', service: 'bedrock' });
    const { host: _host, ...headers } = request.headers;
    const raw = new Uint8Array(await (await fetch(request.url, { method: 'POST', headers, body: request.body })).arrayBuffer());
    expect(fake.requests.at(-1)!.auth.verified).toBe(true);
    const types = viaSdk.map((event) => Object.keys(event)[0]);
    for (let cut = 1; cut < raw.byteLength; cut += 7) {
      const decoder = new AwsEventStreamDecoder();
      const events = [...decoder.push(raw.subarray(0, cut)), ...decoder.push(raw.subarray(cut))];
      expect(events.map((event) => event.event)).toEqual(types);
      expect(decoder.hasPartialEvent).toBe(false);
    }
  });

  it('sends an exception inside the stream that the SDK raises as its own exception class', async () => {
    const answer = await client.send(new ConverseStreamCommand({ modelId: `${MODEL}-exception-throttlingException`, messages: hello }));
    const seen: ConverseStreamOutput[] = [];
    const error = await rejection((async () => {
      for await (const event of answer.stream!) seen.push(event);
    })());
    expect(error).toBeInstanceOf(ThrottlingException);
    expect((error as Error).message).toBe('throttlingException raised by the fake');
    expect(seen.map((e) => Object.keys(e)[0])).toEqual(['messageStart']);
  });

  it('answers InvokeModel for Titan text embeddings (V2 with dimensions, G1 without)', async () => {
    const v2 = await client.send(new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json',
      accept: 'application/json', body: JSON.stringify({ inputText: 'embed me', dimensions: 256 }) }));
    const parsed = JSON.parse(new TextDecoder().decode(v2.body)) as { embedding: number[]; inputTextTokenCount: number };
    expect(parsed.embedding).toHaveLength(256);
    expect(parsed.inputTextTokenCount).toBeGreaterThan(0);
    const g1 = await rejection(client.send(new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v1', body: JSON.stringify({ inputText: 'x', dimensions: 256 }) })));
    expect(g1).toBeInstanceOf(ValidationException);
    expect((g1 as Error).message).toContain('extraneous key [dimensions]');
  });

  it('fails with Bedrock\'s exceptions by status, each read by the SDK as its class', async () => {
    const cases: [number, unknown, string][] = [
      [400, ValidationException, 'ValidationException'],
      [403, AccessDeniedException, 'AccessDeniedException'],
      [429, ThrottlingException, 'ThrottlingException'],
      [500, InternalServerException, 'InternalServerException'],
      [401, BedrockRuntimeServiceException, 'UnrecognizedClientException'],
    ];
    for (const [status, kind, name] of cases) {
      const error = await rejection(client.send(new ConverseCommand({ modelId: `${MODEL}-error-${status}`, messages: hello })));
      expect(error, String(status)).toBeInstanceOf(kind as typeof BedrockRuntimeServiceException);
      expect((error as BedrockRuntimeServiceException).name).toBe(name);
      expect((error as BedrockRuntimeServiceException).$metadata.httpStatusCode).toBe(status);
      expect((error as Error).message.length).toBeGreaterThan(0);
    }
    expect(fake.requests.find((r) => r.status === 429)!.responseBody).toBe('{"message":"Too many requests, please wait before trying again."}');
  });

  it('refuses what Bedrock refuses: a conversation that does not alternate, a wrong secret, an unknown key', async () => {
    const twice = await rejection(client.send(new ConverseCommand({ modelId: MODEL, messages: [...hello, ...hello] })));
    expect(twice).toBeInstanceOf(ValidationException);
    expect((twice as Error).message).toContain('must alternate between user and assistant');

    const wrongSecret = sdk({ credentials: { ...CREDENTIALS, secretAccessKey: 'not-the-secret' } });
    const forged = await rejection(wrongSecret.send(new ConverseCommand({ modelId: MODEL, messages: hello })));
    expect((forged as BedrockRuntimeServiceException).name).toBe('InvalidSignatureException');
    expect((forged as BedrockRuntimeServiceException).$metadata.httpStatusCode).toBe(403);
    expect(fake.requests.at(-1)!.auth.verified).toBe(false);
    wrongSecret.destroy();

    const stranger = sdk({ credentials: { accessKeyId: 'AKIDSTRANGER', secretAccessKey: 's' } });
    const unknown = await rejection(stranger.send(new ConverseCommand({ modelId: MODEL, messages: hello })));
    expect((unknown as BedrockRuntimeServiceException).name).toBe('UnrecognizedClientException');
    stranger.destroy();
  });

  it('takes a Bedrock API key as a bearer token, as the SDK sends it', async () => {
    const keyed = sdk({ token: { token: 'bedrock-api-key-fake' }, authSchemePreference: ['httpBearerAuth'] });
    const answer = await keyed.send(new ConverseCommand({ modelId: MODEL, messages: hello }));
    expect(answer.stopReason).toBe('end_turn');
    expect(fake.requests.at(-1)!.auth.scheme).toBe('bearer');
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer bedrock-api-key-fake');
    keyed.destroy();
  });

  it('truncates a stream mid-frame, which the SDK notices', async () => {
    const answer = await client.send(new ConverseStreamCommand({ modelId: `${MODEL}-truncate-2`, messages: hello }));
    const seen: ConverseStreamOutput[] = [];
    const error = await rejection((async () => {
      for await (const event of answer.stream!) seen.push(event);
    })());
    expect(error).toBeInstanceOf(Error);
    expect(seen).toHaveLength(2);
  });
});
