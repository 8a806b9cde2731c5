/**
 * The targets of the lone-stream benches (stream-threads.ts, first-byte.ts), started the same way in both: each in
 * front of the bench's mock, pinned to CPU 0 when the machine has two, answering `POST /v1/chat/completions`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOP_FLAGS, isHopTarget } from './bare-hop-worker.js';
import { freePort, spawnChild, waitForHealth, waitForListening, type Child } from './children.js';

export const LONE_TARGETS = ['baseline', 'bare-hop', 'minimum-hop', 'bytes-hop', 'heimdall', 'heimdall-nolog', 'heimdall-before'] as const;
export type LoneTarget = (typeof LONE_TARGETS)[number];

/**
 * The targets a `--targets` list names, checked before anything starts: an unknown one is an error that lists the
 * known, and `heimdall-before` needs the other build's entry point.
 */
export function loneTargets(list: string, beforeJs: string | null): LoneTarget[] {
  const targets = list.split(',').filter(Boolean) as LoneTarget[];
  const unknown = targets.filter((t) => !LONE_TARGETS.includes(t));
  if (unknown.length) throw new Error(`--targets: unknown ${unknown.join(', ')} (allowed: ${LONE_TARGETS.join(', ')})`);
  if (targets.includes('heimdall-before') && !beforeJs) throw new Error('heimdall-before needs --before-js PATH');
  return targets;
}

export interface LoneTargetOptions {
  /** CPUs to pin the target to (`taskset -c`); undefined: not pinned. */
  readonly cpus: string | undefined;
  /** Where Heimdall's config files go. */
  readonly workDir: string;
  readonly heimdallJs: string;
  /** The other build's entry point, for `heimdall-before` (checked by `loneTargets`). */
  readonly beforeJs: string | null;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Starts `target` in front of the mock at `mockPort`; `model` is what a request to it names. */
export async function startLoneTarget(target: LoneTarget, mockPort: number, options: LoneTargetOptions):
  Promise<{ child: Child; port: number; model: string }> {
  if (target === 'baseline' || isHopTarget(target)) {
    const child = spawnChild(target, process.execPath, [here(`./${target === 'baseline' ? 'baseline-proxy' : 'bare-hop'}.js`),
      '--port', '0', '--upstream', `http://127.0.0.1:${mockPort}`, '--connections', '16', ...(target === 'baseline' ? [] : HOP_FLAGS[target])],
    options.cpus);
    return { child, port: await waitForListening(child), model: 'gpt-4o-mini' };
  }
  const config = join(options.workDir, `${target}-${Date.now()}.json`);
  const client = target === 'heimdall-nolog' ? { client: { enable_logging: false } } : {};
  writeFileSync(config, JSON.stringify({ ...client, providers: { openai: { keys: [{ value: 'sk-bench', models: ['*'], weight: 1 }],
    network_config: { base_url: `http://127.0.0.1:${mockPort}` } } } }));
  const port = await freePort();
  const js = target === 'heimdall-before' ? options.beforeJs! : options.heimdallJs;
  const child = spawnChild(target, process.execPath, [js, '--config', config, '--port', String(port), '--log-level', 'warn'], options.cpus);
  await waitForHealth(child, `http://127.0.0.1:${port}/health`, 30_000);
  return { child, port, model: 'openai/gpt-4o-mini' };
}
