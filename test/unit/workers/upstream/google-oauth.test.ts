// The google-oauth authenticator against the fake token endpoint, which verifies the JWT's RS256 signature with
// the public key of a key pair made here.

import { createVerify } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authenticate, type SignableRequest } from '../../../../workers/upstream/auth.js';
import {
  GoogleTokenCache, parseServiceAccount, REFRESH_MARGIN_MS, signAssertion,
} from '../../../../workers/upstream/auth/google-oauth.js';
import { startFakeVertex, type FakeVertex } from '../../../fakes/vertex-server.js';

let vertex: FakeVertex;

beforeAll(async () => {
  vertex = await startFakeVertex({ tokenLifetimeS: 3600 });
});

afterAll(async () => {
  await vertex?.fake.close();
});

beforeEach(() => vertex.fake.reset());

const signable = (): SignableRequest => ({ method: 'POST', url: 'http://x/y', headers: {}, body: '{}' });

describe('service-account JWT', () => {
  it('is RS256-signed by the private key, for the token endpoint and the cloud-platform scope', () => {
    const account = parseServiceAccount(JSON.stringify(vertex.serviceAccount));
    const now = Date.UTC(2030, 0, 1);
    const [h, p, s] = signAssertion(account, now).split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'trusted-key' });
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual({ iss: account.client_email,
      scope: 'https://www.googleapis.com/auth/cloud-platform', aud: account.token_uri, iat: now / 1000, exp: now / 1000 + 3600 });
    const verified = createVerify('RSA-SHA256').update(`${h}.${p}`).verify(vertex.serviceAccount.private_key, Buffer.from(s, 'base64url'));
    expect(verified).toBe(true);
  });

  it('parses the key file as a string or an object, and says what is missing', () => {
    expect(parseServiceAccount(vertex.serviceAccount).client_email).toBe(vertex.serviceAccount.client_email);
    expect(parseServiceAccount({ ...vertex.serviceAccount, token_uri: undefined }).token_uri).toBe('https://oauth2.googleapis.com/token');
    expect(() => parseServiceAccount('nope')).toThrow(/not valid JSON/);
    expect(() => parseServiceAccount({ private_key: 'x' })).toThrow(/client_email/);
    expect(() => signAssertion({ ...parseServiceAccount(vertex.serviceAccount), private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }, Date.now()))
      .toThrow(/cannot sign/);
  });
});

describe('token cache', () => {
  it('exchanges the JWT for a token the fake issued, then serves it from the cache synchronously', async () => {
    const cache = new GoogleTokenCache();
    const account = parseServiceAccount(vertex.serviceAccount);
    const token = await cache.token(account);
    expect(vertex.fake.tokenRequests).toHaveLength(1);
    expect(vertex.fake.tokenRequests[0]).toMatchObject({ granted: true, token });
    expect(cache.token(account)).toBe(token);
    expect(vertex.fake.tokenRequests).toHaveLength(1);
  });

  it('shares one in-flight refresh among concurrent requests', async () => {
    const cache = new GoogleTokenCache();
    const account = parseServiceAccount(vertex.serviceAccount);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => cache.token(account)));
    expect(new Set(tokens).size).toBe(1);
    expect(vertex.fake.tokenRequests).toHaveLength(1);
  });

  it('refreshes five minutes before expiry', async () => {
    // The clock starts in the past, so that the JWTs signed at each step stay valid for the real token endpoint.
    let now = Date.now() - (3600_000 - REFRESH_MARGIN_MS) - 10_000;
    const cache = new GoogleTokenCache({ now: () => now });
    const account = parseServiceAccount(vertex.serviceAccount);
    const first = await cache.token(account);
    now += 3600_000 - REFRESH_MARGIN_MS - 1_000;
    expect(cache.token(account)).toBe(first);
    now += 2_000;
    const refreshing = cache.token(account);
    expect(refreshing).toBeInstanceOf(Promise);
    const second = await refreshing;
    expect(second).not.toBe(first);
    expect(vertex.fake.tokenRequests.filter((r) => r.granted)).toHaveLength(2);
  });

  it('fails with the endpoint\'s reason for a key it does not trust, and retries on the next call', async () => {
    const cache = new GoogleTokenCache();
    const stranger = parseServiceAccount(vertex.strangerAccount);
    await expect(cache.token(stranger)).rejects.toThrow('the token endpoint answered 400: invalid_grant: Invalid JWT Signature.');
    await expect(cache.token(stranger)).rejects.toThrow(/Invalid JWT Signature/);
    expect(vertex.fake.tokenRequests).toHaveLength(2);
  });
});

describe("the registered 'google-oauth' authenticator", () => {
  it('sets a bearer token from the key\'s vertex_key_config.auth_credentials', async () => {
    const request = signable();
    const key = { value: '', configs: { vertex_key_config: vertex.keyConfig(JSON.stringify(vertex.serviceAccount)) } };
    await authenticate(request, key, { kind: 'google-oauth' });
    expect(request.headers.authorization).toMatch(/^Bearer ya29\.fake-/);
    const again = signable();
    expect(authenticate(again, key, { kind: 'google-oauth' })).toBeUndefined();
    expect(again.headers.authorization).toBe(request.headers.authorization);
  });

  it('throws for a key without credentials', () => {
    expect(() => authenticate(signable(), { value: '', configs: { vertex_key_config: { project_id: 'p' } } }, { kind: 'google-oauth' }))
      .toThrow(/auth_credentials/);
  });
});
