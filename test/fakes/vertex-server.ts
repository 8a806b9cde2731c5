// The fake Gemini server (gemini-server.ts) set up as Vertex AI: a fresh RSA key pair for a test service account,
// whose JWTs the fake's /token endpoint verifies with the public key, and the service-account JSON (token_uri
// pointing at the fake) to put in a key's `vertex_key_config.auth_credentials`; and a fake Anthropic API behind the
// Claude models' `publishers/anthropic` routes.

import { generateKeyPairSync } from 'node:crypto';
import { startFakeAnthropic, type FakeAnthropic } from './anthropic-server.js';
import { startFakeGemini, type FakeGemini, type FakeGeminiOptions } from './gemini-server.js';

export const VERTEX_PROJECT = 'heimdall-test';
export const VERTEX_REGION = 'us-central1';
export const CLIENT_EMAIL = 'gateway@heimdall-test.iam.gserviceaccount.com';

export interface ServiceAccountJson {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

export interface FakeVertex {
  /** Closing it closes the fake Anthropic API too. */
  readonly fake: FakeGemini;
  /** What answers the Claude models (`publishers/anthropic/models/{m}:rawPredict`). */
  readonly anthropic: FakeAnthropic;
  /** A service account whose token_uri is the fake's /token and whose key the fake trusts. */
  readonly serviceAccount: ServiceAccountJson;
  /** Another account with a key pair the fake does not trust. */
  readonly strangerAccount: ServiceAccountJson;
  /** The key's vertex_key_config for the gateway. */
  keyConfig(account?: ServiceAccountJson | string): Record<string, unknown>;
}

function newKeyPair() {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

export async function startFakeVertex(options: Omit<FakeGeminiOptions, 'serviceAccount' | 'anthropicUrl'> = {}): Promise<FakeVertex> {
  const trusted = newKeyPair();
  const stranger = newKeyPair();
  const anthropic = await startFakeAnthropic();
  const gemini = await startFakeGemini({ ...options, anthropicUrl: anthropic.url,
    serviceAccount: { clientEmail: CLIENT_EMAIL, publicKey: trusted.publicKey } });
  const fake: FakeGemini = { ...gemini, close: async () => {
    await gemini.close();
    await anthropic.close();
  } };
  const account = (privateKey: typeof trusted.privateKey, id: string): ServiceAccountJson => ({
    type: 'service_account',
    project_id: VERTEX_PROJECT,
    private_key_id: id,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: CLIENT_EMAIL,
    client_id: '100000000000000000001',
    token_uri: `${fake.url}/token`,
  });
  const serviceAccount = account(trusted.privateKey, 'trusted-key');
  return {
    fake,
    anthropic,
    serviceAccount,
    strangerAccount: account(stranger.privateKey, 'stranger-key'),
    keyConfig: (which = serviceAccount) => ({ project_id: VERTEX_PROJECT, region: VERTEX_REGION, auth_credentials: which }),
  };
}
