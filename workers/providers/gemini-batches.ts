// OpenAI's Batch API on Gemini's batches (`models/{model}:batchGenerateContent` with inline requests): a batch of
// OpenAI chat requests (the JSONL the gateway holds for the client) becomes one Gemini batch, each line's body the
// generateContent request the adapter makes of a chat request, keyed by its custom_id; the batch (a long-running
// operation) reads back as OpenAI's batch object, its inlined responses as OpenAI's batch output JSONL, each as the
// chat.completion the adapter makes of it. A Gemini batch runs one model: lines naming several are refused. The
// OpenAI batch id is the batch's name without `batches/`.

import { BATCH_OUTPUT_FILE_PREFIX, type FilesRequest, type JobData } from '../../src/contract/messages.js';
import { geminiChatAnswer, geminiChatRequest } from './gemini-shared.js';
import { isObject, type Json } from './json.js';

const STATUS: Readonly<Record<string, string>> = {
  BATCH_STATE_PENDING: 'validating', BATCH_STATE_RUNNING: 'in_progress', BATCH_STATE_SUCCEEDED: 'completed', BATCH_STATE_FAILED: 'failed',
  BATCH_STATE_CANCELLED: 'cancelled', BATCH_STATE_EXPIRED: 'expired',
};

const epoch = (value: unknown): number | null => (typeof value === 'string' && value !== '' ? Math.floor(Date.parse(value) / 1000) : null);
const count = (value: unknown): number => (typeof value === 'string' || typeof value === 'number' ? Number(value) || 0 : 0);
const chatJob = (model: string, body: Json): JobData => ({ kind: 'chat', requestId: '', model, keyIndex: 0, stream: false, includeUsage: false,
  modelLabel: 0, body });

/** The batch's model and its request: each OpenAI line as an inline generateContent request keyed by its custom_id. */
export function geminiBatchBody(jsonl: string): { model: string; body: string } {
  let model: string | null = null;
  const requests = jsonl.split('\n').filter((line) => line.trim() !== '').map((line, i) => {
    const request = JSON.parse(line) as Json;
    const body = isObject(request.body) ? request.body : {};
    if (typeof body.model !== 'string' || body.model === '') throw new Error(`line ${i + 1}: body.model is required`);
    model ??= body.model;
    if (body.model !== model) throw new Error(`line ${i + 1} names model '${body.model}', line 1 '${model}': a Gemini batch runs one model`);
    return { request: geminiChatRequest(chatJob(model, body)).body, metadata: { key: request.custom_id } };
  });
  return { model: model ?? '', body: JSON.stringify({ batch: { displayName: 'openai-batch', inputConfig: { requests: { requests } } } }) };
}

/** A Gemini batch (its operation, or the batch itself) as OpenAI's batch object. */
export function openAIBatchOfGemini(operation: Json, inputFileId: string | undefined): Json {
  const batch = isObject(operation.metadata) ? operation.metadata : operation;
  const name = String(batch.name ?? operation.name ?? '');
  const id = name.replace(/^batches\//, '');
  const status = STATUS[String(batch.state)] ?? 'in_progress';
  const stats = isObject(batch.batchStats) ? batch.batchStats : {};
  const ended = ['completed', 'failed', 'cancelled', 'expired'].includes(status);
  const at = (state: string) => (status === state ? epoch(batch.endTime ?? batch.updateTime) : null);
  return {
    id, object: 'batch', endpoint: '/v1/chat/completions', errors: null, input_file_id: inputFileId ?? null, completion_window: '24h', status,
    output_file_id: status === 'completed' ? `${BATCH_OUTPUT_FILE_PREFIX}${id}` : null, error_file_id: null,
    created_at: epoch(batch.createTime), in_progress_at: status === 'validating' ? null : epoch(batch.createTime), expires_at: null,
    finalizing_at: ended ? epoch(batch.endTime ?? batch.updateTime) : null, completed_at: at('completed'), failed_at: at('failed'),
    expired_at: at('expired'), cancelling_at: null, cancelled_at: at('cancelled'),
    request_counts: { total: count(stats.requestCount), completed: count(stats.successfulRequestCount), failed: count(stats.failedRequestCount) },
    metadata: null,
  };
}

/** The batch's inlined responses as OpenAI's batch output lines. */
export function openAIResultsOfGemini(operation: Json): string {
  const batch = isObject(operation.metadata) ? operation.metadata : {};
  const output = isObject(operation.response) ? operation.response : isObject(batch.output) ? batch.output : {};
  const holder = isObject(output.inlinedResponses) ? output.inlinedResponses : {};
  const items = Array.isArray(holder.inlinedResponses) ? holder.inlinedResponses as Json[] : [];
  const model = String(batch.model ?? '').replace(/^models\//, '');
  const lines = items.map((item, i) => {
    const key = isObject(item.metadata) ? item.metadata.key : undefined;
    const customId = typeof key === 'string' ? key : `request-${i + 1}`;
    const id = `batch_req_${customId}`;
    if (isObject(item.response)) {
      const body = JSON.parse(geminiChatAnswer(JSON.stringify(item.response), chatJob(model, {})).body) as Json;
      return { id, custom_id: customId, response: { status_code: 200, request_id: String(item.response.responseId ?? ''), body }, error: null };
    }
    const error = isObject(item.error) ? item.error : {};
    return { id, custom_id: customId, response: null, error: { code: String(error.status ?? error.code ?? 'error'), message: String(error.message ?? 'the request failed') } };
  });
  return lines.map((line) => JSON.stringify(line)).join('\n') + (lines.length > 0 ? '\n' : '');
}

/** Where each step goes in Gemini's batches API, and its body. */
export function geminiBatchRequest(request: FilesRequest): FilesRequest {
  const id = decodeURIComponent(/\/batches\/([^/]+)/.exec(request.path)?.[1] ?? '');
  const at = (method: FilesRequest['method'], path: string, body: string | null = null, query = ''): FilesRequest =>
    ({ ...request, method, path, query, contentType: body === null ? null : 'application/json', body: body === null ? null : Buffer.from(body) });
  switch (request.translate) {
    case 'create': {
      const { model, body } = geminiBatchBody(Buffer.from(request.body ?? new Uint8Array()).toString('utf8'));
      return at('POST', `/v1beta/models/${encodeURIComponent(model)}:batchGenerateContent`, body);
    }
    case 'list': {
      const query = new URLSearchParams(request.query);
      const out = new URLSearchParams();
      if (query.get('limit')) out.set('pageSize', query.get('limit')!);
      return at('GET', '/v1beta/batches', null, out.toString());
    }
    case 'cancel':
      return at('POST', `/v1beta/batches/${encodeURIComponent(id)}:cancel`, '{}');
    default:
      return at('GET', `/v1beta/batches/${encodeURIComponent(id)}`);
  }
}

/** The answer in OpenAI's shapes. A cancel answers nothing at Gemini: the batch is then cancelling. */
export function openAIBatchAnswerOfGemini(request: FilesRequest, text: string): { body: string; contentType: string } {
  const parsed = JSON.parse(text === '' ? '{}' : text) as Json;
  if (request.translate === 'results') return { body: openAIResultsOfGemini(parsed), contentType: 'application/jsonl' };
  if (request.translate === 'list') {
    const data = (Array.isArray(parsed.operations) ? parsed.operations as Json[] : []).map((operation) => openAIBatchOfGemini(operation, undefined));
    return { contentType: 'application/json', body: JSON.stringify({ object: 'list', data, first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null, has_more: typeof parsed.nextPageToken === 'string' && parsed.nextPageToken !== '' }) };
  }
  if (request.translate === 'cancel') {
    const id = decodeURIComponent(/\/batches\/([^/]+)/.exec(request.path)?.[1] ?? '');
    return { contentType: 'application/json', body: JSON.stringify({ ...openAIBatchOfGemini({ name: `batches/${id}` }, request.inputFileId),
      status: 'cancelling', cancelling_at: Math.floor(Date.now() / 1000) }) };
  }
  return { contentType: 'application/json', body: JSON.stringify(openAIBatchOfGemini(parsed, request.inputFileId)) };
}
