// InvokeModel and InvokeModelWithResponseStream through the real, built gateway with `@aws-sdk/client-bedrock-runtime`
// (its `endpoint` at `/bedrock`): Anthropic Messages bodies to the bedrock provider (the Bedrock fake, reached through
// Converse) and to the mock across providers, streamed as `chunk` frames; Titan embeddings bodies; and a body of a
// family the gateway does not translate refused as the SDK's ValidationException.

import { BedrockRuntimeClient, InvokeModelCommand, InvokeModelWithResponseStreamCommand, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeBedrock, type FakeBedrock } from '../../fakes/bedrock-server.js';
import { startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

const CREDENTIALS = { accessKeyId: 'AKIDGATEWAYTEST', secretAccessKey: 'gateway/test+secret' };
const REGION = 'eu-west-3';
const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
let h: Harness<FakeBedrock>;
let client: BedrockRuntimeClient;

beforeAll(async () => {
  h = await startGatewayWith(await startFakeBedrock({ credentials: [CREDENTIALS], region: REGION }), (fakeUrl) => ({ providers: {
    bedrock: { keys: [{ models: ['*'], bedrock_key_config: { access_key: CREDENTIALS.accessKeyId, secret_key: CREDENTIALS.secretAccessKey,
      region: REGION } }], network_config: { base_url: fakeUrl } },
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }));
  client = new BedrockRuntimeClient({ endpoint: `${h.url}/bedrock`, region: 'us-east-1', maxAttempts: 1, requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client-secret' } });
});

afterAll(async () => {
  client?.destroy();
  await h?.close();
});

beforeEach(() => h.fake.reset());

const anthropicBody = (text: string) => JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, system: 'be brief',
  messages: [{ role: 'user', content: [{ type: 'text', text }] }] });
const json = (bytes: Uint8Array | undefined) => JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;

describe('InvokeModel', () => {
  it('answers an Anthropic body as Anthropic\'s Message, the bedrock provider reached through Converse', async () => {
    const answer = await client.send(new InvokeModelCommand({ modelId: HAIKU, contentType: 'application/json', body: anthropicBody('hello') }));
    const sent = h.fake.requests.at(-1)!;
    expect(sent.operation).toBe('converse');
    expect(sent.modelId).toBe(HAIKU);
    expect(sent.body).toMatchObject({ system: [{ text: 'be brief' }], inferenceConfig: { maxTokens: 64 } });
    const message = json(answer.body);
    expect(message).toMatchObject({ type: 'message', role: 'assistant', model: HAIKU, stop_reason: 'end_turn' });
    expect((message.content as { type: string }[])[0].type).toBe('text');
    expect((message.usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
  });

  it('answers a Titan embeddings body as Titan\'s', async () => {
    const answer = await client.send(new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', body: JSON.stringify({ inputText: 'embed me', dimensions: 256 }) }));
    expect(h.fake.requests.at(-1)!.operation).toBe('invoke');
    const embedding = json(answer.body);
    expect(embedding.embedding).toHaveLength(256);
    expect(embedding.inputTextTokenCount).toBeGreaterThan(0);
  });

  it('names what the translation leaves out in x-heimdall-dropped-params', async () => {
    const response = await fetch(`${h.url}/bedrock/model/mock%2Fecho/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', anthropic_beta: ['x'], max_tokens: 20, messages: [{ role: 'user', content: [
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'a fact' }, title: 'Facts', citations: { enabled: true } },
        { type: 'text', text: 'cite it' }] }] }) });
    expect(response.status).toBe(200);
    const dropped = response.headers.get('x-heimdall-dropped-params') ?? '';
    expect(dropped).toContain('anthropic_beta');
    expect(dropped).toMatch(/citations/);
  });

  it('refuses a body of another family, naming what it takes', async () => {
    const refused = await rejectionOf(client.send(new InvokeModelCommand({ modelId: 'meta.llama3-8b-instruct-v1:0',
      body: JSON.stringify({ prompt: 'hi', max_gen_len: 10 }) })), ValidationException);
    expect(refused.message).toMatch(/Anthropic Messages bodies .* Titan embeddings bodies/);
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe('InvokeModelWithResponseStream', () => {
  it('streams Anthropic\'s events in chunk frames, across providers', async () => {
    const answer = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: 'mock/echo', body: anthropicBody('stream this') }));
    const events: Record<string, unknown>[] = [];
    for await (const part of answer.body!) if (part.chunk) events.push(json(part.chunk.bytes));
    expect(events[0].type).toBe('message_start');
    expect(events.at(-1)!.type).toBe('message_stop');
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => (e.delta as { text: string }).text).join('');
    expect(text).toBe('Echo: stream this');
  });

  it('streams from the bedrock provider too', async () => {
    const answer = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: HAIKU, body: anthropicBody('hi') }));
    const types: unknown[] = [];
    for await (const part of answer.body!) if (part.chunk) types.push(json(part.chunk.bytes).type);
    expect(h.fake.requests.at(-1)!.operation).toBe('converse-stream');
    expect(types).toContain('content_block_delta');
    expect(types.at(-1)).toBe('message_stop');
  });
});
