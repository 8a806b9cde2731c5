// A gateway with virtual keys in front of the fake OpenAI server and the built-in mock, for the governance tests;
// its log lines are kept, to prove a key's value never appears in one. `npx tsc -b` must have run first.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../../dist/src/gateway.js';
import { openConfiguredRequestLog } from '../../../dist/src/stores/request-log.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { openaiProvider } from '../harness.js';

/** $1 per million input tokens and $2 per million output tokens for every model; 1,000 output tokens at most. */
export const FLAT_PRICES = [{ model_pattern: '*', match_type: 'wildcard', input_cost_per_token: 1e-6,
  output_cost_per_token: 2e-6, max_output_tokens: 1000 }];

export interface GovernedGateway {
  readonly gateway: Gateway;
  readonly fake: FakeOpenAI;
  readonly url: string;
  /** Every log line written so far, as text. */
  logText(): string;
  close(): Promise<void>;
}

export async function startGoverned(config: (fakeUrl: string) => Record<string, unknown>,
  env: Record<string, string> = {}): Promise<GovernedGateway> {
  const fake = await startFakeOpenAI();
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) {
    lines.push(String(chunk));
    done();
  } });
  let gateway: Gateway;
  // The request log in a folder of this gateway's own, so that its records can be read back through /api/logs.
  const folder = mkdtempSync(join(tmpdir(), 'heimdall-governance-'));
  try {
    const raw = { logs_store: { enabled: true, type: 'sqlite', config: { path: join(folder, 'logs.db') } }, ...config(fake.url) };
    const loaded = await loadConfig({ raw, env, overrides: { port: 0, host: '127.0.0.1', logLevel: 'debug' } });
    const logger = pino({ level: 'debug' }, sink);
    gateway = await startGateway(loaded, { logger, requestLog: await openConfiguredRequestLog(loaded.requestLog, logger) });
  } catch (error) {
    await fake.close();
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
  return {
    gateway, fake, url: `http://127.0.0.1:${gateway.port}`,
    logText: () => lines.join(''),
    async close() {
      try {
        await gateway.close(500);
      } finally {
        await fake.close();
        rmSync(folder, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Providers `openai` (the fake, keys `main` and `spare`) and `mock` (3 prompt and 5 completion tokens per answer),
 * both at FLAT_PRICES.
 */
export function providers(fakeUrl: string, mock: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    openai: { ...openaiProvider(fakeUrl, { keys: [
      { name: 'main', value: 'sk-upstream-main', models: ['*'], weight: 1 },
      { name: 'spare', value: 'sk-upstream-spare', models: ['gpt-4o-mini'], weight: 1 },
    ] }), pricing_overrides: FLAT_PRICES },
    mock: { mock_config: { latency_ms: 0, chunk_count: 2, chunk_interval_ms: 0, prompt_tokens: 3, completion_tokens: 5, ...mock },
      pricing_overrides: FLAT_PRICES },
  };
}

export interface StoredGateway {
  readonly gateway: Gateway;
  readonly url: string;
  logText(): string;
  close(): Promise<void>;
}

/**
 * A gateway whose request log (and so its governance state) lives in `logsStore`, which outlives it: start another
 * on the same store to see what a restart keeps, or two at once to see what processes sharing it see.
 */
export async function startOnStore(logsStore: Record<string, unknown>, config: Record<string, unknown>,
  env: Record<string, string> = {}): Promise<StoredGateway> {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) {
    lines.push(String(chunk));
    done();
  } });
  const loaded = await loadConfig({ raw: { logs_store: logsStore, ...config }, env,
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'debug' } });
  const logger = pino({ level: 'debug' }, sink);
  const gateway = await startGateway(loaded, { logger, requestLog: await openConfiguredRequestLog(loaded.requestLog, logger) });
  return { gateway, url: `http://127.0.0.1:${gateway.port}`, logText: () => lines.join(''), close: () => gateway.close(500) };
}

/** The built-in mock at $1 per million input tokens and $2 per million output tokens: 10 in and 20 out cost $0.00005. */
export const MOCK_PROVIDER = { mock: { mock_config: { latency_ms: 0, prompt_tokens: 10, completion_tokens: 20 },
  pricing_overrides: FLAT_PRICES } };

/** An answer's JSON, read as loosely as a test reads it: each test checks the fields it names. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- typing every answer would restate the API in the tests
type AnswerBody = Record<string, any>;

/** One call of the admin API: its status and parsed body. */
export async function admin(url: string, method: string, path: string, body?: unknown,
  headers: Record<string, string> = {}): Promise<{ status: number; body: AnswerBody }> {
  const response = await fetch(`${url}/api/governance/${path}`, { method, headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  return { status: response.status, body: await response.json() as AnswerBody };
}

/** A chat request with `key` as the OpenAI SDK sends it: the status and the rate-limit headers. */
export async function chatWith(url: string, key: string, model = 'mock/echo'): Promise<{ status: number; remaining: string | null; code: string | null }> {
  const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }) });
  const body = await response.json() as { error?: { code: string } };
  return { status: response.status, remaining: response.headers.get('x-ratelimit-remaining'), code: body.error?.code ?? null };
}
