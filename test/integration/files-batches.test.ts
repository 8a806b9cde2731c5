// Files and batches through the real gateway, with each provider's own SDK as the client and a fake of each
// provider's files and batches API behind it. Every provider has two keys, and the fakes keep each key's files
// apart (as the providers do): a call that reached the provider with the wrong key would get the provider's 404.

import Anthropic, { NotFoundError as AnthropicNotFound, toFile as anthropicFile } from '@anthropic-ai/sdk';
import {
  BedrockClient, CreateModelInvocationJobCommand, GetModelInvocationJobCommand, ListModelInvocationJobsCommand,
  StopModelInvocationJobCommand,
} from '@aws-sdk/client-bedrock';
import { GoogleGenAI } from '@google/genai';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../dist/src/gateway.js';
import { startFakeFiles, type FakeFiles } from '../fakes/files-server.js';
import { apiError, expectEnvelope, startGatewayFromRaw } from './harness.js';

const KEYS = { openai: ['sk-one', 'sk-two'], anthropic: ['ant-one', 'ant-two'], gemini: ['goog-one', 'goog-two'] };
const AWS = [{ access_key: 'AKIAONE', secret_key: 'secret-one' }, { access_key: 'AKIATWO', secret_key: 'secret-two' }];
const MAX_BODY_MB = 8;

let gateway: Gateway;
let url: string;
const fakes = {} as Record<'openai' | 'anthropic' | 'gemini' | 'bedrock', FakeFiles>;

const network = (fake: FakeFiles) => ({ base_url: fake.url, default_request_timeout_in_seconds: 30 });
const keyed = (values: string[]) => values.map((value, i) => ({ name: `k${i}`, value, models: ['*'], weight: 1 }));

beforeAll(async () => {
  for (const wire of ['openai', 'anthropic', 'gemini', 'bedrock'] as const) fakes[wire] = await startFakeFiles(wire);
  ({ gateway, url } = await startGatewayFromRaw({
    client: { max_request_body_size_mb: MAX_BODY_MB },
    providers: {
      openai: { keys: keyed(KEYS.openai), network_config: network(fakes.openai) },
      anthropic: { keys: keyed(KEYS.anthropic), network_config: network(fakes.anthropic) },
      gemini: { keys: keyed(KEYS.gemini), network_config: network(fakes.gemini) },
      bedrock: { keys: AWS.map((aws, i) => ({ name: `aws${i}`, models: ['*'], weight: 1, bedrock_key_config: { ...aws, region: 'us-east-1' } })),
        network_config: network(fakes.bedrock) },
      mock: { mock_config: { latency_ms: 0 } },
    },
  }));
});

afterAll(async () => {
  await gateway?.close(500);
  await Promise.all(Object.values(fakes).map((fake) => fake.close()));
});

/** The account that made `id`; every request the fake got about it came with that account. */
function expectOneAccount(fake: FakeFiles, id: string): string {
  const owner = fake.ownerOf(id);
  expect(owner).not.toBeNull();
  const about = fake.requests.filter((request) => decodeURIComponent(request.url).includes(id));
  for (const request of about) expect(request.account).toBe(owner);
  return owner!;
}

/** A list goes to the provider's first key: it shows exactly that key's ones among `ids`. */
function expectListOfFirstKey(fake: FakeFiles, firstKey: string, listed: readonly string[], ids: readonly string[]): void {
  for (const id of listed) expect(fake.ownerOf(id)).toBe(firstKey);
  expect(ids.filter((id) => fake.ownerOf(id) === firstKey).every((id) => listed.includes(id))).toBe(true);
}

const openai = (base: string) => new OpenAI({ baseURL: `${url}${base}`, apiKey: 'sk-client', maxRetries: 0 });

describe('OpenAI Files and Batch APIs (the openai SDK)', () => {
  it('uploads, lists, retrieves, downloads and deletes files, each id with the key that made it', async () => {
    const client = openai('/openai/v1');
    // Enough files that both keys are chosen (all 16 on one key by chance: 1 in 32,768): a later call with the wrong key
    // would be the fake's 404.
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const file = await client.files.create({ file: await toFile(Buffer.from(`{"n":${i}}\n`), `in-${i}.jsonl`), purpose: 'batch' });
      expect(file).toMatchObject({ object: 'file', filename: `in-${i}.jsonl`, bytes: `{"n":${i}}\n`.length, purpose: 'batch' });
      ids.push(file.id);
    }
    expect(new Set(ids.map((id) => expectOneAccount(fakes.openai, id))).size).toBe(2);
    for (const [i, id] of ids.entries()) {
      expect((await client.files.retrieve(id)).id).toBe(id);
      expect(await (await client.files.content(id)).text()).toBe(`{"n":${i}}\n`);
      expectOneAccount(fakes.openai, id);
    }
    const listed = await client.files.list();
    expectListOfFirstKey(fakes.openai, KEYS.openai[0], listed.data.map((file) => file.id), ids);
    expect(await client.files.delete(ids[0])).toMatchObject({ id: ids[0], deleted: true });
    // Deleted: the gateway forgot it, so without a provider it is unknown.
    const gone = await apiError(client.files.retrieve(ids[0]));
    expect(gone.status).toBe(404);
    expectEnvelope({ error: gone.error }, 'resource_not_found');
  });

  it('creates a batch with the key of its input file, and reads, lists, cancels it and its results', async () => {
    const client = openai('/openai');
    const lines = [1, 2, 3].map((n) => JSON.stringify({ custom_id: `r${n}`, method: 'POST', url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hi ${n}` }] } }));
    const batches: string[] = [];
    for (let i = 0; i < 4; i++) {
      const input = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'batch.jsonl'), purpose: 'batch' });
      const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      expect(batch).toMatchObject({ object: 'batch', input_file_id: input.id, request_counts: { total: 3 } });
      batches.push(batch.id);
      expect(expectOneAccount(fakes.openai, batch.id)).toBe(expectOneAccount(fakes.openai, input.id));
      expect((await client.batches.retrieve(batch.id)).status).toBe('completed');
      const results = await fetch(`${url}/openai/batches/${batch.id}/results`);
      expect(results.status).toBe(200);
      const answers = (await results.text()).trim().split('\n').map((line) => JSON.parse(line) as { custom_id: string });
      expect(answers.map((answer) => answer.custom_id)).toEqual(['r1', 'r2', 'r3']);
      expect((await client.batches.cancel(batch.id)).status).toBe('cancelling');
    }
    expectListOfFirstKey(fakes.openai, KEYS.openai[0], (await client.batches.list()).data.map((batch) => batch.id), batches);
  });

  it('on /v1 takes the provider from the provider field (the SDK\'s extra_body) and does not send it on', async () => {
    const client = openai('/v1');
    const refused = await apiError(client.files.create({ file: await toFile(Buffer.from('x'), 'a.jsonl'), purpose: 'batch' }));
    expect(refused.status).toBe(400);
    expect(expectEnvelope({ error: refused.error }, 'invalid_request').message).toContain('x-model-provider');
    const line = JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [] } });
    const file = await client.files.create({ file: await toFile(Buffer.from(line), 'a.jsonl'), purpose: 'batch',
      // @ts-expect-error Bifrost's extra field, which the SDK sends as a form part.
      provider: 'openai' });
    expect(file.object).toBe('file');
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h',
      // @ts-expect-error Bifrost's extra fields: the gateway's, not OpenAI's (the fake refuses them).
      provider: 'openai', model: 'openai/gpt-4o-mini' });
    expect(batch.object).toBe('batch');
    // A known id needs no provider, even on /v1.
    expect((await client.batches.retrieve(batch.id)).id).toBe(batch.id);
  });

  it('answers 404 in OpenAI\'s shape for an unknown id, and 400 for a provider without files', async () => {
    const client = openai('/openai/v1');
    const unknown = await apiError(client.batches.retrieve('batch_nobody_made'));
    expect(unknown.status).toBe(404);
    expectEnvelope({ error: unknown.error }, 'resource_not_found');
    // Named, it goes to the provider, whose own 404 comes back.
    const named = await apiError(client.files.retrieve('file-elsewhere', { headers: { 'x-model-provider': 'openai' } }));
    expect(named.status).toBe(404);
    expectEnvelope({ error: named.error }, 'upstream_not_found');
    const mock = await apiError(client.files.list({}, { headers: { 'x-model-provider': 'mock' } }));
    expect(mock.status).toBe(400);
    // The providers that serve these routes, natively or through their own batch API (files-batches-bedrock.test.ts).
    expect(expectEnvelope({ error: mock.error }, 'unsupported_capability').message).toMatch(/served by: .*openai.*bedrock/);
  });

  it('carries a file larger than a ring slot whole, and refuses one over client.max_request_body_size_mb with 413', async () => {
    const client = openai('/openai/v1');
    const big = Buffer.alloc(3 * 1024 * 1024, 'a');
    const file = await client.files.create({ file: await toFile(big, 'big.jsonl'), purpose: 'batch' });
    expect(file.bytes).toBe(big.length);
    expect(Buffer.from(await (await client.files.content(file.id)).arrayBuffer()).equals(big)).toBe(true);
    const tooBig = await apiError(client.files.create({ file: await toFile(Buffer.alloc((MAX_BODY_MB + 1) * 1024 * 1024), 'huge.jsonl'),
      purpose: 'batch' }));
    expect(tooBig.status).toBe(413);
  });
});

describe('Anthropic Files API and Message Batches (@anthropic-ai/sdk)', () => {
  const client = () => new Anthropic({ baseURL: `${url}/anthropic`, apiKey: 'ant-client', maxRetries: 0 });

  it('uploads, lists, reads, downloads and deletes files with the beta flag, each with its own key', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const file = await client().beta.files.upload({ file: await anthropicFile(Buffer.from(`doc ${i}`), `doc-${i}.txt`, { type: 'text/plain' }) });
      expect(file).toMatchObject({ type: 'file', filename: `doc-${i}.txt`, size_bytes: `doc ${i}`.length });
      ids.push(file.id);
    }
    expect(new Set(ids.map((id) => expectOneAccount(fakes.anthropic, id))).size).toBe(2);
    for (const [i, id] of ids.entries()) {
      expect((await client().beta.files.retrieveMetadata(id)).id).toBe(id);
      expect(await (await client().beta.files.download(id)).text()).toBe(`doc ${i}`);
      expectOneAccount(fakes.anthropic, id);
    }
    const listed = [];
    for await (const file of client().beta.files.list()) listed.push(file.id);
    expectListOfFirstKey(fakes.anthropic, KEYS.anthropic[0], listed, ids);
    expect(await client().beta.files.delete(ids[0])).toMatchObject({ id: ids[0], type: 'file_deleted' });
    await expect(client().beta.files.retrieveMetadata(ids[0])).rejects.toBeInstanceOf(AnthropicNotFound);
  });

  it('creates, reads, lists, cancels and deletes message batches, and streams their results through the gateway', async () => {
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      made.push((await client().messages.batches.create({ requests: [{ custom_id: 'c', params: { model: 'claude-haiku-4-5', max_tokens: 8,
        messages: [{ role: 'user', content: 'x' }] } }] })).id);
    }
    const batch = await client().messages.batches.create({ requests: [
      { custom_id: 'a', params: { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } },
      { custom_id: 'b', params: { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'yo' }] } },
    ] });
    expect(batch).toMatchObject({ type: 'message_batch', processing_status: 'ended' });
    expect(batch.results_url).toBe(`${url}/anthropic/v1/messages/batches/${batch.id}/results`);
    expect((await client().messages.batches.retrieve(batch.id)).id).toBe(batch.id);
    const results = [];
    for await (const result of await client().messages.batches.results(batch.id)) results.push(result.custom_id);
    expect(results).toEqual(['a', 'b']);
    made.push(batch.id);
    const listed = [];
    for await (const item of client().messages.batches.list()) listed.push(item.id);
    expectListOfFirstKey(fakes.anthropic, KEYS.anthropic[0], listed, made);
    expect((await client().messages.batches.cancel(batch.id)).processing_status).toBe('canceling');
    expectOneAccount(fakes.anthropic, batch.id);
    expect(await client().messages.batches.delete(batch.id)).toMatchObject({ id: batch.id, type: 'message_batch_deleted' });
  });

  it('answers an unknown id with a 404 in Anthropic\'s shape', async () => {
    const error = await client().messages.batches.retrieve('msgbatch_unknown').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AnthropicNotFound);
    expect((error as AnthropicNotFound).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});

describe('Gemini files and batches (@google/genai)', () => {
  const ai = () => new GoogleGenAI({ apiKey: 'goog-client', httpOptions: { baseUrl: `${url}/genai` } });

  it('uploads with the resumable protocol, gets, lists and deletes files', async () => {
    const names: string[] = [];
    for (let i = 0; i < 16; i++) {
      const file = await ai().files.upload({ file: new Blob([`line ${i}\n`], { type: 'text/plain' }), config: { displayName: `f${i}` } });
      expect(file).toMatchObject({ displayName: `f${i}`, mimeType: 'text/plain', sizeBytes: String(`line ${i}\n`.length), state: 'ACTIVE' });
      names.push(file.name!);
    }
    expect(new Set(names.map((name) => expectOneAccount(fakes.gemini, name))).size).toBe(2);
    for (const name of names) expect((await ai().files.get({ name })).name).toBe(name);
    const pager = await ai().files.list();
    expectListOfFirstKey(fakes.gemini, KEYS.gemini[0], pager.page.map((file) => file.name!), names);
    await ai().files.delete({ name: names[0] });
    await expect(ai().files.get({ name: names[0] })).rejects.toThrow(/404|not known/);
  });

  it('uploads a file of several 8 MiB chunks whole, held by the gateway until the last', async () => {
    const big = new Uint8Array(5 * 1024 * 1024).fill(7);
    const file = await ai().files.upload({ file: new Blob([big], { type: 'application/jsonl' }) });
    expect(file.sizeBytes).toBe(String(big.length));
  });

  it('creates batches inline and from a file, gets, lists, cancels and deletes them', async () => {
    const inline = await ai().batches.create({ model: 'gemini-2.0-flash', src: [{ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }],
      config: { displayName: 'inline' } });
    expect(inline).toMatchObject({ displayName: 'inline', state: 'JOB_STATE_PENDING', model: 'models/gemini-2.0-flash' });
    const input = await ai().files.upload({ file: new Blob(['{"key":"a","request":{"contents":[]}}\n'], { type: 'application/jsonl' }) });
    // The batch goes with the key that owns its input file, or the provider would not find the file.
    const fromFile = await ai().batches.create({ model: 'gemini/gemini-2.0-flash', src: input.name! });
    expect(expectOneAccount(fakes.gemini, fromFile.name!)).toBe(expectOneAccount(fakes.gemini, input.name!));
    expect((await ai().batches.get({ name: inline.name! })).name).toBe(inline.name);
    const pager = await ai().batches.list();
    expectListOfFirstKey(fakes.gemini, KEYS.gemini[0], pager.page.map((job) => job.name!), [inline.name!, fromFile.name!]);
    await ai().batches.cancel({ name: inline.name! });
    expect((await ai().batches.get({ name: inline.name! })).state).toBe('JOB_STATE_CANCELLED');
    await ai().batches.delete({ name: inline.name! });
  });
});

describe('Bedrock model invocation jobs (@aws-sdk/client-bedrock) and the S3-like files routes', () => {
  const bedrock = () => new BedrockClient({ endpoint: `${url}/bedrock`, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'client', secretAccessKey: 'client' } });

  it('puts an object, then creates, gets, lists and stops a job that reads it, with the bucket\'s key', async () => {
    const put = await fetch(`${url}/bedrock/files/my-bucket/in/batch.jsonl`, { method: 'PUT', body: '{"recordId":"1","modelInput":{}}\n',
      headers: { 'content-type': 'application/jsonl' } });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    const got = await fetch(`${url}/bedrock/files/my-bucket/in/batch.jsonl`);
    expect(await got.text()).toBe('{"recordId":"1","modelInput":{}}\n');
    const listed = await fetch(`${url}/bedrock/files/my-bucket?list-type=2&prefix=in/`);
    expect(await listed.text()).toContain('<Key>in/batch.jsonl</Key>');
    const created = await bedrock().send(new CreateModelInvocationJobCommand({ jobName: 'j1', roleArn: 'arn:aws:iam::1:role/r',
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0', inputDataConfig: { s3InputDataConfig: { s3Uri: 's3://my-bucket/in/batch.jsonl' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: 's3://my-bucket/out/' } } }));
    expect(created.jobArn).toMatch(/^arn:aws:bedrock:.*:model-invocation-job\//);
    const job = await bedrock().send(new GetModelInvocationJobCommand({ jobIdentifier: created.jobArn }));
    expect(job).toMatchObject({ jobName: 'j1', status: 'Submitted' });
    const jobs = await bedrock().send(new ListModelInvocationJobsCommand({}));
    expectListOfFirstKey(fakes.bedrock, AWS[0].access_key, jobs.invocationJobSummaries!.map((summary) => summary.jobArn!), [created.jobArn!]);
    await bedrock().send(new StopModelInvocationJobCommand({ jobIdentifier: created.jobArn }));
    expect((await bedrock().send(new GetModelInvocationJobCommand({ jobIdentifier: created.jobArn }))).status).toBe('Stopping');
    expect(expectOneAccount(fakes.bedrock, created.jobArn!)).toBe(expectOneAccount(fakes.bedrock, 'my-bucket/in/batch.jsonl'));
    expect((await fetch(`${url}/bedrock/files/my-bucket/in/batch.jsonl`, { method: 'DELETE' })).status).toBe(200);
  });

  it('answers an unknown job with ResourceNotFoundException', async () => {
    const error = await bedrock().send(new GetModelInvocationJobCommand({ jobIdentifier: 'nope' })).catch((caught: unknown) => caught);
    expect((error as { name: string }).name).toBe('ResourceNotFoundException');
    expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(404);
  });
});

describe('use_for_batch_api', () => {
  it('lets only the flagged keys serve files and batches when any key is flagged', async () => {
    const { gateway: flagged, url: flaggedUrl } = await startGatewayFromRaw({ providers: { openai: { keys: [{ value: 'sk-plain', models: ['*'], weight: 1 },
      { value: 'sk-batch', models: ['*'], weight: 1, use_for_batch_api: true }], network_config: network(fakes.openai) } } });
    try {
      const client = new OpenAI({ baseURL: `${flaggedUrl}/openai`, apiKey: 'x', maxRetries: 0 });
      for (let i = 0; i < 6; i++) {
        const file = await client.files.create({ file: await toFile(Buffer.from('x'), 'x.jsonl'), purpose: 'batch' });
        expect(fakes.openai.ownerOf(file.id)).toBe('sk-batch');
      }
      await client.files.list();
      expect(fakes.openai.requests.at(-1)!.account).toBe('sk-batch');
    } finally {
      await flagged.close(500);
    }
  });
});
