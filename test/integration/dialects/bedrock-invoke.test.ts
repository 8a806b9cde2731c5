// InvokeModel and InvokeModelWithResponseStream through the real, built gateway with `@aws-sdk/client-bedrock-runtime`
// (its `endpoint` at `/bedrock`): each model family's own body (Anthropic, Llama, Mistral, DeepSeek, Cohere Command R,
// Nova, Titan Text, Jamba) sent as it came to the bedrock provider (the Bedrock fake) and translated for the mock
// across providers (aliases named after Bedrock ids), answered and streamed in the family's shape as `chunk` frames;
// Titan embeddings bodies; a body of no family, and one no translation carries, refused as the SDK's ValidationException.

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
  }, model_aliases: { ...Object.fromEntries(Object.values(FAMILIES).map(({ alias }) => [alias, 'mock/echo'])), 'cohere.embed-multilingual-v3': 'mock/embed' } }));
  client = new BedrockRuntimeClient({ endpoint: `${h.url}/bedrock`, region: 'us-east-1', maxAttempts: 1, requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client-secret' } });
});

afterAll(async () => {
  client?.destroy();
  await h?.close();
});

beforeEach(() => h.fake.reset());

type Answer = Record<string, unknown>;
const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | null | undefined)?.[key], value);

/**
 * Each family: its Bedrock model id, an alias of that id routed to the mock, a body as its docs show it, where its
 * answer's text is, the answer's shape, and where a stream event's text piece is.
 */
const FAMILIES: Record<string, { model: string; alias: string; body: Answer; text: (answer: Answer) => unknown; shape: Answer;
  delta: (event: Answer) => unknown }> = {
  llama: { model: 'meta.llama3-8b-instruct-v1:0', alias: 'meta.llama3-70b-instruct-v1:0',
    body: { prompt: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nsay hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
      max_gen_len: 64, temperature: 0.5 },
    text: (a) => a.generation, shape: { stop_reason: 'stop', prompt_token_count: expect.any(Number) }, delta: (e) => e.generation },
  mistral: { model: 'mistral.mistral-7b-instruct-v0:2', alias: 'mistral.mixtral-8x7b-instruct-v0:1',
    body: { prompt: '<s>[INST] say hi [/INST]', max_tokens: 64, top_k: 50 },
    text: (a) => at(a, 'outputs', 0, 'text'), shape: { outputs: [{ stop_reason: 'stop' }] }, delta: (e) => at(e, 'outputs', 0, 'text') },
  deepseek: { model: 'us.deepseek.r1-v1:0', alias: 'deepseek.r1-v1:0',
    body: { prompt: '<｜begin▁of▁sentence｜><｜User｜>say hi<｜Assistant｜><think>\n', max_tokens: 64 },
    text: (a) => at(a, 'choices', 0, 'text'), shape: { choices: [{ stop_reason: 'stop' }] }, delta: (e) => at(e, 'choices', 0, 'text') },
  cohere: { model: 'cohere.command-r-v1:0', alias: 'cohere.command-r-plus-v1:0',
    body: { message: 'say hi', chat_history: [{ role: 'USER', message: 'hello' }, { role: 'CHATBOT', message: 'hi there' }], preamble: 'be brief', max_tokens: 64, p: 0.9 },
    text: (a) => a.text, shape: { finish_reason: 'COMPLETE', chat_history: expect.arrayContaining([{ role: 'USER', message: 'say hi' }]) },
    delta: (e) => (e.event_type === 'text-generation' ? e.text : null) },
  nova: { model: 'amazon.nova-lite-v1:0', alias: 'us.amazon.nova-pro-v1:0',
    body: { schemaVersion: 'messages-v1', system: [{ text: 'be brief' }], messages: [{ role: 'user', content: [{ text: 'say hi' }] }],
      inferenceConfig: { max_new_tokens: 64, top_k: 20 } },
    text: (a) => at(a, 'output', 'message', 'content', 0, 'text'), shape: { stopReason: 'end_turn', usage: { inputTokens: expect.any(Number) } },
    delta: (e) => at(e, 'contentBlockDelta', 'delta', 'text') },
  titanText: { model: 'amazon.titan-text-express-v1', alias: 'amazon.titan-text-premier-v1:0',
    body: { inputText: 'say hi', textGenerationConfig: { maxTokenCount: 64, temperature: 0.2, stopSequences: ['User:'] } },
    text: (a) => at(a, 'results', 0, 'outputText'), shape: { inputTextTokenCount: expect.any(Number), results: [{ completionReason: 'FINISH' }] },
    delta: (e) => e.outputText },
  jamba: { model: 'ai21.jamba-1-5-mini-v1:0', alias: 'ai21.jamba-1-5-large-v1:0',
    body: { messages: [{ role: 'user', content: 'say hi' }], max_tokens: 64 },
    text: (a) => at(a, 'choices', 0, 'message', 'content'), shape: { choices: [{ finish_reason: 'stop' }], usage: { prompt_tokens: expect.any(Number) } },
    delta: (e) => at(e, 'choices', 0, 'delta', 'content') },
};

const anthropicBody = (text: string) => JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, system: 'be brief',
  messages: [{ role: 'user', content: [{ type: 'text', text }] }] });
const json = (bytes: Uint8Array | undefined) => JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;

describe('InvokeModel', () => {
  it('sends an Anthropic body to the bedrock provider as it came, and its Message back', async () => {
    const answer = await client.send(new InvokeModelCommand({ modelId: HAIKU, contentType: 'application/json', body: anthropicBody('hello') }));
    const sent = h.fake.requests.at(-1)!;
    expect(sent.operation).toBe('invoke');
    expect(sent.modelId).toBe(HAIKU);
    expect(sent.body).toEqual(JSON.parse(anthropicBody('hello')));
    const message = json(answer.body);
    expect(message).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' });
    expect((message.usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
  });

  it('answers a Titan embeddings body as Titan\'s', async () => {
    const answer = await client.send(new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', body: JSON.stringify({ inputText: 'embed me', dimensions: 256 }) }));
    expect(h.fake.requests.at(-1)!.operation).toBe('invoke');
    const embedding = json(answer.body);
    expect(embedding.embedding).toHaveLength(256);
    expect(embedding.inputTextTokenCount).toBeGreaterThan(0);
  });

  it('answers a Cohere Embed body as Cohere\'s, from Bedrock and across providers', async () => {
    const body = JSON.stringify({ texts: ['first text', 'second text'], input_type: 'search_query', embedding_types: ['float'] });
    const native = json((await client.send(new InvokeModelCommand({ modelId: 'cohere.embed-english-v3', body }))).body);
    expect(h.fake.requests.at(-1)!.body).toMatchObject({ texts: ['first text', 'second text'], input_type: 'search_query' });
    expect(native).toMatchObject({ response_type: 'embeddings_by_type', texts: ['first text', 'second text'] });
    expect((native.embeddings as { float: number[][] }).float).toHaveLength(2);
    const across = json((await client.send(new InvokeModelCommand({ modelId: 'cohere.embed-multilingual-v3',
      body: JSON.stringify({ texts: ['one'], input_type: 'search_document' }) }))).body);
    expect(across).toMatchObject({ response_type: 'embeddings_floats', texts: ['one'] });
    expect((across.embeddings as number[][])[0].length).toBeGreaterThan(0);
    const refused = await rejectionOf(client.send(new InvokeModelCommand({ modelId: 'cohere.embed-english-v3',
      body: JSON.stringify({ texts: ['x'], input_type: 'search_query', embedding_types: ['int8'] }) })), ValidationException);
    expect(refused.message).toMatch(/embedding_types/);
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

  it('refuses a body of no family it knows, naming the families', async () => {
    const refused = await rejectionOf(client.send(new InvokeModelCommand({ modelId: 'mock/echo', body: JSON.stringify({ prompt: 'hi' }) })),
      ValidationException);
    expect(refused.message).toMatch(/Anthropic Messages .*Meta Llama.*name the model by its Bedrock id/);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('refuses for another provider what only Bedrock can take, and sends it to Bedrock', async () => {
    const body = JSON.stringify({ message: 'which?', documents: [{ title: 'a', snippet: 'b' }] });
    const refused = await rejectionOf(client.send(new InvokeModelCommand({ modelId: FAMILIES.cohere.alias, body })), ValidationException);
    expect(refused.message).toMatch(/Cohere Command R's 'documents' cannot be translated/);
    await client.send(new InvokeModelCommand({ modelId: FAMILIES.cohere.model, body }));
    expect(h.fake.requests.at(-1)!.body).toEqual(JSON.parse(body));
  });
});

describe('Bedrock\'s own answers to a body sent as it came', () => {
  it('passes Bedrock\'s validation error on as the SDK\'s ValidationException', async () => {
    const refused = await rejectionOf(client.send(new InvokeModelCommand({ modelId: FAMILIES.llama.model,
      body: JSON.stringify({ ...FAMILIES.llama.body, max_tokens: 5 }) })), ValidationException);
    expect(refused.message).toMatch(/extraneous key \[max_tokens\]/);
  });

  it('ends a stream that fails in the middle with the SDK\'s stream exception', async () => {
    h.fake.script(FAMILIES.mistral.model, { exception: { type: 'throttlingException', afterEvents: 2 } });
    const answer = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: FAMILIES.mistral.model, body: JSON.stringify(FAMILIES.mistral.body) }));
    const texts: unknown[] = [];
    const reading = (async () => {
      for await (const part of answer.body!) if (part.chunk) texts.push(FAMILIES.mistral.delta(json(part.chunk.bytes)));
    })();
    await expect(reading).rejects.toMatchObject({ name: 'ModelStreamErrorException', message: expect.stringMatching(/throttlingException/) });
    expect(texts).toHaveLength(2);
  });
});

describe.each(Object.entries(FAMILIES))('the %s family', (_name, family) => {
  it('goes to the bedrock provider as it came, its answer back as Bedrock wrote it', async () => {
    const answer = json((await client.send(new InvokeModelCommand({ modelId: family.model, body: JSON.stringify(family.body) }))).body);
    const sent = h.fake.requests.at(-1)!;
    expect([sent.operation, sent.modelId, sent.body]).toEqual(['invoke', family.model, family.body]);
    expect(family.text(answer)).toBe(h.fake.requests.at(-1)!.content);
  });

  it('is translated for another provider, answered in its own shape', async () => {
    const response = await fetch(`${h.url}/bedrock/model/${encodeURIComponent(family.alias)}/invoke`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(family.body) });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-heimdall-dropped-params')).toBeNull();
    const answer = await response.json() as Record<string, unknown>;
    expect(family.text(answer)).toBe('Echo: say hi');
    expect(answer).toMatchObject(family.shape);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('streams from the bedrock provider as Bedrock streamed it', async () => {
    const answer = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: family.model, body: JSON.stringify(family.body) }));
    const events: Record<string, unknown>[] = [];
    for await (const part of answer.body!) if (part.chunk) events.push(json(part.chunk.bytes));
    expect(h.fake.requests.at(-1)!.operation).toBe('invoke-with-response-stream');
    expect(events.map((event) => family.delta(event) ?? '').join('')).toBe(h.fake.requests.at(-1)!.content);
    expect(events.at(-1)!['amazon-bedrock-invocationMetrics']).toMatchObject({ inputTokenCount: expect.any(Number) });
  });

  it('streams a translation as the family\'s events, the last with the invocation metrics', async () => {
    const answer = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: family.alias, body: JSON.stringify(family.body) }));
    const events: Record<string, unknown>[] = [];
    for await (const part of answer.body!) if (part.chunk) events.push(json(part.chunk.bytes));
    expect(events.map((event) => family.delta(event) ?? '').join('')).toBe('Echo: say hi');
    const metrics = events.at(-1)!['amazon-bedrock-invocationMetrics'] as { inputTokenCount: number; outputTokenCount: number };
    expect(metrics.outputTokenCount).toBeGreaterThan(0);
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

  it('streams from the bedrock provider too, as it came', async () => {
    const answer = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: HAIKU, body: anthropicBody('hi') }));
    const types: unknown[] = [];
    for await (const part of answer.body!) if (part.chunk) types.push(json(part.chunk.bytes).type);
    expect(h.fake.requests.at(-1)!.operation).toBe('invoke-with-response-stream');
    expect(types).toContain('content_block_delta');
    expect(types.at(-1)).toBe('message_stop');
  });
});
