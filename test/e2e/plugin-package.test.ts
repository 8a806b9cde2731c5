// A plugin author's side of the package: Heimdall packed as npm would publish it, installed into a project of the
// author's own, the README's plugin pasted into it, type-checked with tsc against `heimdall-gateway/plugin`, then
// run by the installed `heimdall` command.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningPort, run } from './cli-harness.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

// The README's plugin example, as pasted.
const README_PLUGIN = `import type { Plugin, PluginFactory } from 'heimdall-gateway/plugin';

const audit: PluginFactory = (config, api): Plugin => ({
  name: 'audit',
  preHook(ctx, request) {
    if (!ctx.headers['x-team']) return { error: { status: 403, message: 'x-team header required' } };
    ctx.values.set('team', ctx.headers['x-team']);
  },
  postHook(ctx, outcome) {
    api.logger.info({ requestId: ctx.requestId, team: ctx.values.get('team'), status: outcome.status, usage: outcome.usage });
  },
  onStreamChunk(ctx, chunk) { return chunk; },   // rewrite, or null to drop
});
export default audit;
`;

let project: string;
let installed: string;

function sh(command: string, args: string[], cwd: string) {
  return spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 });
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'heimdall-plugin-author-'));
  // What `npm publish` would upload (no build: the suite runs on the built tree, as `npm test` leaves it).
  const packed = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], ROOT);
  expect(packed.status, packed.stderr).toBe(0);
  const tarball = join(project, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
  installed = join(project, 'node_modules/heimdall-gateway');
  mkdirSync(installed, { recursive: true });
  expect(sh('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], project).status).toBe(0);
  // Its dependencies as npm would install them beside it, and the author's own @types/node.
  symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'));
  symlinkSync(join(ROOT, 'node_modules/@types'), join(project, 'node_modules/@types'));
  mkdirSync(join(project, 'plugins'));
  writeFileSync(join(project, 'plugins/audit.ts'), README_PLUGIN);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-gateway', private: true, type: 'module' }));
  const compilerOptions = { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2023', strict: true, noEmit: true,
    types: ['node'] };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['plugins/audit.ts'] }));
  writeFileSync(join(project, 'config.json'), JSON.stringify({
    providers: { mock: {} }, plugins: [{ name: 'audit', path: './plugins/audit.ts', config: { sink: 'stdout' } }],
  }));
}, 120_000);

// The harness has stopped the gateway by then (afterEach); the symlinks go, not what they point to.
afterAll(() => rmSync(project, { recursive: true, force: true }));

// tsc and a gateway start, on a shared two-core machine.
describe('a plugin written against the published package', { timeout: 60_000 }, () => {
  it('type-checks as the README shows it', () => {
    const checked = sh(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
  });

  it('gets real types: a hook that breaks the contract does not compile', () => {
    // Without the types (an unresolved import is `any`) this would compile.
    writeFileSync(join(project, 'plugins/wrong.ts'), README_PLUGIN.replace("message: 'x-team header required'", 'reason: 1'));
    writeFileSync(join(project, 'tsconfig.wrong.json'), JSON.stringify({ extends: './tsconfig.json', include: ['plugins/wrong.ts'] }));
    const checked = sh(process.execPath, [TSC, '-p', 'tsconfig.wrong.json'], project);
    expect(checked.status).not.toBe(0);
    expect(checked.stdout).toMatch(/^plugins\/wrong\.ts\(5,3\): error TS2322: [^]+Property 'message' is missing/);
  });

  it('exposes the plugin entry point and not the package\'s insides', () => {
    const resolved = sh(process.execPath, ['--input-type=module', '-e', `
      console.log(import.meta.resolve('heimdall-gateway/plugin'));
      try { import.meta.resolve('heimdall-gateway/dist/src/gateway.js'); } catch (error) { console.log(error.code); }`], project);
    expect(resolved.stderr).toBe('');
    expect(resolved.stdout.split('\n')).toEqual([`file://${installed}/dist/src/plugins/contract.js`, 'ERR_PACKAGE_PATH_NOT_EXPORTED', '']);
  });

  it('runs in the installed heimdall command: its pre-hook refuses, its post-hook logs', async () => {
    const gateway = run(['--config', join(project, 'config.json'), '--port', '0', '--host', '127.0.0.1'], {},
      join(installed, 'dist/src/main.js'));
    const port = await listeningPort(gateway);
    const chat = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST', headers, body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const refused = await chat({});
    expect(refused.status).toBe(403);
    expect(JSON.stringify(await refused.json())).toContain('x-team header required');
    const answered = await chat({ 'x-team': 'search' });
    expect(answered.status).toBe(200);
    const requestId = answered.headers.get('x-request-id');
    await expect.poll(() => gateway.output(), { timeout: 10_000 }).toContain('"team":"search"');
    expect(gateway.output()).toContain(`"requestId":"${requestId}"`);
  });
});
