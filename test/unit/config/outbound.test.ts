// The config of how Heimdall reaches providers and who may call it from a browser: `proxy_config`,
// `network_config.insecure_skip_verify` / `ca_cert_pem` and `client.allowed_origins`, acted on (so no longer in the
// start-up warning of ignored keys), each with a strict shape and a clear error.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { redactConfig } from '../../../src/config/redact.js';
import { configError } from './helpers.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const withOpenAI = (provider: Record<string, unknown>, client: Record<string, unknown> = {}) =>
  ({ client, providers: { openai: { keys: [{ value: 'sk-1' }], ...provider } } });
const load = (raw: unknown, env: Record<string, string> = {}) => loadConfig({ raw, env });

describe('proxy_config', () => {
  it('takes Bifrost\'s http shape, with env references resolved, and no longer reports it as ignored', async () => {
    const cfg = await load(withOpenAI({ proxy_config: { type: 'http', url: 'env.PROXY_URL', username: 'ops', password: 'env.PROXY_PASS', ca_cert_pem: PEM } }),
      { PROXY_URL: 'http://proxy.internal:3128', PROXY_PASS: 'hunter2' });
    expect(cfg.providers[0].proxy).toEqual({ type: 'http', url: 'http://proxy.internal:3128', username: 'ops', password: 'hunter2', caCertPem: PEM,
      environment: null });
    expect(cfg.ignoredKeys).toEqual([]);
  });

  it('reads type none as no proxy, even with HTTPS_PROXY set, whatever else the block holds', async () => {
    expect((await load(withOpenAI({ proxy_config: { type: 'none', url: '', username: '', password: '' } }), { HTTPS_PROXY: 'http://p:1' }))
      .providers[0].proxy).toBeNull();
  });

  it('reads the proxy variables at start-up, lower case first, for type environment and when proxy_config is absent', async () => {
    const env = { https_proxy: 'http://lower:3128', HTTPS_PROXY: 'http://upper:3128', HTTP_PROXY: 'http://plain:3128', NO_PROXY: 'localhost,.internal' };
    const expected = { type: 'environment', url: null, username: null, password: null, caCertPem: null,
      environment: { httpProxy: 'http://plain:3128', httpsProxy: 'http://lower:3128', noProxy: 'localhost,.internal' } };
    expect((await load(withOpenAI({ proxy_config: { type: 'environment' } }), env)).providers[0].proxy).toEqual(expected);
    expect((await load(withOpenAI({}), env)).providers[0].proxy).toEqual(expected);
    expect((await load(withOpenAI({}), { NO_PROXY: 'localhost' })).providers[0].proxy).toBeNull();
    expect((await configError(() => load(withOpenAI({}), { HTTPS_PROXY: 'proxy.internal:3128' }))).message)
      .toContain('environment HTTPS_PROXY: expected an http://, https:// or socks5:// proxy URL');
  });

  it('refuses a missing url, a url of the wrong scheme, an unknown type and an unknown key', async () => {
    expect((await configError(() => load(withOpenAI({ proxy_config: { type: 'http' } })))).message)
      .toContain("providers.openai.proxy_config.url: required for a proxy of type 'http'");
    expect((await configError(() => load(withOpenAI({ proxy_config: { type: 'socks5', url: 'http://proxy:1080' } })))).message)
      .toContain("providers.openai.proxy_config.url: a proxy of type 'socks5' needs a socks5:// URL");
    expect((await configError(() => load(withOpenAI({ proxy_config: { type: 'https', url: 'http://proxy:1080' } })))).message)
      .toContain('providers.openai.proxy_config.type');
    expect((await configError(() => load(withOpenAI({ proxy_config: { type: 'http', url: 'http://p:1', no_proxy: 'x' } })))).message)
      .toContain('no_proxy');
  });

  it('masks the proxy password, in its field and inside the URLs, in the start-up dump', async () => {
    const cfg = await load(withOpenAI({ proxy_config: { type: 'http', url: 'http://ops:inline-secret@proxy:3128', password: 'field-secret' } }));
    const dumped = JSON.stringify(redactConfig(cfg));
    expect(dumped).not.toContain('inline-secret');
    expect(dumped).not.toContain('field-secret');
    expect(dumped).toContain('proxy:3128');
    const fromEnvironment = JSON.stringify(redactConfig(await load(withOpenAI({}), { HTTPS_PROXY: 'http://ops:env-secret@egress:3128' })));
    expect(fromEnvironment).not.toContain('env-secret');
    expect(fromEnvironment).toContain('egress:3128');
  });
});

describe('network_config TLS', () => {
  it('takes insecure_skip_verify and ca_cert_pem (text or env.VAR) and acts on them', async () => {
    const cfg = await load(withOpenAI({ network_config: { insecure_skip_verify: true, ca_cert_pem: 'env.UPSTREAM_CA' } }), { UPSTREAM_CA: PEM });
    expect(cfg.providers[0].network).toMatchObject({ insecureSkipVerify: true, caCertPem: PEM });
    expect(cfg.ignoredKeys).toEqual([]);
  });

  it('refuses a ca_cert_pem that is not PEM, given inline or through a variable', async () => {
    expect((await configError(() => load(withOpenAI({ network_config: { ca_cert_pem: '/etc/ssl/ca.pem' } })))).message)
      .toContain('providers.openai.network_config.ca_cert_pem: expected PEM text');
    expect((await configError(() => load(withOpenAI({ network_config: { ca_cert_pem: 'env.UPSTREAM_CA' } }), { UPSTREAM_CA: 'nope' }))).message)
      .toContain("the variable 'UPSTREAM_CA' does not hold a PEM certificate");
  });
});

describe('client.allowed_origins', () => {
  it("takes origins, '*' and Bifrost's subdomain wildcards, and refuses a URL with a path or a bare host", async () => {
    const origins = ['https://app.example.com', 'http://localhost:5173', 'https://*.example.com', '*.internal.dev', '*'];
    expect((await load(withOpenAI({}, { allowed_origins: origins }))).client.allowedOrigins).toEqual(origins);
    for (const bad of ['https://app.example.com/chat', 'app.example.com']) {
      expect((await configError(() => load(withOpenAI({}, { allowed_origins: [bad] })))).message).toContain('client.allowed_origins[0]');
    }
  });
});
