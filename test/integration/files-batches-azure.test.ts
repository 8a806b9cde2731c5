// Azure OpenAI's Batch API through the real gateway: the `openai` SDK's `AzureOpenAI` client (its calls carry
// api-version, and go to the azure provider on /openai) and the plain `OpenAI` client on /v1 naming the azure
// provider, with the fake Azure resource behind it. The fake refuses a batch whose lines do not name its deployments
// or whose endpoint keeps OpenAI's /v1, and keeps each key's files apart, as Azure does.

import OpenAI, { AzureOpenAI, toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../dist/src/gateway.js';
import { startFakeFiles, type FakeFiles } from '../fakes/files-server.js';
import { apiError, expectEnvelope, startGatewayFromRaw } from './harness.js';

const KEYS = ['az-one', 'az-two'];
const API_VERSION = '2025-03-01-preview';
let gateway: Gateway;
let url: string;
let fake: FakeFiles;

beforeAll(async () => {
  fake = await startFakeFiles('azure');
  ({ gateway, url } = await startGatewayFromRaw({ providers: { azure: { keys: KEYS.map((value, i) => ({ name: `k${i}`, value, models: ['*'], weight: 1,
      azure_key_config: { endpoint: fake.url, api_version: API_VERSION, deployments: { 'gpt-4o-mini': 'gpt-4o-mini-batch', 'gpt-4o': 'gpt-4o-batch' } } })),
    network_config: { default_request_timeout_in_seconds: 30 } } } }));
});

afterAll(async () => {
  await gateway?.close(500);
  await fake?.close();
});

const line = (n: number, url: string, model: string) => JSON.stringify({ custom_id: `r${n}`, method: 'POST', url,
  body: { model, messages: [{ role: 'user', content: `hi ${n}` }] } });

/** Every request the fake got about `id` came with the key that made it, with the key's api-version. */
function expectOwnerKey(id: string): void {
  const owner = fake.ownerOf(id);
  expect(KEYS).toContain(owner);
  for (const request of fake.requests.filter((r) => decodeURIComponent(r.url).includes(id))) {
    expect(request.account).toBe(owner);
    expect(new URL(request.url, 'http://x').searchParams.get('api-version')).toBe(API_VERSION);
  }
}

describe('Azure OpenAI batches with the AzureOpenAI client', () => {
  const azure = () => new AzureOpenAI({ endpoint: url, apiKey: 'client-key', apiVersion: '2024-10-21', maxRetries: 0 });

  it('uploads a batch file, runs it on the key that owns it, and reads its output', async () => {
    const client = azure();
    // Keys are picked at random by weight: upload until both have served (four tries missed one key in eight runs).
    const accounts = () => new Set(fake.requests.map((request) => request.account));
    for (let i = 0; i < 2 || (accounts().size < KEYS.length && i < 40); i++) {
      const lines = [1, 2].map((n) => line(n, '/chat/completions', 'gpt-4o-mini-batch'));
      const input = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'batch.jsonl'), purpose: 'batch' });
      expect(input).toMatchObject({ object: 'file', purpose: 'batch', status: 'processed' });
      // @ts-expect-error Azure's api-version routes name the endpoint without /v1.
      const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/chat/completions', completion_window: '24h' });
      expect(batch).toMatchObject({ object: 'batch', status: 'completed', request_counts: { total: 2 } });
      expect(fake.ownerOf(batch.id)).toBe(fake.ownerOf(input.id));
      const retrieved = await client.batches.retrieve(batch.id);
      const output = await (await client.files.content(retrieved.output_file_id!)).text();
      expect(output.trim().split('\n').map((text) => (JSON.parse(text) as { custom_id: string }).custom_id)).toEqual(['r1', 'r2']);
      expect((await client.batches.cancel(batch.id)).status).toBe('cancelling');
      for (const id of [input.id, batch.id, retrieved.output_file_id!]) expectOwnerKey(id);
    }
    expect(accounts()).toEqual(new Set(KEYS));
    const listed = (await client.batches.list()).data;
    expect(listed.length).toBeGreaterThan(0);
    expect(fake.requests.every((request) => request.url.startsWith('/openai/'))).toBe(true);
  });

  it('passes Azure\'s refusal of a deployment it does not have', async () => {
    const client = azure();
    const input = await client.files.create({ file: await toFile(Buffer.from(line(1, '/chat/completions', 'no-such-deployment')), 'b.jsonl'), purpose: 'batch' });
    // @ts-expect-error As above.
    const refused = await apiError(client.batches.create({ input_file_id: input.id, endpoint: '/chat/completions', completion_window: '24h' }));
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.error)).toContain("deployment 'no-such-deployment' was not found");
  });
});

describe('Azure batches in OpenAI\'s terms on /v1', () => {
  const client = () => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client-key', maxRetries: 0, defaultHeaders: { 'x-model-provider': 'azure' } });

  it('puts the file\'s models through the key\'s deployments and drops OpenAI\'s /v1 from the endpoint', async () => {
    const lines = [line(1, '/v1/chat/completions', 'gpt-4o-mini'), line(2, '/v1/chat/completions', 'azure/gpt-4o'),
      line(3, '/v1/chat/completions', 'gpt-4o-batch')];
    const input = await client().files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'batch.jsonl'), purpose: 'batch' });
    const stored = fake.filesOf(fake.ownerOf(input.id)!).find((file) => file.id === input.id)!;
    expect(stored.bytes.toString().trim().split('\n').map((text) => JSON.parse(text) as { url: string; body: { model: string } })
      .map((request) => [request.url, request.body.model])).toEqual([['/chat/completions', 'gpt-4o-mini-batch'],
      ['/chat/completions', 'gpt-4o-batch'], ['/chat/completions', 'gpt-4o-batch']]);
    const batch = await client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch).toMatchObject({ endpoint: '/chat/completions', status: 'completed' });
    const results = await fetch(`${url}/v1/batches/${batch.id}/results`);
    expect((await results.text()).trim().split('\n')).toHaveLength(3);
    expectOwnerKey(batch.id);
  });

  it('leaves a file of another purpose as it is', async () => {
    const text = line(1, '/v1/chat/completions', 'gpt-4o-mini');
    const file = await client().files.create({ file: await toFile(Buffer.from(text), 'notes.jsonl'), purpose: 'user_data' });
    expect(await (await client().files.content(file.id)).text()).toBe(text);
  });

  it('refuses a batch file line that is not JSON, in OpenAI\'s shape', async () => {
    const refused = await apiError(client().files.create({ file: await toFile(Buffer.from('{"custom_id":'), 'bad.jsonl'), purpose: 'batch' }));
    expect(refused.status).toBe(400);
    expect(expectEnvelope({ error: refused.error }, 'invalid_request').message).toMatch(/line 1 of the batch file is not JSON/);
  });
});
