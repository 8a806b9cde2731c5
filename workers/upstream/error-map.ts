// Maps what an upstream answered (a status, or a transport failure) to the gateway's error table. Adapters only
// extract the provider's message; the decision of code and status is made here, once, for all of them.

import type { ErrorCode } from '../../src/errors/codes.js';
import type { ErrorData } from '../../src/errors/error-data.js';
import type { AbortReason } from '../job.js';

export function errorForUpstreamStatus(provider: string, status: number, message: string,
  retryAfter?: number): ErrorData {
  let code: ErrorCode;
  let keepStatus = false;
  // 498 is Cohere's invalid-token status.
  if (status === 401 || status === 498) code = 'UPSTREAM_AUTH';
  else if (status === 403) code = 'UPSTREAM_FORBIDDEN';
  else if (status === 404) code = 'UPSTREAM_NOT_FOUND';
  else if (status === 408 || status === 504) code = 'UPSTREAM_TIMEOUT';
  else if (status === 429) code = 'UPSTREAM_RATE_LIMITED';
  // 529 is Anthropic's "overloaded": the provider is up but shedding load, like a 503.
  else if (status === 503 || status === 529) code = 'UPSTREAM_UNAVAILABLE';
  // 424 is Bedrock's ModelErrorException: the model failed, not the client's request.
  else if (status >= 500 || status === 424) code = 'UPSTREAM_ERROR';
  else {
    // 400, 409, 413, 422, …: the client's request was the problem; keep the provider's own status.
    code = 'UPSTREAM_BAD_REQUEST';
    keepStatus = true;
  }
  return {
    code,
    message: `${provider}: ${message}`,
    provider,
    upstreamStatus: status,
    ...(keepStatus ? { status } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  };
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** OpenSSL's certificate verdicts as Node names them, and Node's own TLS errors. */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|CERT_|HOSTNAME_MISMATCH$)/;

/** A thrown transport error (connection refused, reset, undici timeout) as gateway error data. */
export function errorForTransportFailure(provider: string, error: unknown, streamStarted: boolean): ErrorData {
  const code = (error as { code?: string })?.code ?? '';
  const cause = (error as { cause?: { code?: string } })?.cause?.code ?? '';
  const detail = error instanceof Error ? error.message : String(error);
  if (TIMEOUT_CODES.has(code) || TIMEOUT_CODES.has(cause)) {
    return { code: 'UPSTREAM_TIMEOUT', message: `${provider}: timed out (${detail})`, provider };
  }
  const tls = TLS_CODE.test(code) ? code : TLS_CODE.test(cause) ? cause : null;
  if (tls && !streamStarted) {
    return { code: 'UPSTREAM_UNREACHABLE', provider, message: `${provider}: TLS handshake failed (${tls}: ${detail}); `
      + 'trust the server\'s CA with network_config.ca_cert_pem (or proxy_config.ca_cert_pem for a proxy that re-signs)' };
  }
  if (streamStarted) {
    return { code: 'STREAM_INTERRUPTED', message: `${provider}: the stream broke off: ${detail}`, provider };
  }
  const connecting = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT/.test(`${code} ${cause} ${detail}`);
  return {
    code: connecting ? 'UPSTREAM_UNREACHABLE' : 'UPSTREAM_ERROR',
    message: `${provider}: ${connecting ? 'could not connect' : 'request failed'}: ${detail}`,
    provider,
  };
}

/**
 * Whether a request failed because the upstream closed or reset a connection it had already answered on, before
 * this request got a byte back: the race of a server dropping an idle keep-alive connection as the request is
 * written, which the request most likely never reached. undici's "other side closed" carries the socket's byte
 * counts (a connection that read nothing before was new, and closing it is the server's answer); a reset does not.
 */
export function droppedIdleConnection(error: unknown): boolean {
  const { code, socket } = (error ?? {}) as { code?: string; socket?: { bytesRead?: number } };
  if (code === 'UND_ERR_SOCKET') return (socket?.bytesRead ?? 0) > 0;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** `Retry-After` in seconds, from either of its two forms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Why a job the worker aborted itself ended: a deadline, the client leaving, or the gateway shutting down. */
export function abortedError(reason: AbortReason, provider: string, streamStarted = false): ErrorData {
  switch (reason) {
    case 'total-timeout':
      return { code: 'UPSTREAM_TIMEOUT', provider, message: streamStarted
        ? `${provider}: the stream was still running at default_request_timeout_in_seconds`
        : `${provider}: no answer within default_request_timeout_in_seconds` };
    case 'first-token-timeout':
      return { code: 'FIRST_TOKEN_TIMEOUT', provider,
        message: `${provider}: no first stream chunk within first_token_timeout_in_seconds` };
    case 'idle-timeout':
      return { code: 'STREAM_IDLE_TIMEOUT', provider,
        message: `${provider}: the stream went idle past stream_idle_timeout_in_seconds` };
    case 'closing':
      return { code: 'PROVIDER_SHUTTING_DOWN', message: `${provider}: the gateway shut down before the answer was complete`,
        provider, retryAfter: 1 };
    case 'cancelled':
      return { code: 'CLIENT_CLOSED', message: 'request cancelled', provider };
  }
}
