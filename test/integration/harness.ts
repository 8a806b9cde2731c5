// Starts the real, built gateway (dist/) on port 0 in front of the fake OpenAI server on port 0, with the
// official `openai` SDK as its client. `npx tsc -b` must have run first: the worker threads load dist/.

import OpenAI, { APIError } from 'openai';
import pino from 'pino';
import { expect } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '../fakes/openai-server.js';
import { rejectionOf } from '../rejection.js';

export const API_KEY = 'sk-test-upstream';

/** What a fake upstream must offer to stand behind the gateway: its base URL and a way to stop it. */
export interface FakeUpstream {
  readonly url: string;
  close(): Promise<void>;
}

export interface Harness<F extends FakeUpstream = FakeOpenAI> {
  readonly gateway: Gateway;
  readonly fake: F;
  /** The SDK pointed at the gateway's /v1, with retries off so every status reaches the test. */
  readonly client: OpenAI;
  /** http://127.0.0.1:PORT of the gateway. */
  readonly url: string;
  /** Closes the gateway, then the fake. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** The config.json, built once the fake's URL is known. */
  config(fakeUrl: string): Record<string, unknown>;
  fake?: FakeOpenAIOptions;
}

/** An OpenAI provider entry pointing at the fake; `overrides` are merged one level deep. */
export function openaiProvider(fakeUrl: string, overrides: {
  keys?: unknown[];
  network_config?: Record<string, unknown>;
  concurrency_and_buffer_size?: Record<string, unknown>;
  custom_provider_config?: Record<string, unknown>;
} = {}): Record<string, unknown> {
  return {
    keys: overrides.keys ?? [{ value: API_KEY, models: ['*'], weight: 1 }],
    network_config: { base_url: fakeUrl, default_request_timeout_in_seconds: 30, ...overrides.network_config },
    concurrency_and_buffer_size: { concurrency: 100, buffer_size: 100, threads: 1, ...overrides.concurrency_and_buffer_size },
    ...(overrides.custom_provider_config ? { custom_provider_config: overrides.custom_provider_config } : {}),
  };
}

/**
 * An azure provider entry pointing at the Azure fake, whose key maps `gpt-4o` and `text-embedding-3-small` to the
 * deployments `prod-gpt4o` and `emb-small` (api-version 2024-10-21).
 */
export function azureProvider(fakeUrl: string, key: string): Record<string, unknown> {
  return {
    keys: [{ value: key, models: ['*'], weight: 1, azure_key_config: {
      endpoint: 'https://contoso.openai.azure.com',
      deployments: { 'gpt-4o': 'prod-gpt4o', 'text-embedding-3-small': 'emb-small' },
      api_version: '2024-10-21',
    } }],
    network_config: { base_url: fakeUrl, default_request_timeout_in_seconds: 30 },
    concurrency_and_buffer_size: { concurrency: 100, buffer_size: 100, threads: 1 },
  };
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  return startGatewayWith(await startFakeOpenAI(options.fake), options.config);
}

/** The gateway with two providers: `openai` (the fake, any model) and the built-in `mock` (3 chunks, no latency). */
export function startOpenAIAndMock(): Promise<Harness> {
  return startHarness({
    config: (fakeUrl) => ({
      providers: {
        openai: openaiProvider(fakeUrl),
        mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
      },
    }),
  });
}

/** The real gateway on 127.0.0.1, port 0, silent, from a config.json as an object (no environment variables). */
export async function startGatewayFromRaw(raw: Record<string, unknown>): Promise<{ gateway: Gateway; url: string }> {
  const loaded = await loadConfig({ raw, env: {}, overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' } });
  const gateway = await startGateway(loaded, { logger: pino({ level: 'silent' }) });
  return { gateway, url: `http://127.0.0.1:${gateway.port}` };
}

/**
 * Starts the gateway on port 0 in front of an already started fake, with `config(fake.url)` as its config.json.
 * The returned harness owns the fake: it is closed if the gateway fails to start, and by `close()`.
 */
export async function startGatewayWith<F extends FakeUpstream>(fake: F,
  config: (fakeUrl: string) => Record<string, unknown>): Promise<Harness<F>> {
  let gateway: Gateway;
  let url: string;
  try {
    ({ gateway, url } = await startGatewayFromRaw(config(fake.url)));
  } catch (error) {
    await fake.close();
    throw error;
  }
  return {
    gateway,
    fake,
    client: newClient(url),
    url,
    async close() {
      try {
        await gateway.close(500);
      } finally {
        await fake.close();
      }
    },
  };
}

export function newClient(gatewayUrl: string, options: { timeoutMs?: number } = {}): OpenAI {
  return new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: 'sk-client-not-checked', maxRetries: 0,
    timeout: options.timeoutMs ?? 15_000 });
}

/** Polls `read` until `accept` holds on its value, or fails with the last value after `timeoutMs`. */
export async function eventually<T>(read: () => T | Promise<T>, accept: (value: T) => boolean,
  timeoutMs = 5_000, everyMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let value = await read();
  while (!accept(value)) {
    if (performance.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await read();
  }
  return value;
}

/** Awaits a promise that must reject with the SDK's APIError, and returns that error. */
export function apiError(promise: Promise<unknown>): Promise<APIError> {
  return rejectionOf(promise, APIError);
}

/** Asserts OpenAI's error envelope exactly: four fields, the right types. Returns the error object. */
export function expectEnvelope(body: unknown, code: string): { message: string; type: string; param: string | null; code: string } {
  expect(body).toBeTypeOf('object');
  const error = (body as { error: { message: string; type: string; param: string | null; code: string } }).error;
  expect(Object.keys(body as object)).toEqual(['error']);
  expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(error.message).toBeTypeOf('string');
  expect(error.message.length).toBeGreaterThan(0);
  expect(error.type).toBeTypeOf('string');
  expect(error.param === null || typeof error.param === 'string').toBe(true);
  expect(error.code).toBe(code);
  return error;
}

/** POSTs a raw body to the gateway's chat route. */
export function postChat(url: string, body: string | object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** POSTs a chat body chunked (no Content-Length), `chunkBytes` per chunk, as a client streaming its upload sends it. */
export function postChatChunked(url: string, body: object, chunkBytes: number): Promise<Response> {
  const payload = new TextEncoder().encode(JSON.stringify(body));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < payload.length; at += chunkBytes) controller.enqueue(payload.subarray(at, at + chunkBytes));
      controller.close();
    },
  });
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half',
  } as RequestInit);
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text.split('\n\n').filter((block) => block.trim() !== '').map((block) => {
    const lines = block.split('\n').filter((line) => line.startsWith('data:'));
    return lines.map((line) => line.slice(line.startsWith('data: ') ? 6 : 5)).join('\n');
  });
}

/** The value of one series in a Prometheus text exposition (labels in any order), or undefined. */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1], pair[2]);
    if (have.size === wanted.length && wanted.every(([key, value]) => have.get(key) === value)) return Number(match[3]);
  }
  return undefined;
}

/** The sum of every series of `name` whose labels include `labels` (others may be there too), or undefined if none. */
export function metricSum(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  let sum: number | undefined;
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1], pair[2]);
    if (wanted.every(([key, value]) => have.get(key) === value)) sum = (sum ?? 0) + Number(match[3]);
  }
  return sum;
}

export const user = (content: string) => [{ role: 'user' as const, content }];

/** Every item of a stream (an SDK chat stream), in order. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

/** Reads a stream that may fail part-way: what arrived before, and what it threw (null when it ended cleanly). */
export async function collectUntilFailure<T>(stream: AsyncIterable<T>): Promise<{ received: T[]; failure: unknown }> {
  const received: T[] = [];
  try {
    for await (const item of stream) received.push(item);
    return { received, failure: null };
  } catch (failure) {
    return { received, failure };
  }
}
