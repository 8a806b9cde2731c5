// AWS Signature Version 4, for adapters that declare `{ kind: 'aws-sigv4', service }`. The signing itself is the
// AWS SDK's own signer (@smithy/signature-v4 over @aws-crypto/sha256-js): nothing cryptographic is written here.
// Credentials and region come from the key's `<service>_key_config` block (`bedrock_key_config` for service
// 'bedrock'): { access_key, secret_key, session_token?, region }. A key with no access key pair but a `value`
// is an API key sent as `Authorization: Bearer …`, which is how AWS's service API keys (e.g. Amazon Bedrock API
// keys) authenticate instead of signing.

import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AuthStyle, KeyInit } from '../../providers/types.js';
import { registerAuthenticator, type SignableRequest } from '../auth.js';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsSigning {
  readonly region: string;
  /** The signing name of the service (`bedrock` for Bedrock Runtime). */
  readonly service: string;
}

/** How one key authenticates: by signing with an access key pair, or with a bearer API key. */
export type AwsKeyAuth =
  | { readonly kind: 'sigv4'; readonly credentials: AwsCredentials; readonly region: string }
  | { readonly kind: 'bearer'; readonly token: string };

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Reads how a key authenticates against `service`, or throws a message naming the missing field. Adapters call
 * this from their call builders too, so a half-configured key is a clear 400 before anything is sent.
 */
export function awsKeyAuth(key: KeyInit, service: string): AwsKeyAuth {
  const field = `${service}_key_config`;
  const raw = key.configs[field];
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) {
    throw new Error(`${field} must be an object`);
  }
  const config = (raw ?? {}) as Record<string, unknown>;
  const accessKeyId = str(config.access_key);
  const secretAccessKey = str(config.secret_key);
  if (accessKeyId || secretAccessKey) {
    if (!accessKeyId || !secretAccessKey) throw new Error(`${field} needs both access_key and secret_key`);
    const region = str(config.region);
    if (!region) throw new Error(`${field}.region is required to sign requests`);
    const sessionToken = str(config.session_token);
    return { kind: 'sigv4', region, credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } };
  }
  if (key.value) return { kind: 'bearer', token: key.value };
  throw new Error(`the key has no credentials: give ${field} { access_key, secret_key, region } or an API key as its value`);
}

// One signer per key and service: the signer caches its derived signing key (one per day and region), which
// saves four HMACs per request.
const signers = new WeakMap<KeyInit, Map<string, SignatureV4>>();

function signerFor(key: KeyInit, service: string, auth: Extract<AwsKeyAuth, { kind: 'sigv4' }>): SignatureV4 {
  let byService = signers.get(key);
  if (!byService) signers.set(key, (byService = new Map()));
  let signer = byService.get(service);
  if (!signer) {
    signer = newSigner(auth.credentials, { region: auth.region, service });
    byService.set(service, signer);
  }
  return signer;
}

function newSigner(credentials: AwsCredentials, signing: AwsSigning, applyChecksum = true): SignatureV4 {
  // S3 alone signs the path as sent, without encoding it a second time.
  // `applyChecksum` also sends the payload hash as `x-amz-content-sha256`, as the AWS SDK does for Bedrock. The
  // payload is signed either way (its hash is part of the canonical request); the published test vectors predate
  // the header, so their tests turn it off.
  return new SignatureV4({ credentials, region: signing.region, service: signing.service, sha256: Sha256, applyChecksum,
    uriEscapePath: signing.service !== 's3' });
}

/**
 * Signs `request` in place: its headers become the signed set (lower-cased, with `host`, `x-amz-date`,
 * `x-amz-security-token` when there is a session token, `x-amz-content-sha256` unless `applyChecksum` is false,
 * and `authorization`). `date` and `applyChecksum` exist for the published test vectors.
 */
export async function signAwsRequest(request: SignableRequest, credentials: AwsCredentials, signing: AwsSigning,
  options: { date?: Date; applyChecksum?: boolean } = {}): Promise<void> {
  await signWith(newSigner(credentials, signing, options.applyChecksum ?? true), request, options.date);
}

async function signWith(signer: SignatureV4, request: SignableRequest, date?: Date): Promise<void> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  // Signed as the request will carry it; undici sends this header as given.
  headers.host = url.host;
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    // Kept percent-encoded as sent (`%3A` in a model id); the signer encodes it once more for the canonical
    // form, as AWS requires of every service but S3.
    path: url.pathname,
    query,
    headers,
    body: request.body,
  }, date ? { signingDate: date } : {});
  request.headers = signed.headers as Record<string, string>;
}

function authenticateAws(request: SignableRequest, key: KeyInit, style: AuthStyle): void | Promise<void> {
  if (style.kind !== 'aws-sigv4') throw new Error(`aws-sigv4 cannot apply '${style.kind}'`);
  const auth = awsKeyAuth(key, style.keyConfig ?? style.service);
  if (auth.kind === 'bearer') {
    request.headers.authorization = `Bearer ${auth.token}`;
    return;
  }
  return signWith(signerFor(key, style.service, auth), request);
}

registerAuthenticator('aws-sigv4', authenticateAws);
