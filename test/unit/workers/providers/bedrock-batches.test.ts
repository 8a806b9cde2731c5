import { describe, expect, it } from 'vitest';
import type { FilesRequest } from '../../../../src/contract/messages.js';
import { GatewayError } from '../../../../src/errors/gateway-error.js';
import { openAIBatchOfJob } from '../../../../workers/providers/bedrock-batches.js';
import { bedrock } from '../../../../workers/providers/bedrock.js';
import type { CallTarget } from '../../../../workers/providers/types.js';

const ARN = 'arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc123';
const target = (batch: unknown): CallTarget => ({ baseUrl: 'http://aws.test', key: { value: '', configs: { bedrock_key_config: {
  access_key: 'AKIA', secret_key: 's', region: 'us-east-1', deployments: { haiku: 'anthropic.claude-3-haiku-20240307-v1:0' },
  ...(batch === undefined ? {} : { batch_s3_config: batch }) } } } });
const request = (fields: Partial<FilesRequest>): FilesRequest => ({ method: 'GET', path: '', query: '', contentType: null, body: null, headers: {},
  ...fields });
const context = { sentHeaders: {}, answerHeaders: {}, sentBytes: 0 };
const job = (status: string) => ({ jobArn: ARN, status, submitTime: '2026-01-01T00:00:00Z', endTime: '2026-01-01T02:00:00Z',
  message: 'm', inputDataConfig: { s3InputDataConfig: { s3Uri: 's3://b/p/heimdall-batch-input/haiku/u-in.jsonl' } },
  outputDataConfig: { s3OutputDataConfig: { s3Uri: 's3://b/p/heimdall-batch-output/haiku/' } } });

describe("OpenAI batches on Bedrock's model invocation jobs", () => {
  it("reads every job status as OpenAI's, with an output file once the job has one", () => {
    const statuses: Record<string, string> = { Submitted: 'validating', Validating: 'validating', Scheduled: 'validating',
      InProgress: 'in_progress', Stopping: 'cancelling', Stopped: 'cancelled', Completed: 'completed', PartiallyCompleted: 'completed',
      Failed: 'failed', Expired: 'expired' };
    for (const [status, openai] of Object.entries(statuses)) {
      const batch = openAIBatchOfJob(job(status));
      expect([status, batch.status]).toEqual([status, openai]);
      expect([status, batch.output_file_id]).toEqual([status, status === 'Completed' || status === 'PartiallyCompleted'
        ? 's3://b/p/heimdall-batch-output/haiku/abc123/u-in.jsonl.out' : null]);
    }
    expect(openAIBatchOfJob(job('PartiallyCompleted')).errors).toMatchObject({ data: [{ code: 'PartiallyCompleted', message: 'm' }] });
    expect(openAIBatchOfJob(job('Completed'))).toMatchObject({ errors: null, created_at: 1767225600, completed_at: 1767232800 });
  });

  it('writes an upload to the configured bucket as Bedrock records, and refuses a key without a bucket', () => {
    const jsonl = `${JSON.stringify({ custom_id: 'a', body: { model: 'haiku', messages: [{ role: 'user', content: 'hi' }] } })}\n`;
    const upload = request({ method: 'PUT', path: '/v1/files', body: Buffer.from(jsonl), translate: 'upload', fileName: 'in put.jsonl' });
    const call = bedrock.openAIBatchCall!(upload, target({ buckets: [{ bucket_name: 'b', prefix: 'p/' }] }));
    expect(call.method).toBe('PUT');
    expect(call.url).toMatch(/^http:\/\/aws\.test\/b\/p\/heimdall-batch-input\/haiku\/[0-9a-f-]{36}-in_put\.jsonl$/);
    expect(call.auth).toMatchObject({ kind: 'aws-sigv4', service: 's3' });
    expect(JSON.parse(Buffer.from(call.bytes!).toString())).toMatchObject({ recordId: 'a',
      modelInput: { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'hi' }] } });
    const answer = JSON.parse(bedrock.openAIBatchAnswer!(upload, '', { sentHeaders: call.headers!, answerHeaders: {}, sentBytes: call.bytes!.length })
      .body) as { id: string; bytes: number; filename: string };
    expect(`http://aws.test/${answer.id.slice('s3://'.length)}`).toBe(call.url);
    expect(answer).toMatchObject({ bytes: call.bytes!.length, filename: 'in put.jsonl' });
    const retrieved = JSON.parse(bedrock.openAIBatchAnswer!(request({ path: `/v1/files/${encodeURIComponent(answer.id)}`, translate: 'file' }), 'x'.repeat(9),
      { ...context, answerHeaders: { 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' } }).body) as Record<string, unknown>;
    expect(retrieved).toMatchObject({ id: answer.id, bytes: 9, filename: 'in_put.jsonl', created_at: 1767225600 });

    const refused = (() => {
      try {
        return bedrock.openAIBatchCall!(upload, target(undefined));
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).data).toMatchObject({ code: 'BATCH_CONFIG_MISSING',
      message: expect.stringMatching(/batch_s3_config\.buckets is not set/) as string });
  });

  it("names a model id with ':' as one percent-encoded key segment, as S3 signs it", () => {
    const jsonl = `${JSON.stringify({ custom_id: 'a', body: { model: 'amazon.nova-lite-v1:0', messages: [{ role: 'user', content: 'hi' }] } })}\n`;
    const call = bedrock.openAIBatchCall!(request({ body: Buffer.from(jsonl), translate: 'upload' }), target({ buckets: [{ bucket_name: 'b' }] }));
    expect(call.url).toMatch(/^http:\/\/aws\.test\/b\/heimdall-batch-input\/amazon\.nova-lite-v1%3A0\//);
    expect(() => bedrock.openAIBatchCall!(request({ body: Buffer.from(jsonl.replace('amazon.nova-lite-v1:0', 'arn:aws:bedrock:x/y')),
      translate: 'upload' }), target({ buckets: [{ bucket_name: 'b' }] }))).toThrow(/alias in bedrock_key_config\.deployments/);
  });

  it("reads Bedrock's output records as OpenAI's output lines, each family's answer as a chat.completion", () => {
    const output = [
      { recordId: 'a', modelInput: {}, modelOutput: { type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'text', text: 'A' }],
        stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 1 } } },
      { recordId: 'b', modelInput: {}, modelOutput: { output: { message: { role: 'assistant', content: [{ text: 'B' }] } }, stopReason: 'max_tokens',
        usage: { inputTokens: 2, outputTokens: 1, totalTokens: 3 } } },
      { recordId: 'c', modelInput: {}, error: { errorCode: 400, errorMessage: 'Malformed input request' } },
    ].map((record) => JSON.stringify(record)).join('\n');
    const id = encodeURIComponent('s3://b/heimdall-batch-output/haiku/abc123/u-in.jsonl.out');
    const answer = bedrock.openAIBatchAnswer!(request({ path: `/v1/files/${id}/content`, translate: 'file-content' }), output, context);
    const lines = answer.body.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ id: 'batch_req_a', custom_id: 'a', error: null, response: { status_code: 200, body: { object: 'chat.completion',
      model: 'claude-x', choices: [{ message: { content: 'A' }, finish_reason: 'stop' }] } } });
    expect(lines[1]).toMatchObject({ custom_id: 'b', response: { body: { model: 'haiku', choices: [{ message: { content: 'B' }, finish_reason: 'length' }] } } });
    expect(lines[2]).toEqual({ id: 'batch_req_c', custom_id: 'c', response: null, error: { code: '400', message: 'Malformed input request' } });
    // An input file is Bedrock's records, as written.
    const input = encodeURIComponent('s3://b/heimdall-batch-input/haiku/u-in.jsonl');
    expect(bedrock.openAIBatchAnswer!(request({ path: `/v1/files/${input}/content`, translate: 'file-content' }), output, context).body).toBe(output);
  });

  it("lists a bucket's batch files from ListObjectsV2's XML, without the manifests", () => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>'
      + '<Contents><Key>heimdall-batch-input/m/u-a&amp;b.jsonl</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>12</Size></Contents>'
      + '<Contents><Key>heimdall-batch-output/m/j/manifest.json.out</Key><Size>3</Size></Contents>'
      + '<Contents><Key>heimdall-batch-output/m/j/u-a&amp;b.jsonl.out</Key><Size>7</Size></Contents></ListBucketResult>';
    const list = JSON.parse(bedrock.openAIBatchAnswer!(request({ translate: 'files-list' }), xml, context).body) as Record<string, unknown>;
    expect(list).toMatchObject({ object: 'list', has_more: true, first_id: 's3://b/heimdall-batch-input/m/u-a&b.jsonl', data: [
      { id: 's3://b/heimdall-batch-input/m/u-a&b.jsonl', bytes: 12, created_at: 1767225600, purpose: 'batch' },
      { id: 's3://b/heimdall-batch-output/m/j/u-a&b.jsonl.out', bytes: 7, purpose: 'batch_output' }] });
    expect(list.data).toHaveLength(2);
    const call = bedrock.openAIBatchCall!(request({ translate: 'files-list', query: 'limit=5&after=s3%3A%2F%2Fb%2Fp%2Fk.jsonl' }),
      target({ buckets: [{ bucket_name: 'b', prefix: 'p' }] }));
    expect(call.url).toBe('http://aws.test/b?list-type=2&prefix=p%2Fheimdall-batch-&max-keys=5&start-after=p%2Fk.jsonl');
  });

  it("lists jobs in OpenAI's shape, and takes a finished job's counts from its manifest", () => {
    const list = JSON.parse(bedrock.openAIBatchAnswer!(request({ translate: 'list' }), JSON.stringify({ invocationJobSummaries: [job('InProgress')],
      nextToken: 't' }), context).body) as Record<string, unknown>;
    expect(list).toMatchObject({ object: 'list', first_id: ARN, last_id: ARN, has_more: true, data: [{ id: ARN, status: 'in_progress' }] });
    const batch = openAIBatchOfJob(job('PartiallyCompleted'));
    const counts = request({ path: `/v1/files/${encodeURIComponent(String(batch.output_file_id))}/content`, translate: 'counts', batch: JSON.stringify(batch) });
    expect(bedrock.openAIBatchCall!(counts, target({ buckets: [{ bucket_name: 'b' }] })).url)
      .toBe('http://aws.test/b/p/heimdall-batch-output/haiku/abc123/manifest.json.out');
    const read = JSON.parse(bedrock.openAIBatchAnswer!(counts, JSON.stringify({ totalRecordCount: 5, successRecordCount: 3, errorRecordCount: 2 }),
      context).body) as Record<string, unknown>;
    expect(read).toMatchObject({ id: ARN, status: 'completed', request_counts: { total: 5, completed: 3, failed: 2 } });
  });
});
