// The last stage: answers from an outcome, after the post-hooks (which may have changed it) ran.

import type { ErrorData } from '../errors/error-data.js';
import { openAIErrorBody, statusOf, type AttemptRecord } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { Outcome } from '../plugins/contract.js';
import type { PluginRunner } from '../plugins/runner.js';
import type { RequestContext } from './context.js';

export const SSE_DONE = 'data: [DONE]\n\n';

export const sseEvent = (data: string): string => `data: ${data}\n\n`;

export function newOutcome(stream: boolean): Outcome {
  return { status: 0, body: null, error: null, usage: null, stream, upstreamMs: 0, firstChunkMs: null, shortCircuited: false };
}

/** Parameters the provider could not take are dropped, never silently: the client is told in this header. */
export function droppedHeader(dropped: string[] | null): Record<string, string> | undefined {
  return dropped && dropped.length > 0 ? { 'x-heimdall-dropped-params': dropped.join(',') } : undefined;
}

export function respondError(sink: ResponseSink, error: ErrorData, headers?: Record<string, string>,
  attempts?: readonly AttemptRecord[]): void {
  const all = error.retryAfter !== undefined ? { ...headers, 'retry-after': String(error.retryAfter) } : headers;
  sink.json(statusOf(error), openAIErrorBody(error, attempts), all);
}

/** Answers with the outcome: an error in OpenAI's envelope, or the body as JSON. */
export function respondOutcome(sink: ResponseSink, outcome: Outcome, headers?: Record<string, string>,
  attempts?: readonly AttemptRecord[]): void {
  if (outcome.error) respondError(sink, outcome.error, headers, attempts);
  else sink.json(outcome.status, outcome.body ?? 'null', headers);
}

/** Post-hooks (in reverse order, for the plugins whose pre-hook ran), then `send`. */
export function afterPostHooks(plugins: PluginRunner, ctx: RequestContext, outcome: Outcome, reached: number,
  send: () => void): void {
  const ran = plugins.runPost(ctx, outcome, reached);
  if (ran) void ran.then(send);
  else send();
}

/** For plugins after a client left: the outcome they see is a 499. */
export function clientClosed(outcome: Outcome, provider: string): void {
  outcome.error = { code: 'CLIENT_CLOSED', message: 'the client closed the connection', provider };
  outcome.status = 499;
}
