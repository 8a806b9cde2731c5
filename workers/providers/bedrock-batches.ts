// OpenAI's Files and Batch APIs on Bedrock's batch inference, as Bifrost serves them: a batch file uploaded through
// /v1/files goes to the key's S3 bucket (`bedrock_key_config.batch_s3_config`), each OpenAI line written as Bedrock's
// batch record `{recordId, modelInput}`, the input the model's InvokeModel takes (Anthropic's Messages body, Amazon
// Nova's messages-v1); a batch is a model invocation job reading that object (CreateModelInvocationJob, with the
// configured role) and writing beside it; the job reads back as OpenAI's batch object, and its `*.jsonl.out` output
// as OpenAI's batch output lines, each model output as the chat.completion the adapter makes of that family's answer.
// Ids are Bifrost's: a file's is its `s3://bucket/key`, a batch's the job's ARN.
//
// The S3 layout, under the bucket's prefix: `heimdall-batch-input/{model}/{uuid}-{name}.jsonl` for an upload, and
// `heimdall-batch-output/{model}/` for a job's output, where Bedrock writes `{jobId}/{input name}.out` and
// `{jobId}/manifest.json.out` (the record counts). The model in both paths is what the lines named: the job's model
// at create (through the key's `deployments`), and the chat.completion's `model` in the output.

import { randomUUID } from 'node:crypto';
import type { FilesRequest } from '../../src/contract/messages.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { chatCompletionFromMessage, toAnthropicRequest } from './anthropic-shared.js';
import { isObject, type Json } from './json.js';
import type { CallTarget, OpenAIBatchAnswerContext, UpstreamCall } from './types.js';

const KEY_CONFIG = 'bedrock_key_config';
const BATCH_CONFIG = `${KEY_CONFIG}.batch_s3_config`;
const INPUT_DIR = 'heimdall-batch-input';
const OUTPUT_DIR = 'heimdall-batch-output';
/** The key prefix both share, which a file list reads. */
const LISTED = 'heimdall-batch-';
/** Object key metadata: the file's OpenAI id, so that an upload's answer can name the object it wrote. */
const FILE_ID_HEADER = 'x-amz-meta-heimdall-file-id';
/** Model names that stand as one S3 key segment as they are (Bedrock ids, inference profiles, aliases). */
const MODEL_SEGMENT = /^[A-Za-z0-9._:-]+$/;
/** Bedrock's bounds on a job's timeout, in hours (CreateModelInvocationJob's `timeoutDurationInHours`). */
const MIN_HOURS = 24;
const MAX_HOURS = 168;

/** What the bedrock adapter lends: its key settings, its S3 and control plane calls, and its Converse translation. */
export interface BedrockBatchDeps {
  deployments(target: CallTarget): Readonly<Record<string, string>>;
  /** `/files/{bucket}/{key}`: S3, signed for `s3`; any other path: the Bedrock control plane. */
  filesCall(request: FilesRequest, target: CallTarget): UpstreamCall;
  /** An OpenAI chat request as a Converse request, and the fields Converse has no place for. */
  converseRequest(chat: Json): { request: Json; dropped: string[] };
  /** A Converse answer (Nova's InvokeModel answer has its shape) as a chat.completion, serialised. */
  converseAnswer(text: string, model: string): string;
}

interface Storage {
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  roleArn: string | null;
}

const missing = (what: string): GatewayError => new GatewayError('BATCH_CONFIG_MISSING', `${BATCH_CONFIG}.${what} is not set for `
  + `the key: OpenAI's files and batches on Bedrock need it (providers.<name>.keys[].${BATCH_CONFIG}: { buckets: [{ bucket_name, `
  + 'prefix }], role_arn }; see docs/files-and-batches.md)', { param: 'provider' });

/** The key's batch bucket (the one marked `is_default`, else the first) and role. */
function storage(target: CallTarget): Storage {
  const config = target.key.configs[KEY_CONFIG];
  const batch = isObject(config) && isObject(config.batch_s3_config) ? config.batch_s3_config : {};
  const buckets = Array.isArray(batch.buckets) ? batch.buckets.filter(isObject) : [];
  const chosen = buckets.find((bucket) => bucket.is_default === true) ?? buckets[0];
  if (!chosen || typeof chosen.bucket_name !== 'string' || chosen.bucket_name === '') throw missing('buckets');
  const prefix = typeof chosen.prefix === 'string' ? chosen.prefix.replace(/^\/+|\/+$/g, '') : '';
  return { bucket: chosen.bucket_name, prefix: prefix === '' ? '' : `${prefix}/`,
    roleArn: typeof batch.role_arn === 'string' && batch.role_arn !== '' ? batch.role_arn : null };
}

// ---------------------------------------------------------------------------------------------------------------
// S3 locations

interface S3Location {
  bucket: string;
  key: string;
}

function parseS3Uri(uri: string, what: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`${what} '${uri}' is not an s3://bucket/key URI (a file this gateway wrote to Bedrock's S3)`);
  return { bucket: match[1], key: match[2] };
}

const s3Uri = (location: S3Location) => `s3://${location.bucket}/${location.key}`;

/** The S3 call's path: each key segment percent-encoded once, as S3 signs it. */
const objectPath = (location: S3Location) =>
  `/files/${encodeURIComponent(location.bucket)}/${location.key.split('/').map(encodeURIComponent).join('/')}`;

/** The id in an OpenAI path (`/v1/files/{id}…`, `/v1/batches/{id}…`), decoded. */
function idIn(path: string, collection: 'files' | 'batches'): string {
  const segment = new RegExp(`/${collection}/([^/]+)`).exec(path)?.[1] ?? '';
  return decodeURIComponent(segment);
}

const baseName = (key: string) => key.slice(key.lastIndexOf('/') + 1);

/** The model a path of this layout names (`…/heimdall-batch-output/{model}/…`), or null. */
function modelInPath(key: string, dir: string): string | null {
  const match = new RegExp(`(?:^|/)${dir}/([^/]+)/`).exec(key);
  return match ? match[1] : null;
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAI batch lines → Bedrock batch records, by the model's family

interface Family {
  readonly name: string;
  readonly models: RegExp;
  modelInput(chat: Json, deps: BedrockBatchDeps): Json;
}

/** Anthropic's Messages body as Bedrock's InvokeModel takes it: its version in the body, no model, no stream. */
const ANTHROPIC: Family = {
  name: 'Anthropic Claude',
  models: /(^|[./])anthropic\.claude/,
  modelInput(chat) {
    const { body, droppedParams } = toAnthropicRequest({ ...chat, stream: false });
    refuseDropped(droppedParams, this.name);
    return { anthropic_version: 'bedrock-2023-05-31', ...body };
  },
};

/** A batch has no answer headers to report dropped fields in: a field the model's input has no place for is refused. */
function refuseDropped(dropped: readonly string[], family: string): void {
  if (dropped.length > 0) throw new Error(`${family}'s batch input has no place for ${dropped.map((name) => `'${name}'`).join(', ')}`);
}

/** Nova's messages-v1 is Converse's request with its own names for the inference settings. */
const NOVA: Family = {
  name: 'Amazon Nova',
  models: /(^|[./])amazon\.nova-(?!canvas|reel|sonic)/,
  modelInput(chat, deps) {
    const { request, dropped } = deps.converseRequest(chat);
    const { inferenceConfig, additionalModelRequestFields, ...rest } = request;
    const config = isObject(inferenceConfig) ? inferenceConfig : {};
    const { top_k: _topK, ...unknown } = isObject(additionalModelRequestFields) ? additionalModelRequestFields : {};
    const extra = isObject(additionalModelRequestFields) ? additionalModelRequestFields : {};
    refuseDropped([...dropped, ...Object.keys(unknown)], this.name);
    const nova: Json = { ...(config.maxTokens === undefined ? {} : { max_new_tokens: config.maxTokens }),
      ...(config.temperature === undefined ? {} : { temperature: config.temperature }), ...(config.topP === undefined ? {} : { top_p: config.topP }),
      ...(config.stopSequences === undefined ? {} : { stopSequences: config.stopSequences }), ...(extra.top_k === undefined ? {} : { top_k: extra.top_k }) };
    return { schemaVersion: 'messages-v1', ...rest, ...(Object.keys(nova).length > 0 ? { inferenceConfig: nova } : {}) };
  },
};

const FAMILIES: readonly Family[] = [ANTHROPIC, NOVA];

function familyOf(modelId: string): Family {
  const family = FAMILIES.find((candidate) => candidate.models.test(modelId));
  if (!family) {
    throw new Error(`model '${modelId}' is of a family whose batch input Heimdall does not write from a chat request; batches run on `
      + `${FAMILIES.map((f) => f.name).join(' and ')} models`);
  }
  return family;
}

const modelIdOf = (model: string, target: CallTarget, deps: BedrockBatchDeps): string => {
  const deployments = deps.deployments(target);
  return Object.hasOwn(deployments, model) ? deployments[model] : model;
};

/** The OpenAI batch JSONL (checked by the front: custom_id, a chat body, one model) as Bedrock's records. */
function records(jsonl: string, family: Family, deps: BedrockBatchDeps): string {
  return jsonl.split('\n').filter((line) => line.trim() !== '').map((line, i) => {
    const request = JSON.parse(line) as Json;
    const { model: _model, ...chat } = isObject(request.body) ? request.body : {};
    try {
      return JSON.stringify({ recordId: request.custom_id, modelInput: family.modelInput(chat, deps) });
    } catch (error) {
      throw new Error(`line ${i + 1} of the batch file: ${(error as Error).message}`);
    }
  }).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Bedrock jobs → OpenAI batches

/** Bedrock's job status as OpenAI's batch status. */
const STATUS: Readonly<Record<string, string>> = {
  Submitted: 'validating', Validating: 'validating', Scheduled: 'validating', InProgress: 'in_progress', Stopping: 'cancelling',
  Stopped: 'cancelled', Completed: 'completed', PartiallyCompleted: 'completed', Failed: 'failed', Expired: 'expired',
};
const DONE = new Set(['Completed', 'PartiallyCompleted']);

const epoch = (value: unknown): number | null => {
  const ms = typeof value === 'string' && value !== '' ? Date.parse(value) : typeof value === 'number' ? value * 1000 : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
};

const s3UriIn = (config: unknown, field: string): string | null => {
  const inner = isObject(config) ? config[field] : undefined;
  return isObject(inner) && typeof inner.s3Uri === 'string' ? inner.s3Uri : null;
};

/** Where Bedrock writes a finished job's output for its input file: `{output uri}/{job id}/{input name}.out`. */
function outputFileOf(job: Json): string | null {
  const input = s3UriIn(job.inputDataConfig, 's3InputDataConfig');
  const output = s3UriIn(job.outputDataConfig, 's3OutputDataConfig');
  const arn = typeof job.jobArn === 'string' ? job.jobArn : '';
  if (!input || !output || arn === '') return null;
  return `${output.endsWith('/') ? output : `${output}/`}${arn.slice(arn.lastIndexOf('/') + 1)}/${baseName(input)}.out`;
}

/** A Bedrock job (GetModelInvocationJob's answer, or a list's summary) as OpenAI's batch object. */
export function openAIBatchOfJob(job: Json, inputFileId?: string): Json {
  const status = typeof job.status === 'string' ? job.status : '';
  const state = STATUS[status] ?? 'validating';
  const ended = epoch(job.endTime);
  const message = typeof job.message === 'string' && job.message !== '' ? job.message : null;
  const failed = state === 'failed' || state === 'expired' || status === 'PartiallyCompleted';
  return {
    id: job.jobArn,
    object: 'batch',
    endpoint: '/v1/chat/completions',
    errors: failed && message ? { object: 'list', data: [{ code: status, message, param: null, line: null }] } : null,
    input_file_id: s3UriIn(job.inputDataConfig, 's3InputDataConfig') ?? inputFileId ?? null,
    completion_window: '24h',
    status: state,
    output_file_id: DONE.has(status) ? outputFileOf(job) : null,
    error_file_id: null,
    created_at: epoch(job.submitTime) ?? Math.floor(Date.now() / 1000),
    in_progress_at: state === 'validating' ? null : epoch(job.submitTime),
    expires_at: epoch(job.jobExpirationTime),
    finalizing_at: null,
    completed_at: state === 'completed' ? ended : null,
    failed_at: state === 'failed' ? ended : null,
    expired_at: state === 'expired' ? ended : null,
    cancelling_at: state === 'cancelling' ? epoch(job.lastModifiedTime) : null,
    cancelled_at: state === 'cancelled' ? ended : null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: typeof job.jobName === 'string' ? { bedrock_job_name: job.jobName } : null,
  };
}

/** The job's CreateModelInvocationJob body: the batch create's own fields (and Bifrost's `role_arn`, `output_s3_uri`). */
function createJobBody(request: FilesRequest, target: CallTarget, deps: BedrockBatchDeps): string {
  const body = JSON.parse(Buffer.from(request.body ?? new Uint8Array()).toString('utf8') || '{}') as Json;
  const input = parseS3Uri(request.inputFileId ?? String(body.input_file_id ?? ''), "the batch's input_file_id");
  const model = modelInPath(input.key, INPUT_DIR);
  if (!model) throw new Error(`the input file '${s3Uri(input)}' was not uploaded through this gateway's /v1/files, which names its model`);
  if (body.endpoint !== undefined && body.endpoint !== '/v1/chat/completions') {
    throw new Error(`only the endpoint '/v1/chat/completions' runs on Bedrock's batch inference (got '${String(body.endpoint)}')`);
  }
  // Bifrost's per-call fields, over the key's settings.
  const settings = storage(target);
  const roleArn = typeof body.role_arn === 'string' && body.role_arn !== '' ? body.role_arn : settings.roleArn;
  if (!roleArn) throw missing('role_arn');
  const outputUri = typeof body.output_s3_uri === 'string' && body.output_s3_uri !== '' ? body.output_s3_uri
    : `s3://${input.bucket}/${settings.prefix}${OUTPUT_DIR}/${model}/`;
  const window = typeof body.completion_window === 'string' ? /^(\d+)h$/.exec(body.completion_window) : null;
  const hours = window ? Math.min(MAX_HOURS, Math.max(MIN_HOURS, Number(window[1]))) : MIN_HOURS;
  return JSON.stringify({
    // Bedrock's job names: letters, digits and hyphens, 63 at most.
    jobName: `heimdall-batch-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    modelId: modelIdOf(model, target, deps),
    roleArn,
    inputDataConfig: { s3InputDataConfig: { s3Uri: s3Uri(input), s3InputFormat: 'JSONL' } },
    outputDataConfig: { s3OutputDataConfig: { s3Uri: outputUri } },
    timeoutDurationInHours: hours,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Bedrock's output records → OpenAI's batch output lines

function outputLines(jsonl: string, model: string, deps: BedrockBatchDeps): string {
  const lines = jsonl.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const record = JSON.parse(line) as Json;
    const id = String(record.recordId ?? '');
    const base = { id: `batch_req_${id}`, custom_id: id };
    const output = record.modelOutput;
    if (isObject(output) && !isObject(record.error)) {
      const text = JSON.stringify(output);
      // The family by the answer's own shape: Anthropic's message, or Converse's (Nova's) output.
      const body = output.type === 'message' ? chatCompletionFromMessage(text, model).body : deps.converseAnswer(text, model);
      return { ...base, response: { status_code: 200, request_id: '', body: JSON.parse(body) as Json }, error: null };
    }
    const error = isObject(record.error) ? record.error : {};
    return { ...base, response: null, error: { code: error.errorCode === undefined ? 'model_error' : String(error.errorCode),
      message: typeof error.errorMessage === 'string' ? error.errorMessage : 'the record failed' } };
  });
  return lines.map((line) => JSON.stringify(line)).join('\n') + (lines.length > 0 ? '\n' : '');
}

// ---------------------------------------------------------------------------------------------------------------
// The steps

const jobPath = (request: FilesRequest, rest = '') => `/model-invocation-job/${encodeURIComponent(idIn(request.path, 'batches'))}${rest}`;

/** Where each step goes: S3 for files, the control plane for jobs; an upload's body written as Bedrock's records. */
export function bedrockBatchCall(request: FilesRequest, target: CallTarget, deps: BedrockBatchDeps): UpstreamCall {
  const at = (method: FilesRequest['method'], path: string, body: string | null = null, query = ''): UpstreamCall =>
    deps.filesCall({ ...request, method, path, query, contentType: body === null ? null : 'application/json',
      body: body === null ? null : Buffer.from(body) }, target);
  switch (request.translate) {
    case 'upload': {
      const settings = storage(target);
      const jsonl = Buffer.from(request.body ?? new Uint8Array()).toString('utf8');
      const model = (JSON.parse(jsonl.slice(0, jsonl.indexOf('\n') === -1 ? undefined : jsonl.indexOf('\n'))) as { body: { model: string } }).body.model;
      if (!MODEL_SEGMENT.test(model)) {
        throw new Error(`model '${model}' cannot name a batch: give it an alias in ${KEY_CONFIG}.deployments and name that`);
      }
      const family = familyOf(modelIdOf(model, target, deps));
      const name = (request.fileName ?? 'batch.jsonl').replace(/[^A-Za-z0-9._-]/g, '_').replace(/(\.jsonl)?$/, '.jsonl');
      const location = { bucket: settings.bucket, key: `${settings.prefix}${INPUT_DIR}/${model}/${randomUUID()}-${name}` };
      const call = deps.filesCall({ ...request, method: 'PUT', path: objectPath(location), query: '', contentType: 'application/jsonl',
        body: Buffer.from(records(jsonl, family, deps)) }, target);
      return { ...call, headers: { ...call.headers, [FILE_ID_HEADER]: s3Uri(location) } };
    }
    case 'files-list': {
      // The batch files of the key's default bucket, inputs and outputs; OpenAI's `after` (a file id) is S3's
      // `start-after` (its key), its `limit` S3's `max-keys`.
      const settings = storage(target);
      const params = new URLSearchParams(request.query);
      const query = new URLSearchParams({ 'list-type': '2', prefix: `${settings.prefix}${LISTED}` });
      const limit = Number(params.get('limit'));
      if (Number.isInteger(limit) && limit > 0) query.set('max-keys', String(Math.min(limit, 1000)));
      const after = params.get('after');
      if (after) query.set('start-after', parseS3Uri(after, "the list's after").key);
      return deps.filesCall({ ...request, method: 'GET', path: `/files/${encodeURIComponent(settings.bucket)}`, query: query.toString(),
        contentType: null, body: null }, target);
    }
    case 'file':
    case 'file-content':
    case 'counts': {
      const location = parseS3Uri(idIn(request.path, 'files'), 'the file id');
      // A batch's counts are in the manifest Bedrock writes beside its output.
      const object = request.translate === 'counts'
        ? { ...location, key: `${location.key.slice(0, location.key.lastIndexOf('/') + 1)}manifest.json.out` } : location;
      return { ...deps.filesCall({ ...request, method: 'GET', path: objectPath(object), query: '', contentType: null, body: null }, target) };
    }
    case 'file-delete':
      return deps.filesCall({ ...request, method: 'DELETE', path: objectPath(parseS3Uri(idIn(request.path, 'files'), 'the file id')), query: '',
        contentType: null, body: null }, target);
    case 'create':
      return at('POST', '/model-invocation-job', createJobBody(request, target, deps));
    case 'list': {
      // OpenAI's `limit` is Bedrock's page size; its `after` (a batch id) has no counterpart in Bedrock's paging.
      const limit = Number(new URLSearchParams(request.query).get('limit'));
      const query = Number.isInteger(limit) && limit > 0 ? `maxResults=${Math.min(limit, 1000)}&sortOrder=Descending` : 'sortOrder=Descending';
      return at('GET', '/model-invocation-jobs', null, query);
    }
    case 'cancel':
      return at('POST', jobPath(request, '/stop'));
    case 'batch':
      return at('GET', jobPath(request));
    default:
      throw new Error(`the step '${String(request.translate)}' has no counterpart on Bedrock`);
  }
}

const jsonAnswer = (body: unknown) => ({ contentType: 'application/json', body: JSON.stringify(body) });

/** An upload's object is named `{uuid}-{name}`: its file name is the name. */
const UPLOAD_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-/;

function fileObject(id: string, bytes: number, createdAt: number | null): Json {
  return { id, object: 'file', bytes, created_at: createdAt ?? Math.floor(Date.now() / 1000),
    filename: baseName(parseS3Uri(id, 'the file id').key).replace(UPLOAD_NAME, ''),
    purpose: 'batch', status: 'processed', expires_at: null, status_details: null };
}

/** An XML element's text, unescaped (S3 escapes keys in its list). */
const xmlText = (xml: string, name: string): string | null => {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match ? match[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&') : null;
};

/** ListObjectsV2's answer as OpenAI's file list: the batch inputs and the outputs (`batch_output`), not the manifests. */
function fileList(xml: string): Json {
  const bucket = xmlText(xml, 'Name') ?? '';
  const data: Json[] = [...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((match) => match[1]).flatMap((entry) => {
    const key = xmlText(entry, 'Key') ?? '';
    if (!key.endsWith('.jsonl') && !key.endsWith('.jsonl.out')) return [];
    return [{ ...fileObject(`s3://${bucket}/${key}`, Number(xmlText(entry, 'Size') ?? 0), epoch(xmlText(entry, 'LastModified'))),
      purpose: key.endsWith('.out') ? 'batch_output' : 'batch' }];
  });
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null,
    has_more: xmlText(xml, 'IsTruncated') === 'true' };
}

/** Each step's answer in OpenAI's shape. */
export function bedrockBatchAnswer(request: FilesRequest, text: string, context: OpenAIBatchAnswerContext, deps: BedrockBatchDeps):
  { body: string; contentType: string } {
  switch (request.translate) {
    case 'upload': {
      // The object's size as written (Bedrock's records), as a later retrieve tells it; the name as the client gave it.
      const id = context.sentHeaders[FILE_ID_HEADER];
      return jsonAnswer({ ...fileObject(id, context.sentBytes, null), filename: request.fileName ?? baseName(id) });
    }
    case 'files-list':
      return jsonAnswer(fileList(text));
    case 'file': {
      const id = idIn(request.path, 'files');
      return jsonAnswer(fileObject(id, Buffer.byteLength(text), epoch(context.answerHeaders['last-modified'])));
    }
    case 'file-delete':
      return jsonAnswer({ id: idIn(request.path, 'files'), object: 'file', deleted: true });
    case 'file-content': {
      const key = parseS3Uri(idIn(request.path, 'files'), 'the file id').key;
      // An input file is Bedrock's records as written; an output file, OpenAI's output lines.
      if (!key.endsWith('.out')) return { contentType: 'application/jsonl', body: text };
      return { contentType: 'application/jsonl', body: outputLines(text, modelInPath(key, OUTPUT_DIR) ?? '', deps) };
    }
    case 'counts': {
      const manifest = JSON.parse(text) as Json;
      const n = (name: string) => (typeof manifest[name] === 'number' ? manifest[name] as number : 0);
      const batch = JSON.parse(request.batch ?? '{}') as Json;
      return jsonAnswer({ ...batch, request_counts: { total: n('totalRecordCount'), completed: n('successRecordCount'), failed: n('errorRecordCount') } });
    }
    case 'create': {
      const created = JSON.parse(text) as Json;
      return jsonAnswer(openAIBatchOfJob({ jobArn: created.jobArn, status: 'Submitted' }, request.inputFileId));
    }
    case 'cancel':
      return jsonAnswer(openAIBatchOfJob({ jobArn: idIn(request.path, 'batches'), status: 'Stopping', lastModifiedTime: new Date().toISOString() }));
    case 'list': {
      const parsed = JSON.parse(text) as Json;
      const data = (Array.isArray(parsed.invocationJobSummaries) ? parsed.invocationJobSummaries.filter(isObject) : []).map((job) => openAIBatchOfJob(job));
      return jsonAnswer({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null,
        has_more: typeof parsed.nextToken === 'string' && parsed.nextToken !== '' });
    }
    default:
      return jsonAnswer(openAIBatchOfJob(JSON.parse(text) as Json));
  }
}
