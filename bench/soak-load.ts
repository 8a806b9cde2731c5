// The soak's load and its bookkeeping, shared by test/integration/soak.test.ts (short) and bench/soak.ts (long):
// concurrent streamed and non-streamed requests through the gateway to the faulty upstream drawing a mix of faults,
// some aborted by the client, each classified by the one answer it got. An answer that breaks the API's contract
// (a 200 that is not a completion, an error outside OpenAI's envelope, a stream chunk that is not JSON) and a
// request that got no answer within its deadline are the failures.

import { setTimeout as sleep } from 'node:timers/promises';
import type { WeightedFault } from '../test/fakes/faulty-upstream.js';
import { pickWeighted, seededRandom } from '../test/fakes/faulty-upstream.js';

/** What the faulty upstream draws from for the model `mix`. */
export const SOAK_MIX: readonly WeightedFault[] = [
  { faults: 'ok', weight: 10 },
  { faults: 'chunk-interval-15', weight: 2 },
  { faults: 'latency-150', weight: 2 },
  { faults: 'status-500', weight: 2 },
  { faults: 'status-503+retry-after-0', weight: 1 },
  { faults: 'status-429+retry-after-0', weight: 1 },
  { faults: 'status-400', weight: 1 },
  { faults: 'reset-before-headers', weight: 1 },
  { faults: 'reset-mid-body', weight: 1 },
  { faults: 'truncated', weight: 1 },
  { faults: 'malformed', weight: 1 },
];

/** Providers for the soak: `openai` retries once and falls back to `backup`, the same upstream under another name. */
export function soakProviders(upstreamUrl: string): Record<string, unknown> {
  const provider = (extra: Record<string, unknown>) => ({
    keys: [{ value: 'sk-soak', models: ['*'], weight: 1 }],
    network_config: { base_url: upstreamUrl, default_request_timeout_in_seconds: 10, max_retries: 1,
      retry_backoff_initial: 10, retry_backoff_max: 50 },
    concurrency_and_buffer_size: { concurrency: 64, buffer_size: 256, threads: 1 },
    // The breakers count every call but open only on a near-total failure: at the defaults the mix's fault share
    // would keep them open, and the soak would measure 503 circuit_open instead of the faults it injects.
    circuit_breaker: { consecutive_failures: 25, error_rate_threshold: 0.95 },
    ...extra,
  });
  return {
    openai: provider({ fallbacks: ['backup/mix'] }),
    backup: provider({ custom_provider_config: { base_provider_type: 'openai' } }),
  };
}

export interface SoakOptions {
  /** http://host:port of the gateway. */
  url: string;
  durationMs: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Share of requests that ask for a stream, and share the client aborts after a random wait. */
  streamShare: number;
  abortShare: number;
  /** A request with no complete answer by then counts as hung. */
  deadlineMs: number;
  seed: number;
}

export interface SoakReport {
  requests: number;
  /** Requests by outcome: `200`, `502`, `stream-done`, `stream-error`, `closed`, `aborted`, `hung`, … */
  outcomes: Record<string, number>;
  /** Answers that broke the contract, with what was wrong (the first few). */
  violations: string[];
  violationCount: number;
  /** Milliseconds to a complete answer, aborted and hung requests aside. */
  latenciesMs: number[];
}

/** Whether `text` is OpenAI's error envelope. */
function isErrorEnvelope(text: string): boolean {
  try {
    const error = (JSON.parse(text) as { error?: Record<string, unknown> }).error;
    return typeof error?.message === 'string' && typeof error.type === 'string' && 'param' in error && typeof error.code === 'string';
  } catch {
    return false;
  }
}

/** Reads a streamed answer to its end and names it; null when it broke the contract (then `why` says how). */
function classifyStream(text: string, why: (reason: string) => void): string | null {
  const events = text.split('\n\n').filter((block) => block.trim() !== '').map((block) => block.replace(/^data: /, ''));
  for (const [index, data] of events.entries()) {
    if (data === '[DONE]') {
      if (index !== events.length - 1) return why('events after [DONE]'), null;
      return 'stream-done';
    }
    let parsed: { error?: unknown; choices?: unknown };
    try {
      parsed = JSON.parse(data) as { error?: unknown; choices?: unknown };
    } catch {
      return why(`a stream event is not JSON: ${data.slice(0, 80)}`), null;
    }
    if (parsed.error !== undefined) {
      if (!isErrorEnvelope(data)) return why(`a stream error outside the envelope: ${data.slice(0, 80)}`), null;
      if (index !== events.length - 1) return why('events after a stream error'), null;
      return 'stream-error';
    }
    if (!Array.isArray(parsed.choices)) return why(`a chunk without choices: ${data.slice(0, 80)}`), null;
  }
  return why(`a stream that ended with neither [DONE] nor an error (${events.length} events)`), null;
}

/** One request, its one outcome. */
async function oneRequest(options: SoakOptions, stream: boolean, abortAfterMs: number | null,
  why: (reason: string) => void): Promise<string> {
  const controller = new AbortController();
  let aborted = false;
  const abortTimer = abortAfterMs === null ? null : setTimeout(() => {
    aborted = true;
    controller.abort();
  }, abortAfterMs);
  let hung = false;
  const deadline = setTimeout(() => {
    hung = true;
    controller.abort();
  }, options.deadlineMs);
  try {
    const response = await fetch(`${options.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/mix', messages: [{ role: 'user', content: 'soak' }], stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}) }),
      signal: controller.signal,
    });
    const text = await response.text();
    if (response.status !== 200) {
      if (!isErrorEnvelope(text)) return why(`a ${response.status} outside the envelope: ${text.slice(0, 80)}`), 'violation';
      return String(response.status);
    }
    if (!stream) {
      const answer = JSON.parse(text) as { object?: unknown; choices?: unknown };
      if (answer.object !== 'chat.completion' || !Array.isArray(answer.choices)) return why(`a 200 that is no completion: ${text.slice(0, 80)}`), 'violation';
      return '200';
    }
    return classifyStream(text, why) ?? 'violation';
  } catch (error) {
    if (hung) return 'hung';
    if (aborted) return 'aborted';
    // The gateway closed the connection: after part of a stream, or before any answer.
    return error instanceof SyntaxError ? (why('a 200 whose body is not JSON'), 'violation') : 'closed';
  } finally {
    if (abortTimer) clearTimeout(abortTimer);
    clearTimeout(deadline);
  }
}

/** Runs the load for `durationMs` and reports every request's outcome. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const random = seededRandom(options.seed);
  const report: SoakReport = { requests: 0, outcomes: {}, violations: [], violationCount: 0, latenciesMs: [] };
  const why = (reason: string) => {
    report.violationCount++;
    if (report.violations.length < 10) report.violations.push(reason);
  };
  const stopAt = performance.now() + options.durationMs;
  const lane = async () => {
    while (performance.now() < stopAt) {
      const stream = random() < options.streamShare;
      const abortAfterMs = random() < options.abortShare ? Math.floor(random() * 200) : null;
      const started = performance.now();
      const outcome = await oneRequest(options, stream, abortAfterMs, why);
      report.requests++;
      report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
      if (outcome !== 'aborted' && outcome !== 'hung') report.latenciesMs.push(performance.now() - started);
      // Now and then a lane pauses, so the load comes in waves rather than as a constant wall.
      if (pickWeighted([{ weight: 9, pause: 0 }, { weight: 1, pause: 50 }], random).pause) await sleep(50);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  return report;
}
