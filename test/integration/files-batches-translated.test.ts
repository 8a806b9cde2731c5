// OpenAI's Batch API for Anthropic and Gemini through the real gateway, with the `openai` SDK as the client
// (files.create, batches.create, retrieve, list, cancel, files.content) and the fake Anthropic Message Batches and
// Gemini batches behind it: the batch file is held by the gateway, its lines go to the provider's batch API as its
// own requests, and the batch and its output come back in OpenAI's shapes, each call with the key that made the batch.

import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../dist/src/gateway.js';
import { startFakeFiles, type FakeFiles } from '../fakes/files-server.js';
import { apiError, expectEnvelope, startGatewayFromRaw } from './harness.js';

const KEYS = ['ant-one', 'ant-two'];
let gateway: Gateway;
let url: string;
let fake: FakeFiles;
let gemini: FakeFiles;

beforeAll(async () => {
  fake = await startFakeFiles('anthropic');
  gemini = await startFakeFiles('gemini');
  ({ gateway, url } = await startGatewayFromRaw({ providers: { anthropic: { keys: KEYS.map((value, i) => ({ name: `k${i}`, value, models: ['*'], weight: 1 })),
      network_config: { base_url: fake.url, default_request_timeout_in_seconds: 30 } },
    gemini: { keys: [{ name: 'g', value: 'goog-key', models: ['*'], weight: 1 }], network_config: { base_url: gemini.url, default_request_timeout_in_seconds: 30 } } } }));
});

afterAll(async () => {
  await gateway?.close(500);
  await fake?.close();
  await gemini?.close();
});

const client = () => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client-key', maxRetries: 0 });
const line = (id: string, model: string, text: string, extra: Record<string, unknown> = {}) => JSON.stringify({ custom_id: id, method: 'POST',
  url: '/v1/chat/completions', body: { model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: text }], ...extra } });
const upload = async (text: string, purpose: 'batch' | 'user_data' = 'batch', provider = 'anthropic') => client().files.create({
  file: await toFile(Buffer.from(text), 'batch.jsonl'), purpose,
  // @ts-expect-error Bifrost's extra field, which the SDK sends as a form part.
  provider });

describe('OpenAI batches on Anthropic\'s Message Batches (the openai SDK)', () => {
  it('runs an OpenAI batch file on Anthropic and reads its output in OpenAI\'s shape', async () => {
    const text = [line('a', 'anthropic/claude-3-5-haiku-latest', 'first', { max_tokens: 50, temperature: 0.2 }),
      line('b', 'claude-3-5-haiku-latest', 'second'), line('c', 'claude-unknown', 'third')].join('\n');
    const input = await upload(text);
    expect(input).toMatchObject({ object: 'file', purpose: 'batch', status: 'processed', bytes: text.length });
    expect(fake.requests).toHaveLength(0);
    expect(await (await client().files.content(input.id)).text()).toBe(text);

    const batch = await client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch).toMatchObject({ object: 'batch', endpoint: '/v1/chat/completions', input_file_id: input.id, status: 'completed',
      request_counts: { total: 3, completed: 2, failed: 1 } });
    expect(batch.id).toMatch(/^msgbatch_/);
    const sent = fake.requests.at(-1)!;
    expect([sent.method, sent.url]).toEqual(['POST', '/v1/messages/batches']);

    const retrieved = await client().batches.retrieve(batch.id);
    expect(retrieved).toMatchObject({ id: batch.id, status: 'completed', input_file_id: input.id });
    const output = (await (await client().files.content(retrieved.output_file_id!)).text()).trim().split('\n')
      .map((row) => JSON.parse(row) as { custom_id: string; response: { status_code: number; body: { object: string; model: string;
        choices: { message: { content: string } }[] } } | null; error: { code: string } | null });
    expect(output.map((row) => row.custom_id)).toEqual(['a', 'b', 'c']);
    expect(output[0].response).toMatchObject({ status_code: 200, body: { object: 'chat.completion', model: 'claude-3-5-haiku-latest',
      choices: [{ message: { content: 'batched: first' } }] } });
    expect(output[2]).toMatchObject({ response: null, error: { code: 'not_found_error' } });
    const results = await fetch(`${url}/v1/batches/${batch.id}/results`);
    expect((await results.text()).trim().split('\n')).toHaveLength(3);

    // Every call about the batch went with the key that made it.
    const owner = fake.ownerOf(batch.id);
    for (const request of fake.requests.filter((r) => r.url.includes(batch.id))) expect(request.account).toBe(owner);
    expect((await client().batches.cancel(batch.id)).status).toBe('cancelling');
    // A list goes with the provider's first key, in OpenAI's shape.
    const listed = await client().batches.list({}, { headers: { 'x-model-provider': 'anthropic' } });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', url: '/v1/messages/batches', account: KEYS[0] });
    expect(listed.data.map((item) => item.id).includes(batch.id)).toBe(owner === KEYS[0]);
    expect(listed.data.every((item) => item.object === 'batch' && fake.ownerOf(item.id) === KEYS[0])).toBe(true);
    expect(await client().files.delete(input.id)).toMatchObject({ id: input.id, deleted: true });
    expect((await apiError(client().files.retrieve(input.id))).status).toBe(404);
  });

  it('sends each line as Anthropic\'s Messages request: system apart, max_tokens set, the model bare', async () => {
    const input = await upload(line('only', 'anthropic/claude-3-5-haiku-latest', 'hello', { max_tokens: 20, stop: ['END'] }));
    const batch = await client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const output = await (await client().files.content(batch.output_file_id!)).text();
    expect(JSON.parse(output.trim())).toMatchObject({ custom_id: 'only', response: { body: { choices: [{ message: { content: 'batched: hello' } }] } } });
  });

  it('refuses what Anthropic keeps no OpenAI counterpart for, and a file that is no OpenAI batch file', async () => {
    const other = await apiError(upload('notes', 'user_data'));
    expect(other.status).toBe(400);
    expect(expectEnvelope({ error: other.error }, 'invalid_request').message).toMatch(/purpose 'batch'/);
    const badLine = await apiError(upload(JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: 'x' } })));
    expect(expectEnvelope({ error: badLine.error }, 'invalid_request').message).toMatch(/only POST \/v1\/chat\/completions/);
    const twice = await apiError(upload([line('same', 'claude-3-5-haiku-latest', 'x'), line('same', 'claude-3-5-haiku-latest', 'y')].join('\n')));
    expect(expectEnvelope({ error: twice.error }, 'invalid_request').message).toMatch(/repeats custom_id 'same'/);
    const listing = await apiError(client().files.list({}, { headers: { 'x-model-provider': 'anthropic' } }));
    expect(expectEnvelope({ error: listing.error }, 'invalid_request').message).toMatch(/keeps no OpenAI files/);
    const elsewhere = await apiError(client().batches.create({ input_file_id: 'file-made-elsewhere', endpoint: '/v1/chat/completions',
      completion_window: '24h' }, { headers: { 'x-model-provider': 'anthropic' } }));
    expect(expectEnvelope({ error: elsewhere.error }, 'invalid_request').message).toMatch(/upload the batch's input file through this gateway/);
  });
});

describe('OpenAI batches on Gemini\'s batches (the openai SDK)', () => {
  it('runs an OpenAI batch file as a Gemini batch of inline requests and reads its output in OpenAI\'s shape', async () => {
    const text = [line('x', 'gemini/gemini-2.0-flash', 'first', { max_tokens: 30 }), line('y', 'gemini-2.0-flash', 'second')].join('\n');
    const input = await upload(text, 'batch', 'gemini');
    const batch = await client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', input_file_id: input.id, request_counts: { total: 2 } });
    const created = gemini.requests.at(-1)!;
    expect([created.method, created.url]).toEqual(['POST', '/v1beta/models/gemini-2.0-flash:batchGenerateContent']);

    const done = await client().batches.retrieve(batch.id);
    expect(done).toMatchObject({ id: batch.id, status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 }, input_file_id: input.id });
    const output = (await (await client().files.content(done.output_file_id!)).text()).trim().split('\n')
      .map((row) => JSON.parse(row) as { custom_id: string; response: { body: { object: string; choices: { message: { content: string } }[];
        usage: { prompt_tokens: number } } } });
    expect(output.map((row) => [row.custom_id, row.response.body.object, row.response.body.choices[0].message.content])).toEqual([
      ['x', 'chat.completion', 'batched: first'], ['y', 'chat.completion', 'batched: second']]);
    expect(output[0].response.body.usage.prompt_tokens).toBe(3);
    expect((await client().batches.cancel(batch.id)).status).toBe('cancelling');
    expect(gemini.requests.at(-1)!.url).toBe(`/v1beta/batches/${batch.id}:cancel`);
  });

  it('refuses a file whose lines name several models, which one Gemini batch cannot run', async () => {
    const input = await upload([line('a', 'gemini-2.0-flash', 'x'), line('b', 'gemini-2.5-pro', 'y')].join('\n'), 'batch', 'gemini');
    const before = gemini.requests.length;
    const refused = await apiError(client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.error)).toMatch(/a Gemini batch runs one model/);
    expect(gemini.requests.length).toBe(before);
  });
});
