// What one request leaves behind in the request log, and the two sides that meet over it: the front thread pushes
// records into a LogSink (never blocking, dropping past its bound), a writer off the front thread stores them in a
// LogStore, and the admin API reads them back through the same store. Field names are the API's (`/api/logs`).

export interface RequestLogRecord {
  /** The request id the client got in `x-request-id`. */
  id: string;
  /** Arrival, epoch milliseconds. */
  timestamp: number;
  route: string;
  method: string;
  /** Which API the client spoke: openai, anthropic, genai, bedrock, … */
  dialect: string;
  provider: string | null;
  modelRequested: string | null;
  /** The model that answered (after fallbacks and the provider's own naming). */
  model: string | null;
  /** `keys[].name`, never the key's value. */
  keyName: string | null;
  virtualKeyId: string | null;
  status: number;
  errorCode: string | null;
  attempts: number;
  /** Index of the fallback that answered or failed last: 0 for the primary. */
  fallbacks: number;
  latencyMs: number;
  ttftMs: number | null;
  upstreamMs: number | null;
  overheadMs: number | null;
  tokensIn: number | null;
  tokensOut: number | null;
  tokensCached: number | null;
  tokensReasoning: number | null;
  /** USD; null when the model has no price (never a silent zero). */
  costUsd: number | null;
  /** What the response cache did: `hit` and `semantic-hit` answers cost nothing; null when no cache is configured. */
  cache: string | null;
  stream: boolean;
  cancelled: boolean;
  /** Content as JSON text, capped with a visible truncation mark; null when content logging is off. */
  request: string | null;
  response: string | null;
}

/** The front thread's end: push never blocks and never throws; past the bound a record is dropped and counted. */
export interface LogSink {
  push(record: RequestLogRecord): void;
  close(): Promise<void>;
}
