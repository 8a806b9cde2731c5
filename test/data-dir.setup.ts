// Vitest's global set-up: the gateways the tests start (in-process, or as child processes that inherit this
// environment) keep their embedded stores in a temporary directory, not in the checkout's ./data, where a user's
// next `npm start` would list the tests' requests at /api/logs. A run given HEIMDALL_DATA_DIR keeps it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): (() => void) | undefined {
  if (process.env.HEIMDALL_DATA_DIR) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-test-data-'));
  process.env.HEIMDALL_DATA_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
