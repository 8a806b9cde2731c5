// What the admin API may ask of the request log, typed, so the HTTP side parses parameters into these shapes and
// every engine answers the same questions. Values here are data: engines bind them as SQL parameters; the only
// names that reach SQL text (sort fields, group keys) come from the fixed lists below.
import type { RequestLogRecord } from './log-record.js';

/** Fields a list may be sorted by (timestamp with an index; latency too on PostgreSQL). Ties break on `id` in the same direction. */
export const LOG_SORT_FIELDS = ['timestamp', 'latencyMs', 'costUsd', 'tokensTotal'] as const;
export type LogSortField = (typeof LOG_SORT_FIELDS)[number];
export type SortDirection = 'asc' | 'desc';

export const LOG_QUERY_LIMITS = {
  defaultLimit: 50,
  maxLimit: 1000,
  /** Values of one list filter (`providers`, `models`, …). */
  maxValues: 100,
  /** Characters of a content search. */
  maxSearchLength: 256,
  /** Groups a stats answer returns at most (the largest counts first, or the earliest buckets). */
  maxGroups: 1000,
  minBucketSeconds: 1,
  maxBucketSeconds: 31 * 86_400,
} as const;

/** Filters shared by a list and a stats query. An absent filter matches everything; a list matches any of its values. */
export interface LogFilter {
  /** Epoch milliseconds, inclusive. */
  from?: number;
  /** Epoch milliseconds, exclusive. */
  to?: number;
  providers?: readonly string[];
  /** Matches the model that answered, or the model asked when none answered (as stats group by model). */
  models?: readonly string[];
  /** HTTP status codes. */
  statuses?: readonly number[];
  /** `success`: status below 400; `error`: 400 and above. */
  outcome?: 'success' | 'error';
  errorCodes?: readonly string[];
  virtualKeyIds?: readonly string[];
  stream?: boolean;
  minLatencyMs?: number;
  /** Case-insensitive substring of the stored request or response content. */
  search?: string;
}

/** Where the previous page ended: the sort value and id of its last record. */
export interface LogCursor {
  field: LogSortField;
  direction: SortDirection;
  /** Null sort values (a request with no cost) sort as -1 in both engines. */
  value: number;
  id: string;
}

export interface LogQuery extends LogFilter {
  sort: { field: LogSortField; direction: SortDirection };
  /** 1..LOG_QUERY_LIMITS.maxLimit. */
  limit: number;
  cursor?: LogCursor;
}

export interface LogPage {
  records: RequestLogRecord[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export const LOG_GROUP_BY = ['provider', 'model', 'time'] as const;
export type LogGroupBy = (typeof LOG_GROUP_BY)[number];

export interface LogStatsQuery extends LogFilter {
  /** Absent: one group over everything the filter matches. */
  groupBy?: LogGroupBy;
  /** Bucket width for `groupBy: 'time'` (required there), in seconds. Buckets are aligned to the epoch. */
  bucketSeconds?: number;
}

export interface LogStatsGroup {
  /** The provider or model (`model` groups by the model that answered, else the one asked); the bucket's start in
   * epoch milliseconds for `time`; null for the whole-filter group or records with no provider/model. */
  key: string | number | null;
  count: number;
  errors: number;
  /** errors / count, 0 when count is 0. */
  errorRate: number;
  /** Nearest-rank percentiles of `latencyMs`; null when count is 0. */
  latencyP50: number | null;
  latencyP95: number | null;
  latencyP99: number | null;
  tokensIn: number;
  tokensOut: number;
  tokensCached: number;
  tokensReasoning: number;
  /** Sum over priced records. */
  costUsd: number;
  /** Records with a null cost (model not in the price table), never counted as zero silently. */
  unpriced: number;
}

export interface LogStats {
  groupBy: LogGroupBy | null;
  groups: LogStatsGroup[];
}

/** The admin API's side: every call runs off the front thread and resolves when the store answers. */
export interface LogReader {
  query(q: LogQuery): Promise<LogPage>;
  get(id: string): Promise<RequestLogRecord | null>;
  stats(q: LogStatsQuery): Promise<LogStats>;
}

/**
 * Thrown (rejected) for a query the store refuses; `param` is the LogQuery field at fault (`sort`, `limit`,
 * `cursor`, `groupBy`, `bucketSeconds`, or a filter's name), which the HTTP side maps to its parameter for a 400.
 */
export class LogQueryError extends Error {
  constructor(readonly param: string, message: string) {
    super(message);
    this.name = 'LogQueryError';
  }
}

/** Rejected by a reader call when the store cannot answer now (down, or slower than the reader's timeout): a 503. */
export class LogStoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogStoreUnavailableError';
  }
}

export function encodeCursor(cursor: LogCursor): string {
  return Buffer.from(JSON.stringify([cursor.field, cursor.direction, cursor.value, cursor.id])).toString('base64url');
}

/** The cursor in `text`, or null when it is not one of ours or was made for another sort. */
export function decodeCursor(text: string, sort: LogQuery['sort']): LogCursor | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return null;
  const [field, direction, value, id] = parsed as unknown[];
  if (field !== sort.field || direction !== sort.direction) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || typeof id !== 'string' || id.length > 256) return null;
  return { field: sort.field, direction: sort.direction, value, id };
}

/**
 * Checks what the types cannot (bounds, list sizes, a time bucket when grouping by time); throws LogQueryError
 * naming the parameter. Engines call it, so a caller that skips it still gets a clean refusal.
 */
export function checkLogFilter(f: LogFilter): void {
  const { maxValues, maxSearchLength } = LOG_QUERY_LIMITS;
  for (const name of ['from', 'to', 'minLatencyMs'] as const) {
    const v = f[name];
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new LogQueryError(name, `${name} must be a number >= 0`);
  }
  for (const name of ['providers', 'models', 'statuses', 'errorCodes', 'virtualKeyIds'] as const) {
    const v = f[name];
    if (v === undefined) continue;
    if (v.length === 0 || v.length > maxValues) throw new LogQueryError(name, `${name} takes 1 to ${maxValues} values`);
  }
  if (f.statuses?.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new LogQueryError('statuses', 'statuses are HTTP status codes, 100 to 599');
  }
  if (f.search !== undefined && (f.search.length === 0 || f.search.length > maxSearchLength)) {
    throw new LogQueryError('search', `search takes 1 to ${maxSearchLength} characters`);
  }
}

export function checkLogQuery(q: LogQuery): void {
  checkLogFilter(q);
  if (!LOG_SORT_FIELDS.includes(q.sort.field)) throw new LogQueryError('sort', `sort is one of ${LOG_SORT_FIELDS.join(', ')}`);
  if (q.sort.direction !== 'asc' && q.sort.direction !== 'desc') throw new LogQueryError('sort', 'sort direction is asc or desc');
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > LOG_QUERY_LIMITS.maxLimit) {
    throw new LogQueryError('limit', `limit is a whole number from 1 to ${LOG_QUERY_LIMITS.maxLimit}`);
  }
  if (q.cursor && (q.cursor.field !== q.sort.field || q.cursor.direction !== q.sort.direction)) {
    throw new LogQueryError('cursor', 'the cursor was made for another sort order');
  }
}

export function checkLogStatsQuery(q: LogStatsQuery): void {
  checkLogFilter(q);
  if (q.groupBy !== undefined && !LOG_GROUP_BY.includes(q.groupBy)) {
    throw new LogQueryError('groupBy', `groupBy is one of ${LOG_GROUP_BY.join(', ')}`);
  }
  const { minBucketSeconds, maxBucketSeconds } = LOG_QUERY_LIMITS;
  if (q.groupBy === 'time') {
    const b = q.bucketSeconds;
    if (b === undefined || !Number.isInteger(b) || b < minBucketSeconds || b > maxBucketSeconds) {
      throw new LogQueryError('bucketSeconds', `bucketSeconds is a whole number of seconds from ${minBucketSeconds} to ${maxBucketSeconds}`);
    }
  }
}
