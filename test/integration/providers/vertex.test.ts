// Contract tests for provider `vertex` through the real, built gateway (`npx tsc -b` first): the `openai` SDK as
// the client, the fake as Vertex AI (network_config.base_url) and as the service account's token endpoint
// (token_uri), which verifies the gateway's RS256 JWTs with the test key pair. Shared scenarios: gemini-contract.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeVertex, VERTEX_PROJECT, VERTEX_REGION, type FakeVertex } from '../../fakes/vertex-server.js';
import { apiError, startGatewayWith, user, type Harness } from '../harness.js';
import { describeGeminiContract } from './gemini-contract.js';

let vertex: FakeVertex;
let h: Harness<FakeVertex['fake']>;

beforeAll(async () => {
  vertex = await startFakeVertex();
  const provider = (keyConfig: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    // The config loader wants a non-empty value on some key even though Vertex authenticates by the service account.
    keys: [{ value: 'service-account', models: ['*'], weight: 1, vertex_key_config: keyConfig }],
    network_config: { base_url: vertex.fake.url, default_request_timeout_in_seconds: 30 },
    concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 },
    // This suite fails its one key on purpose, case after case: an open breaker would answer circuit_open instead.
    circuit_breaker: { enabled: false },
    ...extra,
  });
  h = await startGatewayWith(vertex.fake, () => ({ providers: {
    // The key file as the JSON string a console download (or an env var) gives.
    vertex: provider(vertex.keyConfig(JSON.stringify(vertex.serviceAccount))),
    // Custom providers on the vertex adapter: an account the token endpoint does not trust; a key with no region.
    untrusted: provider(vertex.keyConfig(vertex.strangerAccount), { custom_provider_config: { base_provider_type: 'vertex' } }),
    noregion: provider({ project_id: VERTEX_PROJECT, auth_credentials: vertex.serviceAccount },
      { custom_provider_config: { base_provider_type: 'vertex' } }),
  } }));
});

afterAll(async () => {
  await h?.close();
});

let grantedToken: string | null = null;

describeGeminiContract({
  provider: 'vertex',
  path: (model, action) => `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/publishers/google/models/${model}:${action}`,
  fake: () => vertex.fake,
  harness: () => h,
  expectAuthenticated(request) {
    const granted = vertex.fake.tokenRequests.filter((r) => r.granted);
    expect(granted.length).toBeGreaterThan(0);
    grantedToken = granted.at(-1)!.token;
    expect(request.headers.authorization).toBe(`Bearer ${grantedToken}`);
    expect(request.headers['x-goog-api-key']).toBeUndefined();
  },
});

describe('vertex authentication', () => {
  it('gets one token per service account and reuses it for every request', async () => {
    await h.client.chat.completions.create({ model: 'vertex/gemini-2.0-flash', messages: user('again') });
    const granted = vertex.fake.tokenRequests.filter((r) => r.granted);
    expect(granted).toHaveLength(1);
    expect(granted[0].claims).toMatchObject({ iss: vertex.serviceAccount.client_email, aud: `${vertex.fake.url}/token` });
    expect(vertex.fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${granted[0].token}`);
  });

  it('a service account the token endpoint refuses → 401 upstream_auth with its reason; Vertex is not called', async () => {
    const before = vertex.fake.requests.length;
    const error = await apiError(h.client.chat.completions.create({ model: 'untrusted/gemini-2.0-flash', messages: user('hi') }));
    expect(error.status).toBe(401);
    expect(error.code).toBe('upstream_auth');
    expect(error.message).toContain('Invalid JWT Signature');
    expect(vertex.fake.requests.length).toBe(before);
  });

  it('a key without a region → 400 naming the missing field', async () => {
    const error = await apiError(h.client.chat.completions.create({ model: 'noregion/gemini-2.0-flash', messages: user('hi') }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('vertex_key_config.region');
  });
});
