import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_NODE_MAJORS, currentRuntime, installedUws, nodeSupportProblem, type NodeRuntime, type UwsInstall } from '../../../src/http/node-support.js';

// What uws-pack 20.0.8 ships: Node 18, 20, 21 and 22 on five platforms.
const SHIPPED = ['darwin_arm64', 'darwin_x64', 'linux_arm', 'linux_arm64', 'linux_x64', 'win32_x64']
  .flatMap((target) => ['108', '115', '120', '127'].map((abi) => `uws_${target}_${abi}.node`));

const node = (nodeVersion: string, abi: string, platform = 'linux', arch = 'x64'): NodeRuntime => ({ nodeVersion, abi, platform, arch });

function install(binaries: readonly string[], loaded: string[] = []): UwsInstall {
  return { label: 'uws-pack 20.0.8', binDir: '/pkg/dist/bin', binaries, load: (path) => { loaded.push(path); } };
}

describe('node support check', () => {
  it('passes a Node whose ABI has a binary, after loading that binary', () => {
    const loaded: string[] = [];
    expect(nodeSupportProblem(node('22.23.5', '127'), install(SHIPPED, loaded))).toBeNull();
    expect(loaded).toEqual(['/pkg/dist/bin/uws_linux_x64_127.node']);
  });

  it('names the supported versions in one line for a Node whose ABI has no binary (Node 24)', () => {
    const loaded: string[] = [];
    const problem = nodeSupportProblem(node('24.22.3', '137'), install(SHIPPED, loaded));
    expect(problem).toBe('Node.js 24.22.3 is not supported (uWebSockets.js, uws-pack 20.0.8, has no binary for its ABI 137 '
      + 'on linux-x64): Heimdall runs on Node.js 20 and 22 (22 recommended)');
    expect(loaded).toEqual([]);
  });

  it('names only the supported versions that have a binary for this platform', () => {
    const onlyNode20 = ['uws_linux_x64_115.node', 'uws_darwin_arm64_127.node'];
    expect(nodeSupportProblem(node('22.1.0', '127'), install(onlyNode20)))
      .toMatch(/has no binary for its ABI 127 on linux-x64\): Heimdall runs on Node\.js 20 \(20 recommended\)$/);
  });

  it('says so when the platform has no binary at all', () => {
    expect(nodeSupportProblem(node('22.1.0', '127', 'linux', 's390x'), install(SHIPPED)))
      .toBe('linux-s390x is not supported: uWebSockets.js (uws-pack 20.0.8) has no binary for it; '
        + 'Heimdall runs on Node.js 20 and 22 on Linux (glibc), macOS and Windows');
  });

  it('reports a binary that is present but does not load, with the loader\'s first line', () => {
    // A real load through require: a file with the binary's name that is no shared object.
    const binDir = mkdtempSync(join(tmpdir(), 'heimdall-uws-'));
    writeFileSync(join(binDir, 'uws_linux_x64_115.node'), 'not an ELF file');
    const require = createRequire(import.meta.url);
    const problem = nodeSupportProblem(node('20.20.2', '115'),
      { label: 'uws-pack 20.0.8', binDir, binaries: ['uws_linux_x64_115.node'], load: (path) => { require(path); } });
    expect(problem).toMatch(/^uWebSockets\.js \(uws-pack 20\.0\.8\) cannot load its binary for Node\.js 20\.20\.2 on linux-x64: .+/);
    expect(problem).not.toContain('\n');
  });

  it('passes the Node running this test against the installed uWebSockets.js', () => {
    expect(nodeSupportProblem(currentRuntime(), installedUws())).toBeNull();
  });

  it('agrees with package.json engines, and the installed uWebSockets.js ships every supported Node for Linux x64', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    expect(manifest.engines.node.split(' || ').map((range) => Number(/^\^(\d+)\./.exec(range)?.[1])))
      .toEqual(SUPPORTED_NODE_MAJORS);
    // Linux x64 is what the Docker image and CI run: an upgrade of uws-pack that dropped one fails here.
    const abiOfMajor: Record<number, string> = { 20: '115', 22: '127' };
    const installed = { ...installedUws(), load: () => {} };
    for (const major of SUPPORTED_NODE_MAJORS) expect(nodeSupportProblem(node(`${major}.0.0`, abiOfMajor[major]), installed)).toBeNull();
  });
});
