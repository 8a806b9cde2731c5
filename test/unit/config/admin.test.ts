import { describe, expect, it } from 'vitest';
import { describeAdmin } from '../../../src/config/admin.js';
import { loadConfig } from '../../../src/config/load.js';
import { redactConfig } from '../../../src/config/redact.js';
import { configError } from './helpers.js';

const base = { providers: { mock: {} } };

describe('admin credentials (governance.auth_config, HEIMDALL_ADMIN_TOKEN)', () => {
  it('reads governance.auth_config with env. references, and never shows the password', async () => {
    const cfg = await loadConfig({ raw: { ...base, governance: { auth_config: { is_enabled: true, admin_username: 'admin',
      admin_password: 'env.PW' } } }, env: { PW: 'hunter2' } });
    expect(cfg.admin).toEqual({ basic: { username: 'admin', password: 'hunter2' }, bearerToken: null });
    expect(JSON.stringify(redactConfig(cfg))).not.toContain('hunter2');
    expect(describeAdmin(cfg.admin)).toContain('basic auth');
    expect(describeAdmin(cfg.admin)).not.toContain('hunter2');
  });

  it('reads a top-level auth_config too, and does not call it ignored', async () => {
    const cfg = await loadConfig({ raw: { ...base, auth_config: { is_enabled: true, admin_username: 'a', admin_password: 'b' } }, env: {} });
    expect(cfg.admin.basic).toEqual({ username: 'a', password: 'b' });
    expect(cfg.ignoredKeys).not.toContain('auth_config');
  });

  it('takes the bearer token from HEIMDALL_ADMIN_TOKEN, masked in the dump', async () => {
    const cfg = await loadConfig({ raw: base, env: { HEIMDALL_ADMIN_TOKEN: 'tok-secret' } });
    expect(cfg.admin).toEqual({ basic: null, bearerToken: 'tok-secret' });
    expect(JSON.stringify(redactConfig(cfg))).not.toContain('tok-secret');
    expect(describeAdmin(cfg.admin)).toContain('HEIMDALL_ADMIN_TOKEN');
  });

  it('with neither, or auth_config disabled, says /api/* answers loopback clients only', async () => {
    const cfg = await loadConfig({ raw: { ...base, governance: { auth_config: { is_enabled: false, admin_username: 'a' } } }, env: {} });
    expect(cfg.admin).toEqual({ basic: null, bearerToken: null });
    expect(describeAdmin(cfg.admin)).toContain('loopback clients only');
  });

  it('refuses an enabled auth_config without a username or password, naming the field', async () => {
    const err = await configError(() => loadConfig({ raw: { ...base, governance: { auth_config: { is_enabled: true, admin_username: 'a' } } }, env: {} }));
    expect(err.problems.map((p) => p.path)).toEqual(['governance.auth_config.admin_password']);
  });

  it("refuses a username with ':' and an unset env. reference", async () => {
    const err = await configError(() => loadConfig({ raw: { ...base, governance: { auth_config: { is_enabled: true,
      admin_username: 'a:b', admin_password: 'env.NOPE' } } }, env: {} }));
    expect(err.problems.map((p) => p.path).sort()).toEqual(['governance.auth_config.admin_password', 'governance.auth_config.admin_username']);
  });
});
