// OpenAI's Files and Batch APIs on Bedrock's batch inference through the real gateway, with the `openai` SDK as the
// client (files.create, retrieve, content, delete; batches.create, retrieve, list, cancel) and the fake Bedrock
// control plane and path-style S3 behind it: the batch file lands in the key's S3 bucket as Bedrock's records, a
// batch is a model invocation job run with the key's role, and the job's output comes back as OpenAI's output lines.
// The fake keeps each AWS account apart and takes only requests signed for its service (`s3` or `bedrock`).

import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../dist/src/gateway.js';
import { startFakeFiles, type FakeFiles, type FilesRecordedRequest } from '../fakes/files-server.js';
import { apiError, expectEnvelope, startGatewayFromRaw } from './harness.js';

const AWS = [{ access_key: 'AKIAONE', secret_key: 'secret-one' }, { access_key: 'AKIATWO', secret_key: 'secret-two' }];
const ROLE = 'arn:aws:iam::123456789012:role/heimdall-batch';
const CLAUDE = 'anthropic.claude-3-haiku-20240307-v1:0';
const NOVA = 'amazon.nova-lite-v1:0';

let fake: FakeFiles;
const gateways: Gateway[] = [];
let url: string;

const bedrockKey = (i: number, batch: Record<string, unknown> | null) => ({ name: `aws${i}`, models: ['*'], weight: 1,
  bedrock_key_config: { ...AWS[i], region: 'us-east-1', deployments: { 'claude-haiku': CLAUDE },
    ...(batch ? { batch_s3_config: batch } : {}) } });

async function gatewayWith(keys: unknown[]): Promise<string> {
  const started = await startGatewayFromRaw({ providers: { bedrock: { keys,
    network_config: { base_url: fake.url, default_request_timeout_in_seconds: 30 } } } });
  gateways.push(started.gateway);
  return started.url;
}

beforeAll(async () => {
  fake = await startFakeFiles('bedrock');
  url = await gatewayWith([0, 1].map((i) => bedrockKey(i, { buckets: [{ bucket_name: 'unused-bucket', prefix: 'x' },
    { bucket_name: `batch-${i}`, prefix: '/openai/', is_default: true }], role_arn: ROLE })));
});

afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close(500)));
  await fake?.close();
});

const client = (base = url) => new OpenAI({ baseURL: `${base}/v1`, apiKey: 'client-key', maxRetries: 0 });
const line = (id: string, model: string, text: string, extra: Record<string, unknown> = {}) => JSON.stringify({ custom_id: id, method: 'POST',
  url: '/v1/chat/completions', body: { model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: text }], ...extra } });
const upload = async (text: string, base = url, purpose: 'batch' | 'user_data' = 'batch') => client(base).files.create({
  file: await toFile(Buffer.from(text), 'my batch.jsonl'), purpose,
  // @ts-expect-error Bifrost's extra field, which the SDK sends as a form part.
  provider: 'bedrock' });

/** The SigV4 service a request to the fake was signed for. */
const service = (request: FilesRecordedRequest) => /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(String(request.headers.authorization))?.[1];

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; body: { object: string; model: string; choices: { message: { content: string } }[]; usage: { prompt_tokens: number } } } | null;
  error: { code: string; message: string } | null;
}
const outputLines = (text: string) => text.trim().split('\n').map((row) => JSON.parse(row) as OutputLine);

describe("OpenAI batches on Bedrock's batch inference (the openai SDK)", () => {
  it('writes the batch file to the key\'s bucket as Bedrock\'s records, runs it as a job and reads its output in OpenAI\'s shape', async () => {
    const text = [line('a', 'bedrock/claude-haiku', 'first', { max_tokens: 50, temperature: 0.2 }), line('b', 'claude-haiku', 'second'),
      line('c', 'claude-haiku', 'please fail')].join('\n');
    const input = await upload(text);
    expect(input).toMatchObject({ object: 'file', purpose: 'batch', status: 'processed', filename: 'my batch.jsonl' });
    expect(input.id).toMatch(/^s3:\/\/batch-[01]\/openai\/heimdall-batch-input\/claude-haiku\/[0-9a-f-]{36}-my_batch\.jsonl$/);
    const put = fake.requests.at(-1)!;
    expect([put.method, service(put)]).toEqual(['PUT', 's3']);
    const account = fake.ownerOf(input.id.slice('s3://'.length));
    expect(account).toBe(AWS[Number(input.id[11])].access_key);

    // In S3: one Bedrock record per line, the model's InvokeModel body (Claude's, through the deployment), no model.
    const records = (await (await client().files.content(input.id)).text()).trim().split('\n').map((row) => JSON.parse(row) as
      { recordId: string; modelInput: Record<string, unknown> });
    expect(records.map((record) => record.recordId)).toEqual(['a', 'b', 'c']);
    expect(records[0].modelInput).toEqual({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, temperature: 0.2, system: 'be brief',
      messages: [{ role: 'user', content: 'first' }] });
    expect(records[1].modelInput).not.toHaveProperty('model');
    expect(await client().files.retrieve(input.id)).toMatchObject({ id: input.id, object: 'file', bytes: input.bytes, filename: 'my_batch.jsonl' });
    expect(input.bytes).toBe(fake.filesOf(account!).find((object) => `s3://${object.id}` === input.id)!.bytes.length);

    const batch = await client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', input_file_id: input.id, output_file_id: null });
    expect(batch.id).toMatch(/^arn:aws:bedrock:us-east-1:\d+:model-invocation-job\/[0-9a-f]+$/);
    const created = fake.requests.findLast((request) => request.url === '/model-invocation-job')!;
    expect([created.method, service(created), created.account]).toEqual(['POST', 'bedrock', account]);
    const bucket = input.id.slice(5, 12);
    // The job as Bedrock got it (read back through the gateway's own Bedrock route, which finds its key too).
    const job = await (await fetch(`${url}/bedrock/model-invocation-job/${encodeURIComponent(batch.id)}`)).json() as Record<string, unknown>;
    expect(job).toMatchObject({ modelId: CLAUDE, roleArn: ROLE, timeoutDurationInHours: 24, jobName: expect.stringMatching(/^heimdall-batch-[0-9a-f]{24}$/) as string,
      inputDataConfig: { s3InputDataConfig: { s3Uri: input.id, s3InputFormat: 'JSONL' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://${bucket}/openai/heimdall-batch-output/claude-haiku/` } } });
    expect((await client().batches.retrieve(batch.id)).status).toBe('validating');

    fake.finishJobs();
    const done = await client().batches.retrieve(batch.id);
    const jobId = batch.id.slice(batch.id.lastIndexOf('/') + 1);
    expect(done).toMatchObject({ id: batch.id, status: 'completed', input_file_id: input.id, request_counts: { total: 3, completed: 2, failed: 1 },
      output_file_id: `s3://${bucket}/openai/heimdall-batch-output/claude-haiku/${jobId}/${input.id.slice(input.id.lastIndexOf('/') + 1)}.out` });
    expect(done.errors?.data?.[0]).toMatchObject({ code: 'PartiallyCompleted' });

    const output = outputLines(await (await client().files.content(done.output_file_id!)).text());
    expect(output.map((row) => row.custom_id)).toEqual(['a', 'b', 'c']);
    expect(output[0]).toMatchObject({ id: 'batch_req_a', error: null, response: { status_code: 200, body: { object: 'chat.completion',
      model: 'claude-3-haiku-20240307', choices: [{ message: { content: 'batched: first' } }], usage: { prompt_tokens: 11 } } } });
    expect(output[2]).toMatchObject({ response: null, error: { code: '500', message: expect.stringMatching(/ModelErrorException/) as string } });
    const results = await fetch(`${url}/v1/batches/${encodeURIComponent(batch.id)}/results`);
    expect(results.status).toBe(200);
    expect(outputLines(await results.text())).toEqual(output.map((row) => ({ ...row, response: row.response && expect.objectContaining({
      status_code: 200 }) as unknown })));

    // Every call about the file and the job went with the key that made them, each signed for its own service.
    const about = fake.requests.filter((request) => decodeURIComponent(request.url).includes(jobId) || decodeURIComponent(request.url).includes(bucket));
    expect(about.length).toBeGreaterThan(6);
    for (const request of about) {
      expect(request.account).toBe(account);
      expect(service(request)).toBe(request.url.startsWith('/model-invocation-job') ? 'bedrock' : 's3');
    }

    const listed = await client().batches.list({ limit: 10 }, { headers: { 'x-model-provider': 'bedrock' } });
    expect(listed.data.every((item) => item.object === 'batch')).toBe(true);
    const list = fake.requests.findLast((request) => request.url.startsWith('/model-invocation-jobs'))!;
    expect([list.url, list.account]).toEqual(['/model-invocation-jobs?maxResults=10&sortOrder=Descending', AWS[0].access_key]);

    expect(await client().files.delete(input.id)).toMatchObject({ id: input.id, deleted: true });
    expect(fake.ownerOf(input.id.slice('s3://'.length))).toBeNull();
  });

  it("writes Amazon Nova's messages-v1 input and reads its output through the Converse answer", async () => {
    const input = await upload(line('n1', NOVA, 'hello nova', { max_tokens: 30, top_p: 0.9, stop: ['END'] }));
    const [record] = (await (await client().files.content(input.id)).text()).trim().split('\n').map((row) => JSON.parse(row) as
      { modelInput: Record<string, unknown> });
    expect(record.modelInput).toEqual({ schemaVersion: 'messages-v1', system: [{ text: 'be brief' }],
      messages: [{ role: 'user', content: [{ text: 'hello nova' }] }], inferenceConfig: { max_new_tokens: 30, top_p: 0.9, stopSequences: ['END'] } });
    const batch = await client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    fake.finishJobs();
    const done = await client().batches.retrieve(batch.id);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 1, completed: 1, failed: 0 }, errors: null });
    const [answer] = outputLines(await (await client().files.content(done.output_file_id!)).text());
    expect(answer).toMatchObject({ custom_id: 'n1', response: { status_code: 200, body: { object: 'chat.completion', model: NOVA,
      choices: [{ message: { content: 'batched: hello nova' } }] } } });
  });

  it('cancels a job (StopModelInvocationJob) and reads it back as cancelling', async () => {
    const input = await upload(line('x', 'claude-haiku', 'stop me'));
    const batch = await client().batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '48h' as '24h' }); // The SDK's type knows OpenAI's one window; Bedrock takes 24 to 168 hours.
    const job = await (await fetch(`${url}/bedrock/model-invocation-job/${encodeURIComponent(batch.id)}`)).json() as Record<string, unknown>;
    expect(job).toMatchObject({ timeoutDurationInHours: 48, status: 'Submitted' });
    expect(await client().batches.cancel(batch.id)).toMatchObject({ id: batch.id, object: 'batch', status: 'cancelling' });
    const stop = fake.requests.at(-1)!;
    expect([stop.method, stop.url, service(stop)]).toEqual(['POST', `/model-invocation-job/${encodeURIComponent(batch.id)}/stop`, 'bedrock']);
    expect((await client().batches.retrieve(batch.id)).status).toBe('cancelling');
    expect((await fetch(`${url}/v1/batches/${encodeURIComponent(batch.id)}/results`)).status).toBe(400);
  });

  it('refuses what Bedrock cannot run, before anything is sent, in OpenAI\'s error shape', async () => {
    const before = fake.requests.length;
    const twoModels = await apiError(upload([line('a', 'claude-haiku', 'x'), line('b', NOVA, 'y')].join('\n')));
    expect(twoModels.status).toBe(400);
    expect(expectEnvelope({ error: twoModels.error }, 'invalid_request').message).toMatch(/one model per batch.*claude-haiku, amazon\.nova/);
    const llama = await apiError(upload(line('a', 'meta.llama3-70b-instruct-v1:0', 'x')));
    expect(expectEnvelope({ error: llama.error }, 'invalid_request').message).toMatch(/Anthropic Claude and Amazon Nova/);
    const dropped = await apiError(upload(line('a', 'claude-haiku', 'x', { seed: 7 })));
    expect(expectEnvelope({ error: dropped.error }, 'invalid_request').message).toMatch(/line 1 .*no place for 'seed'/);
    const notJson = await apiError(upload('{"custom_id": "a",'));
    expect(expectEnvelope({ error: notJson.error }, 'invalid_request').message).toMatch(/line 1 of the batch file is not JSON/);
    const other = await apiError(upload(line('a', 'claude-haiku', 'x'), url, 'user_data'));
    expect(expectEnvelope({ error: other.error }, 'invalid_request').message).toMatch(/purpose 'batch'/);
    expect(fake.requests.length).toBe(before);

    const unknown = await apiError(client().batches.retrieve('arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/nope'));
    expect(unknown.status).toBe(404);
    const foreign = await apiError(client().batches.create({ input_file_id: 's3://someone-else/in.jsonl', endpoint: '/v1/chat/completions',
      completion_window: '24h' }, { headers: { 'x-model-provider': 'bedrock' } }));
    expect(expectEnvelope({ error: foreign.error }, 'invalid_request').message).toMatch(/not uploaded through this gateway/);
  });

  it("lists the batch files of the first key's bucket, inputs and outputs, paged as OpenAI pages", async () => {
    const own = await gatewayWith([bedrockKey(0, { buckets: [{ bucket_name: 'list-bucket', prefix: 'team' }], role_arn: ROLE })]);
    const first = await upload(line('a', 'claude-haiku', 'one'), own);
    const second = await upload(line('b', NOVA, 'two'), own);
    const batch = await client(own).batches.create({ input_file_id: first.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    fake.finishJobs();
    const output = (await client(own).batches.retrieve(batch.id)).output_file_id!;
    const page = await client(own).files.list({}, { headers: { 'x-model-provider': 'bedrock' } });
    expect(page.data.map((file) => [file.id, file.purpose]).sort()).toEqual([[first.id, 'batch'], [second.id, 'batch'], [output, 'batch_output']].sort());
    const listed = fake.requests.at(-1)!;
    expect([listed.method, service(listed), listed.url]).toEqual(['GET', 's3', '/list-bucket?list-type=2&prefix=team%2Fheimdall-batch-']);
    expect(page.data.find((file) => file.id === first.id)).toMatchObject({ bytes: first.bytes, filename: 'my_batch.jsonl' });

    const one = await client(own).files.list({ limit: 1 }, { headers: { 'x-model-provider': 'bedrock' } });
    expect(one.data).toHaveLength(1);
    expect(one.hasNextPage()).toBe(true);
    const rest = await client(own).files.list({ after: one.data[0].id, limit: 10 }, { headers: { 'x-model-provider': 'bedrock' } });
    expect(rest.data.map((file) => file.id).sort()).toEqual(page.data.map((file) => file.id).filter((id) => id !== one.data[0].id).sort());
    expect(rest.hasNextPage()).toBe(false);
  });

  it('answers a 400 naming the missing setting and where it goes when the key has no batch bucket or role', async () => {
    const bare = await gatewayWith([bedrockKey(0, null)]);
    const noBucket = await apiError(upload(line('a', 'claude-haiku', 'x'), bare));
    expect(noBucket.status).toBe(400);
    expect(expectEnvelope({ error: noBucket.error }, 'batch_config_missing').message)
      .toMatch(/^bedrock: bedrock_key_config\.batch_s3_config\.buckets is not set for the key.*providers\.<name>\.keys\[\]\.bedrock_key_config\.batch_s3_config.*\[key 'aws0'\]$/);

    const noRole = await gatewayWith([bedrockKey(1, { buckets: [{ bucket_name: 'role-less' }] })]);
    const input = await upload(line('a', 'claude-haiku', 'x'), noRole);
    expect(input.id).toMatch(/^s3:\/\/role-less\/heimdall-batch-input\//);
    const missingRole = await apiError(client(noRole).batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions',
      completion_window: '24h' }));
    expect(expectEnvelope({ error: missingRole.error }, 'batch_config_missing').message).toMatch(/batch_s3_config\.role_arn is not set.*\[key 'aws1'\]$/);
    // Bifrost's way: the role (and the output location) named by the batch itself.
    const named = await client(noRole).batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h',
      // @ts-expect-error Bifrost's extra fields.
      role_arn: ROLE, output_s3_uri: 's3://role-less/elsewhere/' });
    expect(named.status).toBe('validating');
    fake.finishJobs();
    expect((await client(noRole).batches.retrieve(named.id)).output_file_id).toMatch(/^s3:\/\/role-less\/elsewhere\/[0-9a-f]+\/.*\.jsonl\.out$/);
  });
});
