import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configSummary } from '../../../src/config/summary.js';

describe('configSummary', () => {
  it('says in a few short lines what runs, what is not served, and never a secret', async () => {
    const cfg = await loadConfig({
      raw: {
        providers: {
          openai: { keys: [{ value: 'env.OPENAI_API_KEY' }, { value: 'sk-literal-secret', enabled: false }],
            network_config: { base_url: 'https://user:url-secret@api.openai.com' }, concurrency_and_buffer_size: { concurrency: 10, buffer_size: 10, threads: 4 } },
          mock: {},
          elevenlabs: { keys: [{ value: 'el-secret' }] },
        },
        model_aliases: { fast: 'mock/echo' },
        plugins: ['telemetry', { name: 'audit', path: './audit.mjs', enabled: false }],
        client: { drop_excess_requests: true },
      },
      env: { OPENAI_API_KEY: 'env-secret' },
      overrides: { host: '::1', port: 9000 },
    });
    const lines = configSummary(cfg);
    expect(lines.map((l) => l.msg)).toEqual([
      'config: inline config',
      'providers: openai: 1 key of 2, 4 threads, https://user:***@api.openai.com; mock: keyless, 1 thread',
      'not served (no adapter yet): elevenlabs',
      'model aliases: fast → mock/echo',
      `plugins: metrics, audit (${process.cwd()}/audit.mjs) (disabled)`,
      'server: [::1]:9000, log level info, request body up to 10 MB, drops excess requests',
      'admin API (/api/*): no admin credentials configured, so it answers loopback clients only (127.0.0.1, ::1); '
        + 'set governance.auth_config or HEIMDALL_ADMIN_TOKEN to call it from elsewhere',
    ]);
    expect(lines[0].fields).toEqual({ source: 'inline config' });
    const text = JSON.stringify(lines);
    for (const secret of ['env-secret', 'sk-literal-secret', 'url-secret', 'el-secret']) expect(text).not.toContain(secret);
    expect(text.length).toBeLessThan(1000);
  });

  it('says when no provider is configured', async () => {
    const cfg = await loadConfig({ raw: { providers: {}, plugins: [] }, env: {} });
    expect(configSummary(cfg).map((l) => l.msg)).toContain('providers: none');
    expect(configSummary(cfg).map((l) => l.msg)).toContain('plugins: none');
  });
});
