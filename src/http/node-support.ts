// Whether this Node can run the HTTP front. uWebSockets.js is a native addon built per Node ABI, so a Node it has
// no binary for (Node 24 with uws-pack 20.0.8) fails while the module graph loads, with a stack trace and a message
// naming Node 18 and 21, which Heimdall does not support. This names the versions that work, in one line, before
// anything imports uWebSockets.js.

import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node majors Heimdall is tested on, as package.json's `engines` declares them; the last is recommended. */
export const SUPPORTED_NODE_MAJORS: readonly number[] = [20, 22];

/** Node's `process.versions.modules` (its addon ABI) per release line, for naming the Node a binary is for. */
const NODE_MAJOR_BY_ABI: Readonly<Record<string, number>> = {
  '108': 18, '115': 20, '120': 21, '127': 22, '131': 23, '137': 24, '141': 25,
};

export interface NodeRuntime {
  readonly nodeVersion: string;
  /** `process.versions.modules`. */
  readonly abi: string;
  readonly platform: string;
  readonly arch: string;
}

export interface UwsInstall {
  /** `uws-pack 20.0.8`: the package behind the `uWebSockets.js` alias. */
  readonly label: string;
  readonly binDir: string;
  /** File names in `binDir`: `uws_<platform>_<arch>_<abi>.node`. */
  readonly binaries: readonly string[];
  /** Loads one binary (by absolute path); throws as `require` does when the system cannot load it. */
  readonly load: (path: string) => void;
}

export function currentRuntime(): NodeRuntime {
  return { nodeVersion: process.versions.node, abi: process.versions.modules, platform: process.platform, arch: process.arch };
}

export function installedUws(): UwsInstall {
  const require = createRequire(import.meta.url);
  // The package exports only its ESM entry (dist/index.mjs); its loader requires `./bin/uws_<platform>_<arch>_<abi>.node`.
  const entry = fileURLToPath(import.meta.resolve('uWebSockets.js'));
  const packageDir = dirname(dirname(entry));
  const manifest = require(join(packageDir, 'package.json')) as { name: string; version: string };
  const binDir = join(dirname(entry), 'bin');
  return {
    label: `${manifest.name} ${manifest.version}`,
    binDir,
    binaries: readdirSync(binDir),
    // The same path uWebSockets.js requires later: Node's module cache makes that second load free.
    load: (path) => { require(path); },
  };
}

function majorsList(majors: readonly number[]): string {
  return majors.length <= 1 ? majors.join('') : `${majors.slice(0, -1).join(', ')} and ${majors.at(-1)}`;
}

/**
 * Null when uWebSockets.js loads on this runtime; otherwise one line for the operator saying which Node versions
 * work. Loads the binary to find out, so a binary that is present but cannot load (a glibc older than it needs,
 * musl) is caught too.
 */
export function nodeSupportProblem(runtime: NodeRuntime = currentRuntime(), uws: UwsInstall = installedUws()): string | null {
  const target = `${runtime.platform}-${runtime.arch}`;
  const abis = new Set<string>();
  for (const file of uws.binaries) {
    const match = /^uws_(.+)_(\d+)\.node$/.exec(file);
    if (match && match[1] === `${runtime.platform}_${runtime.arch}`) abis.add(match[2]);
  }
  const binary = `uws_${runtime.platform}_${runtime.arch}_${runtime.abi}.node`;
  if (abis.has(runtime.abi)) {
    try {
      uws.load(join(uws.binDir, binary));
      return null;
    } catch (error) {
      const reason = String((error as Error).message).split('\n')[0];
      return `uWebSockets.js (${uws.label}) cannot load its binary for Node.js ${runtime.nodeVersion} on ${target}: ${reason}`;
    }
  }
  if (abis.size === 0) {
    return `${target} is not supported: uWebSockets.js (${uws.label}) has no binary for it; `
      + `Heimdall runs on Node.js ${majorsList(SUPPORTED_NODE_MAJORS)} on Linux (glibc), macOS and Windows`;
  }
  const working = SUPPORTED_NODE_MAJORS.filter((major) => [...abis].some((abi) => NODE_MAJOR_BY_ABI[abi] === major));
  const advice = working.length === 0 ? '' : `: Heimdall runs on Node.js ${majorsList(working)} (${working.at(-1)} recommended)`;
  return `Node.js ${runtime.nodeVersion} is not supported (uWebSockets.js, ${uws.label}, has no binary for its ABI `
    + `${runtime.abi} on ${target})${advice}`;
}
