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

/** OpenAI's error envelope, exactly: strict clients validate all four fields. */
export function openAIErrorBody(error: ErrorData): string {
  return JSON.stringify({
    error: {
      message: error.message,
      type: ERROR_CODES[error.code].type,
      param: error.param ?? null,
      code: error.code.toLowerCase(),
    },
  });
}
