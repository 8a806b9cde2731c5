// The admin guard through the real gateway: every /api/* route behind it, credentials from governance.auth_config
// (basic) or HEIMDALL_ADMIN_TOKEN (bearer), and loopback-only when neither is configured.
import { networkInterfaces } from 'node:os';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';

const started: Gateway[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((gateway) => gateway.close(100)));
});

async function gatewayWith(raw: Record<string, unknown>, env: Record<string, string> = {}, host = '127.0.0.1') {
  const config = await loadConfig({ raw: { providers: { mock: {} }, ...raw }, env, overrides: { port: 0, host, logLevel: 'silent' } });
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
  started.push(gateway);
  return gateway.port;
}

const reload = (port: number, headers: Record<string, string> = {}, address = '127.0.0.1') =>
  fetch(`http://${address}:${port}/api/reload`, { method: 'POST', headers });
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const withAuth = { governance: { auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'env.ADMIN_PASSWORD' } } };

/** An address of this machine that is not loopback, to call the gateway as another host would. */
const external = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4')?.address;

describe('the admin guard on /api/*', () => {
  it('with governance.auth_config: 401 with a challenge without or with wrong credentials, through with the right ones', async () => {
    const port = await gatewayWith(withAuth, { ADMIN_PASSWORD: 's3cret' });
    const none = await reload(port);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await none.json()).toMatchObject({ error: { code: 'admin_unauthorized', type: 'authentication_error' } });
    const wrong = await reload(port, basic('admin', 's3cretx'));
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('s3cret');
    expect((await reload(port, basic('root', 's3cret'))).status).toBe(401);
    expect((await reload(port, { authorization: 'Bearer s3cret' })).status).toBe(401);
    // Through the guard: the reload handler itself answers (no supervisor here).
    const right = await reload(port, basic('admin', 's3cret'));
    expect(right.status).toBe(409);
    expect(await right.json()).toMatchObject({ error: { code: 'reload_unavailable' } });
  });

  it('with HEIMDALL_ADMIN_TOKEN: a bearer token is enough, and a wrong one is refused', async () => {
    const port = await gatewayWith({}, { HEIMDALL_ADMIN_TOKEN: 'tok-123' });
    expect((await reload(port)).status).toBe(401);
    expect((await reload(port, { authorization: 'Bearer tok-1234' })).status).toBe(401);
    expect((await reload(port, { authorization: 'bearer tok-123' })).status).toBe(409);
  });

  it.runIf(external)('with no credentials: another host gets 403 admin_loopback_only, 127.0.0.1 is let through', async () => {
    const port = await gatewayWith({}, {}, '0.0.0.0');
    const refused = await reload(port, {}, external);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'admin_loopback_only', type: 'permission_error' } });
    expect((await reload(port)).status).toBe(409);
  });

  it.runIf(external)('with credentials: another host that presents them is let through', async () => {
    const port = await gatewayWith(withAuth, { ADMIN_PASSWORD: 'pw' }, '0.0.0.0');
    expect((await reload(port, {}, external)).status).toBe(401);
    expect((await reload(port, basic('admin', 'pw'), external)).status).toBe(409);
  });

  it('guards the request log routes the same way', async () => {
    const port = await gatewayWith(withAuth, { ADMIN_PASSWORD: 'pw' });
    for (const path of ['/api/logs', '/api/logs/stats', '/api/logs/some-id']) {
      const refused = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(refused.status, path).toBe(401);
      expect(await refused.text()).not.toContain('"logs"');
      // Through the guard: this gateway has no request log, which the route itself says.
      const through = await fetch(`http://127.0.0.1:${port}${path}`, { headers: basic('admin', 'pw') });
      expect(await through.json()).toMatchObject({ error: { code: 'logs_disabled' } });
    }
  });

  it('leaves the inference and health routes open', async () => {
    const port = await gatewayWith(withAuth, { ADMIN_PASSWORD: 'pw' });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const chat = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST',
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(chat.status).toBe(200);
  });
});
