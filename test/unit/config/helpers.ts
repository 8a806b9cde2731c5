import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/config/errors.js';

/** Writes `content` (an object as JSON, or a string as is) to a fresh temp folder and returns the file's path. */
export async function writeConfig(name: string, content: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'heimdall-config-'));
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** Runs `fn`, expects a ConfigError, and returns it so the test can look at its problems. */
export async function configError(fn: () => Promise<unknown>): Promise<ConfigError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but loading succeeded');
}
