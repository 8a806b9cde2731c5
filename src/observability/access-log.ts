// The access log: one line per request when its response is complete (a stream's end, or the client leaving, logged
// as status 499 with `cancelled: true`). The pipeline fills the request's AccessRecord as it goes; the server writes
// the line and the HTTP metrics from it. The line goes through the front logger, whose destination writes off the
// front thread (src/contract/log-destination.ts). A key is named, never shown.

import type { Logger } from 'pino';
import type { ContentCapture } from './request-log.js';
import type { RequestTrace } from './tracing/spans.js';

/** Routes polled by machines (probes, scrapers): their lines are at debug, so a 5 s probe does not drown the log. */
const QUIET_ROUTES = new Set(['/health', '/ready', '/readyz', '/livez', '/metrics']);

export class AccessRecord {
  /** Slots in the HTTP metrics' label tables, set by the server. */
  routeIndex = 0;
  methodIndex = 0;
  customIndex = 0;
  provider = '';
  model = '';
  /** The name of the key the last try used (`keys[].name`), never its value. */
  keyName = '';
  /** Tries, retries and fallbacks included. */
  attempts = 0;
  /** Which fallback answered or failed last: 0 for the primary. */
  fallbacks = 0;
  stream = false;
  /** From the request's arrival to the first streamed chunk sent. */
  firstTokenMs: number | null = null;
  upstreamMs: number | null = null;
  tokensIn: number | null = null;
  tokensOut: number | null = null;
  /** Input tokens read from the provider's prompt cache, when it said. */
  tokensCached: number | null = null;
  /** Output tokens spent reasoning, when the provider said. */
  tokensReasoning: number | null = null;
  /** USD, from the price table; null when no provider answered or the answer could not be priced (never a silent 0). */
  costUsd: number | null = null;
  /** The error code answered (lower case), when the request failed. */
  errorCode: string | null = null;
  /** What the response cache did (`hit`, `semantic-hit`, `miss`, `bypass`); null when it is not configured. */
  cache: string | null = null;
  /** The id of the virtual key the request presented (src/governance), never its value. */
  virtualKeyId: string | null = null;
  /** Run once when the response is complete or the client left, with its status: settles a governance reservation. */
  afterResponse: ((status: number) => void) | null = null;
  // For the request log (src/observability/request-log.ts): set only on inference routes while it is on.
  /** The API the client spoke; '' for a request the request log does not record. */
  dialect = '';
  /** `model` as the client sent it, before aliases and fallbacks. */
  modelRequested: string | null = null;
  /** The gateway's own time, as `x-heimdall-overhead-ms` told the client. */
  overheadMs: number | null = null;
  /** The request and the answer, while content logging is on. */
  content: ContentCapture | null = null;
  /** The request's trace when it is sampled (src/observability/tracing); its server span ends with the response. */
  trace: RequestTrace | null = null;
}

export interface AccessLine {
  readonly route: string;
  readonly method: string;
  readonly status: number;
  readonly requestId: string;
  readonly latencyMs: number;
}

/** Writes one request's line; `logger` is the access logger (a child of the front's, `log: "access"`). */
export function writeAccessLine(logger: Logger, line: AccessLine, access: AccessRecord): void {
  const level = QUIET_ROUTES.has(line.route) ? 'debug' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const entry: Record<string, unknown> = {
    route: line.route, method: line.method, status: line.status, requestId: line.requestId,
    latencyMs: Math.round(line.latencyMs * 1000) / 1000,
  };
  if (access.provider) {
    entry.provider = access.provider;
    entry.model = access.model;
    if (access.keyName) entry.key = access.keyName;
    entry.attempts = access.attempts;
    entry.fallbacks = access.fallbacks;
    entry.stream = access.stream;
  }
  if (access.virtualKeyId !== null) entry.virtualKey = access.virtualKeyId;
  if (access.upstreamMs !== null) entry.upstreamMs = Math.round(access.upstreamMs * 1000) / 1000;
  if (access.firstTokenMs !== null) entry.ttftMs = Math.round(access.firstTokenMs * 1000) / 1000;
  if (access.tokensIn !== null) entry.tokensIn = access.tokensIn;
  if (access.tokensOut !== null) entry.tokensOut = access.tokensOut;
  if (access.tokensCached !== null) entry.tokensCached = access.tokensCached;
  if (access.tokensReasoning !== null) entry.tokensReasoning = access.tokensReasoning;
  if (access.costUsd !== null) entry.costUsd = access.costUsd;
  if (access.cache !== null) entry.cache = access.cache;
  if (line.status === 499) entry.cancelled = true;
  if (access.errorCode) entry.errorCode = access.errorCode;
  else if (line.status === 499) entry.errorCode = 'client_closed';
  logger[level](entry, 'request');
}
