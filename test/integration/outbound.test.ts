// How the workers reach a provider on a real network: over TLS with a private CA (network_config.ca_cert_pem), or
// with verification off (insecure_skip_verify), and through a proxy: configured (proxy_config, HTTP CONNECT or
// SOCKS5) or from the environment (HTTPS_PROXY with NO_PROXY). The upstream is the fake OpenAI server behind an HTTPS
// front with a self-signed certificate; the proxies are real ones that count their tunnels.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { startConnectProxy, startSocksProxy, startTlsFront, TEST_CERT_PEM, type ConnectProxy, type TlsFront } from '../fakes/tls-and-proxy.js';
import pino from 'pino';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway } from '../../dist/src/gateway.js';
import { API_KEY, newClient, openaiProvider, postChat, startGatewayWith, type Harness } from './harness.js';

let fake: FakeOpenAI;
let front: TlsFront;
let proxy: ConnectProxy;
let h: Harness<{ url: string; close(): Promise<void> }> | null = null;

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: API_KEY });
  front = await startTlsFront(fake.port);
  proxy = await startConnectProxy();
});

afterEach(async () => {
  await h?.close();
  h = null;
  proxy.tunnels.length = 0;
});

afterAll(async () => {
  await proxy?.close();
  await front?.close();
  await fake?.close();
});

/** The gateway with one OpenAI provider at the HTTPS front; the harness's close() leaves the shared servers up. */
async function gateway(provider: { network_config?: Record<string, unknown>; proxy_config?: Record<string, unknown> }) {
  h = await startGatewayWith({ url: front.url, close: async () => {} }, (url) => ({
    providers: { openai: { ...openaiProvider(url, { network_config: provider.network_config }),
      ...(provider.proxy_config ? { proxy_config: provider.proxy_config } : {}), circuit_breaker: { enabled: false } } },
  }));
  return h;
}

const chat = (harness: Harness<{ url: string; close(): Promise<void> }>) =>
  postChat(harness.url, { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'over tls' }] });

async function expectAnswered(response: Response): Promise<void> {
  expect(response.status, await response.clone().text()).toBe(200);
  const body = await response.json() as { choices: { message: { content: string } }[] };
  expect(body.choices[0].message.content).toBeTruthy();
}

describe('TLS to the upstream', () => {
  it('fails with a TLS error naming the certificate problem when the CA is not trusted', async () => {
    const response = await chat(await gateway({}));
    expect(response.status).toBe(502);
    const { error } = await response.json() as { error: { code: string; message: string } };
    expect(error.code).toBe('upstream_unreachable');
    expect(error.message).toMatch(/^openai: TLS handshake failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN): /);
    expect(error.message).toContain('network_config.ca_cert_pem');
  });

  it('answers with the self-signed CA given in network_config.ca_cert_pem', async () => {
    await expectAnswered(await chat(await gateway({ network_config: { ca_cert_pem: TEST_CERT_PEM } })));
  });

  it('answers with insecure_skip_verify', async () => {
    await expectAnswered(await chat(await gateway({ network_config: { insecure_skip_verify: true } })));
  });
});

describe('through a proxy', () => {
  it('tunnels through proxy_config (type http) with its credentials, keeping TLS to the upstream end to end', async () => {
    const harness = await gateway({ network_config: { ca_cert_pem: TEST_CERT_PEM },
      proxy_config: { type: 'http', url: proxy.url, username: 'ops', password: 'proxy-pass' } });
    const handshakesBefore = front.handshakes();
    await expectAnswered(await chat(harness));
    await expectAnswered(await chat(harness));
    const port = new URL(front.url).port;
    // One tunnel, kept alive for both requests, to the upstream's host:port.
    expect(proxy.tunnels).toEqual([{ target: `127.0.0.1:${port}`, proxyAuthorization: `Basic ${Buffer.from('ops:proxy-pass').toString('base64')}` }]);
    expect(front.handshakes() - handshakesBefore).toBe(1);
  });

  it('still checks the upstream certificate inside the tunnel', async () => {
    const response = await chat(await gateway({ proxy_config: { type: 'http', url: proxy.url } }));
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('TLS handshake failed');
    expect(proxy.tunnels).toHaveLength(1);
  });

  it('connects through a SOCKS5 proxy_config with username and password', async () => {
    const socks = await startSocksProxy({ username: 'ops', password: 'socks-pass' });
    try {
      const harness = await gateway({ network_config: { ca_cert_pem: TEST_CERT_PEM },
        proxy_config: { type: 'socks5', url: socks.url, username: 'ops', password: 'socks-pass' } });
      await expectAnswered(await chat(harness));
      expect(socks.connections).toEqual([{ target: `127.0.0.1:${new URL(front.url).port}`, username: 'ops' }]);
    } finally {
      await h?.close();
      h = null;
      await socks.close();
    }
  });

  describe('from the environment', () => {
    /**
     * The gateway as `heimdall` starts it with these variables set: the config is loaded with them (read once, at
     * start-up), and this test process's own environment is left alone.
     */
    async function gatewayWithEnvironment(env: Record<string, string>, proxyConfig?: Record<string, unknown>) {
      const config = await loadConfig({ raw: { providers: { openai: { ...openaiProvider(front.url, { network_config: { ca_cert_pem: TEST_CERT_PEM } }),
        ...(proxyConfig ? { proxy_config: proxyConfig } : {}), circuit_breaker: { enabled: false } } } },
      env, overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' } });
      const started = await startGateway(config, { logger: pino({ level: 'silent' }) });
      h = { gateway: started, fake: { url: front.url, close: async () => {} }, client: newClient(`http://127.0.0.1:${started.port}`),
        url: `http://127.0.0.1:${started.port}`, close: () => started.close(500) };
      return h;
    }

    it('goes through HTTPS_PROXY without any proxy_config, as curl does', async () => {
      await expectAnswered(await chat(await gatewayWithEnvironment({ HTTPS_PROXY: proxy.url })));
      expect(proxy.tunnels).toHaveLength(1);
    });

    it('goes through https_proxy with proxy_config type environment', async () => {
      await expectAnswered(await chat(await gatewayWithEnvironment({ https_proxy: proxy.url }, { type: 'environment' })));
      expect(proxy.tunnels).toHaveLength(1);
    });

    it('connects directly to a host NO_PROXY names, with the same TLS trust', async () => {
      await expectAnswered(await chat(await gatewayWithEnvironment({ HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' })));
      expect(proxy.tunnels).toHaveLength(0);
    });

    it('connects directly when proxy_config says type none, whatever HTTPS_PROXY says', async () => {
      await expectAnswered(await chat(await gatewayWithEnvironment({ HTTPS_PROXY: proxy.url }, { type: 'none' })));
      expect(proxy.tunnels).toHaveLength(0);
    });
  });
});
