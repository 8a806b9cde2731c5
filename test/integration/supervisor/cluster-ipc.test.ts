// The supervisor's IPC paths that the metrics and limits features plug into, through real gateway processes: a
// scrape landing on any process is answered with what the supervisor renders from every process's snapshot, and
// each process's lease channel reaches the supervisor's ledger.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadConfig } from '../../../dist/src/config/load.js';
import { Supervisor } from '../../../dist/src/supervisor/supervisor.js';
import type { LeaseTransport } from '../../../dist/src/supervisor/messages.js';

const logger = pino({ level: 'silent' });
let running: Supervisor | null = null;

afterEach(async () => {
  await running?.stop();
  running = null;
});

async function start(options: Partial<ConstructorParameters<typeof Supervisor>[1]>): Promise<{ supervisor: Supervisor; port: number }> {
  // The run's data directory (test/data-dir.setup.ts): with no HEIMDALL_DATA_DIR the processes' request log would
  // land in ./data of the checkout, where a user's next `npm start` lists it.
  const load = () => loadConfig({ raw: { providers: { mock: {} } }, env: { HEIMDALL_DATA_DIR: process.env.HEIMDALL_DATA_DIR },
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent', processes: '2' } });
  const supervisor = new Supervisor(await load(), { logger, loadConfig: load, ...options });
  running = supervisor;
  return { supervisor, port: await supervisor.start() };
}

describe('cluster metrics over IPC', () => {
  it('answers /metrics on any process with the text rendered in the supervisor from every process', async () => {
    const calls: { snapshots: readonly unknown[]; cluster: { processes: number; restarts: Readonly<Record<string, number>> } }[] = [];
    const { port } = await start({
      renderMetrics: (snapshots, cluster) => {
        calls.push({ snapshots, cluster });
        return Promise.resolve(`heimdall_processes ${cluster.processes}\n`);
      },
    });
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('heimdall_processes 2\n');
    }
    expect(calls.at(-1)!.cluster).toEqual({ processes: 2, restarts: { 1: 0, 2: 0 } });
  });
});

describe('lease messages', () => {
  it('gives the ledger one transport per process, keyed by its pid, detached when it exits', async () => {
    const attached = new Map<string, LeaseTransport>();
    const detached: string[] = [];
    const { supervisor } = await start({
      ledger: { attach: (id, transport) => attached.set(id, transport), detach: (id) => detached.push(id) },
    });
    const pids = supervisor.pids().map(String).sort();
    expect([...attached.keys()].sort()).toEqual(pids);
    await supervisor.stop();
    running = null;
    expect(detached.sort()).toEqual(pids);
  });
});
