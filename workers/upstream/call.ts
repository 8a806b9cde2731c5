// Runs one job against an HTTP provider: the adapter builds the call, undici sends it, and the answer (or the
// stream, event by event) goes back through the adapter. Nothing here knows a provider by name.

import type { Readable } from 'node:stream';
import type { ProviderInit } from '../../src/contract/worker-init.js';
import type { ErrorData } from '../../src/errors/error-data.js';
import type { Job } from '../job.js';
import type { HttpAdapter, StreamState } from '../providers/types.js';
import { errorForTransportFailure, errorForUpstreamStatus, parseRetryAfter } from './error-map.js';
import { authHeaders, resolveTarget, type UpstreamClients } from './http-client.js';
import { SseDecoder } from './sse.js';

const MAX_ERROR_TEXT = 500;

export async function runHttpJob(job: Job, adapter: HttpAdapter, provider: ProviderInit,
  clients: UpstreamClients): Promise<void> {
  const baseUrl = provider.baseUrl ?? adapter.defaultBaseUrl;
  if (!baseUrl) {
    job.fail({ code: 'INTERNAL', message: `${provider.name}: no base URL configured`, provider: provider.name });
    return;
  }
  let call;
  try {
    call = adapter.chatCall(job.data);
  } catch (error) {
    job.fail({ code: 'INVALID_REQUEST', message: `${provider.name}: ${(error as Error).message}`, provider: provider.name });
    return;
  }
  const target = resolveTarget(baseUrl, call.path);
  const key = job.data.keyIndex >= 0 ? provider.keys[job.data.keyIndex] ?? null : null;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: job.data.stream ? 'text/event-stream' : 'application/json',
    'x-request-id': job.data.requestId,
    ...provider.extraHeaders,
    ...authHeaders(adapter.auth, key),
  };
  const dropped = call.droppedParams.length > 0 ? call.droppedParams : null;
  try {
    job.markUpstreamStart();
    const response = await clients.poolFor(target.origin).request({
      path: target.path, method: 'POST', headers, body: call.body, signal: job.signal,
    });
    const body = response.body;
    // Without a listener, an abort that destroys the body would surface as an uncaught error.
    body.on('error', () => {});
    if (response.statusCode >= 400) {
      const text = await body.text();
      const message = adapter.errorMessage(text) ?? (text.slice(0, MAX_ERROR_TEXT) || `HTTP ${response.statusCode}`);
      job.fail(errorForUpstreamStatus(provider.name, response.statusCode, message,
        parseRetryAfter(response.headers['retry-after'])));
      return;
    }
    if (!job.data.stream) {
      const text = await body.text();
      let answer;
      try {
        answer = adapter.chatAnswer(text);
      } catch (error) {
        job.fail({ code: 'UPSTREAM_ERROR', message: `${provider.name}: unreadable answer: ${(error as Error).message}`,
          provider: provider.name, upstreamStatus: response.statusCode });
        return;
      }
      job.result(answer.body, answer.usage, dropped);
      return;
    }
    await relayStream(job, adapter, provider.name, body, dropped);
  } catch (error) {
    job.fail(failureFor(job, provider.name, error));
  }
}

function failureFor(job: Job, providerName: string, error: unknown): ErrorData {
  if (job.abortReason === 'timeout') {
    const message = job.streamStarted
      ? `${providerName}: the stream went idle past stream_idle_timeout_in_seconds`
      : `${providerName}: no answer within default_request_timeout_in_seconds`;
    return { code: 'UPSTREAM_TIMEOUT', message, provider: providerName };
  }
  if (job.abortReason) return { code: 'CLIENT_CLOSED', message: 'request cancelled', provider: providerName };
  return errorForTransportFailure(providerName, error, job.streamStarted);
}

function relayStream(job: Job, adapter: HttpAdapter, providerName: string, body: Readable,
  dropped: string[] | null): Promise<void> {
  const decoder = new SseDecoder();
  const state: StreamState = { includeUsage: job.data.includeUsage, model: job.data.model, usage: null };
  return new Promise<void>((resolve) => {
    let done = false;
    const stop = (error: ErrorData | null) => {
      if (error) job.fail(error);
      else job.end(state.usage, dropped);
      body.removeAllListeners('data');
      resolve();
    };
    job.onFlowControl(() => body.pause(), () => body.resume());
    body.on('data', (bytes: Buffer) => {
      if (done) return;
      job.touch();
      const out: string[] = [];
      try {
        for (const event of decoder.push(bytes)) {
          const step = adapter.streamEvent(event, state);
          for (const chunk of step.chunks) out.push(chunk);
          if (step.done) {
            done = true;
            break;
          }
        }
      } catch (error) {
        done = true;
        job.chunks(out);
        stop({ code: job.streamStarted ? 'STREAM_INTERRUPTED' : 'UPSTREAM_ERROR',
          message: `${providerName}: unreadable stream event: ${(error as Error).message}`, provider: providerName });
        return;
      }
      job.chunks(out);
      if (done) stop(null);
    });
    body.on('end', () => {
      if (done) return;
      done = true;
      stop({ code: job.streamStarted ? 'STREAM_INTERRUPTED' : 'UPSTREAM_ERROR',
        message: `${providerName}: the stream ended before its end marker`, provider: providerName });
    });
    body.on('error', (error) => {
      if (done) return;
      done = true;
      stop(failureFor(job, providerName, error));
    });
  });
}
