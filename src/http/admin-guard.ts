// The one door to the admin API: every route under `/api/` goes through `guardAdminRoutes`, which the server applies
// to its route list, so a route added later cannot be left open by mistake. Logs hold prompts, and a reload
// restarts the gateway: with admin credentials configured (src/config/admin.ts) a caller must present them, from
// anywhere; with none, only a client on this host (loopback) may call. Credentials are compared in constant time and
// never logged.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminConfig } from '../config/types.js';
import type { ErrorData } from '../errors/error-data.js';
import { errorData, openAIErrorBody, statusOf } from '../errors/gateway-error.js';
import type { ResponseSink } from './response.js';
import type { IncomingRequest, Route } from './server.js';

export const ADMIN_PREFIX = '/api/';

/** `127.0.0.0/8` or `::1`, in any spelling uWebSockets.js gives (IPv4-mapped IPv6 on a dual-stack socket). */
export function isLoopback(address: string): boolean {
  if (address.startsWith('127.')) return true;
  let host: string;
  try {
    host = new URL(`http://[${address}]/`).hostname;
  } catch {
    return false;
  }
  return host === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

// Digests first: timingSafeEqual needs equal lengths, and comparing lengths would tell how long the secret is.
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
const sameSecret = (given: string, expected: Buffer): boolean => timingSafeEqual(digest(given), expected);

/** Decides one request: null lets it through, else the error to answer with. */
export type AdminCheck = (request: IncomingRequest) => ErrorData | null;

export function adminCheck(admin: AdminConfig): AdminCheck {
  const basic = admin.basic ? digest(`${admin.basic.username}:${admin.basic.password}`) : null;
  const bearer = admin.bearerToken ? digest(admin.bearerToken) : null;
  if (!basic && !bearer) {
    return (request) => isLoopback(request.remoteAddress ?? '') ? null
      : errorData('ADMIN_LOOPBACK_ONLY', `${request.path} answers loopback clients only (127.0.0.1, ::1): no admin `
        + 'credentials are configured (governance.auth_config, or HEIMDALL_ADMIN_TOKEN)');
  }
  const expected = [basic ? 'Basic' : '', bearer ? 'Bearer' : ''].filter(Boolean).join(' or ');
  return (request) => {
    const header = request.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const credentials = header.slice(space + 1).trim();
    let ok = false;
    if (space > 0 && scheme === 'basic' && basic) ok = sameSecret(Buffer.from(credentials, 'base64').toString('utf8'), basic);
    else if (space > 0 && scheme === 'bearer' && bearer) ok = sameSecret(credentials, bearer);
    return ok ? null : errorData('ADMIN_UNAUTHORIZED', header
      ? `the admin credentials are wrong: ${request.path} takes ${expected} authorization`
      : `${request.path} needs admin credentials: send an Authorization header (${expected})`);
  };
}

/**
 * The routes with every `/api/*` handler behind `check`: refused requests are answered in the admin API's error
 * shape (OpenAI's envelope) and never reach the handler. The client's address is read for those routes only.
 */
export function guardAdminRoutes(routes: readonly Route[], check: AdminCheck, realm: string): Route[] {
  const refuse = (sink: ResponseSink, error: ErrorData) => {
    sink.access.errorCode = error.code.toLowerCase();
    sink.json(statusOf(error), openAIErrorBody(error),
      error.code === 'ADMIN_UNAUTHORIZED' ? { 'www-authenticate': realm } : undefined);
  };
  return routes.map((route) => {
    if (!route.path.startsWith(ADMIN_PREFIX)) return route;
    const handler = route.handler;
    return {
      ...route,
      remoteAddress: true,
      handler: (request: IncomingRequest, sink: ResponseSink) => {
        const refused = check(request);
        if (refused) refuse(sink, refused);
        else handler(request, sink);
      },
    };
  });
}

/** The `WWW-Authenticate` challenge a 401 carries: basic when a password is configured, else bearer. */
export function adminRealm(admin: AdminConfig): string {
  return admin.basic ? 'Basic realm="heimdall admin", charset="UTF-8"' : 'Bearer realm="heimdall admin"';
}
