// The governance admin API at Bifrost's paths: CRUD for `/api/governance/virtual-keys`, `/teams` and `/customers`,
// and read-only `/api/governance/budgets` and `/rate-limits` with what each counter has used in its window. A change
// is checked against everything in force (the same checks as the config file's, each problem naming its field),
// written to the config store, and applied before the answer (src/governance/state.ts); the other processes and
// instances sharing the store apply it within a second. A key's value is made here, shown once in the answer to its
// creation, and stored as its SHA-256 only. These routes sit behind the admin guard like every /api/* route.

import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import type { CounterSpec } from '../governance/counters.js';
import type { Governance } from '../governance/gate.js';
import { digestOf, MICRO_USD } from '../governance/model.js';
import { windowStart } from '../governance/period.js';
import {
  budgetSchema, customerSchema, ONE_OWNER, rateLimitSchema, rateLimitShape, teamSchema, virtualKeyShape,
} from '../governance/schema.js';
import { LIST_OF, type GovernanceState } from '../governance/state.js';
import type { EntityKind, EntityWrite } from '../stores/governance-store.js';
import type { ResponseSink } from './response.js';
import type { IncomingRequest, Route } from './server.js';

const PREFIX = '/api/governance/';

type OwnerKind = 'virtual_key' | 'team' | 'customer';

const inline = {
  id: z.string().min(1).max(128).optional(),
  // Bifrost's way to give an entity its own budget and rate limit in the same call.
  budget: budgetSchema.omit({ id: true }).optional(),
  rate_limit: rateLimitShape.omit({ id: true }).optional(),
};

const KINDS: Record<OwnerKind, { path: string; label: string; input: z.ZodObject }> = {
  virtual_key: { path: 'virtual-keys', label: 'virtual key', input: virtualKeyShape.omit({ value: true }).extend(inline) },
  team: { path: 'teams', label: 'team', input: teamSchema.extend(inline) },
  customer: { path: 'customers', label: 'customer', input: customerSchema.extend(inline) },
};

class BadField extends Error {
  constructor(readonly param: string, message: string) {
    super(`${param}: ${message}`);
  }
}

const fieldOf = (path: readonly PropertyKey[]): string => path.map(String).join('.') || 'body';

function parseWith<T>(schema: z.ZodType<T>, value: unknown, prefix = ''): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // A field this API does not take is named itself, not its parent.
  const unknown = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  throw new BadField(prefix + fieldOf(unknown), issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message);
}

function bodyOf(request: IncomingRequest): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(request.body?.toString('utf8') ?? '');
  } catch {
    throw new BadField('body', 'expected a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadField('body', 'expected a JSON object');
  return body as Record<string, unknown>;
}

/** Bifrost's form of a key: `sk-bf-` and 32 random bytes, so a value found in the wild is recognisably one. */
const newKeyValue = (): string => `sk-bf-${randomBytes(32).toString('base64url')}`;

/** An entity as the API shows it: never a key's value or digest. */
function view(entry: Record<string, unknown>): Record<string, unknown> {
  const { value: _value, value_digest: _digest, ...shown } = entry;
  return shown;
}

const NO_STORE = 'governance cannot be changed here: nothing would keep the change (turn the request log on, '
  + 'client.enable_logging and logs_store.enabled, or share counters in Redis, governance.state)';

const iso = (ms: number): string => new Date(ms).toISOString();

export interface GovernanceAdmin {
  readonly gate: Governance;
  readonly state: GovernanceState;
}

export function governanceRoutes(admin: GovernanceAdmin | null, logger: Logger): Route[] {
  const fail = (sink: ResponseSink, error: ErrorData) => {
    sink.access.errorCode = error.code.toLowerCase();
    sink.json(statusOf(error), openAIErrorBody(error));
  };
  const ok = (sink: ResponseSink, body: unknown) => sink.json(200, JSON.stringify(body));
  const idOf = (request: IncomingRequest, path: string): string => {
    try {
      return decodeURIComponent(request.path.slice(`${PREFIX}${path}/`.length));
    } catch {
      return '';
    }
  };
  const entries = (kind: EntityKind): Record<string, unknown>[] =>
    (admin?.state.merged[LIST_OF[kind]] ?? []) as unknown as Record<string, unknown>[];
  const find = (kind: EntityKind, id: string) => entries(kind).find((entry) => entry.id === id);

  /** Whether any entity but `kind`/`id` (or a key's provider config) names `limitId` in `field`. */
  const namedElsewhere = (field: 'budget_id' | 'rate_limit_id', limitId: string, kind: OwnerKind, id: string): boolean =>
    (['virtual_key', 'team', 'customer'] as const).some((other) => entries(other).some((entry) =>
      ((entry[field] === limitId && !(other === kind && entry.id === id))
        || (Array.isArray(entry.provider_configs)
          && (entry.provider_configs as Record<string, unknown>[]).some((pc) => pc[field] === limitId)))));

  /** Stores `writes`, answering 400 with the first problem's field, 503 when the store cannot take them. */
  const commit = async (sink: ResponseSink, writes: EntityWrite[], answer: () => unknown): Promise<void> => {
    let problems;
    try {
      problems = await admin!.state.change(writes);
    } catch (error) {
      logger.error({ err: { message: (error as Error).message } }, 'governance: the config store could not take a change');
      fail(sink, errorData('GOVERNANCE_STORE_UNAVAILABLE', 'the config store could not take the change; nothing was changed: '
        + (error as Error).message));
      return;
    }
    if (problems) {
      const [first] = problems;
      // `governance.virtual_keys.3.team_id` → `team_id`: the field of the entity this call wrote, as the caller named it.
      const param = first.path.replace(/^governance\.[a-z_]+\.\d+\./, '');
      fail(sink, errorData('INVALID_REQUEST', `${param}: ${first.message}`
        + (problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1).map((p) => `${p.path}: ${p.message}`).join('; ')})` : ''),
      { param }));
      return;
    }
    ok(sink, answer());
  };

  /** The budget and rate limit an entity gives inline, stored as their own entities under ids of their own. */
  const inlineLimits = (input: Record<string, unknown>, current: Record<string, unknown> | undefined, writes: EntityWrite[]) => {
    const { budget, rate_limit: rateLimit, ...rest } = input;
    if (budget !== undefined) {
      const existing = typeof current?.budget_id === 'string' ? find('budget', current.budget_id) : undefined;
      const id = (existing?.id as string | undefined) ?? `budget-${randomUUID()}`;
      writes.push(['budget', id, parseWith(budgetSchema, { ...existing, ...(budget as object), id }, 'budget.')]);
      rest.budget_id = id;
    }
    if (rateLimit !== undefined) {
      const existing = typeof current?.rate_limit_id === 'string' ? find('rate_limit', current.rate_limit_id) : undefined;
      const id = (existing?.id as string | undefined) ?? `rate-limit-${randomUUID()}`;
      writes.push(['rate_limit', id, parseWith(rateLimitSchema, { ...existing, ...(rateLimit as object), id }, 'rate_limit.')]);
      rest.rate_limit_id = id;
    }
    return rest;
  };

  const routesOf = (kind: OwnerKind): Route[] => {
    const { path, label, input } = KINDS[kind];
    const plural = LIST_OF[kind];
    const guard = (handler: (request: IncomingRequest, sink: ResponseSink) => Promise<void> | void, writes: boolean) =>
      (request: IncomingRequest, sink: ResponseSink) => {
        if (!admin || (writes && !admin.state.persistent)) {
          fail(sink, errorData('GOVERNANCE_STORE_DISABLED', NO_STORE));
          return;
        }
        Promise.resolve().then(() => handler(request, sink)).catch((error: unknown) => {
          if (error instanceof BadField) fail(sink, errorData('INVALID_REQUEST', error.message, { param: error.param }));
          else {
            logger.error({ err: error }, 'governance admin API failed');
            fail(sink, errorData('INTERNAL', 'internal error'));
          }
        });
      };
    const notFound = (sink: ResponseSink, id: string) =>
      fail(sink, errorData('GOVERNANCE_NOT_FOUND', `no ${label} has the id '${id}'`));

    /** The entity `fields` describe, checked as the config file's would be; a key's value is never in it. */
    const entityOf = (fields: Record<string, unknown>): Record<string, unknown> => {
      if (kind === 'team') return parseWith(teamSchema, fields) as Record<string, unknown>;
      if (kind === 'customer') return parseWith(customerSchema, fields) as Record<string, unknown>;
      const { value_digest: digest, ...rest } = fields;
      // The shape's check of `value` is passed with a stand-in: the value itself was checked when it was made.
      const parsed = parseWith(virtualKeyShape, { ...rest, value: 'stand-in-value' }) as Record<string, unknown>;
      if (parsed.team_id && parsed.customer_id) throw new BadField('customer_id', ONE_OWNER.message);
      const { value: _value, ...stored } = parsed;
      return { ...stored, value_digest: digest };
    };

    return [
      { method: 'get', path: `${PREFIX}${path}`, readBody: false, handler: guard((_request, sink) => {
        const list = entries(kind).map(view);
        ok(sink, { [plural]: list, count: list.length });
      }, false) },
      { method: 'get', path: `${PREFIX}${path}/:id`, label: `${PREFIX}${path}/{id}`, readBody: false, handler: guard((request, sink) => {
        const id = idOf(request, path);
        const entry = find(kind, id);
        if (!entry) notFound(sink, id);
        else ok(sink, { [kind]: view(entry) });
      }, false) },
      { method: 'post', path: `${PREFIX}${path}`, readBody: true, handler: guard(async (request, sink) => {
        const given = parseWith(input, bodyOf(request)) as Record<string, unknown>;
        const id = (given.id as string | undefined) ?? `${kind === 'virtual_key' ? 'vk' : kind}-${randomUUID()}`;
        if (find(kind, id)) throw new BadField('id', `a ${label} with the id '${id}' exists already`);
        const writes: EntityWrite[] = [];
        const fields = { ...inlineLimits(given, undefined, writes), id };
        const value = kind === 'virtual_key' ? newKeyValue() : null;
        const entity = entityOf(value === null ? fields : { ...fields, value_digest: digestOf(value) });
        writes.push([kind, id, entity]);
        await commit(sink, writes, () => ({ message: `${label} created`,
          [kind]: { ...view(entity), ...(value === null ? {} : { value }) } }));
      }, true) },
      { method: 'put', path: `${PREFIX}${path}/:id`, label: `${PREFIX}${path}/{id}`, readBody: true, handler: guard(async (request, sink) => {
        const id = idOf(request, path);
        const current = find(kind, id);
        if (!current) {
          notFound(sink, id);
          return;
        }
        const body = bodyOf(request);
        if (body.id !== undefined && body.id !== id) throw new BadField('id', 'an id cannot be changed');
        if (kind === 'virtual_key' && body.value !== undefined) {
          throw new BadField('value', "a key's value cannot be changed: create a new key and delete this one");
        }
        // Only the fields sent change: the schema's defaults must not reset the others.
        const parsed = parseWith(input.partial(), body) as Record<string, unknown>;
        const sent = Object.fromEntries(Object.entries(parsed).filter(([name]) => Object.hasOwn(body, name)));
        const writes: EntityWrite[] = [];
        const changes = inlineLimits(sent, current, writes);
        const { value, value_digest: digest, ...kept } = current;
        // A key from the config file is stored by its digest, like one made here.
        const fields = { ...kept, ...changes, id, ...(kind === 'virtual_key'
          ? { value_digest: (digest as string | undefined) ?? digestOf(value as string) } : {}) };
        const entity = entityOf(fields);
        writes.push([kind, id, entity]);
        await commit(sink, writes, () => ({ message: `${label} updated`, [kind]: view(entity) }));
      }, true) },
      { method: 'delete', path: `${PREFIX}${path}/:id`, label: `${PREFIX}${path}/{id}`, readBody: false, handler: guard(async (request, sink) => {
        const id = idOf(request, path);
        const entry = find(kind, id);
        if (!entry) {
          notFound(sink, id);
          return;
        }
        const writes: EntityWrite[] = [[kind, id, null]];
        // The budget and rate limit the API made for this entity go with it, unless something else names them too.
        for (const [field, limitKind] of [['budget_id', 'budget'], ['rate_limit_id', 'rate_limit']] as const) {
          const limitId = entry[field];
          if (typeof limitId !== 'string' || admin!.state.inFile(limitKind, limitId)) continue;
          if (!namedElsewhere(field, limitId, kind, id)) writes.push([limitKind, limitId, null]);
        }
        await commit(sink, writes, () => ({ message: `${label} deleted` }));
      }, true) },
    ];
  };

  /** What a counter has used in the window now is in, and when that window began and ends. */
  const usageOf = async (counter: CounterSpec | undefined) => {
    if (!admin || !counter) return null;
    const now = Date.now();
    const usage = await admin.gate.usage(counter);
    return { used: usage.used, reserved: usage.reserved, start: windowStart(counter.period, now), end: usage.resetAt };
  };
  const readOnly = (handler: (sink: ResponseSink) => Promise<void>) => (_request: IncomingRequest, sink: ResponseSink) => {
    if (!admin) {
      fail(sink, errorData('GOVERNANCE_STORE_DISABLED', NO_STORE));
      return;
    }
    handler(sink).catch((error: unknown) => fail(sink, errorData('GOVERNANCE_UNAVAILABLE',
      `the counters cannot be read: ${(error as Error).message}`)));
  };

  return [
    ...routesOf('virtual_key'),
    ...routesOf('team'),
    ...routesOf('customer'),
    { method: 'get', path: `${PREFIX}budgets`, readBody: false, handler: readOnly(async (sink) => {
      const merged = admin!.state.merged;
      const all = [...merged.budgets.map((b) => ({ b, key: b.id })),
        ...merged.customers.flatMap((c) => c.budgets.map((b) => ({ b, key: `${c.id}/${b.id}` })))];
      const budgets = await Promise.all(all.map(async ({ b, key }) => {
        const usage = await usageOf(admin!.gate.model.counters.get(`budget:${key}`));
        return { id: key, max_limit: b.max_limit, reset_duration: b.reset_duration, calendar_aligned: b.calendar_aligned,
          current_usage: usage ? usage.used / MICRO_USD : 0, reserved_usage: usage ? usage.reserved / MICRO_USD : 0,
          ...(usage ? { last_reset: iso(usage.start), next_reset: iso(usage.end) } : {}) };
      }));
      ok(sink, { budgets, count: budgets.length });
    }) },
    { method: 'get', path: `${PREFIX}rate-limits`, readBody: false, handler: readOnly(async (sink) => {
      const counters = admin!.gate.model.counters;
      const rateLimits = await Promise.all(admin!.state.merged.rate_limits.map(async (r) => {
        const requests = await usageOf(counters.get(`requests:${r.id}`));
        const tokens = await usageOf(counters.get(`tokens:${r.id}`));
        return { id: r.id,
          ...(requests ? { request_max_limit: r.request_max_limit, request_reset_duration: r.request_reset_duration,
            request_current_usage: requests.used, request_reserved: requests.reserved, request_last_reset: iso(requests.start),
            request_next_reset: iso(requests.end) } : {}),
          ...(tokens ? { token_max_limit: r.token_max_limit, token_reset_duration: r.token_reset_duration,
            token_current_usage: tokens.used, token_last_reset: iso(tokens.start), token_next_reset: iso(tokens.end) } : {}) };
      }));
      ok(sink, { rate_limits: rateLimits, count: rateLimits.length });
    }) },
  ];
}
