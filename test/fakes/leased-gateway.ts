// A forked child (node --import tsx) running one full gateway in cluster mode: its provider limits come from the
// parent's ledger over real process IPC. Argument: the config as JSON. Tells the parent its port once it serves,
// and closes when the parent disconnects.
import pino from 'pino';
import { loadConfig } from '../../dist/src/config/load.js';
import { ipcTransport } from '../../dist/src/dispatch/leases.js';
import { startGateway } from '../../dist/src/gateway.js';

const config = await loadConfig({ raw: JSON.parse(process.argv[2]) as Record<string, unknown>, env: {},
  overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' } });
const gateway = await startGateway(config, { logger: pino({ level: 'silent' }), leases: ipcTransport(process) });
process.send!({ heimdall: 'test', type: 'ready', port: gateway.port });
process.on('disconnect', () => {
  void gateway.close(0).then(() => process.exit(0));
});
