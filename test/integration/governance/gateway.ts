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
