// The last stage: answers from an outcome, after the post-hooks (which may have changed it) ran.

import type { ErrorData } from '../errors/error-data.js';
import type { ClientWire } from '../dialects/dialect.js';
import { statusOf, type AttemptRecord } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { Outcome } from '../plugins/contract.js';
import type { PluginRunner } from '../plugins/runner.js';
import type { RequestContext } from './context.js';

export function newOutcome(stream: boolean): Outcome {
  return { status: 0, body: null, error: null, usage: null, stream, upstreamMs: 0, firstChunkMs: null, shortCircuited: false };
}

/** Parameters the provider could not take are dropped, never silently: the client is told in this header. */
export function droppedHeader(dropped: string[] | null): Record<string, string> | undefined {
  return dropped && dropped.length > 0 ? { 'x-heimdall-dropped-params': dropped.join(',') } : undefined;
}

export function respondError(sink: ResponseSink, wire: Pick<ClientWire, 'errorBody' | 'errorHeaders'>, error: ErrorData,
  headers?: Record<string, string>, attempts?: readonly AttemptRecord[]): void {
  const withDialect = wire.errorHeaders ? { ...headers, ...wire.errorHeaders(error) } : headers;
  const all = error.retryAfter !== undefined ? { ...withDialect, 'retry-after': String(error.retryAfter) } : withDialect;
  sink.access.errorCode = error.code.toLowerCase();
  sink.json(statusOf(error), wire.errorBody(error, attempts), all);
}

/** Answers with the outcome in the client's dialect: its error shape, or the answer as JSON. */
export function respondOutcome(sink: ResponseSink, wire: ClientWire, outcome: Outcome, headers?: Record<string, string>,
  attempts?: readonly AttemptRecord[]): void {
  if (outcome.error) respondError(sink, wire, outcome.error, headers, attempts);
  else sink.json(outcome.status, outcome.status === 200 && outcome.body !== null ? wire.answer(outcome.body) : outcome.body ?? 'null', headers);
}

/** Writes a stream's pieces in order; text pieces are joined into one write, binary ones (event-stream frames) go as they are. */
export function writePieces(sink: ResponseSink, pieces: readonly (string | Uint8Array)[]): boolean {
  let text = '';
  let writable = true;
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      text += piece;
      continue;
    }
    if (text) writable = sink.write(text) && writable;
    text = '';
    if (piece.byteLength > 0) writable = sink.write(piece) && writable;
  }
  if (text) writable = sink.write(text) && writable;
  return writable;
}

/** Post-hooks (in reverse order, for the plugins whose pre-hook ran), then `send`. */
export function afterPostHooks(plugins: PluginRunner, ctx: RequestContext, outcome: Outcome, reached: number,
  send: () => void): void {
  const ran = plugins.runPost(ctx, outcome, reached, ctx.hookTimeoutMs);
  if (ran) void ran.then(send);
  else send();
}

/** For plugins after a client left: the outcome they see is a 499. */
export function clientClosed(outcome: Outcome, provider: string): void {
  outcome.error = { code: 'CLIENT_CLOSED', message: 'the client closed the connection', provider };
  outcome.status = 499;
}
