// An error as plain data: what crosses the thread boundary (structured clone and msgpack lose classes) and
// what plugins and responders read. `status` overrides the table's when the provider's own status is kept.

import type { ErrorCode } from './codes.js';

export interface ErrorData {
  code: ErrorCode;
  message: string;
  status?: number;
  param?: string | null;
  provider?: string;
  /** The status the upstream answered with, when there was one. */
  upstreamStatus?: number;
  /** Seconds, for the `Retry-After` header of a 429 or 503. */
  retryAfter?: number;
}
