// The `heimdall` command on a Node that uWebSockets.js has no binary for. .ci/run installs one (the official Node
// 24 build from the npm registry) and names it in HEIMDALL_TEST_UNSUPPORTED_NODE; without it this test is skipped.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const unsupportedNode = process.env.HEIMDALL_TEST_UNSUPPORTED_NODE;
const MAIN = new URL('../../dist/src/main.js', import.meta.url).pathname;

describe.skipIf(!unsupportedNode)('heimdall command on an unsupported Node', () => {
  it('exits 2 with one line naming the Node versions that work, and no stack trace', () => {
    const result = spawnSync(unsupportedNode!, [MAIN, '--port', '0', '--host', '127.0.0.1'], { encoding: 'utf8', timeout: 15_000 });
    const version = spawnSync(unsupportedNode!, ['--version'], { encoding: 'utf8' }).stdout.trim().slice(1);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^heimdall: Node\\.js ${version.replaceAll('.', '\\.')} is not supported \\(.+\\): `
      + 'Heimdall runs on Node\\.js 20 and 22 \\(22 recommended\\)\\n$'));
  });
});
