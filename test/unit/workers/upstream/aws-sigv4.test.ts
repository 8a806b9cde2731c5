import { describe, expect, it } from 'vitest';
import type { KeyInit } from '../../../../workers/providers/types.js';
import { authenticate, type SignableRequest } from '../../../../workers/upstream/auth.js';
import { awsKeyAuth, signAwsRequest } from '../../../../workers/upstream/auth/aws-sigv4.js';

// AWS's Signature Version 4 test suite (the aws-sig-v4-test-suite, kept in awslabs/aws-c-auth under
// tests/aws-signing-test-suite/v4/): its credentials, date, region and service, and the exact Authorization
// header each request must get.
const SUITE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SCOPE = { region: 'us-east-1', service: 'service' };
const DATE = new Date('2015-08-30T12:36:00Z');
const CREDENTIAL = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';
const STS_TOKEN = 'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';

interface Vector {
  name: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  sessionToken?: string;
  /** The newer suite signs the payload hash header too. */
  applyChecksum?: boolean;
  authorization: string;
}

const VECTORS: Vector[] = [
  { name: 'get-vanilla', method: 'GET', url: 'https://example.amazonaws.com/',
    authorization: `${CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31` },
  { name: 'get-vanilla-query-order-key-case', method: 'GET', url: 'https://example.amazonaws.com/?Param2=value2&Param1=value1',
    authorization: `${CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500` },
  { name: 'post-vanilla', method: 'POST', url: 'https://example.amazonaws.com/',
    authorization: `${CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b` },
  { name: 'post-x-www-form-urlencoded', method: 'POST', url: 'https://example.amazonaws.com/',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'Param1=value1',
    authorization: `${CREDENTIAL}, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a` },
  { name: 'post-x-www-form-urlencoded (aws-c-auth: signed content-length and payload hash)', method: 'POST',
    url: 'https://example.amazonaws.com/', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '13' },
    body: 'Param1=value1', applyChecksum: true,
    authorization: `${CREDENTIAL}, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b` },
  { name: 'post-sts-header-before (session token signed)', method: 'POST', url: 'https://example.amazonaws.com/', sessionToken: STS_TOKEN,
    authorization: `${CREDENTIAL}, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead` },
];

describe('SigV4 signing against AWS\'s published test suite', () => {
  it.each(VECTORS)('$name', async (vector) => {
    const request: SignableRequest = { method: vector.method, url: vector.url, headers: { ...vector.headers }, body: vector.body ?? '' };
    await signAwsRequest(request, { ...SUITE, ...(vector.sessionToken ? { sessionToken: vector.sessionToken } : {}) }, SCOPE,
      { date: DATE, applyChecksum: vector.applyChecksum ?? false });
    expect(request.headers.authorization).toBe(vector.authorization);
    expect(request.headers['x-amz-date']).toBe('20150830T123600Z');
    expect(request.headers.host).toBe('example.amazonaws.com');
    if (vector.sessionToken) expect(request.headers['x-amz-security-token']).toBe(vector.sessionToken);
  });

  it('changes the signature when anything signed changes', async () => {
    const sign = async (body: string, region = 'us-east-1') => {
      const request: SignableRequest = { method: 'POST', url: 'https://example.amazonaws.com/', headers: {}, body };
      await signAwsRequest(request, SUITE, { ...SCOPE, region }, { date: DATE, applyChecksum: false });
      return request.headers.authorization;
    };
    expect(await sign('')).toBe(VECTORS[2].authorization);
    expect(await sign('x')).not.toBe(VECTORS[2].authorization);
    expect(await sign('', 'eu-west-1')).toContain('/eu-west-1/service/aws4_request');
  });

  it('signs a Bedrock path with the model id encoded once on the wire and twice in the canonical form', async () => {
    // The same request signed with the path as the SDK would send it must verify; here: deterministic and host-bound.
    const url = 'http://127.0.0.1:4000/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse';
    const one: SignableRequest = { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: '{}' };
    await signAwsRequest(one, SUITE, { region: 'us-east-1', service: 'bedrock' }, { date: DATE });
    expect(one.headers.host).toBe('127.0.0.1:4000');
    expect(one.headers['x-amz-content-sha256']).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(one.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20150830\/us-east-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
    const decoded: SignableRequest = { ...one, url: url.replace('%3A', ':'), headers: { 'content-type': 'application/json' } };
    await signAwsRequest(decoded, SUITE, { region: 'us-east-1', service: 'bedrock' }, { date: DATE });
    expect(decoded.headers.authorization).not.toBe(one.headers.authorization);
  });
});

describe('the aws-sigv4 authenticator', () => {
  const style = { kind: 'aws-sigv4', service: 'bedrock' } as const;
  const request = (): SignableRequest => ({ method: 'POST', url: 'https://bedrock-runtime.us-west-2.amazonaws.com/model/m/converse',
    headers: { 'content-type': 'application/json', 'X-Request-Id': 'r1' }, body: '{"messages":[]}' });

  it('signs with the key\'s <service>_key_config credentials, session token and region, now', async () => {
    const key: KeyInit = { value: '', configs: { bedrock_key_config: { access_key: 'AKIDKEY', secret_key: 'secret', session_token: 'tok', region: 'us-west-2' } } };
    const signed = request();
    const before = Date.now();
    const pending = authenticate(signed, key, style);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    const amzDate = signed.headers['x-amz-date'];
    expect(amzDate).toMatch(/^\d{8}T\d{6}Z$/);
    const when = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    expect(Math.abs(when.getTime() - before)).toBeLessThan(5_000);
    expect(signed.headers['x-amz-security-token']).toBe('tok');
    expect(signed.headers['x-request-id']).toBe('r1');
    expect(signed.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDKEY/${amzDate.slice(0, 8)}/us-west-2/bedrock/aws4_request, `
      + 'SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-request-id, Signature=[0-9a-f]{64}$'));
    // The same request signed at the same instant by the plain signer gives the same header: nothing else went in.
    const again = request();
    await signAwsRequest(again, { accessKeyId: 'AKIDKEY', secretAccessKey: 'secret', sessionToken: 'tok' },
      { region: 'us-west-2', service: 'bedrock' }, { date: when });
    expect(again.headers.authorization).toBe(signed.headers.authorization);
  });

  it('sends a key with only a value as a bearer API key, synchronously', () => {
    const signed = request();
    expect(authenticate(signed, { value: 'bedrock-api-key', configs: {} }, style)).toBeUndefined();
    expect(signed.headers.authorization).toBe('Bearer bedrock-api-key');
    expect(signed.headers['x-amz-date']).toBeUndefined();
  });

  it('prefers the access key pair over the value when a key has both', async () => {
    const signed = request();
    await authenticate(signed, { value: 'ignored', configs: { bedrock_key_config: { access_key: 'A', secret_key: 'S', region: 'us-east-1' } } }, style);
    expect(signed.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=A\//);
  });

  it('names what a half-configured key lacks', () => {
    expect(() => awsKeyAuth({ value: '', configs: {} }, 'bedrock')).toThrow(/bedrock_key_config \{ access_key, secret_key, region \}/);
    expect(() => awsKeyAuth({ value: '', configs: { bedrock_key_config: { access_key: 'A' } } }, 'bedrock')).toThrow(/both access_key and secret_key/);
    expect(() => awsKeyAuth({ value: '', configs: { bedrock_key_config: { access_key: 'A', secret_key: 'S' } } }, 'bedrock')).toThrow(/region is required/);
    expect(() => awsKeyAuth({ value: '', configs: { bedrock_key_config: 'nope' } }, 'bedrock')).toThrow(/must be an object/);
    expect(() => authenticate(request(), { value: '', configs: {} }, style)).toThrow(/no credentials/);
  });
});
