// The request log's table and the SQL both engines run against it. Every value is a bound parameter; the only text
// assembled here comes from the fixed maps below (columns, sort expressions, group expressions), chosen by name.
import {
  checkLogQuery, checkLogStatsQuery, encodeCursor, type LogFilter, type LogPage, type LogQuery, type LogSortField,
  type LogStatsGroup, type LogStatsQuery,
} from './log-query.js';
import type { RequestLogRecord } from './log-record.js';

export const LOG_TABLE = 'heimdall_request_logs';
export const LOG_COMPONENT = 'request_logs';

/** Record field → column, in insert order. */
export const LOG_COLUMNS = [
  ['id', 'id'], ['timestamp', 'timestamp_ms'], ['route', 'route'], ['method', 'method'], ['dialect', 'dialect'],
  ['provider', 'provider'], ['modelRequested', 'model_requested'], ['model', 'model'], ['keyName', 'key_name'],
  ['virtualKeyId', 'virtual_key_id'], ['status', 'status'], ['errorCode', 'error_code'], ['attempts', 'attempts'],
  ['fallbacks', 'fallbacks'], ['latencyMs', 'latency_ms'], ['ttftMs', 'ttft_ms'], ['upstreamMs', 'upstream_ms'],
  ['overheadMs', 'overhead_ms'], ['tokensIn', 'tokens_in'], ['tokensOut', 'tokens_out'], ['tokensCached', 'tokens_cached'],
  ['tokensReasoning', 'tokens_reasoning'], ['costUsd', 'cost_usd'], ['stream', 'stream'], ['cancelled', 'cancelled'],
  ['request', 'request'], ['response', 'response'],
] as const satisfies readonly (readonly [keyof RequestLogRecord, string])[];

const BOOLEAN_FIELDS = new Set<keyof RequestLogRecord>(['stream', 'cancelled']);
const TEXT_FIELDS = new Set<keyof RequestLogRecord>(['id', 'route', 'method', 'dialect', 'provider', 'modelRequested', 'model',
  'keyName', 'virtualKeyId', 'errorCode', 'request', 'response']);

// One expression per sort field, written identically in its index so the engine can walk the index.
const SORT_EXPRESSIONS: Record<LogSortField, string> = {
  timestamp: 'timestamp_ms',
  latencyMs: 'latency_ms',
  // A request with no price sorts below every priced one, in both engines (NULL ordering differs between them).
  costUsd: 'COALESCE(cost_usd, -1)',
  tokensTotal: '(COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0))',
};

function schemaSteps(types: { bigint: string; real: string; bool: string }): string[] {
  const { bigint, real, bool } = types;
  return [[
    `CREATE TABLE IF NOT EXISTS ${LOG_TABLE} (
      id TEXT PRIMARY KEY, timestamp_ms ${bigint} NOT NULL, route TEXT NOT NULL, method TEXT NOT NULL, dialect TEXT NOT NULL,
      provider TEXT, model_requested TEXT, model TEXT, key_name TEXT, virtual_key_id TEXT, status INTEGER NOT NULL,
      error_code TEXT, attempts INTEGER NOT NULL, fallbacks INTEGER NOT NULL, latency_ms ${real} NOT NULL, ttft_ms ${real},
      upstream_ms ${real}, overhead_ms ${real}, tokens_in INTEGER, tokens_out INTEGER, tokens_cached INTEGER,
      tokens_reasoning INTEGER, cost_usd ${real}, stream ${bool} NOT NULL, cancelled ${bool} NOT NULL, request TEXT, response TEXT)`,
    ...Object.entries(SORT_EXPRESSIONS).map(([field, expr]) =>
      `CREATE INDEX IF NOT EXISTS ${LOG_TABLE}_by_${field.toLowerCase()} ON ${LOG_TABLE} ((${expr}), id)`),
    ...['provider', 'model', 'model_requested', 'status'].map((column) =>
      `CREATE INDEX IF NOT EXISTS ${LOG_TABLE}_by_${column} ON ${LOG_TABLE} (${column}, timestamp_ms)`),
    ...['error_code', 'virtual_key_id'].map((column) =>
      `CREATE INDEX IF NOT EXISTS ${LOG_TABLE}_by_${column} ON ${LOG_TABLE} (${column}, timestamp_ms) WHERE ${column} IS NOT NULL`),
  ].join(';\n')];
}

export const SQLITE_LOG_SCHEMA = schemaSteps({ bigint: 'INTEGER', real: 'REAL', bool: 'INTEGER' });
export const POSTGRES_LOG_SCHEMA = schemaSteps({ bigint: 'BIGINT', real: 'DOUBLE PRECISION', bool: 'BOOLEAN' });

export type SqlDialect = 'sqlite' | 'postgres';

export interface BuiltQuery {
  readonly text: string;
  readonly values: unknown[];
}

/** Collects bound values and writes each one's placeholder: `?` for SQLite, `$n` for PostgreSQL. */
class Params {
  readonly values: unknown[] = [];
  constructor(readonly dialect: SqlDialect) {}

  add(value: unknown): string {
    this.values.push(typeof value === 'string' ? withoutNul(value) : value);
    return this.dialect === 'sqlite' ? '?' : `$${this.values.length}`;
  }

  list(values: readonly unknown[]): string {
    return values.map((v) => this.add(v)).join(', ');
  }

  bool(value: boolean): string {
    return this.add(this.dialect === 'sqlite' ? (value ? 1 : 0) : value);
  }
}

// PostgreSQL's text cannot hold NUL; SQLite's can. Both store (and match) U+FFFD in its place, so they agree.
const withoutNul = (s: string): string => (s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s);

/** A LIKE pattern matching `text` literally anywhere, with `\` as the escape character. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function whereClause(f: LogFilter, p: Params): string {
  const and: string[] = [];
  if (f.from !== undefined) and.push(`timestamp_ms >= ${p.add(f.from)}`);
  if (f.to !== undefined) and.push(`timestamp_ms < ${p.add(f.to)}`);
  if (f.providers) and.push(`provider IN (${p.list(f.providers)})`);
  if (f.models) and.push(`(model IN (${p.list(f.models)}) OR model_requested IN (${p.list(f.models)}))`);
  if (f.statuses) and.push(`status IN (${p.list(f.statuses)})`);
  if (f.outcome === 'success') and.push('status < 400');
  if (f.outcome === 'error') and.push('status >= 400');
  if (f.errorCodes) and.push(`error_code IN (${p.list(f.errorCodes)})`);
  if (f.virtualKeyIds) and.push(`virtual_key_id IN (${p.list(f.virtualKeyIds)})`);
  if (f.stream !== undefined) and.push(`stream = ${p.bool(f.stream)}`);
  if (f.minLatencyMs !== undefined) and.push(`latency_ms >= ${p.add(f.minLatencyMs)}`);
  if (f.search !== undefined) {
    // SQLite's LIKE ignores ASCII case already; PostgreSQL's needs ILIKE.
    const like = p.dialect === 'sqlite' ? 'LIKE' : 'ILIKE';
    const pattern = containsPattern(f.search);
    and.push(`(request ${like} ${p.add(pattern)} ESCAPE '\\' OR response ${like} ${p.add(pattern)} ESCAPE '\\')`);
  }
  return and.length > 0 ? `WHERE ${and.join(' AND ')}` : '';
}

const SELECT_COLUMNS = LOG_COLUMNS.map(([, column]) => column).join(', ');

/** The page's query: one more row than asked, so the page knows whether another follows. */
export function listQuery(q: LogQuery, dialect: SqlDialect): BuiltQuery {
  checkLogQuery(q);
  const p = new Params(dialect);
  const expr = SORT_EXPRESSIONS[q.sort.field];
  const dir = q.sort.direction === 'asc' ? 'ASC' : 'DESC';
  let where = whereClause(q, p);
  if (q.cursor) {
    const after = `(${expr}, id) ${q.sort.direction === 'asc' ? '>' : '<'} (${p.add(q.cursor.value)}, ${p.add(q.cursor.id)})`;
    where = where ? `${where} AND ${after}` : `WHERE ${after}`;
  }
  const text = `SELECT ${SELECT_COLUMNS}, ${expr} AS sort_value FROM ${LOG_TABLE} ${where} `
    + `ORDER BY ${expr} ${dir}, id ${dir} LIMIT ${p.add(q.limit + 1)}`;
  return { text, values: p.values };
}

export function pageOf(rows: readonly Record<string, unknown>[], q: LogQuery): LogPage {
  const more = rows.length > q.limit;
  const kept = more ? rows.slice(0, q.limit) : rows;
  const last = kept.at(-1);
  return {
    records: kept.map(recordOf),
    nextCursor: more && last
      ? encodeCursor({ field: q.sort.field, direction: q.sort.direction, value: Number(last.sort_value), id: String(last.id) })
      : null,
  };
}

export function getQuery(id: string, dialect: SqlDialect): BuiltQuery {
  const p = new Params(dialect);
  return { text: `SELECT ${SELECT_COLUMNS} FROM ${LOG_TABLE} WHERE id = ${p.add(id)}`, values: p.values };
}

/** Deletes at most `batch` records older than `before`; a small batch holds the write lock only briefly. */
export function retentionQuery(before: number, batch: number, dialect: SqlDialect): BuiltQuery {
  const p = new Params(dialect);
  return {
    text: `DELETE FROM ${LOG_TABLE} WHERE id IN (SELECT id FROM ${LOG_TABLE} WHERE timestamp_ms < ${p.add(before)} `
      + `ORDER BY timestamp_ms LIMIT ${p.add(batch)})`,
    values: p.values,
  };
}

// Nearest-rank percentile k of n rows: row ceil(k·n/100), in integer arithmetic both engines share.
const percentile = (k: number) => `MAX(CASE WHEN rn = (n * ${k} + 99) / 100 THEN latency_ms END)`;

export function statsQuery(q: LogStatsQuery, dialect: SqlDialect, maxGroups: number): BuiltQuery {
  checkLogStatsQuery(q);
  const p = new Params(dialect);
  let group = 'NULL';
  if (q.groupBy === 'provider') group = 'provider';
  else if (q.groupBy === 'model') group = 'COALESCE(model, model_requested)';
  else if (q.groupBy === 'time') {
    // SQLite binds a JS number as REAL; the casts keep the division integral in both engines.
    const width = () => `CAST(${p.add((q.bucketSeconds as number) * 1000)} AS BIGINT)`;
    group = `(timestamp_ms / ${width()}) * ${width()}`;
  }
  const where = whereClause(q, p);
  const errorCase = 'CASE WHEN status >= 400 THEN 1 ELSE 0 END';
  // The group is computed once, innermost, so its parameters are bound once; the window ranks latencies per group.
  const text = `SELECT g, COUNT(*) AS count, SUM(${errorCase}) AS errors,
      ${percentile(50)} AS p50, ${percentile(95)} AS p95, ${percentile(99)} AS p99,
      SUM(COALESCE(tokens_in, 0)) AS tokens_in, SUM(COALESCE(tokens_out, 0)) AS tokens_out,
      SUM(COALESCE(tokens_cached, 0)) AS tokens_cached, SUM(COALESCE(tokens_reasoning, 0)) AS tokens_reasoning,
      SUM(COALESCE(cost_usd, 0)) AS cost_usd, SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced
    FROM (SELECT base.*, ROW_NUMBER() OVER (PARTITION BY g ORDER BY latency_ms) AS rn, COUNT(*) OVER (PARTITION BY g) AS n
      FROM (SELECT ${group} AS g, status, latency_ms, tokens_in, tokens_out, tokens_cached, tokens_reasoning, cost_usd
        FROM ${LOG_TABLE} ${where}) base) ranked
    GROUP BY g
    ORDER BY ${q.groupBy === 'time' ? 'g ASC' : 'COUNT(*) DESC, g ASC'}
    LIMIT ${p.add(maxGroups)}`;
  return { text, values: p.values };
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function statsGroupOf(row: Record<string, unknown>, groupBy: LogStatsQuery['groupBy']): LogStatsGroup {
  const count = num(row.count);
  const errors = num(row.errors);
  const g = row.g;
  return {
    key: g === null || g === undefined ? null : groupBy === 'time' ? Number(g) : String(g),
    count,
    errors,
    errorRate: count === 0 ? 0 : errors / count,
    latencyP50: numOrNull(row.p50),
    latencyP95: numOrNull(row.p95),
    latencyP99: numOrNull(row.p99),
    tokensIn: num(row.tokens_in),
    tokensOut: num(row.tokens_out),
    tokensCached: num(row.tokens_cached),
    tokensReasoning: num(row.tokens_reasoning),
    costUsd: num(row.cost_usd),
    unpriced: num(row.unpriced),
  };
}

export const EMPTY_GROUP: LogStatsGroup = Object.freeze({
  key: null, count: 0, errors: 0, errorRate: 0, latencyP50: null, latencyP95: null, latencyP99: null,
  tokensIn: 0, tokensOut: 0, tokensCached: 0, tokensReasoning: 0, costUsd: 0, unpriced: 0,
});

/** A row as either engine returns it (numbers as strings for PostgreSQL's bigint, 0/1 for SQLite's booleans). */
export function recordOf(row: Record<string, unknown>): RequestLogRecord {
  const out: Record<string, unknown> = {};
  for (const [field, column] of LOG_COLUMNS) {
    const v = row[column];
    if (BOOLEAN_FIELDS.has(field)) out[field] = v === true || v === 1 || v === 1n;
    else if (TEXT_FIELDS.has(field)) out[field] = v === null || v === undefined ? null : String(v);
    else out[field] = numOrNull(v);
  }
  return out as unknown as RequestLogRecord;
}

/** A record's values in LOG_COLUMNS order, as `dialect` binds them. */
export function rowValues(r: RequestLogRecord, dialect: SqlDialect): unknown[] {
  return LOG_COLUMNS.map(([field]) => {
    const v = r[field];
    if (typeof v === 'boolean') return dialect === 'sqlite' ? (v ? 1 : 0) : v;
    if (typeof v === 'string') return withoutNul(v);
    return v ?? null;
  });
}
