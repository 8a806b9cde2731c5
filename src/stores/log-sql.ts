// The request log's table and the SQL both engines run against it. Every value is a bound parameter; the only text
// assembled here comes from the fixed maps below (columns, sort expressions, group expressions), chosen by name.
import {
  checkLogQuery, checkLogStatsQuery, encodeCursor, type LogFilter, type LogPage, type LogQuery, type LogSortField,
  type LogStatsGroup, type LogStatsQuery,
} from './log-query.js';
import type { RequestLogRecord } from './log-record.js';

export const LOG_TABLE = 'heimdall_request_logs';
/**
 * The request and the answer live in a table of their own: the log's rows stay small, so filters and sorts read
 * few pages however long the prompts; a page of results fetches its contents by id.
 */
export const CONTENT_TABLE = 'heimdall_request_log_contents';
/**
 * SQLite's index of the content for `search` (when `logs_store.search_index` is on): an FTS5 table over the content
 * table (external content, so the text is stored once), tokenized in trigrams, which answers substring queries of 3
 * characters or more from the index.
 */
export const SEARCH_TABLE = 'heimdall_request_log_search';
/** The shortest search an index answers (a trigram); a shorter one scans the content. */
export const MIN_INDEXED_SEARCH = 3;
export const LOG_COMPONENT = 'request_logs';

/** Record field → column, in insert order. */
export const LOG_COLUMNS = [
  ['id', 'id'], ['timestamp', 'timestamp_ms'], ['route', 'route'], ['method', 'method'], ['dialect', 'dialect'],
  ['provider', 'provider'], ['modelRequested', 'model_requested'], ['model', 'model'], ['keyName', 'key_name'],
  ['virtualKeyId', 'virtual_key_id'], ['status', 'status'], ['errorCode', 'error_code'], ['attempts', 'attempts'],
  ['fallbacks', 'fallbacks'], ['latencyMs', 'latency_ms'], ['ttftMs', 'ttft_ms'], ['upstreamMs', 'upstream_ms'],
  ['overheadMs', 'overhead_ms'], ['tokensIn', 'tokens_in'], ['tokensOut', 'tokens_out'], ['tokensCached', 'tokens_cached'],
  ['tokensReasoning', 'tokens_reasoning'], ['costUsd', 'cost_usd'], ['cache', 'cache'], ['stream', 'stream'], ['cancelled', 'cancelled'],
  ['request', 'request'], ['response', 'response'],
] as const satisfies readonly (readonly [keyof RequestLogRecord, string])[];

/** The log table's columns: every record field but the content. */
export const META_COLUMNS = LOG_COLUMNS.filter(([field]) => field !== 'request' && field !== 'response');

const BOOLEAN_FIELDS = new Set<keyof RequestLogRecord>(['stream', 'cancelled']);
const TEXT_FIELDS = new Set<keyof RequestLogRecord>(['id', 'route', 'method', 'dialect', 'provider', 'modelRequested', 'model',
  'keyName', 'virtualKeyId', 'errorCode', 'cache', 'request', 'response']);

// One expression per sort field, written as in its index (where it has one) so the engine can walk the index.
const SORT_EXPRESSIONS: Record<LogSortField, string> = {
  timestamp: 'timestamp_ms',
  latencyMs: 'latency_ms',
  // A request with no price sorts below every priced one, in both engines (NULL ordering differs between them).
  costUsd: 'COALESCE(cost_usd, -1)',
  tokensTotal: '(COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0))',
};

/** The model a record counts under: the one that answered, else the one asked (a request that failed first). */
const MODEL_EXPRESSION = 'COALESCE(model, model_requested)';

/** The log table's indexes, matched to the query API's filters and sorts. */
function secondaryIndexes(): string[] {
  return [
    // Every index costs each write; cost and token sorts go without one (they sort the filtered rows).
    ...(['timestamp', 'latencyMs'] as const).map((field) =>
      `CREATE INDEX IF NOT EXISTS ${LOG_TABLE}_by_${field.toLowerCase()} ON ${LOG_TABLE} ((${SORT_EXPRESSIONS[field]}), id)`),
    ...['provider', 'status'].map((column) =>
      `CREATE INDEX IF NOT EXISTS ${LOG_TABLE}_by_${column} ON ${LOG_TABLE} (${column}, timestamp_ms)`),
    `CREATE INDEX IF NOT EXISTS ${LOG_TABLE}_by_model ON ${LOG_TABLE} ((${MODEL_EXPRESSION}), timestamp_ms)`,
    ...['error_code', 'virtual_key_id'].map((column) =>
      `CREATE INDEX IF NOT EXISTS ${LOG_TABLE}_by_${column} ON ${LOG_TABLE} (${column}, timestamp_ms) WHERE ${column} IS NOT NULL`),
  ];
}

function schemaSteps(types: { bigint: string; real: string; bool: string }): string[] {
  const { bigint, real, bool } = types;
  return [[
    `CREATE TABLE IF NOT EXISTS ${LOG_TABLE} (
      id TEXT PRIMARY KEY, timestamp_ms ${bigint} NOT NULL, route TEXT NOT NULL, method TEXT NOT NULL, dialect TEXT NOT NULL,
      provider TEXT, model_requested TEXT, model TEXT, key_name TEXT, virtual_key_id TEXT, status INTEGER NOT NULL,
      error_code TEXT, attempts INTEGER NOT NULL, fallbacks INTEGER NOT NULL, latency_ms ${real} NOT NULL, ttft_ms ${real},
      upstream_ms ${real}, overhead_ms ${real}, tokens_in INTEGER, tokens_out INTEGER, tokens_cached INTEGER,
      tokens_reasoning INTEGER, cost_usd ${real}, stream ${bool} NOT NULL, cancelled ${bool} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${CONTENT_TABLE} (id TEXT PRIMARY KEY, request TEXT, response TEXT)`,
    ...secondaryIndexes(),
  ].join(';\n'),
  // Version 2: what the response cache did for the request (src/cache).
  `ALTER TABLE ${LOG_TABLE} ADD COLUMN cache TEXT`];
}

/**
 * SQLite, step 2: the content table gets an INTEGER PRIMARY KEY (`seq`), so the search index can point at its rows by
 * a rowid that VACUUM never renumbers.
 */
const SQLITE_CONTENT_SEQ_STEP = [
  `CREATE TABLE ${CONTENT_TABLE}_next (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, request TEXT, response TEXT)`,
  `INSERT INTO ${CONTENT_TABLE}_next (id, request, response) SELECT id, request, response FROM ${CONTENT_TABLE}`,
  `DROP TABLE ${CONTENT_TABLE}`,
  `ALTER TABLE ${CONTENT_TABLE}_next RENAME TO ${CONTENT_TABLE}`,
].join(';\n');

/**
 * SQLite's search index (`logs_store.search_index`), made or dropped at open to match the config: external content,
 * built over what the table holds, then kept by triggers (content rows are inserted once and deleted by retention,
 * never updated).
 */
export const SQLITE_SEARCH_INDEX = {
  create: [
    `CREATE VIRTUAL TABLE ${SEARCH_TABLE} USING fts5(request, response, content='${CONTENT_TABLE}', content_rowid='seq', `
      + "tokenize='trigram')",
    `INSERT INTO ${SEARCH_TABLE} (${SEARCH_TABLE}) VALUES ('rebuild')`,
    `CREATE TRIGGER ${SEARCH_TABLE}_insert AFTER INSERT ON ${CONTENT_TABLE} BEGIN `
      + `INSERT INTO ${SEARCH_TABLE} (rowid, request, response) VALUES (new.seq, new.request, new.response); END`,
    `CREATE TRIGGER ${SEARCH_TABLE}_delete AFTER DELETE ON ${CONTENT_TABLE} BEGIN `
      + `INSERT INTO ${SEARCH_TABLE} (${SEARCH_TABLE}, rowid, request, response) VALUES ('delete', old.seq, old.request, old.response); END`,
  ].join(';\n'),
  drop: [`DROP TRIGGER IF EXISTS ${SEARCH_TABLE}_insert`, `DROP TRIGGER IF EXISTS ${SEARCH_TABLE}_delete`,
    `DROP TABLE IF EXISTS ${SEARCH_TABLE}`].join(';\n'),
};

/**
 * PostgreSQL's search index: trigram GIN indexes (pg_trgm) under the content's ILIKE, made or dropped at open. The
 * extension goes to `public`, never to the store's own schema, whose drop would take it (and every other schema's
 * trigram indexes) along. Where it cannot be created (no right to, not installed), a notice says so and search scans
 * the content.
 */
export const POSTGRES_SEARCH_INDEX = {
  create: `DO $$
DECLARE ext_schema name;
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): request log search scans the content', SQLERRM;
  END;
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF ext_schema IS NOT NULL THEN
    EXECUTE format('CREATE INDEX IF NOT EXISTS ${CONTENT_TABLE}_request_trgm ON ${CONTENT_TABLE} USING gin (request %I.gin_trgm_ops)', ext_schema);
    EXECUTE format('CREATE INDEX IF NOT EXISTS ${CONTENT_TABLE}_response_trgm ON ${CONTENT_TABLE} USING gin (response %I.gin_trgm_ops)', ext_schema);
  END IF;
END $$`,
  drop: `DROP INDEX IF EXISTS ${CONTENT_TABLE}_request_trgm; DROP INDEX IF EXISTS ${CONTENT_TABLE}_response_trgm`,
};

/** The log table's columns as SQLite declares them (step 1 and the cache column of step 2), in META_COLUMNS order. */
const SQLITE_META_DECLARATIONS = `id TEXT NOT NULL UNIQUE, timestamp_ms INTEGER NOT NULL, route TEXT NOT NULL, method TEXT NOT NULL,
  dialect TEXT NOT NULL, provider TEXT, model_requested TEXT, model TEXT, key_name TEXT, virtual_key_id TEXT,
  status INTEGER NOT NULL, error_code TEXT, attempts INTEGER NOT NULL, fallbacks INTEGER NOT NULL, latency_ms REAL NOT NULL,
  ttft_ms REAL, upstream_ms REAL, overhead_ms REAL, tokens_in INTEGER, tokens_out INTEGER, tokens_cached INTEGER,
  tokens_reasoning INTEGER, cost_usd REAL, cache TEXT, stream INTEGER NOT NULL, cancelled INTEGER NOT NULL`;

/**
 * SQLite, step 4: every row written lands at the end of each B-tree it touches, so a batch dirties a few pages per
 * tree instead of one per row (each dirty page is written to the WAL, then again at the checkpoint). The log table
 * gets an INTEGER PRIMARY KEY (`seq`, in arrival order) and the content is keyed by it, not by the request id (a
 * random UUID); the latency sort's index goes (a latency lands anywhere in it: latency sorts read the filtered rows).
 * The search index points at the content's `seq`, which changes here: it is dropped, and made again at open when
 * configured. Records keep their order (timestamp, then id).
 */
const SQLITE_APPEND_ONLY_STEP = [
  `DROP TRIGGER IF EXISTS ${SEARCH_TABLE}_insert`, `DROP TRIGGER IF EXISTS ${SEARCH_TABLE}_delete`, `DROP TABLE IF EXISTS ${SEARCH_TABLE}`,
  `CREATE TABLE ${LOG_TABLE}_next (seq INTEGER PRIMARY KEY, ${SQLITE_META_DECLARATIONS})`,
  `INSERT INTO ${LOG_TABLE}_next (${META_COLUMNS.map(([, c]) => c).join(', ')}) SELECT ${META_COLUMNS.map(([, c]) => c).join(', ')} `
    + `FROM ${LOG_TABLE} ORDER BY timestamp_ms, id`,
  `CREATE TABLE ${CONTENT_TABLE}_next (seq INTEGER PRIMARY KEY, request TEXT, response TEXT)`,
  `INSERT INTO ${CONTENT_TABLE}_next (seq, request, response) SELECT l.seq, c.request, c.response FROM ${CONTENT_TABLE} c `
    + `JOIN ${LOG_TABLE}_next l ON l.id = c.id ORDER BY l.seq`,
  `DROP TABLE ${CONTENT_TABLE}`, `DROP TABLE ${LOG_TABLE}`,
  `ALTER TABLE ${LOG_TABLE}_next RENAME TO ${LOG_TABLE}`, `ALTER TABLE ${CONTENT_TABLE}_next RENAME TO ${CONTENT_TABLE}`,
  ...secondaryIndexes().filter((index) => !index.includes('_by_latencyms ')),
].join(';\n');

export const SQLITE_LOG_SCHEMA = [...schemaSteps({ bigint: 'INTEGER', real: 'REAL', bool: 'INTEGER' }), SQLITE_CONTENT_SEQ_STEP,
  SQLITE_APPEND_ONLY_STEP];
export const POSTGRES_LOG_SCHEMA = schemaSteps({ bigint: 'BIGINT', real: 'DOUBLE PRECISION', bool: 'BOOLEAN' });

export type SqlDialect = 'sqlite' | 'postgres';

/**
 * The column a content row shares with its log row: SQLite keys the content by the log row's `seq` (an append at
 * the end of the B-tree, SQLITE_APPEND_ONLY_STEP); PostgreSQL by the request id.
 */
const contentKey = (dialect: SqlDialect): string => (dialect === 'sqlite' ? 'seq' : 'id');

export interface BuiltQuery {
  readonly text: string;
  readonly values: unknown[];
}

/** Collects bound values and writes each one's placeholder: `?` for SQLite, `$n` for PostgreSQL. */
class Params {
  readonly values: unknown[] = [];
  /** `indexed`: SQLite's search index exists (`logs_store.search_index`). */
  constructor(readonly dialect: SqlDialect, readonly indexed = false) {}

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

/** An FTS5 query for `text` as one literal phrase: inside double quotes, with its own double quotes doubled. */
export function ftsPhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

function whereClause(f: LogFilter, p: Params): string {
  const and: string[] = [];
  if (f.from !== undefined) and.push(`timestamp_ms >= ${p.add(f.from)}`);
  if (f.to !== undefined) and.push(`timestamp_ms < ${p.add(f.to)}`);
  if (f.providers) and.push(`provider IN (${p.list(f.providers)})`);
  // One indexed expression, walked in time order: an OR over two columns would fetch and sort every match.
  if (f.models) and.push(`${MODEL_EXPRESSION} IN (${p.list(f.models)})`);
  if (f.statuses) and.push(`status IN (${p.list(f.statuses)})`);
  if (f.outcome === 'success') and.push('status < 400');
  if (f.outcome === 'error') and.push('status >= 400');
  if (f.errorCodes) and.push(`error_code IN (${p.list(f.errorCodes)})`);
  if (f.virtualKeyIds) and.push(`virtual_key_id IN (${p.list(f.virtualKeyIds)})`);
  if (f.stream !== undefined) and.push(`stream = ${p.bool(f.stream)}`);
  if (f.minLatencyMs !== undefined) and.push(`latency_ms >= ${p.add(f.minLatencyMs)}`);
  if (f.search !== undefined && p.indexed && p.dialect === 'sqlite' && [...f.search].length >= MIN_INDEXED_SEARCH) {
    // The trigram index finds the content rows holding the text (any case); the log rows are those of their ids.
    and.push(`${LOG_TABLE}.seq IN (SELECT rowid FROM ${SEARCH_TABLE} WHERE ${SEARCH_TABLE} MATCH ${p.add(ftsPhrase(f.search))})`);
  } else if (f.search !== undefined) {
    // SQLite's LIKE ignores ASCII case already; PostgreSQL's needs ILIKE (which its trigram indexes serve).
    const like = p.dialect === 'sqlite' ? 'LIKE' : 'ILIKE';
    const pattern = containsPattern(f.search);
    const key = contentKey(p.dialect);
    and.push(`EXISTS (SELECT 1 FROM ${CONTENT_TABLE} c WHERE c.${key} = ${LOG_TABLE}.${key} AND `
      + `(c.request ${like} ${p.add(pattern)} ESCAPE '\\' OR c.response ${like} ${p.add(pattern)} ESCAPE '\\'))`);
  }
  return and.length > 0 ? `WHERE ${and.join(' AND ')}` : '';
}

const SELECT_META = META_COLUMNS.map(([, column]) => `${LOG_TABLE}.${column}`).join(', ');

/** The page's query: one more row than asked, so the page knows whether another follows. */
export function listQuery(q: LogQuery, dialect: SqlDialect, indexed = false): BuiltQuery {
  checkLogQuery(q);
  const p = new Params(dialect, indexed);
  const expr = SORT_EXPRESSIONS[q.sort.field];
  const dir = q.sort.direction === 'asc' ? 'ASC' : 'DESC';
  let where = whereClause(q, p);
  if (q.cursor) {
    const after = `(${expr}, id) ${q.sort.direction === 'asc' ? '>' : '<'} (${p.add(q.cursor.value)}, ${p.add(q.cursor.id)})`;
    where = where ? `${where} AND ${after}` : `WHERE ${after}`;
  }
  // The page is chosen on the log table alone; only its rows then fetch their content.
  const key = contentKey(dialect);
  const text = `SELECT page.*, c.request, c.response FROM (SELECT ${SELECT_META}, ${LOG_TABLE}.${key} AS content_key, `
    + `${expr} AS sort_value FROM ${LOG_TABLE} ${where} ORDER BY ${expr} ${dir}, id ${dir} LIMIT ${p.add(q.limit + 1)}) page `
    + `LEFT JOIN ${CONTENT_TABLE} c ON c.${key} = page.content_key ORDER BY page.sort_value ${dir}, page.id ${dir}`;
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
  const key = contentKey(dialect);
  return { text: `SELECT ${SELECT_META}, c.request, c.response FROM ${LOG_TABLE} LEFT JOIN ${CONTENT_TABLE} c `
    + `ON c.${key} = ${LOG_TABLE}.${key} WHERE ${LOG_TABLE}.id = ${p.add(id)}`, values: p.values };
}

/**
 * Deletes at most `batch` records older than `before`, content first (run both in one transaction): a small batch
 * holds the write lock only briefly. The same oldest rows are chosen by both statements.
 */
export function retentionQueries(before: number, batch: number, dialect: SqlDialect): [contents: BuiltQuery, logs: BuiltQuery] {
  const key = contentKey(dialect);
  return [CONTENT_TABLE, LOG_TABLE].map((table) => {
    const p = new Params(dialect);
    return {
      text: `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${LOG_TABLE} WHERE timestamp_ms < ${p.add(before)} `
        + `ORDER BY timestamp_ms, id LIMIT ${p.add(batch)})`,
      values: p.values,
    };
  }) as [BuiltQuery, BuiltQuery];
}

/** What a stats query groups by, as SQL over the table's columns; null for one group over everything. */
function groupExpression(q: LogStatsQuery, p: Params): string | null {
  if (q.groupBy === 'provider') return 'provider';
  if (q.groupBy === 'model') return MODEL_EXPRESSION;
  if (q.groupBy === 'time') {
    // SQLite binds a JS number as REAL; the casts keep the division integral in both engines.
    const width = () => `CAST(${p.add((q.bucketSeconds as number) * 1000)} AS BIGINT)`;
    return `(timestamp_ms / ${width()}) * ${width()}`;
  }
  return null;
}

const ORDER_GROUPS = (q: LogStatsQuery) => (q.groupBy === 'time' ? 'g ASC' : 'COUNT(*) DESC, g ASC');

/**
 * PostgreSQL aggregates in one statement; `percentile_disc` is the nearest-rank percentile (the first latency whose
 * cumulative share reaches p).
 */
export function postgresStatsQuery(q: LogStatsQuery, maxGroups: number): BuiltQuery {
  checkLogStatsQuery(q);
  const p = new Params('postgres');
  const g = groupExpression(q, p) ?? 'NULL::text';
  const where = whereClause(q, p);
  const pct = (k: number) => `percentile_disc(${k}) WITHIN GROUP (ORDER BY latency_ms)`;
  const text = `SELECT ${g} AS g, COUNT(*) AS count, SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
      ${pct(0.5)} AS p50, ${pct(0.95)} AS p95, ${pct(0.99)} AS p99,
      SUM(COALESCE(tokens_in, 0)) AS tokens_in, SUM(COALESCE(tokens_out, 0)) AS tokens_out,
      SUM(COALESCE(tokens_cached, 0)) AS tokens_cached, SUM(COALESCE(tokens_reasoning, 0)) AS tokens_reasoning,
      SUM(COALESCE(cost_usd, 0)) AS cost_usd, SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced
    FROM ${LOG_TABLE} ${where} GROUP BY 1 ORDER BY ${ORDER_GROUPS(q)} LIMIT ${p.add(maxGroups)}`;
  return { text, values: p.values };
}

/**
 * SQLite has no percentile function, and its window functions sort every row: here the filtered rows' few columns
 * are read in one pass (in table order, not through the group's index, which would fetch rows one by one) and
 * aggregated by `aggregateStats` in the log worker.
 */
export function sqliteStatsRowsQuery(q: LogStatsQuery, indexed = false): BuiltQuery {
  checkLogStatsQuery(q);
  const p = new Params('sqlite', indexed);
  const g = groupExpression(q, p) ?? 'NULL';
  const where = whereClause(q, p);
  return { text: `SELECT ${g} AS g, status, latency_ms, tokens_in, tokens_out, tokens_cached, tokens_reasoning, cost_usd `
    + `FROM ${LOG_TABLE} ${where}`, values: p.values };
}

/** Rows of `sqliteStatsRowsQuery` (as arrays, in its column order) into groups, as PostgreSQL's query returns them. */
export function aggregateStats(rows: Iterable<unknown[]>, q: LogStatsQuery, maxGroups: number): LogStatsGroup[] {
  interface Acc { count: number; errors: number; latencies: number[]; tin: number; tout: number; tcached: number; treason: number; cost: number; unpriced: number }
  const groups = new Map<unknown, Acc>();
  for (const [g, status, latency, tin, tout, tcached, treason, cost] of rows) {
    let a = groups.get(g);
    if (!a) groups.set(g, a = { count: 0, errors: 0, latencies: [], tin: 0, tout: 0, tcached: 0, treason: 0, cost: 0, unpriced: 0 });
    a.count++;
    if ((status as number) >= 400) a.errors++;
    a.latencies.push(latency as number);
    a.tin += (tin as number | null) ?? 0;
    a.tout += (tout as number | null) ?? 0;
    a.tcached += (tcached as number | null) ?? 0;
    a.treason += (treason as number | null) ?? 0;
    if (cost === null) a.unpriced++;
    else a.cost += cost as number;
  }
  const out = [...groups].map(([g, a]) => {
    const sorted = Float64Array.from(a.latencies).sort();
    const rank = (k: number) => sorted[Math.ceil((k / 100) * sorted.length) - 1];
    return statsGroupOf({ g, count: a.count, errors: a.errors, p50: rank(50), p95: rank(95), p99: rank(99), tokens_in: a.tin,
      tokens_out: a.tout, tokens_cached: a.tcached, tokens_reasoning: a.treason, cost_usd: a.cost, unpriced: a.unpriced }, q.groupBy);
  });
  const key = (x: LogStatsGroup) => (x.key === null ? '' : String(x.key));
  out.sort(q.groupBy === 'time' ? (a, b) => (a.key as number) - (b.key as number)
    : (a, b) => b.count - a.count || key(a).localeCompare(key(b)));
  return out.slice(0, maxGroups);
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

/** A text value as both engines bind it: a NUL replaced (withoutNul), null kept. */
const nullableText = (v: string | null): string | null => (v === null ? null : withoutNul(v));

/** A record's content row (id, request, response), or null when it has none to keep. */
export function contentValues(r: RequestLogRecord): [string, string | null, string | null] | null {
  if (r.request === null && r.response === null) return null;
  return [withoutNul(r.id), nullableText(r.request), nullableText(r.response)];
}

/**
 * A record's values in META_COLUMNS order, as `dialect` binds them, written into `out` (SQLite's writer reuses one
 * array for every row of a batch). Field by field rather than a loop over the column names: a keyed load per column
 * goes megamorphic, and was 6 % of the log writer's time; log-sql.test.ts holds this order to META_COLUMNS'.
 */
export function rowValues(r: RequestLogRecord, dialect: SqlDialect, out: unknown[] = new Array(META_COLUMNS.length)): unknown[] {
  const sqlite = dialect === 'sqlite';
  out[0] = withoutNul(r.id); out[1] = r.timestamp; out[2] = withoutNul(r.route); out[3] = withoutNul(r.method);
  out[4] = withoutNul(r.dialect); out[5] = nullableText(r.provider); out[6] = nullableText(r.modelRequested);
  out[7] = nullableText(r.model); out[8] = nullableText(r.keyName); out[9] = nullableText(r.virtualKeyId);
  out[10] = r.status; out[11] = nullableText(r.errorCode); out[12] = r.attempts; out[13] = r.fallbacks;
  out[14] = r.latencyMs; out[15] = r.ttftMs ?? null; out[16] = r.upstreamMs ?? null; out[17] = r.overheadMs ?? null;
  out[18] = r.tokensIn ?? null; out[19] = r.tokensOut ?? null; out[20] = r.tokensCached ?? null;
  out[21] = r.tokensReasoning ?? null; out[22] = r.costUsd ?? null; out[23] = nullableText(r.cache ?? null);
  out[24] = sqlite ? (r.stream ? 1 : 0) : r.stream; out[25] = sqlite ? (r.cancelled ? 1 : 0) : r.cancelled;
  return out;
}
