// `--processes` / HEIMDALL_PROCESSES / `heimdall.processes`: validated like every setting, the command line first,
// `auto` resolved to the cores this process may use.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError } from './helpers.js';

const raw = (heimdall?: object) => ({ providers: { mock: {} }, ...(heimdall ? { heimdall } : {}) });

describe('processes', () => {
  it('defaults to one process and no supervisor', async () => {
    const cfg = await loadConfig({ raw: raw(), env: {} });
    expect(cfg.processes).toEqual({ setting: 1, count: 1, supervised: false });
  });

  it('reads heimdall.processes, a number or auto', async () => {
    expect((await loadConfig({ raw: raw({ processes: 3 }), env: {} })).processes).toEqual({ setting: 3, count: 3, supervised: true });
    expect((await loadConfig({ raw: raw({ processes: 'auto' }), env: {} })).processes)
      .toEqual({ setting: 'auto', count: availableParallelism(), supervised: true });
  });

  it('lets the command line win over the file', async () => {
    const cfg = await loadConfig({ raw: raw({ processes: 4 }), env: {}, overrides: { processes: '2' } });
    expect(cfg.processes).toEqual({ setting: 2, count: 2, supervised: true });
    const one = await loadConfig({ raw: raw({ processes: 4 }), env: {}, overrides: { processes: '1' } });
    expect(one.processes.supervised).toBe(false);
  });

  it('refuses what is not a count', async () => {
    for (const bad of [0, -1, 1.5, 'all', 257]) {
      const err = await configError(() => loadConfig({ raw: raw({ processes: bad }), env: {} }));
      expect(err.message).toContain('heimdall.processes');
      expect(err.message).toContain("expected 'auto' or a whole number from 1 to 256");
    }
    const flag = await configError(() => loadConfig({ raw: raw(), env: {}, overrides: { processes: '0' } }));
    expect(flag.message).toContain("--processes: expected 'auto' or a whole number from 1 to 256, got '0'");
  });

  it('refuses an unknown key in the heimdall block', async () => {
    const err = await configError(() => loadConfig({ raw: raw({ process: 2 }), env: {} }));
    expect(err.message).toContain('process');
  });
});

describe('h2c port', () => {
  it('is off by default, read from heimdall.h2c_port, and the command line wins', async () => {
    expect((await loadConfig({ raw: raw(), env: {} })).server.h2cPort).toBeNull();
    expect((await loadConfig({ raw: raw({ h2c_port: 8081 }), env: {} })).server.h2cPort).toBe(8081);
    expect((await loadConfig({ raw: raw({ h2c_port: 8081 }), env: {}, overrides: { h2cPort: 9090 } })).server.h2cPort).toBe(9090);
  });

  it('refuses what is not a port, and the HTTP/1.1 port itself', async () => {
    for (const bad of [-1, 65536, 1.5, '8081']) {
      const err = await configError(() => loadConfig({ raw: raw({ h2c_port: bad }), env: {} }));
      expect(err.message).toContain('heimdall.h2c_port');
    }
    const same = await configError(() => loadConfig({ raw: raw({ h2c_port: 8080 }), env: {} }));
    expect(same.message).toContain('must differ from the HTTP/1.1 port (8080)');
  });
});
