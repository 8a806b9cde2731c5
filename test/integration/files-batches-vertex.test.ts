// Vertex AI batch prediction through the real gateway with `@google/genai` in Vertex mode (its baseUrl at the
// gateway's /genai): jobs created, read, listed, cancelled and deleted on the vertex provider under the key's project
// and region, each later call with the key that made the job; a job without Cloud Storage or BigQuery locations is
// refused with a 400 saying what Vertex needs. The files fake plays Vertex's jobs API; the Vertex fake issues the
// service account's tokens.

import { ApiError, GoogleGenAI, JobState } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../dist/src/gateway.js';
import { startFakeFiles, VERTEX_FAKE_PROJECT_NUMBER, type FakeFiles } from '../fakes/files-server.js';
import { startFakeVertex, VERTEX_PROJECT, VERTEX_REGION, type FakeVertex } from '../fakes/vertex-server.js';
import { rejectionOf } from '../rejection.js';
import { startGatewayFromRaw } from './harness.js';

let gateway: Gateway;
let url: string;
let jobs: FakeFiles;
let vertex: FakeVertex;

beforeAll(async () => {
  jobs = await startFakeFiles('vertex');
  vertex = await startFakeVertex();
  ({ gateway, url } = await startGatewayFromRaw({ providers: { vertex: { keys: [{ value: 'service-account', models: ['*'], weight: 1, vertex_key_config: vertex.keyConfig() }],
      network_config: { base_url: jobs.url, default_request_timeout_in_seconds: 30 } } } }));
});

afterAll(async () => {
  await gateway?.close(500);
  await jobs?.close();
  await vertex?.fake.close();
});

// The client's own project and region: the gateway runs jobs under its key's, whatever the client names.
const client = () => new GoogleGenAI({ vertexai: true, project: 'client-project', location: 'europe-west4', apiKey: 'client-key',
  httpOptions: { baseUrl: `${url}/genai` } });

describe('Vertex AI batch prediction with @google/genai', () => {
  it('creates a job that reads Cloud Storage, and gets, lists, cancels and deletes it', async () => {
    const ai = client();
    const job = await ai.batches.create({ model: 'gemini-2.0-flash-001', src: 'gs://bucket/requests.jsonl',
      config: { displayName: 'nightly', dest: 'gs://bucket/out/' } });
    expect(job).toMatchObject({ displayName: 'nightly', state: JobState.JOB_STATE_PENDING, model: 'publishers/google/models/gemini-2.0-flash-001' });
    expect(job.name).toMatch(new RegExp(`^projects/${VERTEX_FAKE_PROJECT_NUMBER}/locations/${VERTEX_REGION}/batchPredictionJobs/\\d+$`));
    const created = jobs.requests.at(-1)!;
    expect(created.url).toBe(`/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/batchPredictionJobs`);
    expect(created.headers.authorization).toMatch(/^Bearer /);

    expect((await ai.batches.get({ name: job.name! })).state).toBe(JobState.JOB_STATE_PENDING);
    const listed = [];
    for await (const item of await ai.batches.list()) listed.push(item.name);
    expect(listed).toContain(job.name);
    await ai.batches.cancel({ name: job.name! });
    expect((await ai.batches.get({ name: job.name! })).state).toBe(JobState.JOB_STATE_CANCELLING);
    expect((await ai.batches.delete({ name: job.name! })).done).toBe(true);
    const id = job.name!.split('/').at(-1)!;
    expect(jobs.requests.filter((request) => request.url.includes(id)).map((request) => [request.method, request.url.split('?')[0]])).toEqual([
      ['GET', `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/batchPredictionJobs/${id}`],
      ['POST', `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/batchPredictionJobs/${id}:cancel`],
      ['GET', `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/batchPredictionJobs/${id}`],
      ['DELETE', `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/batchPredictionJobs/${id}`]]);
    // Deleted: the gateway forgot the job, so without a provider it is unknown.
    const gone = await fetch(`${url}/genai/v1beta1/projects/p/locations/l/batchPredictionJobs/${id}`, { headers: { 'x-model-provider': '' } });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });

  it('takes a BigQuery table in and out', async () => {
    const job = await client().batches.create({ model: 'gemini-2.0-flash-001', src: 'bq://project.dataset.requests',
      config: { dest: 'bq://project.dataset.predictions' } });
    expect(job.state).toBe(JobState.JOB_STATE_PENDING);
  });

  it('refuses a job without storage locations, in Google\'s shape, naming what Vertex needs', async () => {
    const before = jobs.requests.length;
    const response = await fetch(`${url}/genai/v1beta1/projects/p/locations/l/batchPredictionJobs`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'publishers/google/models/gemini-2.0-flash-001',
        inputConfig: { instancesFormat: 'jsonl' }, outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: 'gs://b/o' } } }) });
    expect(response.status).toBe(400);
    const body = await response.json() as { error: { status: string; message: string } };
    expect(body.error.status).toBe('INVALID_ARGUMENT');
    expect(body.error.message).toMatch(/Cloud Storage or BigQuery.*inputConfig\.gcsSource\.uris/);
    const noDest = await rejectionOf(client().batches.create({ model: 'gemini-2.0-flash-001', src: 'gs://bucket/requests.jsonl',
      config: { dest: 'gs://' } }), ApiError);
    expect([noDest.status, noDest.message]).toEqual([400, expect.stringMatching(/outputConfig\.gcsDestination/)]);
    expect(jobs.requests.length).toBe(before);
  });
});
