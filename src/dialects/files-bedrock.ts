// Bedrock's batch inference under /bedrock, as the AWS SDK's Bedrock client calls it (`endpoint` at
// `${gateway}/bedrock`): CreateModelInvocationJob, GetModelInvocationJob, ListModelInvocationJobs and
// StopModelInvocationJob. Its input and output are S3 objects, which Bifrost serves as an S3-like API at
// `/bedrock/files/{bucket}/{key}` (an S3 client with that endpoint, path-style): PutObject, GetObject (HEAD too),
// DeleteObject and ListObjectsV2. A bucket's owner (the provider and key that first wrote to it through the
// gateway) serves every call about it and every job that reads from it.

import type { FilesApi } from '../contract/providers.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingRequest, Route } from '../http/server.js';
import {
  bodyAsIs, filesRoute, idsOf, isJsonObject, jsonBody, queryWithoutProvider, segmentAfter, type FilesDeps, type FilesOperation,
  type FilesRouteApi, type PreparedCall,
} from '../pipeline/files.js';
import { bedrockErrorBody, bedrockErrorHeaders } from './bedrock-wire.js';

const API: FilesApi = 'bedrock';
const FILES = '/bedrock/files/';

/** `s3://bucket`: what owns an object is its bucket, so objects a job wrote are found as the ones uploaded. */
const bucketId = (bucket: string) => `s3://${bucket}`;

function objectCall(method: 'GET' | 'PUT' | 'DELETE', request: IncomingRequest): PreparedCall {
  // Kept percent-encoded as the client sent it: S3 signs the path as it is sent.
  const rest = request.path.slice(request.path.indexOf(FILES) + FILES.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  if (!bucket) throw new GatewayError('INVALID_REQUEST', 'the path names no bucket: /bedrock/files/{bucket}/{key}');
  if (!key && method !== 'GET') throw new GatewayError('INVALID_REQUEST', 'the path names no object key: /bedrock/files/{bucket}/{key}');
  let decodedBucket: string;
  try {
    decodedBucket = decodeURIComponent(bucket);
  } catch {
    throw new GatewayError('INVALID_REQUEST', `the bucket in the path is not valid percent-encoding: '${bucket}'`);
  }
  const body = method === 'PUT' ? bodyAsIs(request) : { contentType: null, body: null };
  return { refersTo: bucketId(decodedBucket), upstream: { method, path: `/files/${bucket}${key ? `/${key}` : ''}`,
    query: queryWithoutProvider(request.query), ...body } };
}

/** The bucket an `s3://bucket/key` URI names, or null. */
function bucketOfUri(uri: unknown): string | null {
  const match = typeof uri === 'string' ? /^s3:\/\/([^/]+)/.exec(uri) : null;
  return match ? bucketId(match[1]) : null;
}

function createJobCall(request: IncomingRequest): PreparedCall {
  const body = jsonBody(request);
  const input = isJsonObject(body.inputDataConfig) && isJsonObject(body.inputDataConfig.s3InputDataConfig)
    ? body.inputDataConfig.s3InputDataConfig.s3Uri : undefined;
  return { refersTo: bucketOfUri(input), model: typeof body.modelId === 'string' ? body.modelId : null,
    upstream: { method: 'POST', path: '/model-invocation-job', query: '', ...bodyAsIs(request) } };
}

/** A job's ARN and its id (the ARN's last segment): clients name a job by either. */
function jobIds(json: unknown): string[] {
  const arns = [...idsOf(json, 'jobArn', 'invocationJobSummaries')];
  return arns.flatMap((arn) => [arn, arn.slice(arn.lastIndexOf('/') + 1)]);
}

function operations(): FilesOperation[] {
  const jobId = (request: IncomingRequest) => segmentAfter(request.path, '/model-invocation-job/');
  const jobPath = (request: IncomingRequest, rest = '') => `/model-invocation-job/${encodeURIComponent(jobId(request))}${rest}`;
  const getJob = (request: IncomingRequest): PreparedCall =>
    ({ id: jobId(request), upstream: { method: 'GET', path: jobPath(request), query: '', contentType: null, body: null } });
  const wroteTo = (_json: unknown, prepared: PreparedCall) => ({ remember: prepared.refersTo ? [prepared.refersTo] : [] });
  return [
    { method: 'put', path: `${FILES}*`, label: '/bedrock/files/{bucket}/{key}', readBody: true,
      prepare: (request) => objectCall('PUT', request), learn: wroteTo },
    { method: 'get', path: `${FILES}*`, label: '/bedrock/files/{bucket}/{key}', readBody: false, prepare: (request) => objectCall('GET', request) },
    { method: 'delete', path: `${FILES}*`, label: '/bedrock/files/{bucket}/{key}', readBody: false,
      prepare: (request) => objectCall('DELETE', request) },
    { method: 'post', path: '/bedrock/model-invocation-job', readBody: true, prepare: createJobCall,
      learn: (json) => ({ remember: jobIds(json) }) },
    { method: 'get', path: '/bedrock/model-invocation-jobs', readBody: false,
      lists: true, prepare: (request) => ({ upstream: { method: 'GET', path: '/model-invocation-jobs', query: queryWithoutProvider(request.query),
        contentType: null, body: null } }),
      learn: (json) => ({ remember: jobIds(json) }) },
    { method: 'get', path: '/bedrock/model-invocation-job/:id', label: '/bedrock/model-invocation-job/{id}', readBody: false, prepare: getJob },
    { method: 'post', path: '/bedrock/model-invocation-job/:id/stop', label: '/bedrock/model-invocation-job/{id}/stop', readBody: true,
      prepare: (request) => ({ id: jobId(request), upstream: { method: 'POST', path: jobPath(request, '/stop'), query: '',
        contentType: null, body: null } }) },
  ];
}

const BEDROCK_FILES: FilesRouteApi = Object.freeze({
  api: API,
  defaultProvider: 'bedrock',
  errorBody: (error: Parameters<typeof bedrockErrorBody>[0]) => bedrockErrorBody(error),
  errorHeaders: bedrockErrorHeaders,
  forwardHeaders: [],
});

export function bedrockFilesRoutes(deps: FilesDeps): Route[] {
  return operations().map((operation) => filesRoute(deps, BEDROCK_FILES, operation));
}
