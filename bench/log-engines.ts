/** `--engines libsql,node:sqlite`: SQLite's engines a log bench runs side by side, instead of two builds. */
import type { SqliteEngine } from '../src/stores/sqlite.js';
import { nodeSqliteAvailable } from '../src/stores/sqlite.js';
import { type Flags, str } from './args.js';

const ENGINES: readonly SqliteEngine[] = ['libsql', 'node:sqlite'];

export function engineBuilds(flags: Flags): SqliteEngine[] | null {
  const listed = str(flags, 'engines', '');
  if (!listed) return null;
  const engines = listed.split(',') as SqliteEngine[];
  for (const engine of engines) {
    if (!ENGINES.includes(engine)) throw new Error(`--engines: ${engine} is not one of ${ENGINES.join(', ')}`);
    if (engine === 'node:sqlite' && !nodeSqliteAvailable()) throw new Error(`--engines: node:sqlite needs Node 22.16 or later (this is ${process.version})`);
  }
  return engines;
}
