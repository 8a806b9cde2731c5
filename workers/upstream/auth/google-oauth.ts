// The 'google-oauth' auth style: an OAuth2 access token for a Google service account (the key's
// `vertex_key_config.auth_credentials`, as the AuthStyle contract says), from the JWT-bearer grant: a JWT signed
// RS256 with the account's private key (node:crypto), exchanged at its token_uri. Tokens are cached per account
// and refreshed five minutes before they expire; concurrent requests share one refresh.

import { createHash, createSign } from 'node:crypto';
import { request } from 'undici';
import type { KeyInit } from '../../providers/types.js';
import { registerAuthenticator, type SignableRequest } from '../auth.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Tokens are replaced this long before Google says they expire. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
const ASSERTION_LIFETIME_S = 3600;
const TOKEN_TIMEOUT_MS = 30_000;

export interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

/** A service-account JSON (the string from the console, or the object) with the fields the grant needs, checked. */
export function parseServiceAccount(value: unknown): ServiceAccount {
  let account: unknown = value;
  if (typeof value === 'string') {
    try {
      account = JSON.parse(value);
    } catch {
      throw new Error('auth_credentials is not valid JSON (expected a service-account key file)');
    }
  }
  const fields = account as Partial<ServiceAccount> | null;
  if (!fields || typeof fields !== 'object') throw new Error('auth_credentials must be a service-account JSON');
  if (typeof fields.client_email !== 'string' || fields.client_email === '') throw new Error('auth_credentials has no client_email');
  if (typeof fields.private_key !== 'string' || !fields.private_key.includes('PRIVATE KEY')) {
    throw new Error('auth_credentials has no PEM private_key');
  }
  const tokenUri = typeof fields.token_uri === 'string' && fields.token_uri !== '' ? fields.token_uri : DEFAULT_TOKEN_URI;
  return { client_email: fields.client_email, private_key: fields.private_key,
    private_key_id: typeof fields.private_key_id === 'string' ? fields.private_key_id : undefined, token_uri: tokenUri };
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** The signed JWT the token endpoint exchanges for an access token. */
export function signAssertion(account: ServiceAccount, nowMs: number, scope = CLOUD_PLATFORM_SCOPE): string {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(account.private_key_id ? { kid: account.private_key_id } : {}) };
  const claims = { iss: account.client_email, scope, aud: account.token_uri, iat, exp: iat + ASSERTION_LIFETIME_S };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  let signature: Buffer;
  try {
    signature = createSign('RSA-SHA256').update(unsigned).sign(account.private_key);
  } catch (error) {
    throw new Error(`cannot sign with the service account's private_key: ${(error as Error).message}`);
  }
  return `${unsigned}.${base64url(signature)}`;
}

interface CachedToken {
  token: string | null;
  expiresAt: number;
  refreshing: Promise<string> | null;
}

export interface TokenCacheOptions {
  now?: () => number;
}

/** Access tokens by service account; `token()` is synchronous while the cached one is fresh. */
export class GoogleTokenCache {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #now: () => number;

  constructor(options: TokenCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** A fresh token (a string), or the one refresh in flight for this account (a promise). */
  token(account: ServiceAccount): string | Promise<string> {
    const id = `${account.client_email}\n${account.token_uri}\n${createHash('sha256').update(account.private_key).digest('hex')}`;
    let entry = this.#tokens.get(id);
    if (!entry) {
      entry = { token: null, expiresAt: 0, refreshing: null };
      this.#tokens.set(id, entry);
    }
    if (entry.token && this.#now() < entry.expiresAt - REFRESH_MARGIN_MS) return entry.token;
    if (entry.refreshing) return entry.refreshing;
    const cached = entry;
    const refreshing = this.#fetch(account).then(({ token, expiresInS }) => {
      cached.token = token;
      cached.expiresAt = this.#now() + expiresInS * 1000;
      return token;
    }).finally(() => {
      cached.refreshing = null;
    });
    cached.refreshing = refreshing;
    return refreshing;
  }

  async #fetch(account: ServiceAccount): Promise<{ token: string; expiresInS: number }> {
    const assertion = signAssertion(account, this.#now());
    const response = await request(account.token_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
      headersTimeout: TOKEN_TIMEOUT_MS,
      bodyTimeout: TOKEN_TIMEOUT_MS,
    });
    const text = await response.body.text();
    let parsed: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // Reported below with the status.
    }
    if (response.statusCode !== 200 || typeof parsed.access_token !== 'string') {
      const why = [parsed.error, parsed.error_description].filter((s) => typeof s === 'string').join(': ') || text.slice(0, 200);
      throw new Error(`the token endpoint answered ${response.statusCode}${why ? `: ${why}` : ''}`);
    }
    const expiresInS = typeof parsed.expires_in === 'number' ? parsed.expires_in : Number(parsed.expires_in ?? 3600);
    return { token: parsed.access_token, expiresInS: Number.isFinite(expiresInS) ? expiresInS : 3600 };
  }
}

const accounts = new WeakMap<object, ServiceAccount>();

/** The service account of a key, parsed once per key. */
export function serviceAccountOf(key: KeyInit): ServiceAccount {
  const config = key.configs.vertex_key_config as { auth_credentials?: unknown } | undefined;
  if (!config || typeof config !== 'object') throw new Error('the key has no vertex_key_config');
  let account = accounts.get(config);
  if (!account) {
    if (config.auth_credentials === undefined || config.auth_credentials === '') {
      throw new Error('vertex_key_config.auth_credentials (a service-account JSON) is required');
    }
    account = parseServiceAccount(config.auth_credentials);
    accounts.set(config, account);
  }
  return account;
}

const cache = new GoogleTokenCache();

export function authenticateGoogle(request: SignableRequest, key: KeyInit): void | Promise<void> {
  const token = cache.token(serviceAccountOf(key));
  if (typeof token === 'string') {
    request.headers.authorization = `Bearer ${token}`;
    return;
  }
  return token.then((fresh) => {
    request.headers.authorization = `Bearer ${fresh}`;
  });
}

registerAuthenticator('google-oauth', authenticateGoogle);
