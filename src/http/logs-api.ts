// The request log's read side: `GET /api/logs` (filters, sort, cursor pages), `GET /api/logs/{id}` and
// `GET /api/logs/stats`, with Bifrost's parameter names where it has them (`providers`, `models`, `status`,
// `start_time`, `end_time`, `min_latency`, `content_search`, `virtual_key_ids`, `sort_by`, `order`, `limit`). Every
// parameter is parsed into the store's typed LogQuery: values are data the engines bind, never SQL text. A parameter
// this API does not know, or a value it cannot read, is a 400 naming it, in the admin API's error shape. These routes
// sit behind the admin guard like every /api/* route (src/http/admin-guard.ts).

import type { ErrorData } from '../errors/error-data.js';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import {
  checkLogQuery, checkLogStatsQuery, decodeCursor, LOG_GROUP_BY, LOG_QUERY_LIMITS, LogQueryError, type LogFilter,
  type LogGroupBy, type LogQuery, type LogReader, type LogSortField, type LogStatsQuery,
} from '../stores/log-query.js';
import type { ResponseSink } from './response.js';
import type { IncomingRequest, Route } from './server.js';

/** Bifrost's `sort_by` values, and ours, to the store's fields. */
const SORT_FIELDS: Readonly<Record<string, LogSortField>> = Object.freeze({
  timestamp: 'timestamp', latency: 'latencyMs', cost: 'costUsd', tokens: 'tokensTotal',
});

/** The HTTP parameter behind each of the store's LogQuery fields, to name it in a 400. */
const PARAM_OF: Readonly<Record<string, string>> = Object.freeze({
  from: 'start_time', to: 'end_time', providers: 'providers', models: 'models', statuses: 'status', outcome: 'status',
  errorCodes: 'error_codes', virtualKeyIds: 'virtual_key_ids', stream: 'stream', minLatencyMs: 'min_latency',
  search: 'content_search', sort: 'sort_by', limit: 'limit', cursor: 'cursor', groupBy: 'group_by',
  bucketSeconds: 'bucket_seconds',
});

const FILTER_PARAMS = ['start_time', 'end_time', 'providers', 'models', 'status', 'error_codes', 'virtual_key_ids',
  'stream', 'min_latency', 'content_search'];
const LIST_PARAMS = [...FILTER_PARAMS, 'sort_by', 'order', 'limit', 'cursor'];
const STATS_PARAMS = [...FILTER_PARAMS, 'group_by', 'bucket_seconds'];

class BadParam extends Error {
  constructor(readonly param: string, message: string) {
    super(message);
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** One request's parameters, each read at most once, so a leftover one is one this API does not know. */
class Params {
  readonly #values: URLSearchParams;

  constructor(query: string, known: readonly string[]) {
    this.#values = new URLSearchParams(query);
    for (const name of new Set(this.#values.keys())) {
      if (name === 'offset') {
        throw new BadParam(name, 'pages are read with cursor: pass the next_cursor of the previous page (offset is not supported)');
      }
      if (!known.includes(name)) throw new BadParam(name, `unknown parameter '${name}'; this route takes ${known.join(', ')}`);
    }
  }

  /** The one value of `name`; a parameter given twice is refused rather than one of them silently taken. */
  one(name: string): string | undefined {
    const all = this.#values.getAll(name);
    if (all.length > 1) throw new BadParam(name, `'${name}' is given ${all.length} times; give it once`);
    if (all.length === 1 && all[0] === '') throw new BadParam(name, `'${name}' is empty`);
    return all[0];
  }

  /** A comma-separated list (Bifrost's form), also accepted as the parameter repeated. */
  list(name: string): string[] | undefined {
    const all = this.#values.getAll(name);
    if (all.length === 0) return undefined;
    const values = all.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
    if (values.length === 0) throw new BadParam(name, `'${name}' is empty`);
    if (values.length > LOG_QUERY_LIMITS.maxValues) throw new BadParam(name, `'${name}' takes at most ${LOG_QUERY_LIMITS.maxValues} values`);
    return values;
  }

  number(name: string, { integer = false, min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined {
    const text = this.one(name);
    if (text === undefined) return undefined;
    const value = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      throw new BadParam(name, `'${name}' must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not '${text}'`);
    }
    return value;
  }

  /** RFC 3339 (`2026-12-06T19:00:00Z`, as Bifrost takes it) or epoch milliseconds. */
  time(name: string): number | undefined {
    const text = this.one(name);
    if (text === undefined) return undefined;
    const value = /^\d{1,15}$/.test(text) ? Number(text) : RFC3339.test(text) ? Date.parse(text) : NaN;
    if (!Number.isFinite(value)) {
      throw new BadParam(name, `'${name}' must be an RFC 3339 time (2026-12-06T19:00:00Z) or epoch milliseconds, not '${text}'`);
    }
    return value;
  }

  boolean(name: string): boolean | undefined {
    const text = this.one(name);
    if (text === undefined) return undefined;
    if (text !== 'true' && text !== 'false') throw new BadParam(name, `'${name}' must be true or false, not '${text}'`);
    return text === 'true';
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const text = this.one(name);
    if (text !== undefined && !allowed.includes(text as T)) {
      throw new BadParam(name, `'${name}' must be one of ${allowed.join(', ')}, not '${text}'`);
    }
    return text as T | undefined;
  }
}

function filterOf(p: Params): LogFilter {
  const filter: LogFilter = {};
  const from = p.time('start_time');
  const to = p.time('end_time');
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  if (from !== undefined && to !== undefined && to <= from) throw new BadParam('end_time', "'end_time' must be after 'start_time'");
  const providers = p.list('providers');
  if (providers) filter.providers = providers;
  const models = p.list('models');
  if (models) filter.models = models;
  const status = p.list('status');
  if (status) {
    // Bifrost's `success` and `error`, and HTTP status codes, in one list.
    const outcomes = status.filter((s) => s === 'success' || s === 'error') as ('success' | 'error')[];
    const codes = status.filter((s) => s !== 'success' && s !== 'error');
    if (codes.some((s) => !/^[1-5]\d\d$/.test(s))) {
      throw new BadParam('status', "'status' takes success, error, or HTTP status codes (200, 429, …)");
    }
    if (codes.length > 0 && outcomes.length > 0) throw new BadParam('status', "'status' takes either success/error or status codes, not both");
    if (codes.length > 0) filter.statuses = codes.map(Number);
    if (outcomes.length === 1) filter.outcome = outcomes[0];
  }
  const errorCodes = p.list('error_codes');
  if (errorCodes) filter.errorCodes = errorCodes.map((code) => code.toLowerCase());
  const virtualKeys = p.list('virtual_key_ids');
  if (virtualKeys) filter.virtualKeyIds = virtualKeys;
  const stream = p.boolean('stream');
  if (stream !== undefined) filter.stream = stream;
  const minLatency = p.number('min_latency');
  if (minLatency !== undefined) filter.minLatencyMs = minLatency;
  const search = p.one('content_search');
  if (search !== undefined) {
    if (search.length > LOG_QUERY_LIMITS.maxSearchLength) {
      throw new BadParam('content_search', `'content_search' takes at most ${LOG_QUERY_LIMITS.maxSearchLength} characters`);
    }
    filter.search = search;
  }
  return filter;
}

function listQueryOf(query: string): LogQuery {
  const p = new Params(query, LIST_PARAMS);
  const filter = filterOf(p);
  const field = SORT_FIELDS[p.oneOf('sort_by', Object.keys(SORT_FIELDS)) ?? 'timestamp'];
  const sort = { field, direction: p.oneOf('order', ['asc', 'desc'] as const) ?? 'desc' };
  const limit = p.number('limit', { integer: true, min: 1, max: LOG_QUERY_LIMITS.maxLimit }) ?? LOG_QUERY_LIMITS.defaultLimit;
  const q: LogQuery = { ...filter, sort, limit };
  const cursorText = p.one('cursor');
  if (cursorText !== undefined) {
    const cursor = decodeCursor(cursorText, sort);
    if (!cursor) throw new BadParam('cursor', "'cursor' is not a next_cursor of this API for this sort_by and order");
    q.cursor = cursor;
  }
  checkLogQuery(q);
  return q;
}

function statsQueryOf(query: string): LogStatsQuery {
  const p = new Params(query, STATS_PARAMS);
  const q: LogStatsQuery = filterOf(p);
  const groupBy = p.oneOf<LogGroupBy>('group_by', LOG_GROUP_BY);
  if (groupBy) q.groupBy = groupBy;
  const { minBucketSeconds, maxBucketSeconds } = LOG_QUERY_LIMITS;
  const bucket = p.number('bucket_seconds', { integer: true, min: minBucketSeconds, max: maxBucketSeconds });
  if (bucket !== undefined && groupBy !== 'time') throw new BadParam('bucket_seconds', "'bucket_seconds' goes with group_by=time");
  if (groupBy === 'time' && bucket === undefined) throw new BadParam('bucket_seconds', 'group_by=time needs bucket_seconds (3600 for hours)');
  if (bucket !== undefined) q.bucketSeconds = bucket;
  checkLogStatsQuery(q);
  return q;
}

/** A refusal or failure as the admin API answers it: a 400 names the HTTP parameter. */
function errorOf(error: unknown): ErrorData {
  if (error instanceof BadParam) return errorData('INVALID_REQUEST', error.message, { param: error.param });
  if (error instanceof LogQueryError) {
    const param = PARAM_OF[error.param] ?? error.param;
    return errorData('INVALID_REQUEST', `${param}: ${error.message}`, { param });
  }
  return errorData('LOG_STORE_UNAVAILABLE', `the request log store could not answer: ${(error as Error)?.message ?? String(error)}`);
}

/** The routes; `reader` null when request logging is off, which each route answers with `logs_disabled`. */
export function logsRoutes(reader: LogReader | null): Route[] {
  const fail = (sink: ResponseSink, error: ErrorData) => {
    sink.access.errorCode = error.code.toLowerCase();
    sink.json(statusOf(error), openAIErrorBody(error));
  };
  /** Parses, asks the store, answers; `parse` throws BadParam or LogQueryError for a 400. */
  const serve = <Q, A>(parse: (request: IncomingRequest) => Q, ask: (reader: LogReader, query: Q) => Promise<A>,
    answer: (result: A, query: Q) => { status: number; body: unknown }) => (request: IncomingRequest, sink: ResponseSink) => {
    if (!reader) {
      fail(sink, errorData('LOGS_DISABLED', 'request logging is off: set client.enable_logging (and logs_store.enabled) to true'));
      return;
    }
    let query: Q;
    try {
      query = parse(request);
    } catch (error) {
      fail(sink, errorOf(error));
      return;
    }
    ask(reader, query).then((result) => {
      const { status, body } = answer(result, query);
      if (status === 404) fail(sink, errorData('LOG_NOT_FOUND', `no request log record has the id '${String(body)}'`));
      else sink.json(status, JSON.stringify(body));
    }, (error: unknown) => fail(sink, errorOf(error)));
  };

  return [
    { method: 'get', path: '/api/logs', readBody: false, handler: serve((request) => listQueryOf(request.query),
      (r, q) => r.query(q), (page, q) => ({ status: 200, body: {
        logs: page.records,
        pagination: { limit: q.limit, sort_by: Object.keys(SORT_FIELDS).find((k) => SORT_FIELDS[k] === q.sort.field),
          order: q.sort.direction, next_cursor: page.nextCursor, has_more: page.nextCursor !== null },
      } })) },
    { method: 'get', path: '/api/logs/stats', readBody: false, handler: serve((request) => statsQueryOf(request.query),
      (r, q) => r.stats(q), (stats) => ({ status: 200, body: { group_by: stats.groupBy, groups: stats.groups } })) },
    { method: 'get', path: '/api/logs/:id', label: '/api/logs/{id}', readBody: false, handler: serve((request) => {
      new Params(request.query, []);
      let id = '';
      try {
        id = decodeURIComponent(request.path.slice('/api/logs/'.length));
      } catch {
        // Left empty: refused below.
      }
      if (id === '' || id.length > 256) throw new BadParam('id', 'a log id is the request id, 1 to 256 characters');
      return id;
    }, (r, id) => r.get(id).then((record) => ({ record, id })),
    ({ record, id }) => (record ? { status: 200, body: record } : { status: 404, body: id })) },
  ];
}
