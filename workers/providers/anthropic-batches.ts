// OpenAI's Batch API on Anthropic's Message Batches: a batch of OpenAI chat requests (the JSONL the gateway holds
// for the client) becomes one Message Batch, each line's body the Messages request the adapter makes of a chat
// request; a Message Batch reads back as OpenAI's batch object, its results as OpenAI's batch output JSONL, each
// message as the chat.completion the adapter makes of it. Its output file is BATCH_OUTPUT_FILE_PREFIX and the batch
// id, which the gateway reads back here (results).

import { BATCH_OUTPUT_FILE_PREFIX, type FilesRequest, type JobData } from '../../src/contract/messages.js';
import { chatCompletionFromMessage, toAnthropicRequest } from './anthropic-shared.js';
import { isObject, type Json } from './json.js';

const epoch = (value: unknown): number | null => (typeof value === 'string' && value !== '' ? Math.floor(Date.parse(value) / 1000) : null);

/** The Message Batch's requests: each OpenAI line's chat body as Anthropic's Messages params. */
export function messageBatchBody(jsonl: string): string {
  const requests = jsonl.split('\n').filter((line) => line.trim() !== '').map((line, i) => {
    const request = JSON.parse(line) as Json;
    const body = isObject(request.body) ? request.body : {};
    if (typeof body.model !== 'string' || body.model === '') throw new Error(`line ${i + 1}: body.model is required`);
    // The Messages API refuses a stream inside a batch, and the answer is read whole.
    const { body: params } = toAnthropicRequest({ ...body, stream: false });
    return { custom_id: request.custom_id, params: { model: body.model, ...params } };
  });
  return JSON.stringify({ requests });
}

function status(batch: Json, counts: Json): string {
  if (batch.processing_status === 'in_progress') return 'in_progress';
  if (batch.processing_status === 'canceling') return 'cancelling';
  const n = (name: string) => (typeof counts[name] === 'number' ? counts[name] as number : 0);
  if (n('succeeded') + n('errored') === 0 && n('canceled') > 0) return 'cancelled';
  if (n('succeeded') + n('errored') === 0 && n('expired') > 0) return 'expired';
  return 'completed';
}

/** A Message Batch as OpenAI's batch object. */
export function openAIBatchOf(batch: Json, inputFileId: string | undefined): Json {
  const counts = isObject(batch.request_counts) ? batch.request_counts : {};
  const n = (name: string) => (typeof counts[name] === 'number' ? counts[name] as number : 0);
  const state = status(batch, counts);
  const ended = batch.processing_status === 'ended';
  return {
    id: batch.id,
    object: 'batch',
    endpoint: '/v1/chat/completions',
    errors: null,
    input_file_id: inputFileId ?? null,
    completion_window: '24h',
    status: state,
    output_file_id: ended ? `${BATCH_OUTPUT_FILE_PREFIX}${String(batch.id)}` : null,
    error_file_id: null,
    created_at: epoch(batch.created_at),
    in_progress_at: epoch(batch.created_at),
    expires_at: epoch(batch.expires_at),
    finalizing_at: ended ? epoch(batch.ended_at) : null,
    completed_at: state === 'completed' ? epoch(batch.ended_at) : null,
    failed_at: null,
    expired_at: state === 'expired' ? epoch(batch.ended_at) : null,
    cancelling_at: epoch(batch.cancel_initiated_at),
    cancelled_at: state === 'cancelled' ? epoch(batch.ended_at) : null,
    request_counts: { total: n('processing') + n('succeeded') + n('errored') + n('canceled') + n('expired'), completed: n('succeeded'),
      failed: n('errored') + n('canceled') + n('expired') },
    metadata: null,
  };
}

const RESULT_ERRORS: Readonly<Record<string, string>> = { canceled: 'batch_cancelled', expired: 'batch_expired' };

/** The Message Batch's results (JSONL) as OpenAI's batch output lines. */
export function openAIResultsOf(jsonl: string): string {
  const lines = jsonl.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const entry = JSON.parse(line) as Json;
    const result = isObject(entry.result) ? entry.result : {};
    const id = `batch_req_${String(entry.custom_id)}`;
    if (result.type === 'succeeded' && isObject(result.message)) {
      const message = result.message;
      const job = { model: String(message.model ?? '') } as JobData;
      const completion = chatCompletionFromMessage(JSON.stringify(message), job.model).body;
      return { id, custom_id: entry.custom_id, response: { status_code: 200, request_id: String(message.id ?? ''), body: JSON.parse(completion) as Json },
        error: null };
    }
    const error = isObject(result.error) && isObject(result.error.error) ? result.error.error : isObject(result.error) ? result.error : {};
    const code = typeof error.type === 'string' ? error.type : RESULT_ERRORS[String(result.type)] ?? String(result.type);
    const message = typeof error.message === 'string' ? error.message : `the request was ${String(result.type)}`;
    return { id, custom_id: entry.custom_id, response: null, error: { code, message } };
  });
  return lines.map((line) => JSON.stringify(line)).join('\n') + (lines.length > 0 ? '\n' : '');
}

/** Where each step goes in the Message Batches API, and its body. */
export function messageBatchRequest(request: FilesRequest): FilesRequest {
  const id = decodeURIComponent(/\/batches\/([^/]+)/.exec(request.path)?.[1] ?? '');
  const at = (method: FilesRequest['method'], path: string, body: string | null = null): FilesRequest =>
    ({ ...request, method, path, query: '', contentType: body === null ? null : 'application/json', body: body === null ? null : Buffer.from(body) });
  switch (request.translate) {
    case 'create':
      return at('POST', '/v1/messages/batches', messageBatchBody(Buffer.from(request.body ?? new Uint8Array()).toString('utf8')));
    case 'list': {
      // OpenAI pages with `after` (a batch id), Anthropic with `after_id`; `limit` is both's.
      const query = new URLSearchParams(request.query);
      const after = query.get('after');
      query.delete('after');
      if (after) query.set('after_id', after);
      return { ...at('GET', '/v1/messages/batches'), query: query.toString() };
    }
    case 'cancel':
      return at('POST', `/v1/messages/batches/${encodeURIComponent(id)}/cancel`);
    case 'results':
      return at('GET', `/v1/messages/batches/${encodeURIComponent(id)}/results`);
    default:
      return at('GET', `/v1/messages/batches/${encodeURIComponent(id)}`);
  }
}

/** The answer in OpenAI's shapes: a batch, a list of batches, or the output JSONL. */
export function openAIBatchAnswer(request: FilesRequest, text: string): { body: string; contentType: string } {
  if (request.translate === 'results') return { body: openAIResultsOf(text), contentType: 'application/jsonl' };
  const parsed = JSON.parse(text) as Json;
  if (request.translate === 'list') {
    const data = (Array.isArray(parsed.data) ? parsed.data as Json[] : []).map((batch) => openAIBatchOf(batch, undefined));
    return { contentType: 'application/json', body: JSON.stringify({ object: 'list', data, first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null, has_more: parsed.has_more === true }) };
  }
  return { contentType: 'application/json', body: JSON.stringify(openAIBatchOf(parsed, request.inputFileId)) };
}
