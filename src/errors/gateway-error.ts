import { ERROR_CODES, type ErrorCode } from './codes.js';
import type { ErrorData } from './error-data.js';

/** Thrown inside the front thread; converted to ErrorData (`toData`) wherever it leaves a stage. */
export class GatewayError extends Error {
  readonly data: ErrorData;

  constructor(code: ErrorCode, message: string, extra: Omit<ErrorData, 'code' | 'message'> = {}) {
    super(message);
    this.name = 'GatewayError';
    this.data = { code, message, ...extra };
  }
}

/** ErrorData that crossed a boundary (a thread, a process) thrown again as a GatewayError. */
export function gatewayErrorOf(data: ErrorData): GatewayError {
  const { code, message, ...extra } = data;
  return new GatewayError(code, message, extra);
}

export function errorData(code: ErrorCode, message: string, extra: Omit<ErrorData, 'code' | 'message'> = {}): ErrorData {
  return { code, message, ...extra };
}

/** Any thrown value as ErrorData; an unexpected exception becomes INTERNAL without leaking its stack. */
export function toErrorData(error: unknown): ErrorData {
  if (error instanceof GatewayError) return error.data;
  return { code: 'INTERNAL', message: 'internal error' };
}

export function statusOf(error: ErrorData): number {
  return error.status ?? ERROR_CODES[error.code].status;
}

/** The OpenAI error type for a status that overrides the table's (a plugin's 403, a provider's 422). */
function typeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** One try of a request (a retry or a fallback), as listed in `error.attempts` when every try failed. */
export interface AttemptRecord {
  provider: string;
  model: string;
  status: number;
  code: string;
  message: string;
}

/**
 * OpenAI's error envelope, exactly: strict clients validate all four fields. When the request was tried more than
 * once, the tries are listed in an extra `error.attempts` field, which strict clients ignore.
 */
export function openAIErrorBody(error: ErrorData, attempts?: readonly AttemptRecord[]): string {
  const spec = ERROR_CODES[error.code];
  return JSON.stringify({
    error: {
      message: error.message,
      type: error.status === undefined || error.status === spec.status ? spec.type : typeForStatus(error.status),
      param: error.param ?? null,
      code: error.code.toLowerCase(),
      ...(attempts && attempts.length > 1 ? { attempts } : {}),
    },
  });
}
