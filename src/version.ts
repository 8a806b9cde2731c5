// The gateway's version, from package.json: the one `npm` installed, so `--version`, `/health` and the logs agree
// with what `npm ls` says. Read once; compiled code runs from dist/src/ and tests from src/, so both places are tried.

import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.version && manifest.name) return manifest.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

export const VERSION = readVersion();
