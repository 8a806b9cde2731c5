// Files and batches: a call in a provider's own files or batches API (OpenAI's /v1/files and /v1/batches,
// Anthropic's /v1/files and /v1/messages/batches, Google's files and batches, Bedrock's model invocation jobs and
// the S3 objects they read) goes to a provider that has that API, with the key that owns the id it names. Stages:
// prepare (the route's API says what the provider's path is, which id the call is about, what it names) → choose
// the provider and key (the id's owner; else the provider the client names; else the route's default) → a `files`
// job through the provider's pool → remember or forget the ids the answer creates or deletes → answer as the
// provider did. No plugins run: these calls carry no prompt of their own until a batch runs, at the provider.

import type { Logger } from 'pino';
import type { ProviderConfig } from '../config/types.js';
import { NO_MODEL_SLOT } from '../contract/metrics-layout.js';
import type { FilesRequest, JobData, ResultMeta, StreamEndMeta, StreamHead } from '../contract/messages.js';
import { PROVIDER_FACTS, type FilesApi } from '../contract/providers.js';
import type { JobHandlers } from '../dispatch/channel.js';
import type { ProviderPool, Ticket } from '../dispatch/pool.js';
import type { ErrorData } from '../errors/error-data.js';
import { GatewayError, statusOf, toErrorData } from '../errors/gateway-error.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import type { RequestLogSettings } from '../observability/request-log.js';
import type { ResourceOwner, ResourceOwners } from './resource-owners.js';
import { chooseKey } from './route.js';

/** The request header that names the provider of a files or batches call, as in Bifrost. */
export const PROVIDER_HEADER = 'x-model-provider';

/** One of the files and batches APIs, as a family of routes. */
export interface FilesRouteApi {
  readonly api: FilesApi;
  /** The provider a call goes to when it names none and its id is not known; null: it must name one. */
  readonly defaultProvider: string | null;
  readonly errorBody: (error: ErrorData) => string;
  readonly errorHeaders?: (error: ErrorData) => Record<string, string>;
  /** Request headers of this API that travel on to the provider (`anthropic-beta`). */
  readonly forwardHeaders: readonly string[];
  /** Why the provider cannot serve these routes, or null when it can; absent: it must be the built-in provider with
   * this files API (the passthrough routes decide otherwise). */
  readonly refuses?: (provider: ProviderConfig, prepared: PreparedCall) => string | null;
}

/** An answer the gateway gives itself, without a provider (a resumable upload's session step). */
export interface DirectAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly contentType: string;
  readonly body: string;
}

/** What the route's API makes of a request: the provider's call, and what decides where it goes. */
export interface PreparedCall {
  /** `{model}` in its path stands for the request's model as the chosen provider knows it. */
  readonly upstream: Omit<FilesRequest, 'headers'> & { readonly headers?: Record<string, string> };
  /** The id the call is about; its owner serves it, and an id nobody owns is a 404 unless a provider is named. */
  readonly id?: string | null;
  /** An id the request refers to (a batch's input file): its owner, when known, decides provider and key. */
  readonly refersTo?: string | null;
  /** A provider the request names in its own fields (a `provider` field or form part). */
  readonly provider?: string | null;
  /** A model the request names: `provider/model` names the provider; the key must allow the model. */
  readonly model?: string | null;
  /** Answered by the gateway, with nothing sent upstream. */
  readonly answerNow?: DirectAnswer;
  /** The call asks the provider for a streamed answer (a passthrough's `stream: true`). */
  readonly streams?: boolean;
}

/** What an answer teaches about ownership. */
export interface Learned {
  readonly remember?: readonly string[];
  readonly forget?: readonly string[];
}

export interface ProviderAnswer {
  readonly contentType: string;
  readonly body: Uint8Array;
  readonly headers: Record<string, string>;
}

export interface FilesOperation {
  readonly method: 'get' | 'post' | 'put' | 'delete';
  /** A uWebSockets.js pattern. */
  readonly path: string;
  readonly label?: string;
  readonly readBody: boolean;
  /**
   * A list: it goes to the provider's first enabled key, so that listing twice shows the same account. (A provider
   * keeps each key's files apart; a list shows one key's. Calls about an id go to its own key whatever lists show.)
   */
  readonly lists?: boolean;
  /** Throws a GatewayError for a request the operation cannot take. */
  prepare(request: IncomingRequest): PreparedCall | Promise<PreparedCall>;
  /** The call as the chosen provider and key take it, when their API differs in more than where it lives (an Azure
   * batch file names deployments); absent or undefined: as prepared. */
  forTarget?(prepared: PreparedCall, provider: ProviderConfig, keyIndex: number):
    PreparedCall['upstream'] | undefined | Promise<PreparedCall['upstream'] | undefined>;
  /** The ids the answer creates, lists or deletes; `json` is the answer's JSON, undefined when it has none (S3's). */
  learn?(json: unknown, prepared: PreparedCall): Learned;
  /** A second call the answer asks for, on the same key (a batch's output file); null: answer this one; a GatewayError
   * when the answer cannot give what the client asked for. `provider` is the one that answered. */
  followUp?(json: unknown, provider: ProviderConfig): PreparedCall['upstream'] | null;
  /** The answer as the client gets it, when it is not the provider's as it came (a URL that must point back here). */
  answer?(provider: ProviderAnswer, request: IncomingRequest): ProviderAnswer;
}

export interface FilesDeps {
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  readonly pools: ReadonlyMap<string, ProviderPool>;
  readonly owners: ResourceOwners;
  readonly logger: Logger;
  /** The request log's settings, for the routes it records (the passthrough ones); null or absent: it is off. */
  readonly requestLog?: RequestLogSettings | null;
}

interface Target {
  readonly provider: ProviderConfig;
  readonly keyIndex: number;
  /** The request's model as the provider knows it (no `provider/` prefix), which replaces `{model}` in the path. */
  readonly model: string | null;
}

const ANSWER_HEADERS_KEPT = ['etag', 'last-modified'];

function headerOrQuery(request: IncomingRequest): string | null {
  const header = request.headers[PROVIDER_HEADER];
  if (header) return header;
  return request.query ? new URLSearchParams(request.query).get('provider') : null;
}

function providerOfModel(model: string | null | undefined, providers: ReadonlyMap<string, ProviderConfig>): string | null {
  const slash = model ? model.indexOf('/') : -1;
  return slash > 0 && providers.has(model!.slice(0, slash)) ? model!.slice(0, slash) : null;
}

/**
 * The keys that may serve files and batches: those with `use_for_batch_api` when any key of the provider sets it
 * (Bifrost's rule), else every key. Others are shown as disabled, so key choice skips them.
 */
function batchKeys(provider: ProviderConfig): readonly ProviderConfig['keys'][number][] {
  if (!provider.keys.some((key) => key.useForBatchApi === true)) return provider.keys;
  return provider.keys.map((key) => (key.useForBatchApi === true ? key : { ...key, enabled: false }));
}

/** A key for a call that names no model: any enabled key, by weight; with a model, one that allows it. */
function chooseFilesKey(provider: ProviderConfig, model: string | null): number {
  if (provider.keyless && provider.keys.length === 0) return -1;
  const batch = batchKeys(provider);
  const keys = model ? batch : batch.map((key) => ({ ...key, models: null, blacklistedModels: [] }));
  const index = chooseKey(keys, model ?? '');
  if (index === -1) {
    throw new GatewayError('MODEL_NOT_ALLOWED', `no enabled key of provider '${provider.name}'${model ? ` allows model '${model}'` : ''}`,
      { provider: provider.name });
  }
  return index;
}

function bareModel(model: string | null | undefined, provider: string): string | null {
  if (!model) return null;
  return model.startsWith(`${provider}/`) ? model.slice(provider.length + 1) : model;
}

/** The owner of the id the call is about, else of what it refers to: at once from memory, or once a store answers. */
export function ownerOf(owners: ResourceOwners, prepared: PreparedCall):
  ResourceOwner | undefined | Promise<ResourceOwner | undefined> {
  const ofId = prepared.id ? owners.get(prepared.id) : undefined;
  const ofReferred = () => (prepared.refersTo ? owners.get(prepared.refersTo) : undefined);
  if (ofId instanceof Promise) return ofId.then((owner) => owner ?? ofReferred());
  return ofId ?? ofReferred();
}

/**
 * Where the call goes. The id's owner first: the id exists only in that key's account. Then the owner of what the
 * request refers to, then the provider the client names, then the route's default.
 */
export function chooseTarget(deps: FilesDeps, api: FilesRouteApi, request: IncomingRequest, prepared: PreparedCall,
  owner: ResourceOwner | undefined, lists = false): Target {
  const named = headerOrQuery(request) ?? prepared.provider ?? providerOfModel(prepared.model, deps.providers);
  if (prepared.id && !owner && !named) {
    throw new GatewayError('RESOURCE_NOT_FOUND', `no file or batch '${prepared.id}' is known to this gateway; if it was made `
      + `elsewhere (or before a restart), name its provider in the '${PROVIDER_HEADER}' header`);
  }
  const name = owner?.provider ?? named ?? api.defaultProvider;
  if (!name) {
    throw new GatewayError('INVALID_REQUEST', `name the provider of this files or batches call: the '${PROVIDER_HEADER}' header, `
      + `a 'provider' field or query parameter, or a model as 'provider/model'; configured providers: ${[...deps.providers.keys()].join(', ')}`,
    { param: 'provider' });
  }
  const provider = deps.providers.get(name);
  if (!provider) {
    throw new GatewayError('UNKNOWN_PROVIDER', `provider '${name}' is not configured; configured providers: ${[...deps.providers.keys()].join(', ')}`,
      { param: 'provider' });
  }
  const refusal = api.refuses?.(provider, prepared);
  if (refusal) throw new GatewayError('UNSUPPORTED_CAPABILITY', refusal, { param: 'provider', provider: name });
  const files = PROVIDER_FACTS[provider.adapter]?.capabilities.files ?? null;
  if (!api.refuses && (files !== api.api || provider.name !== provider.adapter)) {
    const serves = Object.entries(PROVIDER_FACTS).filter(([, facts]) => facts.capabilities.files === api.api).map(([id]) => id);
    throw new GatewayError('UNSUPPORTED_CAPABILITY', `provider '${name}' cannot serve this files or batches API; `
      + `on these routes it is served by: ${serves.join(', ')}`, { param: 'provider', provider: name });
  }
  const model = bareModel(prepared.model, name);
  if (owner) {
    const keyIndex = provider.keys.findIndex((key) => key.id === owner.keyId);
    if (keyIndex !== -1 || (provider.keyless && provider.keys.length === 0)) return { provider, keyIndex, model };
  }
  if (lists) {
    const first = batchKeys(provider).findIndex((key) => key.enabled);
    if (first !== -1) return { provider, keyIndex: first, model };
  }
  return { provider, keyIndex: chooseFilesKey(provider, model), model };
}

/** The route for one operation of a files or batches API, answered in that API's shape. */
export function filesRoute(deps: FilesDeps, api: FilesRouteApi, operation: FilesOperation): Route {
  return {
    method: operation.method,
    path: operation.path,
    ...(operation.label ? { label: operation.label } : {}),
    errorBody: api.errorBody,
    ...(api.errorHeaders ? { errorHeaders: api.errorHeaders } : {}),
    readBody: operation.readBody,
    handler: createFilesHandler(deps, api, operation),
  };
}

export function createFilesHandler(deps: FilesDeps, api: FilesRouteApi, operation: FilesOperation): RouteHandler {
  const fail = (sink: ResponseSink, error: ErrorData) => {
    if (sink.aborted || sink.finished) return;
    sink.access.errorCode = error.code.toLowerCase();
    const headers = { ...api.errorHeaders?.(error), ...(error.retryAfter !== undefined ? { 'retry-after': String(error.retryAfter) } : {}) };
    sink.json(statusOf(error), api.errorBody(error), headers);
  };
  return (request, sink) => {
    let prepared: PreparedCall | Promise<PreparedCall>;
    try {
      prepared = operation.prepare(request);
    } catch (error) {
      fail(sink, toErrorData(error));
      return;
    }
    if (prepared instanceof Promise) {
      prepared.then((ready) => run(ready), (error: unknown) => fail(sink, toErrorData(error)));
    } else {
      run(prepared);
    }

    function run(ready: PreparedCall): void {
      if (sink.aborted) return;
      if (ready.answerNow) {
        sink.text(ready.answerNow.status, ready.answerNow.contentType, ready.answerNow.body, ready.answerNow.headers);
        return;
      }
      let owner: ReturnType<typeof ownerOf>;
      try {
        owner = ownerOf(deps.owners, ready);
      } catch (error) {
        fail(sink, toErrorData(error));
        return;
      }
      if (owner instanceof Promise) {
        owner.then((found) => route(ready, found), (error: unknown) => {
          // A store that cannot answer degrades the call to what memory knows: none; a named provider still works.
          deps.logger.warn({ err: error }, 'the owners store could not be read');
          route(ready, undefined);
        });
      } else {
        route(ready, owner);
      }
    }

    function route(ready: PreparedCall, owner: ResourceOwner | undefined): void {
      if (sink.aborted) return;
      let target: Target;
      try {
        target = chooseTarget(deps, api, request, ready, owner, operation.lists);
      } catch (error) {
        fail(sink, toErrorData(error));
        return;
      }
      let adapted: ReturnType<NonNullable<FilesOperation['forTarget']>>;
      try {
        adapted = operation.forTarget?.(ready, target.provider, target.keyIndex);
      } catch (error) {
        fail(sink, toErrorData(error));
        return;
      }
      const start = (upstream: PreparedCall['upstream'] | undefined) => {
        if (!sink.aborted) new FilesCall(deps, api, operation, request, sink, target, fail).start(upstream ? { ...ready, upstream } : ready);
      };
      if (adapted instanceof Promise) adapted.then(start, (error: unknown) => fail(sink, toErrorData(error)));
      else start(adapted);
    }
  };
}

/** One files call on its way through the provider's pool, and its follow-up when the answer asks for one. */
class FilesCall implements JobHandlers {
  #ticket: Ticket | null = null;
  #prepared: PreparedCall | null = null;
  #followed = false;
  /** A streamed-through answer is waiting for the client's socket to drain: the upstream is paused. */
  #paused = false;

  constructor(private readonly deps: FilesDeps, private readonly api: FilesRouteApi, private readonly operation: FilesOperation,
    private readonly request: IncomingRequest, private readonly sink: ResponseSink, private readonly target: Target,
    private readonly fail: (sink: ResponseSink, error: ErrorData) => void) {}

  start(prepared: PreparedCall): void {
    this.#prepared = prepared;
    const access = this.sink.access;
    access.provider = this.target.provider.name;
    access.model = this.target.model ?? '';
    access.keyName = this.target.provider.keys[this.target.keyIndex]?.name ?? '';
    access.attempts = 1;
    if (access.dialect !== '') access.modelRequested = prepared.model ?? null;
    this.sink.onAbort({ clientAborted: () => {
      this.#ticket?.cancel();
      this.#ticket = null;
    } });
    this.#submit(prepared.upstream);
  }

  #submit(upstream: PreparedCall['upstream']): void {
    const headers: Record<string, string> = {};
    for (const name of this.api.forwardHeaders) {
      const value = this.request.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const job: JobData = {
      kind: 'files',
      requestId: this.request.requestId,
      model: '',
      keyIndex: this.target.keyIndex,
      stream: false,
      includeUsage: false,
      modelLabel: NO_MODEL_SLOT,
      body: { ...upstream, path: upstream.path.replace('{model}', encodeURI(this.target.model ?? '')),
        headers: { ...headers, ...upstream.headers } } satisfies FilesRequest as unknown as Record<string, unknown>,
    };
    const pool = this.deps.pools.get(this.target.provider.name);
    try {
      if (!pool) throw new GatewayError('INTERNAL', `no pool for provider '${this.target.provider.name}'`);
      this.#ticket = pool.submit(job, this);
    } catch (error) {
      this.onError(toErrorData(error));
    }
  }

  onResult(_status: number, body: string | Uint8Array, meta: ResultMeta): void {
    this.#ticket = null;
    this.sink.access.upstreamMs = (this.sink.access.upstreamMs ?? 0) + meta.upstreamMs;
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const contentType = meta.contentType || 'application/octet-stream';
    const json = this.#json(bytes, contentType);
    const prepared = this.#prepared!;
    if (this.operation.learn) this.#learn(this.operation.learn(json, prepared));
    let next: PreparedCall['upstream'] | null = null;
    try {
      next = !this.#followed && this.operation.followUp ? this.operation.followUp(json, this.target.provider) : null;
    } catch (error) {
      this.fail(this.sink, toErrorData(error));
      return;
    }
    if (next) {
      this.#followed = true;
      this.#submit(next);
      return;
    }
    if (this.sink.aborted) return;
    const headers: Record<string, string> = {};
    for (const name of ANSWER_HEADERS_KEPT) if (meta.headers?.[name] !== undefined) headers[name] = meta.headers[name];
    const answer = this.operation.answer ? this.operation.answer({ contentType, body: bytes, headers }, this.request)
      : { contentType, body: bytes, headers };
    this.sink.text(200, answer.contentType, answer.body, { 'x-heimdall-provider': this.target.provider.name, ...answer.headers });
  }

  onChunks(): void {
    // A files job's stream comes as bytes (onBytes), never as chat chunks.
  }

  /** A streamed-through answer (a passthrough call's): its head, then its bytes as they come, with backpressure. */
  onBytes(bytes: Uint8Array, head: StreamHead | null): void {
    const sink = this.sink;
    if (sink.aborted) return;
    if (head) {
      sink.access.stream = true;
      sink.access.firstTokenMs = performance.now() - this.request.receivedAt;
      sink.startStream({ 'x-heimdall-provider': this.target.provider.name }, head.contentType, head.status);
      return;
    }
    sink.access.content?.bytes(bytes);
    if (!sink.write(bytes) && !this.#paused) {
      // The client reads slower than the provider writes: stop reading upstream until its socket drains.
      this.#paused = true;
      this.#ticket?.pause();
      sink.onWritable(() => {
        this.#paused = false;
        this.#ticket?.resume();
      });
    }
  }

  onEnd(meta: StreamEndMeta): void {
    this.#ticket = null;
    this.sink.access.upstreamMs = (this.sink.access.upstreamMs ?? 0) + meta.upstreamMs;
    this.sink.end();
  }

  onError(failure: ErrorData): void {
    this.#ticket = null;
    // The worker knows the key by its settings only; the operator knows it by its name.
    const error = failure.code === 'BATCH_CONFIG_MISSING'
      ? { ...failure, message: `${failure.message} [key '${this.target.provider.keys[this.target.keyIndex]?.name ?? ''}']` } : failure;
    const level = error.code === 'UPSTREAM_NOT_FOUND' || error.code === 'UPSTREAM_BAD_REQUEST' ? 'debug' : 'warn';
    if (this.deps.logger.isLevelEnabled(level)) {
      this.deps.logger[level]({ requestId: this.request.requestId, code: error.code, provider: error.provider,
        upstreamStatus: error.upstreamStatus }, error.message);
    }
    if (this.sink.streaming) {
      // The provider's own stream broke off: so does the client's, rather than end as if it were complete (a
      // passthrough stream is the provider's format, with no place for an error of the gateway's).
      this.sink.access.errorCode = error.code.toLowerCase();
      this.sink.breakOff();
      return;
    }
    // The provider no longer knows the id: neither does the gateway. (A follow-up's 404 is about another object.)
    if (error.code === 'UPSTREAM_NOT_FOUND' && this.#prepared?.id && !this.#followed) this.deps.owners.delete(this.#prepared.id);
    this.fail(this.sink, error);
  }

  #json(bytes: Uint8Array, contentType: string): unknown {
    if (!/json/i.test(contentType)) return undefined;
    try {
      return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch {
      return undefined;
    }
  }

  #learn(learned: Learned): void {
    const provider = this.target.provider;
    const keyId = provider.keys[this.target.keyIndex]?.id ?? '';
    for (const id of learned.remember ?? []) this.deps.owners.set(id, { provider: provider.name, keyId });
    for (const id of learned.forget ?? []) this.deps.owners.delete(id);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers the APIs' route files share

type Json = Record<string, unknown>;
export const isJsonObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The `id` of an answer object, and the ids of a list's `data`. */
export function idsOf(json: unknown, field = 'id', list = 'data'): string[] {
  if (!isJsonObject(json)) return [];
  const ids: string[] = [];
  if (typeof json[field] === 'string') ids.push(json[field] as string);
  const items = json[list];
  if (Array.isArray(items)) for (const item of items) if (isJsonObject(item) && typeof item[field] === 'string') ids.push(item[field] as string);
  return ids;
}

/** The path segment after `prefix` (an id), decoded; a GatewayError for bad percent-encoding. */
export function segmentAfter(path: string, prefix: string): string {
  const rest = path.slice(path.indexOf(prefix) + prefix.length).split('/')[0];
  try {
    return decodeURIComponent(rest);
  } catch {
    throw new GatewayError('INVALID_REQUEST', `the id in the path is not valid percent-encoding: '${rest}'`);
  }
}

/** A JSON body as an object, or a 400. */
export function jsonBody(request: IncomingRequest): Json {
  if (!request.body || request.body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body.toString('utf8'));
  } catch (error) {
    throw new GatewayError('INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (!isJsonObject(parsed)) throw new GatewayError('INVALID_REQUEST', 'the body must be a JSON object');
  return parsed;
}

/** The request's own body and content type, as the provider's call carries them. */
export function bodyAsIs(request: IncomingRequest): { contentType: string | null; body: Uint8Array | null } {
  return { contentType: request.headers['content-type'] ?? null, body: request.body && request.body.length > 0 ? request.body : null };
}

/** The gateway's own origin as the client reached it, for URLs in answers that must point back here. */
export function gatewayOrigin(request: IncomingRequest): string {
  const proto = request.headers['x-forwarded-proto']?.split(',')[0].trim() || 'http';
  const host = request.headers['x-forwarded-host']?.split(',')[0].trim() || request.headers.host || 'localhost';
  return `${proto}://${host}`;
}

/** The query string without the gateway's own `provider` parameter. */
export function queryWithoutProvider(query: string): string {
  if (!query || !query.includes('provider')) return query;
  const params = new URLSearchParams(query);
  params.delete('provider');
  return params.toString();
}
