// Runs jobs against an HTTP provider: the adapter builds the call, undici's dispatch API sends it, and the
// answer (or the stream, event by event) goes back through the adapter. The low-level handler API is used
// rather than `request()`: no AbortSignal, body stream or promise per request, and pause/resume map straight
// onto the client's backpressure. Nothing here knows a provider by name.

import type { Dispatcher } from 'undici';
import type { ProviderInit } from '../../src/contract/worker-init.js';
import type { ErrorData } from '../../src/errors/error-data.js';
import type { AbortReason, Job } from '../job.js';
import type { HttpAdapter, StreamState } from '../providers/types.js';
import { abortedError, errorForTransportFailure, errorForUpstreamStatus, parseRetryAfter } from './error-map.js';
import { authHeaders, resolveTarget, type UpstreamClients } from './http-client.js';
import { SseDecoder } from './sse.js';

const MAX_ERROR_TEXT = 500;

type Controller = Dispatcher.DispatchController;

export class HttpJobRunner {
  readonly #adapter: HttpAdapter;
  readonly #provider: ProviderInit;
  readonly #clients: UpstreamClients;
  readonly #baseUrl: string | null;
  /** Per key: the headers every call with that key carries, as undici's flat name/value array. */
  readonly #headersByKey: string[][];

  constructor(adapter: HttpAdapter, provider: ProviderInit, clients: UpstreamClients) {
    this.#adapter = adapter;
    this.#provider = provider;
    this.#clients = clients;
    this.#baseUrl = provider.baseUrl ?? adapter.defaultBaseUrl;
    const keys = provider.keys.length > 0 ? provider.keys : [''];
    this.#headersByKey = keys.map((key) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...provider.extraHeaders, ...authHeaders(adapter.auth, key || null) };
      return Object.entries(headers).flat();
    });
  }

  run(job: Job): void {
    const provider = this.#provider.name;
    if (!this.#baseUrl) {
      job.fail({ code: 'INTERNAL', message: `${provider}: no base URL configured`, provider });
      return;
    }
    let call;
    try {
      call = this.#adapter.chatCall(job.data);
    } catch (error) {
      job.fail({ code: 'INVALID_REQUEST', message: `${provider}: ${(error as Error).message}`, provider });
      return;
    }
    const target = resolveTarget(this.#baseUrl, call.path);
    const headers = [...(this.#headersByKey[job.data.keyIndex] ?? this.#headersByKey[0]),
      'accept', job.data.stream ? 'text/event-stream' : 'application/json', 'x-request-id', job.data.requestId];
    const exchange = new Exchange(job, this.#adapter, provider, call.droppedParams.length > 0 ? call.droppedParams : null);
    job.attach(exchange);
    job.markUpstreamStart();
    this.#clients.poolFor(target.origin).dispatch({ path: target.path, method: 'POST', headers, body: call.body }, exchange);
  }
}

/** One request/response with the upstream, as undici's dispatch handler. */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #job: Job;
  readonly #adapter: HttpAdapter;
  readonly #provider: string;
  readonly #dropped: string[] | null;
  #controller: Controller | null = null;
  #status = 0;
  #retryAfter: number | undefined;
  #parts: Buffer[] = [];
  #decoder: SseDecoder | null = null;
  #state: StreamState | null = null;
  #done = false;

  constructor(job: Job, adapter: HttpAdapter, provider: string, dropped: string[] | null) {
    this.#job = job;
    this.#adapter = adapter;
    this.#provider = provider;
    this.#dropped = dropped;
  }

  abort(reason: AbortReason): void {
    this.#controller?.abort(new Error(`request ${reason}`));
  }

  pause(): void {
    this.#controller?.pause();
  }

  resume(): void {
    this.#controller?.resume();
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#job.abortReason) controller.abort(new Error(`request ${this.#job.abortReason}`));
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.#status = statusCode;
    if (statusCode >= 400) {
      this.#retryAfter = parseRetryAfter(headers['retry-after']);
    } else if (this.#job.data.stream) {
      this.#decoder = new SseDecoder();
      this.#state = { includeUsage: this.#job.data.includeUsage, model: this.#job.data.model, usage: null };
    }
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.#done) return;
    if (!this.#decoder) {
      this.#parts.push(chunk);
      return;
    }
    this.#job.touch();
    const out: string[] = [];
    try {
      for (const event of this.#decoder.push(chunk)) {
        const step = this.#adapter.streamEvent(event, this.#state!);
        for (const piece of step.chunks) out.push(piece);
        if (step.done) {
          this.#done = true;
          break;
        }
      }
    } catch (error) {
      this.#job.chunks(out);
      this.#finishStream(this.#brokenStream(`unreadable stream event: ${(error as Error).message}`));
      return;
    }
    this.#job.chunks(out);
    if (this.#done) this.#job.end(this.#state!.usage, this.#dropped);
  }

  onResponseEnd(): void {
    if (this.#done) return;
    if (this.#decoder) {
      this.#finishStream(this.#brokenStream('the stream ended before its end marker'));
      return;
    }
    this.#done = true;
    const text = this.#parts.length === 1 ? this.#parts[0].toString('utf8') : Buffer.concat(this.#parts).toString('utf8');
    this.#parts = [];
    const provider = this.#provider;
    if (this.#status >= 400) {
      const message = this.#adapter.errorMessage(text) ?? (text.slice(0, MAX_ERROR_TEXT) || `HTTP ${this.#status}`);
      this.#job.fail(errorForUpstreamStatus(provider, this.#status, message, this.#retryAfter));
      return;
    }
    let answer;
    try {
      answer = this.#adapter.chatAnswer(text);
    } catch (error) {
      this.#job.fail({ code: 'UPSTREAM_ERROR', message: `${provider}: unreadable answer: ${(error as Error).message}`,
        provider, upstreamStatus: this.#status });
      return;
    }
    this.#job.result(answer.body, answer.usage, this.#dropped);
  }

  onResponseError(_controller: Controller, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#job.fail(this.#failure(error));
  }

  #brokenStream(what: string): ErrorData {
    return { code: this.#job.streamStarted ? 'STREAM_INTERRUPTED' : 'UPSTREAM_ERROR', message: `${this.#provider}: ${what}`,
      provider: this.#provider };
  }

  #finishStream(error: ErrorData): void {
    this.#done = true;
    this.#job.fail(error);
    this.#controller?.abort(new Error(error.message));
  }

  #failure(error: unknown): ErrorData {
    const job = this.#job;
    const provider = this.#provider;
    if (job.abortReason) return abortedError(job.abortReason, provider, job.streamStarted);
    return errorForTransportFailure(provider, error, job.streamStarted);
  }
}
