// Applies an adapter's declared auth style to a built call. Static styles are synchronous; the cloud ones
// (request signing, OAuth tokens) register themselves here from their own files.

import type { AuthStyle, KeyInit } from '../providers/types.js';

export interface SignableRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** Adds credentials to the request in place; may be async (a token fetch, an async signer). */
export type Authenticator = (request: SignableRequest, key: KeyInit, style: AuthStyle) => void | Promise<void>;

const authenticators: Partial<Record<AuthStyle['kind'], Authenticator>> = {
  bearer: (request, key) => {
    if (key.value) request.headers.authorization = `Bearer ${key.value}`;
  },
  header: (request, key, style) => {
    if (key.value && style.kind === 'header') request.headers[style.name] = key.value;
  },
  none: () => {},
};

export function registerAuthenticator(kind: AuthStyle['kind'], authenticator: Authenticator): void {
  authenticators[kind] = authenticator;
}

export function authenticate(request: SignableRequest, key: KeyInit, style: AuthStyle): void | Promise<void> {
  const authenticator = authenticators[style.kind];
  if (!authenticator) throw new Error(`no authenticator for '${style.kind}' in this build`);
  return authenticator(request, key, style);
}
