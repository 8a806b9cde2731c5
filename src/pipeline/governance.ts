// Between parse and route, for a request that presents a virtual key: its candidates (the primary `provider/model`
// and its fallbacks) checked against the key's grants, and its worst case reserved on every budget and rate limit
// above the key (src/governance/gate.ts). The reservation settles when the response is complete, whatever ended it,
// through the access record the server finishes every request with.

import type { KeyConfig, ProviderConfig } from '../config/types.js';
import type { ClientWire } from '../dialects/dialect.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Admission, Governance, Refused } from '../governance/gate.js';
import type { VirtualKey } from '../governance/model.js';
import type { ResponseSink } from '../http/response.js';
import type { IncomingRequest } from '../http/server.js';
import type { ParsedRequest } from './parse.js';
import { respondError } from './respond.js';

export interface Governed {
  readonly key: VirtualKey;
  readonly admission: Admission;
  /** Throws when the key may not use the candidate; else the filter of the provider keys it may use (null: all). */
  keyFilter(candidate: string): ((key: KeyConfig) => boolean) | null;
}

function splitCandidate(candidate: string): [string, string] {
  const slash = candidate.indexOf('/');
  return [candidate.slice(0, slash), candidate.slice(slash + 1)];
}

class GovernedRequest implements Governed {
  constructor(readonly key: VirtualKey, readonly admission: Admission, private readonly governance: Governance,
    private readonly providers: ReadonlyMap<string, ProviderConfig>) {}

  keyFilter(candidate: string): ((key: KeyConfig) => boolean) | null {
    const [provider, model] = splitCandidate(candidate);
    return this.providers.has(provider) ? this.governance.check(this.key, provider, model) : null;
  }
}

/** The request let through (or a promise of it, when the counters are in Redis); null once it has been answered. */
export function admitRequest(governance: Governance, key: VirtualKey, request: IncomingRequest, parsed: ParsedRequest,
  fallbacks: readonly string[], providers: ReadonlyMap<string, ProviderConfig>, sink: ResponseSink,
  wire: Pick<ClientWire, 'errorBody' | 'errorHeaders'>): Governed | null | Promise<Governed | null> {
  const candidates = fallbacks.length === 0 ? [parsed.body.model] : [parsed.body.model, ...fallbacks];
  let firstRefusal: GatewayError | null = null;
  const allowed: string[] = [];
  for (const candidate of candidates) {
    const [provider, model] = splitCandidate(candidate);
    // A provider that is not configured is left to the router, which says so in its own words.
    if (!providers.has(provider)) continue;
    try {
      governance.check(key, provider, model);
      allowed.push(candidate);
    } catch (error) {
      firstRefusal ??= error as GatewayError;
    }
  }
  if (allowed.length === 0 && firstRefusal) {
    respondError(sink, wire, (firstRefusal as GatewayError).data);
    return null;
  }
  // A native request (Responses, Messages) is sent as the client wrote it: its own body has the output limit.
  const sent = parsed.native ?? parsed;
  const shape = { candidates: allowed.length > 0 ? allowed : candidates, inputBytes: request.body?.length ?? 0,
    kind: sent.kind, stream: parsed.stream, body: sent.body as Readonly<Record<string, unknown>> };
  const decided = governance.admit(key, shape);
  return decided instanceof Promise
    ? decided.then((decision) => admitted(decision, key, governance, providers, sink, wire))
    : admitted(decided, key, governance, providers, sink, wire);
}

function admitted(decision: Admission | Refused, key: VirtualKey, governance: Governance,
  providers: ReadonlyMap<string, ProviderConfig>, sink: ResponseSink,
  wire: Pick<ClientWire, 'errorBody' | 'errorHeaders'>): Governed | null {
  if (!('settle' in decision)) {
    respondError(sink, wire, decision.error, decision.headers ?? undefined);
    return null;
  }
  if (decision.headers) sink.addHeaders(decision.headers);
  const access = sink.access;
  access.afterResponse = (status) => decision.settle(access.provider, access.model, access.tokensIn, access.tokensOut,
    status < 400, access.costUsd);
  return new GovernedRequest(key, decision, governance, providers);
}
