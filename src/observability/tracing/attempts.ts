// One provider call's upstream tries as spans: the pipeline's ProviderCall tells this object when it submits a job
// and what came back; it gives each try a span id (and the `traceparent` the worker sends upstream), reads the
// response model and finish reasons out of the answer's text, and writes the try into the request's trace. Only a
// sampled request has one.

import type { AttemptTimes, JobData, ResultMeta, StreamEndMeta, UsageData } from '../../contract/messages.js';
import type { ErrorData } from '../../errors/error-data.js';
import { MAX_CONTENT_CHARS, type AttemptReport, type RequestTrace } from './spans.js';

const MODEL = /"model"\s*:\s*"([^"]{1,200})"/;
/** What follows a `"finish_reason"` or `"stop_reason"` key (found by indexOf, see #scan), from after its quote. */
const REASON_VALUE = /\s*:\s*"([^"]{1,64})"/y;
const REASON_KEY_END = '_reason"';

/** gen_ai.operation.name for a job kind (the GenAI conventions' well-known values where one fits). */
export function operationOf(kind: JobData['kind'], dialect: string): string {
  if (kind === 'chat') return dialect === 'completions' ? 'text_completion' : 'chat';
  if (kind === 'responses' || kind === 'messages' || kind === 'invoke' || kind === 'count_tokens') return 'chat';
  return kind;
}

export interface TracedProvider {
  readonly name: string;
  readonly adapter: string;
  readonly keys: readonly { readonly name: string }[];
}

export class AttemptTracer {
  readonly #trace: RequestTrace;
  readonly #provider: TracedProvider;
  readonly #fallbackIndex: number;
  readonly #operation: string;
  /** The current try's span id (two words; 0, 0 before a try starts). */
  #spanHi = 0;
  #spanLo = 0;
  #submittedAt = 0;
  #responseModel: string | null = null;
  #finishReasons: string[] | null = null;
  #output: string[] | null = null;
  #outputChars = 0;

  constructor(trace: RequestTrace, provider: TracedProvider, kind: JobData['kind'], dialect: string, fallbackIndex: number) {
    this.#trace = trace;
    this.#provider = provider;
    this.#fallbackIndex = fallbackIndex;
    this.#operation = operationOf(kind, dialect);
  }

  /** A try starts: a span id of its own, and the traceparent that names it for the upstream. */
  submitted(job: JobData, now: number): void {
    this.#newSpan();
    this.#submittedAt = now;
    job.trace = this.#trace.traceparent(this.#spanHi, this.#spanLo);
    this.#responseModel = null;
    this.#finishReasons = null;
    this.#output = null;
    this.#outputChars = 0;
  }

  #newSpan(): void {
    this.#spanHi = this.#trace.spanHi();
    this.#spanLo = this.#trace.spanLo(this.#spanHi);
  }

  #scan(text: string): void {
    if (this.#responseModel === null) this.#responseModel = MODEL.exec(text)?.[1] ?? null;
    // The key's tail is found with indexOf (a vectorised search) and the value read with a sticky regex there: one
    // regex over the whole answer, starting with an alternation, tried a match at every quote of the text.
    for (let at = text.indexOf(REASON_KEY_END); at !== -1; at = text.indexOf(REASON_KEY_END, at + REASON_KEY_END.length)) {
      if (!text.startsWith('"finish', at - 7) && !text.startsWith('"stop', at - 5)) continue;
      REASON_VALUE.lastIndex = at + REASON_KEY_END.length;
      const match = REASON_VALUE.exec(text);
      if (match !== null) (this.#finishReasons ??= []).push(match[1]);
    }
  }

  chunks(chunks: readonly string[]): void {
    const capture = this.#trace.captureContent;
    for (const chunk of chunks) {
      this.#scan(chunk);
      if (capture && this.#outputChars < MAX_CONTENT_CHARS) {
        (this.#output ??= []).push(chunk);
        this.#outputChars += chunk.length;
      }
    }
  }

  result(job: JobData, retry: number, body: string | Uint8Array, meta: ResultMeta): void {
    const text = typeof body === 'string' ? body : null;
    if (text !== null) this.#scan(text.length > 65_536 ? text.slice(0, 65_536) : text);
    this.#record(job, retry, meta.times, meta.usage, null, null, text);
  }

  end(job: JobData, retry: number, meta: StreamEndMeta): void {
    const firstToken = meta.times && meta.firstTokenMs !== null ? meta.times[0] + meta.firstTokenMs : null;
    this.#record(job, retry, meta.times, meta.usage, firstToken, null, this.#output ? this.#output.join('\n') : null);
  }

  error(job: JobData | null, retry: number, error: ErrorData, times: AttemptTimes | undefined): void {
    this.#record(job, retry, times, null, null, error, null);
  }

  #record(job: JobData | null, retry: number, times: AttemptTimes | undefined, usage: UsageData | null, firstToken: number | null,
    error: ErrorData | null, output: string | null): void {
    if (this.#spanHi === 0 && this.#spanLo === 0) this.#newSpan();
    const capture = this.#trace.captureContent;
    const body = job?.body;
    const report: AttemptReport = {
      spanHi: this.#spanHi,
      spanLo: this.#spanLo,
      submittedAt: this.#submittedAt || performance.now(),
      settledAt: performance.now(),
      times: times ?? null,
      operation: this.#operation,
      system: this.#provider.adapter,
      provider: this.#provider.name,
      model: job?.model ?? '',
      keyName: job && job.keyIndex >= 0 ? this.#provider.keys[job.keyIndex]?.name ?? '' : '',
      retry,
      fallbackIndex: this.#fallbackIndex,
      stream: job?.stream ?? false,
      inputTokens: usage?.promptTokens ?? null,
      outputTokens: usage?.completionTokens ?? null,
      responseModel: this.#responseModel,
      finishReasons: this.#finishReasons,
      firstToken,
      errorCode: error?.code ?? null,
      errorMessage: error?.message ?? null,
      input: capture && body ? JSON.stringify(body.messages ?? body.input ?? body.prompt ?? null) : null,
      output: capture ? output : null,
    };
    this.#spanHi = 0;
    this.#spanLo = 0;
    this.#submittedAt = 0;
    this.#trace.attempt(report);
  }
}
