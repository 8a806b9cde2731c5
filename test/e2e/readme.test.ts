// Every code block of the user documentation, run as a reader would run it (see readme-blocks.ts for the comments
// that say how). One gateway (the built `heimdall` command) serves the examples: the embedded default's keyless mock
// provider, plus `openai` with a key, as after `export OPENAI_API_KEY=…; npm start`, except that `openai` is a local
// fake of OpenAI's API (no provider is reachable from a test). A block's `localhost:8080` is rewritten to that
// gateway's port, and `localhost:8081` to its HTTP/2 cleartext port (`--h2c-port`). Blocks run one at a time, in document order, in one working folder where `dist`, `node_modules`
// and `package.json` are the repository's own (so `node dist/src/main.js` and the SDK imports work as in a clone).
// The documents' links to each other are followed too, to the heading they name.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { listeningPort, type Run } from './cli-harness.js';
import {
  anchorsOf, type Block, envReferences, lastStatus, localLinks, outputMatches, readBlocks, ruleBroken,
} from './readme-blocks.js';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const MAIN = join(ROOT, 'dist/src/main.js');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];
const BLOCKS = DOCS.flatMap((doc) => readBlocks(ROOT, doc));
const TEST_OPENAI_KEY = 'sk-readme-test';
const BLOCK_TIMEOUT_MS = 60_000;

type LoadConfig = typeof import('../../src/config/load.js').loadConfig;

interface Gateway { run: Run; port: number }

let workdir: string;
let fakeOpenAI: FakeOpenAI;
let loadConfig: LoadConfig;
const gateways = new Map<string, Promise<Gateway>>();
/** What the last block run in each document printed, for the `output` block after it. */
const lastOutput = new Map<string, string | null>();

const label = (block: Block) => `${block.doc}:${block.line} ${block.lang || 'text'}`;
const basicEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? workdir });

function startGateway(configFile: string, env: Record<string, string>): Promise<Gateway> {
  const child = spawn(process.execPath, [MAIN, '--config', configFile, '--port', '0', '--h2c-port', '0', '--host', '127.0.0.1'], {
    cwd: workdir, env: { ...basicEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (data) => { output += data; });
  child.stderr.on('data', (data) => { output += data; });
  const run: Run = { child, output: () => output, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  return listeningPort(run).then((port) => {
    // Logged before the line listeningPort waits for.
    const announced = output.split('\n').find((line) => line.includes('"h2cPort":'));
    h2cPorts.set(port, Number(/"h2cPort":(\d+)/.exec(announced ?? '')?.[1]));
    return { run, port };
  });
}

/** Each gateway's h2c port, by its HTTP/1.1 port. */
const h2cPorts = new Map<number, number>();

function gatewayFor(block: Block): Promise<Gateway> {
  const config = block.directives.gateway ?? '';
  let gateway = gateways.get(config);
  if (!gateway) {
    const file = join(workdir, config);
    gateway = startGateway(file, envReferences(readFileSync(file, 'utf8')));
    gateways.set(config, gateway);
  }
  return gateway;
}

function withPort(code: string, port: number): string {
  return code.replace(/localhost:8080/g, `127.0.0.1:${port}`).replace(/localhost:8081/g, `127.0.0.1:${h2cPorts.get(port)}`);
}

function scriptFile(block: Block): string {
  return block.directives.file ?? `block-${block.doc.replace(/\W/g, '-')}-${block.line}.${block.lang.startsWith('t') ? 'ts' : 'mjs'}`;
}

function writeInWorkdir(path: string, content: string): string {
  const file = join(workdir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

interface Ran { status: number | null; stdout: string; stderr: string }

function spawnCollected(command: string, args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: workdir, env: { ...basicEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => { stdout += data; });
    child.stderr.on('data', (data) => { stderr += data; });
    const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS - 5_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

// curl becomes a function that also dumps each call's headers, so the test can check the statuses it got.
const SHELL_PRELUDE = `set -eo pipefail
exec 2>&1
curl() {
  local dump
  dump="$READMETEST_CURL_DIR/$(printf %04d "$(ls "$READMETEST_CURL_DIR" | wc -l)")"
  command curl -sS -D "$dump" "$@"
}
`;

async function runShell(block: Block, port: number): Promise<string> {
  const curlDir = mkdtempSync(join(workdir, '.curl-'));
  const ran = await spawnCollected('bash', ['-c', SHELL_PRELUDE + withPort(block.code, port)], { READMETEST_CURL_DIR: curlDir });
  const statuses = readdirSync(curlDir).sort().map((name) => lastStatus(readFileSync(join(curlDir, name), 'utf8')));
  rmSync(curlDir, { recursive: true });
  expect(ran.status, `${label(block)} exited ${ran.status}; it printed:\n${ran.stdout}`).toBe(0);
  if (/\bcurl\b/.test(block.code)) {
    const expected = block.directives.expectStatus;
    if (expected) expect(statuses, `${label(block)}: curl statuses`).toEqual(expected);
    else {
      expect(statuses.length, `${label(block)}: no curl call was made`).toBeGreaterThan(0);
      for (const status of statuses) expect(status, `${label(block)}: curl got ${status}; it printed:\n${ran.stdout}`).toBeGreaterThanOrEqual(200);
      for (const status of statuses) expect(status, `${label(block)}: curl got ${status}; it printed:\n${ran.stdout}`).toBeLessThan(300);
    }
  }
  return ran.stdout;
}

async function runScript(block: Block, port: number): Promise<string> {
  const file = writeInWorkdir(scriptFile(block), withPort(block.code, port));
  const ran = await spawnCollected(process.execPath, ['--import', 'tsx', file], {});
  expect(ran.status, `${label(block)} exited ${ran.status}:\n${ran.stderr}\n${ran.stdout}`).toBe(0);
  return ran.stdout;
}

async function checkConfig(block: Block): Promise<void> {
  const env = envReferences(block.code);
  const raw: unknown = block.lang === 'json' ? JSON.parse(block.code) : YAML.parse(block.code);
  expect(raw, `${label(block)} is an empty config`).toBeTypeOf('object');
  // Through the file when the block is one, so relative plugin paths resolve as they will for the reader.
  const config = block.directives.file
    ? await loadConfig({ file: join(workdir, block.directives.file), env })
    : await loadConfig({ raw, env });
  expect(config.providers.length + config.plugins.length, `${label(block)} configures nothing`).toBeGreaterThan(0);
}

/**
 * The import specifiers of the package's own name resolve as a reader's project resolves them once Heimdall is
 * installed: through package.json `exports` when it has them, else to any file of the package.
 */
function selfReferencePaths(): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports?: unknown };
  if (pkg.exports === undefined) return { [`${pkg.name}/*`]: [`${ROOT}/*`] };
  const entries = typeof pkg.exports === 'string' || !Object.keys(pkg.exports as object).every((key) => key.startsWith('.'))
    ? { '.': pkg.exports }
    : pkg.exports as Record<string, unknown>;
  const target = (value: unknown): string | null => {
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object') {
      const conditions = value as Record<string, unknown>;
      return target(conditions.types ?? conditions.import ?? conditions.default);
    }
    return null;
  };
  const paths: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(entries)) {
    const file = target(value);
    if (file) paths[`${pkg.name}${key.slice(1)}`] = [join(ROOT, file)];
  }
  return paths;
}

describe('the code blocks of README.md and docs/*.md', () => {
  beforeAll(async () => {
    workdir = mkdtempSync(join(tmpdir(), 'heimdall-readme-'));
    for (const name of ['dist', 'node_modules', 'package.json', 'examples']) symlinkSync(join(ROOT, name), join(workdir, name));
    ({ loadConfig } = await import(new URL('../../dist/src/config/load.js', import.meta.url).href) as { loadConfig: LoadConfig });
    fakeOpenAI = await startFakeOpenAI();
    const config = { providers: { mock: {}, openai: { keys: [{ value: 'env.OPENAI_API_KEY' }], network_config: { base_url: fakeOpenAI.url } } } };
    const file = writeInWorkdir('.gateway.json', JSON.stringify(config));
    gateways.set('', startGateway(file, { OPENAI_API_KEY: TEST_OPENAI_KEY }));
    await gateways.get('');
  });

  afterAll(async () => {
    for (const gateway of gateways.values()) {
      const { run } = await gateway.catch(() => ({ run: null }));
      if (run && run.child.exitCode === null) {
        run.child.kill('SIGTERM');
        await run.exited;
      }
    }
    await fakeOpenAI?.close();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  it('finds blocks in every document, and each block is run or says why not', () => {
    expect(BLOCKS.filter((block) => block.doc === 'README.md').length).toBeGreaterThan(10);
    const broken = BLOCKS.map((block) => [label(block), ruleBroken(block)]).filter(([, problem]) => problem !== null);
    expect(broken).toEqual([]);
  });

  it('links between the documents reach a file, and a heading when they name one', () => {
    const links = DOCS.flatMap((doc) => localLinks(ROOT, doc));
    expect(links.length).toBeGreaterThan(10);
    const broken = links.filter(({ doc, target }) => {
      const [path, anchor] = target.split('#');
      const file = path ? join(ROOT, dirname(doc), path) : join(ROOT, doc);
      if (!file.startsWith(ROOT) || !existsSync(file)) return true;
      return anchor !== undefined && !anchorsOf(readFileSync(file, 'utf8')).has(anchor);
    }).map(({ doc, line, target }) => `${doc}:${line} ${target}`);
    expect(broken).toEqual([]);
  });

  it('TypeScript blocks type-check as written (strict)', () => {
    const files = BLOCKS.filter((block) => block.kind === 'script' && block.lang.startsWith('t') && block.directives.notRun === undefined)
      .map((block) => writeInWorkdir(scriptFile(block), block.code));
    expect(files.length).toBeGreaterThan(0);
    writeInWorkdir('tsconfig.json', JSON.stringify({
      compilerOptions: {
        target: 'ES2023', lib: ['ES2024'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
        skipLibCheck: true, types: ['node'], paths: selfReferencePaths(),
      },
      files,
    }));
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(workdir, 'tsconfig.json')], {
      cwd: workdir, encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 2 * BLOCK_TIMEOUT_MS);

  for (const block of BLOCKS) {
    if (block.directives.notRun !== undefined) {
      it.skip(`${label(block)} (not run: ${block.directives.notRun})`, () => {});
      continue;
    }
    it(label(block), async () => {
      expect(ruleBroken(block), `${label(block)}: how to check it`).toBeNull();
      const { directives: d } = block;
      if (d.output) {
        const printed = lastOutput.get(block.doc);
        expect(printed, `${label(block)}: no block ran before this output`).toBeTypeOf('string');
        expect(outputMatches(block.code, printed!), `${label(block)}: expected\n${block.code}\nbut the block before printed\n${printed}`).toBe(true);
        return;
      }
      if (d.file) {
        // A module for later blocks (a plugin): written, and type-checked above, but not a program to run.
        writeInWorkdir(d.file, block.code);
        if (block.kind === 'script') return;
      }
      if (block.kind === 'config') {
        await checkConfig(block);
        return;
      }
      const { port } = await gatewayFor(block);
      lastOutput.set(block.doc, null);
      const printed = block.kind === 'shell' ? await runShell(block, port) : await runScript(block, port);
      lastOutput.set(block.doc, printed);
      if (d.prints !== undefined) {
        expect(outputMatches(d.prints, printed), `${label(block)}: expected it to print\n${d.prints}\nbut it printed\n${printed}`).toBe(true);
      }
    }, BLOCK_TIMEOUT_MS);
  }
});
